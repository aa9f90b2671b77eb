package pier_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	tests := []struct {
		name  string
		steps []step
	}{
		{"user and password", []step{
			{"USER user", 331, "Username ok, send password."},
			{"PASS secret", 230, ""},
			{"PWD", 257, ""},
		}},
		{"commands are case-insensitive", []step{
			{"user user", 331, ""},
			{"pass secret", 230, ""},
			{"pwd", 257, ""},
		}},
		{"anonymous with any password", []step{
			{"USER anonymous", 331, ""},
			{"PASS someone@example.com", 230, ""},
			{"PWD", 257, ""},
		}},
		{"anonymous with no password", []step{
			{"USER anonymous", 331, ""},
			{"PASS", 230, ""},
		}},
		{"PASS without USER", []step{
			{"PASS secret", 503, ""},
			{"PWD", 530, ""},
		}},
		{"PASS when logged in", []step{
			{"USER user", 331, ""},
			{"PASS secret", 230, ""},
			{"PASS secret", 503, ""},
			{"PWD", 257, ""},
		}},
		{"wrong password, then USER must come again", []step{
			{"USER user", 331, ""},
			{"PASS wrong", 530, ""},
			{"PWD", 530, ""},
			{"PASS secret", 503, ""},
			{"USER user", 331, ""},
			{"PASS secret", 230, ""},
		}},
		{"unknown user gets 331 then 530", []step{
			{"USER nobody", 331, "Username ok, send password."},
			{"PASS secret", 530, ""},
		}},
		{"user names are case-sensitive", []step{
			{"USER USER", 331, ""},
			{"PASS secret", 530, ""},
		}},
		{"USER when logged in flushes the account", []step{
			{"USER user", 331, ""},
			{"PASS secret", 230, ""},
			{"USER anonymous", 331, ""},
			{"PWD", 530, ""},
			{"PASS x", 230, ""},
			{"MKD nope", 550, ""}, // now anonymous: read-only
		}},
		{"password with spaces is kept whole", []step{
			{"USER user", 331, ""},
			{"PASS secret ", 530, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runSteps(t, srv.Dial(t), tt.steps)
		})
	}
}

func TestMaxLoginAttempts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		max  int // Server.MaxLoginAttempts
		want int // failures that close the connection
	}{
		{"default", 0, pier.DefaultMaxLoginAttempts},
		{"one", 1, 1},
		{"five", 5, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, func(s *pier.Server) { s.MaxLoginAttempts = tt.max })
			c := srv.Dial(t)
			for i := 1; i < tt.want; i++ {
				c.Expect(t, "USER user", 331)
				if text := c.Expect(t, "PASS wrong", 530); strings.Contains(text, "Disconnecting") {
					t.Fatalf("attempt %d: %q, want the connection kept", i, text)
				}
			}
			c.Expect(t, "USER user", 331)
			if text := c.Expect(t, "PASS wrong", 530); !strings.Contains(text, "Disconnecting") {
				t.Errorf("last attempt: %q, want it to say Disconnecting", text)
			}
			expectClosed(t, c)
		})
	}

	// Unlike pyftpdlib, neither a success nor REIN resets the count
	// (docs/compatibility.md).
	t.Run("success and REIN keep the count", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, func(s *pier.Server) { s.MaxLoginAttempts = 2; s.BanAfter = -1 })
		c := srv.Dial(t)
		runSteps(t, c, []step{
			{"USER user", 331, ""}, {"PASS wrong", 530, ""},
			{"USER user", 331, ""}, {"PASS secret", 230, ""},
			{"REIN", 220, ""},
			{"USER user", 331, ""}, {"PASS wrong", 530, "Authentication failed. Disconnecting."},
		})
		expectClosed(t, c)
	})
}

func TestREIN(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	writeFile(t, srv, "f.txt", []byte("hello"))
	mkdirs(t, srv, "sub")
	c := login(t, srv)
	runSteps(t, c, []step{
		{"CWD sub", 250, ""},
		{"RNFR /f.txt", 350, ""},
		{"REIN", 220, ""},
		{"PWD", 530, ""},
		{"RNTO /g.txt", 530, ""},
		{"USER user", 331, ""},
		{"PASS secret", 230, ""},
		// Back at the root, in TYPE A, with no pending RNFR.
		{"PWD", 257, `"/" is the current directory.`},
		{"SIZE /f.txt", 550, ""},
		{"RNTO /g.txt", 503, ""},
		{"REIN x", 501, ""},
	})
	c2 := srv.Dial(t)
	c2.Expect(t, "REIN", 530)
}

func TestQUIT(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	tests := []struct {
		name  string
		login bool
	}{
		{"before login", false},
		{"after login", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := srv.Dial(t)
			if tt.login {
				c.Login(t, ftptest.User, ftptest.Password)
			}
			c.Expect(t, "QUIT x", 501)
			c.Expect(t, "QUIT", 221)
			expectClosed(t, c)
		})
	}
}

// TestNeedsLogin sends every command that needs a login before logging in.
// The list is checked against HELP, so a new command can't be forgotten.
func TestNeedsLogin(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	writeFile(t, srv, "f", []byte("x"))
	needLogin := map[string]string{
		"ABOR": "ABOR", "ALLO": "ALLO 10", "APPE": "APPE f", "CDUP": "CDUP",
		"CWD": "CWD /", "DELE": "DELE f", "EPRT": "EPRT |1|127.0.0.1|2000|",
		"EPSV": "EPSV", "LIST": "LIST", "MDTM": "MDTM f",
		"MFMT": "MFMT 20200101000000 f", "MKD": "MKD d", "MLSD": "MLSD",
		"MLST": "MLST f", "MODE": "MODE S", "NLST": "NLST",
		"PASV": "PASV", "PORT": "PORT 127,0,0,1,7,208", "PWD": "PWD",
		"REIN": "REIN", "REST": "REST 0", "RETR": "RETR f", "RMD": "RMD d",
		"RNFR": "RNFR f", "RNTO": "RNTO g", "SIZE": "SIZE f", "STOR": "STOR f",
		"STOU": "STOU", "STRU": "STRU F", "TYPE": "TYPE I", "XCUP": "XCUP",
		"XCWD": "XCWD /", "XMKD": "XMKD d", "XPWD": "XPWD", "XRMD": "XRMD d",
		"HASH": "HASH f", "RANG": "RANG 0 1", "XCRC": "XCRC f", "XMD5": "XMD5 f",
		"XSHA1": "XSHA1 f", "XSHA256": "XSHA256 f", "XSHA512": "XSHA512 f",
		"AVBL": "AVBL",
	}
	// Commands allowed before login, and what they answer.
	noLogin := map[string]step{
		"USER": {"USER x", 331, ""}, "PASS": {"PASS x", 503, ""},
		"QUIT": {"QUIT x", 501, ""}, "SYST": {"SYST", 215, "UNIX Type: L8"},
		"NOOP": {"NOOP", 200, ""}, "FEAT": {"FEAT", 211, ""},
		"HELP": {"HELP", 214, ""}, "STAT": {"STAT", 211, ""},
		"OPTS": {"OPTS UTF8 ON", 200, ""}, "SITE": {"SITE HELP", 214, ""},
		// FTPS (tls_test.go covers them with TLS configured).
		"AUTH": {"AUTH TLS", 502, ""}, "PBSZ": {"PBSZ 0", 503, ""},
		"PROT": {"PROT P", 503, ""}, "CCC": {"CCC", 533, ""},
		// Virtual hosts and the client's name (host_test.go).
		"HOST": {"HOST ftp.example.com", 220, ""}, "CLNT": {"CLNT x", 200, ""},
	}
	help := srv.Dial(t).Expect(t, "HELP", 214)
	for _, line := range strings.Split(help, "\n")[1:] {
		for _, name := range strings.Fields(line) {
			if name == "Help" { // the last line: "Help command successful."
				break
			}
			_, a := needLogin[name]
			_, b := noLogin[name]
			if !a && !b {
				t.Errorf("HELP lists %s, which this test does not cover", name)
			}
		}
	}
	// Some commands whose login rule depends on their argument.
	needLogin["STAT path"] = "STAT /"
	needLogin["SITE CHMOD"] = "SITE CHMOD 644 f"
	needLogin["OPTS MLST"] = "OPTS MLST type;"
	needLogin["OPTS HASH"] = "OPTS HASH MD5"
	for name, line := range needLogin {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := srv.Dial(t)
			c.Expect(t, line, 530)
			c.Expect(t, "NOOP", 200)
		})
	}
	for name, s := range noLogin {
		t.Run("before login "+name, func(t *testing.T) {
			t.Parallel()
			runSteps(t, srv.Dial(t), []step{s})
		})
	}
	if got := readFile(t, srv, "f"); string(got) != "x" {
		t.Errorf("f changed to %q", got)
	}
}

func TestCommandSyntax(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	writeFile(t, srv, "f", []byte("x"))
	tests := []struct {
		line string
		code int
	}{
		// Unknown commands.
		{"FOO", 500},
		{"FOO bar", 500},
		{"ACCT x", 500},
		{"SITE FOO", 500},
		{"SITE MFMT 20200101000000 f", 500},
		{"", 500},
		{" NOOP", 500}, // the verb is what comes before the first space
		// Missing argument.
		{"RETR", 501}, {"STOR", 501}, {"APPE", 501}, {"DELE", 501},
		{"MKD", 501}, {"XMKD", 501}, {"RMD", 501}, {"XRMD", 501},
		{"RNFR", 501}, {"RNTO", 501}, {"SIZE", 501}, {"MDTM", 501},
		{"MFMT", 501}, {"TYPE", 501}, {"MODE", 501}, {"STRU", 501},
		{"REST", 501}, {"PORT", 501}, {"EPRT", 501}, {"ALLO", 501},
		{"USER", 501}, {"OPTS", 501}, {"SITE", 501}, {"SITE CHMOD", 501},
		// Two arguments needed, one given.
		{"MFMT 20200101000000", 501},
		{"SITE CHMOD 644", 501},
		// Argument where none is allowed.
		{"PWD x", 501}, {"XPWD x", 501}, {"CDUP x", 501}, {"XCUP x", 501},
		{"PASV x", 501}, {"ABOR x", 501}, {"SYST x", 501}, {"NOOP x", 501},
		{"FEAT x", 501}, {"REIN x", 501}, {"QUIT x", 501},
		// NUL can't be in a name.
		{"RETR f\x00.txt", 501},
		{"MKD a\x00b", 501},
	}
	for _, tt := range tests {
		t.Run(strings.ToValidUTF8(tt.line, "?"), func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			c.Expect(t, tt.line, tt.code)
			c.Expect(t, "NOOP", 200) // the session goes on
		})
	}
}

func TestTelnetPrefixedCommands(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	c := login(t, srv)
	// RFC 959 §4.1.3: clients may send Telnet IP and Synch before ABOR,
	// STAT and QUIT.
	c.Expect(t, "\xff\xf4\xff\xf2ABOR", 225)
	c.Expect(t, "\xff\xf4STAT", 211)
	c.Expect(t, "XXQUIT", 221)
}

func TestLineFraming(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.MaxLineLength = 100 })
	tests := []struct {
		name string
		line string
		code int
	}{
		{"at the limit", "HELP " + strings.Repeat("x", 95), 501},
		{"one byte over", "HELP " + strings.Repeat("x", 96), 500},
		{"far over", "HELP " + strings.Repeat("x", 5000), 500},
		{"much larger than any buffer", strings.Repeat("y", 200_000), 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := srv.Dial(t)
			code, text := c.Cmd(t, tt.line)
			if code != tt.code {
				t.Fatalf("got %d %q, want %d", code, text, tt.code)
			}
			// The rest of the line was discarded, and the session goes on.
			c.Expect(t, "NOOP", 200)
			c.Expect(t, "USER user", 331)
			c.Expect(t, "PASS secret", 230)
		})
	}

	t.Run("default limit", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, nil)
		c := login(t, srv)
		c.Expect(t, "RETR "+strings.Repeat("a", pier.DefaultMaxLineLength), 500)
		c.Expect(t, "PWD", 257)
	})

	t.Run("bare LF ends a line", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		if _, err := c.Write([]byte("NOOP\nSYST\n")); err != nil {
			t.Fatal(err)
		}
		c.ExpectReply(t, 200)
		c.ExpectReply(t, 215)
	})

	t.Run("pipelined commands", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		if _, err := c.Write([]byte("USER user\r\nPASS secret\r\nPWD\r\n")); err != nil {
			t.Fatal(err)
		}
		c.ExpectReply(t, 331)
		c.ExpectReply(t, 230)
		c.ExpectReply(t, 257)
	})
}

// TestStartDir checks that a login starts in User.StartDir where it is a
// folder, and at "/" otherwise.
func TestStartDir(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dir, want string }{
		{"/home/alice", `257 "/home/alice" is the current directory.`},
		{"home/alice/", `257 "/home/alice" is the current directory.`},
		{"/missing", `257 "/" is the current directory.`},
		{"/home/alice/file", `257 "/" is the current directory.`},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			t.Parallel()
			srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
				if err := os.MkdirAll(filepath.Join(s.Dir, "home/alice"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(s.Dir, "home/alice/file"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				s.Auth = pier.AuthenticatorFunc(func(ctx context.Context, c pier.ConnInfo, user, pass string) (*pier.User, error) {
					return &pier.User{Name: user, Perm: pier.ReadPerms, FS: s.Root, StartDir: tc.dir}, nil
				})
			}})
			c := srv.Dial(t)
			c.Login(t, "alice", "x")
			if _, msg := c.Cmd(t, "PWD"); "257 "+msg != tc.want {
				t.Errorf("PWD: 257 %s, want %s", msg, tc.want)
			}
			c.Expect(t, "CDUP", 250)
		})
	}
}

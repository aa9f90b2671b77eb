package pier_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pierftp/pier"
)

func TestHELP(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	tests := []struct {
		line     string
		code     int
		contains []string
	}{
		{"HELP", 214, []string{"RETR", "STOR", "MLSD", "EPSV", "SITE", "XCUP"}},
		{"HELP RETR", 214, []string{"Syntax: RETR"}},
		{"HELP retr", 214, []string{"Syntax: RETR"}},
		{"HELP SITE", 214, []string{"Syntax: SITE"}},
		{"HELP SITE CHMOD", 214, []string{"Syntax: SITE CHMOD"}},
		{"HELP FOO", 501, nil},
		{"SITE HELP", 214, []string{"CHMOD", "HELP"}},
		{"SITE HELP CHMOD", 214, []string{"Syntax: SITE CHMOD"}},
		{"site help chmod", 214, []string{"Syntax: SITE CHMOD"}},
		{"SITE HELP FOO", 501, nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			// HELP works before login.
			text := srv.Dial(t).Expect(t, tt.line, tt.code)
			for _, s := range tt.contains {
				if !strings.Contains(text, s) {
					t.Errorf("reply %q lacks %q", text, s)
				}
			}
		})
	}
	t.Run("HELP lists no SITE sub-command", func(t *testing.T) {
		t.Parallel()
		text := srv.Dial(t).Expect(t, "HELP", 214)
		if strings.Contains(text, "CHMOD") {
			t.Errorf("HELP lists CHMOD: %q", text)
		}
	})
}

func TestFEAT(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	c := srv.Dial(t)
	text := c.Expect(t, "FEAT", 211)
	lines := strings.Split(text, "\n")
	feats := map[string]bool{}
	for _, l := range lines[1 : len(lines)-1] {
		if !strings.HasPrefix(l, " ") {
			t.Errorf("feature line %q does not start with a space (RFC 2389 §3.2)", l)
		}
		feats[strings.Fields(l)[0]] = true
		// pyftpdlib's order of the facts; all eight on by default.
		if strings.HasPrefix(l, " MLST ") && l != " MLST type*;perm*;size*;modify*;unique*;unix.mode*;unix.uid*;unix.gid*;" {
			t.Errorf("FEAT MLST line %q", l)
		}
		if l == " REST STREAM" {
			feats["REST STREAM"] = true
		}
	}
	for _, f := range []string{"UTF8", "MLST", "EPSV", "EPRT", "SIZE", "MDTM", "MFMT", "REST STREAM", "TVFS"} {
		if !feats[f] {
			t.Errorf("FEAT lacks %s: %q", f, text)
		}
	}

	// In alphabetical order, as pyftpdlib lists them, FTPS lines too.
	t.Run("sorted", func(t *testing.T) {
		t.Parallel()
		srv, _ := tlsServer(t, nil)
		lines := strings.Split(srv.Dial(t).Expect(t, "FEAT", 211), "\n")
		feats := lines[1 : len(lines)-1]
		if !slices.IsSorted(feats) || !slices.Contains(feats, " AUTH SSL") || feats[0] != " AUTH SSL" {
			t.Errorf("FEAT lines not in alphabetical order: %q", feats)
		}
	})

	t.Run("non-UTF-8 encoding", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, func(s *pier.Server) { s.Encoding = "latin1" })
		c := srv.Dial(t)
		if text := c.Expect(t, "FEAT", 211); strings.Contains(text, "UTF8") {
			t.Errorf("FEAT announces UTF8 with a latin1 encoding: %q", text)
		}
		c.Expect(t, "OPTS UTF8 ON", 504)
	})
}

func TestOPTS(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	tests := []struct {
		name  string
		login bool
		steps []step
	}{
		{"UTF8 ON before login", false, []step{{"OPTS UTF8 ON", 200, ""}, {"OPTS utf8 on", 200, ""}, {"OPTS UTF-8", 200, ""}}},
		{"UTF8 OFF refused", false, []step{{"OPTS UTF8 OFF", 504, ""}}},
		{"UTF8 bad value", false, []step{{"OPTS UTF8 MAYBE", 501, ""}}},
		{"unknown option", true, []step{{"OPTS FOO", 501, ""}, {"OPTS FOO BAR", 501, ""}}},
		{"MLST before login", false, []step{{"OPTS MLST type;", 530, ""}}},
		{"MLST selects facts", true, []step{{"OPTS MLST type;size;", 200, "MLST OPTS type;size;"}}},
		{"MLST is case-insensitive", true, []step{{"OPTS mLsT TypE;Modify;", 200, "MLST OPTS type;modify;"}}},
		// RFC 3659 §7.9: a fact the server lacks "is not an error".
		{"MLST facts pier lacks dropped", true, []step{{"OPTS MLST type;media-type;UNIX.owner;X.hidden;", 200, "MLST OPTS type;"}}},
		{"MLST with no facts", true, []step{{"OPTS MLST", 200, "MLST OPTS "}}},
		{"MLST with spaces", true, []step{{"OPTS MLST type; size;", 501, ""}}},
		// §7.9's grammar: fact names, each followed by ';'.
		{"MLST unknown fact", true, []step{
			{"OPTS MLST type;", 200, ""},
			{"OPTS MLST type;Bogus;modify;", 501, "Unknown fact \"Bogus\", current selection not changed."},
			{"OPTS MLST fish;", 501, ""},
			{"MLST", 250, "Listing \"/\":\n type=dir; /\nEnd MLST."}, // still type alone
		}},
		{"MLST without semicolon", true, []step{{"OPTS MLST bad_fact", 501, "Invalid argument."}, {"OPTS MLST type", 501, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := srv.Dial(t)
			if tt.login {
				c = login(t, srv)
			}
			runSteps(t, c, tt.steps)
		})
	}

	t.Run("MLST facts apply to FEAT, MLST and MLSD", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, nil)
		writeFile(t, srv, "f", []byte("12345"))
		c := login(t, srv)
		c.Expect(t, "OPTS MLST size;type;", 200)
		feat := c.Expect(t, "FEAT", 211)
		if !strings.Contains(feat, "MLST type*;perm;size*;modify;unique;unix.mode;unix.uid;unix.gid;") {
			t.Errorf("FEAT after OPTS MLST: %q", feat)
		}
		mlst := c.Expect(t, "MLST f", 250)
		if want := " size=5;type=file; /f"; !strings.Contains(mlst, want) {
			t.Errorf("MLST = %q, want a line %q", mlst, want)
		}
		data := string(c.Retrieve(t, "MLSD"))
		if data != "size=5;type=file; f\r\n" {
			t.Errorf("MLSD = %q", data)
		}
		// REIN restores the default facts.
		c.Expect(t, "REIN", 220)
		c.Login(t, "user", "secret")
		if mlst := c.Expect(t, "MLST f", 250); !strings.Contains(mlst, "modify=") {
			t.Errorf("MLST after REIN = %q, want all facts", mlst)
		}
	})
}

func TestSimpleCommands(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	tests := []struct {
		name  string
		steps []step
	}{
		{"SYST", []step{{"SYST", 215, "UNIX Type: L8"}}},
		{"NOOP", []step{{"NOOP", 200, ""}, {"noop", 200, ""}}},
		{"ALLO", []step{{"ALLO 1000", 202, ""}, {"ALLO x", 202, ""}}},
		{"TYPE", []step{
			{"TYPE A", 200, "Type set to: ASCII."},
			{"TYPE I", 200, "Type set to: Binary."},
			{"TYPE L 8", 200, "Type set to: Binary."},
			{"TYPE L8", 200, "Type set to: Binary."},
			{"TYPE a", 200, "Type set to: ASCII."},
			{"TYPE A N", 200, "Type set to: ASCII."},
			{"type i", 200, "Type set to: Binary."},
		}},
		{"TYPE bad", []step{
			{"TYPE E", 504, ""},
			{"TYPE X", 504, ""},
			{"TYPE L 7 8", 504, ""},
			{"TYPE A T", 504, ""},
		}},
		{"MODE", []step{{"MODE S", 200, ""}, {"MODE s", 200, ""}, {"MODE B", 504, ""}, {"MODE C", 504, ""}, {"MODE X", 501, ""}}},
		{"STRU", []step{{"STRU F", 200, ""}, {"STRU f", 200, ""}, {"STRU R", 504, ""}, {"STRU P", 504, ""}, {"STRU X", 501, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runSteps(t, login(t, srv), tt.steps)
		})
	}
	t.Run("TYPE bad keeps the type", func(t *testing.T) {
		t.Parallel()
		writeFile(t, srv, "typefile", []byte("abc"))
		runSteps(t, login(t, srv), []step{{"TYPE E", 504, ""}, {"SIZE typefile", 213, "3"}})
	})
}

func TestSTAT(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	writeFile(t, srv, "f.txt", []byte("hello"))
	writeFile(t, srv, "dir/a", nil)
	writeFile(t, srv, "dir/b", nil)

	t.Run("session status", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		want := func(parts ...string) {
			t.Helper()
			text := c.Expect(t, "STAT", 211)
			for _, p := range parts {
				if !strings.Contains(text, p) {
					t.Errorf("STAT = %q, want %q in it", text, p)
				}
			}
		}
		want("Waiting for username.", "TYPE: ASCII", "Data connection closed.")
		c.Expect(t, "USER user", 331)
		want("Waiting for password.")
		c.Expect(t, "PASS secret", 230)
		c.Expect(t, "TYPE I", 200)
		want("Logged in as: user", "TYPE: Binary")
		c.Expect(t, "PASV", 227)
		want("Passive data channel waiting for connection.")
	})

	tests := []struct {
		name     string
		arg      string
		code     int
		contains []string
	}{
		{"directory", "/dir", 213, []string{`Status of "/dir"`, " a\n", " b"}},
		{"file", "f.txt", 213, []string{" f.txt"}},
		{"ls options", "-la /dir", 213, []string{" a\n"}},
		{"root", "/", 213, []string{" f.txt\n", " dir\n"}},
		{"missing", "nope", 550, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			text := c.Expect(t, "STAT "+tt.arg, tt.code)
			for _, s := range tt.contains {
				if !strings.Contains(text, s) {
					t.Errorf("STAT %s = %q, want %q in it", tt.arg, text, s)
				}
			}
			c.Expect(t, "NOOP", 200)
		})
	}
	t.Run("path needs login", func(t *testing.T) {
		t.Parallel()
		srv.Dial(t).Expect(t, "STAT /", 530)
	})
	t.Run("lines match LIST", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		list := crlfLines(t, c.Retrieve(t, "LIST /dir"))
		stat := strings.Split(c.Expect(t, "STAT /dir", 213), "\n")
		stat = stat[1 : len(stat)-1]
		if strings.Join(list, "\n") != strings.Join(stat, "\n") {
			t.Errorf("STAT lines %q differ from LIST lines %q", stat, list)
		}
	})
}

// TestSTATDuringTransfer checks that STAT answers while a download runs,
// and shows the transfer.
func TestSTATDuringTransfer(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	sparseFile(t, srv, "big", 64<<20)
	c := login(t, srv)
	dc := c.Passive(t)
	c.Send(t, "RETR big")
	expectPrelim(t, c)
	buf := make([]byte, 4096)
	if _, err := dc.Read(buf); err != nil {
		t.Fatal(err)
	}
	text := c.Expect(t, "STAT", 211)
	for _, s := range []string{"Data connection open: RETR /big", "Total bytes transferred:"} {
		if !strings.Contains(text, s) {
			t.Errorf("STAT during RETR = %q, want %q in it", text, s)
		}
	}
	c.Expect(t, "NOOP", 200)
	// The client hangs up the data connection early: 426.
	dc.Close()
	c.ExpectReply(t, 426)
	c.Expect(t, "STAT", 211)
	c.Expect(t, "PWD", 257)
}

// TestSTATAfterTransferReply: once a transfer's 226 is sent, STAT (which
// doesn't wait for the file hooks) and Sessions show no transfer, though
// the FileSent hook still runs; the server's totals count it.
func TestSTATAfterTransferReply(t *testing.T) {
	t.Parallel()
	inHook, release := make(chan struct{}), make(chan struct{})
	srv := newServer(t, func(s *pier.Server) {
		s.Hooks.FileSent = func(*pier.Session, pier.TransferInfo) {
			inHook <- struct{}{}
			<-release
		}
	})
	writeFile(t, srv, "f", pattern(1000))
	c := login(t, srv)
	if got := c.Retrieve(t, "RETR f"); len(got) != 1000 {
		t.Fatalf("RETR: %d bytes", len(got))
	}
	<-inHook
	text := c.Expect(t, "STAT", 211)
	if !strings.Contains(text, "Data connection closed.") || strings.Contains(text, "Data connection open") {
		t.Errorf("STAT after the 226 = %q, want no transfer in it", text)
	}
	sessions := srv.Sessions()
	if len(sessions) != 1 || sessions[0].Transfer != nil {
		t.Errorf("Sessions after the 226 = %+v, want one without a transfer", sessions)
	}
	if st := srv.Stats(); st.Downloads != 1 || st.BytesSent != 1000 {
		t.Errorf("Stats after the 226 = %+v", st)
	}
	close(release)
	c.Expect(t, "NOOP", 200)
}

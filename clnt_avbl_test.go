package pier_test

// CLNT (the client's name, for the log and the hooks) and AVBL (the
// bytes available for uploads in a folder).

import (
	"context"
	"io/fs"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/mem"
	"github.com/pierftp/pier/ftptest"
)

func TestCLNT(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	names := make(chan string, 1)
	srv := newServer(t, func(s *pier.Server) {
		s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		s.Hooks.Disconnect = func(s *pier.Session) {
			if strings.HasPrefix(s.Client(), "x") {
				names <- s.Client()
			}
		}
	})
	t.Run("any time", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.Expect(t, "CLNT", 501)
		c.Expect(t, "CLNT FileZilla 3.66.4", 200) // before login
		c.Expect(t, "CLNT FileZilla 3.66.4", 200)
		c.Login(t, ftptest.User, ftptest.Password)
		c.Expect(t, "CLNT WinSCP 6.3", 200) // after
		c.Expect(t, "QUIT", 221)
		// Logged at Info once: a client can't fill the log with it.
		if got := linesWith(&logs, "clnt=\"FileZilla 3.66.4\""); len(got) != 1 {
			t.Errorf("logged %d times: %q", len(got), got)
		}
		if got := linesWith(&logs, "WinSCP"); len(got) != 0 {
			t.Errorf("a second name logged at Info: %q", got)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.Expect(t, "CLNT x\x01y"+strings.Repeat("é", 200), 200)
		c.Expect(t, "QUIT", 221)
		got := <-names
		if len(got) > 200 || !strings.HasPrefix(got, "x?yé") || strings.ContainsRune(got, '\uFFFD') {
			t.Errorf("Session.Client() = %q (%d bytes)", got, len(got))
		}
	})
}

// spaceFS is an in-memory file system that knows the space available.
type spaceFS struct {
	*mem.FS
	avail int64
	err   error
}

func (f spaceFS) Available(ctx context.Context, name string) (int64, error) {
	if _, err := f.Stat(ctx, name); err != nil {
		return 0, err
	}
	return f.avail, f.err
}

func TestAVBL(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	writeFile(t, srv, "f", []byte("x"))
	mkdirs(t, srv, "sub", "incoming")
	if err := srv.Users.AddUser("reader", auth.Account{Password: "pw", FS: srv.Root, Perm: pier.ReadPerms,
		Overrides: []pier.PermOverride{{Dir: "/incoming", Perm: pier.AllPerms}}}); err != nil {
		t.Fatal(err)
	}
	t.Run("local folder", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.Expect(t, "AVBL", 530)
		c.Login(t, ftptest.User, ftptest.Password)
		for _, line := range []string{"AVBL", "AVBL /", "AVBL sub", "AVBL /sub/..", "AVBL ../../sub"} {
			code, text := c.Cmd(t, line)
			if runtime.GOOS != "linux" && runtime.GOOS != "darwin" && runtime.GOOS != "freebsd" {
				if code != 502 {
					t.Errorf("%s: %d %q, want 502 here", line, code, text)
				}
				continue
			}
			// "213 <bytes>" and nothing else: WinSCP reads the whole text
			// as the number.
			if n, err := strconv.ParseInt(text, 10, 64); code != 213 || err != nil || n <= 0 {
				t.Errorf("%s: %d %q", line, code, text)
			}
		}
		c.Expect(t, "AVBL missing", 550)
		if text := c.Expect(t, "AVBL f", 550); text != "Not a directory." {
			t.Errorf("AVBL of a file: %q", text)
		}
	})
	t.Run("only where the user may upload", func(t *testing.T) {
		t.Parallel()
		c := loginAnon(t, srv)
		c.Expect(t, "AVBL", 550)
		c = srv.Dial(t)
		c.Login(t, "reader", "pw")
		c.Expect(t, "AVBL", 550)
		c.Expect(t, "AVBL incoming", 213)
	})
	t.Run("what the back-end says", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			name  string
			fsys  pier.FileSystem
			code  int
			reply string
		}{
			{"a quota", spaceFS{FS: mem.New(), avail: 12345}, 213, "12345"},
			{"nothing left", spaceFS{FS: mem.New(), avail: -5}, 213, "0"},
			{"can't tell", spaceFS{FS: mem.New(), err: pier.ErrNotSupported}, 502, ""},
			{"refused", spaceFS{FS: mem.New(), err: fs.ErrPermission}, 550, "Permission denied."},
			{"a quota in its own words", spaceFS{FS: mem.New(), err: &pier.ReplyError{Code: 451, Message: "Quota service down."}}, 451, "Quota service down."},
			{"no AvailableFS", mem.New(), 502, ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				users := &auth.Virtual{}
				if err := users.AddUser("u", auth.Account{Password: "p", FS: tt.fsys, Perm: pier.AllPerms}); err != nil {
					t.Fatal(err)
				}
				srv := newServer(t, func(s *pier.Server) { s.Auth = users })
				c := srv.Dial(t)
				c.Login(t, "u", "p")
				if text := c.Expect(t, "AVBL", tt.code); tt.reply != "" && text != tt.reply {
					t.Errorf("AVBL: %q, want %q", text, tt.reply)
				}
				c.Expect(t, "AVBL /nowhere", 550)
			})
		}
	})
}

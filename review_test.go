package pier_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

// Regression tests for defects found in review.

// TestCloseFromFileHook: Session.Close from a file hook must not deadlock
// the session, Close or Shutdown.
func TestCloseFromFileHook(t *testing.T) {
	srv := newServer(t, func(s *pier.Server) {
		s.Hooks.FileSent = func(s *pier.Session, _ pier.TransferInfo) { s.Close() }
	})
	writeFile(t, srv, "f", []byte("data"))
	c := login(t, srv)
	c.Retrieve(t, "RETR f")
	expectClosed(t, c)
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
		defer cancel()
		srv.Shutdown(ctx)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(ioDeadline + time.Second):
		t.Fatal("Shutdown blocked after Session.Close in a file hook")
	}
}

// TestOverridesEverywhere: per-path overrides hold for STOU, MFMT, SIZE,
// MDTM and custom commands too.
func TestOverridesEverywhere(t *testing.T) {
	srv := newServer(t, nil)
	mkdirs(t, srv, "ro", "incoming", "secret")
	writeFile(t, srv, "ro/keep", []byte("keep"))
	writeFile(t, srv, "secret/payroll", []byte("12345"))
	if err := srv.Users.AddUser("o", auth.Account{Password: "o", FS: srv.Root, Perm: "elr", Overrides: []pier.PermOverride{
		{Dir: "/incoming", Perm: pier.AllPerms, Recursive: true},
		{Dir: "/secret", Perm: "e", Recursive: true},
	}}); err != nil {
		t.Fatal(err)
	}
	srv.HandleCommand(pier.Command{Name: "XDEL", NeedsLogin: true, Perm: "d", Handler: func(s *pier.Session, _ *pier.Request) error { s.Reply(250, "Deleted."); return nil }})
	c := srv.Dial(t)
	c.Login(t, "o", "o")
	c.Passive(t)
	c.Expect(t, "STOU /ro/evil", 550)
	c.Passive(t)
	c.Expect(t, "STOU", 550) // in "/", read-only
	c.Expect(t, "MFMT 20000101000000 /ro/keep", 550)
	c.Expect(t, "SIZE /secret/payroll", 550)
	c.Expect(t, "MDTM /secret/payroll", 550)
	c.Expect(t, "XDEL", 550) // 'd' only under /incoming
	c.Expect(t, "CWD /incoming", 250)
	c.Expect(t, "XDEL", 250)
	c.Store(t, "STOU", []byte("ok")) // allowed here
	entries, _ := os.ReadDir(filepath.Join(srv.Dir, "ro"))
	if len(entries) != 1 {
		t.Fatalf("files appeared in /ro: %v", entries)
	}
}

// TestEncodingConcurrent: a stateful wire encoding shared by sessions must
// not race (run with -race).
func TestEncodingConcurrent(t *testing.T) {
	srv := newServer(t, func(s *pier.Server) { s.Encoding = "ISO-2022-JP" })
	writeFile(t, srv, "日本語.txt", []byte("x"))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := login(t, srv)
			for range 5 {
				c.Retrieve(t, "NLST")
			}
		})
	}
	wg.Wait()
}

// TestPassWithTabNotLogged: a PASS line the parser can't split must not
// show the password in the debug log or the reply.
func TestPassWithTabNotLogged(t *testing.T) {
	var buf syncBuffer
	srv := newServer(t, func(s *pier.Server) {
		s.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c := srv.Dial(t)
	c.Expect(t, "USER user", 331)
	code, text := c.Cmd(t, "PASS\tsup3rsecret")
	if code != 500 || strings.Contains(text, "sup3rsecret") || strings.Contains(strings.ToLower(text), "sup3rsecret") {
		t.Fatalf("reply %d %q", code, text)
	}
	c.Expect(t, "QUIT", 221)
	if strings.Contains(strings.ToLower(buf.String()), "sup3rsecret") {
		t.Fatal("password in the debug log")
	}
}

var _ = ftptest.User

// TestPanickingHooks: a panic in a hook closes at most its own session;
// the server keeps serving.
func TestPanickingHooks(t *testing.T) {
	srv := newServer(t, func(s *pier.Server) {
		s.Hooks.Disconnect = func(*pier.Session) { panic("disconnect hook") }
		s.Hooks.Login = func(s *pier.Session) {
			if s.User().Name == "anonymous" {
				panic("login hook")
			}
		}
	})
	c := srv.Dial(t)
	c.Expect(t, "USER anonymous", 331)
	c.Send(t, "PASS x")
	c.ExpectReply(t, 230) // the hook runs after the reply, then panics
	expectClosed(t, c)
	for range 3 {
		c := login(t, srv)
		c.Expect(t, "QUIT", 221)
	}
	login(t, srv).Expect(t, "NOOP", 200)
}

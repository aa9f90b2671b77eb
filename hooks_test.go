package pier_test

// Hooks that misbehave: Session.Close from a file hook, panics.

import (
	"context"
	"testing"
	"time"

	"github.com/pierftp/pier"
)

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

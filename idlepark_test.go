//go:build linux

package pier_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
)

// parkingServer is a test server whose idle sessions park after 30 ms.
func parkingServer(t *testing.T, configure func(*pier.Server)) *ftptest.Server {
	t.Helper()
	return newServer(t, func(s *pier.Server) {
		pier.SetParkAfter(s, 30*time.Millisecond)
		if configure != nil {
			configure(s)
		}
	})
}

// waitParked waits, boundedly, until n sessions are parked.
func waitParked(t *testing.T, srv *ftptest.Server, n int) {
	t.Helper()
	eventually(t, "sessions parked", func() bool { return pier.ParkedSessions(srv.Server) == n })
}

// TestParkedSessionCarriesOn: a parked session answers its next command,
// transfers, keeps its state (working folder, TYPE), and parks again.
func TestParkedSessionCarriesOn(t *testing.T) {
	srv := parkingServer(t, nil)
	c := login(t, srv)
	defer c.Close()
	c.Expect(t, "MKD sub", 257)
	c.Expect(t, "CWD sub", 250)
	waitParked(t, srv, 1)
	if got := c.Expect(t, "PWD", 257); !strings.Contains(got, `"/sub"`) {
		t.Errorf("PWD after parking: %q, want /sub", got)
	}
	waitParked(t, srv, 1)
	data := pattern(100_000)
	c.Store(t, "STOR f", data)
	waitParked(t, srv, 1)
	if got := c.Retrieve(t, "RETR f"); string(got) != string(data) {
		t.Errorf("RETR after parking: %d bytes, want %d", len(got), len(data))
	}
	waitParked(t, srv, 1)
	c.Expect(t, "QUIT", 221)
	expectClosed(t, c)
	waitParked(t, srv, 0)
}

// TestParkedSessionsMany: every one of many parked sessions wakes for its
// own command, pipelined commands included.
func TestParkedSessionsMany(t *testing.T) {
	srv := parkingServer(t, nil)
	const n = 100
	conns := make([]*ftptest.Conn, n)
	for i := range conns {
		conns[i] = login(t, srv)
		defer conns[i].Close()
	}
	waitParked(t, srv, n)
	for i, c := range conns {
		if i%2 == 0 {
			c.Send(t, "NOOP\r\nPWD")
			c.ExpectReply(t, 200)
			c.ExpectReply(t, 257)
		} else {
			c.Expect(t, "NOOP", 200)
		}
	}
	waitParked(t, srv, n)
}

// TestParkedSessionPartialLine: a session with part of a line read does
// not park, and the line's end completes the command.
func TestParkedSessionPartialLine(t *testing.T) {
	srv := parkingServer(t, nil)
	c := login(t, srv)
	defer c.Close()
	waitParked(t, srv, 1)
	c.Send(t, "NO") // wakes it; Send adds CRLF, so write the rest raw
	c.ExpectReply(t, 500)
	waitParked(t, srv, 1)
	raw := c.Conn
	if _, err := raw.Write([]byte("NO")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // several park delays
	if got := pier.ParkedSessions(srv.Server); got != 0 {
		t.Errorf("%d sessions parked with half a line read, want 0", got)
	}
	if _, err := raw.Write([]byte("OP\r\n")); err != nil {
		t.Fatal(err)
	}
	c.ExpectReply(t, 200)
}

// TestParkedSessionTimesOut: the idle timeout ends a parked session with
// its 421, counted from its last command, not from when it parked.
func TestParkedSessionTimesOut(t *testing.T) {
	var disconnected atomic.Int32
	srv := parkingServer(t, func(s *pier.Server) {
		s.IdleTimeout = 2 * time.Second
		s.Hooks.Disconnect = func(*pier.Session) { disconnected.Add(1) }
	})
	c := login(t, srv)
	defer c.Close()
	waitParked(t, srv, 1)
	c.Expect(t, "NOOP", 200) // the session is alive after parking
	code, text, err := c.ReadReply()
	if err != nil || code != 421 || !strings.Contains(text, "timed out") {
		t.Fatalf("idle parked session: %d %q %v, want 421 timed out", code, text, err)
	}
	expectClosed(t, c)
	eventually(t, "Disconnect hook", func() bool { return disconnected.Load() == 1 })
	waitParked(t, srv, 0)
}

// TestParkedSessionClientGone: a client that closes while parked ends its
// session at once (Disconnect runs, the session is gone).
func TestParkedSessionClientGone(t *testing.T) {
	var disconnected atomic.Int32
	srv := parkingServer(t, func(s *pier.Server) {
		s.Hooks.Disconnect = func(*pier.Session) { disconnected.Add(1) }
	})
	c := login(t, srv)
	waitParked(t, srv, 1)
	c.Close()
	eventually(t, "Disconnect hook", func() bool { return disconnected.Load() == 1 })
	eventually(t, "session gone", func() bool { return len(srv.Sessions()) == 0 })
	waitParked(t, srv, 0)
}

// TestParkedSessionsShutdown: Shutdown and Close reach parked sessions:
// each gets its 421 and Shutdown returns.
func TestParkedSessionsShutdown(t *testing.T) {
	for _, how := range []string{"Shutdown", "Close"} {
		t.Run(how, func(t *testing.T) {
			srv := parkingServer(t, nil)
			conns := make([]*ftptest.Conn, 5)
			for i := range conns {
				conns[i] = login(t, srv)
				defer conns[i].Close()
			}
			waitParked(t, srv, len(conns))
			done := make(chan error, 1)
			go func() {
				if how == "Close" {
					srv.Server.Close()
				}
				ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
				defer cancel()
				done <- srv.Server.Shutdown(ctx)
			}()
			for _, c := range conns {
				code, text, err := c.ReadReply()
				if err != nil || code != 421 || !strings.Contains(text, "shutting down") {
					t.Errorf("parked session at %s: %d %q %v, want 421 shutting down", how, code, text, err)
				}
				expectClosed(t, c)
			}
			if err := <-done; err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if got := pier.ParkedSessions(srv.Server); got != 0 {
				t.Errorf("%d sessions parked after %s", got, how)
			}
		})
	}
}

// TestParkedSessionEnded: EndSession reaches a parked session.
func TestParkedSessionEnded(t *testing.T) {
	srv := parkingServer(t, nil)
	c := login(t, srv)
	defer c.Close()
	waitParked(t, srv, 1)
	sessions := srv.Sessions()
	if len(sessions) != 1 || !srv.EndSession(sessions[0].ID) {
		t.Fatalf("EndSession of the parked session failed (%d sessions)", len(sessions))
	}
	code, text, err := c.ReadReply()
	if err != nil || code != 421 || !strings.Contains(text, "administrator") {
		t.Fatalf("ended parked session: %d %q %v, want 421 administrator", code, text, err)
	}
	expectClosed(t, c)
	eventually(t, "session gone", func() bool { return len(srv.Sessions()) == 0 })
}

// TestTLSSessionsDoNotPark: crypto/tls may hold decrypted bytes the
// socket does not show, so a session over TLS keeps its goroutine.
func TestTLSSessionsDoNotPark(t *testing.T) {
	srv, cfg := tlsServer(t, func(s *ftptest.Server) { pier.SetParkAfter(s.Server, 30*time.Millisecond) })
	plain := login(t, srv)
	defer plain.Close()
	waitParked(t, srv, 1)
	c := srv.Dial(t)
	defer c.Close()
	secureLogin(t, c, cfg)
	time.Sleep(200 * time.Millisecond) // several park delays
	if got := pier.ParkedSessions(srv.Server); got != 1 {
		t.Errorf("%d sessions parked, want 1 (the plain one)", got)
	}
	c.Expect(t, "NOOP", 200)
}

// TestParkedSessionAddressReused: a session that ends while another parks
// on the same descriptor number is not woken for the other's events (the
// poller's tokens, not descriptors, name sessions).
func TestParkedSessionAddressReused(t *testing.T) {
	srv := parkingServer(t, nil)
	for range 20 {
		a := login(t, srv)
		waitParked(t, srv, 1)
		a.Close()
		waitParked(t, srv, 0)
		b := login(t, srv) // likely the same descriptor number
		waitParked(t, srv, 1)
		b.Expect(t, "NOOP", 200)
		b.Close()
		waitParked(t, srv, 0)
	}
}

package pier_test

// Graceful shutdown and idle timeouts around transfers.

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
)

// TestShutdownKeepsTransferCommands: during a graceful shutdown a session
// whose transfer runs still answers STAT and NOOP, ABOR still stops the
// transfer, and then the session gets 421 and closes.
func TestShutdownKeepsTransferCommands(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.WriteLimit = 64 << 10 })
	writeFile(t, srv, "slow", pattern(4<<20)) // about a minute at that rate
	c := login(t, srv)
	dc := c.Passive(t)
	c.Send(t, "RETR slow")
	expectPrelim(t, c)
	go io.Copy(io.Discard, dc)
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	eventually(t, "the listener closed by Shutdown", func() bool {
		nc, err := net.DialTimeout("tcp", srv.Addr, time.Second)
		if err != nil {
			return true
		}
		nc.Close()
		return false
	})
	c.Expect(t, "NOOP", 200)
	if code, _ := c.Cmd(t, "STAT"); code != 213 && code != 211 {
		t.Errorf("STAT during shutdown: %d", code)
	}
	c.Send(t, "ABOR")
	c.ExpectReply(t, 426)
	c.ExpectReply(t, 226)
	c.ExpectReply(t, 421)
	expectClosed(t, c)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestIdleTimeoutAfterTransfer: the idle timeout counts from the end of a
// transfer, not from before it: a client that reads its 226 has the whole
// timeout for its next command.
func TestIdleTimeoutAfterTransfer(t *testing.T) {
	t.Parallel()
	// Not a timing threshold: the margins are seconds, so that a loaded
	// machine (a client goroutine late by a second) doesn't fail it.
	const idle = 4 * time.Second
	srv := newServer(t, func(s *pier.Server) { s.IdleTimeout = idle; s.WriteLimit = 64 << 10 })
	writeFile(t, srv, "f", pattern(384<<10)) // six seconds at that rate: 1.5 times idle
	c := login(t, srv)
	if got := len(c.Retrieve(t, "RETR f")); got != 384<<10 {
		t.Fatalf("RETR: %d bytes", got)
	}
	// Before the fix the old deadline (idle after RETR was read, moved
	// on by idle while the transfer ran) fell about half of idle after
	// the 226; with it, the next command has idle.
	time.Sleep(idle * 6 / 10)
	c.Expect(t, "NOOP", 200)
}

// countingListener counts SetReadDeadline calls on the connections it
// accepts: each is one turn of the session's read loop.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) SetReadDeadline(t time.Time) error {
	c.n.Add(1)
	return c.Conn.SetReadDeadline(t)
}

// TestShutdownNoIdleTimeout: with the idle timeout off, a session whose
// transfer runs through a graceful shutdown waits for its next command
// without a deadline; it does not spin on one in the past.
func TestShutdownNoIdleTimeout(t *testing.T) {
	t.Parallel()
	users, ln := memSetup(t, "slow", pattern(4<<20))
	var turns atomic.Int64
	srv := &pier.Server{Auth: users, IdleTimeout: -1, WriteLimit: 64 << 10, LoginFailDelay: -1}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(countingListener{ln, &turns}) }()
	c := ftptest.Dial(t, ln.Addr().String())
	c.Login(t, "u", "p")
	dc := c.Passive(t)
	c.Send(t, "RETR slow")
	expectPrelim(t, c)
	go io.Copy(io.Discard, dc)
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	c.Expect(t, "NOOP", 200) // the session reads on through the shutdown
	before := turns.Load()
	time.Sleep(300 * time.Millisecond)
	if n := turns.Load() - before; n > 50 {
		t.Errorf("%d turns of the read loop in 300 ms while waiting for a command: it spins", n)
	}
	c.Send(t, "ABOR")
	c.ExpectReply(t, 426)
	c.ExpectReply(t, 226)
	c.ExpectReply(t, 421)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	<-served
}

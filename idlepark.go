package pier

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"time"
)

// Idle sessions without a goroutine.
//
// A session is a goroutine blocked reading its control connection, and a
// blocked goroutine keeps its stack: 8 KiB once a login has run on it,
// more than all the rest of an idle session together. A plain (non-TLS)
// session that has read nothing for parkAfter, with no command or
// transfer running and nothing buffered, is parked instead: its
// connection is watched by the server's idle poller (an epoll set on
// Linux, idlepark_linux.go), its goroutine and read buffer are given back,
// and the first byte, hang-up or idle timeout starts a new goroutine that
// carries on reading where it stopped. The session's state lives in its
// struct either way, so nothing else changes: its commands, timeouts,
// STAT and the status page are the same parked or not.
//
// Sessions over TLS are never parked: crypto/tls may hold decrypted bytes
// that the socket no longer shows as readable.

// parkAfter is how long a session reads nothing before it is parked. A
// client between two commands of a transfer answers long before; one
// that sits idle for a second is likely to sit for much longer.
const parkAfter = time.Second

// errParked is readLine's answer when the session should park.
var errParked = errors.New("session parks")

// readerPool holds the control connections' read buffers of parked
// sessions, for the next session that wakes.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, controlReadSize) }}

// controlReadSize is the control connection's read buffer: command lines
// are short, and a longer one is read in several fills (readLine).
const controlReadSize = 1024

// newControlReader returns a read buffer on r from the pool.
func newControlReader(r *bufio.Reader, conn net.Conn) *bufio.Reader {
	if r != nil {
		return r
	}
	r = readerPool.Get().(*bufio.Reader)
	r.Reset(conn)
	return r
}

// parkDelay is how long readLine waits before it may park: parkAfter, or
// zero where parking is off (no poller on this system, TLS, a wrapped
// connection).
func (s *session) parkDelay() time.Duration {
	if s.srv.noPark || !pollerSupported || s.srv.idleBroken.Load() || s.ctrl != s.conn || s.implicitTLS {
		return 0
	}
	// Only a bare TCP connection: a wrapper (a listener of the embedding
	// program's) may hold bytes it read that the socket no longer shows.
	if _, ok := s.conn.(*net.TCPConn); !ok {
		return 0
	}
	if d := s.srv.parkAfter; d > 0 {
		return d
	}
	return parkAfter
}

// canPark reports whether the session may park now: nothing read of the
// next line, nothing running, not ending.
func (s *session) canPark() bool {
	return s.r.Buffered() == 0 && !s.busy() && !s.quit.Load() && !s.srv.inShutdown.Load()
}

// park hands the session to the idle poller until its connection is
// readable or deadline passes (zero: no idle timeout). It returns false,
// and the caller goes on reading, if the poller can't take it. After a
// true return the session belongs to the goroutine that resumes it: the
// caller must return without touching it.
func (s *session) park(deadline time.Time) bool {
	p := s.srv.poller()
	if p == nil {
		return false
	}
	r, log := s.r, s.log.Load()
	s.r = nil
	s.log.Store(nil) // made again when needed (logger)
	if !p.park(s, deadline) {
		s.r = r
		s.log.Store(log)
		return false
	}
	// The buffer is empty (canPark) and no one else holds it.
	if r.Size() == controlReadSize {
		r.Reset(nil)
		readerPool.Put(r)
	}
	return true
}

// wake resumes the session on a new goroutine if it is parked, so that a
// deadline or Close reaches a reader. It reports whether it was parked.
func (s *session) wake() bool {
	p := s.srv.idle.Load()
	return p != nil && p.unpark(s)
}

// poller returns the server's idle poller, started at the first park; nil
// if none can run here.
func (s *Server) poller() *idlePoller {
	s.idleOnce.Do(func() {
		p, err := newIdlePoller(s.logger())
		if err != nil {
			s.idleBroken.Store(true)
			s.logger().Warn("idle sessions keep their goroutine: no idle poller", "err", err)
			return
		}
		p.resume = (*session).resume
		p.broken = func() { s.idleBroken.Store(true) }
		s.idle.Store(p)
		go p.run()
	})
	return s.idle.Load()
}

// stopPoller wakes every parked session and stops the idle poller: the
// server is shutting down, and sessions no longer park.
func (s *Server) stopPoller() {
	// No poller starts after this: a session that checked inShutdown
	// just before it was set may be on its way to start one.
	s.idleOnce.Do(func() {})
	if p := s.idle.Load(); p != nil {
		p.stop()
	}
}

// parked is a parked session's registration with the poller; guarded by
// the poller's mutex.
type parked struct {
	token uint64      // its key in the poller; 0: not parked
	fd    int         // the control connection's descriptor
	timer *time.Timer // the idle timeout; nil for none
}

package pier

import (
	"context"
	"net"
	"time"

	"golang.org/x/time/rate"
)

// Bandwidth throttling (pyftpdlib's ThrottledDTPHandler): token buckets per
// session and for the whole server, applied to data connections. A
// throttled transfer goes through a wrapper, so it does not use sendfile.

// limiter returns a token bucket for limit bytes per second, or nil for no
// limit. The burst is a tenth of a second's worth (at least 4 KiB, at most
// 256 KiB), so the rate is smooth without a syscall per few bytes.
func newLimiter(limit int64) *rate.Limiter {
	if limit <= 0 {
		return nil
	}
	burst := min(max(limit/10, 4<<10), 256<<10)
	return rate.NewLimiter(rate.Limit(limit), int(burst))
}

// sessionLimits builds a session's limiters at login: the user's own
// limits, else the server's per-session ones.
func (s *session) sessionLimits(u *User) {
	l := s.srv.lim()
	s.readLimiter = newLimiter(firstPositive(u.ReadLimit, l.ReadLimit))
	s.writeLimiter = newLimiter(firstPositive(u.WriteLimit, l.WriteLimit))
}

func firstPositive(a, b int64) int64 {
	if a > 0 {
		return a
	}
	return b
}

// limiters returns the token buckets that apply to the session's uploads
// (upload) or downloads: its own and the server's, those that are on.
// Hashes (cmd_hash.go) read files as downloads do, and take the
// downloads' buckets.
func (s *session) limiters(upload bool) []*rate.Limiter {
	var ls []*rate.Limiter
	all := [2]*rate.Limiter{s.writeLimiter, s.srv.totalWrite.Load()}
	if upload {
		all = [2]*rate.Limiter{s.readLimiter, s.srv.totalRead.Load()}
	}
	for _, l := range all {
		if l != nil {
			ls = append(ls, l)
		}
	}
	return ls
}

// smallestBurst is the largest wait no limiter of ls refuses: the
// smallest burst.
func smallestBurst(ls []*rate.Limiter) int {
	chunk := 0
	for _, l := range ls {
		if chunk == 0 || l.Burst() < chunk {
			chunk = l.Burst()
		}
	}
	return chunk
}

// throttle wraps a data connection in the limiters that apply to it, or
// returns it unchanged when none do.
func (s *session) throttle(ctx context.Context, conn net.Conn, upload bool) net.Conn {
	ls := s.limiters(upload)
	if len(ls) == 0 {
		return conn
	}
	timeout := durationOr(s.srv.lim().DataTimeout, DefaultDataTimeout)
	return &throttledConn{Conn: conn, ctx: ctx, timeout: timeout, limiters: ls, chunk: smallestBurst(ls)}
}

// throttledConn waits for tokens before each write and after each read.
type throttledConn struct {
	net.Conn
	ctx      context.Context
	limiters []*rate.Limiter
	chunk    int           // the smallest burst: no wait may ask more
	timeout  time.Duration // the stall timeout, renewed per chunk
}

func (c *throttledConn) wait(n int) error {
	for _, l := range c.limiters {
		if err := l.WaitN(c.ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func (c *throttledConn) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), c.chunk)
		if err := c.wait(n); err != nil {
			return written, err
		}
		// The wait is not a stall: the deadline counts from now.
		if c.timeout > 0 {
			c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
		}
		m, err := c.Conn.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

func (c *throttledConn) Read(p []byte) (int, error) {
	if len(p) > c.chunk {
		p = p[:c.chunk]
	}
	if c.timeout > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if werr := c.wait(n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

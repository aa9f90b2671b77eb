package pier

import (
	"context"
	"time"
)

// Refused commands in a row (beyond pyftpdlib): a client that fails the
// same command thousands of times (a broken script, a scanner) costs the
// server a reply each, at the speed of the network. After SlowAfterErrors
// refusals in a row the session runs its next command only after a
// delay, and after CloseAfterErrors it is closed. Any positive reply
// starts the count again, so a client that mostly succeeds never notices.

// Defaults for the refusal fields.
const (
	DefaultSlowAfterErrors  = 50
	DefaultCloseAfterErrors = 1000
)

// The delay after each refusal beyond SlowAfterErrors: the first, doubled
// with each further refusal, up to the last.
const (
	refusalDelayFirst = 10 * time.Millisecond
	refusalDelayMax   = time.Second
)

// countReply counts a reply towards the refusals in a row: a 4xx or 5xx
// adds one, a 2xx or 3xx starts again. A 1xx says nothing yet, and 421
// ends the session anyway. Any goroutine may reply, hence the atomic.
func (s *session) countReply(code int) {
	switch {
	case code == 421 || code < 200:
	case code >= 400:
		s.refusals.Add(1)
	default:
		s.refusals.Store(0)
	}
}

// refusalLimits returns SlowAfterErrors and CloseAfterErrors with their
// defaults; zero or less means never.
func (s *Server) refusalLimits() (slowAfter, closeAfter int64) {
	slowAfter, closeAfter = DefaultSlowAfterErrors, DefaultCloseAfterErrors
	l := s.lim()
	if l.SlowAfterErrors != 0 {
		slowAfter = int64(l.SlowAfterErrors)
	}
	if l.CloseAfterErrors != 0 {
		closeAfter = int64(l.CloseAfterErrors)
	}
	return slowAfter, closeAfter
}

// refusalDelay is the delay after the refusal that makes n in a row, when
// slowAfter of them go free: 0 up to slowAfter, then doubling from
// refusalDelayFirst to refusalDelayMax.
func refusalDelay(n, slowAfter int64) time.Duration {
	if slowAfter <= 0 || n <= slowAfter {
		return 0
	}
	d := refusalDelayFirst
	for i := slowAfter + 1; i < n && d < refusalDelayMax; i++ {
		d *= 2
	}
	return min(d, refusalDelayMax)
}

// tooManyRefusals runs on the reading goroutine before a command, once
// the replies of the commands before it are out (QUIT, and ABOR acting on
// a running command, skip it): past CloseAfterErrors refusals in a row it
// replies 421 instead of running the command, ends the session and
// returns true; past SlowAfterErrors it waits before the command runs.
func (s *session) tooManyRefusals() bool {
	n := s.refusals.Load()
	if n == 0 {
		return false
	}
	slowAfter, closeAfter := s.srv.refusalLimits()
	if closeAfter > 0 && n >= closeAfter {
		s.logger().Warn("too many refused commands in a row; closing the session", "refused", n)
		s.reply(421, "Too many errors; closing the connection.")
		s.quit.Store(true)
		return true
	}
	if d := refusalDelay(n, slowAfter); d > 0 {
		s.srv.sleepRefused(s.ctx, d)
	}
	return false
}

// sleepRefused waits d, or until ctx ends (Close, the session's end).
func (s *Server) sleepRefused(ctx context.Context, d time.Duration) {
	if s.refusalSleep != nil {
		s.refusalSleep(d)
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

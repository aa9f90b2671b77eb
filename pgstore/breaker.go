package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrUnavailable is wrapped by the errors of the shared-state methods
// (bans, quotas, sessions) while the database can't be reached: after a
// query failed for want of a connection, the next ones fail at once for
// breakerPause instead of each waiting for the timeout, and one query at a
// time then tries again.
var ErrUnavailable = errors.New("database unavailable")

// breakerPause is how long queries fail at once after one failed for want
// of a connection.
const breakerPause = time.Second

// breaker is a circuit breaker in front of the database, for the queries
// of a running server's sessions (quota, bans, sessions table): an upload
// must not wait for the query timeout at every step while the database is
// away. Logins and the operator's methods don't use it: a login after the
// database came back must not be refused for the pause.
type breaker struct {
	mu        sync.Mutex
	openUntil time.Time     // queries fail at once before this
	open      bool          // the last connection failed; cleared by a success
	probing   bool          // one query is trying the database again
	lastErr   error         // what opened it
	pause     time.Duration // if zero, breakerPause; tests set it
}

// allow says whether a query may run now; probe is true for the one query
// that tries the database again after a pause, and must be passed to done.
func (b *breaker) allow() (probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return false, nil
	}
	if time.Now().Before(b.openUntil) || b.probing {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, b.lastErr)
	}
	b.probing = true
	return true, nil
}

// done records how a query that allow let through ended.
func (b *breaker) done(probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	switch {
	case connectionError(err):
		pause := b.pause
		if pause == 0 {
			pause = breakerPause
		}
		b.open, b.openUntil, b.lastErr = true, time.Now().Add(pause), err
	case err == nil || isPgError(err):
		// The database answered.
		b.open, b.lastErr = false, nil
	}
	// context.Canceled: the caller gave up; it tells nothing.
}

// connectionError reports whether err says the database can't be reached
// (no connection, a timeout, a server shutting down or starting up), not
// that it refused a statement.
func connectionError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		// Class 08: connection exception; 57: operator intervention
		// (admin_shutdown, cannot_connect_now while starting up...).
		return pgErr.Code[:2] == "08" || pgErr.Code[:2] == "57"
	}
	return true
}

// isPgError reports whether the database answered err (a statement's
// error).
func isPgError(err error) bool {
	_, ok := errors.AsType[*pgconn.PgError](err)
	return ok
}

// guarded runs f with the query timeout behind the breaker (while it is
// open, f does not run and the error wraps ErrUnavailable), and once more
// if it found its connection stale.
func (s *Store) guarded(ctx context.Context, f func(ctx context.Context) error) error {
	probe, err := s.breaker.allow()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err = s.retryStale(ctx, f)
	s.breaker.done(probe, err)
	return err
}

// retryStale runs f, and once more on new connections if f failed on a
// stale one: after the database restarted, every connection the pool
// holds is dead, and the pool would hand them out one query after another
// (it checks only those idle for a second).
func (s *Store) retryStale(ctx context.Context, f func(ctx context.Context) error) error {
	err := f(ctx)
	if err != nil && staleConnection(err) && ctx.Err() == nil {
		s.pool.Reset()
		err = f(ctx)
	}
	return err
}

// staleConnection reports whether err came from a connection that was
// closed before the query reached the database: the server that had it
// shut down (57P01 admin_shutdown, 57P02 crash_shutdown: it ran no query
// of ours after it said so), or pgx knows it sent nothing.
func staleConnection(err error) bool {
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return false // no server: trying again would wait again
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pgErr.Code == "57P01" || pgErr.Code == "57P02"
	}
	return pgconn.SafeToRetry(err)
}

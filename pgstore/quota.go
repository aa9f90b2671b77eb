package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierftp/pier"
)

// Quotas: pier_users holds each user's limits (quota_bytes, quota_files;
// 0: none) and pier_usage what the user stores, counted by the servers
// through the Quota of each login (pier.Quota) from when the user was
// added, or from when the database was migrated to this schema: files a
// home held before are not counted. The usage goes with the user (Delete).

const (
	// flushEvery is how often usage kept during an outage is tried again.
	flushEvery = time.Second
	// closeFlushTimeout bounds Close's last attempt to record it.
	closeFlushTimeout = 2 * time.Second
)

// usageDelta is usage not recorded yet.
type usageDelta struct{ bytes, files int64 }

// userQuota is the pier.Quota of a login: what Authenticate puts in
// User.Quota.
type userQuota struct {
	s    *Store
	name string
}

var _ pier.Quota = (*userQuota)(nil)

// Reserve implements pier.Quota: in one statement it reads the user's
// limits (so that a limit just changed applies at once) and adds bytes and
// files to the usage if the result is within them. A limit is checked
// only for what is reserved of it: Reserve(0, 1) succeeds with the bytes
// over their limit. It returns an error wrapping pier.ErrQuotaExceeded if
// a limit would be exceeded, and nil, recording nothing, for a user that
// was deleted meanwhile. While the database can't be reached it fails at
// once (ErrUnavailable) or within the timeout, with another error: the
// server then lets the upload go on.
func (q *userQuota) Reserve(ctx context.Context, bytes, files int64) error {
	var known, reserved bool
	err := q.s.guarded(ctx, func(ctx context.Context) error {
		return q.s.pool.QueryRow(ctx, `
			WITH q AS (SELECT name, quota_bytes, quota_files FROM pier_users WHERE name = $1),
			r AS (
				INSERT INTO pier_usage AS g (name, used_bytes, used_files)
				SELECT name, $2::bigint, $3::bigint FROM q
				WHERE ($2::bigint <= 0 OR quota_bytes = 0 OR $2::bigint <= quota_bytes)
					AND ($3::bigint <= 0 OR quota_files = 0 OR $3::bigint <= quota_files)
				ON CONFLICT (name) DO UPDATE SET used_bytes = g.used_bytes + $2::bigint,
					used_files = g.used_files + $3::bigint, updated_at = now()
				WHERE ($2::bigint <= 0 OR (SELECT quota_bytes FROM q) = 0
						OR g.used_bytes + $2::bigint <= (SELECT quota_bytes FROM q))
					AND ($3::bigint <= 0 OR (SELECT quota_files FROM q) = 0
						OR g.used_files + $3::bigint <= (SELECT quota_files FROM q))
				RETURNING 1)
			SELECT EXISTS (SELECT FROM q), EXISTS (SELECT FROM r)`,
			q.name, bytes, files).Scan(&known, &reserved)
	})
	switch {
	case err != nil:
		return fmt.Errorf("pgstore: user %q: reserve: %w", q.name, err)
	case known && !reserved:
		return fmt.Errorf("user %q: %w", q.name, pier.ErrQuotaExceeded)
	}
	return nil
}

// Adjust implements pier.Quota: it adds bytes and files to the usage,
// which goes no lower than 0. What it can't record for want of the
// database is kept in memory, summed per user, and tried again every
// second until it is recorded (a Store's Close makes a last attempt); it
// then returns nil. It returns an error only for a delta the database
// refused (which trying again would not change).
func (q *userQuota) Adjust(ctx context.Context, bytes, files int64) error {
	if bytes == 0 && files == 0 {
		return nil
	}
	s := q.s
	s.pendingMu.Lock()
	if d, ok := s.pending[q.name]; ok && !s.closed {
		// Behind what waits already: in order, since the usage is
		// clamped at 0.
		s.pending[q.name] = usageDelta{d.bytes + bytes, d.files + files}
		s.pendingMu.Unlock()
		return nil
	}
	s.pendingMu.Unlock()
	// The session may be ending: the change is recorded all the same.
	err := s.guarded(context.WithoutCancel(ctx), func(ctx context.Context) error {
		return s.addUsage(ctx, q.name, usageDelta{bytes, files})
	})
	if err == nil {
		return nil
	}
	if !connectionError(err) {
		return fmt.Errorf("pgstore: user %q: adjust usage by %d bytes, %d files: %w", q.name, bytes, files, err)
	}
	s.queueUsage(q.name, usageDelta{bytes, files}, err)
	return nil
}

// addUsage adds d to a user's usage (none for a user that is gone).
func (s *Store) addUsage(ctx context.Context, name string, d usageDelta) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO pier_usage AS g (name, used_bytes, used_files)
		SELECT name, greatest(0, $2::bigint), greatest(0, $3::bigint) FROM pier_users WHERE name = $1
		ON CONFLICT (name) DO UPDATE SET used_bytes = greatest(0, g.used_bytes + $2::bigint),
			used_files = greatest(0, g.used_files + $3::bigint), updated_at = now()`,
		name, d.bytes, d.files)
	return err
}

// queueUsage keeps d for flushLoop, which it starts at the first call.
func (s *Store) queueUsage(name string, d usageDelta, cause error) {
	s.pendingMu.Lock()
	if s.closed {
		s.pendingMu.Unlock()
		s.logger.Error("pgstore: dropped usage it could not record (store closed)", "user", name,
			"bytes", d.bytes, "files", d.files, "err", cause)
		return
	}
	first := len(s.pending) == 0
	p := s.pending[name]
	s.pending[name] = usageDelta{p.bytes + d.bytes, p.files + d.files}
	start := !s.flushing
	s.flushing = true
	s.pendingMu.Unlock()
	if first {
		s.logger.Warn("pgstore: database unavailable: keeping usage in memory until it can be recorded", "err", cause)
	}
	if start {
		go s.flushLoop()
	}
}

// flushLoop records the pending usage every flushEvery until Close.
func (s *Store) flushLoop() {
	defer close(s.flushDone)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-s.flushStop:
			return
		case <-t.C:
		}
		left := s.flushPending(context.Background(), true)
		if len(left) == 0 {
			continue
		}
		s.pendingMu.Lock()
		for name, d := range left {
			p := s.pending[name]
			// What waited longer goes first.
			s.pending[name] = usageDelta{d.bytes + p.bytes, d.files + p.files}
		}
		s.pendingMu.Unlock()
	}
}

// flushPending takes the pending usage and records it, user by user,
// through the breaker or (Close's last attempt) not; it returns what it
// could not record for want of the database. A delta the database refuses
// is logged and dropped.
func (s *Store) flushPending(ctx context.Context, viaBreaker bool) (left map[string]usageDelta) {
	s.pendingMu.Lock()
	batch := s.pending
	s.pending = make(map[string]usageDelta)
	s.pendingMu.Unlock()
	recorded := 0
	for name, d := range batch {
		if left != nil { // the database is away: keep the rest
			left[name] = d
			continue
		}
		var err error
		if viaBreaker {
			err = s.guarded(ctx, func(ctx context.Context) error { return s.addUsage(ctx, name, d) })
		} else {
			err = s.addUsage(ctx, name, d)
		}
		switch {
		case err == nil:
			recorded++
		case connectionError(err):
			left = map[string]usageDelta{name: d}
		default:
			s.logger.Error("pgstore: dropped usage the database refused", "user", name, "bytes", d.bytes, "files", d.files, "err", err)
		}
	}
	if recorded > 0 {
		s.logger.Info("pgstore: recorded usage kept during the outage", "users", recorded)
	}
	return left
}

// Usage returns what a user stores as the database counted it: the usage
// a Store keeps in memory during an outage is not in it until recorded.
// ErrNotFound if there is no such user.
func (s *Store) Usage(ctx context.Context, name string) (bytes, files int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err = s.retryStale(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT coalesce(g.used_bytes, 0), coalesce(g.used_files, 0)
			FROM pier_users u LEFT JOIN pier_usage g ON g.name = u.name WHERE u.name = $1`, name).Scan(&bytes, &files)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, fmt.Errorf("pgstore: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("pgstore: usage of %q: %w", name, err)
	}
	return bytes, files, nil
}

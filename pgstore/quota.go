package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	// opsKeep is how long the ledger (pier_usage_ops) keeps an
	// operation: an operation tried again later than this after its
	// answer was lost could be applied twice.
	opsKeep = 24 * time.Hour
	// pruneOpsEvery is how often a Store prunes the ledger (at an
	// Adjust), pruneOpsBatch the most rows it removes at once (if it
	// removed that many, it prunes again at the next Adjust).
	pruneOpsEvery = time.Minute
	pruneOpsBatch = 10000
)

// Usage operations are idempotent: each Reserve and each batch of Adjust
// has a random id, recorded in the ledger pier_usage_ops by the statement
// that changes the usage. An Adjust whose answer was lost (a timeout, a
// connection lost after the statement was sent) is tried again with the
// same id and amounts, and the ledger makes it count once. A Reserve whose
// answer was lost (the server then goes on as if it reserved nothing) is
// checked by the flusher: it writes a 'void' row under the same id, which
// a Reserve still to run would conflict with (and fail), and reads back
// the row: 'reserve' means it was recorded, and a compensating Adjust of
// the opposite amounts is queued.

// opID is a usage operation's id: a random (version 4) UUID.
type opID [16]byte

// newOpID returns a random id.
func newOpID() opID {
	var id opID
	_, _ = rand.Read(id[:]) // never fails
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// String formats id as a UUID.
func (id opID) String() string {
	h := hex.EncodeToString(id[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// usageOp is an operation on a user's usage that waits to be recorded: an
// adjustment, or the check of a Reserve whose answer was lost.
type usageOp struct {
	id           opID
	bytes, files int64
	// check: a Reserve of bytes and files under id whose outcome is
	// unknown; if it was recorded, it is undone.
	check bool
	// sent: an attempt may have reached the database, so the op must be
	// tried again as it is (same id, same amounts), never merged with
	// another.
	sent bool
}

// usageDelta is what waits to be recorded for one user: its operations,
// in order (the usage is clamped at 0, so order matters).
type usageDelta struct {
	ops []usageOp
	// bytes and files are the sum of the adjustments in ops (not the
	// checks), for the logs.
	bytes, files int64
}

// add appends op, merged into the last operation if both are adjustments
// that were never sent.
func (d *usageDelta) add(op usageOp) {
	if !op.check {
		d.bytes += op.bytes
		d.files += op.files
		if n := len(d.ops); n > 0 && !op.sent && !d.ops[n-1].check && !d.ops[n-1].sent {
			d.ops[n-1].bytes += op.bytes
			d.ops[n-1].files += op.files
			return
		}
	}
	d.ops = append(d.ops, op)
}

// usageFault, if set (tests), is called after a usage statement (kind
// "reserve" or "adjust") succeeded; an error it returns replaces the
// statement's result, as if its answer had been lost.
var usageFault atomic.Pointer[func(kind string) error]

// afterUsageStatement returns usageFault's error, if any.
func afterUsageStatement(kind string) error {
	if f := usageFault.Load(); f != nil {
		return (*f)(kind)
	}
	return nil
}

// unknownOutcome reports whether a statement that failed with err may have
// been applied all the same: it may have reached the database, which did
// not answer (a timeout, a cancellation, a connection lost). It is false
// for an error of the database's (the statement was rolled back), and when
// nothing was sent: the breaker was open, there was no connection, or pgx
// says so (pgconn.SafeToRetry).
func unknownOutcome(err error) bool {
	if err == nil || errors.Is(err, ErrUnavailable) || isPgError(err) || pgconn.SafeToRetry(err) {
		return false
	}
	_, noServer := errors.AsType[*pgconn.ConnectError](err)
	return !noServer
}

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
// server then lets the upload go on. If the statement may have been
// applied although it failed (its answer was lost), the Store checks later
// and undoes it if it was.
func (q *userQuota) Reserve(ctx context.Context, bytes, files int64) error {
	return q.reserve(ctx, newOpID(), bytes, files)
}

// reserve is Reserve under the operation id id.
func (q *userQuota) reserve(ctx context.Context, id opID, bytes, files int64) error {
	var known, reserved bool
	err := q.s.guarded(ctx, func(ctx context.Context) error {
		err := q.s.pool.QueryRow(ctx, `
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
				RETURNING 1),
			-- No ON CONFLICT: if a check voided the id first, the
			-- statement fails and reserves nothing.
			op AS (
				INSERT INTO pier_usage_ops (id, name, kind, bytes, files)
				SELECT $4::uuid, $1, 'reserve', $2::bigint, $3::bigint FROM r)
			SELECT EXISTS (SELECT FROM q), EXISTS (SELECT FROM r)`,
			q.name, bytes, files, [16]byte(id)).Scan(&known, &reserved)
		if err == nil {
			err = afterUsageStatement("reserve")
		}
		return err
	})
	switch {
	case err != nil:
		if unknownOutcome(err) && (bytes != 0 || files != 0) {
			q.s.queueUsage(q.name, usageOp{id: id, bytes: bytes, files: files, check: true, sent: true}, err)
		}
		return fmt.Errorf("pgstore: user %q: reserve: %w", q.name, err)
	case known && !reserved:
		return fmt.Errorf("user %q: %w", q.name, pier.ErrQuotaExceeded)
	}
	return nil
}

// Adjust implements pier.Quota: it adds bytes and files to the usage,
// which goes no lower than 0. What it can't record for want of the
// database is kept in memory, per user and in order, and tried again
// every second until it is recorded (a Store's Close makes a last
// attempt); it then returns nil. A change whose answer was lost is tried
// again as it was, and counts once. It returns an error only for a delta
// the database refused (which trying again would not change).
func (q *userQuota) Adjust(ctx context.Context, bytes, files int64) error {
	if bytes == 0 && files == 0 {
		return nil
	}
	s := q.s
	op := usageOp{id: newOpID(), bytes: bytes, files: files}
	s.pendingMu.Lock()
	if d, ok := s.pending[q.name]; ok && !s.closed {
		// Behind what waits already: in order, since the usage is
		// clamped at 0.
		d.add(op)
		s.pending[q.name] = d
		s.pendingMu.Unlock()
		return nil
	}
	s.pendingMu.Unlock()
	// The session may be ending: the change is recorded all the same.
	ctx = context.WithoutCancel(ctx)
	err := s.guarded(ctx, func(ctx context.Context) error { return s.adjustUsage(ctx, q.name, op) })
	if err == nil {
		s.maybePruneOps(ctx)
		return nil
	}
	if !connectionError(err) {
		return fmt.Errorf("pgstore: user %q: adjust usage by %d bytes, %d files: %w", q.name, bytes, files, err)
	}
	op.sent = unknownOutcome(err)
	s.queueUsage(q.name, op, err)
	return nil
}

// adjustUsage adds op's amounts to a user's usage (none for a user that is
// gone) and records op in the ledger, in one statement; nothing if op is in
// the ledger already.
func (s *Store) adjustUsage(ctx context.Context, name string, op usageOp) error {
	_, err := s.pool.Exec(ctx, `
		WITH op AS (
			INSERT INTO pier_usage_ops (id, name, kind, bytes, files)
			VALUES ($4::uuid, $1, 'adjust', $2::bigint, $3::bigint)
			ON CONFLICT (id) DO NOTHING
			RETURNING 1)
		INSERT INTO pier_usage AS g (name, used_bytes, used_files)
		SELECT name, greatest(0, $2::bigint), greatest(0, $3::bigint) FROM pier_users
		WHERE name = $1 AND EXISTS (SELECT FROM op)
		ON CONFLICT (name) DO UPDATE SET used_bytes = greatest(0, g.used_bytes + $2::bigint),
			used_files = greatest(0, g.used_files + $3::bigint), updated_at = now()`,
		name, op.bytes, op.files, [16]byte(op.id))
	if err == nil {
		err = afterUsageStatement("adjust")
	}
	return err
}

// checkReserve tells whether the Reserve of id was recorded, and makes sure
// it won't be if it was not: it writes a 'void' row under id (waiting for a
// Reserve that has it in progress), then reads which row holds id. Trying
// it again is harmless.
func (s *Store) checkReserve(ctx context.Context, name string, id opID) (recorded bool, err error) {
	if _, err := s.pool.Exec(ctx, `INSERT INTO pier_usage_ops (id, name, kind) VALUES ($1::uuid, $2, 'void')
		ON CONFLICT (id) DO NOTHING`, [16]byte(id), name); err != nil {
		return false, err
	}
	var kind string
	err = s.pool.QueryRow(ctx, `SELECT kind FROM pier_usage_ops WHERE id = $1::uuid`, [16]byte(id)).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil // pruned meanwhile: it was void
	}
	return kind == "reserve", err
}

// queueUsage keeps op for flushLoop, which it starts at the first call.
func (s *Store) queueUsage(name string, op usageOp, cause error) {
	s.pendingMu.Lock()
	if s.closed {
		s.pendingMu.Unlock()
		s.logDropped(name, op, cause, "store closed")
		return
	}
	first := len(s.pending) == 0
	d := s.pending[name]
	d.add(op)
	s.pending[name] = d
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

// logDropped logs an operation given up.
func (s *Store) logDropped(name string, op usageOp, cause error, why string) {
	if op.check {
		s.logger.Error("pgstore: could not check a reservation whose answer was lost ("+why+"): the usage may count it",
			"user", name, "bytes", op.bytes, "files", op.files, "op", op.id, "err", cause)
		return
	}
	s.logger.Error("pgstore: dropped usage it could not record ("+why+")", "user", name,
		"bytes", op.bytes, "files", op.files, "op", op.id, "err", cause)
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
			// What waited longer goes first.
			for _, op := range s.pending[name].ops {
				d.add(op)
			}
			s.pending[name] = d
		}
		s.pendingMu.Unlock()
	}
}

// flushPending takes the pending usage and records it, user by user and
// in order, through the breaker or (Close's last attempt) not; it returns
// what it could not record for want of the database (Close's attempt
// returns only users with adjustments left, and logs the checks it
// drops). An operation the database refuses is logged and dropped.
func (s *Store) flushPending(ctx context.Context, viaBreaker bool) (left map[string]usageDelta) {
	s.pendingMu.Lock()
	batch := s.pending
	s.pending = make(map[string]usageDelta)
	s.pendingMu.Unlock()
	run := func(f func(ctx context.Context) error) error {
		if viaBreaker {
			return s.guarded(ctx, f)
		}
		return f(ctx)
	}
	recorded := 0
	for name, d := range batch {
		if left != nil { // the database is away: keep the rest
			left[name] = d
			continue
		}
		rest, err := s.flushUser(ctx, name, d.ops, run)
		if len(rest) > 0 {
			var kept usageDelta
			for _, op := range rest {
				kept.add(op)
			}
			left = map[string]usageDelta{name: kept}
			if !viaBreaker {
				for _, op := range rest {
					if op.check {
						s.logDropped(name, op, err, "store closing")
					}
				}
			}
		}
		if len(rest) < len(d.ops) {
			recorded++
		}
	}
	if recorded > 0 {
		s.logger.Info("pgstore: recorded usage kept during the outage", "users", recorded)
	}
	if !viaBreaker {
		for name, d := range left {
			if d.bytes == 0 && d.files == 0 {
				delete(left, name) // checks only, logged above
			}
		}
	}
	return left
}

// flushUser records ops in order, through run; it returns those left from
// the first that failed for want of the database, with that error.
func (s *Store) flushUser(ctx context.Context, name string, ops []usageOp, run func(func(context.Context) error) error) (rest []usageOp, err error) {
	for i := 0; i < len(ops); i++ {
		op := &ops[i]
		if op.check {
			var recorded bool
			err = run(func(ctx context.Context) (err error) {
				recorded, err = s.checkReserve(ctx, name, op.id)
				return err
			})
			if err == nil && recorded {
				s.logger.Warn("pgstore: a reservation whose answer was lost had been recorded: undoing it",
					"user", name, "bytes", op.bytes, "files", op.files, "op", op.id)
				*op = usageOp{id: newOpID(), bytes: -op.bytes, files: -op.files}
				i-- // now the compensating adjustment
				continue
			}
		} else {
			err = run(func(ctx context.Context) error { return s.adjustUsage(ctx, name, *op) })
		}
		switch {
		case err == nil:
		case connectionError(err):
			op.sent = op.sent || unknownOutcome(err)
			return ops[i:], err
		default:
			s.logDropped(name, *op, err, "refused by the database")
		}
	}
	return nil, nil
}

// maybePruneOps prunes the ledger if it is time to (pruneOpsEvery); an
// error is logged.
func (s *Store) maybePruneOps(ctx context.Context) {
	now := time.Now()
	s.pruneMu.Lock()
	due := !now.Before(s.nextOpsPrune)
	if due {
		s.nextOpsPrune = now.Add(pruneOpsEvery)
	}
	s.pruneMu.Unlock()
	if !due {
		return
	}
	var n int64
	err := s.guarded(ctx, func(ctx context.Context) (err error) {
		n, err = s.pruneOps(ctx, opsKeep)
		return err
	})
	if err != nil {
		s.logger.Warn("pgstore: pruning the usage ledger", "err", err)
	}
	if n >= pruneOpsBatch {
		s.pruneMu.Lock()
		s.nextOpsPrune = now // more to do: at the next Adjust
		s.pruneMu.Unlock()
	}
}

// pruneOps removes from the ledger up to pruneOpsBatch operations older
// than keep, the oldest first, and returns how many it removed.
func (s *Store) pruneOps(ctx context.Context, keep time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM pier_usage_ops WHERE id IN (
		SELECT id FROM pier_usage_ops WHERE created_at < now() - make_interval(secs => $1)
		ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, keep.Seconds(), pruneOpsBatch)
	return tag.RowsAffected(), err
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

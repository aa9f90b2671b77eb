package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierftp/pier"
)

// Bans: pier_bans has a row per network (an IPv4 /32, an IPv6 /64) that
// failed a login or was banned: its failures in the window that started at
// window_start, the end of its last ban (until, NULL if it never had one,
// in the past once lifted), whether that ban was made by hand, and when
// until last changed (changed_at, the database's clock_timestamp()), which
// Changes follows. Every time comes from the database's clock, so that
// nodes whose clocks differ count the same windows; only a ban by hand
// (Ban) ends when its caller said.

const (
	// changesOverlap is how far back of its cursor Changes looks again:
	// a change made (changed_at) before the cursor's time may commit
	// after it, when its transaction took that long.
	changesOverlap = 2 * time.Second
	// banPruneEvery is how often Changes removes the rows that tell
	// nothing any more: those whose ban and failure window ended more
	// than banPruneAge ago.
	banPruneEvery = time.Hour
	banPruneAge   = 24 * time.Hour
)

// banWindowExpired and banCount are LoginFailed's terms: whether the row's
// failure window ended, and the count with this failure.
const (
	banWindowExpired = `b.window_start <= clock_timestamp() - $3::bigint * interval '1 microsecond'`
	banCount         = `(CASE WHEN ` + banWindowExpired + ` THEN 1 ELSE b.failures + 1 END)`
	banReached       = banCount + ` >= $2::integer`
)

// LoginFailed implements pier.BanStore in one statement, so that the
// failures of all the nodes count exactly: it adds a failure of p (after
// starting the window again if it ended) and, when the count reaches
// after, bans p for window from now, counts from 0 again, and returns the
// ban's end. A failure while p is banned counts for nothing (the node
// that saw it did not know of the ban yet). Times are the database's.
func (s *Store) LoginFailed(ctx context.Context, p netip.Prefix, after int, window time.Duration) (time.Time, error) {
	var until *time.Time
	var banned bool
	err := s.guarded(ctx, func(ctx context.Context) error {
		// A row written with failures = 0 was banned by this statement:
		// every other write leaves a count of at least 1, and one while
		// banned writes nothing (the WHERE).
		err := s.pool.QueryRow(ctx, `
			INSERT INTO pier_bans AS b (prefix, failures, window_start, until, manual, changed_at)
			VALUES ($1, CASE WHEN $2::integer <= 1 THEN 0 ELSE 1 END, clock_timestamp(),
				CASE WHEN $2::integer <= 1 THEN clock_timestamp() + $3::bigint * interval '1 microsecond' END,
				false, CASE WHEN $2::integer <= 1 THEN clock_timestamp() END)
			ON CONFLICT (prefix) DO UPDATE SET
				failures = CASE WHEN `+banReached+` THEN 0 ELSE `+banCount+` END,
				window_start = CASE WHEN `+banReached+` OR `+banWindowExpired+` THEN clock_timestamp() ELSE b.window_start END,
				until = CASE WHEN `+banReached+` THEN clock_timestamp() + $3::bigint * interval '1 microsecond' ELSE b.until END,
				manual = CASE WHEN `+banReached+` THEN false ELSE b.manual END,
				changed_at = CASE WHEN `+banReached+` THEN clock_timestamp() ELSE b.changed_at END
			WHERE b.until IS NULL OR b.until <= clock_timestamp()
			RETURNING until, failures = 0`,
			p.Masked(), after, window.Microseconds()).Scan(&until, &banned)
		if errors.Is(err, pgx.ErrNoRows) { // banned already
			return nil
		}
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("pgstore: failed login from %s: %w", p, err)
	}
	if !banned || until == nil {
		return time.Time{}, nil
	}
	return *until, nil
}

// Ban implements pier.BanStore: p is banned by hand until until (the
// caller's time), and its failures forgotten.
func (s *Store) Ban(ctx context.Context, p netip.Prefix, until time.Time) error {
	err := s.guarded(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `
			INSERT INTO pier_bans AS b (prefix, failures, window_start, until, manual, changed_at)
			VALUES ($1, 0, clock_timestamp(), $2, true, clock_timestamp())
			ON CONFLICT (prefix) DO UPDATE SET failures = 0, window_start = clock_timestamp(),
				until = $2, manual = true, changed_at = clock_timestamp()`,
			p.Masked(), until)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: ban %s: %w", p, err)
	}
	return nil
}

// Unban implements pier.BanStore: p's ban ends now, and its failures are
// forgotten. The row stays, with until in the past, so that Changes tells
// every node of the lift; a p with no row gets one, since a node may have
// banned it alone while the database was away.
func (s *Store) Unban(ctx context.Context, p netip.Prefix) error {
	err := s.guarded(ctx, func(ctx context.Context) error {
		// until = now(), the transaction's start: not after changed_at,
		// so the change is a lift.
		_, err := s.pool.Exec(ctx, `
			INSERT INTO pier_bans AS b (prefix, failures, window_start, until, manual, changed_at)
			VALUES ($1, 0, clock_timestamp(), now(), false, clock_timestamp())
			ON CONFLICT (prefix) DO UPDATE SET failures = 0, window_start = clock_timestamp(),
				until = now(), changed_at = clock_timestamp()`,
			p.Masked())
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: unban %s: %w", p, err)
	}
	return nil
}

// Changes implements pier.BanStore. The cursor is the database's time of
// the call that returned it (as decimal Unix microseconds); each call
// returns the bans set and lifted from changesOverlap before it, so a
// change may come twice. From "" it returns the bans in force. Now and
// then it also removes rows whose ban and failure window ended a day ago.
func (s *Store) Changes(ctx context.Context, cursor string) ([]pier.BanChange, string, error) {
	var since time.Time
	if cursor != "" {
		us, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("pgstore: ban changes: bad cursor %q", cursor)
		}
		since = time.UnixMicro(us).Add(-changesOverlap)
	}
	// One round trip, every BanSyncInterval on every node: the database's
	// now() (the next cursor: no later than any row this reads), with the
	// rows, or once with none.
	query, args := `SELECT n.now, b.prefix, b.until, b.manual, b.changed_at
		FROM (SELECT now()) n LEFT JOIN pier_bans b ON b.changed_at > $1
		ORDER BY b.changed_at`, []any{since}
	if cursor == "" {
		query, args = `SELECT n.now, b.prefix, b.until, b.manual, b.changed_at
			FROM (SELECT now()) n LEFT JOIN pier_bans b ON b.until > n.now AND b.changed_at IS NOT NULL
			ORDER BY b.changed_at`, nil
	}
	var changes []pier.BanChange
	var now time.Time
	err := s.guarded(ctx, func(ctx context.Context) error {
		changes = nil
		rows, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		var prefix *netip.Prefix
		var until, at *time.Time
		var manual *bool
		_, err = pgx.ForEachRow(rows, []any{&now, &prefix, &until, &manual, &at}, func() error {
			if prefix == nil { // no change
				return nil
			}
			c := pier.BanChange{Prefix: *prefix, Manual: *manual, At: *at}
			if until != nil {
				c.Until = *until
			}
			changes = append(changes, c)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("pgstore: ban changes: %w", err)
	}
	s.pruneBansNow(ctx)
	return changes, strconv.FormatInt(now.UnixMicro(), 10), nil
}

// pruneBansNow removes the old rows if banPruneEvery passed since it last
// did.
func (s *Store) pruneBansNow(ctx context.Context) {
	s.pruneMu.Lock()
	due := time.Since(s.lastBanPrune) >= banPruneEvery
	if due {
		s.lastBanPrune = time.Now()
	}
	s.pruneMu.Unlock()
	if !due {
		return
	}
	if _, err := s.pruneBans(ctx); err != nil {
		s.logger.Warn("pgstore: removing old bans", "err", err)
	}
}

// pruneBans removes the rows whose ban and failure window ended more than
// banPruneAge ago, and returns how many.
func (s *Store) pruneBans(ctx context.Context) (int64, error) {
	var n int64
	err := s.guarded(ctx, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `DELETE FROM pier_bans
			WHERE (until IS NULL OR until < now() - $1::bigint * interval '1 microsecond')
				AND window_start < now() - $1::bigint * interval '1 microsecond'`,
			banPruneAge.Microseconds())
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

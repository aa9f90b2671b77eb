package pgstore

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/internal/pgtest"
)

// nodes opens n Stores (each with a pool of its own, as n pier nodes) on
// one database.
func nodes(t *testing.T, url string, n int) []*Store {
	t.Helper()
	stores := make([]*Store, n)
	for i := range stores {
		stores[i] = openStore(t, url)
	}
	return stores
}

// TestLoginFailedConcurrent: failures reported by three nodes at once
// count exactly: the ban comes at the failure that reaches the limit, once,
// and the failures during the ban count for nothing.
func TestLoginFailedConcurrent(t *testing.T) {
	stores := nodes(t, pgtest.Start(t), 3)
	tests := []struct {
		name            string
		prefix          netip.Prefix
		after, failures int
	}{
		// Every failure must count for the 27th to ban.
		{"exact count", netip.MustParsePrefix("192.0.2.1/32"), 27, 27},
		// After the 10th, the other 20 find the prefix banned.
		{"one ban", netip.MustParsePrefix("2001:db8:1:2::/64"), 10, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var bans []time.Time
			var wg sync.WaitGroup
			for i := range tc.failures {
				s := stores[i%len(stores)]
				wg.Go(func() {
					until, err := s.LoginFailed(t.Context(), tc.prefix, tc.after, time.Hour)
					if err != nil {
						t.Error(err)
					}
					if !until.IsZero() {
						mu.Lock()
						bans = append(bans, until)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(bans) != 1 {
				t.Fatalf("%d failures, ban after %d: %d bans %v, want 1", tc.failures, tc.after, len(bans), bans)
			}
			if !bans[0].After(time.Now().Add(time.Hour / 2)) {
				t.Errorf("ban until %v, want about an hour from now", bans[0])
			}
			changes, _, err := stores[0].Changes(t.Context(), "")
			if err != nil || len(changes) != 1 || changes[0].Prefix != tc.prefix || changes[0].Manual || !changes[0].Until.Equal(bans[0]) {
				t.Errorf("Changes: %+v, %v; want the ban of %s until %v", changes, err, tc.prefix, bans[0])
			}
			stores[0].Unban(t.Context(), tc.prefix) // for the next case's Changes
		})
	}
}

// TestLoginFailedWindow: failures count within the window from the first
// one; an Unban forgets them; a ban by hand is not replaced by one for
// failures.
func TestLoginFailedWindow(t *testing.T) {
	s := openStore(t, pgtest.Start(t))
	ctx := t.Context()
	p := netip.MustParsePrefix("198.51.100.7/32")
	fail := func(want bool) {
		t.Helper()
		until, err := s.LoginFailed(ctx, p, 3, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if got := !until.IsZero(); got != want {
			t.Fatalf("LoginFailed: banned %v, want %v", got, want)
		}
	}
	fail(false)
	fail(false)
	// The window started two hours ago: the next failure is the first
	// of a new one.
	if _, err := s.pool.Exec(ctx, `UPDATE pier_bans SET window_start = now() - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}
	fail(false)
	fail(false)
	fail(true)
	fail(false) // banned: not counted
	if err := s.Unban(ctx, p); err != nil {
		t.Fatal(err)
	}
	fail(false)
	fail(false)
	if err := s.Unban(ctx, p); err != nil { // forgets the two
		t.Fatal(err)
	}
	fail(false)
	fail(false)
	fail(true)

	q := netip.MustParsePrefix("198.51.100.8/32")
	if err := s.Ban(ctx, q, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if until, err := s.LoginFailed(ctx, q, 1, time.Minute); err != nil || !until.IsZero() {
			t.Fatalf("failure during a ban by hand: %v, %v", until, err)
		}
	}
	changes, _, err := s.Changes(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(changes, func(c pier.BanChange) bool { return c.Prefix == q })
	if i < 0 || !changes[i].Manual || !changes[i].Until.After(time.Now().Add(30*time.Minute)) {
		t.Errorf("the ban by hand after failures: %+v", changes)
	}
	// A host address is kept as its network.
	if err := s.Ban(ctx, netip.MustParsePrefix("2001:db8::1/64"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pier_bans WHERE prefix = '2001:db8::/64'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("2001:db8::1/64 kept as 2001:db8::/64: %d rows, %v", n, err)
	}
}

// TestBanChanges follows bans and lifts from several nodes through
// Changes' cursors.
func TestBanChanges(t *testing.T) {
	stores := nodes(t, pgtest.Start(t), 2)
	a, b := stores[0], stores[1]
	ctx := t.Context()
	changes, c0, err := b.Changes(ctx, "")
	if err != nil || len(changes) != 0 || c0 == "" {
		t.Fatalf(`Changes(""): %+v, %q, %v`, changes, c0, err)
	}
	p1 := netip.MustParsePrefix("203.0.113.1/32")
	p2 := netip.MustParsePrefix("2001:db8:2::/64")
	p3 := netip.MustParsePrefix("203.0.113.3/32")
	banned, err := a.LoginFailed(ctx, p1, 1, time.Hour)
	if err != nil || banned.IsZero() {
		t.Fatalf("LoginFailed: %v, %v", banned, err)
	}
	byHand := time.Now().Add(2 * time.Hour).Truncate(time.Microsecond)
	if err := a.Ban(ctx, p2, byHand); err != nil {
		t.Fatal(err)
	}
	if err := a.Ban(ctx, p3, time.Now().Add(-time.Minute)); err != nil { // over already
		t.Fatal(err)
	}

	want := func(changes []pier.BanChange, p netip.Prefix, until time.Time, manual bool) {
		t.Helper()
		i := slices.IndexFunc(changes, func(c pier.BanChange) bool { return c.Prefix == p })
		if i < 0 {
			t.Errorf("no change of %s in %+v", p, changes)
			return
		}
		c := changes[i]
		if c.Manual != manual || c.At.IsZero() || (!until.IsZero() && !c.Until.Equal(until)) {
			t.Errorf("change of %s: %+v, want until %v, manual %v", p, c, until, manual)
		}
		if until.IsZero() && c.Until.After(c.At) {
			t.Errorf("change of %s: %+v, want a lift (Until not after At)", p, c)
		}
	}
	inForce, _, err := b.Changes(ctx, "")
	if err != nil || len(inForce) != 2 {
		t.Fatalf(`Changes(""): %+v, %v; want the 2 bans in force`, inForce, err)
	}
	want(inForce, p1, banned, false)
	want(inForce, p2, byHand, true)
	since0, c1, err := b.Changes(ctx, c0)
	if err != nil || len(since0) != 3 {
		t.Fatalf("Changes(c0): %+v, %v; want the 3 changes", since0, err)
	}
	want(since0, p3, time.Time{}, true)
	if c1 == c0 {
		t.Error("the cursor did not move")
	}

	if err := b.Unban(ctx, p1); err != nil {
		t.Fatal(err)
	}
	lifts, c2, err := a.Changes(ctx, c1)
	if err != nil {
		t.Fatal(err)
	}
	want(lifts, p1, time.Time{}, false)
	// Delivered again, the same: a node applies it twice to no effect.
	again, _, err := a.Changes(ctx, c1)
	if err != nil || !slices.Equal(again, lifts) {
		t.Errorf("again: %+v, %v; want %+v", again, err, lifts)
	}
	if inForce, _, _ := a.Changes(ctx, ""); len(inForce) != 1 || inForce[0].Prefix != p2 {
		t.Errorf("in force after the lift: %+v", inForce)
	}

	// The overlap: a change made up to 2 s before the cursor's time (its
	// transaction committed late) comes again; one older does not.
	us, err := strconv.ParseInt(c2, 10, 64)
	if err != nil {
		t.Fatalf("cursor %q: %v", c2, err)
	}
	at := time.UnixMicro(us)
	if _, err := a.pool.Exec(ctx, `UPDATE pier_bans SET changed_at = CASE prefix
		WHEN $1 THEN $3::timestamptz - interval '1 second' ELSE $3::timestamptz - interval '3 seconds' END
		WHERE prefix IN ($1, $2, $4)`, p1, p2, at, p3); err != nil {
		t.Fatal(err)
	}
	late, _, err := a.Changes(ctx, c2)
	if err != nil || len(late) != 1 || late[0].Prefix != p1 {
		t.Errorf("Changes(c2) after a late commit: %+v, %v; want p1's lift only", late, err)
	}
	if _, _, err := a.Changes(ctx, "yesterday"); err == nil {
		t.Error("Changes took a bad cursor")
	}
}

// TestBanPrune: Changes removes, now and then (not at every call), the rows
// whose ban and failure window ended more than a day ago.
func TestBanPrune(t *testing.T) {
	s := openStore(t, pgtest.Start(t))
	ctx := t.Context()
	insert := func(prefix, until, windowStart string) {
		t.Helper()
		_, err := s.pool.Exec(ctx, `INSERT INTO pier_bans (prefix, failures, window_start, until, changed_at)
			VALUES ($1, 1, now() - $3::interval, now() - $2::interval, now() - $2::interval)`, prefix, until, windowStart)
		if err != nil {
			t.Fatal(err)
		}
	}
	insert("192.0.2.1/32", "2 days", "2 days")   // old: removed
	insert("192.0.2.2/32", "2 days", "1 minute") // counting failures: kept
	insert("192.0.2.3/32", "-1 hour", "2 days")  // banned: kept
	if _, err := s.pool.Exec(ctx, `INSERT INTO pier_bans (prefix, failures, window_start)
		VALUES ('192.0.2.4/32', 2, now() - interval '3 days')`); err != nil { // failures long ago: removed
		t.Fatal(err)
	}
	left := func() []string {
		t.Helper()
		rows, err := s.pool.Query(ctx, `SELECT prefix::text FROM pier_bans ORDER BY prefix`)
		if err != nil {
			t.Fatal(err)
		}
		var ps []string
		for rows.Next() {
			var p string
			rows.Scan(&p)
			ps = append(ps, p)
		}
		return ps
	}
	if _, _, err := s.Changes(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if got := left(); !slices.Equal(got, []string{"192.0.2.2/32", "192.0.2.3/32"}) {
		t.Errorf("after the first Changes: %v", got)
	}
	insert("192.0.2.5/32", "2 days", "2 days")
	if _, _, err := s.Changes(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if got := left(); len(got) != 3 {
		t.Errorf("the next Changes pruned again: %v", got)
	}
	if n, err := s.pruneBans(ctx); err != nil || n != 1 {
		t.Errorf("pruneBans: %d, %v; want 1", n, err)
	}
}

// TestBreaker: after a connection failure queries fail at once (without
// running) until the pause ends; then one query tries, and its success
// closes the breaker. A statement's error does not open it.
func TestBreaker(t *testing.T) {
	var b breaker
	b.pause = time.Hour
	probe, err := b.allow()
	if probe || err != nil {
		t.Fatalf("closed: allow %v, %v", probe, err)
	}
	down := errors.New("dial tcp: connection refused")
	b.done(false, down)
	if _, err := b.allow(); !errors.Is(err, ErrUnavailable) || !errors.Is(err, down) {
		t.Fatalf("open: %v, want ErrUnavailable wrapping the cause", err)
	}
	b.mu.Lock()
	b.openUntil = time.Now().Add(-time.Second) // the pause is over
	b.mu.Unlock()
	if probe, err := b.allow(); !probe || err != nil {
		t.Fatalf("after the pause: probe %v, %v; want the probe", probe, err)
	}
	if _, err := b.allow(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("while the probe runs: %v, want ErrUnavailable", err)
	}
	b.done(true, nil)
	if probe, err := b.allow(); probe || err != nil {
		t.Errorf("after the probe's success: %v, %v; want closed", probe, err)
	}
	b.done(false, &pgconn.PgError{Code: "23505"})
	if _, err := b.allow(); err != nil {
		t.Errorf("a statement's error opened it: %v", err)
	}
	b.done(false, context.Canceled)
	if _, err := b.allow(); err != nil {
		t.Errorf("a cancelled query opened it: %v", err)
	}
	b.done(false, &pgconn.PgError{Code: "57P03"}) // the database is starting up
	if _, err := b.allow(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("cannot_connect_now: %v, want ErrUnavailable", err)
	}
}

package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/mem"
	"github.com/pierftp/pier/internal/pgtest"
)

// quotaOf logs name in and returns its login's Quota.
func quotaOf(t *testing.T, s *Store, name string) pier.Quota {
	t.Helper()
	u, err := s.Authenticate(t.Context(), pier.ConnInfo{}, name, "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Release)
	if u.Quota == nil {
		t.Fatal("the login has no Quota")
	}
	return u.Quota
}

// wantUsage checks what the database counted for name.
func wantUsage(t *testing.T, s *Store, name string, bytes, files int64) {
	t.Helper()
	b, f, err := s.Usage(t.Context(), name)
	if err != nil || b != bytes || f != files {
		t.Errorf("usage of %s: %d bytes, %d files, %v; want %d, %d", name, b, f, err, bytes, files)
	}
}

// TestQuotaConcurrent: logins on three nodes reserving at once get exactly
// what the quota holds; adjustments at once all count.
func TestQuotaConcurrent(t *testing.T) {
	stores := nodes(t, pgtest.Start(t), 3)
	ctx := t.Context()
	if err := stores[0].Add(ctx, Account{Name: "alice", PasswordHash: hash(t, "pw"), Home: "/a", QuotaBytes: 10, QuotaFiles: 5}); err != nil {
		t.Fatal(err)
	}
	quotas := make([]pier.Quota, len(stores))
	for i, s := range stores {
		quotas[i] = quotaOf(t, s, "alice")
	}
	reserveAtOnce := func(n int, bytes, files int64) (ok, exceeded int) {
		t.Helper()
		var okN, exceededN atomic.Int32
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				switch err := quotas[i%len(quotas)].Reserve(ctx, bytes, files); {
				case err == nil:
					okN.Add(1)
				case errors.Is(err, pier.ErrQuotaExceeded):
					exceededN.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		return int(okN.Load()), int(exceededN.Load())
	}
	if ok, exceeded := reserveAtOnce(20, 1, 0); ok != 10 || exceeded != 10 {
		t.Errorf("20 reservations of 1 byte against 10: %d granted, %d refused", ok, exceeded)
	}
	// The bytes are full: a file alone is still checked against the
	// files' limit only.
	if ok, exceeded := reserveAtOnce(20, 0, 1); ok != 5 || exceeded != 15 {
		t.Errorf("20 reservations of a file against 5: %d granted, %d refused", ok, exceeded)
	}
	wantUsage(t, stores[0], "alice", 10, 5)
	err := quotas[0].Reserve(ctx, 1, 1)
	if !errors.Is(err, pier.ErrQuotaExceeded) || !strings.Contains(err.Error(), `"alice"`) {
		t.Errorf("over quota: %v, want ErrQuotaExceeded naming alice", err)
	}

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := quotas[i%len(quotas)].Adjust(ctx, -1, 2); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	wantUsage(t, stores[0], "alice", 0, 45) // the bytes stop at 0
}

// TestQuotaChanges: a changed limit applies to the next reservation of a
// login made before; 0 is no limit; a deleted user's usage goes with it.
func TestQuotaChanges(t *testing.T) {
	s := openStore(t, pgtest.Start(t))
	ctx := t.Context()
	if err := s.Add(ctx, Account{Name: "bob", PasswordHash: hash(t, "pw"), Home: "/b", QuotaBytes: 100}); err != nil {
		t.Fatal(err)
	}
	q := quotaOf(t, s, "bob")
	if err := q.Reserve(ctx, 60, 1); err != nil {
		t.Fatal(err)
	}
	if err := q.Reserve(ctx, 60, 1); !errors.Is(err, pier.ErrQuotaExceeded) {
		t.Fatalf("60 more against 100: %v", err)
	}
	wantUsage(t, s, "bob", 60, 1)
	more, files := int64(200), int64(1)
	if err := s.Set(ctx, "bob", Change{QuotaBytes: &more, QuotaFiles: &files}); err != nil {
		t.Fatal(err)
	}
	if err := q.Reserve(ctx, 60, 0); err != nil {
		t.Errorf("after raising the quota: %v", err)
	}
	if err := q.Reserve(ctx, 1, 1); !errors.Is(err, pier.ErrQuotaExceeded) {
		t.Errorf("a second file against 1: %v", err)
	}
	a, err := s.Get(ctx, "bob")
	if err != nil || a.QuotaBytes != 200 || a.QuotaFiles != 1 || a.UsedBytes != 120 || a.UsedFiles != 1 {
		t.Errorf("Get: %+v, %v", a, err)
	}
	none := int64(0)
	if err := s.Set(ctx, "bob", Change{QuotaBytes: &none, QuotaFiles: &none}); err != nil {
		t.Fatal(err)
	}
	if err := q.Reserve(ctx, 1<<40, 1000); err != nil {
		t.Errorf("without a limit: %v", err)
	}
	negative := int64(-1)
	if err := s.Set(ctx, "bob", Change{QuotaFiles: &negative}); err == nil {
		t.Error("Set took a negative quota")
	}

	if err := s.Delete(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pier_usage`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("usage rows after Delete: %d, %v", rows, err)
	}
	if _, _, err := s.Usage(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Usage of a deleted user: %v, want ErrNotFound", err)
	}
	// The login made before goes on, counted nowhere.
	if err := q.Reserve(ctx, 1, 1); err != nil {
		t.Errorf("Reserve of a deleted user: %v", err)
	}
	if err := q.Adjust(ctx, 5, 1); err != nil {
		t.Errorf("Adjust of a deleted user: %v", err)
	}
	if err := s.Add(ctx, Account{Name: "bob", PasswordHash: hash(t, "pw"), Home: "/b"}); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, s, "bob", 0, 0) // a new bob starts from nothing
}

// logBuffer is a logger whose output a test reads.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestQuotaOutage: with the database stopped, Reserve fails (soon, without
// a quota error) so the upload goes on, and Adjust keeps the change; once
// the database is back, what was kept is recorded without anyone asking.
// Close records what it can, and logs what it had to drop.
func TestQuotaOutage(t *testing.T) {
	db := pgtest.StartServer(t)
	var log logBuffer
	open := func() *Store {
		s, err := Open(db.URL, Options{
			OpenHome: func(string) (pier.FileSystem, error) { return mem.New(), nil },
			Timeout:  10 * time.Second,
			Logger:   slog.New(slog.NewTextHandler(&log, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	s := open()
	ctx := t.Context()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, Account{Name: "carol", PasswordHash: hash(t, "pw"), Home: "/c", QuotaBytes: 1000}); err != nil {
		t.Fatal(err)
	}
	q := quotaOf(t, s, "carol")
	if err := q.Reserve(ctx, 100, 1); err != nil {
		t.Fatal(err)
	}

	db.Stop()
	for i := range 3 { // the first finds the database gone, the next the breaker open
		err := q.Reserve(ctx, 1, 0)
		if err == nil || errors.Is(err, pier.ErrQuotaExceeded) {
			t.Fatalf("Reserve %d during the outage: %v, want an error other than ErrQuotaExceeded", i, err)
		}
	}
	for _, d := range []struct{ bytes, files int64 }{{50, 1}, {-20, 0}, {7, 2}} {
		if err := q.Adjust(ctx, d.bytes, d.files); err != nil {
			t.Errorf("Adjust during the outage: %v, want it kept", err)
		}
	}
	if !strings.Contains(log.String(), "keeping usage in memory") {
		t.Errorf("log: %s", log.String())
	}

	db.Restart()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, f, err := s.Usage(ctx, "carol")
		if err == nil && b == 137 && f == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage after the outage: %d bytes, %d files, %v; want 137, 4", b, f, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(log.String(), "recorded usage kept during the outage") {
		t.Errorf("log: %s", log.String())
	}

	// Close's last attempt: kept by a node (as if the database had just
	// failed), recorded when it closes.
	s2 := open()
	s2.queueUsage("carol", usageOp{id: newOpID(), bytes: 3, files: 1}, errors.New("test"))
	s2.Close()
	wantUsage(t, s, "carol", 140, 5)

	// And what it can't record, it logs as dropped.
	db.Stop()
	if err := q.Adjust(context.Background(), 5, 1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !strings.Contains(log.String(), "dropped usage it could not record") || !strings.Contains(log.String(), "bytes=5 files=1") {
		t.Errorf("log: %s", log.String())
	}
}

// loseAnswers makes the first n usage statements of kind ("reserve",
// "adjust") fail after they were applied, as if their answer had been lost
// (a timeout), and returns the count of statements of kind applied so far.
func loseAnswers(t *testing.T, kind string, n int) *atomic.Int32 {
	t.Helper()
	var applied atomic.Int32
	f := func(k string) error {
		if k != kind {
			return nil
		}
		if applied.Add(1) <= int32(n) {
			return fmt.Errorf("test: answer lost: %w", context.DeadlineExceeded)
		}
		return nil
	}
	usageFault.Store(&f)
	t.Cleanup(func() { usageFault.Store(nil) })
	return &applied
}

// poll calls cond until it is true, for 30 s at most.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 300 {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("still not %s after 30 s", what)
}

// countOps counts name's ledger rows of kind.
func countOps(t *testing.T, s *Store, name, kind string) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM pier_usage_ops WHERE name = $1 AND kind = $2`,
		name, kind).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestUsageDeltaAdd: adjustments never sent are merged; one that may have
// reached the database, and a check, keep their id and amounts, and what
// comes after goes into a new operation.
func TestUsageDeltaAdd(t *testing.T) {
	var d usageDelta
	a, b, c := newOpID(), newOpID(), newOpID()
	d.add(usageOp{id: a, bytes: 1, files: 1})
	d.add(usageOp{id: newOpID(), bytes: 2})
	if len(d.ops) != 1 || d.ops[0] != (usageOp{id: a, bytes: 3, files: 1}) {
		t.Fatalf("unsent merged: %+v", d.ops)
	}
	d.ops[0].sent = true // tried, answer lost
	d.add(usageOp{id: b, bytes: 4})
	d.add(usageOp{id: c, bytes: 5, files: 1, check: true, sent: true})
	d.add(usageOp{id: newOpID(), bytes: -1})
	want := []usageOp{{id: a, bytes: 3, files: 1, sent: true}, {id: b, bytes: 4}, {id: c, bytes: 5, files: 1, check: true, sent: true}}
	if len(d.ops) != 4 || d.ops[0] != want[0] || d.ops[1] != want[1] || d.ops[2] != want[2] || d.ops[3].bytes != -1 {
		t.Errorf("ops: %+v", d.ops)
	}
	if d.bytes != 6 || d.files != 1 { // the check is not counted
		t.Errorf("totals: %d bytes, %d files", d.bytes, d.files)
	}
	if id := newOpID().String(); len(id) != 36 || id[14] != '4' {
		t.Errorf("id %s", id)
	}
}

// TestQuotaLostAdjust: an Adjust applied whose answer was lost is tried
// again with the same id and counts once; an Adjust made meanwhile counts
// too.
func TestQuotaLostAdjust(t *testing.T) {
	s := openStore(t, pgtest.Start(t))
	s.breaker.pause = time.Millisecond
	ctx := t.Context()
	if err := s.Add(ctx, Account{Name: "erin", PasswordHash: hash(t, "pw"), Home: "/e"}); err != nil {
		t.Fatal(err)
	}
	q := quotaOf(t, s, "erin")
	applied := loseAnswers(t, "adjust", 1)
	if err := q.Adjust(ctx, 10, 1); err != nil {
		t.Fatalf("Adjust whose answer was lost: %v, want it kept", err)
	}
	wantUsage(t, s, "erin", 10, 1) // applied all the same
	if err := q.Adjust(ctx, 5, 0); err != nil {
		t.Fatal(err)
	}
	// The first applied, tried again (and not applied), the second.
	poll(t, "retried", func() bool { return applied.Load() >= 3 })
	wantUsage(t, s, "erin", 15, 1)
	if n := countOps(t, s, "erin", "adjust"); n != 2 {
		t.Errorf("ledger: %d adjustments, want 2", n)
	}
}

// TestQuotaLostReserve: a Reserve whose answer was lost, the server then
// settling as if nothing was reserved: if it was recorded it is undone, if
// it was not (over quota) nothing is; the count ends right.
func TestQuotaLostReserve(t *testing.T) {
	s := openStore(t, pgtest.Start(t))
	s.breaker.pause = time.Millisecond
	ctx := t.Context()
	if err := s.Add(ctx, Account{Name: "frank", PasswordHash: hash(t, "pw"), Home: "/f", QuotaBytes: 1000}); err != nil {
		t.Fatal(err)
	}
	q := quotaOf(t, s, "frank")
	loseAnswers(t, "reserve", 2)
	err := q.Reserve(ctx, 100, 1)
	if err == nil || errors.Is(err, pier.ErrQuotaExceeded) {
		t.Fatalf("Reserve whose answer was lost: %v", err)
	}
	wantUsage(t, s, "frank", 100, 1) // recorded, the server told it was not
	// The upload wrote 40 bytes, a new file: the server adjusts by all
	// of it.
	if err := q.Adjust(ctx, 40, 1); err != nil {
		t.Fatal(err)
	}
	poll(t, "compensated", func() bool {
		b, f, err := s.Usage(ctx, "frank")
		return err == nil && b == 40 && f == 1 && countOps(t, s, "frank", "adjust") == 2
	})

	// Over quota, answer lost: checked, voided, nothing undone.
	err = q.Reserve(ctx, 2000, 0)
	if err == nil || errors.Is(err, pier.ErrQuotaExceeded) {
		t.Fatalf("refused Reserve whose answer was lost: %v", err)
	}
	poll(t, "checked", func() bool { return countOps(t, s, "frank", "void") == 1 })
	wantUsage(t, s, "frank", 40, 1)
	if err := q.Reserve(ctx, 10, 0); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, s, "frank", 50, 1)
}

// TestQuotaCheckReserve: a check that voids an id before its Reserve ran
// makes the Reserve fail, reserving nothing; a check of a Reserve recorded
// says so; both say the same when asked again.
func TestQuotaCheckReserve(t *testing.T) {
	s := openStore(t, pgtest.Start(t))
	ctx := t.Context()
	if err := s.Add(ctx, Account{Name: "gina", PasswordHash: hash(t, "pw"), Home: "/g"}); err != nil {
		t.Fatal(err)
	}
	q := quotaOf(t, s, "gina").(*userQuota)
	late := newOpID()
	for range 2 {
		if recorded, err := s.checkReserve(ctx, "gina", late); err != nil || recorded {
			t.Fatalf("check before the Reserve: %v, %v", recorded, err)
		}
	}
	if err := q.reserve(ctx, late, 10, 1); err == nil || !isPgError(err) {
		t.Errorf("Reserve after its check: %v, want the database's error", err)
	}
	wantUsage(t, s, "gina", 0, 0)
	s.pendingMu.Lock()
	pending := len(s.pending)
	s.pendingMu.Unlock()
	if pending != 0 {
		t.Errorf("a Reserve the database refused was queued for a check")
	}

	done := newOpID()
	if err := q.reserve(ctx, done, 10, 1); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if recorded, err := s.checkReserve(ctx, "gina", done); err != nil || !recorded {
			t.Fatalf("check of a recorded Reserve: %v, %v", recorded, err)
		}
	}
	wantUsage(t, s, "gina", 10, 1)
}

// TestQuotaPruneOps: the ledger loses operations older than a day, at a
// Store's first Adjust and then every pruneOpsEvery.
func TestQuotaPruneOps(t *testing.T) {
	s := openStore(t, pgtest.Start(t))
	ctx := t.Context()
	if err := s.Add(ctx, Account{Name: "hank", PasswordHash: hash(t, "pw"), Home: "/h"}); err != nil {
		t.Fatal(err)
	}
	insertOld := func() {
		t.Helper()
		if _, err := s.pool.Exec(ctx, `INSERT INTO pier_usage_ops (id, name, kind, created_at)
			VALUES ($1::uuid, 'hank', 'adjust', now() - interval '25 hours')`, [16]byte(newOpID())); err != nil {
			t.Fatal(err)
		}
	}
	insertOld()
	q := quotaOf(t, s, "hank")
	if err := q.Adjust(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}
	var old, all int
	count := func() {
		t.Helper()
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE created_at < now() - interval '1 day'), count(*)
			FROM pier_usage_ops`).Scan(&old, &all); err != nil {
			t.Fatal(err)
		}
	}
	if count(); old != 0 || all != 1 {
		t.Errorf("after the first Adjust: %d old rows of %d, want 0 of 1", old, all)
	}
	insertOld()
	if err := q.Adjust(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}
	if count(); old != 1 || all != 3 {
		t.Errorf("within a minute: %d old rows of %d, want 1 of 3 (not pruned yet)", old, all)
	}
	if n, err := s.pruneOps(ctx, opsKeep); err != nil || n != 1 {
		t.Errorf("pruneOps: %d, %v", n, err)
	}
	if count(); old != 0 || all != 2 {
		t.Errorf("after pruneOps: %d old rows of %d", old, all)
	}
	wantUsage(t, s, "hank", 2, 2)
}

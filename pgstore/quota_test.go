package pgstore

import (
	"bytes"
	"context"
	"errors"
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
	s2.queueUsage("carol", usageDelta{3, 1}, errors.New("test"))
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

package pier

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// countingQuota is a Quota with room for max bytes that counts the calls.
type countingQuota struct {
	mu        sync.Mutex
	max, used int64
	calls     int
	down      bool
}

func (q *countingQuota) Reserve(_ context.Context, b, _ int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	if q.down {
		return errors.New("quota store unreachable")
	}
	if q.used+b > q.max {
		return ErrQuotaExceeded
	}
	q.used += b
	return nil
}

func (q *countingQuota) Adjust(_ context.Context, b, _ int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.used += b
	return nil
}

// TestQuotaSmallWritesBounded checks that an upload written a byte at a
// time (TLS records and TYPE A can make the server's writes that small)
// asks the quota a bounded number of times near the limit, and still
// fills it to the byte.
func TestQuotaSmallWritesBounded(t *testing.T) {
	for _, room := range []int64{1, 1000, 50_000, 3<<20 + 7} {
		q := &countingQuota{max: room}
		s := &session{srv: &Server{}}
		s.log.Store(slog.New(slog.NewTextHandler(io.Discard, nil)))
		u := &quotaUse{q: q, sess: s, name: "f", step: quotaStepMin}
		w := &quotaWriter{w: io.Discard, u: u, ctx: context.Background()}
		var written int64
		for range room + 10 {
			if _, err := w.Write([]byte{'x'}); err != nil {
				break
			}
			written++
		}
		if written != room {
			t.Errorf("room %d: %d bytes written before the 552", room, written)
		}
		if q.calls > 64 {
			t.Errorf("room %d: %d calls to Reserve for %d one-byte writes", room, q.calls, written+1)
		}
	}
}

// TestQuotaCheckedAgainAfterOutage checks that an upload that went on
// unchecked while the quota could not be asked is checked again, for all
// it wrote meanwhile, once the quota answers.
func TestQuotaCheckedAgainAfterOutage(t *testing.T) {
	q := &countingQuota{max: 5, down: true}
	s := &session{srv: &Server{}}
	s.log.Store(slog.New(slog.NewTextHandler(io.Discard, nil)))
	u := &quotaUse{q: q, sess: s, name: "f", step: quotaStepMin}
	w := &quotaWriter{w: io.Discard, u: u, ctx: context.Background()}
	for range 10 {
		if _, err := w.Write([]byte{'x'}); err != nil {
			t.Fatalf("a write while the quota is down: %v", err)
		}
	}
	if q.calls != 1 {
		t.Errorf("%d calls while the quota was down, want 1 (then none for a while)", q.calls)
	}
	q.down = false
	u.uncheckedAt = time.Now().Add(-2 * quotaRetry)
	_, err := w.Write([]byte{'x'})
	var re *ReplyError
	if !errors.As(err, &re) || re.Code != 552 {
		t.Errorf("the first write once the quota answers: %v, want 552 (11 bytes written, 5 allowed)", err)
	}
}

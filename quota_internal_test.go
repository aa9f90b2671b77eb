package pier

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
)

// countingQuota is a Quota with room for max bytes that counts the calls.
type countingQuota struct {
	mu        sync.Mutex
	max, used int64
	calls     int
}

func (q *countingQuota) Reserve(_ context.Context, b, _ int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
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

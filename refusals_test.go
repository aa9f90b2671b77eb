package pier_test

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
)

// refuseN sends n bad commands, one at a time, each refused with a 4xx or
// 5xx. One at a time, so the server has read every line when it closes
// the connection (no reset, and the 421 arrives).
func refuseN(t *testing.T, c *ftptest.Conn, n int) {
	t.Helper()
	for i := range n {
		line := badCommands[i%len(badCommands)]
		c.Send(t, line)
		if code, text, err := c.ReadReply(); err != nil || code < 400 || code == 421 {
			t.Fatalf("bad command %d (%q): got %d %q %v, want a 4xx or 5xx", i+1, line, code, text, err)
		}
	}
}

// expectClosedForErrors sends a command after the last refusal allowed:
// it gets the 421 of too many refusals, and the connection ends.
func expectClosedForErrors(t *testing.T, c *ftptest.Conn) {
	t.Helper()
	c.Send(t, "NOOP")
	if code, text, err := c.ReadReply(); err != nil || code != 421 || text != "Too many errors; closing the connection." {
		t.Fatalf("after the last refusal: %d %q %v, want 421 Too many errors", code, text, err)
	}
	if code, text, err := c.ReadReply(); err == nil {
		t.Fatalf("the connection is still open: %d %q", code, text)
	}
}

// TestRefusalsClose: a session whose commands are refused CloseAfterErrors
// times in a row gets 421 and is closed, logged once, and leaks nothing;
// the server goes on serving.
func TestRefusalsClose(t *testing.T) {
	for _, tc := range []struct {
		name       string
		closeAfter int
		refusals   int
	}{
		{"default", 0, pier.DefaultCloseAfterErrors},
		{"five", 5, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			srv := newServer(t, func(s *pier.Server) {
				s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
				s.SlowAfterErrors = -1 // TestRefusalsSlowDown; here only the close
				s.CloseAfterErrors = tc.closeAfter
			})
			before := countResources(t)
			c := login(t, srv)
			refuseN(t, c, tc.refusals)
			expectClosedForErrors(t, c)
			c.Close()
			expectNoLeak(t, before)
			if n := strings.Count(logs.String(), "too many refused commands in a row"); n != 1 {
				t.Errorf("logged %d times, want once:\n%s", n, logs.String())
			}
			serverStillServes(t, srv)
		})
	}
}

// TestRefusalsReset: a positive reply starts the count again, so a client
// whose commands mostly fail is never closed, nor slowed, as long as some
// succeed; with the limits negative, nothing is counted at all.
func TestRefusalsReset(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		slowAfter, closeAft  int
		refusals, successful int // refusals before each success
	}{
		{"reset by success", 2, 4, 3, 1},
		{"off", -1, -1, 200, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var delays []time.Duration
			srv := quietServer(t, func(s *pier.Server) {
				s.SlowAfterErrors, s.CloseAfterErrors = tc.slowAfter, tc.closeAft
				pier.SetRefusalSleep(s, func(d time.Duration) {
					mu.Lock()
					defer mu.Unlock()
					delays = append(delays, d)
				})
			})
			c := login(t, srv)
			for range 20 {
				refuseN(t, c, tc.refusals)
				for range tc.successful {
					c.Expect(t, "NOOP", 200)
				}
			}
			c.Expect(t, "PWD", 257)
			mu.Lock()
			defer mu.Unlock()
			want := []time.Duration(nil)
			if tc.slowAfter > 0 {
				// Each third refusal in a row is one past SlowAfterErrors.
				want = slices.Repeat([]time.Duration{10 * time.Millisecond}, 20)
			}
			if !slices.Equal(delays, want) {
				t.Errorf("delays %v, want %v", delays, want)
			}
		})
	}
}

// TestRefusalsSlowDown: past SlowAfterErrors refusals in a row, each
// further one makes the session wait before it runs the next command,
// longer each time; a success ends it.
func TestRefusalsSlowDown(t *testing.T) {
	var mu sync.Mutex
	var delays []time.Duration
	srv := quietServer(t, func(s *pier.Server) {
		s.SlowAfterErrors, s.CloseAfterErrors = 3, 12
		pier.SetRefusalSleep(s, func(d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			delays = append(delays, d)
		})
	})
	c := login(t, srv)
	refuseN(t, c, 11)
	c.Expect(t, "NOOP", 200) // waits 1 s (the test's sleep does not)
	refuseN(t, c, 3)
	c.Expect(t, "NOOP", 200)
	mu.Lock()
	got := slices.Clone(delays)
	mu.Unlock()
	ms := time.Millisecond
	want := []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("delays %v, want %v", got, want)
	}
	refuseN(t, c, 12)
	expectClosedForErrors(t, c)
}

// TestRefusalDelay: the delay after the refusal that makes n in a row.
func TestRefusalDelay(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		n, slowAfter int64
		want         time.Duration
	}{
		{1, 50, 0},
		{50, 50, 0},
		{51, 50, 10 * ms},
		{52, 50, 20 * ms},
		{57, 50, 640 * ms},
		{58, 50, time.Second},
		{999, 50, time.Second},
		{1 << 40, 50, time.Second},
		{1000, -1, 0},
	} {
		if got := pier.RefusalDelay(tc.n, tc.slowAfter); got != tc.want {
			t.Errorf("RefusalDelay(%d, %d) = %v, want %v", tc.n, tc.slowAfter, got, tc.want)
		}
	}
}

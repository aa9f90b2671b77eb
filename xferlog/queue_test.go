package xferlog_test

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/xferlog"
)

// blockingWriter is a disk that hangs: each Write says it started (on
// started) and waits until release is closed.
type blockingWriter struct {
	started chan struct{}
	release chan struct{}
	buf     lockedBuffer
}

func newBlockingWriter() *blockingWriter {
	return &blockingWriter{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	b.started <- struct{}{}
	<-b.release
	return b.buf.Write(p)
}

// waitStarted waits until the Writer's goroutine is inside a Write.
func (b *blockingWriter) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-b.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the Writer did not start writing")
	}
}

// clock is a settable Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testLogger returns a logger writing to buf without times, and a function
// that returns its lines.
func testLogger() (*slog.Logger, func() []string) {
	var buf lockedBuffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}})
	return slog.New(h), func() []string {
		s := strings.TrimSpace(buf.String())
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
}

// TestBlockedDiskDoesNotBlockTransfers: while the log's writer hangs, FTP
// transfers still complete; what doesn't fit the queue is dropped and
// counted; the queued lines are written once the writer is released.
func TestBlockedDiskDoesNotBlockTransfers(t *testing.T) {
	disk := newBlockingWriter()
	log, logged := testLogger()
	w := xferlog.New(disk, &xferlog.Options{QueueSize: 1, Logger: log, Now: func() time.Time { return end }})
	released := false
	defer func() {
		if !released {
			close(disk.release)
		}
		w.Close()
	}()
	srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) { w.Install(s.Server) }})
	c := srv.Dial(t)
	c.Login(t, ftptest.User, ftptest.Password)
	c.Expect(t, "TYPE I", 200)

	// Store and Retrieve expect the 226: each transfer completes while
	// the writer hangs on the first line.
	c.Store(t, "STOR a.bin", []byte("aaa"))
	disk.waitStarted(t) // the writer holds line 1; the queue is empty
	c.Store(t, "STOR b.bin", []byte("bb"))
	c.Expect(t, "PWD", 257) // PWD waits for the transfer, file hooks included (NOOP does not)
	if got := w.Dropped(); got != 0 {
		t.Fatalf("dropped %d lines with one in the writer and one queued, want 0", got)
	}
	c.Retrieve(t, "RETR a.bin")
	c.Retrieve(t, "RETR b.bin")
	c.Expect(t, "PWD", 257)
	if got := w.Dropped(); got != 2 {
		t.Errorf("dropped %d lines, want 2 (the downloads)", got)
	}
	if got := logged(); len(got) != 1 || !strings.Contains(got[0], "level=WARN") || !strings.Contains(got[0], " dropped=1 dropped_total=1") {
		t.Errorf("log %q, want one warning with dropped=1 (the next one is held back for a minute)", got)
	}

	close(disk.release)
	released = true
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "Sun Dec  6 18:00:00 2026 1 127.0.0.1 3 /a.bin b _ i r user ftp 0 * c\n" +
		"Sun Dec  6 18:00:00 2026 1 127.0.0.1 2 /b.bin b _ i r user ftp 0 * c\n"
	if got := disk.buf.String(); got != want {
		t.Errorf("log file:\n%s\nwant:\n%s", got, want)
	}
	// Close reports what the rate limit held back.
	if got := logged(); len(got) != 2 || !strings.Contains(got[1], " dropped=1 dropped_total=2") {
		t.Errorf("log %q, want a second warning at Close with dropped=1 dropped_total=2", got)
	}
}

// TestDropWarningRateLimit: at most one warning a minute, each with the
// lines dropped since the last one.
func TestDropWarningRateLimit(t *testing.T) {
	disk := newBlockingWriter()
	log, logged := testLogger()
	clk := &clock{now: end}
	w := xferlog.New(disk, &xferlog.Options{QueueSize: 1, Logger: log, Now: clk.Now})
	e := xferlog.Entry{Time: end, Path: "/f", Complete: true}
	if !w.Queue(e) {
		t.Fatal("the first line was dropped")
	}
	disk.waitStarted(t)
	if !w.Queue(e) {
		t.Fatal("the second line was dropped, with the queue empty")
	}
	steps := []struct {
		advance time.Duration
		want    string // the warning's counts, "" for none
	}{
		{0, "dropped=1 dropped_total=1"},
		{30 * time.Second, ""},
		{29 * time.Second, ""},
		{time.Second, "dropped=3 dropped_total=4"}, // a minute after the first
		{time.Second, ""},
		{2 * time.Minute, "dropped=2 dropped_total=6"},
	}
	for i, s := range steps {
		clk.Add(s.advance)
		before := len(logged())
		if w.Queue(e) {
			t.Fatalf("step %d: a line was queued into a full queue", i)
		}
		got := logged()[before:]
		switch {
		case s.want == "" && len(got) != 0:
			t.Errorf("step %d: logged %q, want nothing", i, got)
		case s.want != "" && (len(got) != 1 || !strings.HasSuffix(got[0], s.want)):
			t.Errorf("step %d: logged %q, want a warning ending %q", i, got, s.want)
		}
	}
	close(disk.release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(logged()); n != 3 {
		t.Errorf("%d warnings, want 3 (nothing held back at Close)", n)
	}
	if got := strings.Count(disk.buf.String(), "\n"); got != 2 {
		t.Errorf("%d lines written, want 2", got)
	}
}

// TestCloseTimeout: Close gives up on a write that hangs.
func TestCloseTimeout(t *testing.T) {
	disk := newBlockingWriter()
	w := xferlog.New(disk, &xferlog.Options{FlushTimeout: time.Millisecond})
	w.Queue(xferlog.Entry{Time: end, Path: "/f", Complete: true})
	disk.waitStarted(t)
	if err := w.Close(); !errors.Is(err, xferlog.ErrFlushTimeout) {
		t.Errorf("Close with a hung write: %v, want ErrFlushTimeout", err)
	}
	close(disk.release)
	// The goroutine ends once the write returns.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if w.Close() == nil {
			return
		}
	}
	t.Error("Close still fails after the write returned")
}

// failingWriter is a full disk.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestWriteErrors: a failing disk is logged once a minute, with a count,
// and what was held back is logged at Close.
func TestWriteErrors(t *testing.T) {
	log, logged := testLogger()
	w := xferlog.New(failingWriter{}, &xferlog.Options{Logger: log, Now: func() time.Time { return end }})
	for range 3 {
		w.Queue(xferlog.Entry{Time: end, Path: "/f", Complete: true})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := logged()
	if len(got) != 2 || !strings.Contains(got[0], "level=ERROR") || !strings.Contains(got[0], "lines=1 ") ||
		!strings.Contains(got[1], "lines=2 ") || !strings.Contains(got[1], "no space left on device") {
		t.Errorf("log %q, want an error for the first line, then one for the 2 others at Close", got)
	}
}

package xferlog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierftp/pier"
)

// DefaultQueueSize is how many lines may wait for the disk when
// Options.QueueSize is zero: a few seconds of a busy server's transfers.
const DefaultQueueSize = 1024

// DefaultFlushTimeout is how long Close waits for the queued lines when
// Options.FlushTimeout is zero.
const DefaultFlushTimeout = 5 * time.Second

// warnEvery is the least time between two warnings of one kind: a disk
// that stays slow or full must not fill the server's log instead.
const warnEvery = time.Minute

// Options configure a Writer. The zero value (or a nil *Options) is
// ready to use.
type Options struct {
	// QueueSize is how many lines may wait to be written. A line that
	// finds the queue full is dropped, not waited for, and counted
	// (Writer.Dropped). If zero, DefaultQueueSize.
	QueueSize int
	// FlushTimeout bounds how long Close waits for the queued lines to
	// be written. If zero, DefaultFlushTimeout.
	FlushTimeout time.Duration
	// Logger takes the warnings: lines dropped because the queue was
	// full, and write errors, each at most once a minute with a count.
	// If nil, slog.Default().
	Logger *slog.Logger
	// Now returns the time written on a line, and times the warnings. If
	// nil, time.Now.
	Now func() time.Time
}

// Writer writes xferlog lines from its own goroutine, so that a transfer
// never waits on the disk: Queue and the file hooks only format the line
// and queue it. Each line is one Write: lines of concurrent transfers
// never interleave, and a file opened with Open (O_APPEND) can be shared
// with other writers. Its methods are safe for concurrent use. A Writer
// must be closed, to write the queued lines and end its goroutine.
type Writer struct {
	lines        chan []byte     // the queue, drained by run
	reopens      chan chan error // Reopen's requests, with the reply channel
	closing      chan struct{}   // closed by Close: run drains and returns
	done         chan struct{}   // closed by run when it has returned
	closeOnce    sync.Once
	closeErr     error // the file's Close error; read after done
	flushTimeout time.Duration
	log          *slog.Logger
	now          func() time.Time
	path         string // the file Open opened, for Reopen; "" for New

	dropped    atomic.Int64
	dropWarn   warning
	failedWarn warning

	// Owned by run.
	out      io.Writer
	file     *os.File // out when opened by Open, nil otherwise
	writeErr error    // the last write error
}

// New returns a Writer that writes its lines to out, and starts its
// goroutine. out is written only from that goroutine; it may block
// without blocking a transfer. opts may be nil.
func New(out io.Writer, opts *Options) *Writer {
	w := newWriter(opts)
	w.out = out
	go w.run()
	return w
}

// Open returns a Writer that appends its lines to the file at path,
// created with mode 0640 if it doesn't exist, and starts its goroutine.
// opts may be nil.
func Open(path string, opts *Options) (*Writer, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	w := newWriter(opts)
	w.out, w.file, w.path = f, f, path
	go w.run()
	return w, nil
}

func newWriter(opts *Options) *Writer {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.FlushTimeout <= 0 {
		o.FlushTimeout = DefaultFlushTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Writer{
		lines:        make(chan []byte, o.QueueSize),
		reopens:      make(chan chan error),
		closing:      make(chan struct{}),
		done:         make(chan struct{}),
		flushTimeout: o.FlushTimeout,
		log:          o.Logger,
		now:          o.Now,
	}
}

func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
}

var (
	// ErrNotFile is Reopen's error for a Writer made by New.
	ErrNotFile = errors.New("xferlog: not a file opened by Open")
	// ErrClosed is Reopen's error once Close was called.
	ErrClosed = errors.New("xferlog: closed")
	// ErrFlushTimeout is Close's error when the queued lines were not
	// all written within Options.FlushTimeout.
	ErrFlushTimeout = errors.New("xferlog: queued lines not written in time")
)

// Queue formats e's line and queues it for the Writer's goroutine, without
// waiting. It reports false if the line was dropped: the queue was full
// (the line is counted in Dropped) or the Writer is closed.
func (w *Writer) Queue(e Entry) bool {
	select {
	case <-w.closing:
		return false
	default:
	}
	select {
	case w.lines <- AppendLine(make([]byte, 0, 128), e):
		return true
	default:
	}
	w.dropped.Add(1)
	if n := w.dropWarn.note(w.now()); n > 0 {
		w.warnDropped(n)
	}
	return false
}

// warnDropped logs that n lines were dropped since the last warning.
func (w *Writer) warnDropped(n int64) {
	w.log.Warn("xferlog: the transfer log is not keeping up (slow disk?): lines dropped", "dropped", n, "dropped_total", w.dropped.Load())
}

// warnFailed logs that n lines could not be written since the last
// warning, the last for err.
func (w *Writer) warnFailed(n int64, err error) {
	w.log.Error("xferlog: can't write the transfer log", "lines", n, "file", w.path, "err", err)
}

// Dropped returns how many lines were dropped because the queue was full.
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

// Reopen opens the file again by its path and closes the old one, on the
// Writer's goroutine: after logrotate renamed the file, the next lines go
// to a new one. The lines queued before Reopen go to the old file, those
// queued after it returns to the new one; none is lost. Reopen waits for
// the line being written, if any. If the file can't be opened, the
// Writer keeps writing to the old one and Reopen returns the error.
func (w *Writer) Reopen() error {
	if w.path == "" {
		return ErrNotFile
	}
	reply := make(chan error, 1)
	select {
	case w.reopens <- reply:
	case <-w.closing:
		return ErrClosed
	}
	select {
	case err := <-reply:
		return err
	case <-w.closing: // a write hangs, and Close gave up on it
		return ErrClosed
	}
}

// Close writes the queued lines, waiting at most Options.FlushTimeout,
// then closes the file opened by Open (not the io.Writer given to New).
// Later lines are dropped. If a write still hangs after the timeout,
// Close returns an error matching ErrFlushTimeout, and the file is closed
// when the write returns. Close the Writer after the server's Shutdown:
// the lines of the last transfers are written.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() { close(w.closing) })
	t := time.NewTimer(w.flushTimeout)
	defer t.Stop()
	select {
	case <-w.done:
		return w.closeErr
	case <-t.C:
		return fmt.Errorf("%w: %d lines still queued after %v", ErrFlushTimeout, len(w.lines), w.flushTimeout)
	}
}

// run is the Writer's goroutine: the only one that writes to out.
func (w *Writer) run() {
	defer close(w.done)
	for {
		select {
		case b := <-w.lines:
			w.write(b)
		case reply := <-w.reopens:
			// The lines queued before Reopen belong to the old file.
			for range len(w.lines) {
				w.write(<-w.lines)
			}
			reply <- w.reopen()
		case <-w.closing:
			w.drain()
			// What the rate limits held back since their last warning.
			if n := w.dropWarn.pending(); n > 0 {
				w.warnDropped(n)
			}
			if n := w.failedWarn.pending(); n > 0 {
				w.warnFailed(n, w.writeErr)
			}
			if w.file != nil {
				w.closeErr = w.file.Close()
			}
			w.out, w.file = io.Discard, nil
			return
		}
	}
}

// drain writes the queued lines, until the queue is empty: Queue takes no
// more once closing is closed.
func (w *Writer) drain() {
	for {
		select {
		case b := <-w.lines:
			w.write(b)
		default:
			return
		}
	}
}

func (w *Writer) write(b []byte) {
	_, err := w.out.Write(b)
	if err == nil {
		return
	}
	w.writeErr = err
	if n := w.failedWarn.note(w.now()); n > 0 {
		w.warnFailed(n, err)
	}
}

func (w *Writer) reopen() error {
	f, err := openFile(w.path)
	if err != nil {
		return err
	}
	old := w.file
	w.out, w.file = f, f
	return old.Close()
}

// Log queues the line of a transfer; it has the type of the file hooks of
// pier.Hooks, and never waits on the disk.
func (w *Writer) Log(s *pier.Session, t pier.TransferInfo) {
	w.Queue(NewEntry(s, t, w.now()))
}

// Install makes srv log every file transfer, complete or not, to w. Call
// it before the server starts. The file hooks srv has keep running, after
// the line is queued.
func (w *Writer) Install(srv *pier.Server) {
	h := &srv.Hooks
	h.FileSent = w.chain(h.FileSent)
	h.FileReceived = w.chain(h.FileReceived)
	h.IncompleteFileSent = w.chain(h.IncompleteFileSent)
	h.IncompleteFileReceived = w.chain(h.IncompleteFileReceived)
}

func (w *Writer) chain(next func(*pier.Session, pier.TransferInfo)) func(*pier.Session, pier.TransferInfo) {
	return func(s *pier.Session, t pier.TransferInfo) {
		w.Log(s, t)
		if next != nil {
			next(s, t)
		}
	}
}

// warning is a warning logged at most once every warnEvery, with how
// many times its event happened since it was last logged.
type warning struct {
	mu     sync.Mutex
	logged time.Time // when it was last logged; zero: never
	count  int64     // events not logged yet
}

// note counts an event at now. It returns the count to log, or 0 when a
// warning was logged less than warnEvery ago.
func (w *warning) note(now time.Time) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.count++
	if !w.logged.IsZero() && now.Sub(w.logged) < warnEvery {
		return 0
	}
	n := w.count
	w.logged, w.count = now, 0
	return n
}

// pending returns the count of events not logged yet, and clears it.
func (w *warning) pending() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.count
	w.count = 0
	return n
}

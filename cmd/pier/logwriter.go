package main

import (
	"io"
	"sync"
	"time"
)

// logFlushDelay is the longest a log line waits before it is written.
const logFlushDelay = 5 * time.Millisecond

// logMaxPending is how many bytes of lines may wait; a line that finds more
// has its logger write them all at once, so a log that can't keep up slows
// the loggers down instead of growing.
const logMaxPending = 256 << 10

// logWriter is the log's standard error, written in batches: each write
// system call costs more than formatting a line (on the machine of
// docs/benchmarks.md, the log took 13 % of a login storm's profile, its
// writes most of it), so the lines logged within logFlushDelay of
// each other go out in one write, in the order they were logged. A line is
// lost only if the process is killed in the few milliseconds before its
// write; Close writes what waits, and run closes it before pier exits.
type logWriter struct {
	w     io.Writer
	delay time.Duration

	flushMu sync.Mutex // one flush at a time, so batches keep their order
	spare   []byte     // the buffer of the last flush, under flushMu

	mu     sync.Mutex
	buf    []byte // lines waiting, whole
	armed  bool   // a flush is due
	timer  *time.Timer
	closed bool // writes go straight through
}

func newLogWriter(w io.Writer, delay time.Duration) *logWriter {
	l := &logWriter{w: w, delay: delay}
	l.timer = time.AfterFunc(time.Hour, func() { l.flush() })
	l.timer.Stop()
	return l
}

// Write queues p (one or more whole lines, as slog's handlers write them)
// and returns; the write error of a later flush is not reported, as slog
// has no one to report it to either.
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	for !l.closed && len(l.buf) > 0 && len(l.buf)+len(p) > logMaxPending {
		l.mu.Unlock()
		l.flush()
		l.mu.Lock()
	}
	if l.closed {
		l.mu.Unlock()
		// Close holds flushMu until it has written what waited.
		l.flushMu.Lock()
		defer l.flushMu.Unlock()
		return l.w.Write(p)
	}
	l.buf = append(l.buf, p...)
	if !l.armed {
		l.armed = true
		l.timer.Reset(l.delay)
	}
	l.mu.Unlock()
	return len(p), nil
}

// flush writes the lines that wait, in one write.
func (l *logWriter) flush() {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	b := l.buf
	l.buf, l.spare = l.spare[:0], nil
	l.armed = false
	l.mu.Unlock()
	if len(b) > 0 {
		_, _ = l.w.Write(b) // nowhere to report an error
	}
	if cap(b) <= logMaxPending*2 {
		l.spare = b[:0]
	}
}

// Flush writes the lines that wait now: pier calls it once its start-up
// lines are logged, before it tells systemd it is ready.
func (l *logWriter) Flush() { l.flush() }

// Close writes the lines that wait; later writes go straight to the
// underlying writer, after them.
func (l *logWriter) Close() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	l.closed = true
	l.timer.Stop()
	b := l.buf
	l.buf, l.armed = nil, false
	l.mu.Unlock()
	if len(b) > 0 {
		_, _ = l.w.Write(b)
	}
	return nil
}

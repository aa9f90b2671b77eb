package pier

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// A data transfer runs in its own goroutine, so that the control
// connection still takes ABOR, STAT, NOOP and QUIT meanwhile. Its life:
// 150, the data connection (and its TLS), the data moved (copy.go), the
// file ended as the outcome says (Close or Abort), the final reply, the
// file hooks. What it moves is data (a transferJob), not code.

// xferKind is what a transfer moves.
type xferKind uint8

const (
	xferDownload xferKind = iota // RETR: file to client
	xferUpload                   // STOR, APPE, STOU: client to file
	xferListing                  // LIST, NLST, MLSD: a listing to client
)

// transferJob is what a transfer command hands to startTransfer.
type transferJob struct {
	kind        xferKind
	cmd, path   string // RETR...; the virtual path
	preliminary string // text of the 150 reply
	ascii       bool   // TYPE A: line endings converted
	// file is the open file of a download, or of an upload that could be
	// opened before the data flowed (one that truncates nothing: after
	// REST, STOU); else the upload is opened from open at its first byte.
	file    File
	open    *uploadOpen
	list    *listJob
	unlock  func()   // releases the upload's name (uploadLocks), after the file has ended
	protect *dataTLS // PROT P: how the data connection is protected
	// offset is where a file transfer starts (REST); size is what it
	// moves when complete, 0 if unknown (for Server.Sessions).
	offset, size int64
	// quota is the upload's account with the user's Quota; nil if none.
	quota *quotaUse
}

// uploadOpen says how to open an upload once its first byte arrives.
type uploadOpen struct {
	fsys FileSystem
	name string
	flag int
}

// listJob is what a listing sends: the entries of dir, or the one entry
// info of a file (named name in folder vdir).
type listJob struct {
	lister     *lister
	dir        DirReader
	vdir, name string
	info       fs.FileInfo
}

// transfer is a running transfer. The control goroutine and the transfer
// goroutine share only this struct.
type transfer struct {
	cmd    string // RETR, STOR, APPE, STOU, LIST, NLST, MLSD
	path   string // virtual path
	upload bool
	isFile bool  // a file transfer, not a listing
	offset int64 // where in the file it started (REST)
	size   int64 // bytes it moves when complete, -1 if unknown
	start  time.Time
	bytes  atomic.Int64
	done   chan struct{} // closed when the transfer has ended and replied
	ctx    context.Context
	cancel context.CancelCauseFunc // ends ctx: abort, or the transfer's end

	connected chan struct{} // closed once the data connection is open

	// replied: its final reply is being sent, so STAT and Sessions show
	// it no more (runningTransfer), though the session still waits for
	// its hooks; counted: the server's totals hold it (countEnded). Both
	// guarded by the session's xferMu.
	replied, counted bool

	// drainUntil, while an aborted upload reads what the client sent
	// before ABOR (see abortIf), is the end of that read (Unix
	// nanoseconds); zero otherwise.
	drainUntil atomic.Int64

	mu       sync.Mutex // guards the fields below
	finished bool       // the transfer goroutine is sending its final reply
	cause    error      // why it was aborted (ErrTransferAborted...), nil if not
	stop     func() error
	shorten  func(time.Time) error
}

// abortDrain is how long an upload stopped by ABOR goes on reading what the
// client had sent: the back-end then gets all of it, whatever the timing
// of ABOR against the data, not a part that depends on when the server
// read it.
const abortDrain = 500 * time.Millisecond

// setWaiter records how to interrupt the current wait (accept on the
// passive listener, a dial, a TLS handshake, the data moving): stop ends
// it at once; shorten, if not nil, moves its deadline, for the drain of an
// upload stopped by ABOR (see abortIf). It returns false if the transfer
// was aborted already and must stop.
func (t *transfer) setWaiter(stop func() error, shorten func(time.Time) error) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cause != nil {
		if u := t.drainUntil.Load(); u != 0 && shorten != nil {
			shorten(time.Unix(0, u))
			t.stop, t.shorten = stop, shorten
			return true
		}
		stop()
		return false
	}
	t.stop, t.shorten = stop, shorten
	return true
}

// abort interrupts the transfer for cause. It returns false if the
// transfer had already finished on its own.
func (t *transfer) abort(cause error) bool { return t.abortIf(cause, false) }

// abortUnconnected aborts the transfer if it has no data connection yet;
// it returns false if it has one, or has finished. The check and the abort
// are one step: a connection that opens meanwhile is never cut.
func (t *transfer) abortUnconnected(cause error) bool { return t.abortIf(cause, true) }

func (t *transfer) abortIf(cause error, unconnected bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished {
		return false
	}
	if unconnected {
		select {
		case <-t.connected:
			return false
		default:
		}
	}
	if t.cause != nil {
		return true // aborted already; the first cause stands
	}
	t.cause = cause
	if t.upload && cause == ErrTransferAborted && (t.shorten != nil || t.stop == nil) {
		// ABOR of an upload: what the client sent before it still
		// reaches the file, whatever the timing. The wait goes on for
		// abortDrain at most: a data connection the client opened
		// (waiting in the accept queue) is still taken, and what it
		// sent is read (the readers stop at the deadline, see limit).
		// An active connection not dialled yet carries nothing: it
		// has no shorten, and stops at once.
		until := time.Now().Add(abortDrain)
		t.drainUntil.Store(until.UnixNano())
		if t.shorten != nil {
			t.shorten(until)
		}
		// Then the transfer's context ends, so that a back-end call
		// that waits on it (an open, a write) returns.
		time.AfterFunc(abortDrain, func() { t.cancel(cause) })
		return true
	}
	t.cancel(cause)
	if t.stop != nil {
		t.stop()
	}
	return true
}

// aborted returns why the transfer was aborted, or nil.
func (t *transfer) aborted() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cause
}

// draining reports whether an aborted upload is reading its last bytes.
func (t *transfer) draining() bool { return t.drainUntil.Load() != 0 }

// limit caps a read deadline at the end of an aborted upload's drain.
func (t *transfer) limit(d time.Time) time.Time {
	if u := t.drainUntil.Load(); u != 0 {
		if until := time.Unix(0, u); d.IsZero() || d.After(until) {
			return until
		}
	}
	return d
}

func (s *session) currentTransfer() *transfer {
	s.xferMu.Lock()
	defer s.xferMu.Unlock()
	return s.xfer
}

func (s *session) transferRunning() bool { return s.currentTransfer() != nil }

// runningTransfer is the session's transfer, if one runs that has not
// begun its final reply: what STAT and Sessions show.
func (s *session) runningTransfer() *transfer {
	s.xferMu.Lock()
	defer s.xferMu.Unlock()
	if s.xfer != nil && s.xfer.replied {
		return nil
	}
	return s.xfer
}

// waitTransfer blocks until the running transfer, if any, has ended.
func (s *session) waitTransfer() {
	if t := s.currentTransfer(); t != nil {
		<-t.done
	}
}

// abortTransfer stops the running transfer, if any, for cause and waits
// for it (at most taskGrace: a back-end that ignores its context may hold
// it longer). It returns the transfer if it still runs then, else nil.
func (s *session) abortTransfer(cause error) *transfer {
	if t := s.currentTransfer(); t != nil {
		t.abort(cause)
		timer := time.NewTimer(taskGrace)
		defer timer.Stop()
		select {
		case <-t.done:
		case <-timer.C:
			s.logger().Error("a transfer did not end after it was aborted: its file system ignores its context")
			return t
		}
	}
	return nil
}

// cmdABOR: RFC 959 §4.1.3. With a transfer running: 426 for the transfer,
// then 226 for the ABOR. Without one: 225. A command still running (its
// file system slow to answer) is cancelled first and replies for itself;
// but one whose transfer runs already (its middleware acts after next)
// shares the transfer's context, and ends with the transfer: ABOR is then
// the transfer's.
func (s *session) cmdABOR(*Request) error {
	t := s.currentTransfer()
	if t == nil && s.taskRunning() && s.task.name == "PASS" {
		// A password check is not aborted: it would answer a guess
		// without counting it. ABOR waits for its reply.
		if !s.waitTaskFor(taskGrace) {
			s.reply(421, "The authentication service does not answer; closing the connection.")
			s.quit.Store(true)
			return nil
		}
	}
	if t == nil && s.taskRunning() {
		if !s.cancelTask(ErrTransferAborted) {
			s.reply(421, "The file system does not answer; closing the connection.")
			s.quit.Store(true)
			return nil
		}
		t = s.currentTransfer() // one it started as it was cancelled
	}
	if t == nil {
		if s.haveDataSetup() {
			s.closeDataSetup()
			s.reply(225, "ABOR command successful; data channel closed.")
			return nil
		}
		s.reply(225, "No transfer to abort.")
		return nil
	}
	aborted := t.abort(ErrTransferAborted)
	if !waitDone(t.done, abortDrain+taskGrace) {
		// Its file system ignores the context that ended with the
		// drain: the session can't go on in order.
		s.logger().Error("a transfer did not end after ABOR: its file system ignores its context")
		s.reply(421, "The file system does not answer; closing the connection.")
		s.quit.Store(true)
		return nil
	}
	if s.taskRunning() {
		s.cancelTask(ErrTransferAborted) // the transfer's command, ending with it
	}
	if !aborted {
		s.reply(225, "No transfer to abort.")
		return nil
	}
	s.reply(426, "Transfer aborted via ABOR.")
	s.reply(226, "ABOR command successful.")
	return nil
}

// startTransfer sends 150 and runs the job in its own goroutine, bound to
// the command's context r (which it takes over: ABOR and the session's end
// cancel it). The caller has checked haveDataSetup.
func (s *session) startTransfer(r *Request, job *transferJob) {
	ln, active := s.pasv, s.active
	s.pasv, s.active = nil, netip.AddrPort{}
	job.protect = s.dataTLS()
	t := &transfer{cmd: job.cmd, path: job.path, upload: job.kind == xferUpload, start: time.Now(),
		isFile: job.kind != xferListing, offset: job.offset, size: -1,
		done: make(chan struct{}), connected: make(chan struct{})}
	if job.size > 0 && !job.ascii {
		t.size = job.size // TYPE A changes the count on the wire
	}
	if r.cancel != nil {
		t.ctx, t.cancel = r.ctx, r.cancel
		r.adopted = true
	} else {
		t.ctx, t.cancel = context.WithCancelCause(s.ctx)
	}
	s.xferMu.Lock()
	s.xfer = t
	s.xferMu.Unlock()
	s.reply(150, job.preliminary)
	go s.runTransfer(t, job, ln, active)
}

// errPanic ends the file of a transfer that panicked.
var errPanic = errors.New("transfer failed: internal error")

func (s *session) runTransfer(t *transfer, job *transferJob, ln *net.TCPListener, active netip.AddrPort) {
	var raw, conn net.Conn
	file := job.file
	fileEnded, unlocked := false, false
	defer func() {
		if v := recover(); v != nil {
			s.logger().Error("panic in transfer", "panic", v)
			s.conn.Close()
			// Free what the transfer held, rather than leave it to the GC.
			if raw != nil {
				raw.Close()
			}
			if file != nil && !fileEnded {
				endFile(file, errPanic)
			}
			job.quota.settle(file, false)
			if job.list != nil && job.list.dir != nil {
				job.list.dir.Close()
			}
			if job.unlock != nil && !unlocked {
				job.unlock()
			}
		}
		s.xferMu.Lock()
		s.srv.countEnded(t) // if the transfer panicked before its reply
		s.xfer = nil
		s.xferMu.Unlock()
		s.xferEnded.Store(time.Now().UnixNano())
		t.cancel(nil)
		close(t.done)
		if s.srv.inShutdown.Load() {
			s.interrupt() // the reader closes the session now (readLine)
		}
	}()
	var err error
	raw, peer, connErr := s.openData(t, ln, active)
	if connErr == nil {
		t.mu.Lock() // see abortUnconnected
		close(t.connected)
		t.mu.Unlock()
	}
	conn = raw
	handshakeFailed := false
	if connErr == nil && job.protect != nil {
		t.setWaiter(raw.Close, raw.SetDeadline)
		conn, connErr = s.protectData(t, raw, peer, job.protect)
		if connErr != nil {
			raw.Close()
			handshakeFailed = true
		}
	}
	if connErr == nil {
		if t.setWaiter(func() error { return cutConn(raw) }, conn.SetReadDeadline) {
			data := s.throttle(t.ctx, conn, job.kind == xferUpload)
			release := s.shapeData(raw, job, data != conn)
			err = s.moveData(t, job, data, &file)
			release()
		} else {
			err = t.aborted()
		}
	}
	if connErr == nil && err == nil && job.kind == xferUpload && s.clientGone(file) {
		// The data ended cleanly, but the client is gone: a killed
		// client closes both connections, and the end of its data
		// says nothing about whether it had sent it all.
		t.abort(ErrSessionClosed)
	}
	t.mu.Lock()
	cause := t.cause
	t.finished = true
	t.mu.Unlock()
	completed := connErr == nil && err == nil && cause == nil
	if raw != nil {
		if completed {
			conn.Close() // with TLS, its close_notify: a clean end
		} else {
			// A cut transfer ends with a reset, never a clean end of
			// file that a client could take for a whole download.
			cutConn(raw)
		}
	}
	reason := transferReason(completed, cause, connErr, err)
	if file != nil {
		fileEnded = true
		if ferr := endFile(file, reason); completed && ferr != nil {
			// An upload that can't be committed is not complete.
			completed, err, reason = false, &fileError{ferr}, ferr
		}
	}
	job.quota.settle(file, completed)
	if job.list != nil && job.list.dir != nil {
		job.list.dir.Close()
	}
	if job.unlock != nil {
		unlocked = true
		job.unlock()
	}
	if job.kind != xferListing {
		s.logger().Info("transfer", "cmd", job.cmd, "path", job.path, "completed", completed,
			"bytes", t.bytes.Load(), "seconds", float64(time.Since(t.start).Milliseconds())/1000)
	}
	defer s.fileHook(job, t, completed, reason)
	// Ended, for STAT, Sessions and Stats, before the reply: a client
	// that asks after its 226 finds the transfer over and counted.
	s.xferMu.Lock()
	t.replied = true
	s.srv.countEnded(t)
	s.xferMu.Unlock()
	s.replyTransfer(cause, connErr, err, handshakeFailed)
}

// cutConn closes a data connection with a reset (SO_LINGER 0), so that the
// client sees an error rather than the end of the data.
func cutConn(c net.Conn) error {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	return c.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// fileError marks an error from the file (not the network), so that a full
// disk gets 452 rather than 426.
type fileError struct{ err error }

func (e *fileError) Error() string { return e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

package pier

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// transfer is a data transfer running in its own goroutine, so that the
// control connection still takes ABOR, STAT, NOOP and QUIT meanwhile. The
// control goroutine and the transfer goroutine share only this struct.
type transfer struct {
	cmd     string // RETR, STOR, APPE, STOU, LIST, NLST, MLSD
	path    string // virtual path
	start   time.Time
	bytes   atomic.Int64
	done    chan struct{} // closed when the transfer has ended and replied
	ctx     context.Context
	stopCtx context.CancelFunc // ends ctx on abort, waking a throttled wait

	connected chan struct{} // closed once the data connection is open

	mu       sync.Mutex // guards the fields below
	finished bool       // the transfer goroutine is sending its final reply
	aborted  bool       // ABOR or session end: the goroutine sends no reply
	stop     func() error
}

var errAborted = errors.New("transfer aborted")

// setWaiter records how to interrupt the current wait (close a listener,
// cancel a dial, close the data connection). It returns false if the
// transfer was aborted already.
func (t *transfer) setWaiter(stop func() error) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.aborted {
		stop()
		return false
	}
	t.stop = stop
	return true
}

// abort interrupts the transfer. It returns false if the transfer had
// already finished on its own.
func (t *transfer) abort() bool { return t.abortIf(false) }

// abortUnconnected aborts the transfer if it has no data connection yet;
// it returns false if it has one, or has finished. The check and the abort
// are one step: a connection that opens meanwhile is never cut.
func (t *transfer) abortUnconnected() bool { return t.abortIf(true) }

func (t *transfer) abortIf(unconnected bool) bool {
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
	t.aborted = true
	t.stopCtx()
	if t.stop != nil {
		t.stop()
	}
	return true
}

func (s *session) currentTransfer() *transfer {
	s.xferMu.Lock()
	defer s.xferMu.Unlock()
	return s.xfer
}

func (s *session) transferRunning() bool { return s.currentTransfer() != nil }

// waitTransfer blocks until the running transfer, if any, has ended.
func (s *session) waitTransfer() {
	if t := s.currentTransfer(); t != nil {
		<-t.done
	}
}

// abortTransfer stops the running transfer, if any, and waits for it.
func (s *session) abortTransfer() {
	if t := s.currentTransfer(); t != nil {
		t.abort()
		<-t.done
	}
}

// cmdABOR: RFC 959 §4.1.3. With a transfer running: 426 for the transfer,
// then 226 for the ABOR. Without one: 225.
func (s *session) cmdABOR(string) {
	t := s.currentTransfer()
	if t == nil {
		if s.haveDataSetup() {
			s.closeDataSetup()
			s.reply(225, "ABOR command successful; data channel closed.")
			return
		}
		s.reply(225, "No transfer to abort.")
		return
	}
	if !t.abort() {
		<-t.done
		s.reply(225, "No transfer to abort.")
		return
	}
	<-t.done
	s.reply(426, "Transfer aborted via ABOR.")
	s.reply(226, "ABOR command successful.")
}

// transferJob is what a transfer command hands to startTransfer.
type transferJob struct {
	cmd, path   string
	preliminary string // text of the 150 reply
	// body moves the data over conn.
	body func(t *transfer, conn net.Conn) error
	// closeFile closes the file; its error fails the transfer (an upload
	// that can't be flushed is not complete).
	closeFile func() error
	logFile   bool        // log the transfer line (files, not listings)
	protect   *tls.Config // PROT P: the data connection's TLS configuration
	upload    bool        // data flows from the client
}

// startTransfer sends 150 and runs the job in its own goroutine. The caller
// has checked haveDataSetup.
func (s *session) startTransfer(job transferJob) {
	ln, active := s.pasv, s.active
	s.pasv, s.active = nil, netip.AddrPort{}
	if s.tls.prot == 'P' {
		job.protect = s.tls.config
	}
	t := &transfer{cmd: job.cmd, path: job.path, start: time.Now(), done: make(chan struct{}), connected: make(chan struct{})}
	t.ctx, t.stopCtx = context.WithCancel(s.ctx)
	job.upload = job.cmd == "STOR" || job.cmd == "APPE" || job.cmd == "STOU"
	s.xferMu.Lock()
	s.xfer = t
	s.xferMu.Unlock()
	s.reply(150, job.preliminary)
	go s.runTransfer(t, job, ln, active)
}

func (s *session) runTransfer(t *transfer, job transferJob, ln *net.TCPListener, active netip.AddrPort) {
	var conn net.Conn
	fileClosed := false
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic in transfer", "panic", v)
			s.conn.Close()
			// Free what the transfer held, rather than leave it to the GC.
			if conn != nil {
				conn.Close()
			}
			if job.closeFile != nil && !fileClosed {
				job.closeFile()
			}
		}
		s.xferMu.Lock()
		s.xfer = nil
		s.xferMu.Unlock()
		s.xferEnded.Store(time.Now().UnixNano())
		t.stopCtx()
		close(t.done)
		if s.srv.inShutdown.Load() {
			s.interrupt() // the reader closes the session now (readLine)
		}
	}()
	var err error
	var connErr error
	conn, connErr = s.openData(t, ln, active)
	if connErr == nil {
		t.mu.Lock() // see abortUnconnected
		close(t.connected)
		t.mu.Unlock()
	}
	handshakeFailed := false
	if connErr == nil && job.protect != nil {
		raw := conn
		t.setWaiter(raw.Close)
		conn, connErr = s.protectData(raw, job.protect)
		if connErr != nil {
			raw.Close()
			handshakeFailed = true
		}
	}
	if connErr == nil {
		if t.setWaiter(conn.Close) {
			err = job.body(t, s.throttle(t.ctx, conn, job.upload))
		} else {
			err = errAborted
		}
		conn.Close()
	}
	if job.closeFile != nil {
		fileClosed = true
		if cerr := job.closeFile(); err == nil && connErr == nil {
			err = cerr
		}
	}
	t.mu.Lock()
	aborted := t.aborted
	t.finished = true
	t.mu.Unlock()
	completed := connErr == nil && err == nil && !aborted
	if job.logFile {
		s.log.Info("transfer", "cmd", job.cmd, "path", job.path, "completed", completed,
			"bytes", t.bytes.Load(), "seconds", float64(time.Since(t.start).Milliseconds())/1000)
	}
	defer s.fileHook(job, t, completed, cmp.Or(connErr, err, errAbortedIf(aborted)))
	switch {
	case aborted:
		// cmdABOR or the session's end sends the replies.
	case errors.Is(connErr, errTLSReuse):
		s.log.Warn("refused a protected data connection that did not resume the control connection's TLS session")
		s.reply(522, "TLS session reuse required on the data connection.")
	case handshakeFailed:
		s.log.Info("data connection TLS handshake failed", "err", connErr)
		s.reply(522, "TLS handshake failed on the data connection.")
	case connErr != nil:
		s.log.Info("can't open data connection", "err", connErr)
		s.reply(425, "Can't open data connection.")
	case err == nil:
		s.reply(226, "Transfer complete.")
	case isTimeout(err):
		s.reply(426, "Data connection timed out; transfer aborted.")
	default:
		var fe *fileError
		if errors.As(err, &fe) {
			code, text := errorReply(fe.err)
			if code == 550 {
				code = 451 // RFC 959: local error in processing
			}
			s.reply(code, text+" Transfer aborted.")
			return
		}
		s.reply(426, "Connection closed; transfer aborted.")
	}
}

func errAbortedIf(aborted bool) error {
	if aborted {
		return errAborted
	}
	return nil
}

// fileHook calls the file-transfer hook for a finished transfer, after its
// reply.
func (s *session) fileHook(job transferJob, t *transfer, completed bool, why error) {
	if !job.logFile {
		return // listings fire no file hooks
	}
	h := &s.srv.Hooks
	var hook func(*Session, TransferInfo)
	switch {
	case job.cmd == "RETR" && completed:
		hook = h.FileSent
	case job.cmd == "RETR":
		hook = h.IncompleteFileSent
	case completed:
		hook = h.FileReceived
	default:
		hook = h.IncompleteFileReceived
	}
	if hook == nil {
		return
	}
	info := TransferInfo{Command: job.cmd, Path: job.path, Bytes: t.bytes.Load(), Duration: time.Since(t.start)}
	if !completed {
		info.Err = cmp.Or(why, errAborted)
	}
	hook(s.pub, info)
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

// chunkSizer decides how much one sendfile or splice call may move before
// STAT's byte count is updated. It starts small and doubles while chunks
// complete quickly, so a fast transfer makes few calls, and halves when a
// chunk is slow or cut short by its deadline.
type chunkSizer struct {
	size    int64
	timeout time.Duration
}

const (
	minChunk = 64 << 10
	maxChunk = 16 << 20
)

func newChunkSizer(timeout time.Duration) chunkSizer {
	return chunkSizer{size: 256 << 10, timeout: timeout}
}

// shrink halves the size after a chunk its deadline cut short.
func (c *chunkSizer) shrink() { c.size = max(c.size/2, minChunk) }

// adapt updates the size after a full chunk took elapsed.
func (c *chunkSizer) adapt(elapsed time.Duration) {
	slow := 5 * time.Second
	if c.timeout > 0 {
		slow = min(slow, c.timeout/8)
	}
	switch {
	case elapsed < 50*time.Millisecond:
		c.size = min(2*c.size, maxChunk)
	case elapsed > slow:
		c.size = max(c.size/2, minChunk)
	}
}

// zeroCopy runs step, one sendfile or splice call that may move up to size
// bytes, until a step moves less than that (the end of the file, or the
// client closed the connection), fails, or no data has moved for timeout.
//
// Each step gets a deadline of renewAfter(timeout) only, and one that
// passes while data is still moving is not an error: a download starts
// fast while the socket buffers fill, which grows the steps, and a client
// that then reads slowly may take longer than the whole timeout over one
// step without ever stalling. Such a step halves the next ones. The
// transfer fails when a step moves nothing and the last step that moved
// data ended at least timeout ago: between timeout and timeout plus twice
// renewAfter(timeout) after the last byte moved.
func zeroCopy(t *transfer, timeout time.Duration, setDeadline func(time.Time) error, step func(size int64) (int64, error)) error {
	chunk := newChunkSizer(timeout)
	moved := time.Now()
	for {
		start := time.Now()
		if timeout > 0 {
			setDeadline(start.Add(renewAfter(timeout)))
		}
		n, err := step(chunk.size)
		t.bytes.Add(n)
		now := time.Now()
		if n > 0 {
			moved = now
		}
		if err != nil {
			if timeout > 0 && isTimeout(err) && now.Sub(moved) < timeout {
				chunk.shrink() // slow, not stalled
				continue
			}
			return classify(err)
		}
		if n < chunk.size {
			return nil
		}
		chunk.adapt(now.Sub(start))
	}
}

// sendfileStep returns zeroCopy's step for a download of f, from its
// current offset, to tc. After a step that fails, f is put back at the
// offset of the first byte not sent: when Go's sendfile cannot start (its
// deadline passed already), it falls back to reading the file into a
// buffer and writing that, and the read may go further than the write.
func sendfileStep(tc *net.TCPConn, f *os.File) (func(size int64) (int64, error), error) {
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	lr := &io.LimitedReader{R: f}
	return func(size int64) (int64, error) {
		lr.N = size
		n, err := tc.ReadFrom(lr)
		off += n
		if err != nil {
			if _, serr := f.Seek(off, io.SeekStart); serr != nil {
				return n, &fileError{serr}
			}
		}
		return n, err
	}, nil
}

// copyBufPool holds the buffers of downloads that are not zero-copy.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// uploadBufPool and bigUploadBufPool hold the buffers of uploads that
// don't splice. An upload starts with a 128 KiB buffer and moves to a
// 512 KiB one once a read fills the small one, that is, once the client
// sends faster than the server reads: with 300 simultaneous uploads on
// loopback (ftpbench -b stor-many, new files each run), 512 KiB took
// 1.05-1.13 s where 128 KiB took 1.16-1.21 s (1 MiB: 1.12-1.38 s), while
// slow clients, whose reads never fill 128 KiB, keep the small buffer.
// Downloads showed no such difference.
var (
	uploadBufPool    = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}
	bigUploadBufPool = sync.Pool{New: func() any { b := make([]byte, 512<<10); return &b }}
)

// sendStream copies src to the data connection. For a plain TCP connection
// and an *os.File source it keeps both concrete types visible, so the
// kernel's sendfile moves the bytes.
//
// Except to loopback peers when many download at once: on loopback the
// receiving process must copy the data out of its socket itself, and the
// page-sized fragments sendfile queues cost it more and more as
// connections multiply (300 local clients downloading 10 MiB each took
// 30 % longer with sendfile, the client spending 60 % more CPU; two ran at
// the same speed either way, eight 7 % slower with sendfile). So no more
// than loopbackSendfileMax loopback downloads use sendfile at once.
// Downloads to other machines always do: there the network card takes
// the pages without a copy. docs/benchmarks.md has the measurements.
func (s *session) sendStream(t *transfer, conn net.Conn, src io.Reader) error {
	dataTimeout := durationOr(s.srv.DataTimeout, DefaultDataTimeout)
	if tc, ok := conn.(*net.TCPConn); ok && !s.srv.DisableSendfile {
		if f, isFile := src.(*os.File); isFile && s.sendfileSlot(tc) {
			defer s.sendfileDone(tc)
			step, err := sendfileStep(tc, f)
			if err != nil {
				return &fileError{err}
			}
			return zeroCopy(t, dataTimeout, tc.SetWriteDeadline, step)
		}
	}
	w := &meteredWriter{conn: conn, t: t, timeout: dataTimeout}
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	_, err := io.CopyBuffer(w, readerOnly{src}, *bp)
	if err != nil && !w.failed {
		return &fileError{err}
	}
	return err
}

// slots counts the transfers that use sendfile or splice where too many at
// once cost more than they save. It is process-wide, like what it guards:
// the pipe budget is per user, the loopback receivers share one machine.
var slots struct {
	loopbackSendfiles atomic.Int32 // downloads to loopback peers using sendfile
	splices           atomic.Int32 // uploads splicing
}

// acquire takes one of limit slots counted by n; a true answer must be
// followed by n.Add(-1).
func acquire(n *atomic.Int32, limit int32) bool {
	if n.Add(1) > limit {
		n.Add(-1)
		return false
	}
	return true
}

// loopbackSendfileMax is how many downloads to loopback peers may use
// sendfile at once; the others copy (see sendStream).
const loopbackSendfileMax = 4

// sendfileSlot reports whether a download on tc may use sendfile; a true
// answer must be followed by sendfileDone(tc).
func (s *session) sendfileSlot(tc *net.TCPConn) bool {
	if !s.countsAsLoopback(tc) {
		return true
	}
	return acquire(&slots.loopbackSendfiles, loopbackSendfileMax)
}

func (s *session) sendfileDone(tc *net.TCPConn) {
	if s.countsAsLoopback(tc) {
		slots.loopbackSendfiles.Add(-1)
	}
}

// countsAsLoopback reports whether a download on tc is limited by
// loopbackSendfileMax. zeroCopyLoopback is set before the server starts, so
// the answer is the same when the download ends.
func (s *session) countsAsLoopback(tc *net.TCPConn) bool {
	return !s.srv.zeroCopyLoopback && isLoopback(tc.RemoteAddr())
}

// spliceLimit is how many uploads may splice at once. Go splices through a
// pipe it enlarges to 1 MiB, and Linux lets an unprivileged user hold
// pipes of no more than fs.pipe-user-pages-soft pages (16,384, 64 MiB, by
// default) before it refuses to enlarge pipes and gives new ones two pages:
// with 300 simultaneous uploads as an ordinary user, 162 of Go's 229
// attempts to enlarge a pipe failed, most uploads spliced through pipes of
// 8 or 64 KiB, and they took 1.65–1.75 s where copying through a 64 KiB
// buffer took 1.47–1.56 s. A quarter of the user's budget (16 uploads by
// default) leaves room for the pipes Go keeps pooled and for other
// processes of the same user. Root is held to it too: in a container it
// usually lacks the capabilities that lift the limit.
var spliceLimit = sync.OnceValue(func() int32 {
	const pipePages = (1 << 20) / 4096
	b, err := os.ReadFile("/proc/sys/fs/pipe-user-pages-soft")
	if err != nil {
		return 16
	}
	soft, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 16
	}
	if soft == 0 {
		return math.MaxInt32 // no limit
	}
	return int32(max(1, soft/pipePages/4))
})

// isLoopback reports whether addr is a loopback address (127.0.0.0/8, ::1,
// or IPv4-mapped 127.x).
func isLoopback(addr net.Addr) bool {
	return addrPort(addr).Addr().Unmap().IsLoopback()
}

// classify tells a file read error from a network one after ReadFrom.
func classify(err error) error {
	var op *net.OpError
	if errors.As(err, &op) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || isTimeout(err) {
		return err
	}
	return &fileError{err}
}

// receiveStream copies the data connection to dst until the client closes
// it. For an *os.File destination and a plain TCP connection it uses
// (*os.File).ReadFrom, which splices, while few uploads do (spliceLimit);
// the others copy through a buffer, from a plain TCP connection with its
// low-water mark raised (uploadLowat).
func (s *session) receiveStream(t *transfer, conn net.Conn, dst io.Writer) error {
	dataTimeout := durationOr(s.srv.DataTimeout, DefaultDataTimeout)
	if f, ok := dst.(*os.File); ok && !s.srv.DisableSendfile {
		if tc, ok := conn.(*net.TCPConn); ok && acquire(&slots.splices, spliceLimit()) {
			defer slots.splices.Add(-1)
			lr := &io.LimitedReader{R: tc}
			return zeroCopy(t, dataTimeout, tc.SetReadDeadline, func(size int64) (int64, error) {
				lr.N = size
				return f.ReadFrom(lr)
			})
		}
	}
	r := &meteredReader{conn: conn, t: t, timeout: dataTimeout}
	if tc, ok := conn.(*net.TCPConn); ok {
		r.tcp = tc
		r.raiseLowat()
	}
	return receiveCopy(dst, r)
}

// receiveCopy copies r to dst until r ends, through a buffer from
// uploadBufPool that it trades for one from bigUploadBufPool when a read
// fills it. Errors of dst are *fileError.
func receiveCopy(dst io.Writer, r *meteredReader) error {
	bp, pool := uploadBufPool.Get().(*[]byte), &uploadBufPool
	defer func() { pool.Put(bp) }()
	for {
		n, rerr := r.Read(*bp)
		if n > 0 {
			w, err := dst.Write((*bp)[:n])
			if err == nil && w != n {
				err = io.ErrShortWrite
			}
			if err != nil {
				return &fileError{err}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
		if n == len(*bp) && pool == &uploadBufPool {
			pool.Put(bp)
			bp, pool = bigUploadBufPool.Get().(*[]byte), &bigUploadBufPool
		}
	}
}

// renewAfter is how long a copying transfer goes on before its stall
// deadline is moved forward again, and how long one step of a zero-copy
// transfer may wait (see zeroCopy). Setting a deadline updates a runtime
// timer; doing it on every read or write of hundreds of simultaneous
// transfers is work for nothing, and renewing at most this often moves
// the moment a stall is found by no more than an eighth of the timeout
// (a quarter for zero-copy transfers).
func renewAfter(timeout time.Duration) time.Duration { return min(timeout/8, time.Second) }

// meteredWriter writes to the data connection, renewing the stall deadline
// (see renewAfter) and counting bytes for STAT and the log.
type meteredWriter struct {
	conn    net.Conn
	t       *transfer
	timeout time.Duration
	renewed time.Time // when the deadline was last set
	failed  bool      // the error came from the connection
}

func (w *meteredWriter) Write(p []byte) (int, error) {
	if w.timeout > 0 {
		if now := time.Now(); now.Sub(w.renewed) >= renewAfter(w.timeout) {
			w.conn.SetWriteDeadline(now.Add(w.timeout))
			w.renewed = now
		}
	}
	n, err := w.conn.Write(p)
	w.t.bytes.Add(int64(n))
	if err != nil {
		w.failed = true
	}
	return n, err
}

// meteredReader is meteredWriter's counterpart for uploads.
type meteredReader struct {
	conn     net.Conn
	t        *transfer
	timeout  time.Duration
	renewed  time.Time
	failed   bool
	tcp      *net.TCPConn // conn, if it is a plain TCP connection
	lowat    bool         // tcp's low-water mark is raised (uploadLowat)
	lastData time.Time    // with the mark raised: when a read last returned data
}

// uploadLowat is the receive low-water mark (SO_RCVLOWAT) of an upload
// that copies from a plain TCP connection: its goroutine wakes when a
// quarter MiB has come, or the client has closed, rather than at every
// few segments, which saves the kernel work of many small reads and file
// writes. With 300 simultaneous uploads on loopback (ftpbench -b
// stor-many, the server's CPU time while the bytes arrived, three
// alternations) the server needed 0.43-0.48 s of CPU per GB with it and
// 0.56-0.59 s without it, and the runs took 0.99-1.05 s instead of
// 1.15-1.20 s. Setting it only once a read fills the small buffer saved
// nothing, and splicing uploads showed no difference.
//
// With the mark raised, a read waits no longer than lowatWait (an eighth
// of the data timeout, at most a second) before it takes what has come
// below the mark: a slow client's bytes reach the file, and STAT's count,
// within that time, and the data timeout still ends an upload during
// which no byte came, as precisely as without the mark. An upload ended by
// ABOR or the session's end loses what came during its last wait (less
// than the mark), which TCP had acknowledged; the reply says the file is
// incomplete either way.
//
// The mark is used on Linux 5.11 and later only (lowatSupported): older
// kernels may not wake a reader whose receive window filled below the
// mark, or (before 4.18) not enlarge the receive buffer to hold it, and an
// upload would then move one window per wait.
const uploadLowat = 256 << 10

// raiseLowat sets the low-water mark of a plain TCP upload to uploadLowat.
// Without one, or where the kernel refuses, reads go on as before.
func (r *meteredReader) raiseLowat() {
	if r.tcp != nil && !r.lowat && lowatSupported() && setRcvLowat(r.tcp, uploadLowat) == nil {
		r.lowat = true
		r.lastData = time.Now()
	}
}

// lowerLowat puts the low-water mark back to one byte, for good, and the
// deadline to what it is without the mark.
func (r *meteredReader) lowerLowat() {
	r.lowat = false
	setRcvLowat(r.tcp, 1)
	if r.timeout <= 0 {
		r.conn.SetReadDeadline(time.Time{})
	}
}

// minLowatWait keeps a tiny data timeout from making the waits shorter
// than the time it takes to look at the queue, which would spin.
const minLowatWait = 10 * time.Millisecond

// lowatWait is how long a read waits with the mark raised before it looks
// for bytes below it.
func (r *meteredReader) lowatWait() time.Duration {
	if r.timeout > 0 {
		return max(renewAfter(r.timeout), minLowatWait)
	}
	return time.Second
}

// renew moves the read deadline forward, now if force is set, else once
// it has run for renewAfter: to the stall timeout, or, with the mark
// raised, to lowatWait (renewed after half of it).
func (r *meteredReader) renew(now time.Time, force bool) {
	switch {
	case r.lowat:
		if wait := r.lowatWait(); force || now.Sub(r.renewed) >= wait/2 {
			r.conn.SetReadDeadline(now.Add(wait))
			r.renewed = now
		}
	case r.timeout > 0:
		if force || now.Sub(r.renewed) >= renewAfter(r.timeout) {
			r.conn.SetReadDeadline(now.Add(r.timeout))
			r.renewed = now
		}
	}
}

func (r *meteredReader) Read(p []byte) (int, error) {
	r.renew(time.Now(), false)
	n, err := r.conn.Read(p)
	// With the mark raised, a deadline ends a wait, not the upload: read
	// what has come below the mark, or wait on until no byte has come for
	// the stall timeout.
	for err != nil && r.lowat && isTimeout(err) {
		q, qerr := queued(r.tcp)
		now := time.Now()
		if qerr != nil {
			r.lowerLowat() // blind below the mark: do without it
		} else if q == 0 && r.timeout > 0 && now.Sub(r.lastData) >= r.timeout {
			break // stalled
		}
		r.renew(now, true)
		n, err = r.conn.Read(p)
	}
	if n > 0 && r.lowat {
		r.lastData = time.Now()
	}
	r.t.bytes.Add(int64(n))
	if err != nil && err != io.EOF {
		r.failed = true
	}
	return n, err
}

// readerOnly and writerOnly hide WriterTo/ReaderFrom so that io.CopyBuffer
// uses our buffer and our metered wrappers.
type readerOnly struct{ io.Reader }
type writerOnly struct{ io.Writer }

package pier

import (
	"cmp"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pierftp/pier/internal/ascii"
)

// The copy engine: how a transfer's bytes move between the data connection
// and the file. Plain binary transfers of local files are zero-copy
// (sendfile, splice); the others copy through pooled buffers (meter.go
// counts and times them).

// chunkSizer decides how much one sendfile or splice call may move before
// STAT's byte count is updated (and how much one write of a Sender's
// bytes takes: meteredWriter). It starts small and doubles while chunks
// complete quickly, so a fast transfer makes few calls, and halves when a
// chunk is slow or cut short by its deadline, between minChunk and
// limit (maxChunk if zero).
type chunkSizer struct {
	size    int64
	timeout time.Duration
	limit   int64
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
		c.size = min(2*c.size, cmp.Or(c.limit, maxChunk))
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
			setDeadline(t.limit(start.Add(renewAfter(timeout))))
		}
		n, err := step(chunk.size)
		t.bytes.Add(n)
		now := time.Now()
		if n > 0 {
			moved = now
		}
		if err != nil {
			if timeout > 0 && isTimeout(err) && now.Sub(moved) < timeout && !t.draining() {
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

// copyBufPool holds the buffers of downloads that are not zero-copy:
// over TLS, with DisableSendfile, from file systems without an *os.File
// that are no Sender. 256 KiB was tried (docs/benchmarks.md, "Download
// copy buffer"): two head-to-head runs of
// 100 × 10 MiB and 1 GiB downloads, by ftpbench and curl, plain and TLS,
// on loopback and a veth pair, disagreed (loopback plain 100 × 10 MiB
// 1.10× in one, 0.88× in the other); single TLS downloads gained 6–11 %,
// 100 simultaneous TLS downloads used more CPU. Not made.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// maxPiece bounds one write to the data connection (meteredWriter.Write),
// which starts at minChunk, the copy buffer's size: a Sender may hand over
// much more at once. With pieces of 64 KiB, a 1 GiB download from an S3
// bucket (a Sender) took 0.67 CPU-seconds per GB and 1,122 MB/s; with
// 256 KiB, 0.55 and 1,242 (bench/s3.sh, docs/benchmarks.md).
const maxPiece = 256 << 10

// uploadBufPool holds the buffers of uploads that don't splice, one an
// upload, of uploadLowat bytes: on Linux a plain TCP upload's read waits
// for that much (the receive low-water mark), so one read takes it. Over
// TLS, or without the mark, reads are smaller and fill it as they come.
//
// Uploads used to start with 128 KiB and move to 512 KiB once a read
// filled the small buffer, and also kept the buffer of their first read
// to the end: 640 KiB an upload. Measured against that
// (docs/benchmarks.md, "Upload buffers: one of 256 KiB"), a fresh server
// receiving 300 uploads at once from one curl process over a veth pair,
// pinned, took 1.82-2.45 s (median 1.89) instead of 2.42-2.97 s (2.81),
// and peaked at 94-98 MiB resident instead of 168-222 MiB: 300 buffers
// of 640 KiB were 190 MiB of new memory to fault in. ftpbench's 300
// uploads to a warm server were within the noise (medians 1.30 and
// 1.25 s), and a single TLS upload perhaps a few per cent slower.
var uploadBufPool = sync.Pool{New: func() any { b := make([]byte, uploadLowat); return &b }}

// sendStream copies src to the data connection. For a plain TCP connection
// and an *os.File source (or an OSFiler's) it keeps both concrete types
// visible, so the kernel's sendfile moves the bytes, to every peer.
//
// Loopback peers used to be an exception: beyond four downloads at once
// they were copied to, because 300 simultaneous loopback downloads by
// sendfile took 30 % longer and cost the clients 60 % more CPU. That was
// the megabytes of unsent data each connection queued, not sendfile: with
// the unsent data held to sendLowat (shapeData), sendfile is the faster
// path on loopback too (docs/benchmarks.md, "300 × RETR: unsent data").
func (s *session) sendStream(t *transfer, conn net.Conn, src File) error {
	dataTimeout := durationOr(s.srv.lim().DataTimeout, DefaultDataTimeout)
	if tc, ok := conn.(*net.TCPConn); ok && !s.srv.DisableSendfile {
		if f, isFile := osFile(src); isFile {
			step, err := sendfileStep(tc, f)
			if err != nil {
				return &fileError{err}
			}
			return zeroCopy(t, dataTimeout, tc.SetWriteDeadline, step)
		}
	}
	w := &meteredWriter{conn: conn, t: t, timeout: dataTimeout}
	var err error
	if sd, ok := src.(Sender); ok {
		// A back-end that holds the bytes in memory already (fsys/s3's
		// parts read ahead) writes them from there: no copy through
		// our buffer.
		_, err = sd.SendTo(w)
	} else {
		bp := copyBufPool.Get().(*[]byte)
		defer copyBufPool.Put(bp)
		_, err = io.CopyBuffer(w, readerOnly{src}, *bp)
	}
	if err != nil && !w.failed {
		return &fileError{err}
	}
	return err
}

// slots counts the uploads that splice, where too many at once cost more
// than they save. It is process-wide, like the pipe budget it guards,
// which is per user.
var slots struct {
	splices atomic.Int32 // uploads splicing
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

// classify tells a file read error from a network one after ReadFrom.
func classify(err error) error {
	var op *net.OpError
	if errors.As(err, &op) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || isTimeout(err) {
		return err
	}
	return &fileError{err}
}

// receiveStream copies the data connection to dst until the client closes
// it. For an *os.File destination (or an OSFiler's) and a plain TCP connection it uses
// (*os.File).ReadFrom, which splices, while few uploads do (spliceLimit);
// a Receiver reads the connection itself; the others copy through a
// buffer. A plain TCP connection that doesn't splice has its low-water
// mark raised (uploadLowat).
func (s *session) receiveStream(t *transfer, conn net.Conn, dst io.Writer) error {
	dataTimeout := durationOr(s.srv.lim().DataTimeout, DefaultDataTimeout)
	if f, ok := osFile(dst); ok && !s.srv.DisableSendfile {
		if tc, ok := conn.(*net.TCPConn); ok && acquire(&slots.splices, spliceLimit()) {
			defer slots.splices.Add(-1)
			lr := &io.LimitedReader{R: tc}
			return zeroCopy(t, dataTimeout, tc.SetReadDeadline, func(size int64) (int64, error) {
				lr.N = size
				return f.ReadFrom(lr)
			})
		}
	}
	r := &meteredReader{conn: conn, t: t, timeout: dataTimeout, records: isTLSData(conn)}
	if r.records {
		tlsData(conn).raw.readAhead()
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		r.tcp = tc
		r.raiseLowat()
	}
	if rc, ok := dst.(Receiver); ok {
		if _, isOS := osFile(dst); !isOS {
			_, err := rc.ReceiveFrom(r)
			switch {
			case err != nil && !r.failed:
				return &fileError{err}
			case err == nil && !r.ended:
				// It stopped before the end of the data: what the
				// client sent after is not in the file.
				return &fileError{errReceiverStopped}
			}
			return err
		}
	}
	return receiveCopy(dst, r)
}

// errReceiverStopped fails an upload whose Receiver returned before the
// end of the data without an error.
var errReceiverStopped = errors.New("the file stopped reading before the end of the upload")

// receiveCopy copies r to dst until r ends, through a buffer from
// uploadBufPool. Errors of dst are *fileError.
//
// Over TLS (r.records), a read returns one record, 16 KiB at most: the
// buffer is filled with the records that come within fillWait before it is
// written, so that the file gets one write per buffer rather than one per
// record. A 1 GiB upload on loopback (ftpbench --tls, six alternations,
// with the earlier buffers of 128 KiB growing to 512 KiB) took 1.09-1.16 s
// of server CPU so, and 1.25-1.37 s writing each record.
func receiveCopy(dst io.Writer, r *meteredReader) error {
	bp := uploadBufPool.Get().(*[]byte)
	defer uploadBufPool.Put(bp)
	for {
		n, rerr := r.Read(*bp)
		if r.records && rerr == nil && n > 0 {
			start := time.Now()
			for rerr == nil && len(*bp)-n >= maxRecord && time.Since(start) < fillWait {
				var m int
				m, rerr = r.Read((*bp)[n:])
				n += m
			}
		}
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
	}
}

// maxRecord is the most plaintext a TLS record carries, and fillWait how
// long an upload over TLS gathers records before it writes them (see
// receiveCopy): a slow client's bytes reach the file within fillWait plus
// the time one record takes to come.
const (
	maxRecord = 16 << 10
	fillWait  = 50 * time.Millisecond
)

// renewAfter is how long a copying transfer goes on before its stall
// deadline is moved forward again, and how long one step of a zero-copy
// transfer may wait (see zeroCopy). Setting a deadline updates a runtime
// timer; doing it on every read or write of hundreds of simultaneous
// transfers is work for nothing, and renewing at most this often moves
// the moment a stall is found by no more than an eighth of the timeout
// (a quarter for zero-copy transfers).
func renewAfter(timeout time.Duration) time.Duration { return min(timeout/8, time.Second) }

// readerOnly and writerOnly hide WriterTo/ReaderFrom so that io.CopyBuffer
// uses our buffer and our metered wrappers.
type readerOnly struct{ io.Reader }
type writerOnly struct{ io.Writer }

// moveData moves the job's data over conn. An upload opens its file here,
// once its first byte has come (*file).
func (s *session) moveData(t *transfer, job *transferJob, conn net.Conn, file *File) error {
	switch job.kind {
	case xferDownload:
		if job.ascii {
			w := &meteredWriter{conn: conn, t: t, timeout: durationOr(s.srv.lim().DataTimeout, DefaultDataTimeout)}
			_, err := io.Copy(ascii.NewCRLFWriter(w), readerOnly{*file})
			if err != nil && !w.failed {
				return &fileError{err}
			}
			return err
		}
		return s.sendStream(t, conn, *file)
	case xferUpload:
		return s.receive(t, conn, job, file)
	}
	return s.sendListing(t, conn, job.list)
}

// receive runs an upload. Its file is opened when the first byte arrives,
// or when the client closes the connection at once (an empty file): an
// upload that never sends a byte (refused, aborted, its data connection
// never open) truncates and replaces nothing.
func (s *session) receive(t *transfer, conn net.Conn, job *transferJob, file *File) error {
	dataTimeout := durationOr(s.srv.lim().DataTimeout, DefaultDataTimeout)
	first := &meteredReader{conn: conn, t: t, timeout: dataTimeout}
	bp := uploadBufPool.Get().(*[]byte)
	n, rerr := first.Read(*bp)
	// The first read's buffer goes back to the pool once its bytes are
	// written, before the rest of the upload takes a buffer of its own
	// (receiveCopy), so that an upload holds one buffer, not two.
	release := func() {
		if bp != nil {
			uploadBufPool.Put(bp)
			bp = nil
		}
	}
	defer release()
	if rerr != nil && rerr != io.EOF && n == 0 {
		return rerr
	}
	if n == 0 && t.aborted() != nil {
		return t.aborted()
	}
	if *file == nil {
		f, err := job.open.fsys.OpenFile(t.ctx, job.open.name, job.open.flag, 0o666)
		if err != nil {
			return &fileError{err}
		}
		*file = f
	}
	var dst io.Writer = *file
	if job.quota != nil {
		dst = &quotaWriter{w: *file, u: job.quota, ctx: t.ctx}
	}
	var lf *ascii.LFWriter
	if job.ascii {
		lf = ascii.NewLFWriter(dst)
		dst = lf
	}
	if n > 0 {
		if w, err := dst.Write((*bp)[:n]); err != nil || w != n {
			return &fileError{cmpErr(err, io.ErrShortWrite)}
		}
	}
	release()
	if rerr == nil && job.ascii {
		r := &meteredReader{conn: conn, t: t, timeout: dataTimeout}
		_, err := io.Copy(writerOnly{lf}, r)
		if err != nil && !r.failed {
			return &fileError{err}
		}
		rerr = err
	} else if rerr == nil {
		rerr = s.receiveStream(t, conn, dst)
	}
	if rerr != nil && rerr != io.EOF {
		return rerr
	}
	if lf != nil {
		if err := lf.Close(); err != nil {
			return &fileError{err}
		}
	}
	return nil
}

func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

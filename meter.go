package pier

import (
	"io"
	"net"
	"time"
)

// meteredWriter writes to the data connection, renewing the stall deadline
// (see renewAfter) and counting bytes for STAT and the log.
type meteredWriter struct {
	conn    net.Conn
	t       *transfer
	timeout time.Duration
	renewed time.Time  // when the deadline was last set
	failed  bool       // the error came from the connection
	piece   chunkSizer // the most the next write to conn takes (see Write)
}

// Write writes p in pieces: a Sender may hand over megabytes at once,
// and one write to the connection must end within the stall timeout.
// A piece starts at minChunk, the copy buffer's size (as much as a
// download copied through it writes at once), doubles up to maxPiece
// while pieces go out in under 50 ms, and halves when one takes longer
// than an eighth of the timeout (at most 5 s), as zero-copy steps do: a
// slow client has as long for each write as with the copy, a fast one
// makes fewer system calls. Each piece renews the deadline and counts
// for STAT.
func (w *meteredWriter) Write(p []byte) (int, error) {
	if w.piece.size == 0 {
		w.piece = chunkSizer{size: minChunk, timeout: w.timeout, limit: maxPiece}
	}
	var written int
	for len(p) > 0 {
		chunk := p[:min(int64(len(p)), w.piece.size)]
		now := time.Now()
		if w.timeout > 0 && now.Sub(w.renewed) >= renewAfter(w.timeout) {
			w.conn.SetWriteDeadline(now.Add(w.timeout))
			w.renewed = now
		}
		n, err := w.conn.Write(chunk)
		w.t.bytes.Add(int64(n))
		written += n
		if err != nil {
			w.failed = true
			return written, err
		}
		if int64(len(chunk)) == w.piece.size {
			w.piece.adapt(time.Since(now))
		}
		p = p[n:]
	}
	return written, nil
}

// meteredReader is meteredWriter's counterpart for uploads.
type meteredReader struct {
	conn     net.Conn
	t        *transfer
	timeout  time.Duration
	renewed  time.Time
	failed   bool         // a read failed (not io.EOF): the connection's error
	ended    bool         // a read returned io.EOF: the client sent all
	tcp      *net.TCPConn // conn, if it is a plain TCP connection
	records  bool         // conn is TLS: a read returns one record (receiveCopy)
	lowat    bool         // tcp's low-water mark is raised (uploadLowat)
	lastData time.Time    // with the mark raised: when a read last returned data
	// left is what an upload stopped by ABOR still takes after its
	// drain has ended with the mark raised (see Read).
	left int
}

// uploadLowat is the receive low-water mark (SO_RCVLOWAT) of an upload
// that copies from a plain TCP connection: its goroutine wakes when a
// quarter MiB has come, or the client has closed, rather than at every
// few segments, which saves the kernel work of many small reads and file
// writes. With 300 simultaneous uploads on loopback (ftpbench -b
// stor-many, the server's CPU time while the bytes arrived, three
// alternations) the server needed 0.43-0.48 s of CPU per GB with it and
// 0.56-0.59 s without it, and the runs took 0.99-1.05 s instead of
// 1.15-1.20 s. Setting it only once a read filled a 128 KiB buffer saved
// nothing, and splicing uploads showed no difference.
//
// With the mark raised, a read waits no longer than lowatWait (an eighth
// of the data timeout, at most a second) before it takes what has come
// below the mark: a slow client's bytes reach the file, and STAT's count,
// within that time, and the data timeout still ends an upload during
// which no byte came, as precisely as without the mark. An upload ended by
// the session's end loses what came during its last wait (less than the
// mark), which TCP had acknowledged; the reply says the file is incomplete
// either way. One stopped by ABOR takes it (see Read).
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
		r.conn.SetReadDeadline(r.t.limit(time.Time{}))
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
			r.conn.SetReadDeadline(r.t.limit(now.Add(wait)))
			r.renewed = now
		}
	case r.timeout > 0:
		if force || now.Sub(r.renewed) >= renewAfter(r.timeout) {
			r.conn.SetReadDeadline(r.t.limit(now.Add(r.timeout)))
			r.renewed = now
		}
	}
}

func (r *meteredReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // not a read: readLeft would forget what is left
	}
	if r.left > 0 {
		n, err := r.readLeft(p)
		r.t.bytes.Add(int64(n))
		r.note(err)
		return n, err
	}
	r.renew(time.Now(), false)
	n, err := r.conn.Read(p)
	// With the mark raised, a deadline ends a wait, not the upload: read
	// what has come below the mark, or wait on until no byte has come for
	// the stall timeout.
	for err != nil && r.lowat && isTimeout(err) {
		if r.t.draining() {
			// ABOR: the drain's deadline has passed, and the mark
			// hid what came before it. Take that (and no more): a
			// read past its deadline would not even look, so these
			// reads have none, and they don't wait, the bytes are
			// there.
			r.lowerLowat()
			if q, qerr := queued(r.tcp); qerr == nil && q > 0 {
				r.left = q
				n, err = r.readLeft(p)
			}
			break
		}
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
	r.note(err)
	return n, err
}

// note records how a read ended: failed, or at the end of the data.
func (r *meteredReader) note(err error) {
	switch {
	case err == io.EOF:
		r.ended = true
	case err != nil:
		r.failed = true
	}
}

// readLeft reads up to r.left bytes that are queued already, without a
// deadline, then puts the drain's (past) deadline back.
func (r *meteredReader) readLeft(p []byte) (int, error) {
	if len(p) > r.left {
		p = p[:r.left]
	}
	r.conn.SetReadDeadline(time.Time{})
	n, err := r.conn.Read(p)
	r.conn.SetReadDeadline(r.t.limit(time.Time{}))
	r.left -= n
	if n == 0 {
		r.left = 0
	}
	return n, err
}

// Package ascii converts line endings for FTP's ASCII transfer type
// (TYPE A). RFC 959 §3.1.1.1 sends ASCII data as NVT-ASCII, whose lines end
// with CRLF, while the files the server stores end lines with a bare LF:
// CRLFWriter converts on the way out (RETR), LFWriter on the way in (STOR,
// APPE).
//
// Both writers keep the little state they need across Write calls, so a
// CRLF split between two network reads is handled as one line ending, and
// both convert into one fixed buffer allocated with the writer, so a
// transfer costs no allocation per Write.
package ascii

import (
	"bytes"
	"errors"
	"io"
)

// bufSize is the size of a writer's output buffer. 64 KiB is twice the
// 32 KiB chunks io.Copy uses, so even a chunk made only of LFs, which
// CRLFWriter doubles, goes out in one call to the underlying Write.
const bufSize = 64 << 10

// CRLFWriter converts line endings from LF to CRLF for ASCII-mode
// downloads (RFC 959 §3.1.1.1). Every LF not preceded by a CR becomes
// CRLF; an existing CRLF, and a lone CR, pass through unchanged, so that a
// file that already has CRLF endings is not given CRCRLF.
//
// Write converts and writes through everything it is given before it
// returns, so there is nothing to flush.
type CRLFWriter struct {
	w   io.Writer
	cr  bool  // the last byte written was a CR
	err error // sticky: once w has failed, the output is unknown
	n   int   // bytes used in buf
	buf [bufSize]byte
}

// NewCRLFWriter returns a CRLFWriter that writes to w.
func NewCRLFWriter(w io.Writer) *CRLFWriter {
	return &CRLFWriter{w: w}
}

// Reset discards any error and state and makes cw write to w, so that one
// writer (and its buffer) can serve many transfers.
func (cw *CRLFWriter) Reset(w io.Writer) {
	cw.w, cw.cr, cw.err, cw.n = w, false, nil, 0
}

// Write converts p and writes the result to the underlying writer, in
// calls of up to 64 KiB. It returns len(p) on success. If the underlying
// writer fails, Write returns that error and a count of the bytes of p
// whose converted form was written in full; the error is sticky, because
// how much of the failed chunk reached the destination is unknown.
func (cw *CRLFWriter) Write(p []byte) (int, error) {
	if cw.err != nil {
		return 0, cw.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Without any LF there is nothing to convert: skip the copy.
	if bytes.IndexByte(p, '\n') < 0 {
		if err := cw.write(p); err != nil {
			return 0, err
		}
		cw.cr = p[len(p)-1] == '\r'
		return len(p), nil
	}
	done := 0 // bytes of p whose output has been written
	i := 0
	for i < len(p) {
		end := len(p)
		if j := bytes.IndexByte(p[i:], '\n'); j >= 0 {
			end = i + j
		}
		if end > i {
			cw.cr = p[end-1] == '\r'
		}
		for i < end {
			c := copy(cw.buf[cw.n:], p[i:end])
			cw.n += c
			i += c
			if cw.n == len(cw.buf) {
				if err := cw.flush(); err != nil {
					return done, err
				}
				done = i
			}
		}
		if i == len(p) {
			break
		}
		// p[i] is an LF.
		if len(cw.buf)-cw.n < 2 {
			if err := cw.flush(); err != nil {
				return done, err
			}
			done = i
		}
		if !cw.cr {
			cw.buf[cw.n] = '\r'
			cw.n++
		}
		cw.buf[cw.n] = '\n'
		cw.n++
		cw.cr = false
		i++
	}
	if err := cw.flush(); err != nil {
		return done, err
	}
	return len(p), nil
}

// flush writes the buffered output.
func (cw *CRLFWriter) flush() error {
	if cw.n == 0 {
		return nil
	}
	err := cw.write(cw.buf[:cw.n])
	cw.n = 0
	return err
}

// write writes b to the underlying writer and records any failure.
func (cw *CRLFWriter) write(b []byte) error {
	cw.err = writeAll(cw.w, b)
	return cw.err
}

// errClosed is returned by a Write or Close after Close.
var errClosed = errors.New("ascii: LFWriter used after Close")

// LFWriter converts line endings from CRLF to LF for ASCII-mode uploads
// (RFC 959 §3.1.1.1). Each CRLF becomes LF; a CR not followed by LF is
// kept as it is. A CR at the end of one Write is held back until the next
// Write (or Close) shows whether an LF follows it.
//
// Close must be called at the end of the data. It writes a held-back final
// CR: unlike pyftpdlib, which drops it, we keep it, because a lone CR is
// not a line ending and the client sent it as data.
type LFWriter struct {
	w      io.Writer
	cr     bool // a CR is held back
	closed bool
	err    error // sticky: once w has failed, the output is unknown
	n      int   // bytes used in buf
	buf    [bufSize]byte
}

// NewLFWriter returns an LFWriter that writes to w.
func NewLFWriter(w io.Writer) *LFWriter {
	return &LFWriter{w: w}
}

// Reset discards any error, held-back CR and closed state and makes lw
// write to w, so that one writer (and its buffer) can serve many
// transfers.
func (lw *LFWriter) Reset(w io.Writer) {
	lw.w, lw.cr, lw.closed, lw.err, lw.n = w, false, false, nil, 0
}

// Write converts p and writes the result to the underlying writer, in
// calls of up to 64 KiB, except for a final CR, which it holds back. It
// returns len(p) on success. If the underlying writer fails, Write returns
// that error and a count of the bytes of p whose converted form was written
// in full; the error is sticky, because how much of the failed chunk
// reached the destination is unknown.
func (lw *LFWriter) Write(p []byte) (int, error) {
	if lw.err != nil {
		return 0, lw.err
	}
	if lw.closed {
		return 0, errClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Without any CR, pending or in p, there is nothing to convert: skip
	// the copy.
	if !lw.cr && bytes.IndexByte(p, '\r') < 0 {
		if err := lw.write(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	done := 0 // bytes of p whose output has been written
	i := 0
	if lw.cr {
		// The held-back CR is decided by p[0]. At most one byte goes out
		// and the buffer is empty between Writes, so there is room.
		lw.cr = false
		if p[0] == '\n' {
			lw.buf[lw.n] = '\n'
			i = 1
		} else {
			lw.buf[lw.n] = '\r'
		}
		lw.n++
	}
	for i < len(p) {
		end := len(p)
		if j := bytes.IndexByte(p[i:], '\r'); j >= 0 {
			end = i + j
		}
		for i < end {
			c := copy(lw.buf[lw.n:], p[i:end])
			lw.n += c
			i += c
			if lw.n == len(lw.buf) {
				if err := lw.flush(); err != nil {
					return done, err
				}
				done = i
			}
		}
		if i == len(p) {
			break
		}
		// p[i] is a CR.
		if i+1 == len(p) {
			lw.cr = true
			break
		}
		if lw.n == len(lw.buf) {
			if err := lw.flush(); err != nil {
				return done, err
			}
			done = i
		}
		if p[i+1] == '\n' {
			lw.buf[lw.n] = '\n'
			i += 2
		} else {
			lw.buf[lw.n] = '\r'
			i++
		}
		lw.n++
	}
	if err := lw.flush(); err != nil {
		return done, err
	}
	return len(p), nil
}

// Close writes a held-back final CR, if any, and returns any error from
// the underlying writer. It does not close the underlying writer. After
// Close, Write fails; Close itself may be called again.
func (lw *LFWriter) Close() error {
	if lw.err != nil {
		return lw.err
	}
	lw.closed = true
	if !lw.cr {
		return nil
	}
	lw.cr = false
	lw.buf[0] = '\r'
	return lw.write(lw.buf[:1])
}

// flush writes the buffered output.
func (lw *LFWriter) flush() error {
	if lw.n == 0 {
		return nil
	}
	err := lw.write(lw.buf[:lw.n])
	lw.n = 0
	return err
}

// write writes b to the underlying writer and records any failure.
func (lw *LFWriter) write(b []byte) error {
	lw.err = writeAll(lw.w, b)
	return lw.err
}

// writeAll writes b to w, turning a short write without an error into
// io.ErrShortWrite as the io.Writer contract requires of w anyway.
func writeAll(w io.Writer, b []byte) error {
	n, err := w.Write(b)
	if err != nil {
		return err
	}
	if n != len(b) {
		return io.ErrShortWrite
	}
	return nil
}

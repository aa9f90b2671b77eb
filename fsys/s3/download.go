package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier"
)

// readAheadParts is how many parts (Options.PartSize each) a download
// reads ahead at most, each with a ranged GetObject of its own, all in
// flight at once: with the one being read, up to five requests at the
// store for one download. It starts with one (see download.window).
const readAheadParts = 4

// readAheadMinParts is how many parts a download must have left after
// the part boundary where it would start reading ahead (72 MiB and more
// with 8 MiB parts, from the start): on a local versitygw, a 64 MiB
// download was no faster with parts read ahead, and a process's first
// ones cost it the page faults of their fresh buffers.
const readAheadMinParts = 8

// errReplaced fails a download whose object was replaced after its first
// GET: a part read ahead (or a stream opened again) would come from the
// new object, and the client would get a file that is neither.
var errReplaced = &pier.ReplyError{Code: 451, Message: "Requested action aborted: the file was replaced during the download; try again."}

// download opens a GetObject of name, from offset, and returns it as a
// download.
func (f *FS) download(ctx context.Context, name string, offset int64) (pier.File, error) {
	if name == "." {
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	out, gctx, stop, err := f.get(ctx, name, offset)
	if err != nil {
		if code, status := errorCode(err); offset > 0 && (code == "InvalidRange" || status == 416) {
			// A range that starts at the end: nothing left to read.
			return &download{name: name, pos: offset, size: offset}, nil
		}
		return nil, mapErr("open", name, err)
	}
	return f.newDownload(gctx, stop, name, offset, out), nil
}

// get makes a download's first GetObject, from offset, in a context of
// its own that the download keeps (ended by stop, or by ctx). The wait
// for the reply is bounded by the page timeout, as a look-up's; the
// reading of the body after it is not (pier's data timeout bounds a
// stalled transfer).
func (f *FS) get(ctx context.Context, name string, offset int64) (*awss3.GetObjectOutput, context.Context, context.CancelFunc, error) {
	key := f.key(name)
	in := &awss3.GetObjectInput{Bucket: &f.bucket, Key: &key}
	if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	gctx, stop := context.WithCancel(ctx)
	timer := time.AfterFunc(f.pageTimeout, stop)
	out, err := f.client.GetObject(gctx, in)
	if !timer.Stop() && err == nil {
		// The reply came as the timeout ended the context: its body
		// can't be read.
		out.Body.Close()
		err = gctx.Err()
	}
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return out, gctx, stop, nil
}

// newDownload is the download of out, the GET from offset made in ctx,
// which stop ends.
func (f *FS) newDownload(ctx context.Context, stop context.CancelFunc, name string, offset int64, out *awss3.GetObjectOutput) *download {
	d := &download{fs: f, name: name, key: f.key(name), body: out.Body, pos: offset, size: -1, bodyEnd: -1, window: 1}
	d.ctx, d.stop = ctx, stop
	if out.ContentLength != nil && aws.ToString(out.ETag) != "" {
		// The parts read ahead must come from this object: they are
		// asked for with If-Match of its ETag.
		d.size = offset + *out.ContentLength
		d.bodyEnd = d.size
		d.etag = out.ETag
	}
	return d
}

// OpenInfo implements pier.OpenInfoFS: RETR's GET says what Stat's HEAD
// would (the object's size and time), so a download is one request
// rather than two. A REST offset at the object's end (the GET's 416)
// is checked with a HEAD here: an empty download, two requests for a
// resumed download that is already complete. Every other failure is
// left to pier, which then asks Stat what name is: a folder or nothing
// (the GET's 404), an offset beyond the end, a reply without the
// object's size.
func (f *FS) OpenInfo(ctx context.Context, name string, offset int64) (pier.File, fs.FileInfo, error) {
	if name == "." {
		return nil, nil, pathErr("open", name, syscall.EISDIR)
	}
	out, gctx, stop, err := f.get(ctx, name, offset)
	if err != nil {
		if code, status := errorCode(err); offset > 0 && (code == "InvalidRange" || status == 416) {
			// REST at the end, most likely (a client resuming a file it
			// has whole): one HEAD tells, where pier's look-up and open
			// would take a HEAD and a GET. Anything else is pier's to
			// say, from its own look-up (554 past the end).
			if fi, serr := f.Stat(ctx, name); serr == nil && !fi.IsDir() && fi.Size() == offset {
				return &download{name: name, pos: offset, size: offset}, fi, nil
			}
		}
		return nil, nil, mapErr("open", name, err)
	}
	size, ok := objectSize(out, offset)
	if !ok {
		out.Body.Close()
		stop()
		return nil, nil, pathErr("open", name, errNoSize)
	}
	fi := &info{name: path.Base(name), size: size, modTime: timeOf(out.Metadata, out.LastModified)}
	return f.newDownload(gctx, stop, name, offset, out), fi, nil
}

// errNoSize is a GET whose reply doesn't give the object's size.
var errNoSize = errors.New("the store's reply has no object size")

// objectSize is the size of the whole object a GET from offset answered:
// its Content-Length, or after a range the total of its Content-Range
// ("bytes 100-199/200").
func objectSize(out *awss3.GetObjectOutput, offset int64) (int64, bool) {
	if offset == 0 {
		if out.ContentLength == nil {
			return 0, false
		}
		return *out.ContentLength, true
	}
	cr := aws.ToString(out.ContentRange)
	i := strings.LastIndexByte(cr, '/')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(cr[i+1:], 10, 64)
	if err != nil || n < offset {
		return 0, false
	}
	return n, true
}

// download is a read handle: a streamed GetObject of the object from the
// offset it was opened at, and, for a large object, the parts after it
// read ahead in parallel, while Buffers has part buffers free.
//
// Reading ahead is what a direct S3 client does to go faster than one
// stream allows: each part is a ranged GetObject of its own (with
// If-Match of the first reply's ETag, so that a replaced object fails the
// download with errReplaced rather than mixing two objects), window of
// them in flight, each read into a buffer taken from Options.Buffers
// only if one is free at that moment (see Buffers.tryAhead): a download
// never waits for memory, and holds none when none is free; it streams
// instead, as it starts. The first stream, from the open to the object's
// end, is cut at a part's boundary once the part after it is read ahead,
// if readAheadMinParts parts are left after that boundary: smaller
// objects are one GET. Where no part could be read ahead, the stream is
// opened again at the byte Read got to, for up to readAheadParts parts.
//
// Every request is bound to the context the file was opened with, and
// ends with Close, so a cancelled transfer ends them. It needs no Abort:
// a download that stops early has nothing to undo.
type download struct {
	fs   *FS
	ctx  context.Context    // the open's, for the requests after the first
	stop context.CancelFunc // ends them (Close)
	name string
	key  string
	etag *string // the first reply's, that the later requests match
	pos  int64   // offset in the object of the next byte Read returns
	size int64   // the object's size, -1 if unknown: no reading ahead

	// body streams the object's bytes from pos to bodyEnd (nil between
	// streams).
	body    io.ReadCloser
	bodyEnd int64
	// cur is the part being read from memory, if any; ahead are the
	// parts read ahead, in order: the first starts where body or cur
	// ends, each where the one before ends.
	cur   *aheadPart
	ahead []*aheadPart
	// window is how many parts are read ahead: one at first, one more
	// (up to readAheadParts) each time Read had to wait for a part, as
	// the store is then slower than the client. A slow client never
	// makes it wait, and so holds one or two part buffers, not five.
	window  int
	fetched int    // parts read ahead so far (for the tests)
	onWait  func() // called when Read is about to wait for a part (for the tests)

	err    error // the first failure, returned by every later Read
	closed bool
}

// aheadPart is one part read ahead: its bytes go into buf, from the
// object's offset start, until done is closed.
type aheadPart struct {
	start int64
	buf   []byte
	off   int // how much of buf Read has returned
	done  chan struct{}
	err   error // set before done is closed
}

// Read reads the object's next bytes.
func (d *download) Read(p []byte) (int, error) {
	if err := d.usable(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		switch {
		case d.cur != nil:
			n := copy(p, d.cur.buf[d.cur.off:])
			d.consumed(n)
			return n, nil
		case d.body != nil:
			return d.readBody(p)
		}
		if err := d.advance(); err != nil {
			return 0, err
		}
	}
}

// writeChunk is the most SendTo gives w at once from a part read ahead.
const writeChunk = 256 << 10

// streamBufs holds SendTo's buffers for the streams (the parts read
// ahead need none).
var streamBufs = sync.Pool{New: func() any { b := make([]byte, writeChunk); return &b }}

var _ pier.Sender = (*download)(nil)

// SendTo implements pier.Sender: it writes the rest of the object to w,
// the parts read ahead straight from their buffers, writeChunk bytes at
// a time, the streams through a buffer of writeChunk bytes. It returns
// nil at the object's end, and an error from w as it is; after one, the
// download can't be read further (the bytes w did not take are lost).
func (d *download) SendTo(w io.Writer) (int64, error) {
	var total int64
	var bp *[]byte
	defer func() {
		if bp != nil {
			streamBufs.Put(bp)
		}
	}()
	for {
		if err := d.usable(); err != nil {
			return total, err
		}
		switch {
		case d.cur != nil:
			p := d.cur.buf[d.cur.off:]
			p = p[:min(len(p), writeChunk)]
			n, err := w.Write(p)
			total += int64(n)
			d.consumed(n)
			if err == nil && n < len(p) {
				err = io.ErrShortWrite
			}
			if err != nil {
				return total, err
			}
		case d.body != nil:
			if bp == nil {
				bp = streamBufs.Get().(*[]byte)
			}
			n, rerr := d.readBody(*bp)
			if n > 0 {
				m, err := w.Write((*bp)[:n])
				total += int64(m)
				if err == nil && m < n {
					err = io.ErrShortWrite
				}
				if err != nil {
					// pos is past bytes w did not take.
					d.err = fmt.Errorf("s3: download of %s cut by a failed write: %w", d.name, err)
					return total, err
				}
			}
			if rerr == io.EOF {
				return total, nil
			}
			if rerr != nil {
				return total, rerr
			}
		default:
			if err := d.advance(); err == io.EOF {
				return total, nil
			} else if err != nil {
				return total, err
			}
		}
	}
}

// usable says why the download can't be read any more, if it can't.
func (d *download) usable() error {
	if d.closed {
		return os.ErrClosed
	}
	return d.err
}

// consumed moves past n bytes of the part being read from memory, gives
// its buffer back once it is read, and reads ahead.
func (d *download) consumed(n int) {
	d.cur.off += n
	d.pos += int64(n)
	if d.cur.off == len(d.cur.buf) {
		d.fs.buffers.putAhead(d.cur.buf)
		d.cur = nil
	}
	d.readAhead()
}

// advance makes the next bytes readable, when neither a part nor a stream
// has them: the first part read ahead, once it is there, or a stream
// opened again; io.EOF at the object's end.
func (d *download) advance() error {
	switch {
	case d.size < 0 || d.pos >= d.size:
		return io.EOF
	case len(d.ahead) > 0:
		return d.next()
	default:
		return d.stream()
	}
}

// readBody reads from the stream, up to its end, and reads ahead after
// it if it can.
func (d *download) readBody(p []byte) (int, error) {
	if d.bodyEnd >= 0 {
		p = p[:min(int64(len(p)), d.bodyEnd-d.pos)]
	}
	n, err := d.body.Read(p)
	d.pos += int64(n)
	switch {
	case d.bodyEnd >= 0 && d.pos == d.bodyEnd:
		// Its end, or the boundary it was cut at: the rest was read
		// ahead.
		d.body.Close()
		d.body, err = nil, nil
	case err == io.EOF && d.bodyEnd >= 0:
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		return n, d.fail(err)
	}
	if n > 0 {
		d.readAhead()
	}
	return n, err
}

// next makes the first part read ahead, once its GET is done, the one
// to read from.
func (d *download) next() error {
	pt := d.ahead[0]
	select {
	case <-pt.done:
	default:
		d.window = min(d.window+1, readAheadParts)
		if d.onWait != nil {
			d.onWait()
		}
		select {
		case <-pt.done:
		case <-d.ctx.Done():
			return d.fail(d.ctx.Err())
		}
	}
	d.ahead = d.ahead[1:]
	d.cur = pt
	if pt.err != nil {
		return d.fail(pt.err)
	}
	return nil
}

// stream opens the stream again at pos, when no part was read ahead
// there, for up to readAheadParts parts (so that reading ahead can start
// again after them without cutting it).
func (d *download) stream() error {
	end := min(d.size, d.pos+readAheadParts*int64(d.fs.partSize))
	out, err := d.fs.client.GetObject(d.ctx, &awss3.GetObjectInput{
		Bucket:  &d.fs.bucket,
		Key:     &d.key,
		Range:   aws.String(fmt.Sprintf("bytes=%d-%d", d.pos, end-1)),
		IfMatch: d.etag,
	})
	if err != nil {
		return d.fail(err)
	}
	d.body, d.bodyEnd = out.Body, end
	return nil
}

// readAhead starts GETs of the parts after those already read or being
// read, up to window, while Buffers has buffers free.
func (d *download) readAhead() {
	if d.size < 0 || d.etag == nil {
		return
	}
	ps := int64(d.fs.partSize)
	for len(d.ahead) < d.window {
		var start int64
		cut := false
		switch {
		case len(d.ahead) > 0:
			last := d.ahead[len(d.ahead)-1]
			start = last.start + int64(len(last.buf))
		case d.cur != nil:
			start = d.cur.start + int64(len(d.cur.buf))
		case d.body != nil:
			// Cut the stream at the part boundary after pos if
			// enough is left after it; else read ahead after its end.
			start = (d.pos/ps + 1) * ps
			if cut = start < d.bodyEnd; cut && d.size-start < d.fs.readAheadMin {
				return
			}
			if !cut {
				start = d.bodyEnd
			}
		default:
			return
		}
		if start >= d.size {
			return
		}
		n := min(ps, d.size-start)
		buf, ok := d.fs.buffers.tryAhead(int(ps))
		if !ok {
			return
		}
		if cut {
			d.bodyEnd = start
		}
		pt := &aheadPart{start: start, buf: buf[:n], done: make(chan struct{})}
		d.ahead = append(d.ahead, pt)
		d.fetched++
		go d.fetch(pt)
	}
}

// fetch reads a part ahead, in its own goroutine.
func (d *download) fetch(pt *aheadPart) {
	defer close(pt.done)
	out, err := d.fs.client.GetObject(d.ctx, &awss3.GetObjectInput{
		Bucket:  &d.fs.bucket,
		Key:     &d.key,
		Range:   aws.String(fmt.Sprintf("bytes=%d-%d", pt.start, pt.start+int64(len(pt.buf))-1)),
		IfMatch: d.etag,
	})
	if err != nil {
		pt.err = err
		return
	}
	_, pt.err = io.ReadFull(out.Body, pt.buf)
	out.Body.Close()
}

// fail records the download's first failure: a replaced object is
// errReplaced, the rest as mapErr says.
func (d *download) fail(err error) error {
	if d.err == nil {
		if code, status := errorCode(err); code == "PreconditionFailed" || status == 412 {
			err = pathErr("read", d.name, errReplaced)
		} else {
			err = mapErr("read", d.name, err)
		}
		d.err = err
	}
	return d.err
}

// Write fails: the handle is for reading.
func (d *download) Write([]byte) (int, error) { return 0, pathErr("write", d.name, syscall.EBADF) }

// Close ends the download: its stream, and the parts read ahead, whose
// GETs it cancels and waits for, to give their buffers back.
func (d *download) Close() error {
	if d.closed {
		return os.ErrClosed
	}
	d.closed = true
	if d.stop == nil {
		return nil // nothing was left to read
	}
	d.stop()
	var err error
	if d.body != nil {
		err = d.body.Close()
	}
	if d.cur != nil {
		d.fs.buffers.putAhead(d.cur.buf)
	}
	for _, pt := range d.ahead {
		<-pt.done
		d.fs.buffers.putAhead(pt.buf)
	}
	d.cur, d.ahead = nil, nil
	return err
}

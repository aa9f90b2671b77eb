package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pierftp/pier"
)

// OpenFile opens an object for a download from its start (a streamed
// GetObject), or for an upload (see upload). pier never opens with
// os.O_RDWR: an object is read or written, never both.
//
// os.O_APPEND (APPE) starts the new object with the old one's bytes: a
// server-side UploadPartCopy for objects of MinPartSize or more, a
// download and upload again of smaller ones. os.O_WRONLY without
// os.O_TRUNC or os.O_APPEND keeps the old bytes after those written, as a
// disk would; only for objects up to Options.PartSize
// (pier.ErrNotSupported beyond; pier itself uses OpenFileAt for REST).
func (f *FS) OpenFile(ctx context.Context, name string, flag int, _ fs.FileMode) (pier.File, error) {
	return f.open(ctx, name, flag, 0, false)
}

// OpenFileAt opens an object at a REST offset. A download is a ranged
// GetObject from offset. An upload keeps the old object's first offset
// bytes (copied as for os.O_APPEND), then what is written; what was after
// offset is dropped, as a resumed upload sends the rest of the file.
func (f *FS) OpenFileAt(ctx context.Context, name string, flag int, _ fs.FileMode, offset int64) (pier.File, error) {
	return f.open(ctx, name, flag, offset, true)
}

func (f *FS) open(ctx context.Context, name string, flag int, offset int64, at bool) (pier.File, error) {
	if flag&os.O_RDWR != 0 {
		return nil, pathErr("open", name, pier.ErrNotSupported)
	}
	if flag&os.O_WRONLY == 0 {
		// One GET; a look at what else name is only if it isn't there.
		d, err := f.download(ctx, name, offset)
		if !errors.Is(err, fs.ErrNotExist) || name == "." {
			return d, err
		}
		k, _, lerr := f.lookup(ctx, "open", name)
		switch {
		case lerr != nil:
			return nil, lerr
		case k == folder:
			return nil, pathErr("open", name, syscall.EISDIR)
		}
		return nil, err
	}
	replace := flag&(os.O_TRUNC|os.O_EXCL) == os.O_TRUNC && !at
	look := f.lookup
	if replace {
		look = f.lookupForUpload
	}
	k, fi, err := look(ctx, "open", name)
	if err != nil {
		return nil, err
	}
	switch {
	case k != missing && flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		return nil, pathErr("open", name, fs.ErrExist)
	case k == folder:
		return nil, pathErr("open", name, syscall.EISDIR)
	case k == missing && (flag&os.O_CREATE == 0 || offset > 0):
		// Nothing to resume.
		return nil, pathErr("open", name, fs.ErrNotExist)
	case k == missing:
		if err := f.checkParent(ctx, "open", name, replace); err != nil {
			return nil, err
		}
	}
	u := &upload{fs: f, ctx: ctx, name: name, key: f.key(name), excl: flag&os.O_EXCL != 0}
	if k == file && flag&(os.O_TRUNC|os.O_EXCL) == 0 {
		switch {
		case flag&os.O_APPEND != 0: // APPE: all of the old bytes
			err = u.keepHead(fi.size)
		case at: // after REST: the first offset of them
			if offset > fi.size {
				return nil, &pier.ReplyError{Code: 554, Message: "REST position beyond the end of the file."}
			}
			err = u.keepHead(offset)
		default:
			err = u.keepTail(fi.size)
		}
	}
	if err == nil && u.buf == nil {
		// Its first part buffer now, waiting while all are taken: pier
		// opens an upload before its 150 (CommitsOnClose), so a client
		// isn't told to send while there is nowhere to put its bytes.
		err = u.takeBuffer()
	}
	if err != nil {
		u.Abort(err)
		return nil, err
	}
	return u, nil
}

// CommitsOnClose reports true: an upload changes nothing until Close
// commits it (see pier.CommitOnCloseFS), so pier opens uploads before
// its 150, and each waits there for its first part buffer.
func (f *FS) CommitsOnClose() bool { return true }

// upload is a write handle. What is written fills a part buffer
// (Options.PartSize, taken from Options.Buffers); an upload that never
// fills one is a single PutObject in Close. So is one that never fills
// two, if a second buffer was free at once when the first filled: the
// first part is then held back (head) while the second fills, as one
// request costs the store less than four (create, two parts, complete:
// versitygw took a fifth less CPU time for 10 MiB files, and S3 bills
// requests). A larger one is a multipart upload: each full buffer is sent
// as a part (UploadPart, in the background) while the next fills, up to
// maxPartsInFlight parts at once (see nextBuffer for the buffers that
// takes); Close sends the last part, waits for all of them and completes
// the upload (CompleteMultipartUpload). Until then readers get the old
// object, if any. A failed part fails the upload; Abort, or a failed
// Close, waits for the parts in flight to end (see settleParts) and
// aborts it (AbortMultipartUpload): no part lingers, and the old object
// stays as it was. Every request is bound to the context the file was
// opened with, but the parts (which end with the upload) and the abort.
//
// It is not an io.Seeker: there is nowhere to seek in an object being
// written. pier calls Write, then exactly one of Close and Abort, from one
// goroutine at a time.
type upload struct {
	fs   *FS
	ctx  context.Context
	name string
	key  string
	excl bool // STOU: the key must still be free at commit

	// buf is the part being filled (taken by the open): its
	// first n bytes are the part, and the next Write goes at pos (below
	// n only when an old object's tail is kept).
	buf    []byte
	n, pos int
	// head is the first part, full, held back while the second fills
	// in buf, for a single PutObject of both (nil if none).
	head []byte

	uploadID string // once the multipart upload is created
	// parts are the parts started, in order; one still in flight has
	// no ETag yet.
	parts []types.CompletedPart
	// results is where the parts in flight report (made with the first
	// part); partCtx, their context, ends with stopParts, not with the
	// transfer's (see settleParts).
	results   chan partResult
	partCtx   context.Context
	stopParts context.CancelFunc
	inflight  int // parts sent and not yet collected
	peak      int // the most parts in flight at once (for the tests)

	err  error // the first failure: only Abort is left
	done bool
}

// maxPartsInFlight is how many parts an upload sends at once, at most:
// with the one filling, up to five part buffers. Only its first two are
// waited for; it takes the others only when Options.Buffers has one free
// at once (see nextBuffer).
const maxPartsInFlight = 4

// maxParts is the most parts of a multipart upload S3 takes.
const maxParts = 10000

// errTooLarge fails an upload beyond maxParts parts (78 GiB of 8 MiB
// parts), with RFC 959's reply for an exceeded storage allocation.
var errTooLarge = &pier.ReplyError{Code: 552, Message: "File too large for this storage.", Err: syscall.EFBIG}

// partResult is how a part's UploadPart ended: i is its index in
// upload.parts; buf is its buffer, to reuse or give back.
type partResult struct {
	i    int
	etag *string
	buf  []byte
	err  error
}

// Write adds p to the object. A failed part (or a context that ended)
// fails this Write or a later one.
func (u *upload) Write(p []byte) (int, error) {
	if u.done {
		return 0, os.ErrClosed
	}
	if u.err != nil {
		return 0, u.err
	}
	written := 0
	for len(p) > 0 {
		if u.buf == nil {
			if err := u.takeBuffer(); err != nil {
				return written, err
			}
		}
		if u.pos == len(u.buf) {
			if err := u.full(); err != nil {
				return written, err
			}
		}
		c := copy(u.buf[u.pos:], p)
		u.pos += c
		u.n = max(u.n, u.pos)
		p = p[c:]
		written += c
	}
	return written, nil
}

var _ pier.Receiver = (*upload)(nil)

// ReceiveFrom reads r into the part buffers until r ends (pier.Receiver):
// what Write does, without the copy from the caller's buffer. Two reads
// go through a small buffer of its own and Write instead: over an old
// object's kept tail (OpenFile with O_WRONLY alone), as a Read may use
// all of its buffer as scratch space; and the first read after a part
// has filled, so that the part is handed on (full) only once bytes come
// for the next one, as with Write: an upload that ends on a part's
// boundary is then no different. r's errors are returned as they are,
// io.EOF as nil; the upload's own as Write returns them.
func (u *upload) ReceiveFrom(r io.Reader) (int64, error) {
	var total int64
	var small []byte
	for {
		if u.done {
			return total, os.ErrClosed
		}
		if u.err != nil {
			return total, u.err
		}
		if u.buf == nil {
			if err := u.takeBuffer(); err != nil {
				return total, err
			}
		}
		var n int
		var err error
		if u.pos < u.n || u.pos == len(u.buf) {
			if small == nil {
				small = make([]byte, 64<<10)
			}
			p := small
			if u.pos < u.n {
				p = p[:min(len(p), u.n-u.pos)]
			}
			n, err = r.Read(p)
			if n > 0 {
				if _, werr := u.Write(p[:n]); werr != nil {
					return total, werr
				}
			}
		} else {
			n, err = r.Read(u.buf[u.pos:])
			u.pos += n
			u.n = max(u.n, u.pos)
		}
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// takeBuffer takes a first part buffer.
func (u *upload) takeBuffer() error {
	buf, err := u.fs.buffers.get(u.ctx, u.fs.partSize)
	if err != nil {
		return u.fail(err)
	}
	u.buf, u.n, u.pos = buf, 0, 0
	return nil
}

// fail records the upload's first failure.
func (u *upload) fail(err error) error {
	if u.err == nil {
		u.err = mapErr("write", u.name, err)
	}
	return u.err
}

// create starts the multipart upload.
func (u *upload) create() error {
	if u.uploadID != "" {
		return nil
	}
	out, err := u.fs.client.CreateMultipartUpload(u.ctx, &awss3.CreateMultipartUploadInput{Bucket: &u.fs.bucket, Key: &u.key})
	if err != nil {
		return u.fail(err)
	}
	u.uploadID = aws.ToString(out.UploadId)
	return nil
}

// keepHead starts the upload with the old object's first n bytes: copied
// server-side (UploadPartCopy, in parts of up to MaxCopySize) from
// MinPartSize up, read into the first part buffer below.
func (u *upload) keepHead(n int64) error {
	if n == 0 {
		return nil
	}
	if n < MinPartSize {
		if err := u.takeBuffer(); err != nil {
			return err
		}
		return u.readOld(n)
	}
	if err := u.create(); err != nil {
		return err
	}
	chunks := (n + MaxCopySize - 1) / MaxCopySize
	size := (n + chunks - 1) / chunks
	src := u.fs.copySource(u.key)
	for start := int64(0); start < n; start += size {
		end := min(start+size, n) - 1
		num := int32(len(u.parts) + 1)
		out, err := u.fs.client.UploadPartCopy(u.ctx, &awss3.UploadPartCopyInput{
			Bucket:          &u.fs.bucket,
			Key:             &u.key,
			UploadId:        &u.uploadID,
			PartNumber:      &num,
			CopySource:      &src,
			CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", start, end)),
		})
		if err != nil {
			return u.fail(err)
		}
		var etag *string
		if out.CopyPartResult != nil {
			etag = out.CopyPartResult.ETag
		}
		u.parts = append(u.parts, types.CompletedPart{ETag: etag, PartNumber: &num})
	}
	return nil
}

// keepTail reads the old object, of size bytes, into the first part
// buffer, for writes to go over its start.
func (u *upload) keepTail(size int64) error {
	if size > int64(u.fs.partSize) {
		return pathErr("open", u.name, pier.ErrNotSupported)
	}
	if err := u.takeBuffer(); err != nil {
		return err
	}
	if err := u.readOld(size); err != nil {
		return err
	}
	u.pos = 0
	return nil
}

// readOld reads the old object's first n bytes into the buffer.
func (u *upload) readOld(n int64) error {
	if n == 0 {
		return nil
	}
	out, err := u.fs.client.GetObject(u.ctx, &awss3.GetObjectInput{
		Bucket: &u.fs.bucket,
		Key:    &u.key,
		Range:  aws.String(fmt.Sprintf("bytes=0-%d", n-1)),
	})
	if err != nil {
		return u.fail(err)
	}
	defer out.Body.Close()
	if _, err := io.ReadFull(out.Body, u.buf[:n]); err != nil {
		return u.fail(err)
	}
	u.n, u.pos = int(n), int(n)
	return nil
}

// Close commits the upload: one PutObject, or the last part and
// CompleteMultipartUpload; for STOU (os.O_EXCL) with If-None-Match, so
// that an object written meanwhile by another client is not replaced
// (fs.ErrExist). Until it returns nil the
// old object, if any, is what readers get; pier replies 226 only if it
// does. A failure aborts the multipart upload.
func (u *upload) Close() error {
	if u.done {
		return os.ErrClosed
	}
	if u.err != nil {
		u.Abort(u.err)
		return u.err
	}
	if err := u.commit(); err != nil {
		err = u.fail(err)
		u.Abort(err)
		return err
	}
	u.done = true
	u.release()
	if u.stopParts != nil {
		u.stopParts()
	}
	return nil
}

func (u *upload) commit() error {
	defer u.fs.recent.forget()
	if u.uploadID == "" {
		var body io.ReadSeeker = bytes.NewReader(u.buf[:u.n])
		if u.head != nil {
			body = newTwoReader(u.head, u.buf[:u.n])
		}
		in := &awss3.PutObjectInput{
			Bucket:        &u.fs.bucket,
			Key:           &u.key,
			Body:          body,
			ContentLength: aws.Int64(int64(len(u.head) + u.n)),
		}
		if u.excl {
			in.IfNoneMatch = aws.String("*")
		}
		_, err := u.fs.client.PutObject(u.ctx, in)
		return err
	}
	if u.n > 0 {
		// The last part, once there is room for it in flight.
		if err := u.await(maxPartsInFlight - 1); err != nil {
			return err
		}
		u.startPart(u.buf, u.n)
		u.buf, u.n, u.pos = nil, 0, 0
	}
	if err := u.await(0); err != nil {
		return err
	}
	in := &awss3.CompleteMultipartUploadInput{
		Bucket:          &u.fs.bucket,
		Key:             &u.key,
		UploadId:        &u.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
	}
	if u.excl {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := u.fs.client.CompleteMultipartUpload(u.ctx, in); err != nil {
		return err
	}
	u.uploadID = ""
	return nil
}

// Abort discards the upload, whatever the reason (ABOR, a lost data or
// control connection, a timeout, a shutdown): no object is written, and a
// multipart upload's parts in flight are waited for (settleParts), then
// the upload is aborted, with a context of its own
// (Options.AbortTimeout) since the transfer's may have ended. The old
// object, if any, stays as it was.
func (u *upload) Abort(reason error) error {
	if u.done {
		return os.ErrClosed
	}
	u.done = true
	if u.stopParts != nil {
		u.settleParts()
	}
	u.release()
	if u.uploadID == "" {
		return nil
	}
	err := u.fs.abortMultipart(u.ctx, u.key, u.uploadID)
	u.uploadID = ""
	if err != nil {
		return mapErr("abort", u.name, err)
	}
	return nil
}

// settleParts waits for the parts in flight to end, for up to
// Options.AbortTimeout, then cancels those left and waits for them. A
// part cancelled on the client's side may still be stored after the
// multipart upload was aborted, if the store had its bytes already:
// versitygw then makes the upload pending again (S3 says an abort may
// have to be repeated for parts in progress). So the transfer's end
// doesn't cancel the parts, and an abort lets them end first: what they
// cost is at most maxPartsInFlight parts sent for nothing.
func (u *upload) settleParts() {
	timeout := time.NewTimer(u.fs.settleWait)
	defer timeout.Stop()
	for u.inflight > 0 {
		select {
		case res := <-u.results:
			buf, _ := u.collect(res)
			u.fs.buffers.put(buf)
		case <-timeout.C:
			u.stopParts()
			u.waitAll()
			return
		}
	}
	u.stopParts()
}

// release gives back the buffer being filled, and the part held back.
func (u *upload) release() {
	if u.buf != nil {
		u.fs.buffers.put(u.buf)
		u.buf = nil
	}
	if u.head != nil {
		u.fs.buffers.put(u.head)
		u.head = nil
	}
}

// twoReader reads two byte slices one after the other, and seeks, as
// the SDK needs to sign a body sent over plain HTTP (it reads it for its
// SHA-256, then again to send it).
type twoReader struct {
	a, b []byte
	off  int64
}

func newTwoReader(a, b []byte) *twoReader { return &twoReader{a: a, b: b} }

func (r *twoReader) size() int64 { return int64(len(r.a) + len(r.b)) }

func (r *twoReader) Read(p []byte) (int, error) {
	if r.off >= r.size() {
		return 0, io.EOF
	}
	var n int
	if r.off < int64(len(r.a)) {
		n = copy(p, r.a[r.off:])
	} else {
		n = copy(p, r.b[r.off-int64(len(r.a)):])
	}
	r.off += int64(n)
	return n, nil
}

// WriteTo writes the rest in two writes at most: io.Copy uses it where it
// sees the body itself (the SDK's SHA-256 of it), rather than 32 KiB
// reads.
func (r *twoReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.off < r.size() {
		var p []byte
		if r.off < int64(len(r.a)) {
			p = r.a[r.off:]
		} else {
			p = r.b[r.off-int64(len(r.a)):]
		}
		n, err := w.Write(p)
		r.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (r *twoReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size()
	}
	if offset < 0 {
		return 0, errors.New("s3: seek before the start")
	}
	r.off = offset
	return offset, nil
}

// Read fails: the handle is for writing.
func (u *upload) Read([]byte) (int, error) { return 0, pathErr("read", u.name, syscall.EBADF) }

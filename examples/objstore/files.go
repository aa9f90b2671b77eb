package main

import (
	"context"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// upload is a write handle. It buffers what is written and PUTs the whole
// object in Close: the object appears whole, replacing the old one, or not
// at all. A real store's back-end would stream the bytes as the parts of a
// multipart upload (5 MiB at least each), complete it in Close
// (CompleteMultipartUpload) and abort it in Abort (AbortMultipartUpload,
// so that no part lingers, and bills); the outcome is the same.
//
// It is not an io.Seeker: there is nowhere to seek in an object being
// written. pier calls Write, then exactly one of Close and Abort, from one
// goroutine at a time.
type upload struct {
	fs  *FS
	ctx context.Context
	key string
	// head is kept before the written bytes (APPE, or REST+STOR); tail
	// is kept under and after them (O_WRONLY without REST). Both are the
	// old object's immutable bytes, never both set.
	head, tail []byte
	buf        []byte // what was written
	excl       bool   // STOU: the key must still be free at commit
	replaces   int64  // the size of the object the upload replaces
	done       bool
}

// size returns the new object's size once n more bytes are written.
func (u *upload) size(n int) int64 {
	return int64(len(u.head) + max(len(u.buf)+n, len(u.tail)))
}

// Write buffers p. A write that would take the user past the quota fails
// with errQuota, which pier sends as it is, after the 150: "552 Quota
// exceeded.". Close checks again, exactly, as other uploads may have
// committed meanwhile.
func (u *upload) Write(p []byte) (int, error) {
	if u.done {
		return 0, os.ErrClosed
	}
	if err := u.ctx.Err(); err != nil {
		return 0, err
	}
	if u.fs.quota > 0 && u.fs.store.Usage()-u.replaces+u.size(len(p)) > u.fs.quota {
		return 0, errQuota
	}
	u.buf = append(u.buf, p...)
	return len(p), nil
}

// Read fails: the handle is for writing.
func (u *upload) Read([]byte) (int, error) { return 0, pathErr("read", u.key, syscall.EBADF) }

// Close commits the upload: one PUT of the whole object (with
// If-None-Match for STOU). Until it returns nil the old object, if any, is
// what readers get; pier replies 226 only if it does.
func (u *upload) Close() error {
	if u.done {
		return os.ErrClosed
	}
	u.done = true
	data := u.buf
	if u.head != nil || u.tail != nil {
		data = make([]byte, u.size(0))
		n := copy(data, u.head)
		n += copy(data[n:], u.buf)
		if len(u.tail) > len(u.buf) {
			copy(data[n:], u.tail[len(u.buf):])
		}
	}
	u.head, u.tail, u.buf = nil, nil, nil
	err := u.fs.store.Put(u.ctx, u.key, data, PutOptions{IfNoneMatch: u.excl, MaxTotal: u.fs.quota})
	if err != nil {
		return storeErr("close", u.key, err)
	}
	return nil
}

// Abort discards the upload, whatever the reason (ABOR, a lost data or
// control connection, a timeout, a shutdown, or our own errQuota): the old
// object, if any, stays as it was, and no new one appears.
func (u *upload) Abort(reason error) error {
	if u.done {
		return os.ErrClosed
	}
	u.done = true
	u.head, u.tail, u.buf = nil, nil, nil
	return nil
}

// download is a read handle: the body of a (ranged) GET. It reads the
// object as it was when opened, even if it is replaced meanwhile. It needs
// no Abort: a download that stops early has nothing to undo, and Close
// ends the GET either way.
type download struct {
	ctx    context.Context
	data   []byte
	closed bool
}

// Read returns the next bytes, or ctx's error once it is done.
func (d *download) Read(p []byte) (int, error) {
	if d.closed {
		return 0, os.ErrClosed
	}
	if err := d.ctx.Err(); err != nil {
		return 0, err
	}
	if len(d.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, d.data)
	d.data = d.data[n:]
	return n, nil
}

// Write fails: the handle is for reading.
func (d *download) Write([]byte) (int, error) { return 0, pathErr("write", "", syscall.EBADF) }

// Close ends the download.
func (d *download) Close() error {
	if d.closed {
		return os.ErrClosed
	}
	d.closed, d.data = true, nil
	return nil
}

// pageSize is how many entries a listing asks the store for at a time
// (S3 gives up to 1,000 a request).
const pageSize = 100

// lister streams a folder's entries: it holds one page of the listing at a
// time, and makes fs.DirEntry values only for what ReadDir is asked for,
// so a folder of a million keys never sits in memory whole. It also
// implements pier.DirInfoReader, since a listing already carries sizes and
// times: LIST then costs no allocation per entry.
type lister struct {
	ctx    context.Context
	store  *Store
	prefix string
	page   []Entry
	pos    int    // the next entry of page
	next   string // where the next page starts
	end    bool   // page is the last one
	closed bool
}

// more makes sure an entry is at l.page[l.pos], fetching the next page
// when this one is used up; false at the end of the listing.
func (l *lister) more() (bool, error) {
	for l.pos >= len(l.page) {
		if l.end {
			return false, nil
		}
		var err error
		l.page, l.next, err = l.store.List(l.ctx, l.prefix, l.next, pageSize, l.page[:0])
		if err != nil {
			return false, storeErr("readdir", l.prefix, err)
		}
		l.pos, l.end = 0, l.next == ""
	}
	return true, nil
}

func (l *lister) entry(fi *info) {
	e := &l.page[l.pos]
	l.pos++
	*fi = info{name: e.Name, size: e.Size, modTime: e.ModTime, dir: e.Dir}
}

// ReadDir returns up to n entries, and io.EOF at the end (n <= 0: all
// that are left, as os.File does; pier asks for batches, or uses
// ReadDirInfo).
func (l *lister) ReadDir(n int) ([]fs.DirEntry, error) {
	if l.closed {
		return nil, os.ErrClosed
	}
	if err := l.ctx.Err(); err != nil {
		return nil, err
	}
	var out []fs.DirEntry
	for n <= 0 || len(out) < n {
		ok, err := l.more()
		if err != nil {
			return out, err
		}
		if !ok {
			break
		}
		fi := new(info)
		l.entry(fi)
		out = append(out, fi)
	}
	if len(out) == 0 && n > 0 {
		return nil, io.EOF
	}
	return out, nil
}

// ReadDirInfo calls fn for each entry, with one info value reused for all.
func (l *lister) ReadDirInfo(fn func(fs.FileInfo) error) error {
	if l.closed {
		return os.ErrClosed
	}
	var fi info
	for {
		if err := l.ctx.Err(); err != nil {
			return err
		}
		ok, err := l.more()
		if err != nil || !ok {
			return err
		}
		l.entry(&fi)
		if err := fn(&fi); err != nil {
			return err
		}
	}
}

// Close ends the listing.
func (l *lister) Close() error {
	l.closed, l.page = true, nil
	return nil
}

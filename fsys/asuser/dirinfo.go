package asuser

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/pierftp/pier"
)

// singleThreadLister is a folder whose ReadDirInfo makes every system call
// on the calling goroutine's thread (fsys/local's, opened with
// local.SingleThread): run on the account's thread, all of it runs as the
// account.
type singleThreadLister interface {
	pier.DirInfoReader
	SingleThreaded() bool
}

// infoDir is a dir whose wrapped folder is a singleThreadLister that says
// it is single-threaded: it passes on pier.DirInfoReader.
type infoDir struct {
	*dir
	ctx context.Context // OpenDir's: a listing asked after it ended never starts
}

var _ pier.DirInfoReader = (*infoDir)(nil)

// infoBatch is how many entries the thread hands over at a time: the
// caller writes a batch to the network while the thread waits, so a
// listing costs two thread switches per batch, not per entry.
const infoBatch = 256

// errFnPanicked is what the thread is told when fn panicked: the listing
// stops there, and the panic goes on in the caller.
var errFnPanicked = errors.New("asuser: the listing's fn panicked")

// listResult is how the thread's listing ended.
type listResult struct {
	err   error
	panic any // what Do panicked with, if it did
}

// ReadDirInfo implements pier.DirInfoReader. The wrapped ReadDirInfo runs
// on the thread, which copies the entries and hands them over a batch at a
// time; fn runs on the caller's goroutine, and the thread waits for it to
// finish a batch before it reads on. It stops at the first error of fn, and
// at the end of OpenDir's context (checked between batches: a system call
// can't be cancelled). If fn panics, the thread's listing stops before the
// panic goes on.
func (d *infoDir) ReadDirInfo(fn func(fs.FileInfo) error) error {
	batches := make(chan []entryInfo) // the thread's, until the caller acks
	acks := make(chan error)          // the caller's answer to a batch: nil to read on
	done := make(chan listResult, 1)
	go func() {
		var r listResult
		defer func() {
			if p := recover(); p != nil {
				r.panic = p
			}
			done <- r
		}()
		if err := d.t.Do(d.ctx, func() { r.err = d.list(batches, acks) }); err != nil {
			r.err = err
		}
	}()
	for {
		select {
		case b := <-batches:
			if err := d.deliver(b, fn, acks, done); err != nil {
				<-done
				return err
			}
		case r := <-done:
			if r.panic != nil {
				panic(r.panic)
			}
			return r.err
		}
	}
}

// deliver calls fn for each entry of b, then acks with fn's error or the
// context's, which it returns. If fn panics, it acks with errFnPanicked and
// waits for the thread's listing to end before the panic goes on.
func (d *infoDir) deliver(b []entryInfo, fn func(fs.FileInfo) error, acks chan<- error, done <-chan listResult) error {
	acked := false
	defer func() {
		if !acked {
			acks <- errFnPanicked
			<-done
		}
	}()
	err := d.ctx.Err()
	for i := 0; i < len(b) && err == nil; i++ {
		err = fn(&b[i])
	}
	acked = true
	acks <- err
	return err
}

// list runs on the thread: the wrapped ReadDirInfo, its entries copied
// (it reuses its FileInfo) and handed over in batches.
func (d *infoDir) list(batches chan<- []entryInfo, acks <-chan error) error {
	batch := make([]entryInfo, 0, infoBatch)
	hand := func() error {
		batches <- batch
		err := <-acks
		batch = batch[:0]
		return err
	}
	err := d.inner.(pier.DirInfoReader).ReadDirInfo(func(fi fs.FileInfo) error {
		batch = batch[:len(batch)+1]
		batch[len(batch)-1].copyFrom(fi)
		if len(batch) == cap(batch) {
			return hand()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = hand()
	}
	return err
}

// entryInfo is a copy of an fs.FileInfo: what pier's listings read,
// Sys's *syscall.Stat_t included (owners, links).
type entryInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
	st      statBuf
	hasSys  bool
}

func (e *entryInfo) copyFrom(fi fs.FileInfo) {
	e.name = string([]byte(fi.Name())) // the wrapped reader's name lives in its buffer
	e.size = fi.Size()
	e.mode = fi.Mode()
	e.modTime = fi.ModTime()
	e.hasSys = copySys(fi.Sys(), &e.st)
}

func (e *entryInfo) Name() string       { return e.name }
func (e *entryInfo) Size() int64        { return e.size }
func (e *entryInfo) Mode() fs.FileMode  { return e.mode }
func (e *entryInfo) ModTime() time.Time { return e.modTime }
func (e *entryInfo) IsDir() bool        { return e.mode.IsDir() }

// Sys returns a pointer to the copy of the wrapped Sys, if it was one that
// is copied (a *syscall.Stat_t), else nil.
func (e *entryInfo) Sys() any {
	if !e.hasSys {
		return nil
	}
	return &e.st
}

package asuser

import (
	"context"
	"io"
	"io/fs"
	"os"

	"github.com/pierftp/pier"
)

// file is an open file of an FS: Read, Write and Seek go straight to the
// wrapped file; Close runs on the thread (for an atomic upload it renames).
type file struct {
	t     *Thread
	inner pier.File
}

// abortFile is a file whose wrapped file is a pier.Aborter.
type abortFile struct{ *file }

// Abort implements pier.Aborter on the thread (an atomic upload removes
// its temporary).
func (f abortFile) Abort(reason error) error {
	return f.onThread(func() error { return f.inner.(pier.Aborter).Abort(reason) })
}

// wrapFile wraps inner, passing on Aborter where inner has it (pier gives
// committing files a grace period that plain ones don't need).
func wrapFile(t *Thread, inner pier.File) pier.File {
	f := &file{t: t, inner: inner}
	if _, ok := inner.(pier.Aborter); ok {
		return abortFile{f}
	}
	return f
}

func (f *file) Read(p []byte) (int, error)  { return f.inner.Read(p) }
func (f *file) Write(p []byte) (int, error) { return f.inner.Write(p) }

// Seek moves the offset; it fails if the wrapped file can't.
func (f *file) Seek(offset int64, whence int) (int64, error) {
	if sk, ok := f.inner.(io.Seeker); ok {
		return sk.Seek(offset, whence)
	}
	return 0, pier.ErrNotSupported
}

// OSFile implements pier.OSFiler, so that transfers stay zero-copy.
func (f *file) OSFile() *os.File {
	switch v := f.inner.(type) {
	case *os.File:
		return v
	case pier.OSFiler:
		return v.OSFile()
	}
	return nil
}

// Close implements io.Closer: on the thread, except for a plain *os.File,
// whose close is only the release of a descriptor (no name is resolved,
// no identity checked), so it runs on the caller's thread and saves a
// trip to the account's thread per transfer.
func (f *file) Close() error {
	if of, ok := f.inner.(*os.File); ok {
		return of.Close()
	}
	return f.onThread(f.inner.Close)
}

// onThread runs end (a Close or an Abort) on the thread. If the thread has
// stopped, end can't run as the account and must not run as the process:
// the descriptor is closed (that needs no identity) and ErrStopped
// returned.
func (f *file) onThread(end func() error) error {
	var err error
	if derr := f.t.Do(context.Background(), func() { err = end() }); derr != nil {
		if of := f.OSFile(); of != nil {
			of.Close()
		}
		return derr
	}
	return err
}

// dir is an open folder of an FS: each batch is read, and each entry's
// information taken, on the thread (the kernel checks search permission
// on the folder for each). It does not pass on pier.DirInfoReader:
// fsys/local's fast path shares a batch's fstatat calls among goroutines,
// which run on other threads, with the process's identity, unless it was
// opened with local.SingleThread; then OpenDir returns an infoDir.
type dir struct {
	t     *Thread
	inner pier.DirReader
}

// ReadDir implements pier.DirReader.
func (d *dir) ReadDir(n int) (entries []fs.DirEntry, err error) {
	derr := d.t.Do(context.Background(), func() {
		var raw []fs.DirEntry
		raw, err = d.inner.ReadDir(n)
		entries = make([]fs.DirEntry, 0, len(raw))
		for _, e := range raw {
			fi, ierr := e.Info()
			if ierr != nil {
				continue // vanished meanwhile
			}
			entries = append(entries, fs.FileInfoToDirEntry(fi))
		}
		if n > 0 && len(entries) == 0 && err == nil {
			// All of the batch vanished: io/fs forbids an empty batch
			// without an error, so read on.
			entries, err = readOn(d.inner, n)
		}
	})
	if derr != nil {
		return nil, derr
	}
	return entries, err
}

// readOn reads batches until one has an entry that still exists, or an
// error.
func readOn(d pier.DirReader, n int) ([]fs.DirEntry, error) {
	for {
		raw, err := d.ReadDir(n)
		entries := make([]fs.DirEntry, 0, len(raw))
		for _, e := range raw {
			if fi, ierr := e.Info(); ierr == nil {
				entries = append(entries, fs.FileInfoToDirEntry(fi))
			}
		}
		if len(entries) > 0 || err != nil {
			return entries, err
		}
	}
}

// Close implements pier.DirReader. Closing a descriptor needs no identity,
// so it runs on the caller's thread, and works after the thread stopped.
func (d *dir) Close() error { return d.inner.Close() }

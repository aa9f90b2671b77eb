package local

import (
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// dir is an open folder. Besides ReadDir (os.File's, mended below) it has
// ReadDirInfo, which lists without allocating per entry where the platform
// allows (dir_linux.go).
type dir struct {
	*os.File
	hideTemp bool // leave out the temporaries of AtomicUploads
	single   bool // SingleThread: no system call on another goroutine
}

// SingleThreaded reports whether every system call of the folder's
// listing, ReadDirInfo's included, runs on the calling goroutine's thread:
// true if its FS was made with SingleThread.
func (d *dir) SingleThreaded() bool { return d.single }

// ReadDir is os.File.ReadDir, except that for n > 0 it never returns an
// empty batch without an error. For a folder opened in an os.Root, os
// describes each entry with an lstat and counts one removed meanwhile
// against n, so a batch whose entries were all removed came back empty
// with a nil error (Go 1.26): io/fs forbids that, and a caller takes it for
// the end of the folder or loops. Reading on gives the next entries or
// io.EOF. Under AtomicUploads, it leaves out the temporaries.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	for {
		entries, err := d.File.ReadDir(n)
		if d.hideTemp {
			entries = slices.DeleteFunc(entries, func(e fs.DirEntry) bool {
				return strings.HasPrefix(e.Name(), TempPrefix)
			})
		}
		if n <= 0 || len(entries) > 0 || err != nil {
			return entries, err
		}
	}
}

// readDirInfo is the portable ReadDirInfo: ReadDir in batches, each entry's
// Info taken as os gives it (an lstat relative to the open folder, since the
// folder was opened in an os.Root).
func (d *dir) readDirInfo(fn func(fs.FileInfo) error) error {
	for {
		entries, err := d.ReadDir(256)
		for _, e := range entries {
			fi, ierr := e.Info()
			if ierr != nil {
				continue // vanished meanwhile
			}
			if err := fn(fi); err != nil {
				return err
			}
		}
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// Package local is pier's file system on a local folder. Every operation goes
// through an os.Root, so no name, "..", absolute path or symlink can reach
// outside the folder, whatever the caller does.
package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/pierftp/pier"
)

// FS is a pier.FileSystem rooted at a local folder. It is safe for
// concurrent use by many sessions.
type FS struct {
	root *os.Root
	dir  string
}

var (
	_ pier.FileSystem = (*FS)(nil)
	_ pier.ReadlinkFS = (*FS)(nil)
	_ pier.LstatFS    = (*FS)(nil)
	_ pier.RenameFS   = (*FS)(nil)
	_ pier.ChmodFS    = (*FS)(nil)
	_ pier.ChtimesFS  = (*FS)(nil)

	_ pier.DirInfoReader = (*dir)(nil)
)

// New opens dir as the root of a file system. It fails if dir does not exist
// or is not a folder.
func New(dir string) (*FS, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("local: %s is not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	return &FS{root: root, dir: dir}, nil
}

// Dir returns the folder the file system is rooted at.
func (f *FS) Dir() string { return f.dir }

// Close releases the root.
func (f *FS) Close() error { return f.root.Close() }

// Stat implements pier.FileSystem.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	fi, err := f.root.Stat(name)
	return fi, mapErr(err)
}

// Lstat implements pier.FileSystem.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	fi, err := f.root.Lstat(name)
	return fi, mapErr(err)
}

// OpenFile implements pier.FileSystem. The file it returns is an *os.File,
// so that plain transfers can use sendfile and splice. Only regular files
// open: a FIFO or a device would block the session forever (it is opened
// non-blocking, then refused), and a directory can't be written.
func (f *FS) OpenFile(name string, flag int, perm fs.FileMode) (pier.File, error) {
	file, err := f.root.OpenFile(name, flag|syscall.O_NONBLOCK, perm)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) { // a FIFO with no reader
			err = &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
		}
		return nil, mapErr(err)
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, mapErr(err)
	}
	if !st.Mode().IsRegular() {
		file.Close()
		if st.IsDir() {
			return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
	}
	return file, nil
}

// errNotRegular refuses FIFOs, sockets and devices.
var errNotRegular = fmt.Errorf("not a regular file: %w", fs.ErrPermission)

// OpenDir implements pier.FileSystem.
func (f *FS) OpenDir(name string) (pier.DirReader, error) {
	file, err := f.root.Open(name)
	if err != nil {
		return nil, mapErr(err)
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, mapErr(err)
	}
	if !st.IsDir() {
		file.Close()
		return nil, &fs.PathError{Op: "opendir", Path: name, Err: syscall.ENOTDIR}
	}
	return &dir{File: file}, nil
}

// Mkdir implements pier.FileSystem.
func (f *FS) Mkdir(name string, perm fs.FileMode) error { return mapErr(f.root.Mkdir(name, perm)) }

// Remove implements pier.FileSystem.
func (f *FS) Remove(name string) error { return mapErr(f.root.Remove(name)) }

// Rename implements pier.FileSystem.
func (f *FS) Rename(oldname, newname string) error {
	return mapErr(f.root.Rename(oldname, newname))
}

// Readlink implements pier.ReadlinkFS.
func (f *FS) Readlink(name string) (string, error) {
	s, err := f.root.Readlink(name)
	return s, mapErr(err)
}

// Chmod implements pier.ChmodFS.
func (f *FS) Chmod(name string, mode fs.FileMode) error {
	return mapErr(f.root.Chmod(name, mode))
}

// Chtimes implements pier.ChtimesFS.
func (f *FS) Chtimes(name string, atime, mtime time.Time) error {
	return mapErr(f.root.Chtimes(name, atime, mtime))
}

// mapErr turns os.Root's escape error, which has no exported value, into
// pier.ErrOutsideRoot so the server can give its own reply.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "path escapes from parent") {
		return fmt.Errorf("%w: %w", pier.ErrOutsideRoot, err)
	}
	return err
}

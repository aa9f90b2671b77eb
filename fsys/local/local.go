// Package local is pier's file system on a local folder. Every operation goes
// through an os.Root, so no name, "..", absolute path or symlink can reach
// outside the folder, whatever the caller does.
//
// With the AtomicUploads option, an upload that replaces a file (STOR) is
// written to a hidden temporary in the same folder and renamed over the
// target only when it completes, so that a transfer that fails half-way
// leaves the old file as it was and readers never see a partial one.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pierftp/pier"
)

// FS is a pier.FileSystem rooted at a local folder. It is safe for
// concurrent use by many sessions.
//
// Local system calls can't be cancelled: OpenFile and OpenDir return
// ctx's error if ctx is already done, and the methods do not use ctx
// otherwise.
type FS struct {
	root   *os.Root
	dir    string
	abs    string // dir made absolute and clean: UploadKey
	atomic bool   // AtomicUploads
	single bool   // SingleThread
}

var (
	_ pier.FileSystem = (*FS)(nil)
	_ pier.ReadlinkFS = (*FS)(nil)
	_ pier.LstatFS    = (*FS)(nil)
	_ pier.RenameFS   = (*FS)(nil)
	_ pier.ChmodFS    = (*FS)(nil)
	_ pier.ChtimesFS  = (*FS)(nil)
	_ pier.AccessFS   = (*FS)(nil)

	_ pier.DirInfoReader = (*dir)(nil)
)

// An Option configures an FS made by New: AtomicUploads, SingleThread.
type Option func(*FS)

// SingleThread makes every system call of the FS run on the calling
// goroutine's thread: for fsys/asuser, whose calls run on a thread that has
// taken an account's identity, which other threads of the process don't
// have. Without it, a listing of a large folder shares its fstatat calls
// among goroutines, which run on other threads. A folder of an FS made with
// it reports so through SingleThreaded.
func SingleThread() Option { return func(f *FS) { f.single = true } }

// New opens dir as the root of a file system, with the given options. It
// fails if dir does not exist or is not a folder.
func New(dir string, opts ...Option) (*FS, error) {
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
	abs, err := filepath.Abs(dir)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("local: %w", err)
	}
	f := &FS{root: root, dir: dir, abs: abs}
	for _, o := range opts {
		if o != nil {
			o(f)
		}
	}
	return f, nil
}

// Dir returns the folder the file system is rooted at.
func (f *FS) Dir() string { return f.dir }

// UploadKey implements pier.UploadKeyer: the file's real path, so that two
// FS values on one folder (one per login, say) share pier's lock on
// uploads to a name.
func (f *FS) UploadKey(name string) string {
	return filepath.Join(f.abs, filepath.FromSlash(name))
}

// Close releases the root.
func (f *FS) Close() error { return f.root.Close() }

// Stat implements pier.FileSystem.
func (f *FS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	fi, err := f.root.Stat(name)
	return fi, mapErr(err)
}

// Lstat implements pier.LstatFS.
func (f *FS) Lstat(ctx context.Context, name string) (fs.FileInfo, error) {
	fi, err := f.root.Lstat(name)
	return fi, mapErr(err)
}

// OpenFile implements pier.FileSystem. The file it returns is an *os.File,
// so that plain transfers can use sendfile and splice, except for an
// upload that replaces a file under AtomicUploads (see there). Only
// regular files open: a FIFO or a device would block the session forever
// (it is opened non-blocking, then refused), and a directory can't be
// written.
func (f *FS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.atomic {
		if flag&os.O_CREATE != 0 && isTemp(name) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: errReserved}
		}
		if flag&(os.O_WRONLY|os.O_RDWR|os.O_TRUNC|os.O_APPEND|os.O_EXCL) == os.O_WRONLY|os.O_TRUNC {
			return f.openUpload(name, flag, perm)
		}
	}
	return asFile(f.openFile(name, flag, perm))
}

// asFile returns file as a pier.File, nil if it is nil.
func asFile(file *os.File, err error) (pier.File, error) {
	if err != nil {
		return nil, err
	}
	return file, nil
}

// openFile opens a regular file in place.
func (f *FS) openFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
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

// OpenDir implements pier.FileSystem. Under AtomicUploads, its listings
// leave out the temporaries of uploads.
func (f *FS) OpenDir(ctx context.Context, name string) (pier.DirReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
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
	return &dir{File: file, hideTemp: f.atomic, single: f.single}, nil
}

// Mkdir implements pier.FileSystem.
func (f *FS) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	if f.atomic && isTemp(name) {
		return &fs.PathError{Op: "mkdir", Path: name, Err: errReserved}
	}
	return mapErr(f.root.Mkdir(name, perm))
}

// CanEnter implements pier.AccessFS: resolving "." inside the folder needs
// search permission on it.
func (f *FS) CanEnter(ctx context.Context, name string) error {
	_, err := f.root.Stat(name + "/.")
	return mapErr(err)
}

// CanWrite implements pier.AccessFS by opening the file for writing,
// without truncating or creating it, and closing it again. Under
// AtomicUploads too: a STOR would rename over the file, which only the
// folder's permissions forbid, but an upload may not replace a file its
// user may not write.
func (f *FS) CanWrite(ctx context.Context, name string) error {
	file, err := f.root.OpenFile(name, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) { // a FIFO with no reader
			return &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
		}
		return mapErr(err)
	}
	return file.Close()
}

// Remove implements pier.FileSystem.
func (f *FS) Remove(ctx context.Context, name string) error { return mapErr(f.root.Remove(name)) }

// Rename implements pier.RenameFS.
func (f *FS) Rename(ctx context.Context, oldname, newname string) error {
	if f.atomic && isTemp(newname) {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: errReserved}
	}
	return mapErr(f.root.Rename(oldname, newname))
}

// Readlink implements pier.ReadlinkFS.
func (f *FS) Readlink(ctx context.Context, name string) (string, error) {
	s, err := f.root.Readlink(name)
	return s, mapErr(err)
}

// Chmod implements pier.ChmodFS.
func (f *FS) Chmod(ctx context.Context, name string, mode fs.FileMode) error {
	return mapErr(f.root.Chmod(name, mode))
}

// Chtimes implements pier.ChtimesFS.
func (f *FS) Chtimes(ctx context.Context, name string, atime, mtime time.Time) error {
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

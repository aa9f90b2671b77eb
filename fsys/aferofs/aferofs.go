// Package aferofs adapts any afero.Fs (github.com/spf13/afero: memory, OS
// folder, SFTP, zip, tar, GCS...) to pier.FileSystem.
//
// pier's names map to absolute afero paths: "." is "/", "a/b" is "/a/b".
//
// # Jail
//
// An afero.Fs is only as confined as it is built. afero.NewOsFs alone is
// NOT a jail: "/" is the host's root, so an FTP user could read /etc. For
// an OS folder, wrap it:
//
//	fsys := aferofs.New(afero.NewBasePathFs(afero.NewOsFs(), "/srv/ftp"))
//
// Even then BasePathFs confines names only lexically: a symbolic link
// inside the folder that points outside it is followed. For a local folder,
// pier's own back-end, github.com/pierftp/pier/fsys/local, which goes
// through os.Root and never leaves the folder, is the safer (and faster:
// it uses sendfile) choice. This package is for the other afero back-ends.
//
// # Uniform behaviour
//
// afero back-ends differ in how closely they follow POSIX (MemMapFs, for
// one, creates missing parent folders, removes non-empty ones and lets a
// write-only file be read). The adapter checks what pier relies on itself,
// so that every back-end behaves like a local file system: a missing
// parent is fs.ErrNotExist and a file as parent syscall.ENOTDIR; Remove of
// a non-empty folder is syscall.ENOTEMPTY; Rename, like os.Rename, never
// replaces a folder, nor a file with a folder, nor moves a folder into
// itself; only files open, and they honour their access mode and
// os.O_APPEND. These checks are
// not atomic with the operation they guard: two clients racing on the same
// names may still see the back-end's own behaviour.
package aferofs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pierftp/pier"
	"github.com/spf13/afero"
	"github.com/spf13/afero/mem"
)

// FS is a pier.FileSystem over an afero.Fs. It is safe for concurrent use
// if the afero.Fs is. afero's MemMapFs (v1.15) is not, for two sessions
// writing to the same file at once (the race detector reports it inside
// afero); pier's own fsys/mem is.
//
// It implements all of pier's optional interfaces; Lstat falls back to Stat
// where the afero.Fs has no afero.Lstater, and Readlink returns
// pier.ErrNotSupported where it has no afero.LinkReader.
//
// afero's calls take no context: OpenFile and OpenDir return ctx's error
// if ctx is already done, and the methods do not use ctx otherwise.
type FS struct {
	fs afero.Fs
}

var (
	_ pier.FileSystem = (*FS)(nil)
	_ pier.LstatFS    = (*FS)(nil)
	_ pier.ReadlinkFS = (*FS)(nil)
	_ pier.RenameFS   = (*FS)(nil)
	_ pier.ChmodFS    = (*FS)(nil)
	_ pier.ChtimesFS  = (*FS)(nil)
)

// New returns a pier.FileSystem over fsys, whose "/" is the user's root.
// See the package documentation on confining an OS folder.
func New(fsys afero.Fs) *FS { return &FS{fs: fsys} }

// Afero returns the underlying afero.Fs.
func (f *FS) Afero() afero.Fs { return f.fs }

// abs maps a pier name to an afero path.
func abs(name string) string {
	if name == "." || name == "" {
		return "/"
	}
	return "/" + name
}

// fix rewrites the path in err from the afero path back to the pier name,
// so that errors read the same whatever the back-end.
func fix(err error, name string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == abs(name) {
		return &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
	}
	return err
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// checkParent makes sure the folder that would hold name exists and is a
// folder.
func (f *FS) checkParent(op, name string) error {
	if name == "." {
		return nil
	}
	fi, err := f.fs.Stat(path.Dir(abs(name)))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return pathErr(op, name, fs.ErrNotExist)
	case errors.Is(err, syscall.ENOTDIR):
		return pathErr(op, name, syscall.ENOTDIR)
	case err != nil:
		return fix(err, name)
	case !fi.IsDir():
		return pathErr(op, name, syscall.ENOTDIR)
	}
	return nil
}

// Stat implements pier.FileSystem.
func (f *FS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	fi, err := f.fs.Stat(abs(name))
	if err != nil {
		return nil, f.statErr("stat", name, err)
	}
	return fi, nil
}

// statErr turns a back-end's "not found" for a name below a file into
// syscall.ENOTDIR, as the OS reports it.
func (f *FS) statErr(op, name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		if perr := f.checkParent(op, name); perr != nil && errors.Is(perr, syscall.ENOTDIR) {
			return perr
		}
	}
	return fix(err, name)
}

// Lstat implements pier.LstatFS with afero.LstatIfPossible: it describes a
// symbolic link itself where the afero.Fs knows of links, else it is Stat.
func (f *FS) Lstat(ctx context.Context, name string) (fs.FileInfo, error) {
	l, ok := f.fs.(afero.Lstater)
	if !ok {
		return f.Stat(ctx, name)
	}
	fi, _, err := l.LstatIfPossible(abs(name))
	if err != nil {
		return nil, f.statErr("lstat", name, err)
	}
	return fi, nil
}

// Readlink implements pier.ReadlinkFS where the afero.Fs is an
// afero.LinkReader; otherwise, or if it reports afero.ErrNoReadlink, it
// returns an error wrapping pier.ErrNotSupported.
func (f *FS) Readlink(ctx context.Context, name string) (string, error) {
	r, ok := f.fs.(afero.LinkReader)
	if !ok {
		return "", pathErr("readlink", name, pier.ErrNotSupported)
	}
	s, err := r.ReadlinkIfPossible(abs(name))
	if errors.Is(err, afero.ErrNoReadlink) {
		return "", pathErr("readlink", name, pier.ErrNotSupported)
	}
	return s, fix(err, name)
}

// umask is taken from the modes of new files and folders, as the usual
// process umask does for pier's local back-end: afero's memory back-end
// applies none, and would make uploads writable by everyone (0666).
const umask fs.FileMode = 0o022

// OpenFile implements pier.FileSystem. As in pier's local back-end, only
// files open: a directory fails with syscall.EISDIR. The File it returns implements
// io.Seeker, and io.ReaderAt when the afero.File does (afero.File always
// declares it, but not every back-end can).
func (f *FS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	const op = "open"
	acc := flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	if acc != os.O_RDONLY && acc != os.O_WRONLY && acc != os.O_RDWR {
		return nil, pathErr(op, name, syscall.EINVAL)
	}
	fi, err := f.fs.Stat(abs(name))
	switch {
	case err == nil && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, pathErr(op, name, fs.ErrExist)
	case err == nil && fi.IsDir():
		return nil, pathErr(op, name, syscall.EISDIR)
	case err != nil && errors.Is(err, fs.ErrNotExist):
		if perr := f.checkParent(op, name); perr != nil {
			return nil, perr
		}
		if flag&os.O_CREATE == 0 {
			return nil, pathErr(op, name, fs.ErrNotExist)
		}
	case err != nil:
		return nil, fix(err, name)
	}
	af, err := f.fs.OpenFile(abs(name), flag, perm&^umask)
	if err != nil {
		return nil, fix(err, name)
	}
	return &File{
		f:      af,
		name:   name,
		read:   acc != os.O_WRONLY,
		write:  acc != os.O_RDONLY,
		append: flag&os.O_APPEND != 0,
	}, nil
}

// OpenDir implements pier.FileSystem. It streams the folder with
// afero.File.Readdir(n), never reading it whole, except a folder of
// afero's memory file system (see dirReader).
func (f *FS) OpenDir(ctx context.Context, name string) (pier.DirReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fi, err := f.fs.Stat(abs(name))
	if err != nil {
		return nil, f.statErr("opendir", name, err)
	}
	if !fi.IsDir() {
		return nil, pathErr("opendir", name, syscall.ENOTDIR)
	}
	af, err := f.fs.Open(abs(name))
	if err != nil {
		return nil, fix(err, name)
	}
	return &dirReader{f: af, whole: inMemory(af)}, nil
}

// inMemory reports whether af is a file of afero's memory file system,
// directly or through afero.BasePathFs (see dirReader).
func inMemory(af afero.File) bool {
	for {
		switch f := af.(type) {
		case *mem.File:
			return true
		case *afero.BasePathFile:
			af = f.File
		default:
			return false
		}
	}
}

// Mkdir implements pier.FileSystem.
func (f *FS) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	if name == "." {
		return pathErr("mkdir", name, fs.ErrExist)
	}
	if _, err := f.fs.Stat(abs(name)); err == nil {
		return pathErr("mkdir", name, fs.ErrExist)
	}
	if err := f.checkParent("mkdir", name); err != nil {
		return err
	}
	return fix(f.fs.Mkdir(abs(name), perm&^umask), name)
}

// Remove implements pier.FileSystem: a file or an empty folder; never the
// root.
func (f *FS) Remove(ctx context.Context, name string) error {
	if name == "." {
		return pathErr("remove", name, syscall.EINVAL)
	}
	fi, err := f.fs.Stat(abs(name))
	if err != nil {
		return f.statErr("remove", name, err)
	}
	if fi.IsDir() {
		empty, err := f.isEmpty(name)
		if err != nil {
			return err
		}
		if !empty {
			return pathErr("remove", name, syscall.ENOTEMPTY)
		}
	}
	return fix(f.fs.Remove(abs(name)), name)
}

func (f *FS) isEmpty(name string) (bool, error) {
	d, err := f.fs.Open(abs(name))
	if err != nil {
		return false, fix(err, name)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if err != nil && err != io.EOF {
		return false, fix(err, name)
	}
	return len(names) == 0, nil
}

// Rename implements pier.RenameFS with the semantics of os.Rename: newname
// is replaced if it is a file; an existing folder is never replaced
// (fs.ErrExist), a folder can't replace a file (syscall.ENOTDIR) nor move
// into itself (syscall.EINVAL). The back-end's Rename does the rest,
// atomically or not.
func (f *FS) Rename(ctx context.Context, oldname, newname string) error {
	linkErr := func(err error) error {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	if oldname == "." || newname == "." {
		return linkErr(syscall.EINVAL)
	}
	fi, err := f.fs.Stat(abs(oldname))
	if err != nil {
		return linkErr(unwrapPath(f.statErr("rename", oldname, err)))
	}
	if err := f.checkParent("rename", newname); err != nil {
		return linkErr(unwrapPath(err))
	}
	if oldname == newname {
		return nil
	}
	if fi.IsDir() && strings.HasPrefix(newname, oldname+"/") {
		return linkErr(syscall.EINVAL)
	}
	target, err := f.fs.Stat(abs(newname))
	if err == nil {
		switch {
		case target.IsDir():
			return linkErr(fs.ErrExist)
		case fi.IsDir():
			return linkErr(syscall.ENOTDIR)
		}
	}
	if err := f.fs.Rename(abs(oldname), abs(newname)); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) {
			return linkErr(le.Err)
		}
		return linkErr(unwrapPath(err))
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Chmod implements pier.ChmodFS.
func (f *FS) Chmod(ctx context.Context, name string, mode fs.FileMode) error {
	if err := f.fs.Chmod(abs(name), mode); err != nil {
		return f.statErr("chmod", name, err)
	}
	return nil
}

// Chtimes implements pier.ChtimesFS.
func (f *FS) Chtimes(ctx context.Context, name string, atime, mtime time.Time) error {
	if err := f.fs.Chtimes(abs(name), atime, mtime); err != nil {
		return f.statErr("chtimes", name, err)
	}
	return nil
}

// File is an open afero.File that honours the access mode and os.O_APPEND
// it was opened with, whatever the back-end does. It implements pier.File,
// io.Seeker and io.ReaderAt.
type File struct {
	f    afero.File
	name string

	read, write, append bool

	mu sync.Mutex // serialises offset changes (append, seek)
}

var (
	_ pier.File   = (*File)(nil)
	_ io.Seeker   = (*File)(nil)
	_ io.ReaderAt = (*File)(nil)
)

// Afero returns the underlying afero.File.
func (f *File) Afero() afero.File { return f.f }

// Read implements io.Reader.
func (f *File) Read(p []byte) (int, error) {
	if !f.read {
		return 0, pathErr("read", f.name, syscall.EBADF)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.f.Read(p)
	if n == 0 && err == io.ErrUnexpectedEOF {
		// afero's MemMapFs says this for a read past the end, where
		// io.Reader and the OS say io.EOF.
		err = io.EOF
	}
	return n, fix(err, f.name)
}

// ReadAt implements io.ReaderAt.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if !f.read {
		return 0, pathErr("read", f.name, syscall.EBADF)
	}
	if off < 0 {
		return 0, pathErr("readat", f.name, syscall.EINVAL)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.f.ReadAt(p, off)
	if err == io.ErrUnexpectedEOF || (err == nil && n < len(p)) {
		// io.ReaderAt wants io.EOF with a short read; MemMapFs gives
		// nil, or io.ErrUnexpectedEOF past the end.
		err = io.EOF
	}
	return n, fix(err, f.name)
}

// Write implements io.Writer. With os.O_APPEND every write goes to the end,
// even after a Seek.
func (f *File) Write(p []byte) (int, error) {
	if !f.write {
		return 0, pathErr("write", f.name, syscall.EBADF)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.append {
		if _, err := f.f.Seek(0, io.SeekEnd); err != nil {
			return 0, fix(err, f.name)
		}
	}
	n, err := f.f.Write(p)
	return n, fix(err, f.name)
}

// Seek implements io.Seeker. A negative result is refused with
// syscall.EINVAL, as the OS does.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent, io.SeekEnd:
		b, err := f.f.Seek(0, whence)
		if err != nil {
			return 0, fix(err, f.name)
		}
		base = b
	default:
		return 0, pathErr("seek", f.name, syscall.EINVAL)
	}
	if base+offset < 0 {
		return 0, pathErr("seek", f.name, syscall.EINVAL)
	}
	n, err := f.f.Seek(base+offset, io.SeekStart)
	return n, fix(err, f.name)
}

// Close implements io.Closer: an upload is complete when it returns nil.
func (f *File) Close() error { return fix(f.f.Close(), f.name) }

// dirReader streams a folder with afero.File.Readdir.
//
// A folder of afero's memory file system (mem.File, also under
// afero.BasePathFs) is read whole at the first call and handed out from
// there: its Readdir(n) takes each batch at an offset into the folder's
// current entries, so a second call after entries were removed can run
// past their end, and it panics then while holding the folder's lock,
// which every later use of the folder waits for, for ever (afero v1.15.0, github.com/spf13/afero/issues/261; the
// fix is on afero's master, not released). The entries are in memory
// already; this only copies their list.
type dirReader struct {
	f     afero.File
	done  bool
	whole bool          // read the folder whole at the first call (mem.File)
	rest  []os.FileInfo // what that read left to hand out
}

// ReadDir implements pier.DirReader.
func (d *dirReader) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.done && n > 0 {
		return nil, io.EOF
	}
	var infos []os.FileInfo
	var err error
	if d.whole {
		infos, err = d.readWhole(n)
	} else {
		infos, err = d.f.Readdir(n)
	}
	out := make([]fs.DirEntry, len(infos))
	for i, fi := range infos {
		out[i] = fs.FileInfoToDirEntry(fi)
	}
	if err == io.EOF || (n > 0 && err == nil && len(infos) == 0) {
		d.done = true
		if len(out) > 0 {
			return out, nil
		}
		if n > 0 {
			return nil, io.EOF
		}
		return out, nil
	}
	return out, err
}

// readWhole is Readdir(n) over the folder read whole at the first call.
func (d *dirReader) readWhole(n int) ([]os.FileInfo, error) {
	if d.rest == nil {
		all, err := d.f.Readdir(-1)
		if err != nil {
			return nil, err
		}
		d.rest = all
		if d.rest == nil {
			d.rest = []os.FileInfo{}
		}
	}
	if n <= 0 || n >= len(d.rest) {
		out := d.rest
		d.rest = d.rest[len(d.rest):]
		if n > 0 && len(out) == 0 {
			return nil, io.EOF
		}
		return out, nil
	}
	out := d.rest[:n:n]
	d.rest = d.rest[n:]
	return out, nil
}

// Close implements pier.DirReader.
func (d *dirReader) Close() error { return d.f.Close() }

package asuser

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/pierftp/pier"
)

// FS is a file system whose operations run on a Thread. It implements
// pier.FileSystem and the optional LstatFS, RenameFS, ReadlinkFS, ChmodFS,
// ChtimesFS, AccessFS, AvailableFS and UploadKeyer; where the file system
// it wraps lacks one, the call fails with pier.ErrNotSupported (Lstat
// falls back to Stat).
type FS struct {
	t     *Thread
	inner pier.FileSystem
}

var (
	_ pier.FileSystem  = (*FS)(nil)
	_ pier.LstatFS     = (*FS)(nil)
	_ pier.RenameFS    = (*FS)(nil)
	_ pier.ReadlinkFS  = (*FS)(nil)
	_ pier.ChmodFS     = (*FS)(nil)
	_ pier.ChtimesFS   = (*FS)(nil)
	_ pier.UploadKeyer = (*FS)(nil)
	_ pier.AccessFS    = (*FS)(nil)
)

// NewFS calls open on t (so that the file system, fsys/local's os.Root on
// the account's home, say, is opened as the account) and returns it wrapped
// so that all its operations run on t.
func NewFS(t *Thread, open func() (pier.FileSystem, error)) (*FS, error) {
	var inner pier.FileSystem
	var err error
	if derr := t.Do(context.Background(), func() { inner, err = open() }); derr != nil {
		return nil, derr
	}
	if err != nil {
		return nil, err
	}
	if inner == nil {
		return nil, fmt.Errorf("asuser: open returned no file system")
	}
	return &FS{t: t, inner: inner}, nil
}

// Inner returns the wrapped file system. Calling it directly runs as the
// process, not as the account.
func (f *FS) Inner() pier.FileSystem { return f.inner }

// Close runs the wrapped file system's Close, if it has one, on the thread.
func (f *FS) Close() error {
	c, ok := f.inner.(interface{ Close() error })
	if !ok {
		return nil
	}
	var err error
	if derr := f.t.Do(context.Background(), func() { err = c.Close() }); derr != nil {
		return derr
	}
	return err
}

// do runs fn on the thread, returning ErrStopped or ctx's error if it
// could not run, else fn's.
func (f *FS) do(ctx context.Context, fn func() error) error {
	var err error
	if derr := f.t.Do(ctx, func() { err = fn() }); derr != nil {
		return derr
	}
	return err
}

// Stat implements pier.FileSystem.
func (f *FS) Stat(ctx context.Context, name string) (fi fs.FileInfo, err error) {
	err = f.do(ctx, func() (err error) { fi, err = f.inner.Stat(ctx, name); return })
	return fi, err
}

// Lstat implements pier.LstatFS.
func (f *FS) Lstat(ctx context.Context, name string) (fi fs.FileInfo, err error) {
	err = f.do(ctx, func() (err error) {
		if l, ok := f.inner.(pier.LstatFS); ok {
			fi, err = l.Lstat(ctx, name)
		} else {
			fi, err = f.inner.Stat(ctx, name)
		}
		return
	})
	return fi, err
}

// OpenFile implements pier.FileSystem. Reading and writing the file run on
// the caller's thread; closing or aborting it runs on f's.
func (f *FS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	var file pier.File
	err := f.do(ctx, func() (err error) {
		file, err = f.inner.OpenFile(ctx, name, flag, perm)
		if err == nil {
			err = dropPrivilegeBits(file, flag)
			if err != nil {
				file.Close()
				file = nil
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return wrapFile(f.t, file), nil
}

// OpenDir implements pier.FileSystem. The folder passes on
// pier.DirInfoReader only if the wrapped one makes every system call of its
// listing on the calling thread (fsys/local opened with
// local.SingleThread): see infoDir.
func (f *FS) OpenDir(ctx context.Context, name string) (pier.DirReader, error) {
	var d pier.DirReader
	if err := f.do(ctx, func() (err error) { d, err = f.inner.OpenDir(ctx, name); return }); err != nil {
		return nil, err
	}
	wrapped := &dir{t: f.t, inner: d}
	if l, ok := d.(singleThreadLister); ok && l.SingleThreaded() {
		return &infoDir{dir: wrapped, ctx: ctx}, nil
	}
	return wrapped, nil
}

// Mkdir implements pier.FileSystem.
func (f *FS) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	return f.do(ctx, func() error { return f.inner.Mkdir(ctx, name, perm) })
}

// Remove implements pier.FileSystem.
func (f *FS) Remove(ctx context.Context, name string) error {
	return f.do(ctx, func() error { return f.inner.Remove(ctx, name) })
}

// Rename implements pier.RenameFS.
func (f *FS) Rename(ctx context.Context, oldname, newname string) error {
	rn, ok := f.inner.(pier.RenameFS)
	if !ok {
		return pier.ErrNotSupported
	}
	return f.do(ctx, func() error { return rn.Rename(ctx, oldname, newname) })
}

// Readlink implements pier.ReadlinkFS.
func (f *FS) Readlink(ctx context.Context, name string) (target string, err error) {
	rl, ok := f.inner.(pier.ReadlinkFS)
	if !ok {
		return "", pier.ErrNotSupported
	}
	err = f.do(ctx, func() (err error) { target, err = rl.Readlink(ctx, name); return })
	return target, err
}

// Chmod implements pier.ChmodFS.
func (f *FS) Chmod(ctx context.Context, name string, mode fs.FileMode) error {
	ch, ok := f.inner.(pier.ChmodFS)
	if !ok {
		return pier.ErrNotSupported
	}
	return f.do(ctx, func() error { return ch.Chmod(ctx, name, mode) })
}

// Chtimes implements pier.ChtimesFS.
func (f *FS) Chtimes(ctx context.Context, name string, atime, mtime time.Time) error {
	ch, ok := f.inner.(pier.ChtimesFS)
	if !ok {
		return pier.ErrNotSupported
	}
	return f.do(ctx, func() error { return ch.Chtimes(ctx, name, atime, mtime) })
}

// UploadKey implements pier.UploadKeyer: the wrapped file system's key
// (for fsys/local, the real path, shared by every login of the account and
// by virtual users on the same folder), else one private to f.
func (f *FS) UploadKey(name string) string {
	if k, ok := f.inner.(pier.UploadKeyer); ok {
		return k.UploadKey(name)
	}
	return fmt.Sprintf("asuser %p:%s", f, name)
}

// CanEnter implements pier.AccessFS as the account; nil if the wrapped
// file system can't tell.
func (f *FS) CanEnter(ctx context.Context, name string) error {
	a, ok := f.inner.(pier.AccessFS)
	if !ok {
		return nil
	}
	return f.do(ctx, func() error { return a.CanEnter(ctx, name) })
}

// CanWrite implements pier.AccessFS as the account; nil if the wrapped
// file system can't tell.
func (f *FS) CanWrite(ctx context.Context, name string) error {
	a, ok := f.inner.(pier.AccessFS)
	if !ok {
		return nil
	}
	return f.do(ctx, func() error { return a.CanWrite(ctx, name) })
}

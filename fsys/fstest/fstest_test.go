package fstest_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/fstest"
	"github.com/pierftp/pier/fsys/mem"
)

// The suite's checks of pier.Aborter and pier.OpenAtFS run here against
// two back-ends built on mem: one that writes in place and keeps what an
// aborted upload wrote, and one that, like an object store, stages uploads
// and commits them in Close.

func TestInPlace(t *testing.T) {
	fstest.TestFileSystem(t, func(t *testing.T) pier.FileSystem { return inPlaceFS{mem.New()} })
}

func TestStaged(t *testing.T) {
	fstest.TestFileSystem(t, func(t *testing.T) pier.FileSystem { return stagedFS{mem.New()} }, fstest.CommitOnClose)
}

// inPlaceFS is a mem.FS with OpenFileAt, whose files have an Abort that
// keeps what was written.
type inPlaceFS struct{ *mem.FS }

var _ pier.OpenAtFS = inPlaceFS{}

func (f inPlaceFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	return f.OpenFileAt(ctx, name, flag, perm, 0)
}

func (f inPlaceFS) OpenFileAt(ctx context.Context, name string, flag int, perm fs.FileMode, offset int64) (pier.File, error) {
	file, err := f.FS.OpenFile(ctx, name, flag, perm)
	if err != nil {
		return nil, err
	}
	if _, err := file.(io.Seeker).Seek(offset, io.SeekStart); err != nil {
		file.Close()
		return nil, err
	}
	return keepFile{file.(*mem.File)}, nil
}

type keepFile struct{ *mem.File }

func (f keepFile) Abort(reason error) error { return f.Close() }

// stagedFS is a mem.FS whose uploads are written to a buffer that Close
// commits and Abort drops. OpenFileAt of an upload keeps the bytes before
// the offset only, as an object store resuming an upload would.
type stagedFS struct{ *mem.FS }

var _ pier.OpenAtFS = stagedFS{}

func (f stagedFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	return f.open(ctx, name, flag, perm, 0, false)
}

func (f stagedFS) OpenFileAt(ctx context.Context, name string, flag int, perm fs.FileMode, offset int64) (pier.File, error) {
	return f.open(ctx, name, flag, perm, offset, true)
}

func (f stagedFS) open(ctx context.Context, name string, flag int, perm fs.FileMode, offset int64, cut bool) (pier.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		file, err := f.FS.OpenFile(ctx, name, flag, perm)
		if err != nil {
			return nil, err
		}
		if _, err := file.(io.Seeker).Seek(offset, io.SeekStart); err != nil {
			file.Close()
			return nil, err
		}
		return file, nil
	}
	pathErr := func(err error) error { return &fs.PathError{Op: "open", Path: name, Err: err} }
	excl := flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL
	var data []byte
	fi, err := f.FS.Stat(ctx, name)
	switch {
	case err == nil && excl:
		return nil, pathErr(fs.ErrExist)
	case err == nil && fi.IsDir():
		return nil, pathErr(syscall.EISDIR)
	case err == nil && flag&os.O_TRUNC == 0:
		r, err := f.FS.OpenFile(ctx, name, os.O_RDONLY, 0)
		if err != nil {
			return nil, err
		}
		data, err = io.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, err
		}
	case errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0:
		pi, err := f.FS.Stat(ctx, path.Dir(name))
		if err != nil {
			return nil, pathErr(err.(*fs.PathError).Err)
		}
		if !pi.IsDir() {
			return nil, pathErr(syscall.ENOTDIR)
		}
	case err != nil:
		return nil, err
	}
	if offset > int64(len(data)) {
		return nil, pathErr(syscall.EINVAL)
	}
	if cut {
		data = data[:offset]
	}
	s := &stagedFile{fs: f.FS, name: name, data: data, off: int(offset)}
	if flag&os.O_APPEND != 0 {
		s.off = len(data)
	}
	return s, nil
}

type stagedFile struct {
	fs   *mem.FS
	name string

	mu   sync.Mutex
	data []byte
	off  int
	done bool
}

func (s *stagedFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: s.name, Err: syscall.EBADF}
}

func (s *stagedFile) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return 0, &fs.PathError{Op: "write", Path: s.name, Err: fs.ErrClosed}
	}
	if end := s.off + len(p); end > len(s.data) {
		s.data = slices.Grow(s.data, end-len(s.data))[:end]
	}
	s.off += copy(s.data[s.off:], p)
	return len(p), nil
}

func (s *stagedFile) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return &fs.PathError{Op: "close", Path: s.name, Err: fs.ErrClosed}
	}
	s.done = true
	return s.fs.WriteFile(s.name, s.data)
}

func (s *stagedFile) Abort(reason error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return &fs.PathError{Op: "abort", Path: s.name, Err: fs.ErrClosed}
	}
	s.done = true
	s.data = nil
	return nil
}

var _ pier.Receiver = (*stagedFile)(nil)

// ReceiveFrom reads r straight into the staged bytes (pier.Receiver),
// through a buffer of its own over bytes kept from before, as a Read may
// scribble on all of its buffer.
func (s *stagedFile) ReceiveFrom(r io.Reader) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var total int64
	for {
		if s.done {
			return total, &fs.PathError{Op: "write", Path: s.name, Err: fs.ErrClosed}
		}
		var n int
		var err error
		if s.off < len(s.data) {
			buf := make([]byte, min(32<<10, len(s.data)-s.off))
			n, err = r.Read(buf)
			s.off += copy(s.data[s.off:], buf[:n])
		} else {
			s.data = slices.Grow(s.data, 64<<10)
			n, err = r.Read(s.data[len(s.data):cap(s.data)])
			s.data = s.data[:len(s.data)+n]
			s.off = len(s.data)
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

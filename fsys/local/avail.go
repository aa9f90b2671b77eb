package local

import (
	"context"
	"io/fs"
	"math"
	"syscall"

	"github.com/pierftp/pier"
)

var _ pier.AvailableFS = (*FS)(nil)

// Available implements pier.AvailableFS (AVBL): the free space, in bytes,
// that an unprivileged user may still take on the disk that holds the
// folder name (statfs's f_bavail; the blocks kept for root don't count),
// where the system tells it (Linux, macOS, FreeBSD); elsewhere
// pier.ErrNotSupported. The folder is opened in the root, so it must be
// readable.
func (f *FS) Available(ctx context.Context, name string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	dir, err := f.root.Open(name)
	if err != nil {
		return 0, mapErr(err)
	}
	defer dir.Close()
	st, err := dir.Stat()
	if err != nil {
		return 0, mapErr(err)
	}
	if !st.IsDir() {
		return 0, &fs.PathError{Op: "statfs", Path: name, Err: syscall.ENOTDIR}
	}
	rc, err := dir.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int64
	var serr error
	if err := rc.Control(func(fd uintptr) { n, serr = freeSpace(int(fd)) }); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, &fs.PathError{Op: "statfs", Path: name, Err: serr}
	}
	return n, nil
}

// bytesOf is blocks × size, capped at the largest int64.
func bytesOf(blocks, size uint64) int64 {
	if size != 0 && blocks > math.MaxInt64/size {
		return math.MaxInt64
	}
	return int64(blocks * size)
}

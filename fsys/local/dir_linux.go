//go:build linux && (amd64 || arm64)

package local

import (
	"encoding/binary"
	"io/fs"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// The Linux listing fast path reads the folder with getdents64 into a
// reused buffer and describes each entry with one fstatat relative to the
// open folder, handing the name straight from that buffer (it is
// NUL-terminated there, as fstatat wants it): no allocation per entry, where
// os.File.ReadDir makes four. A listing is bound by these two system calls;
// everything else it did was allocation and copying. The fstatat calls of a
// large batch are shared among several goroutines, as they run in parallel
// in the kernel; the entries still reach the caller in the folder's order.
// Under SingleThread they all run on the caller's thread.

// direntBufSize is the getdents64 buffer: about 1,000 entries of short names
// a call.
const direntBufSize = 32 << 10

// parallelStatMin is the smallest batch whose fstatat calls are shared among
// several goroutines: a listing of a large folder spends most of its time in
// them, and they run in parallel in the kernel (path lookups under RCU).
const parallelStatMin = 128

// maxStatWorkers bounds the goroutines that share one batch's fstatat calls.
const maxStatWorkers = 4

// dirBatch is one getdents64 buffer and what was learnt of its entries.
type dirBatch struct {
	buf   []byte
	names []nameRef // the entries to describe, in the folder's order
	sts   []syscall.Stat_t
	errs  []syscall.Errno
}

// nameRef locates a NUL-terminated name in dirBatch.buf.
type nameRef struct{ off, len uint16 }

var dirBatches = sync.Pool{New: func() any { return &dirBatch{buf: make([]byte, direntBufSize)} }}

// Offsets in a linux_dirent64 record: d_ino (8), d_off (8), d_reclen (2),
// d_type (1), d_name.
const (
	direntReclenOff = 16
	direntNameOff   = 19
)

// ReadDirInfo implements pier.DirInfoReader.
func (d *dir) ReadDirInfo(fn func(fs.FileInfo) error) error {
	rc, err := d.File.SyscallConn()
	if err != nil {
		return d.readDirInfo(fn)
	}
	b := dirBatches.Get().(*dirBatch)
	defer dirBatches.Put(b)
	workers := d.statWorkers()
	var info statInfo
	var fnErr, sysErr error
	cerr := rc.Read(func(fd uintptr) bool {
		for {
			n, err := getdents(int(fd), b.buf)
			if err != nil {
				sysErr = &fs.PathError{Op: "readdirent", Path: d.Name(), Err: err}
				return true
			}
			if n <= 0 {
				return true
			}
			if err := b.parse(n, d.hideTemp); err != nil {
				sysErr = &fs.PathError{Op: "readdirent", Path: d.Name(), Err: err}
				return true
			}
			b.stat(int(fd), workers)
			for i, r := range b.names {
				switch e := b.errs[i]; e {
				case 0:
				case syscall.ENOENT:
					continue // vanished meanwhile
				default:
					sysErr = &fs.PathError{Op: "lstat", Path: d.Name() + "/" + string(b.buf[r.off:r.off+r.len]), Err: e}
					return true
				}
				info.name = unsafe.String(&b.buf[r.off], int(r.len))
				info.st = b.sts[i]
				if fnErr = fn(&info); fnErr != nil {
					return true
				}
			}
		}
	})
	switch {
	case fnErr != nil:
		return fnErr
	case sysErr != nil:
		return sysErr
	}
	return cerr
}

// statWorkers is how many goroutines may share a batch's fstatat calls:
// one, the caller, under SingleThread.
func (d *dir) statWorkers() int {
	if d.single {
		return 1
	}
	return min(runtime.GOMAXPROCS(0), maxStatWorkers)
}

// parse finds the names in the first n bytes of the buffer, leaving out "."
// and "..", and the temporaries of AtomicUploads if hideTemp.
func (b *dirBatch) parse(n int, hideTemp bool) error {
	b.names = b.names[:0]
	for off := 0; n-off > direntNameOff; {
		rec := b.buf[off:n]
		reclen := int(binary.NativeEndian.Uint16(rec[direntReclenOff:]))
		if reclen <= direntNameOff || reclen > len(rec) {
			return syscall.EIO
		}
		name := rec[direntNameOff:reclen]
		namelen := 0
		for namelen < len(name) && name[namelen] != 0 {
			namelen++
		}
		if namelen == len(name) { // no NUL: not a record we understand
			return syscall.EIO
		}
		if hideTemp && namelen >= len(TempPrefix) && string(name[:len(TempPrefix)]) == TempPrefix {
			// an upload in progress
		} else if namelen > 0 && (name[0] != '.' || (namelen != 1 && (namelen != 2 || name[1] != '.'))) {
			b.names = append(b.names, nameRef{off: uint16(off + direntNameOff), len: uint16(namelen)})
		}
		off += reclen
	}
	if cap(b.sts) < len(b.names) {
		b.sts = make([]syscall.Stat_t, len(b.names))
		b.errs = make([]syscall.Errno, len(b.names))
	}
	b.sts, b.errs = b.sts[:len(b.names)], b.errs[:len(b.names)]
	return nil
}

// stat describes every entry of the batch, sharing a large batch among up
// to workers goroutines (the caller's included) in contiguous slices.
func (b *dirBatch) stat(fd, workers int) {
	n := len(b.names)
	if workers > n/(parallelStatMin/2) {
		workers = n / (parallelStatMin / 2)
	}
	if workers < 2 {
		b.statRange(fd, 0, n)
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for lo := per; lo < n; lo += per {
		wg.Go(func() { b.statRange(fd, lo, min(lo+per, n)) })
	}
	b.statRange(fd, 0, per)
	wg.Wait()
}

func (b *dirBatch) statRange(fd, lo, hi int) {
	for i := lo; i < hi; i++ {
		b.errs[i] = fstatat(fd, &b.buf[b.names[i].off], &b.sts[i])
	}
}

func getdents(fd int, buf []byte) (int, error) {
	for {
		n, err := syscall.Getdents(fd, buf)
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// fstatat is an lstat of the NUL-terminated name relative to the folder fd.
func fstatat(fd int, name *byte, st *syscall.Stat_t) syscall.Errno {
	for {
		_, _, e := syscall.Syscall6(sysFstatat, uintptr(fd), uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(st)), _AT_SYMLINK_NOFOLLOW, 0, 0)
		if e != syscall.EINTR {
			return e
		}
	}
}

const _AT_SYMLINK_NOFOLLOW = 0x100

// statInfo is an fs.FileInfo over a stat buffer, as os builds its own.
type statInfo struct {
	name string
	st   syscall.Stat_t
}

func (fi *statInfo) Name() string       { return fi.name }
func (fi *statInfo) Size() int64        { return fi.st.Size }
func (fi *statInfo) IsDir() bool        { return fi.st.Mode&syscall.S_IFMT == syscall.S_IFDIR }
func (fi *statInfo) Sys() any           { return &fi.st }
func (fi *statInfo) ModTime() time.Time { return time.Unix(fi.st.Mtim.Unix()) }

func (fi *statInfo) Mode() fs.FileMode {
	m := fs.FileMode(fi.st.Mode & 0o777)
	switch fi.st.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if fi.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if fi.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if fi.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

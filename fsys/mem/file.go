package mem

// Open files and folder listings of an FS.

import (
	"io"
	"io/fs"
	"slices"
	"sync"
	"syscall"
	"time"
)

// File is an open file of an FS. It implements pier.File, io.Seeker,
// io.ReaderAt and io.WriterAt. Its offset is its own; the data is shared
// with every other File open on the same file, and writes are visible to
// them at once.
type File struct {
	fs   *FS
	n    *node
	name string

	read, write, append bool

	mu     sync.Mutex // guards off and closed
	off    int64
	closed bool
}

// check returns the error for an operation on f: closed, or opened without
// the access it needs. The caller holds f.mu.
func (f *File) check(op string, write bool) error {
	switch {
	case f.closed:
		return pathErr(op, f.name, fs.ErrClosed)
	case write && !f.write, !write && !f.read:
		return pathErr(op, f.name, syscall.EBADF)
	}
	return nil
}

// Read implements io.Reader.
func (f *File) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	n, err := f.readAt(p, f.off)
	f.off += int64(n)
	return n, err
}

// ReadAt implements io.ReaderAt.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	err := f.check("read", false)
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("readat", f.name, syscall.EINVAL)
	}
	n, err := f.readAt(p, off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

func (f *File) readAt(p []byte, off int64) (int, error) {
	f.fs.mu.RLock()
	defer f.fs.mu.RUnlock()
	if off >= int64(len(f.n.data)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	return copy(p, f.n.data[off:]), nil
}

// Write implements io.Writer. With os.O_APPEND, it writes at the end
// whatever the offset.
func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	end := f.writeAt(p, f.off, f.append)
	f.off = end
	return len(p), nil
}

// WriteAt implements io.WriterAt. Like os.File.WriteAt, it fails on a file
// opened with os.O_APPEND.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	err := f.check("write", true)
	f.mu.Unlock()
	switch {
	case err != nil:
		return 0, err
	case f.append:
		return 0, pathErr("writeat", f.name, syscall.EINVAL)
	case off < 0:
		return 0, pathErr("writeat", f.name, syscall.EINVAL)
	}
	f.writeAt(p, off, false)
	return len(p), nil
}

// writeAt writes p at off (at the end if atEnd), filling any gap with
// zeros, and returns the offset after it.
func (f *File) writeAt(p []byte, off int64, atEnd bool) int64 {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n := f.n
	if atEnd {
		off = int64(len(n.data))
	}
	end := off + int64(len(p))
	if size := int64(len(n.data)); end > size {
		n.data = slices.Grow(n.data, int(end-size))[:end]
		if off > size {
			clear(n.data[size:off])
		}
	}
	copy(n.data[off:], p)
	n.modTime = time.Now()
	return end
}

// Seek implements io.Seeker. Seeking past the end is allowed; a write there
// fills the gap with zeros.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, pathErr("seek", f.name, fs.ErrClosed)
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		f.fs.mu.RLock()
		offset += int64(len(f.n.data))
		f.fs.mu.RUnlock()
	default:
		return 0, pathErr("seek", f.name, syscall.EINVAL)
	}
	if offset < 0 {
		return 0, pathErr("seek", f.name, syscall.EINVAL)
	}
	f.off = offset
	return offset, nil
}

// Stat describes the file as it is now.
func (f *File) Stat() (fs.FileInfo, error) {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return nil, pathErr("stat", f.name, fs.ErrClosed)
	}
	f.fs.mu.RLock()
	defer f.fs.mu.RUnlock()
	return f.n.info(baseName(f.name)), nil
}

// Close implements io.Closer. The data is already in place; closing twice
// returns an error wrapping fs.ErrClosed.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	return nil
}

// dirReader streams a directory's entries from a snapshot of its names.
type dirReader struct {
	fs     *FS
	dir    *node
	name   string
	mu     sync.Mutex // guards names and closed
	names  []string
	closed bool
}

// ReadDir implements pier.DirReader: up to n entries (all that are left if
// n <= 0), and io.EOF once none are left when n > 0.
func (d *dirReader) ReadDir(n int) ([]fs.DirEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, pathErr("readdir", d.name, fs.ErrClosed)
	}
	d.fs.mu.RLock()
	defer d.fs.mu.RUnlock()
	var out []fs.DirEntry
	for len(d.names) > 0 && (n <= 0 || len(out) < n) {
		name := d.names[0]
		d.names = d.names[1:]
		if child, ok := d.dir.children[name]; ok {
			out = append(out, fs.FileInfoToDirEntry(child.info(name)))
		}
	}
	if len(out) == 0 && n > 0 {
		return nil, io.EOF
	}
	return out, nil
}

// Close implements pier.DirReader.
func (d *dirReader) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return pathErr("close", d.name, fs.ErrClosed)
	}
	d.closed = true
	d.names = nil
	return nil
}

// fileInfo is a snapshot of a node.
type fileInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
}

func (fi *fileInfo) Name() string { return fi.name }

func (fi *fileInfo) Size() int64 { return fi.size }

func (fi *fileInfo) Mode() fs.FileMode { return fi.mode }

func (fi *fileInfo) ModTime() time.Time { return fi.modTime }

func (fi *fileInfo) IsDir() bool { return fi.mode.IsDir() }

func (fi *fileInfo) Sys() any { return nil }

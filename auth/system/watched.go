package system

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// maxAccountFile is the largest account file read: far more than a
// machine's local accounts take, so that a file that is not one (a
// device, a mistake) is not read into memory whole.
const maxAccountFile = 256 << 20

// watched is one account file, parsed again when it changes and kept
// parsed otherwise. useradd, passwd and vipw write a new file and rename
// it over the old one, or rewrite it in place; either way its inode,
// modification time or size changes, so changes apply from the next login
// without a restart.
type watched[T any] struct {
	path  string
	parse func([]byte) T

	mu   sync.Mutex  // guards the fields below
	info os.FileInfo // of the version parsed; nil before the first read
	val  T
}

// newWatched returns the file at path, parsed with parse when it is read.
func newWatched[T any](path string, parse func([]byte) T) *watched[T] {
	return &watched[T]{path: path, parse: parse}
}

// load returns the parsed file, reading it again if it changed since it
// was last read.
func (w *watched[T]) load() (T, error) {
	var zero T
	st, err := os.Stat(w.path)
	if err != nil {
		return zero, fmt.Errorf("system: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.info != nil && sameVersion(w.info, st) {
		return w.val, nil
	}
	f, err := os.Open(w.path)
	if err != nil {
		return zero, fmt.Errorf("system: %w", err)
	}
	defer f.Close()
	// The version read is the one described by this Stat, of the same
	// open file: a change after it is seen at the next load.
	st, err = f.Stat()
	if err != nil {
		return zero, fmt.Errorf("system: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() > maxAccountFile {
		return zero, fmt.Errorf("system: %s: not a regular file of at most %d bytes", w.path, maxAccountFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxAccountFile+1))
	if err != nil {
		return zero, fmt.Errorf("system: read %s: %w", w.path, err)
	}
	if len(data) > maxAccountFile {
		return zero, fmt.Errorf("system: %s: larger than %d bytes", w.path, maxAccountFile)
	}
	w.val, w.info = w.parse(data), st
	return w.val, nil
}

// sameVersion reports whether two stats of a file describe the same
// contents, as far as their inode, modification time and size tell.
func sameVersion(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

package tlscert

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// reloading is a value loaded from files, loaded again when Reload is
// called or when current notices that a file changed (its size or mtime,
// looked at no more than once a second). A load that fails keeps the value
// in force. Reloader and CRLReloader are made of it.
type reloading[T any] struct {
	files []string
	load  func() (T, error)

	mu      sync.Mutex
	val     T
	loaded  bool
	stamp   string    // size and mtime of the files when loaded
	checked time.Time // last time the files were looked at
}

// stampFiles returns the size and mtime of every file, or an error naming
// the first that can't be looked at.
func (r *reloading[T]) stampFiles() (string, error) {
	var b strings.Builder
	for _, f := range r.files {
		st, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("tlscert: %w", err)
		}
		fmt.Fprintf(&b, "%d:%d;", st.Size(), st.ModTime().UnixNano())
	}
	return b.String(), nil
}

// reload loads the files now. onReload, if not nil, is told the outcome of
// every load but the first, with no lock held.
func (r *reloading[T]) reload(onReload func(error)) error {
	r.mu.Lock()
	wasLoaded := r.loaded
	r.mu.Unlock()
	stamp, err := r.stampFiles()
	if err == nil {
		var v T
		if v, err = r.load(); err == nil {
			r.mu.Lock()
			r.val, r.loaded, r.stamp, r.checked = v, true, stamp, time.Now()
			r.mu.Unlock()
		}
	}
	if onReload != nil && wasLoaded {
		onReload(err)
	}
	return err
}

// current returns the value in force, after loading the files again if
// they changed since the last look (at most once a second).
func (r *reloading[T]) current(onReload func(error)) T {
	r.mu.Lock()
	due := time.Since(r.checked) >= time.Second
	if due {
		r.checked = time.Now()
	}
	stamp := r.stamp
	r.mu.Unlock()
	if due {
		if now, err := r.stampFiles(); err == nil && now != stamp {
			r.reload(onReload)
		}
	}
	return r.value()
}

// value returns the value in force without looking at the files.
func (r *reloading[T]) value() T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.val
}

package pier

import (
	"reflect"
	"sync"
)

// uploadLocks keeps two uploads from writing one file at once: the second
// STOR or APPE to a name gets 450 while the first runs (vsftpd's
// lock_upload_files refuses the same way), so a file is never a mix of two
// uploads' blocks. The lock is per server; a file is known by its
// UploadKey where the file system has one (fsys/local: its real path),
// else by the file system value and the name.
type uploadLocks struct {
	mu    sync.Mutex
	names map[any]struct{}
}

type uploadKey struct {
	fsys FileSystem
	name string
}

// lock takes name in fsys for an upload; it returns false if another
// upload holds it. unlock must be called exactly once.
func (u *uploadLocks) lock(fsys FileSystem, name string) (unlock func(), ok bool) {
	k := lockKey(fsys, name)
	if k == nil {
		return func() {}, true
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, busy := u.names[k]; busy {
		return nil, false
	}
	if u.names == nil {
		u.names = make(map[any]struct{})
	}
	u.names[k] = struct{}{}
	var once sync.Once
	return func() {
		once.Do(func() {
			u.mu.Lock()
			delete(u.names, k)
			u.mu.Unlock()
		})
	}, true
}

// busy reports whether an upload to name in fsys is running.
func (u *uploadLocks) busy(fsys FileSystem, name string) bool {
	k := lockKey(fsys, name)
	if k == nil {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	_, ok := u.names[k]
	return ok
}

// lockKey is the key of name in fsys, nil if it has none.
func lockKey(fsys FileSystem, name string) any {
	switch {
	case isKeyer(fsys):
		return fsys.(UploadKeyer).UploadKey(name)
	case reflect.TypeOf(fsys).Comparable():
		return uploadKey{fsys, name}
	}
	// A file system value that can't be a map key (a struct holding a
	// slice, say) and has no UploadKey can't be told apart from another:
	// no lock.
	return nil
}

func isKeyer(fsys FileSystem) bool {
	_, ok := fsys.(UploadKeyer)
	return ok
}

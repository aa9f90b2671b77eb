package pier

import (
	"reflect"
	"sync"
)

// uploadLocks keeps two uploads from writing one file at once: the second
// STOR or APPE to a name gets 450 while the first runs (vsftpd's
// lock_upload_files refuses the same way), so a file is never a mix of two
// uploads' blocks. The lock is per server and per file system value: two
// file systems that reach one folder (two local.FS on the same directory)
// don't see each other's locks.
type uploadLocks struct {
	mu    sync.Mutex
	names map[uploadKey]struct{}
}

type uploadKey struct {
	fsys FileSystem
	name string
}

// lock takes name in fsys for an upload; it returns false if another
// upload holds it. unlock must be called exactly once.
func (u *uploadLocks) lock(fsys FileSystem, name string) (unlock func(), ok bool) {
	if !reflect.TypeOf(fsys).Comparable() {
		// A file system value that can't be a map key (a struct holding
		// a slice, say) can't be told apart from another: no lock.
		return func() {}, true
	}
	k := uploadKey{fsys, name}
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, busy := u.names[k]; busy {
		return nil, false
	}
	if u.names == nil {
		u.names = make(map[uploadKey]struct{})
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

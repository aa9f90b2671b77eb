// Package mem is an in-memory pier.FileSystem, for tests and examples.
//
// It behaves like a local POSIX file system without symbolic links: the
// os.O_* flags of OpenFile, the errors (*fs.PathError wrapping
// fs.ErrNotExist, fs.ErrExist, syscall.ENOTDIR, syscall.EISDIR,
// syscall.ENOTEMPTY...), rename of files and whole directories, modes and
// modification times. Modes are recorded but not enforced: every caller may
// read and write everything. Every operation completes at once, so the
// contexts the methods take are not used.
//
//	memfs := mem.New()
//	memfs.WriteFile("pub/readme.txt", []byte("hello\n"))
//	users.AddUser("alice", auth.Account{Password: "pw", FS: memfs, Perm: pier.AllPerms})
package mem

import (
	"context"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pierftp/pier"
)

// umask is applied to the perm given to OpenFile and Mkdir, as a process
// with the usual umask 022 would: files created with 0666 get 0644.
const umask fs.FileMode = 0o022

// modeBits are the mode bits Chmod can change, as os.Chmod.
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// FS is an in-memory file system. The zero value is not usable; call New.
// It is safe for concurrent use.
type FS struct {
	mu   sync.RWMutex
	root *node
}

var (
	_ pier.FileSystem = (*FS)(nil)
	_ pier.LstatFS    = (*FS)(nil)
	_ pier.RenameFS   = (*FS)(nil)
	_ pier.ChmodFS    = (*FS)(nil)
	_ pier.ChtimesFS  = (*FS)(nil)
)

// node is a file or a directory. An open File keeps its node, so, as with
// an inode, writes to a file that was renamed or removed after it was
// opened still land in it.
type node struct {
	mode     fs.FileMode // includes fs.ModeDir for directories
	modTime  time.Time
	data     []byte           // files
	children map[string]*node // directories
}

func (n *node) isDir() bool { return n.mode.IsDir() }

func (n *node) info(name string) *fileInfo {
	return &fileInfo{name: name, size: int64(len(n.data)), mode: n.mode, modTime: n.modTime}
}

// New returns an empty file system: just the root directory.
func New() *FS {
	return &FS{root: newDir(0o755)}
}

func newDir(perm fs.FileMode) *node {
	return &node{mode: fs.ModeDir | perm&modeBits, modTime: time.Now(), children: map[string]*node{}}
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// split returns the elements of a valid name; the root has none.
func split(name string) []string {
	if name == "." {
		return nil
	}
	return strings.Split(name, "/")
}

// lookup finds the node of a name. The caller holds f.mu.
func (f *FS) lookup(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, pathErr(op, name, fs.ErrInvalid)
	}
	n := f.root
	for _, elem := range split(name) {
		if !n.isDir() {
			return nil, pathErr(op, name, syscall.ENOTDIR)
		}
		child, ok := n.children[elem]
		if !ok {
			return nil, pathErr(op, name, fs.ErrNotExist)
		}
		n = child
	}
	return n, nil
}

// lookupParent finds the directory that holds name, and name's last
// element. name must not be the root. The caller holds f.mu.
func (f *FS) lookupParent(op, name string) (*node, string, error) {
	if !fs.ValidPath(name) {
		return nil, "", pathErr(op, name, fs.ErrInvalid)
	}
	if name == "." {
		return nil, "", pathErr(op, name, syscall.EINVAL)
	}
	dir, base := ".", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir, base = name[:i], name[i+1:]
	}
	parent, err := f.lookup(op, dir)
	if err != nil {
		return nil, "", pathErr(op, name, err.(*fs.PathError).Err)
	}
	if !parent.isDir() {
		return nil, "", pathErr(op, name, syscall.ENOTDIR)
	}
	return parent, base, nil
}

// Stat implements pier.FileSystem.
func (f *FS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return n.info(baseName(name)), nil
}

// Lstat implements pier.LstatFS. There are no symbolic links, so it is
// Stat.
func (f *FS) Lstat(ctx context.Context, name string) (fs.FileInfo, error) {
	fi, err := f.Stat(ctx, name)
	if err != nil {
		err.(*fs.PathError).Op = "lstat"
	}
	return fi, err
}

func baseName(name string) string {
	return name[strings.LastIndexByte(name, '/')+1:]
}

// OpenFile implements pier.FileSystem with the semantics of os.OpenFile,
// except that, as in pier's local back-end, only files open: a directory
// fails with syscall.EISDIR (or fs.ErrExist with os.O_CREATE|os.O_EXCL).
// The File it returns also implements io.Seeker, io.ReaderAt and
// io.WriterAt, and has a Stat method.
func (f *FS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	const op = "open"
	acc := flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	if acc != os.O_RDONLY && acc != os.O_WRONLY && acc != os.O_RDWR {
		return nil, pathErr(op, name, syscall.EINVAL)
	}
	writable := acc != os.O_RDONLY
	f.mu.Lock()
	defer f.mu.Unlock()
	var n *node
	if name == "." {
		n = f.root
	} else {
		parent, base, err := f.lookupParent(op, name)
		if err != nil {
			return nil, err
		}
		n = parent.children[base]
		switch {
		case n == nil && flag&os.O_CREATE == 0:
			return nil, pathErr(op, name, fs.ErrNotExist)
		case n == nil:
			now := time.Now()
			n = &node{mode: perm & fs.ModePerm &^ umask, modTime: now}
			parent.children[base] = n
			parent.modTime = now
		case flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
			return nil, pathErr(op, name, fs.ErrExist)
		}
	}
	if n.isDir() {
		if flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0 {
			return nil, pathErr(op, name, fs.ErrExist)
		}
		return nil, pathErr(op, name, syscall.EISDIR)
	}
	if flag&os.O_TRUNC != 0 && writable && len(n.data) > 0 {
		n.data = nil
		n.modTime = time.Now()
	}
	return &File{fs: f, n: n, name: name, read: !(acc == os.O_WRONLY), write: writable, append: flag&os.O_APPEND != 0}, nil
}

// OpenDir implements pier.FileSystem. The DirReader lists the names the
// directory held when it was opened, in name order, and describes each as
// it is when read (leaving out those removed meanwhile).
func (f *FS) OpenDir(ctx context.Context, name string) (pier.DirReader, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, err := f.lookup("opendir", name)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, pathErr("opendir", name, syscall.ENOTDIR)
	}
	names := make([]string, 0, len(n.children))
	for child := range n.children {
		names = append(names, child)
	}
	slices.Sort(names)
	return &dirReader{fs: f, dir: n, name: name, names: names}, nil
}

// Mkdir implements pier.FileSystem. It fails with fs.ErrExist if name
// exists, file or directory.
func (f *FS) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name == "." {
		return pathErr("mkdir", name, fs.ErrExist)
	}
	parent, base, err := f.lookupParent("mkdir", name)
	if err != nil {
		return err
	}
	if _, ok := parent.children[base]; ok {
		return pathErr("mkdir", name, fs.ErrExist)
	}
	d := newDir(perm & fs.ModePerm &^ umask)
	parent.children[base] = d
	parent.modTime = d.modTime
	return nil
}

// Remove implements pier.FileSystem: it removes a file or an empty
// directory. The root can't be removed.
func (f *FS) Remove(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	parent, base, err := f.lookupParent("remove", name)
	if err != nil {
		return err
	}
	n, ok := parent.children[base]
	if !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	if n.isDir() && len(n.children) > 0 {
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	delete(parent.children, base)
	parent.modTime = time.Now()
	return nil
}

// Rename implements pier.RenameFS with the semantics of os.Rename: a file
// or a directory (with all it holds) moves, replacing newname if it is a
// file; an existing directory is never replaced (fs.ErrExist), a directory
// can't replace a file (syscall.ENOTDIR) nor move into itself
// (syscall.EINVAL).
func (f *FS) Rename(ctx context.Context, oldname, newname string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	linkErr := func(err error) error {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	unwrap := func(err error) error { return linkErr(err.(*fs.PathError).Err) }
	oldParent, oldBase, err := f.lookupParent("rename", oldname)
	if err != nil {
		return unwrap(err)
	}
	n, ok := oldParent.children[oldBase]
	if !ok {
		return linkErr(fs.ErrNotExist)
	}
	newParent, newBase, err := f.lookupParent("rename", newname)
	if err != nil {
		return unwrap(err)
	}
	if oldname == newname {
		return nil
	}
	if n.isDir() && strings.HasPrefix(newname, oldname+"/") {
		return linkErr(syscall.EINVAL)
	}
	if target, ok := newParent.children[newBase]; ok {
		switch {
		case target.isDir():
			return linkErr(fs.ErrExist)
		case n.isDir():
			return linkErr(syscall.ENOTDIR)
		}
	}
	delete(oldParent.children, oldBase)
	newParent.children[newBase] = n
	now := time.Now()
	oldParent.modTime, newParent.modTime = now, now
	return nil
}

// Chmod implements pier.ChmodFS. It changes the permission bits (and
// setuid, setgid, sticky), as os.Chmod; they are not enforced.
func (f *FS) Chmod(ctx context.Context, name string, mode fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.lookup("chmod", name)
	if err != nil {
		return err
	}
	n.mode = n.mode&^modeBits | mode&modeBits
	return nil
}

// Chtimes implements pier.ChtimesFS. Only the modification time is kept; a
// zero mtime leaves it unchanged, as os.Chtimes.
func (f *FS) Chtimes(ctx context.Context, name string, atime, mtime time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.lookup("chtimes", name)
	if err != nil {
		return err
	}
	if !mtime.IsZero() {
		n.modTime = mtime
	}
	return nil
}

// WriteFile creates or replaces the named file with data, creating the
// directories above it as needed (mode 0755; the file gets 0644). It is for
// seeding a file system in tests and examples.
func (f *FS) WriteFile(name string, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !fs.ValidPath(name) {
		return pathErr("writefile", name, fs.ErrInvalid)
	}
	if name == "." {
		return pathErr("writefile", name, syscall.EISDIR)
	}
	now := time.Now()
	elems := split(name)
	dir := f.root
	for _, elem := range elems[:len(elems)-1] {
		child, ok := dir.children[elem]
		if !ok {
			child = newDir(0o755)
			dir.children[elem] = child
			dir.modTime = now
		}
		if !child.isDir() {
			return pathErr("writefile", name, syscall.ENOTDIR)
		}
		dir = child
	}
	base := elems[len(elems)-1]
	n, ok := dir.children[base]
	switch {
	case !ok:
		n = &node{mode: 0o644}
		dir.children[base] = n
		dir.modTime = now
	case n.isDir():
		return pathErr("writefile", name, syscall.EISDIR)
	}
	n.data = slices.Clone(data)
	n.modTime = now
	return nil
}

var (
	_ pier.File   = (*File)(nil)
	_ io.Seeker   = (*File)(nil)
	_ io.ReaderAt = (*File)(nil)
	_ io.WriterAt = (*File)(nil)
)

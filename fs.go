package pier

import (
	"errors"
	"io"
	"io/fs"
	"time"
)

// FileSystem is one user's view of storage. pier calls it with names that
// are slash-separated paths relative to the user's root: "." is the root
// itself, and a name never starts with "/", never contains a ".." element
// and never contains NUL. An implementation must still refuse to reach
// outside its root (the local one uses os.Root), because symlinks can point
// anywhere.
//
// Methods return errors that satisfy errors.Is with fs.ErrNotExist,
// fs.ErrExist, fs.ErrPermission, ErrOutsideRoot or syscall errnos where they
// apply; pier maps them to FTP replies in one place.
//
// Optional abilities are small interfaces a FileSystem may also implement:
// ReadlinkFS, ChmodFS and ChtimesFS. A command that needs one the file
// system lacks is answered with 502.
type FileSystem interface {
	// Stat returns information about the named file, following symlinks.
	Stat(name string) (fs.FileInfo, error)
	// Lstat returns information about the named file without following a
	// final symlink.
	Lstat(name string) (fs.FileInfo, error)
	// OpenFile opens the named file with os.O_* flags, like os.OpenFile.
	// pier uses O_RDONLY for downloads; O_WRONLY|O_CREATE|O_TRUNC for STOR;
	// O_WRONLY|O_CREATE|O_APPEND for APPE; O_WRONLY for STOR after REST;
	// O_WRONLY|O_CREATE|O_EXCL for STOU.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// OpenDir opens the named directory for streaming its entries.
	OpenDir(name string) (DirReader, error)
	// Mkdir creates a directory.
	Mkdir(name string, perm fs.FileMode) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// Rename renames (moves) oldname to newname, replacing newname if it is
	// a file.
	Rename(oldname, newname string) error
}

// File is an open file. Downloads read from it, uploads write to it, REST
// seeks it. When the concrete type is *os.File and the data connection is
// plain TCP, transfers use sendfile and splice (zero-copy).
type File interface {
	io.Reader
	io.Writer
	io.Seeker
	io.Closer
	Stat() (fs.FileInfo, error)
}

// DirReader streams the entries of a directory, so that listing a folder of
// a million entries never holds them all in memory.
type DirReader interface {
	// ReadDir returns up to n entries, and io.EOF at the end, like
	// (*os.File).ReadDir with n > 0.
	ReadDir(n int) ([]fs.DirEntry, error)
	Close() error
}

// ReadlinkFS is implemented by file systems that have symbolic links; LIST
// shows their targets.
type ReadlinkFS interface {
	Readlink(name string) (string, error)
}

// ChmodFS is implemented by file systems that support SITE CHMOD.
type ChmodFS interface {
	Chmod(name string, mode fs.FileMode) error
}

// ChtimesFS is implemented by file systems that support MFMT.
type ChtimesFS interface {
	Chtimes(name string, atime, mtime time.Time) error
}

// ErrOutsideRoot is returned by a FileSystem for a name that resolves, through
// a symlink, to a place outside the user's root.
var ErrOutsideRoot = errors.New("path escapes from the user's root")

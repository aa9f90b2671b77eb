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
// The interface asks only what any storage can do, object stores included:
// no atomic rename, no random-access write, no folders apart from their
// contents. Optional abilities are small interfaces a FileSystem (or a
// File, or a DirReader) may also implement: LstatFS, RenameFS, ReadlinkFS,
// ChmodFS, ChtimesFS, io.Seeker on a File, and DirInfoReader on a
// DirReader. A command that needs one the file
// system lacks is answered with 502 (504 for REST+STOR on a file that
// can't seek); a FileSystem method may also return ErrNotSupported.
type FileSystem interface {
	// Stat returns information about the named file, following symlinks.
	Stat(name string) (fs.FileInfo, error)
	// OpenFile opens the named file with os.O_* flags, like os.OpenFile.
	// pier uses O_RDONLY for downloads; O_WRONLY|O_CREATE|O_TRUNC for STOR;
	// O_WRONLY|O_CREATE|O_APPEND for APPE; O_WRONLY (then Seek) for STOR
	// after REST; O_WRONLY|O_CREATE|O_EXCL for STOU. An upload is complete
	// when Close returns nil: a back-end that buffers or streams to a
	// remote store commits there.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// OpenDir opens the named directory for streaming its entries.
	OpenDir(name string) (DirReader, error)
	// Mkdir creates a directory.
	Mkdir(name string, perm fs.FileMode) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
}

// File is an open file: downloads read from it, uploads write to it. If it
// also implements io.Seeker, REST works with STOR and RETR jumps to the
// offset (otherwise RETR reads and drops the bytes before it). When the
// concrete type is *os.File and the data connection is plain TCP,
// transfers use sendfile and splice (zero-copy).
type File interface {
	io.Reader
	io.Writer
	io.Closer
}

// LstatFS is implemented by file systems that have symbolic links: Lstat
// describes a link itself. Without it, Stat is used.
type LstatFS interface {
	Lstat(name string) (fs.FileInfo, error)
}

// RenameFS is implemented by file systems that can rename (RNFR, RNTO). The
// rename need not be atomic.
type RenameFS interface {
	// Rename renames (moves) oldname to newname, replacing newname if it
	// is a file.
	Rename(oldname, newname string) error
}

// DirReader streams the entries of a directory, so that listing a folder of
// a million entries never holds them all in memory.
type DirReader interface {
	// ReadDir returns up to n entries, and io.EOF at the end, like
	// (*os.File).ReadDir with n > 0.
	ReadDir(n int) ([]fs.DirEntry, error)
	Close() error
}

// DirInfoReader is an optional interface of a DirReader that hands out each
// entry's information (as Lstat gives it) without building an fs.DirEntry
// first: back-ends that get sizes and times with the names (a local
// folder's fstatat, an object store's listing) implement it so that listings
// cost no allocation per entry. pier uses it in place of ReadDir when
// present.
type DirInfoReader interface {
	DirReader
	// ReadDirInfo calls fn for every entry ("." and ".." left out),
	// streaming: it holds no more than a batch of entries at a time. It is
	// called instead of ReadDir, never after it on the same DirReader.
	// The FileInfo, and the string its Name returns, are valid only during
	// the call: fn must copy what it keeps. ReadDirInfo stops at, and
	// returns, the first error fn returns; entries that vanish while it
	// reads are skipped.
	ReadDirInfo(fn func(fs.FileInfo) error) error
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

// ErrNotSupported may be returned by a FileSystem for an operation it can't
// do (APPE on a store without append, say); the client gets 502.
var ErrNotSupported = errors.New("operation not supported by this file system")

// lstat is Lstat where the file system has it, else Stat.
func lstat(fsys FileSystem, name string) (fs.FileInfo, error) {
	if l, ok := fsys.(LstatFS); ok {
		return l.Lstat(name)
	}
	return fsys.Stat(name)
}

// ErrOutsideRoot is returned by a FileSystem for a name that resolves, through
// a symlink, to a place outside the user's root.
var ErrOutsideRoot = errors.New("path escapes from the user's root")

package pier

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"
)

// FileSystem is one user's view of storage. pier calls it with names that
// are slash-separated paths relative to the user's root: "." is the root
// itself, and a name never starts with "/", never contains a ".." element
// and never contains NUL. An implementation must still refuse to reach
// outside its root (the local one uses os.Root), because symlinks can point
// anywhere.
//
// Every method takes a context that ends when the session ends (the client
// quits or drops, ABOR stops the command, Server.Close): a back-end that
// waits on a network or a database should return ctx's error then, so that
// a hung store never holds up a session, ABOR, QUIT or a shutdown. A File
// or a DirReader is bound to the context it was opened with.
//
// Methods return errors that satisfy errors.Is with fs.ErrNotExist,
// fs.ErrExist, fs.ErrPermission, ErrOutsideRoot or syscall errnos where they
// apply, or a *ReplyError to choose the client's reply; pier maps them to
// FTP replies in one place (see ReplyError).
//
// The interface asks only what any storage can do, object stores included:
// no atomic rename, no random-access write, no folders apart from their
// contents. Optional abilities are small interfaces a FileSystem (or a
// File, or a DirReader) may also implement: LstatFS, RenameFS, ReadlinkFS,
// ChmodFS, ChtimesFS, OpenAtFS, OpenInfoFS, UploadStatFS, DirStatFS, AccessFS,
// AvailableFS, UploadKeyer, CommitOnCloseFS;
// io.Seeker, Aborter, OSFiler, Sender and Receiver on a File; and DirInfoReader on a
// DirReader. A command that needs one the file
// system lacks is answered with 502 (504 for REST+STOR where neither
// OpenAtFS nor io.Seeker is there); a FileSystem method may also return
// ErrNotSupported.
type FileSystem interface {
	// Stat returns information about the named file, following symlinks.
	Stat(ctx context.Context, name string) (fs.FileInfo, error)
	// OpenFile opens the named file with os.O_* flags, like os.OpenFile.
	// pier uses O_RDONLY for downloads; O_WRONLY|O_CREATE|O_TRUNC for STOR;
	// O_WRONLY|O_CREATE|O_APPEND for APPE; O_WRONLY (then Seek) for STOR
	// after REST, O_WRONLY|O_CREATE for APPE after REST (unless the file
	// system implements OpenAtFS); O_WRONLY|O_CREATE|O_EXCL for STOU.
	// Uploads are opened only once the data connection is open, so a
	// transfer that never starts truncates nothing.
	//
	// pier ends every file it opened with exactly one call: Close when
	// the transfer completed, Abort (if the file implements Aborter)
	// when it did not. A back-end that buffers or streams to a remote
	// store commits in Close and discards in Abort.
	OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (File, error)
	// OpenDir opens the named directory for streaming its entries.
	OpenDir(ctx context.Context, name string) (DirReader, error)
	// Mkdir creates a directory.
	Mkdir(ctx context.Context, name string, perm fs.FileMode) error
	// Remove removes a file or an empty directory.
	Remove(ctx context.Context, name string) error
}

// File is an open file: downloads read from it, uploads write to it. If it
// also implements io.Seeker, REST works with STOR and RETR jumps to the
// offset (otherwise RETR reads and drops the bytes before it), unless the
// file system implements OpenAtFS. When the file is an *os.File (or an
// OSFiler) and the data connection is plain TCP, transfers use sendfile
// and splice (zero-copy).
//
// Close ends a transfer that completed: for an upload, every byte the
// client sent has been written, and a nil error from Close is what makes
// the upload complete (pier replies 226 only then). See Aborter for the
// other outcomes.
type File interface {
	io.Reader
	io.Writer
	io.Closer
}

// Aborter is implemented by files that must know a transfer did not
// complete: an object store's upload that must not be committed, a
// temporary file that must not replace the original. pier calls Abort
// instead of Close (never both) when a transfer ends in any other way than
// complete, with the reason: errors.Is(reason, ErrTransferAborted) for
// ABOR, ErrConnectionLost for a data connection that failed or was closed
// early, ErrDataTimeout for a stall, ErrSessionClosed for a control
// connection that ended, ErrServerShutdown for Server.Close,
// ErrSessionEnded for Server.EndSession, or the
// back-end's own error (a full disk) for a failed write. Files without
// Abort are closed with Close whatever the outcome, and keep what was
// written, as local files do (a client resumes with REST).
//
// The context the file was opened with may have ended by the time Abort
// runs (the client dropped, the server shut down): a back-end that must
// make a call to discard (abort a multipart upload) makes it with
// context.WithoutCancel of that context and a timeout of its own.
type Aborter interface {
	Abort(reason error) error
}

// Sender is an optional interface of a File opened for reading whose
// bytes are in memory already (fsys/s3's parts read ahead): a binary
// download that doesn't use sendfile calls SendTo, which writes the rest
// of the file to w, instead of copying it through a buffer of pier's.
// w takes any amount per Write (pier writes it to the data connection
// in pieces of 64 to 256 KiB, as fast as the client takes them, renewing
// the stall deadline and STAT's count as the copy does) and its errors are the connection's: SendTo returns them as
// they are, and nil at the end of the file. ASCII downloads don't use it.
type Sender interface {
	SendTo(w io.Writer) (int64, error)
}

// Receiver is an optional interface of a File opened for writing that
// holds what it is given in buffers of its own (fsys/s3's parts): a binary
// upload that doesn't splice calls ReceiveFrom, which reads the rest of
// the upload from r straight into those buffers, instead of Write with
// each piece of a buffer of pier's, which would then be copied once more.
// The upload's first bytes (pier's first read, up to 256 KiB) still come
// through Write, before ReceiveFrom. r counts the bytes, renews the stall
// deadline and ends (io.EOF) with the data; its errors are the
// connection's: ReceiveFrom returns them as they are, and nil only once r
// has returned io.EOF (pier fails an upload whose ReceiveFrom returned nil
// before that, with 451, and ends the file with Abort). An error of the
// file's own (a failed part) is returned as it would be by Write.
// ReceiveFrom mustn't hold on to r after it returns. ASCII uploads, and
// uploads under a quota (which counts each Write), don't use it; nor does
// an *os.File or an OSFiler whose OSFile isn't nil.
type Receiver interface {
	ReceiveFrom(r io.Reader) (int64, error)
}

// OSFiler is implemented by File wrappers around an *os.File (a temporary
// file renamed into place by Close, say): pier moves the data with
// sendfile and splice through the *os.File it returns, and still ends the
// wrapper with Close or Abort.
type OSFiler interface {
	OSFile() *os.File
}

// OpenAtFS is implemented by file systems that can open a file at an
// offset in one step, so that REST needs no Seek: a remote store makes a
// ranged request for a download, or starts an upload from the bytes it
// already holds. pier calls OpenFileAt instead of OpenFile when REST set a
// non-zero offset; flag is what OpenFile would get without O_APPEND. The
// offset is never beyond the file's size, as Stat reported it.
type OpenAtFS interface {
	OpenFileAt(ctx context.Context, name string, flag int, perm fs.FileMode, offset int64) (File, error)
}

// OpenInfoFS is implemented by file systems for which opening a file
// for reading tells what a lookup would, for less: an object store's GET
// answers with the object's size and time, where a lookup is a request
// of its own (a HEAD). RETR then opens the file first, and takes its
// description (Size is the whole file's, whatever the offset) from
// OpenInfo instead of Stat: one request instead of two. When OpenInfo
// fails, for any reason, RETR looks the path up (Stat) and opens it as
// for other file systems, so that the reply says what the path is (a
// folder, nothing, a file shorter than REST's offset); OpenInfo need
// not make those distinctions itself.
//
// OpenInfo opens name for reading from offset, which may be beyond the
// file's end (an error then). It must not block on what is not a
// regular file: local file systems, where opening a FIFO would, don't
// implement it.
type OpenInfoFS interface {
	OpenInfo(ctx context.Context, name string, offset int64) (File, fs.FileInfo, error)
}

// UploadStatFS is implemented by file systems for which looking up a name
// about to be uploaded to, and its folder, costs less together than a
// Stat of each: an object store can answer both with a listing each,
// where Stat takes a HEAD and a listing (and a HEAD of each folder above
// a name that isn't there). STOR and APPE without REST call StatUpload
// instead of Stat; where it reports folderOK, they don't Stat the new
// file's folder.
//
// StatUpload returns what Stat would, except that a file's ModTime may
// be less exact (an upload doesn't use it) and that for a name that
// doesn't exist the error need only wrap fs.ErrNotExist (where Stat might
// say syscall.ENOTDIR). folderOK reports that name doesn't exist and its
// folder was found to be a folder; when false, pier checks the folder
// with Stat, which gives the reply for a missing folder or a file in its
// place.
type UploadStatFS interface {
	StatUpload(ctx context.Context, name string) (fi fs.FileInfo, folderOK bool, err error)
}

// DirStatFS is implemented by file systems for which looking up a name
// that is usually a folder costs less with a method of its own: an object
// store answers with one listing, where Stat takes a HEAD (which a folder
// fails) and then a listing. CWD, XCWD, CDUP, XCUP, MLSD, LIST, NLST and
// STAT call StatDir instead of Stat for their path; a failed StatDir is
// not retried with Stat.
//
// StatDir returns what Stat would, except that a file's ModTime may be the
// time the store lists for it (the time LIST shows for a folder's files).
type DirStatFS interface {
	StatDir(ctx context.Context, name string) (fs.FileInfo, error)
}

// UploadKeyer is implemented by file systems whose values don't identify
// their files: a file system opened per login, two values on one folder.
// UploadKey names the file across them (a real path, a bucket and key);
// two uploads with one key never run at once (the second gets 450).
// Without it, a file is known by its FileSystem value and name.
type UploadKeyer interface {
	UploadKey(name string) string
}

// CommitOnCloseFS is implemented by file systems whose uploads change
// nothing until Close: an object store, where the new object appears
// whole when Close commits it and Abort leaves the old one as it was.
// Where CommitsOnClose reports true, pier opens a STOR or APPE upload
// without REST before its 150, as it always opens REST+STOR, REST+APPE
// and STOU, rather than when the first byte arrives; an open that fails
// is then refused before the 150, and an upload whose data connection
// fails, or that ABOR ends, before any byte arrives is ended with Abort.
// So the Files such a file system opens for writing must be Aborters
// (fsys/fstest checks it): Close would commit an empty file.
//
// The open may wait for what the upload will need (fsys/s3 waits for a
// part buffer while all are taken), so that its client is told to send
// only once its bytes have somewhere to go; it must return when its
// context ends (ABOR, QUIT, the client gone). Meanwhile the session
// answers ABOR and QUIT only, as for any command still running: STAT
// and NOOP wait. The File keeps that context for the whole transfer.
type CommitOnCloseFS interface {
	CommitsOnClose() bool
}

// LstatFS is implemented by file systems that have symbolic links: Lstat
// describes a link itself. Without it, Stat is used.
type LstatFS interface {
	Lstat(ctx context.Context, name string) (fs.FileInfo, error)
}

// RenameFS is implemented by file systems that can rename (RNFR, RNTO). The
// rename need not be atomic.
type RenameFS interface {
	// Rename renames (moves) oldname to newname, replacing newname if it
	// is a file.
	Rename(ctx context.Context, oldname, newname string) error
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
	Readlink(ctx context.Context, name string) (string, error)
}

// ChmodFS is implemented by file systems that support SITE CHMOD.
type ChmodFS interface {
	Chmod(ctx context.Context, name string, mode fs.FileMode) error
}

// ChtimesFS is implemented by file systems that support MFMT.
type ChtimesFS interface {
	Chtimes(ctx context.Context, name string, atime, mtime time.Time) error
}

// AccessFS is implemented by file systems that know more about access than
// a file's existence and type: whether a folder may be entered and an
// existing file written, as their permissions say (for fsys/asuser, the
// account's). CWD and uploads ask before they reply, so that a refusal is
// a 550 before anything starts rather than a 451 after the 150 (which
// clients such as lftp take for a passing error and retry). Without it,
// CWD takes any folder, and an upload learns at its first byte.
type AccessFS interface {
	// CanEnter returns nil if the folder name may be entered (search
	// permission), else why not (fs.ErrPermission).
	CanEnter(ctx context.Context, name string) error
	// CanWrite returns nil if the existing file name may be opened for
	// writing, else why not.
	CanWrite(ctx context.Context, name string) error
}

// ErrNotSupported may be returned by a FileSystem for an operation it can't
// do (APPE on a store without append, say); the client gets 502.
var ErrNotSupported = errors.New("operation not supported by this file system")

// lstat is Lstat where the file system has it, else Stat.
func lstat(ctx context.Context, fsys FileSystem, name string) (fs.FileInfo, error) {
	if l, ok := fsys.(LstatFS); ok {
		return l.Lstat(ctx, name)
	}
	return fsys.Stat(ctx, name)
}

// ErrOutsideRoot is returned by a FileSystem for a name that resolves, through
// a symlink, to a place outside the user's root.
var ErrOutsideRoot = errors.New("path escapes from the user's root")

// osFile returns the *os.File behind f, if there is one.
func osFile(f any) (*os.File, bool) {
	switch v := f.(type) {
	case *os.File:
		return v, true
	case OSFiler:
		of := v.OSFile()
		return of, of != nil
	}
	return nil, false
}

// endFile ends f as the transfer's outcome says: Close when it completed,
// else Abort where f has it (Close otherwise).
func endFile(f File, reason error) error {
	if reason != nil {
		if a, ok := f.(Aborter); ok {
			return a.Abort(reason)
		}
	}
	return f.Close()
}

package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/pierftp/pier"
)

// FS is a pier.FileSystem over a Store, made the way a back-end for a
// real S3 bucket must be under pier's contract:
//
//   - The FileSystem's names are the keys. There are no folders in an
//     object store, only keys: a folder is a "name/" marker object (Mkdir
//     writes one, as S3 consoles do) or, implicitly, a common prefix of
//     keys (written by another client, say). Stat reports either as a
//     folder; OpenDir lists one level of it, page by page.
//   - An upload commits in Close and is discarded in Abort: the object
//     appears whole or not at all, and an aborted or cut upload leaves the
//     old object (if any) as it was. Nothing of an upload is visible
//     before Close, hence fstest.CommitOnClose.
//   - There is no random-access write, so write handles are not
//     io.Seekers: REST before STOR or APPE goes through OpenFileAt, which
//     starts the new object from the old one's first bytes.
//   - Every method (and every Read and Write) checks its context first,
//     as a request to a remote store would fail once it is done.
//
// Each FS has its own Store and quota: a bucket per user. Users that share
// a bucket under per-user prefixes would keep their usage elsewhere.
type FS struct {
	store *Store
	quota int64
}

// NewFS returns a file system over store. If quota is positive, uploads
// that would take the store past quota bytes fail with "552 Quota
// exceeded.".
func NewFS(store *Store, quota int64) *FS {
	return &FS{store: store, quota: quota}
}

var (
	_ pier.FileSystem      = (*FS)(nil)
	_ pier.OpenAtFS        = (*FS)(nil)
	_ pier.RenameFS        = (*FS)(nil)
	_ pier.CommitOnCloseFS = (*FS)(nil)
	// No ChmodFS (objects have no mode: SITE CHMOD gets 502) and no
	// ChtimesFS (an object's time is when it was written: MFMT gets 502).
)

// errQuota is what a client gets, after the 150, for an upload past the
// quota: RFC 959's 552, exceeded storage allocation.
var errQuota = &pier.ReplyError{Code: 552, Message: "Quota exceeded.", Err: syscall.EDQUOT}

// errRenameFolder refuses RNTO of a folder: a folder is every key under
// its prefix, and moving them is a copy and a delete per key, which could
// stop halfway and leave the folder split in two. It wraps
// pier.ErrNotSupported, so the conformance suite skips those cases.
var errRenameFolder = &pier.ReplyError{Code: 550, Message: "Folders can't be renamed on this storage; rename the files in it.", Err: pier.ErrNotSupported}

func pathErr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

// storeErr maps a store's error to the FileSystem's.
func storeErr(op, name string, err error) error {
	switch {
	case errors.Is(err, ErrNoSuchKey):
		err = fs.ErrNotExist
	case errors.Is(err, ErrPreconditionFailed):
		err = fs.ErrExist
	case errors.Is(err, ErrOverLimit):
		return errQuota
	}
	return pathErr(op, name, err)
}

type kind int

const (
	missing kind = iota
	file
	folder
)

// lookup says what name is: an object, a folder (a marker or a common
// prefix), or missing. A name is missing with syscall.ENOTDIR if an object
// sits where one of its folders should be ("f/x" where "f" is a file).
// This FS never lets a key be both a file and a folder, so a name found
// needs no look at its parents; one not found costs a HEAD per level. (A
// bucket written by other clients may hold both "a" and "a/b": Stat then
// sees the file, and the listing shows both.)
func (f *FS) lookup(ctx context.Context, op, name string) (kind, *info, error) {
	if name == "." {
		return folder, &info{name: ".", dir: true}, nil
	}
	base := path.Base(name)
	if oi, err := f.store.Head(ctx, name); err == nil {
		return file, &info{name: base, size: oi.Size, modTime: oi.ModTime}, nil
	} else if !errors.Is(err, ErrNoSuchKey) {
		return missing, nil, storeErr(op, name, err)
	}
	if oi, err := f.store.Head(ctx, name+"/"); err == nil {
		return folder, &info{name: base, modTime: oi.ModTime, dir: true}, nil
	} else if !errors.Is(err, ErrNoSuchKey) {
		return missing, nil, storeErr(op, name, err)
	}
	// No marker: a folder if any key has the prefix (ListObjectsV2 with
	// MaxKeys 1). S3 has no time for a prefix: the first key's stands in.
	page, _, err := f.store.List(ctx, name+"/", "", 1, nil)
	if err != nil {
		return missing, nil, storeErr(op, name, err)
	}
	if len(page) > 0 {
		return folder, &info{name: base, modTime: page[0].ModTime, dir: true}, nil
	}
	for i := strings.IndexByte(name, '/'); i >= 0; i = next(name, i) {
		if _, err := f.store.Head(ctx, name[:i]); err == nil {
			return missing, nil, pathErr(op, name, syscall.ENOTDIR)
		} else if !errors.Is(err, ErrNoSuchKey) {
			return missing, nil, storeErr(op, name, err)
		}
	}
	return missing, nil, nil
}

// next returns the index of the "/" after the one at i, or -1.
func next(s string, i int) int {
	if j := strings.IndexByte(s[i+1:], '/'); j >= 0 {
		return i + 1 + j
	}
	return -1
}

// checkParent checks that the folder where name would be created exists.
func (f *FS) checkParent(ctx context.Context, op, name string) error {
	k, _, err := f.lookup(ctx, op, path.Dir(name))
	switch {
	case err != nil:
		return err
	case k == missing:
		return pathErr(op, name, fs.ErrNotExist)
	case k == file:
		return pathErr(op, name, syscall.ENOTDIR)
	}
	return nil
}

// Stat describes an object, or a folder.
func (f *FS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k, fi, err := f.lookup(ctx, "stat", name)
	if err == nil && k == missing {
		err = pathErr("stat", name, fs.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	return fi, nil
}

// OpenFile opens an object for a download from its start, or for an
// upload (see OpenFileAt). pier never opens with os.O_RDWR: an object is
// read or written, never both.
func (f *FS) OpenFile(ctx context.Context, name string, flag int, _ fs.FileMode) (pier.File, error) {
	return f.open(ctx, name, flag, 0, false)
}

// CommitsOnClose reports true (pier.CommitOnCloseFS): an upload changes
// nothing until Close, so pier opens it before its 150, and an open that
// fails (a missing parent folder, a store that can't be reached) is
// refused there. A store that needs a scarce resource per upload (a part
// buffer) can take it in the open, before its client sends.
func (f *FS) CommitsOnClose() bool { return true }

// OpenFileAt opens an object at a REST offset. A download is a ranged GET
// from offset. An upload keeps the old object's first offset bytes, then
// what is written: a real store's multipart upload would copy them
// server-side (UploadPartCopy) rather than download them. What was after
// offset is dropped, as a resumed upload sends the rest of the file.
func (f *FS) OpenFileAt(ctx context.Context, name string, flag int, _ fs.FileMode, offset int64) (pier.File, error) {
	return f.open(ctx, name, flag, offset, true)
}

func (f *FS) open(ctx context.Context, name string, flag int, offset int64, at bool) (pier.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if flag&os.O_RDWR != 0 {
		return nil, pathErr("open", name, pier.ErrNotSupported)
	}
	k, fi, err := f.lookup(ctx, "open", name)
	if err != nil {
		return nil, err
	}
	if flag&os.O_WRONLY == 0 {
		switch k {
		case missing:
			return nil, pathErr("open", name, fs.ErrNotExist)
		case folder:
			return nil, pathErr("open", name, syscall.EISDIR)
		}
		data, _, err := f.store.Get(ctx, name, offset)
		if err != nil {
			return nil, storeErr("open", name, err)
		}
		return &download{ctx: ctx, data: data}, nil
	}
	switch {
	case k != missing && flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		return nil, pathErr("open", name, fs.ErrExist)
	case k == folder:
		return nil, pathErr("open", name, syscall.EISDIR)
	case k == missing && (flag&os.O_CREATE == 0 || offset > 0):
		// Nothing to resume.
		return nil, pathErr("open", name, fs.ErrNotExist)
	case k == missing:
		if err := f.checkParent(ctx, "open", name); err != nil {
			return nil, err
		}
	}
	u := &upload{fs: f, ctx: ctx, key: name, excl: flag&os.O_EXCL != 0}
	if k == file {
		u.replaces = fi.size
	}
	if k == file && flag&(os.O_TRUNC|os.O_EXCL) == 0 {
		// The new object starts from the old one's bytes.
		old, _, err := f.store.Get(ctx, name, 0)
		if err != nil {
			return nil, storeErr("open", name, err)
		}
		switch {
		case flag&os.O_APPEND != 0: // APPE: all of them
			u.head = old
		case at: // after REST: the first offset of them
			if offset > int64(len(old)) {
				return nil, &pier.ReplyError{Code: 554, Message: "REST position beyond the end of the file."}
			}
			u.head = old[:offset]
		default:
			// O_WRONLY without a REST: pier never opens so (it uses
			// OpenFileAt), but a local file would be written over
			// from its start, keeping the rest; so is this one.
			u.tail = old
		}
	}
	return u, nil
}

// Mkdir writes a folder marker, "name/", an empty object.
func (f *FS) Mkdir(ctx context.Context, name string, _ fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k, _, err := f.lookup(ctx, "mkdir", name)
	switch {
	case err != nil:
		return err
	case k != missing:
		return pathErr("mkdir", name, fs.ErrExist)
	}
	if err := f.checkParent(ctx, "mkdir", name); err != nil {
		return err
	}
	if err := f.store.Put(ctx, name+"/", nil, PutOptions{IfNoneMatch: true}); err != nil {
		return storeErr("mkdir", name, err)
	}
	return nil
}

// Remove deletes an object, or a folder's marker when no key is under it:
// a folder with keys under it is refused with syscall.ENOTEMPTY (550
// Directory not empty), never emptied.
func (f *FS) Remove(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if name == "." {
		return pathErr("remove", name, fs.ErrPermission)
	}
	k, _, err := f.lookup(ctx, "remove", name)
	switch {
	case err != nil:
		return err
	case k == missing:
		return pathErr("remove", name, fs.ErrNotExist)
	case k == folder:
		page, _, err := f.store.List(ctx, name+"/", "", 1, nil)
		if err != nil {
			return storeErr("remove", name, err)
		}
		if len(page) > 0 {
			return pathErr("remove", name, syscall.ENOTEMPTY)
		}
		return f.delete(ctx, name, name+"/")
	}
	return f.delete(ctx, name, name)
}

// delete deletes key, the object of name. A folder that exists only as
// the prefix of its keys would vanish with its last key, under a client
// that may be in it: delete writes the folder's marker first.
func (f *FS) delete(ctx context.Context, name, key string) error {
	if dir := path.Dir(name); dir != "." {
		_, err := f.store.Head(ctx, dir+"/")
		if errors.Is(err, ErrNoSuchKey) {
			err = f.store.Put(ctx, dir+"/", nil, PutOptions{})
		}
		if err != nil {
			return storeErr("remove", name, err)
		}
	}
	if err := f.store.Delete(ctx, key); err != nil {
		return storeErr("remove", name, err)
	}
	return nil
}

// Rename copies the object server-side, then deletes the old one. It is
// not atomic: in between, both names exist, and if the delete fails both
// stay. Folders are refused (errRenameFolder). The copy does not count
// against the quota: the delete gives the bytes back.
func (f *FS) Rename(ctx context.Context, oldname, newname string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k, _, err := f.lookup(ctx, "rename", oldname)
	switch {
	case err != nil:
		return err
	case k == missing:
		return pathErr("rename", oldname, fs.ErrNotExist)
	case k == folder:
		return errRenameFolder
	case oldname == newname:
		return nil
	}
	nk, _, err := f.lookup(ctx, "rename", newname)
	switch {
	case err != nil:
		return err
	case nk == folder:
		return pathErr("rename", newname, fs.ErrExist)
	case nk == missing:
		if err := f.checkParent(ctx, "rename", newname); err != nil {
			return err
		}
	}
	if err := f.store.Copy(ctx, oldname, newname); err != nil {
		return storeErr("rename", oldname, err)
	}
	return f.delete(ctx, oldname, oldname)
}

// OpenDir lists one level of a folder, in pages (see lister).
func (f *FS) OpenDir(ctx context.Context, name string) (pier.DirReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k, _, err := f.lookup(ctx, "open", name)
	switch {
	case err != nil:
		return nil, err
	case k == missing:
		return nil, pathErr("open", name, fs.ErrNotExist)
	case k == file:
		return nil, pathErr("open", name, syscall.ENOTDIR)
	}
	prefix := name + "/"
	if name == "." {
		prefix = ""
	}
	return &lister{ctx: ctx, store: f.store, prefix: prefix}, nil
}

// info is an object's or a folder's fs.FileInfo, and its fs.DirEntry.
type info struct {
	name    string
	size    int64
	modTime time.Time
	dir     bool
}

func (i *info) Name() string       { return i.name }
func (i *info) Size() int64        { return i.size }
func (i *info) ModTime() time.Time { return i.modTime }
func (i *info) IsDir() bool        { return i.dir }
func (i *info) Sys() any           { return nil }
func (i *info) Type() fs.FileMode  { return i.Mode().Type() }

func (i *info) Info() (fs.FileInfo, error) { return i, nil }

// Mode is fixed: objects have no permission bits.
func (i *info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}

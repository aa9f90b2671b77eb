package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/pierftp/pier"
)

// TempPrefix starts the name of the hidden temporary an upload is written
// to under AtomicUploads: ".pier-upload-<random>-<base name>", in the
// target's folder.
const TempPrefix = ".pier-upload-"

// AtomicUploads makes an upload that replaces a file's content (OpenFile
// with os.O_WRONLY|os.O_TRUNC, as STOR without REST) write to a hidden
// temporary in the target's folder (named TempPrefix, a random part and
// the target's base name), which its Close syncs and renames over the
// target, keeping an existing target's permission bits: readers see the
// old file or the new one, never a partial one. The File is not an
// *os.File but implements pier.OSFiler (so transfers still use splice)
// and pier.Aborter, whose Abort removes the temporary and leaves the
// target as it was. An upload to a symbolic link is written in place,
// through the link.
//
// Appends (APPE), uploads after REST and STOU (os.O_EXCL) still write in
// place, as without the option. Listings leave out names with TempPrefix,
// and such names can't be created by clients (OpenFile with os.O_CREATE,
// Mkdir, Rename onto one fail with an error matching fs.ErrPermission).
// Temporaries left behind by a crash are removed by RemoveStaleUploads.
func AtomicUploads() Option { return func(f *FS) { f.atomic = true } }

// errReserved refuses names with TempPrefix under AtomicUploads.
var errReserved = fmt.Errorf("name reserved for uploads in progress: %w", fs.ErrPermission)

// isTemp reports whether name's last element starts with TempPrefix.
func isTemp(name string) bool { return strings.HasPrefix(path.Base(name), TempPrefix) }

// maxNameLen is the longest file name most local file systems take
// (NAME_MAX).
const maxNameLen = 255

// tempName returns a new name for the temporary of an upload to base.
func tempName(base string) string {
	var b [8]byte
	rand.Read(b[:])
	s := TempPrefix + hex.EncodeToString(b[:]) + "-" + base
	if len(s) > maxNameLen {
		s = s[:maxNameLen]
		for len(s) > 0 { // not half a character
			if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size != 1 {
				break
			}
			s = s[:len(s)-1]
		}
	}
	return s
}

// openUpload opens an upload that replaces name under AtomicUploads.
func (f *FS) openUpload(name string, flag int, perm fs.FileMode) (pier.File, error) {
	fi, err := f.root.Lstat(name)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		return asFile(f.openFile(name, flag, perm))
	case err == nil:
		// The target must be a file this process could write in place:
		// a folder, a FIFO or a read-only file fail as they would
		// without the option, and nothing is truncated.
		probe, err := f.openFile(name, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		probe.Close()
	case errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0:
		// A missing folder fails below.
	default:
		return nil, openErr(name, mapErr(err))
	}
	dir := path.Dir(name)
	for tries := 0; ; tries++ {
		tmp := path.Join(dir, tempName(path.Base(name)))
		file, err := f.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) && tries < 10 {
			continue
		}
		if err != nil {
			return nil, openErr(name, mapErr(err))
		}
		return &upload{fs: f, file: file, name: name, tmp: tmp}, nil
	}
}

// openErr reports err, from a step of opening name, as an error of opening
// name.
func openErr(name string, err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return &fs.PathError{Op: "open", Path: name, Err: pe.Err}
	}
	return err
}

// upload is a file being uploaded under AtomicUploads: its data goes to the
// temporary tmp, which Close renames to name.
type upload struct {
	fs        *FS
	file      *os.File
	name, tmp string
	done      atomic.Bool // Close or Abort was called
}

var (
	_ pier.File    = (*upload)(nil)
	_ pier.OSFiler = (*upload)(nil)
	_ pier.Aborter = (*upload)(nil)
)

// Read implements io.Reader; the file is write-only, so it fails.
func (u *upload) Read(p []byte) (int, error) { return u.file.Read(p) }

// Write implements io.Writer.
func (u *upload) Write(p []byte) (int, error) { return u.file.Write(p) }

// OSFile implements pier.OSFiler.
func (u *upload) OSFile() *os.File { return u.file }

// Close completes the upload: it gives the temporary the permission bits
// of the file it replaces (if there is one), syncs it to the disk and
// renames it over the target. If any step fails, the temporary is removed
// and the target left as it was.
func (u *upload) Close() error {
	if u.done.Swap(true) {
		return &fs.PathError{Op: "close", Path: u.name, Err: fs.ErrClosed}
	}
	var err error
	if fi, lerr := u.fs.root.Lstat(u.name); lerr == nil && fi.Mode().IsRegular() {
		err = u.file.Chmod(fi.Mode().Perm())
	}
	if err == nil {
		err = u.file.Sync()
	}
	if cerr := u.file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = u.fs.root.Rename(u.tmp, u.name)
	}
	if err != nil {
		u.fs.root.Remove(u.tmp)
		return mapErr(err)
	}
	return nil
}

// Abort implements pier.Aborter: it closes and removes the temporary,
// leaving the target as it was.
func (u *upload) Abort(reason error) error {
	if u.done.Swap(true) {
		return &fs.PathError{Op: "abort", Path: u.name, Err: fs.ErrClosed}
	}
	u.file.Close()
	return mapErr(u.fs.root.Remove(u.tmp))
}

// RemoveStaleUploads removes the temporaries of AtomicUploads (names with
// TempPrefix) that were not modified within olderThan, in the whole tree:
// those of uploads that a crash or a kill cut short. An upload in progress
// modifies its temporary as data comes, so olderThan longer than the
// server's data timeout never removes a live one. It does not follow
// symbolic links, goes on past folders it can't read, and returns how many
// it removed and the first error it met (ctx's error if ctx ends first).
// It may be called with or without the option, any time.
func (f *FS) RemoveStaleUploads(ctx context.Context, olderThan time.Duration) (removed int, err error) {
	cutoff := time.Now().Add(-olderThan)
	var firstErr error
	keep := func(err error) {
		if firstErr == nil && err != nil && !errors.Is(err, fs.ErrNotExist) {
			firstErr = mapErr(err)
		}
	}
	pending := []string{"."}
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		name := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		subdirs, n, err := f.removeStaleIn(ctx, name, cutoff)
		removed += n
		keep(err)
		pending = append(pending, subdirs...)
	}
	if err := ctx.Err(); err != nil {
		return removed, err
	}
	return removed, firstErr
}

// removeStaleIn removes the stale temporaries of the folder name, and
// returns its subfolders.
func (f *FS) removeStaleIn(ctx context.Context, name string, cutoff time.Time) (subdirs []string, removed int, err error) {
	file, err := f.root.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer file.Close()
	d := &dir{File: file}
	var firstErr error
	for {
		entries, rerr := d.ReadDir(256)
		for _, e := range entries {
			child := path.Join(name, e.Name())
			switch {
			case e.IsDir():
				subdirs = append(subdirs, child)
			case e.Type().IsRegular() && strings.HasPrefix(e.Name(), TempPrefix):
				fi, err := e.Info()
				if err != nil || !fi.ModTime().Before(cutoff) {
					continue
				}
				if err := f.root.Remove(child); err != nil {
					if firstErr == nil && !errors.Is(err, fs.ErrNotExist) {
						firstErr = err
					}
					continue
				}
				removed++
			}
		}
		if rerr != nil {
			if rerr != io.EOF && firstErr == nil {
				firstErr = rerr
			}
			return subdirs, removed, firstErr
		}
		if ctx.Err() != nil {
			return subdirs, removed, firstErr
		}
	}
}

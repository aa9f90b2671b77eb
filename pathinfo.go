package pier

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"syscall"
)

// statRule says how the pipeline looks a command's path up before its
// handler runs (step 6 of the pipeline: Request.Info), and so what a path
// that isn't there is answered.
type statRule uint8

const (
	statNone    statRule = iota
	statFollow           // Stat
	statLink             // Lstat (a link itself)
	statListing          // statDir; a broken symlink is its Lstat (LIST, NLST, STAT)
	statMLST             // Lstat, refused if the link leads outside the root
	statRegular          // Stat; a missing file is "not retrievable" (SIZE, MDTM, MFMT)
	statStatus           // statListing; a missing path with glob characters: "Globbing not supported." (STAT)
	statOpen             // Stat, unless the file system opens first (OpenInfoFS) and the transfer can start: then no look-up, and Info is nil (RETR)
	statDir              // Stat, or StatDir where the file system has it (CWD, XCWD, CDUP, XCUP, MLSD)
)

// lookupDir looks up a name that is usually a folder: with StatDir where
// the file system has it (DirStatFS), else with Stat.
func lookupDir(ctx context.Context, fsys FileSystem, name string) (fs.FileInfo, error) {
	if d, ok := fsys.(DirStatFS); ok {
		return d.StatDir(ctx, name)
	}
	return fsys.Stat(ctx, name)
}

// statFor looks r's path up as rule says.
func (s *session) statFor(rule statRule, r *Request) (fs.FileInfo, error) {
	fsys, ctx := s.user.FS, r.Context()
	switch rule {
	case statFollow:
		return fsys.Stat(ctx, r.Name)
	case statDir:
		return lookupDir(ctx, fsys, r.Name)
	case statOpen:
		// Where the transfer will be refused before its open (no PASV or
		// PORT, a RANG), the look-up comes first as on any file system,
		// so that the reply is the same.
		if _, ok := fsys.(OpenInfoFS); ok && s.haveDataSetup() && s.rangNow == nil {
			return nil, nil
		}
		return fsys.Stat(ctx, r.Name)
	case statLink:
		return lstat(ctx, fsys, r.Name)
	case statRegular:
		fi, err := fsys.Stat(ctx, r.Name)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			// pyftpdlib's words for what is no file there (its final
			// period as SIZE's).
			return nil, &ReplyError{Code: 550, Message: r.Path + " is not retrievable.", Err: err}
		}
		return fi, err
	case statStatus:
		fi, err := s.statFor(statListing, r)
		if errors.Is(err, fs.ErrNotExist) && strings.ContainsAny(r.Arg, "*?[") {
			// A name with these characters is taken as it is; when
			// there is none, the client most likely meant a pattern.
			return nil, &ReplyError{Code: 550, Message: "Globbing not supported.", Err: err}
		}
		return fi, err
	case statListing:
		fi, err := lookupDir(ctx, fsys, r.Name)
		if _, links := fsys.(LstatFS); links && err != nil && !errors.Is(err, ErrOutsideRoot) {
			// A broken symlink is still listed. (Without LstatFS there
			// are no links: Lstat would be the Stat that just failed.)
			if lfi, lerr := lstat(ctx, fsys, r.Name); lerr == nil && lfi.Mode()&fs.ModeSymlink != 0 {
				return lfi, nil
			}
		}
		return fi, err
	case statMLST:
		fi, err := lstat(ctx, fsys, r.Name)
		if err != nil {
			return nil, err
		}
		if _, err := fsys.Stat(ctx, r.Name); errors.Is(err, ErrOutsideRoot) {
			return nil, err
		}
		return fi, nil
	}
	return nil, nil
}

package pier

import (
	"io/fs"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/pierftp/pier/internal/listing"
)

// The file commands. The pipeline has resolved each one's path (r.Path,
// r.Name), checked its permission letter there and, where the table says
// so, looked it up (r.Info); an error a handler returns gets its reply from
// replyErr.

func (s *session) cmdMKD(r *Request) error {
	if r.Name == "." {
		s.reply(550, "File exists.")
		return nil
	}
	if err := s.user.FS.Mkdir(r.Context(), r.Name, 0o755); err != nil {
		return err
	}
	s.logger().Info("MKD", "path", r.Path)
	// RFC 959 Appendix II: the new directory's name in quotes, with
	// embedded quotes doubled.
	s.reply(257, "\""+quote(r.Path)+"\" directory created.")
	return nil
}

func (s *session) cmdRMD(r *Request) error {
	if r.Name == "." {
		s.reply(550, "Can't remove root directory.")
		return nil
	}
	if !r.Info.IsDir() {
		s.reply(550, "Not a directory.")
		return nil
	}
	if err := s.user.FS.Remove(r.Context(), r.Name); err != nil {
		return err
	}
	if s.cwd == r.Path || strings.HasPrefix(s.cwd, r.Path+"/") {
		s.cwd = path.Dir(r.Path)
	}
	s.logger().Info("RMD", "path", r.Path)
	s.reply(250, "Directory removed.")
	return nil
}

func (s *session) cmdDELE(r *Request) error {
	if r.Info.IsDir() {
		s.reply(550, "Is a directory.")
		return nil
	}
	if s.srv.uploads.busy(s.user.FS, r.Name) {
		s.reply(450, "File busy: an upload to this name is in progress.")
		return nil
	}
	if err := s.user.FS.Remove(r.Context(), r.Name); err != nil {
		return err
	}
	s.removedFile(r.Context(), r.Info.Size())
	s.logger().Info("DELE", "path", r.Path)
	s.reply(250, "File removed.")
	return nil
}

func (s *session) cmdRNFR(r *Request) error {
	if r.Name == "." {
		s.reply(550, "Can't rename home directory.")
		return nil
	}
	s.renameFrom = r.Path
	s.reply(350, "Ready for destination name.")
	return nil
}

func (s *session) cmdRNTO(r *Request) error {
	from := s.renameFrom
	if from == "" {
		s.reply(503, "Bad sequence of commands: use RNFR first.")
		return nil
	}
	s.renameFrom = ""
	if r.Name == "." {
		s.reply(553, "Can't overwrite the root directory.")
		return nil
	}
	rn, ok := s.user.FS.(RenameFS)
	if !ok {
		return ErrNotSupported
	}
	ctx := r.Context()
	// Renaming onto an existing file replaces its content, which is
	// what w governs (STOR over a file needs it too); f alone may only
	// move and rename.
	to, toErr := s.user.FS.Stat(ctx, r.Name)
	// A file replaced is given back to the quota (not a rename onto
	// itself).
	replaces := toErr == nil && to.Mode().IsRegular() && from[1:] != r.Name
	if toErr == nil && (replaces && s.user.Quota != nil || !s.user.PermAt(r.Path).Has(PermWrite)) {
		if fromInfo, err := s.user.FS.Stat(ctx, from[1:]); err != nil || !os.SameFile(fromInfo, to) {
			if !s.user.PermAt(r.Path).Has(PermWrite) {
				s.reply(550, "Not enough privileges: replacing an existing file needs the w permission.")
				return nil
			}
		} else {
			replaces = false // a rename onto itself
		}
	}
	if replaces && s.srv.uploads.busy(s.user.FS, r.Name) {
		s.reply(450, "File busy: an upload to this name is in progress.")
		return nil
	}
	if err := rn.Rename(ctx, from[1:], r.Name); err != nil {
		return err
	}
	if replaces {
		s.removedFile(ctx, to.Size())
	}
	s.logger().Info("RNTO", "from", from, "to", r.Path)
	s.reply(250, "Renaming ok.")
	return nil
}

// regular refuses SIZE, MDTM and MFMT on what is not a regular file: RFC
// 3659 defines them on files only.
func (s *session) regular(r *Request) bool {
	if !r.Info.Mode().IsRegular() {
		s.reply(550, r.Path+" is not retrievable.")
		return false
	}
	return true
}

// cmdSIZE answers RFC 3659 §4. In ASCII mode the size on the wire differs
// from the size on disk, and computing it means reading the whole file, so
// SIZE is refused there, like pyftpdlib and vsftpd.
func (s *session) cmdSIZE(r *Request) error {
	if !s.binary {
		s.reply(550, "SIZE not allowed in ASCII mode.")
		return nil
	}
	if s.regular(r) {
		s.reply(213, strconv.FormatInt(r.Info.Size(), 10))
	}
	return nil
}

// cmdMDTM answers RFC 3659 §3.
func (s *session) cmdMDTM(r *Request) error {
	if s.regular(r) {
		s.reply(213, string(listing.AppendTime(nil, r.Info.ModTime().In(s.timeLocation()))))
	}
	return nil
}

// The modification times MFMT can set: what nanoseconds since 1970 in 64
// bits hold (os.Chtimes).
var (
	minFileTime = time.Unix(0, math.MinInt64).Add(time.Second).Truncate(time.Second)
	maxFileTime = time.Unix(0, math.MaxInt64).Truncate(time.Second)
)

// cmdMFMT sets a file's modification time (draft-somers-ftp-mfxx). The time
// is always UTC, as the draft says. It is checked before the path is
// looked up, as pyftpdlib does.
func (s *session) cmdMFMT(r *Request) error {
	t, err := listing.ParseTime(r.Word)
	if err != nil {
		s.reply(501, "Invalid time format; expected: YYYYMMDDHHMMSS.")
		return nil
	}
	if t.Before(minFileTime) || t.After(maxFileTime) {
		// Outside these the time does not fit the nanoseconds the system
		// call takes, and would be stored wrapped round, or not at all.
		s.reply(501, "Time out of range: the server takes times from "+minFileTime.UTC().Format(time.DateTime)+" to "+maxFileTime.UTC().Format(time.DateTime)+".")
		return nil
	}
	fi, err := s.statFor(statRegular, r)
	if err != nil {
		return err
	}
	if r.Info = fi; !s.regular(r) {
		return nil
	}
	ch, ok := s.user.FS.(ChtimesFS)
	if !ok {
		return ErrNotSupported
	}
	if err := ch.Chtimes(r.Context(), r.Name, t, t); err != nil {
		return err
	}
	if fi, err = s.user.FS.Stat(r.Context(), r.Name); err != nil {
		return err
	}
	s.logger().Info("MFMT", "path", r.Path, "time", r.Word)
	s.reply(213, "Modify="+string(listing.AppendTime(nil, fi.ModTime().In(time.UTC)))+"; "+r.Path+".")
	return nil
}

func (s *session) siteHELP(r *Request) error {
	if r.Arg == "" {
		s.replyLines(214, "The following SITE commands are recognized:", helpLines(s.srv.tables().site), "Help SITE command successful.")
		return nil
	}
	c, ok := s.srv.tables().site[strings.ToUpper(strings.TrimSpace(r.Arg))]
	if !ok {
		s.reply(501, "Unrecognized SITE command.")
		return nil
	}
	s.reply(214, c.help)
	return nil
}

// siteCHMOD changes permission bits: SITE CHMOD <octal mode> <path>.
func (s *session) siteCHMOD(r *Request) error {
	// Anonymous never gets SITE CHMOD, whatever its permission letters
	// (vsftpd's rule): even a writable drop box must not let strangers
	// make files executable or world-writable. "anonymous" is
	// auth.AnonymousName.
	if s.user.Anonymous || s.user.Name == "anonymous" {
		s.reply(550, "SITE CHMOD is not allowed for anonymous users.")
		return nil
	}
	modeText := r.Word
	mode, err := strconv.ParseUint(modeText, 8, 32)
	if err != nil || len(modeText) < 3 || len(modeText) > 4 || modeText[0] == '+' {
		s.reply(501, "Invalid SITE CHMOD format.")
		return nil
	}
	ch, ok := s.user.FS.(ChmodFS)
	if !ok {
		return ErrNotSupported
	}
	// Set-user-ID and set-group-ID bits from an FTP client are a privilege
	// escalation waiting to happen; the sticky bit is harmless.
	if mode&0o6000 != 0 {
		s.reply(550, "Setting set-user-ID or set-group-ID bits is not allowed.")
		return nil
	}
	fm := fs.FileMode(mode & 0o777)
	if mode&0o1000 != 0 {
		fm |= fs.ModeSticky
	}
	if err := ch.Chmod(r.Context(), r.Name, fm); err != nil {
		return err
	}
	s.logger().Info("SITE CHMOD", "path", r.Path, "mode", modeText)
	s.reply(200, "SITE CHMOD successful.")
	return nil
}

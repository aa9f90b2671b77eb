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

func (s *session) cmdMKD(arg string) {
	vpath, name, ok := s.resolveAllowed(arg)
	if !ok {
		return
	}
	if name == "." {
		s.reply(550, "File exists.")
		return
	}
	if err := s.user.FS.Mkdir(name, 0o755); err != nil {
		s.replyErr(err)
		return
	}
	s.log.Info("MKD", "path", vpath)
	// RFC 959 Appendix II: the new directory's name in quotes, with
	// embedded quotes doubled.
	s.reply(257, "\""+quote(vpath)+"\" directory created.")
}

func (s *session) cmdRMD(arg string) {
	vpath, name, ok := s.resolveAllowed(arg)
	if !ok {
		return
	}
	if name == "." {
		s.reply(550, "Can't remove root directory.")
		return
	}
	fi, err := lstat(s.user.FS, name)
	if err != nil {
		s.replyErr(err)
		return
	}
	if !fi.IsDir() {
		s.reply(550, "Not a directory.")
		return
	}
	if err := s.user.FS.Remove(name); err != nil {
		s.replyErr(err)
		return
	}
	if s.cwd == vpath || strings.HasPrefix(s.cwd, vpath+"/") {
		s.cwd = path.Dir(vpath)
	}
	s.log.Info("RMD", "path", vpath)
	s.reply(250, "Directory removed.")
}

func (s *session) cmdDELE(arg string) {
	vpath, name, ok := s.resolveAllowed(arg)
	if !ok {
		return
	}
	fi, err := lstat(s.user.FS, name)
	if err != nil {
		s.replyErr(err)
		return
	}
	if fi.IsDir() {
		s.reply(550, "Is a directory.")
		return
	}
	if err := s.user.FS.Remove(name); err != nil {
		s.replyErr(err)
		return
	}
	s.log.Info("DELE", "path", vpath)
	s.reply(250, "File removed.")
}

func (s *session) cmdRNFR(arg string) {
	vpath, name, ok := s.resolveAllowed(arg)
	if !ok {
		return
	}
	if name == "." {
		s.reply(550, "Can't rename home directory.")
		return
	}
	if _, err := lstat(s.user.FS, name); err != nil {
		s.replyErr(err)
		return
	}
	s.renameFrom = vpath
	s.reply(350, "Ready for destination name.")
}

func (s *session) cmdRNTO(arg string) {
	from := s.renameFrom
	if from == "" {
		s.reply(503, "Bad sequence of commands: use RNFR first.")
		return
	}
	s.renameFrom = ""
	vpath, name, ok := s.resolveAllowed(arg)
	if !ok {
		return
	}
	if name == "." {
		s.reply(553, "Can't overwrite the root directory.")
		return
	}
	rn, ok := s.user.FS.(RenameFS)
	if !ok {
		s.replyErr(ErrNotSupported)
		return
	}
	// Renaming onto an existing file replaces its content, which is
	// what w governs (STOR over a file needs it too); f alone may only
	// move and rename.
	if to, err := s.user.FS.Stat(name); err == nil && !s.user.PermAt(vpath).Has(PermWrite) {
		if fromInfo, err := s.user.FS.Stat(from[1:]); err != nil || !os.SameFile(fromInfo, to) {
			s.reply(550, "Not enough privileges: replacing an existing file needs the w permission.")
			return
		}
	}
	if err := rn.Rename(from[1:], name); err != nil {
		s.replyErr(err)
		return
	}
	s.log.Info("RNTO", "from", from, "to", vpath)
	s.reply(250, "Renaming ok.")
}

// statRegular returns the info of a regular file (following symlinks), for
// SIZE, MDTM and MFMT, which RFC 3659 defines on files only.
func (s *session) statRegular(arg string) (vpath, name string, fi fs.FileInfo, ok bool) {
	vpath, name, ok = s.resolveAllowed(arg)
	if !ok {
		return vpath, name, nil, false
	}
	fi, err := s.user.FS.Stat(name)
	if err != nil {
		s.replyErr(err)
		return vpath, name, nil, false
	}
	if !fi.Mode().IsRegular() {
		s.reply(550, vpath+" is not retrievable.")
		return vpath, name, nil, false
	}
	return vpath, name, fi, true
}

// cmdSIZE answers RFC 3659 §4. In ASCII mode the size on the wire differs
// from the size on disk, and computing it means reading the whole file, so
// SIZE is refused there, like pyftpdlib and vsftpd.
func (s *session) cmdSIZE(arg string) {
	if !s.binary {
		s.reply(550, "SIZE not allowed in ASCII mode.")
		return
	}
	_, _, fi, ok := s.statRegular(arg)
	if !ok {
		return
	}
	s.reply(213, strconv.FormatInt(fi.Size(), 10))
}

// cmdMDTM answers RFC 3659 §3.
func (s *session) cmdMDTM(arg string) {
	_, _, fi, ok := s.statRegular(arg)
	if !ok {
		return
	}
	s.reply(213, string(listing.AppendTime(nil, fi.ModTime().In(s.timeLocation()))))
}

// cmdMFMT sets a file's modification time (draft-somers-ftp-mfxx). The time
// is always UTC, as the draft says.
// The modification times MFMT can set: what nanoseconds since 1970 in 64
// bits hold (os.Chtimes).
var (
	minFileTime = time.Unix(0, math.MinInt64).Add(time.Second).Truncate(time.Second)
	maxFileTime = time.Unix(0, math.MaxInt64).Truncate(time.Second)
)

func (s *session) cmdMFMT(arg string) {
	timeval, p, ok := strings.Cut(arg, " ")
	if !ok || p == "" {
		s.reply(501, "Syntax error: command needs two arguments.")
		return
	}
	t, err := listing.ParseTime(timeval)
	if err != nil {
		s.reply(501, "Invalid time format; expected: YYYYMMDDHHMMSS.")
		return
	}
	if t.Before(minFileTime) || t.After(maxFileTime) {
		// Outside these the time does not fit the nanoseconds the system
		// call takes, and would be stored wrapped round, or not at all.
		s.reply(501, "Time out of range: the server takes times from "+minFileTime.UTC().Format(time.DateTime)+" to "+maxFileTime.UTC().Format(time.DateTime)+".")
		return
	}
	vpath, name, _, ok := s.statRegular(p)
	if !ok {
		return
	}
	ch, ok := s.user.FS.(ChtimesFS)
	if !ok {
		s.replyErr(ErrNotSupported)
		return
	}
	if err := ch.Chtimes(name, t, t); err != nil {
		s.replyErr(err)
		return
	}
	fi, err := s.user.FS.Stat(name)
	if err != nil {
		s.replyErr(err)
		return
	}
	s.log.Info("MFMT", "path", vpath, "time", timeval)
	s.reply(213, "Modify="+string(listing.AppendTime(nil, fi.ModTime().In(time.UTC)))+"; "+vpath+".")
}

// cmdSITE runs a SITE sub-command through the same checks as a command.
func (s *session) cmdSITE(arg string) {
	sub, rest := splitCommand(arg)
	c, ok := s.srv.tables().site[sub]
	if !ok {
		s.reply(500, "Command \"SITE "+sub+"\" not understood.")
		return
	}
	s.runCommand(c, rest)
}

func (s *session) siteHELP(arg string) {
	if arg == "" {
		s.replyLines(214, "The following SITE commands are recognized:", helpLines(s.srv.tables().site), "Help SITE command successful.")
		return
	}
	c, ok := s.srv.tables().site[strings.ToUpper(strings.TrimSpace(arg))]
	if !ok {
		s.reply(501, "Unrecognized SITE command.")
		return
	}
	s.reply(214, c.help)
}

// siteCHMOD changes permission bits: SITE CHMOD <octal mode> <path>.
func (s *session) siteCHMOD(arg string) {
	// Anonymous never gets SITE CHMOD, whatever its permission letters
	// (vsftpd's rule): even a writable drop box must not let strangers
	// make files executable or world-writable. "anonymous" is
	// auth.AnonymousName.
	if s.user.Anonymous || s.user.Name == "anonymous" {
		s.reply(550, "SITE CHMOD is not allowed for anonymous users.")
		return
	}
	modeText, p, ok := strings.Cut(arg, " ")
	if !ok || p == "" {
		s.reply(501, "Syntax error: command needs two arguments.")
		return
	}
	mode, err := strconv.ParseUint(modeText, 8, 32)
	if err != nil || len(modeText) < 3 || len(modeText) > 4 || modeText[0] == '+' {
		s.reply(501, "Invalid SITE CHMOD format.")
		return
	}
	ch, ok := s.user.FS.(ChmodFS)
	if !ok {
		s.replyErr(ErrNotSupported)
		return
	}
	vpath, name, ok := s.resolveAllowed(p)
	if !ok {
		return
	}
	// Set-user-ID and set-group-ID bits from an FTP client are a privilege
	// escalation waiting to happen; the sticky bit is harmless.
	if mode&0o6000 != 0 {
		s.reply(550, "Setting set-user-ID or set-group-ID bits is not allowed.")
		return
	}
	fm := fs.FileMode(mode & 0o777)
	if mode&0o1000 != 0 {
		fm |= fs.ModeSticky
	}
	if err := ch.Chmod(name, fm); err != nil {
		s.replyErr(err)
		return
	}
	s.log.Info("SITE CHMOD", "path", vpath, "mode", modeText)
	s.reply(200, "SITE CHMOD successful.")
}

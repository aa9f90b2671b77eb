package pier

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"syscall"
)

func (s *session) modeName() string {
	if s.binary {
		return "BINARY"
	}
	return "ASCII"
}

// requireDataSetup replies 425 when no PASV, EPSV, PORT or EPRT came before
// a transfer command, and 504 when a RANG did: pier takes RANG for HASH
// only, and a STOR that ignored it would truncate the file the client
// meant to patch (draft-bryan-ftp-range §4.3 lets a server refuse the
// command after a RANG it can't apply).
func (s *session) requireDataSetup() bool {
	if s.takeRange() != nil {
		s.reply(504, "RANG applies to HASH only; send the transfer without it.")
		return false
	}
	if s.haveDataSetup() {
		return true
	}
	s.reply(425, "Use PORT, EPRT, PASV or EPSV first.")
	return false
}

// takeRest returns the REST offset that applies to the command running
// now, and clears it. A REST applies to the command right after it (RFC
// 3659 §5.3: "the last command issued before the data transfer command"),
// or after the data-connection set-up between them (keepsRest): dispatch
// hands it to that command in restNow and drops it for any other.
func (s *session) takeRest() int64 {
	off := s.restNow
	s.restNow = 0
	return off
}

// keepsRest are the commands that may come between REST and the transfer
// command without dropping the offset: clients such as Python's ftplib
// open the data connection after REST, and a client that sets TYPE I
// there must not get a whole file to append to its part (TYPE A drops
// the offset: see cmdTYPE).
var keepsRest = map[string]bool{"REST": true, "PASV": true, "EPSV": true, "PORT": true, "EPRT": true, "TYPE": true}

// cmdREST records a restart offset (RFC 3659 §5.3, stream mode: a byte
// count). In ASCII mode offsets on the wire and on disk differ, so it is
// refused there, except "REST 0", which clients send to probe for REST
// support and which means no offset at all.
func (s *session) cmdREST(r *Request) error {
	n, err := strconv.ParseInt(r.Arg, 10, 64)
	if err != nil || n < 0 || r.Arg[0] == '+' {
		s.reply(501, "Invalid parameter.")
		return nil
	}
	if !s.binary && n != 0 {
		s.reply(501, "Resuming transfers not allowed in ASCII mode.")
		return nil
	}
	s.restOffset = n
	s.reply(350, "Restarting at position "+r.Arg+".")
	return nil
}

// restBeyond is the reply to a REST offset past the end of the file.
func restBeyond(rest, size int64) error {
	return &ReplyError{Code: 554, Message: "REST position (" + strconv.FormatInt(rest, 10) + ") > file size (" + strconv.FormatInt(size, 10) + ")."}
}

var errCantSeek = &ReplyError{Code: 554, Message: "Can't seek to the REST position."}

func (s *session) cmdRETR(r *Request) error {
	if !s.requireDataSetup() {
		return nil
	}
	rest := s.takeRest()
	f, fi, err := s.openForRETR(r, rest)
	if err != nil || f == nil {
		return err
	}
	s.startTransfer(r, &transferJob{
		kind: xferDownload,
		cmd:  "RETR",
		path: r.Path,
		preliminary: "Opening " + s.modeName() + " mode data connection for " + path.Base(r.Path) +
			" (" + strconv.FormatInt(fi.Size()-rest, 10) + " bytes).",
		ascii:  !s.binary,
		file:   f,
		offset: rest,
		size:   fi.Size() - rest,
	})
	return nil
}

// openForRETR opens RETR's file at rest and describes it (r.Info): with
// the file system's OpenInfo where it opens first (r.Info is nil until
// then), else from r.Info and an open. A nil file with a nil error means
// the reply is sent.
func (s *session) openForRETR(r *Request, rest int64) (File, fs.FileInfo, error) {
	fi := r.Info
	if oi, ok := s.user.FS.(OpenInfoFS); ok && fi == nil {
		f, ofi, err := oi.OpenInfo(r.Context(), r.Name, rest)
		switch {
		case err == nil && ofi.Mode().IsRegular() && rest <= ofi.Size():
			r.Info = ofi
			return f, ofi, nil
		case err == nil:
			f.Close()
		case r.Context().Err() != nil:
			return nil, nil, err
		default:
			s.logger().Debug("RETR: the open failed; looking the path up", "path", r.Path, "err", err)
		}
		// What the path is says what to reply: look it up, and open it
		// as for other file systems.
		if fi, err = s.statFor(statFollow, r); err != nil {
			return nil, nil, err
		}
		r.Info = fi
	}
	if fi.IsDir() {
		s.reply(550, "Is a directory.")
		return nil, nil, nil
	}
	if !fi.Mode().IsRegular() {
		// Opening a FIFO or a device would block the session forever.
		s.reply(550, "Not a regular file.")
		return nil, nil, nil
	}
	if rest > fi.Size() {
		return nil, nil, restBeyond(rest, fi.Size())
	}
	f, err := openAt(r.Context(), s.user.FS, r.Name, os.O_RDONLY, rest)
	if err != nil {
		return nil, nil, err
	}
	return f, fi, nil
}

// openAt opens name for a transfer that starts at offset: with OpenFileAt
// where the file system has it, else OpenFile and a Seek (or, for a
// download, reading and dropping the bytes before it). A file that can't
// be moved to the offset is closed and refused.
func openAt(ctx context.Context, fsys FileSystem, name string, flag int, offset int64) (File, error) {
	if offset > 0 {
		if oa, ok := fsys.(OpenAtFS); ok {
			return oa.OpenFileAt(ctx, name, flag, 0o666, offset)
		}
	}
	f, err := fsys.OpenFile(ctx, name, flag, 0o666)
	if err != nil || offset == 0 {
		return f, err
	}
	if sk, ok := f.(io.Seeker); ok {
		if _, err := sk.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, errCantSeek
		}
		return f, nil
	}
	if flag != os.O_RDONLY {
		f.Close()
		return nil, &ReplyError{Code: 504, Message: "This file system can't resume uploads (REST with STOR or APPE)."}
	}
	if _, err := io.CopyN(io.Discard, f, offset); err != nil {
		f.Close()
		return nil, errCantSeek
	}
	return f, nil
}

func (s *session) cmdSTOR(r *Request) error { return s.store(r) }

// cmdAPPE appends, creating the file if needed. After REST it writes at
// the offset, like STOR after REST.
func (s *session) cmdAPPE(r *Request) error { return s.store(r) }

// store runs STOR and APPE. The file is opened only once the data flows
// (receive), unless REST set an offset: then nothing is truncated, and it
// is opened now, so that a file system that can't write at an offset says
// so before the 150. So is it on a file system that commits on Close
// (CommitOnCloseFS). Two uploads to one name never run at once
// (uploadLocks).
func (s *session) store(r *Request) error {
	if !s.requireDataSetup() {
		return nil
	}
	rest := s.takeRest()
	cmd, ctx := r.Command, r.Context()
	if r.Name == "." {
		s.reply(553, "Can't store onto the root directory.")
		return nil
	}
	fi, folderOK, err := s.statUpload(ctx, r.Name, rest)
	switch {
	case err == nil && fi.IsDir():
		s.reply(550, "Is a directory.")
		return nil
	case err == nil && !fi.Mode().IsRegular():
		// A FIFO or a device: writing could block the session forever.
		s.reply(550, "Not a regular file.")
		return nil
	case err == nil:
		// The file will be written in place: one the user may not
		// write is refused now, not after the 150.
		if a, ok := s.user.FS.(AccessFS); ok {
			if err := a.CanWrite(ctx, r.Name); err != nil {
				return err
			}
		}
	case rest > 0 && cmd == "STOR", !errors.Is(err, fs.ErrNotExist):
		// Resuming an upload writes at the offset: the file must exist
		// for STOR.
		return err
	case folderOK:
		// A new file in a folder StatUpload has seen.
	default:
		// A new file: its folder must be there, as the open will need.
		if err := s.parentDir(ctx, r.Name); err != nil {
			return err
		}
	}
	unlock, ok := s.srv.uploads.lock(s.user.FS, r.Name)
	if !ok {
		s.reply(450, "File busy: another upload to this name is in progress.")
		return nil
	}
	var existing fs.FileInfo
	if err == nil {
		existing = fi
	}
	quota, ok := s.reserveUpload(ctx, r.Name, existing, rest, cmd == "APPE")
	if !ok {
		unlock()
		return nil
	}
	// The transfer releases the name once the file has ended; until it
	// takes it over, any way out of here does (a panic in a back-end
	// included).
	handed := false
	defer func() {
		if !handed {
			unlock()
			quota.giveBack() // the file was not touched
		}
	}()
	job := &transferJob{kind: xferUpload, cmd: cmd, path: r.Path, preliminary: "Ok to send data.", ascii: !s.binary, unlock: unlock, quota: quota}
	if rest > 0 {
		var size int64
		if fi != nil {
			size = fi.Size()
		}
		if rest > size {
			return restBeyond(rest, size)
		}
		// APPE at an offset inside the file writes over its bytes:
		// that needs w, as STOR does; a takes only additions.
		if cmd == "APPE" && rest < size && !s.user.PermAt(r.Path).Has(PermWrite) {
			s.reply(550, "Not enough privileges: APPE after REST inside the file needs the w permission.")
			return nil
		}
		flag := os.O_WRONLY // resume: the file must exist
		if cmd == "APPE" {
			flag = os.O_WRONLY | os.O_CREATE
		}
		f, err := openAt(ctx, s.user.FS, r.Name, flag, rest)
		if err != nil {
			return err
		}
		job.file = f
	} else {
		flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if cmd == "APPE" {
			flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		}
		if c, ok := s.user.FS.(CommitOnCloseFS); ok && c.CommitsOnClose() {
			// Opening truncates nothing: open now (see CommitOnCloseFS).
			f, err := s.user.FS.OpenFile(ctx, r.Name, flag, 0o666)
			if err != nil {
				return err
			}
			job.file = f
		} else {
			job.open = &uploadOpen{fsys: s.user.FS, name: r.Name, flag: flag}
		}
	}
	handed = true
	s.startTransfer(r, job)
	return nil
}

// statUpload looks up the name STOR or APPE will write: with
// StatUpload where the file system has it and no REST offset was set
// (see UploadStatFS), else with Stat.
func (s *session) statUpload(ctx context.Context, name string, rest int64) (fs.FileInfo, bool, error) {
	if u, ok := s.user.FS.(UploadStatFS); ok && rest == 0 {
		fi, folderOK, err := u.StatUpload(ctx, name)
		return fi, folderOK && err != nil && errors.Is(err, fs.ErrNotExist), err
	}
	fi, err := s.user.FS.Stat(ctx, name)
	return fi, false, err
}

// parentDir checks that the folder of name exists and is a folder.
func (s *session) parentDir(ctx context.Context, name string) error {
	dir := path.Dir(name)
	fi, err := s.user.FS.Stat(ctx, dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &fs.PathError{Op: "stat", Path: dir, Err: syscall.ENOTDIR}
	}
	return nil
}

// cmdSTOU stores under a name the server makes unique (RFC 959 §4.1.3),
// and says which in the 150 reply, in RFC 1123 §4.1.2.9's "FILE: name"
// form. The file is created before the 150 (exclusively: it replaces
// nothing). The pipeline checked w at a file of the new name's folder.
func (s *session) cmdSTOU(r *Request) error {
	if s.takeRest() > 0 {
		// The offset is dropped too, so that a client falling back to
		// STOR does not resume at it by surprise.
		s.reply(450, "Can't STOU while REST request is pending.")
		return nil
	}
	if !s.requireDataSetup() {
		return nil
	}
	dir, prefix := path.Dir(r.Path), path.Base(r.Path)
	for range 50 {
		vpath := path.Join(dir, prefix+randomSuffix())
		quota, ok := s.reserveUpload(r.Context(), vpath[1:], nil, 0, false)
		if !ok {
			return nil
		}
		f, err := s.user.FS.OpenFile(r.Context(), vpath[1:], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if err != nil {
			quota.giveBack() // nothing was made
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return err
		}
		s.startTransfer(r, &transferJob{kind: xferUpload, cmd: "STOU", path: vpath,
			preliminary: "FILE: " + path.Base(vpath), ascii: !s.binary, file: f, quota: quota})
		return nil
	}
	s.reply(450, "No usable unique file name found.")
	return nil
}

func randomSuffix() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [8]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b[:])
}

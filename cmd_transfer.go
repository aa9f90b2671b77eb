package pier

import (
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"strconv"

	"github.com/pierftp/pier/internal/ascii"
)

func (s *session) modeName() string {
	if s.binary {
		return "BINARY"
	}
	return "ASCII"
}

// requireDataSetup replies 425 when no PASV, EPSV, PORT or EPRT came before
// a transfer command.
func (s *session) requireDataSetup() bool {
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
func (s *session) cmdREST(arg string) {
	n, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || n < 0 || arg[0] == '+' {
		s.reply(501, "Invalid parameter.")
		return
	}
	if !s.binary && n != 0 {
		s.reply(501, "Resuming transfers not allowed in ASCII mode.")
		return
	}
	s.restOffset = n
	s.reply(350, "Restarting at position "+arg+".")
}

func (s *session) cmdRETR(arg string) {
	if !s.requireDataSetup() {
		return
	}
	rest := s.takeRest()
	vpath, name, ok := s.resolveAllowed(arg)
	if !ok {
		return
	}
	fi, err := s.user.FS.Stat(name)
	if err != nil {
		s.replyErr(err)
		return
	}
	if fi.IsDir() {
		s.reply(550, "Is a directory.")
		return
	}
	if !fi.Mode().IsRegular() {
		// Opening a FIFO or a device would block the session forever.
		s.reply(550, "Not a regular file.")
		return
	}
	if rest > fi.Size() {
		s.reply(554, "REST position ("+strconv.FormatInt(rest, 10)+") > file size ("+strconv.FormatInt(fi.Size(), 10)+").")
		return
	}
	f, err := s.user.FS.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		s.replyErr(err)
		return
	}
	if rest > 0 {
		if err := skipTo(f, rest); err != nil {
			f.Close()
			s.reply(554, "Can't seek to the REST position.")
			return
		}
	}
	asciiMode := !s.binary
	s.startTransfer(transferJob{
		cmd:  "RETR",
		path: vpath,
		preliminary: "Opening " + s.modeName() + " mode data connection for " + path.Base(vpath) +
			" (" + strconv.FormatInt(fi.Size()-rest, 10) + " bytes).",
		body: func(t *transfer, conn net.Conn) error {
			if asciiMode {
				w := &meteredWriter{conn: conn, t: t, timeout: durationOr(s.srv.DataTimeout, DefaultDataTimeout)}
				_, err := io.Copy(ascii.NewCRLFWriter(w), readerOnly{f})
				if err != nil && !w.failed {
					return &fileError{err}
				}
				return err
			}
			return s.sendStream(t, conn, fileReader(f))
		},
		closeFile: func() error { f.Close(); return nil },
		logFile:   true,
	})
}

// skipTo moves a download to offset: Seek when the file can, else read and
// drop the bytes before it.
func skipTo(f File, offset int64) error {
	if sk, ok := f.(io.Seeker); ok {
		_, err := sk.Seek(offset, io.SeekStart)
		return err
	}
	_, err := io.CopyN(io.Discard, f, offset)
	return err
}

// fileReader returns the *os.File inside f if there is one, so that the
// copy can use sendfile.
func fileReader(f File) io.Reader {
	if of, ok := f.(*os.File); ok {
		return of
	}
	return f
}

func (s *session) cmdSTOR(arg string) { s.store("STOR", arg) }

// cmdAPPE appends, creating the file if needed. After REST it writes at
// the offset, like STOR after REST.
func (s *session) cmdAPPE(arg string) { s.store("APPE", arg) }

func (s *session) store(cmd, arg string) {
	if !s.requireDataSetup() {
		return
	}
	rest := s.takeRest()
	vpath, name, ok := s.resolveAllowed(arg)
	if !ok {
		return
	}
	if name == "." {
		s.reply(553, "Can't store onto the root directory.")
		return
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	switch {
	case rest > 0 && cmd == "STOR":
		flag = os.O_WRONLY // resume: the file must exist
	case rest > 0:
		flag = os.O_WRONLY | os.O_CREATE
	case cmd == "APPE":
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	if rest > 0 {
		// Resuming an upload writes at the offset: the file must exist
		// for STOR, and be at least that long.
		var size int64
		fi, err := s.user.FS.Stat(name)
		switch {
		case err == nil && fi.IsDir():
			s.reply(550, "Is a directory.")
			return
		case err == nil:
			size = fi.Size()
		case cmd == "STOR" || !errors.Is(err, fs.ErrNotExist):
			s.replyErr(err)
			return
		}
		if rest > size {
			s.reply(554, "REST position ("+strconv.FormatInt(rest, 10)+") > file size ("+strconv.FormatInt(size, 10)+").")
			return
		}
		// APPE at an offset inside the file writes over its bytes:
		// that needs w, as STOR does; a takes only additions.
		if cmd == "APPE" && rest < size && !s.user.PermAt(vpath).Has(PermWrite) {
			s.reply(550, "Not enough privileges: APPE after REST inside the file needs the w permission.")
			return
		}
	}
	f, err := s.user.FS.OpenFile(name, flag, 0o666)
	if err != nil {
		s.replyErr(err)
		return
	}
	if rest > 0 {
		sk, ok := f.(io.Seeker)
		if !ok {
			f.Close()
			s.reply(504, "This file system can't resume uploads (REST with "+cmd+").")
			return
		}
		if _, err := sk.Seek(rest, io.SeekStart); err != nil {
			f.Close()
			s.reply(554, "Can't seek to the REST position.")
			return
		}
	}
	s.receive(cmd, vpath, f, "Ok to send data.")
}

// cmdSTOU stores under a name the server makes unique (RFC 959 §4.1.3),
// and says which in the 150 reply, in RFC 1123 §4.1.2.9's "FILE: name" form.
func (s *session) cmdSTOU(arg string) {
	if s.takeRest() > 0 {
		// The offset is dropped too, so that a client falling back to
		// STOR does not resume at it by surprise.
		s.reply(450, "Can't STOU while REST request is pending.")
		return
	}
	if !s.requireDataSetup() {
		return
	}
	dir, prefix := s.cwd, "ftpd."
	if arg != "" {
		vpath, _ := s.resolve(arg)
		dir, prefix = path.Dir(vpath), path.Base(vpath)+"."
	}
	// The new file's folder must allow uploads (per-path overrides).
	if !s.user.PermAt(path.Join(dir, prefix)).Has(PermWrite) {
		s.reply(550, "Not enough privileges.")
		return
	}
	for range 50 {
		vpath := path.Join(dir, prefix+randomSuffix())
		f, err := s.user.FS.OpenFile(vpath[1:], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			s.replyErr(err)
			return
		}
		s.receive("STOU", vpath, f, "FILE: "+path.Base(vpath))
		return
	}
	s.reply(450, "No usable unique file name found.")
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

// receive runs an upload into f.
func (s *session) receive(cmd, vpath string, f File, preliminary string) {
	asciiMode := !s.binary
	s.startTransfer(transferJob{
		cmd:         cmd,
		path:        vpath,
		preliminary: preliminary,
		body: func(t *transfer, conn net.Conn) error {
			if asciiMode {
				r := &meteredReader{conn: conn, t: t, timeout: durationOr(s.srv.DataTimeout, DefaultDataTimeout)}
				w := ascii.NewLFWriter(f)
				_, err := io.Copy(writerOnly{w}, r)
				if err == nil {
					err = w.Close()
				}
				if err != nil && !r.failed {
					return &fileError{err}
				}
				return err
			}
			var dst io.Writer = f
			if of, ok := f.(*os.File); ok {
				dst = of
			}
			return s.receiveStream(t, conn, dst)
		},
		closeFile: func() error {
			if err := f.Close(); err != nil {
				return &fileError{err}
			}
			return nil
		},
		logFile: true,
	})
}

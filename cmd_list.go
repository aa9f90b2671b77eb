package pier

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"path"
	"strings"
	"time"

	"github.com/pierftp/pier/internal/listing"
)

// listBatch is how many directory entries are read at a time: listings
// stream, so a folder of any size costs the same memory.
const listBatch = 256

// listFormat is one of the three listing formats.
type listFormat uint8

const (
	formatLs   listFormat = iota // LIST, STAT: ls -l lines
	formatNlst                   // NLST: names
	formatMLSx                   // MLSD, MLST: RFC 3659 facts
)

// splitListArg drops the ls options that clients put before the path
// ("LIST -la /dir", "LIST -a"): pier always lists everything, long form.
func splitListArg(arg string) string {
	for strings.HasPrefix(arg, "-") {
		opts, rest, _ := strings.Cut(arg, " ")
		if len(opts) < 2 || strings.Trim(opts[1:], "aAlLtRrFhdn1") != "" {
			break
		}
		arg = strings.TrimLeft(rest, " ")
	}
	return arg
}

func (s *session) cmdLIST(r *Request) error { return s.list(r, formatLs) }
func (s *session) cmdNLST(r *Request) error { return s.list(r, formatNlst) }

// cmdMLSD lists a directory (RFC 3659 §7.2); its argument must be one.
func (s *session) cmdMLSD(r *Request) error { return s.list(r, formatMLSx) }

// list runs LIST, NLST or MLSD: a directory streams its entries; a file
// (LIST, NLST) gives one line. The pipeline has looked the path up.
func (s *session) list(r *Request, format listFormat) error {
	if !s.requireDataSetup() {
		return nil
	}
	fi := r.Info
	job := &transferJob{kind: xferListing, cmd: r.Command, path: r.Path,
		preliminary: "Here comes the directory listing.",
		list:        &listJob{lister: s.newLister(r.Context(), format)}}
	if !fi.IsDir() {
		if format == formatMLSx {
			s.reply(501, "Not a directory.")
			return nil
		}
		lfi, err := lstat(r.Context(), s.user.FS, r.Name)
		if err != nil {
			lfi = fi
		}
		job.list.vdir, job.list.name, job.list.info = path.Dir(r.Path), path.Base(r.Path), lfi
		s.startTransfer(r, job)
		return nil
	}
	dir, err := s.user.FS.OpenDir(r.Context(), r.Name)
	if err != nil {
		return err
	}
	job.list.dir, job.list.vdir = dir, r.Path
	s.startTransfer(r, job)
	return nil
}

// sendListing writes a listing job to the data connection.
func (s *session) sendListing(t *transfer, conn net.Conn, j *listJob) error {
	w := s.listWriter(t, conn)
	if j.dir == nil {
		j.lister.write(w, j.vdir, j.name, j.info)
		return w.Flush()
	}
	if err := j.lister.streamDir(w, j.vdir, j.dir); err != nil {
		return err
	}
	return w.Flush()
}

func (s *session) listWriter(t *transfer, conn net.Conn) *bufio.Writer {
	return bufio.NewWriterSize(&meteredWriter{conn: conn, t: t, timeout: durationOr(s.srv.lim().DataTimeout, DefaultDataTimeout)}, 32<<10)
}

// lister formats entries for one listing. It captures what it needs from
// the session when the command runs, because it works in the transfer's
// goroutine.
type lister struct {
	ctx    context.Context // the command's: its back-end calls end with it
	srv    *Server
	fsys   FileSystem
	format listFormat
	facts  listing.Facts
	perm   string
	loc    *time.Location
	now    time.Time
	user   *User
	line   []byte
	prefix string // MLST lines and STAT lines

	// Reused per entry, so the hot path allocates nothing for them.
	ls        listing.Entry
	mlsx      listing.MLSxEntry
	permFacts [2]string
	permDone  [2]bool

	// The owner and group names of the last entry: a folder's entries
	// mostly share them, so most lines skip the server-wide cache's lock.
	memoOK            bool
	memoUID, memoGID  uint32
	memoUser, memoGrp string
}

func (s *session) newLister(ctx context.Context, format listFormat) *lister {
	s.srv.owners.refresh(time.Now())
	return &lister{
		ctx:    ctx,
		srv:    s.srv,
		fsys:   s.user.FS,
		format: format,
		facts:  s.facts,
		perm:   string(s.user.Perm),
		user:   s.user,
		loc:    s.timeLocation(),
		now:    time.Now(),
	}
}

// streamDir writes every entry of dir, batch by batch.
func (l *lister) streamDir(w io.Writer, vdir string, dir DirReader) error {
	if dr, ok := dir.(DirInfoReader); ok {
		var werr error
		err := dr.ReadDirInfo(func(fi fs.FileInfo) error {
			werr = l.write(w, vdir, fi.Name(), fi)
			return werr
		})
		if werr != nil {
			return werr
		}
		if err != nil {
			return &fileError{err}
		}
		return nil
	}
	for {
		entries, err := dir.ReadDir(listBatch)
		for _, e := range entries {
			fi, ierr := e.Info()
			if ierr != nil {
				continue // vanished meanwhile
			}
			if err := l.write(w, vdir, e.Name(), fi); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &fileError{err}
		}
	}
}

// write formats one entry; fi is its Lstat. It is the listing hot path:
// the line is built in a buffer the lister reuses, and the entry's file
// system name is only computed for symlinks.
func (l *lister) write(w io.Writer, vdir, name string, fi fs.FileInfo) error {
	fsName := func() string { return strings.TrimPrefix(path.Join(vdir, name), "/") }
	wireName := l.srv.codec.encode(name)
	b := append(l.line[:0], l.prefix...)
	switch l.format {
	case formatNlst:
		b = listing.AppendNlst(b, wireName)
	case formatLs:
		e := &l.ls
		*e = listing.Entry{Name: wireName, Info: fi}
		if fi.Mode()&fs.ModeSymlink != 0 && !l.escapes(fsName()) {
			if rl, ok := l.fsys.(ReadlinkFS); ok {
				if target, err := rl.Readlink(l.ctx, fsName()); err == nil {
					e.LinkTarget = l.srv.codec.encode(target)
				}
			}
		}
		e.Owner, e.Group, e.Nlink = l.ownerNames(fi)
		b = listing.AppendLs(b, e, l.now, l.loc)
		*e = listing.Entry{} // name and info may live in the reader's buffer
	case formatMLSx:
		e := &l.mlsx
		*e = listing.MLSxEntry{Name: wireName, Info: fi}
		if fi.Mode()&fs.ModeSymlink != 0 {
			e.IsLink = true
			// The link's target gives size and time when it stays
			// inside the root; otherwise the link's own facts.
			if tfi, err := l.fsys.Stat(l.ctx, fsName()); err == nil {
				e.Info = tfi
			}
		}
		if l.user != nil && len(l.user.Overrides) > 0 {
			// Per-path overrides: the entry's own permissions.
			e.Perm = listing.PermFact(e.Info.IsDir(), string(l.user.PermAt(path.Join(vdir, name))))
		} else {
			e.Perm = l.permFact(e.Info.IsDir())
		}
		if vdir == "/" && (name == "/" || name == ".") {
			// The root can't be deleted or renamed (RMD /, RNFR /).
			e.Perm = strings.NewReplacer("d", "", "f", "").Replace(e.Perm)
		}
		if st, ok := unixStat(e.Info); ok {
			e.Dev, e.Ino, e.HasDevIno = st.dev, st.ino, true
			e.UID, e.GID, e.HasOwner = st.uid, st.gid, true
		}
		b = listing.AppendMLSx(b, e, l.facts, l.loc)
		*e = listing.MLSxEntry{}
	}
	l.line = b
	_, err := w.Write(b)
	return err
}

// ownerNames is ownerCache.names, remembering the last entry's answer.
func (l *lister) ownerNames(fi fs.FileInfo) (owner, group string, nlink uint64) {
	st, ok := unixStat(fi)
	if ok && l.memoOK && st.uid == l.memoUID && st.gid == l.memoGID {
		return l.memoUser, l.memoGrp, st.nlink
	}
	owner, group, nlink = l.srv.owners.names(fi)
	if ok {
		l.memoOK, l.memoUID, l.memoGID, l.memoUser, l.memoGrp = true, st.uid, st.gid, owner, group
	}
	return owner, group, nlink
}

// permFact returns the perm fact for a file or a folder, computed once per
// listing: it depends only on the user's letters.
func (l *lister) permFact(isDir bool) string {
	i := 0
	if isDir {
		i = 1
	}
	if !l.permDone[i] {
		l.permFacts[i] = listing.PermFact(isDir, l.perm)
		l.permDone[i] = true
	}
	return l.permFacts[i]
}

// escapes reports whether the symlink name points outside the root; its
// target is then not shown, since it would reveal the server's real paths.
func (l *lister) escapes(name string) bool {
	_, err := l.fsys.Stat(l.ctx, name)
	return errors.Is(err, ErrOutsideRoot)
}

// fileIDs are the numbers of a file that LIST and MLSD show or use.
type fileIDs struct {
	uid, gid        uint32
	nlink, dev, ino uint64
}

// cmdMLST describes one path over the control connection (RFC 3659 §7.3).
// The pipeline has looked it up (its link itself, refused if it leads
// outside the root).
func (s *session) cmdMLST(r *Request) error {
	l := s.newLister(r.Context(), formatMLSx)
	l.prefix = " "
	m := s.beginReply(250, "Listing \""+quote(r.Path)+"\":")
	// The pathname in an MLST line is the full virtual path (TVFS).
	l.write(m, "/", r.Path, r.Info)
	m.End("End MLST.")
	return nil
}

// cmdSTAT with a path lists it over the control connection (RFC 959
// §4.1.3: "like LIST, but over the control connection"); without one,
// cmdStatus answers.
func (s *session) cmdSTAT(r *Request) error {
	var dir DirReader
	if r.Info.IsDir() {
		// Opened before the first line: a folder that can't be read gets
		// its error, not an empty status.
		var err error
		if dir, err = s.user.FS.OpenDir(r.Context(), r.Name); err != nil {
			return err
		}
		defer dir.Close()
	}
	m := s.beginReply(213, "Status of \""+quote(r.Path)+"\":")
	l := s.newLister(r.Context(), formatLs)
	if dir == nil {
		lfi, err := lstat(r.Context(), s.user.FS, r.Name)
		if err != nil {
			lfi = r.Info
		}
		l.write(m, path.Dir(r.Path), path.Base(r.Path), lfi)
	} else if err := l.streamDir(m, r.Path, dir); err != nil {
		// The multi-line reply has begun: it can only end with its own
		// code, so it says the list is short.
		s.logger().Warn("STAT listing ended early", "path", r.Path, "err", err)
		m.End("End of status (incomplete: the folder could not be read to the end).")
		return nil
	}
	m.End("End of status.")
	return nil
}

// Package xferlog writes a line per file transfer in the xferlog format of
// wu-ftpd, ProFTPD and vsftpd (man 5 xferlog), which log analysers
// (webalizer, awstats, xferstats) read:
//
//	Sun Dec  6 18:00:00 2026 1 127.0.0.1 1048576 /pub/file.bin b _ o r alice ftp 0 * c
//
// A Writer installs itself as a server's file hooks:
//
//	w, err := xferlog.Open("/var/log/pier/xferlog")
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer w.Close()
//	w.Install(srv)
//	// on SIGHUP, after logrotate moved the file: w.Reopen()
package xferlog

import (
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pierftp/pier"
)

// Entry is one transfer: the facts of one xferlog line.
type Entry struct {
	// Time is when the transfer ended, written in its own location as
	// ctime(3) does ("Sun Dec  6 18:00:00 2026"): a server's local time.
	Time time.Time
	// Duration is how long the transfer took; written in whole seconds,
	// rounded, and at least 1 (as vsftpd).
	Duration time.Duration
	// RemoteHost is the client's address (no name is looked up).
	RemoteHost string
	// Bytes is how many bytes moved over the data connection.
	Bytes int64
	// Path is the file's virtual path. Spaces and control characters
	// are written as "_" (as ProFTPD and vsftpd), so that the line
	// keeps its fields.
	Path string
	// ASCII reports a TYPE A transfer ("a"); else binary ("b").
	ASCII bool
	// Incoming reports an upload ("i"); else a download ("o").
	Incoming bool
	// Anonymous reports an anonymous login ("a"); else a real one ("r").
	Anonymous bool
	// User is the login name; for anonymous logins too, never the
	// password (wu-ftpd logged the e-mail address given as one).
	User string
	// Complete reports a transfer that completed ("c"); else "i".
	Complete bool
}

// NewEntry returns the Entry of a transfer that ended at end, from the
// arguments of a file hook.
func NewEntry(s *pier.Session, t pier.TransferInfo, end time.Time) Entry {
	e := Entry{
		Time:       end,
		Duration:   t.Duration,
		RemoteHost: s.RemoteAddr().Addr().String(),
		Bytes:      t.Bytes,
		Path:       t.Path,
		ASCII:      t.ASCII,
		Incoming:   t.Command != "RETR",
		Complete:   t.Err == nil,
	}
	if u := s.User(); u != nil {
		e.User, e.Anonymous = u.Name, u.Anonymous
	}
	return e
}

// AppendLine appends e's line, with its newline, to b.
func AppendLine(b []byte, e Entry) []byte {
	b = e.Time.AppendFormat(b, time.ANSIC)
	b = append(b, ' ')
	b = strconv.AppendInt(b, seconds(e.Duration), 10)
	b = append(b, ' ')
	b = appendField(b, e.RemoteHost)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, ' ')
	b = appendField(b, e.Path)
	b = append(b, ' ', flag(e.ASCII, 'a', 'b'), ' ', '_', ' ', flag(e.Incoming, 'i', 'o'), ' ', flag(e.Anonymous, 'a', 'r'), ' ')
	b = appendField(b, e.User)
	// Service "ftp", authentication method 0 (no RFC 931 ident), no
	// authenticated user id.
	b = append(b, " ftp 0 * "...)
	return append(b, flag(e.Complete, 'c', 'i'), '\n')
}

// seconds is d in whole seconds, rounded, at least 1: vsftpd writes 1 for
// a transfer shorter than a second, and analysers divide by it.
func seconds(d time.Duration) int64 {
	return max(int64(d.Round(time.Second)/time.Second), 1)
}

func flag(on bool, yes, no byte) byte {
	if on {
		return yes
	}
	return no
}

// appendField appends s with spaces, control characters and invalid
// UTF-8 as "_", or "*" if s is empty, so that a line always has its
// fields and stays one line.
func appendField(b []byte, s string) []byte {
	if s == "" {
		return append(b, '*')
	}
	for i, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || (r == utf8.RuneError && isInvalid(s[i:])) {
			b = append(b, '_')
			continue
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}

func isInvalid(s string) bool {
	_, size := utf8.DecodeRuneInString(s)
	return size <= 1
}

// Writer writes xferlog lines, one Write per line: lines of concurrent
// transfers never interleave, and a file opened with Open (O_APPEND)
// can be shared with other writers. Its methods are safe for concurrent
// use.
type Writer struct {
	// Now returns the time written on a line; if nil, time.Now.
	Now func() time.Time

	mu   sync.Mutex // guards out and file, and orders the writes
	out  io.Writer
	file *os.File // out when opened by Open, nil otherwise
	path string   // the file Open opened, for Reopen
	buf  []byte
}

// New returns a Writer that writes its lines to out.
func New(out io.Writer) *Writer { return &Writer{out: out} }

// Open returns a Writer that appends its lines to the file at path,
// created with mode 0640 if it doesn't exist.
func Open(path string) (*Writer, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	return &Writer{out: f, file: f, path: path}, nil
}

func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
}

// ErrNotFile is Reopen's error for a Writer made by New.
var ErrNotFile = errors.New("xferlog: not a file opened by Open")

// Reopen opens the file again by its path and closes the old one: after
// logrotate renamed it, the next lines go to a new file. If the file
// can't be opened, the Writer keeps writing to the old one and Reopen
// returns the error.
func (w *Writer) Reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file == nil {
		return ErrNotFile
	}
	f, err := openFile(w.path)
	if err != nil {
		return err
	}
	old := w.file
	w.out, w.file = f, f
	return old.Close()
}

// Close closes the file opened by Open; later lines are dropped. For a
// Writer made by New it does nothing.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file == nil {
		return nil
	}
	err := w.file.Close()
	w.out, w.file = io.Discard, nil
	return err
}

// Write writes e's line.
func (w *Writer) Write(e Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = AppendLine(w.buf[:0], e)
	_, err := w.out.Write(w.buf)
	return err
}

// Log writes the line of a transfer; it has the type of the file hooks
// of pier.Hooks. A write error is logged with the session's logger.
func (w *Writer) Log(s *pier.Session, t pier.TransferInfo) {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	if err := w.Write(NewEntry(s, t, now())); err != nil {
		s.Logger().Error("xferlog: can't write", "err", err)
	}
}

// Install makes srv log every file transfer, complete or not, to w. Call
// it before the server starts. The file hooks srv has keep running, after
// the line is written.
func (w *Writer) Install(srv *pier.Server) {
	h := &srv.Hooks
	h.FileSent = w.chain(h.FileSent)
	h.FileReceived = w.chain(h.FileReceived)
	h.IncompleteFileSent = w.chain(h.IncompleteFileSent)
	h.IncompleteFileReceived = w.chain(h.IncompleteFileReceived)
}

func (w *Writer) chain(next func(*pier.Session, pier.TransferInfo)) func(*pier.Session, pier.TransferInfo) {
	return func(s *pier.Session, t pier.TransferInfo) {
		w.Log(s, t)
		if next != nil {
			next(s, t)
		}
	}
}

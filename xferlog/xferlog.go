// Package xferlog writes a line per file transfer in the xferlog format of
// wu-ftpd, ProFTPD and vsftpd (man 5 xferlog), which log analysers
// (webalizer, awstats, xferstats) and fail2ban read:
//
//	Sun Dec  6 18:00:00 2026 1 127.0.0.1 1048576 /pub/file.bin b _ o r alice ftp 0 * c
//
// A Writer installs itself as a server's file hooks:
//
//	w, err := xferlog.Open("/var/log/pier/xferlog", nil)
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer w.Close() // after srv.Shutdown: writes the queued lines
//	w.Install(srv)
//	// on SIGUSR1, after logrotate moved the file: w.Reopen()
//
// A transfer never waits on the disk: its hook formats the line and
// queues it for the Writer's own goroutine, which writes it. When the
// disk is so slow that the queue fills, lines are dropped, counted
// (Writer.Dropped) and reported in a warning at most once a minute.
package xferlog

import (
	"strconv"
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

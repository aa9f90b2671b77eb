// Package listing formats the lines of FTP directory listings: the
// human-oriented "ls -l" lines of LIST (RFC 959 §4.1.3 leaves their format
// to the server; we copy what proftpd and pyftpdlib send, which clients
// know how to parse), the bare names of NLST, and the machine-readable facts
// of MLSD and MLST (RFC 3659 §7).
//
// Every formatter appends to a caller-supplied byte slice, in the manner of
// strconv.AppendInt, and does not allocate when the slice has room: a
// server lists millions of entries, and per-line garbage adds up.
//
// A CR or LF inside a name would end the line early and let a file name
// inject fake entries (or, on the control connection, fake replies), so all
// formatters write each CR and LF byte of a name as '?'. All other bytes,
// invalid UTF-8 included, are written as they are: RFC 3659 §2.2 treats
// pathnames as octet strings, and rewriting them would make the listed name
// differ from the name the client must send back.
package listing

import (
	"io/fs"
	"strconv"
	"time"
	"unicode/utf8"
)

// Entry is one file in a LIST reply.
type Entry struct {
	// Name is the name to show; if empty, Info.Name() is used.
	Name string
	// Info describes the file; it must not be nil.
	Info fs.FileInfo
	// LinkTarget is shown as " -> target" after the name of a symbolic
	// link; it is ignored for other files.
	LinkTarget string
	// Owner and Group are the names (or numeric strings) to show,
	// already resolved by the caller.
	Owner, Group string
	// Nlink is the hard link count; 0 is shown as 1, for file systems
	// that do not have one.
	Nlink uint64
}

// sixMonths is the age past which ls shows the year instead of the time
// of day, because the year is then likely to differ from the current one.
const sixMonths = 180 * 24 * time.Hour

// monthAbbr holds fixed English abbreviations: clients parse LIST output
// and expect them whatever the server's locale.
var monthAbbr = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// AppendLs appends to dst one LIST line for e in the format of "ls -l" as
// sent by proftpd and pyftpdlib, ending with CRLF, and returns the extended
// slice. The columns are those of
//
//	fmt.Sprintf("%s %3d %-8s %-8s %8d %s %s", perms, nlink, owner, group, size, date, name)
//
// (widths counted in runes, as fmt does; wider values are not truncated),
// followed by " -> " and e.LinkTarget for a symbolic link that has one.
//
// perms is the file type letter (d, l, p, s, c, b, or - for anything else)
// and the rwx triplets, with setuid, setgid and sticky shown as s/S, s/S
// and t/T as ls does. date is the modification time converted to loc (UTC
// if loc is nil): "Jan 02 15:04", or "Jan 02  2006" if it is more than 180
// days before now. Future times keep the time-of-day form.
//
// Each CR or LF byte in the name, link target, owner and group is written
// as '?' so that it cannot break the line; other bytes are written as is.
func AppendLs(dst []byte, e *Entry, now time.Time, loc *time.Location) []byte {
	mode := e.Info.Mode()
	dst = appendPerms(dst, mode)
	dst = append(dst, ' ')

	nlink := e.Nlink
	if nlink == 0 {
		nlink = 1
	}
	var num [24]byte
	dst = appendPadLeft(dst, strconv.AppendUint(num[:0], nlink, 10), 3)
	dst = append(dst, ' ')
	dst = appendPadRight(dst, e.Owner, 8)
	dst = append(dst, ' ')
	dst = appendPadRight(dst, e.Group, 8)
	dst = append(dst, ' ')
	dst = appendPadLeft(dst, strconv.AppendInt(num[:0], e.Info.Size(), 10), 8)
	dst = append(dst, ' ')

	if loc == nil {
		loc = time.UTC
	}
	mtime := e.Info.ModTime()
	dst = appendLsDate(dst, mtime.In(loc), now.Sub(mtime) > sixMonths)
	dst = append(dst, ' ')

	name := e.Name
	if name == "" {
		name = e.Info.Name()
	}
	dst = appendSafe(dst, name)
	if mode&fs.ModeSymlink != 0 && e.LinkTarget != "" {
		dst = append(dst, " -> "...)
		dst = appendSafe(dst, e.LinkTarget)
	}
	return append(dst, '\r', '\n')
}

// AppendNlst appends to dst one NLST line, the name followed by CRLF
// (RFC 959 §4.1.3), and returns the extended slice. Each CR or LF byte in
// name is written as '?' so that it cannot break the line.
func AppendNlst(dst []byte, name string) []byte {
	dst = appendSafe(dst, name)
	return append(dst, '\r', '\n')
}

// appendPerms appends the ten-character mode column of ls -l.
func appendPerms(dst []byte, mode fs.FileMode) []byte {
	var t byte
	switch {
	case mode&fs.ModeDir != 0:
		t = 'd'
	case mode&fs.ModeSymlink != 0:
		t = 'l'
	case mode&fs.ModeNamedPipe != 0:
		t = 'p'
	case mode&fs.ModeSocket != 0:
		t = 's'
	case mode&fs.ModeCharDevice != 0:
		// Go sets ModeDevice too for character devices, so test this first.
		t = 'c'
	case mode&fs.ModeDevice != 0:
		t = 'b'
	default:
		t = '-'
	}
	perm := mode.Perm()
	b := [10]byte{t, '-', '-', '-', '-', '-', '-', '-', '-', '-'}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if perm&(1<<(8-i)) != 0 {
			b[1+i] = rwx[i]
		}
	}
	// The special bits share the x column of their triplet: lower case
	// when x is also set, upper case when it is not, as ls shows them.
	special := func(i int, set bool, lower byte) {
		if !set {
			return
		}
		if b[i] == 'x' {
			b[i] = lower
		} else {
			b[i] = lower - ('a' - 'A')
		}
	}
	special(3, mode&fs.ModeSetuid != 0, 's')
	special(6, mode&fs.ModeSetgid != 0, 's')
	special(9, mode&fs.ModeSticky != 0, 't')
	return append(dst, b[:]...)
}

// appendLsDate appends "Mon DD HH:MM", or "Mon DD  YYYY" if old.
func appendLsDate(dst []byte, t time.Time, old bool) []byte {
	year, month, day := t.Date()
	dst = append(dst, monthAbbr[month-1]...)
	dst = append(dst, ' ')
	dst = append2(dst, day)
	if old {
		dst = append(dst, ' ', ' ')
		return appendYear(dst, year)
	}
	hour, minute, _ := t.Clock()
	dst = append(dst, ' ')
	dst = append2(dst, hour)
	dst = append(dst, ':')
	return append2(dst, minute)
}

// append2 appends n (0..99) as two digits.
func append2(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

// appendYear appends year zero-padded to four digits; years outside
// 0..9999 cannot be padded and are written in full.
func appendYear(dst []byte, year int) []byte {
	if year < 0 || year > 9999 {
		return strconv.AppendInt(dst, int64(year), 10)
	}
	return append(dst, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10))
}

// appendPadLeft appends s right-aligned in width bytes (s is ASCII).
func appendPadLeft(dst, s []byte, width int) []byte {
	for n := len(s); n < width; n++ {
		dst = append(dst, ' ')
	}
	return append(dst, s...)
}

// appendPadRight appends s left-aligned in width runes, counting runes as
// fmt's %-8s does so that the output matches it for non-ASCII names. Each
// CR or LF is replaced by '?', which keeps the rune count unchanged.
func appendPadRight(dst []byte, s string, width int) []byte {
	dst = appendSafe(dst, s)
	for n := utf8.RuneCountInString(s); n < width; n++ {
		dst = append(dst, ' ')
	}
	return dst
}

// appendSafe appends s with each CR and LF byte replaced by '?'.
func appendSafe(dst []byte, s string) []byte {
	for {
		i := indexCRLF(s)
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, '?')
		s = s[i+1:]
	}
}

// indexCRLF returns the index of the first CR or LF byte in s, or -1.
func indexCRLF(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			return i
		}
	}
	return -1
}

package listing

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// Facts is a set of the MLSD/MLST facts (RFC 3659 §7.5) that the server
// supports, used both for the set a client selected with OPTS MLST and
// for the set a listing line shows.
type Facts uint16

// The supported facts. The unix.* facts are not defined by RFC 3659, but
// its grammar allows OS-dependent facts named "<IANA OS name>.token"
// (RFC 3659 §7.2, §7.5 names UNIX.mode as an example), and proftpd and
// pyftpdlib send these three, so clients know them.
const (
	// FactType is the type fact (RFC 3659 §7.5.1): file, dir or OS type.
	FactType Facts = 1 << iota
	// FactSize is the size fact (RFC 3659 §7.5.7): size in octets.
	FactSize
	// FactModify is the modify fact (RFC 3659 §7.5.3): mtime in UTC.
	FactModify
	// FactPerm is the perm fact (RFC 3659 §7.5.5): what the user may do.
	FactPerm
	// FactUnique is the unique fact (RFC 3659 §7.5.2): a file identity.
	FactUnique
	// FactUnixMode is the unix.mode fact: octal permission bits.
	FactUnixMode
	// FactUnixUID is the unix.uid fact: numeric owner.
	FactUnixUID
	// FactUnixGID is the unix.gid fact: numeric group.
	FactUnixGID
)

// AllFacts is the set of every supported fact.
const AllFacts = FactType | FactSize | FactModify | FactPerm | FactUnique | FactUnixMode | FactUnixUID | FactUnixGID

// MLSxEntry is one file in an MLSD reply or MLST response.
type MLSxEntry struct {
	// Name is the name (MLSD) or pathname (MLST) to show.
	Name string
	// Info describes the file; it must not be nil.
	Info fs.FileInfo
	// Perm is the value of the perm fact (see PermFact); if empty the fact
	// is left out.
	Perm string
	// Unique is the value of the unique fact, such as the device and inode
	// numbers in hex; if empty the fact is left out.
	Unique string
	// UID and GID are the numeric owner and group, shown when HasOwner is
	// set: a file system that has no owners (a virtual one, or Windows)
	// leaves the unix.uid and unix.gid facts out rather than claim root.
	UID, GID uint32
	HasOwner bool
	// IsLink reports that the entry is a symbolic link, shown with the
	// type OS.unix=symlink.
	IsLink bool
	// Dev and Ino, when HasDevIno is set and Unique is empty, make the
	// unique fact: device and inode in hex joined by 'g'.
	Dev, Ino  uint64
	HasDevIno bool
}

// AppendMLSx appends to dst one MLSD line for e (RFC 3659 §7.2) and
// returns the extended slice: "fact=value;" for each fact in facts, in
// alphabetical order of fact names (modify, perm, size, type, unique,
// unix.gid, unix.mode, unix.uid), then exactly one space, the name, and
// CRLF; with no facts the line is a space and the name. An MLST response
// line (also RFC 3659 §7.2) is the same with a leading space, which the
// caller writes.
//
// The type is "dir" for a directory, "OS.unix=symlink" if e.IsLink (an
// OS-specific type, RFC 3659 §7.5.1; the example in §7.7.4 writes
// "OS.unix=slink:target", which does not fit the grammar, as proftpd
// notes, so we follow the grammar), else "file". modify is the
// modification time in loc (UTC if nil; RFC 3659 §2.3 requires UTC, so
// other zones are only for compatibility with broken clients), left out
// if its year is outside 1900..9999, which the fact cannot represent.
// unix.mode is the octal permission bits with a leading 0, including
// setuid, setgid and sticky: "0644", "04755". perm and unique are left out
// when empty.
//
// Each CR or LF byte in the name is written as '?' so that it cannot break
// the line; other bytes are written as is.
func AppendMLSx(dst []byte, e *MLSxEntry, facts Facts, loc *time.Location) []byte {
	mode := e.Info.Mode()
	if facts&FactModify != 0 {
		if loc == nil {
			loc = time.UTC
		}
		t := e.Info.ModTime().In(loc)
		if y := t.Year(); y >= 1900 && y <= 9999 {
			dst = append(dst, "modify="...)
			dst = AppendTime(dst, t)
			dst = append(dst, ';')
		}
	}
	if facts&FactPerm != 0 && e.Perm != "" {
		dst = append(dst, "perm="...)
		dst = append(dst, e.Perm...)
		dst = append(dst, ';')
	}
	if facts&FactSize != 0 {
		dst = append(dst, "size="...)
		dst = strconv.AppendInt(dst, e.Info.Size(), 10)
		dst = append(dst, ';')
	}
	if facts&FactType != 0 {
		switch {
		case e.IsLink:
			dst = append(dst, "type=OS.unix=symlink;"...)
		case mode.IsDir():
			dst = append(dst, "type=dir;"...)
		default:
			dst = append(dst, "type=file;"...)
		}
	}
	if facts&FactUnique != 0 {
		switch {
		case e.Unique != "":
			dst = append(dst, "unique="...)
			dst = append(dst, e.Unique...)
			dst = append(dst, ';')
		case e.HasDevIno:
			// The device and inode in hex, "fe00g53ef" (pyftpdlib's
			// form), formatted here to spare the caller a string.
			dst = append(dst, "unique="...)
			dst = strconv.AppendUint(dst, e.Dev, 16)
			dst = append(dst, 'g')
			dst = strconv.AppendUint(dst, e.Ino, 16)
			dst = append(dst, ';')
		}
	}
	if facts&FactUnixGID != 0 && e.HasOwner {
		dst = append(dst, "unix.gid="...)
		dst = strconv.AppendUint(dst, uint64(e.GID), 10)
		dst = append(dst, ';')
	}
	if facts&FactUnixMode != 0 {
		dst = append(dst, "unix.mode="...)
		dst = appendUnixMode(dst, mode)
		dst = append(dst, ';')
	}
	if facts&FactUnixUID != 0 && e.HasOwner {
		dst = append(dst, "unix.uid="...)
		dst = strconv.AppendUint(dst, uint64(e.UID), 10)
		dst = append(dst, ';')
	}
	dst = append(dst, ' ')
	dst = appendSafe(dst, e.Name)
	return append(dst, '\r', '\n')
}

// appendUnixMode appends the Unix permission bits of mode in octal with a
// leading 0: three digits, or four when setuid, setgid or sticky is set.
func appendUnixMode(dst []byte, mode fs.FileMode) []byte {
	m := uint32(mode.Perm())
	if mode&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if mode&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if mode&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	dst = append(dst, '0')
	if m > 0o777 {
		dst = append(dst, byte('0'+m>>9))
	}
	return append(dst, byte('0'+m>>6&7), byte('0'+m>>3&7), byte('0'+m&7))
}

// AppendTime appends t as the time-val of RFC 3659 §2.3, YYYYMMDDHHMMSS,
// and returns the extended slice. t is written in its own location: the
// RFC wants UTC, so convert it first. The year is zero-padded to four
// digits; years outside 0..9999 are written in full and are not valid
// time-vals.
func AppendTime(dst []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	dst = appendYear(dst, year)
	dst = append2(dst, int(month))
	dst = append2(dst, day)
	dst = append2(dst, hour)
	dst = append2(dst, minute)
	return append2(dst, sec)
}

// errTime is returned by ParseTime; MDTM and MFMT reply 501 to any of its
// causes, so one error is enough.
var errTime = errors.New("invalid time-val: want YYYYMMDDHHMMSS[.sss]")

// ParseTime parses a time-val of RFC 3659 §2.3, as in MFMT or the modify
// fact: exactly 14 digits YYYYMMDDHHMMSS, optionally followed by '.' and
// one or more digits of fractional seconds, of which the first nine
// (nanoseconds) are kept and the rest ignored. The time is in UTC, as the
// RFC requires. A date or time that does not exist, such as February 30,
// hour 24 or second 60, is an error, as is anything else that is not of
// that form.
func ParseTime(s string) (time.Time, error) {
	if len(s) < 14 {
		return time.Time{}, errTime
	}
	var v [6]int
	widths := [6]int{4, 2, 2, 2, 2, 2}
	p := 0
	for i, w := range widths {
		n, ok := digits(s[p : p+w])
		if !ok {
			return time.Time{}, errTime
		}
		v[i] = n
		p += w
	}
	nsec := 0
	if frac := s[14:]; frac != "" {
		if frac[0] != '.' || len(frac) == 1 {
			return time.Time{}, errTime
		}
		scale := 100000000
		for i := 1; i < len(frac); i++ {
			c := frac[i]
			if c < '0' || c > '9' {
				return time.Time{}, errTime
			}
			nsec += int(c-'0') * scale
			scale /= 10
		}
	}
	t := time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], nsec, time.UTC)
	// time.Date normalises out-of-range fields (Feb 30 becomes Mar 2), so
	// compare the fields back to catch them.
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	if y != v[0] || int(mo) != v[1] || d != v[2] || h != v[3] || mi != v[4] || sec != v[5] {
		return time.Time{}, errTime
	}
	return t, nil
}

// digits parses s, which must be all ASCII digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// PermFact returns the value of the perm fact (RFC 3659 §7.5.5) for a file
// or directory that a user with the pyftpdlib-style permission letters
// perms may act on: e (CWD), l (LIST), r (RETR), a (APPE), d (DELE, RMD),
// f (RNFR/RNTO), m (MKD), w (STOR), M (SITE CHMOD) and T (MFMT).
//
// For a directory it holds, in alphabetical order: c (create files in it)
// if w or a, d (delete it) if d, e (enter it) if e, f (rename it) if f,
// l (list it) if l, m (make subdirectories) if m, p (purge its contents)
// if d. For a file: a (append) if a, d if d, f if f, r (retrieve) if r,
// w (store) if w. M and T have no RFC 3659 letter and never appear.
func PermFact(isDir bool, perms string) string {
	has := func(c byte) bool { return strings.IndexByte(perms, c) >= 0 }
	var b [7]byte
	n := 0
	add := func(c byte, ok bool) {
		if ok {
			b[n] = c
			n++
		}
	}
	if isDir {
		add('c', has('w') || has('a'))
		add('d', has('d'))
		add('e', has('e'))
		add('f', has('f'))
		add('l', has('l'))
		add('m', has('m'))
		add('p', has('d'))
	} else {
		add('a', has('a'))
		add('d', has('d'))
		add('f', has('f'))
		add('r', has('r'))
		add('w', has('w'))
	}
	return string(b[:n])
}

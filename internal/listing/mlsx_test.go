package listing

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"
)

func TestParseFacts(t *testing.T) {
	tests := []struct {
		name    string
		list    string
		want    Facts
		wantStr string
	}{
		{"empty", "", 0, ""},
		{"rfc example", "type;size;Modify;", FactType | FactSize | FactModify, "type;size;modify;"},
		{"client order kept", "unix.uid;PERM;type;", FactUnixUID | FactPerm | FactType, "unix.uid;perm;type;"},
		{"no trailing semicolon", "size;type", FactSize | FactType, "size;type;"},
		{"RFC facts pier lacks ignored", "type;media-type;charset;Create;lang;size;", FactType | FactSize, "type;size;"},
		{"OS and local facts ignored", "UNIX.owner;unix.group;X.hidden;WINDOWS-NT.attr;modify;", FactModify, "modify;"},
		{"empty segments ignored", ";;type;;;", FactType, "type;"},
		{"duplicates once", "type;TYPE;Type;", FactType, "type;"},
		{"spaces trimmed", " type ; size;", FactType | FactSize, "type;size;"},
		{"all", "modify;perm;size;type;unique;unix.gid;unix.mode;unix.uid;", AllFacts, "modify;perm;size;type;unique;unix.gid;unix.mode;unix.uid;"},
		{"only facts pier lacks", "create;lang;", 0, ""},
		{"only separators", ";", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, s, err := ParseFacts(tt.list)
			if err != nil || got != tt.want || s != tt.wantStr {
				t.Fatalf("ParseFacts(%q) = %#x, %q, %v; want %#x, %q", tt.list, got, s, err, tt.want, tt.wantStr)
			}
		})
	}
}

// TestParseFactsInvalid: RFC 3659 §7.9's grammar allows only fact names,
// each followed by ';'.
func TestParseFactsInvalid(t *testing.T) {
	tests := []struct {
		name, list, unknown string // unknown: the name in the *UnknownFactError, "" for ErrFactList
	}{
		{"unknown name", "fish;", "fish"},
		{"unknown among known", "type;Bogus;modify;", "Bogus"},
		{"prefix is not a match", "types;", "types"},
		{"OS fact without token", "unix.;", "unix."},
		{"fact without OS", ".mode;", ".mode"},
		{"token with a bad byte", "x.a=b;", "x.a=b"},
		{"no semicolon at all", "type", ""},
		{"unknown name without semicolon", "bad_fact", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, s, err := ParseFacts(tt.list)
			var ue *UnknownFactError
			switch {
			case set != 0 || s != "":
				t.Fatalf("ParseFacts(%q) = %#x, %q; want nothing selected", tt.list, set, s)
			case tt.unknown == "" && !errors.Is(err, ErrFactList):
				t.Fatalf("ParseFacts(%q) error %v, want ErrFactList", tt.list, err)
			case tt.unknown != "" && (!errors.As(err, &ue) || ue.Name != tt.unknown):
				t.Fatalf("ParseFacts(%q) error %v, want unknown fact %q", tt.list, err, tt.unknown)
			}
		})
	}
}

// TestFeatString: pyftpdlib's order, "type;perm;size;modify;...".
func TestFeatString(t *testing.T) {
	tests := []struct {
		name  string
		facts Facts
		want  string
	}{
		{"none", 0, "type;perm;size;modify;unique;unix.mode;unix.uid;unix.gid;"},
		{"all", AllFacts, "type*;perm*;size*;modify*;unique*;unix.mode*;unix.uid*;unix.gid*;"},
		{"some", FactType | FactModify | FactUnixGID, "type*;perm;size;modify*;unique;unix.mode;unix.uid;unix.gid*;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.facts.FeatString(); got != tt.want {
				t.Fatalf("FeatString() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestAppendMLSx(t *testing.T) {
	mtime := time.Date(2024, time.May, 9, 8, 5, 3, 999, time.UTC)
	file := &fileInfo{name: "f", size: 1234, mode: 0o644, mtime: mtime}
	dir := &fileInfo{name: "d", size: 4096, mode: fs.ModeDir | fs.ModeSetuid | 0o755, mtime: mtime}
	tests := []struct {
		name  string
		e     MLSxEntry
		facts Facts
		loc   *time.Location
		want  string
	}{
		{
			name:  "file all facts",
			e:     MLSxEntry{Name: "a.txt", Info: file, Perm: "adfrw", Unique: "fe00g53ef", UID: 1000, GID: 100, HasOwner: true},
			facts: AllFacts,
			want:  "modify=20240509080503;perm=adfrw;size=1234;type=file;unique=fe00g53ef;unix.gid=100;unix.mode=0644;unix.uid=1000; a.txt\r\n",
		},
		{
			name:  "dir with setuid",
			e:     MLSxEntry{Name: "sub", Info: dir, Perm: "el"},
			facts: FactType | FactUnixMode | FactPerm,
			want:  "perm=el;type=dir;unix.mode=04755; sub\r\n",
		},
		{
			name:  "symlink type",
			e:     MLSxEntry{Name: "ln", Info: &fileInfo{mode: fs.ModeSymlink | 0o777, mtime: mtime}, IsLink: true},
			facts: FactType,
			want:  "type=OS.unix=symlink; ln\r\n",
		},
		{
			name:  "symlink to dir is still a link",
			e:     MLSxEntry{Name: "ln", Info: dir, IsLink: true},
			facts: FactType,
			want:  "type=OS.unix=symlink; ln\r\n",
		},
		{
			name:  "special file is file",
			e:     MLSxEntry{Name: "fifo", Info: &fileInfo{mode: fs.ModeNamedPipe | 0o600, mtime: mtime}},
			facts: FactType | FactUnixMode,
			want:  "type=file;unix.mode=0600; fifo\r\n",
		},
		{
			name:  "all special bits",
			e:     MLSxEntry{Name: "x", Info: &fileInfo{mode: fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky, mtime: mtime}},
			facts: FactUnixMode,
			want:  "unix.mode=07000; x\r\n",
		},
		{
			name:  "no facts",
			e:     MLSxEntry{Name: "a", Info: file},
			facts: 0,
			want:  " a\r\n",
		},
		{
			name:  "empty perm and unique left out",
			e:     MLSxEntry{Name: "a", Info: file},
			facts: FactPerm | FactUnique | FactSize,
			want:  "size=1234; a\r\n",
		},
		{
			name:  "modify in location",
			e:     MLSxEntry{Name: "a", Info: file},
			facts: FactModify,
			loc:   time.FixedZone("X", -9*3600),
			want:  "modify=20240508230503; a\r\n",
		},
		{
			name:  "modify before 1900 left out",
			e:     MLSxEntry{Name: "a", Info: &fileInfo{mtime: time.Date(1899, 12, 31, 23, 59, 59, 0, time.UTC)}},
			facts: FactModify | FactSize,
			want:  "size=0; a\r\n",
		},
		{
			name:  "modify after 9999 left out",
			e:     MLSxEntry{Name: "a", Info: &fileInfo{mtime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
			facts: FactModify,
			want:  " a\r\n",
		},
		{
			name:  "modify year 1900 kept",
			e:     MLSxEntry{Name: "a", Info: &fileInfo{mtime: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}},
			facts: FactModify,
			want:  "modify=19000101000000; a\r\n",
		},
		{
			name:  "name with spaces, CR, LF and invalid UTF-8",
			e:     MLSxEntry{Name: " a b\r\n\xff", Info: file},
			facts: FactSize,
			want:  "size=1234;  a b??\xff\r\n",
		},
		{
			name:  "max ids",
			e:     MLSxEntry{Name: "a", Info: file, UID: 4294967295, GID: 0, HasOwner: true},
			facts: FactUnixUID | FactUnixGID,
			want:  "unix.gid=0;unix.uid=4294967295; a\r\n",
		},
		{
			name:  "no owner known: the facts left out",
			e:     MLSxEntry{Name: "a", Info: file},
			facts: FactUnixUID | FactUnixGID | FactSize,
			want:  "size=1234; a\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendMLSx([]byte("x"), &tt.e, tt.facts, tt.loc)
			if string(got) != "x"+tt.want {
				t.Fatalf("AppendMLSx =\n%q\nwant\n%q", got[1:], tt.want)
			}
		})
	}
}

func TestAppendTime(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"basic", time.Date(2024, 5, 9, 8, 5, 3, 0, time.UTC), "20240509080503"},
		{"end of year", time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC), "19991231235959"},
		{"zone kept", time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 3600)), "20240101000000"},
		{"year padded", time.Date(7, 1, 1, 0, 0, 0, 0, time.UTC), "00070101000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendTime(nil, tt.t)); got != tt.want {
				t.Fatalf("AppendTime(%v) = %q; want %q", tt.t, got, tt.want)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Time // zero means an error is wanted
	}{
		{"basic", "20240509080503", time.Date(2024, 5, 9, 8, 5, 3, 0, time.UTC)},
		{"leap day", "20240229000000", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"fraction ms", "20240509080503.123", time.Date(2024, 5, 9, 8, 5, 3, 123000000, time.UTC)},
		{"fraction one digit", "20240509080503.5", time.Date(2024, 5, 9, 8, 5, 3, 500000000, time.UTC)},
		{"fraction ns", "20240509080503.123456789", time.Date(2024, 5, 9, 8, 5, 3, 123456789, time.UTC)},
		{"fraction beyond ns truncated", "20240509080503.1234567891", time.Date(2024, 5, 9, 8, 5, 3, 123456789, time.UTC)},
		{"year zero", "00000101000000", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"max", "99991231235959", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"empty", "", time.Time{}},
		{"too short", "2024050908050", time.Time{}},
		{"too long", "202405090805030", time.Time{}},
		{"dot no digits", "20240509080503.", time.Time{}},
		{"bad fraction", "20240509080503.1a", time.Time{}},
		{"comma fraction", "20240509080503,1", time.Time{}},
		{"non digit", "2024050908050x", time.Time{}},
		{"sign", "+2024050908050", time.Time{}},
		{"space", " 20240509080503", time.Time{}},
		{"trailing space", "20240509080503 ", time.Time{}},
		{"month 0", "20240009080503", time.Time{}},
		{"month 13", "20241309080503", time.Time{}},
		{"day 0", "20240500080503", time.Time{}},
		{"feb 30", "20240230000000", time.Time{}},
		{"feb 29 non leap", "20230229000000", time.Time{}},
		{"hour 24", "20240509240000", time.Time{}},
		{"minute 60", "20240509086000", time.Time{}},
		{"leap second", "20161231235960", time.Time{}},
		{"zone suffix", "20240509080503Z", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTime(tt.in)
			if tt.want.IsZero() {
				if err == nil {
					t.Fatalf("ParseTime(%q) = %v; want error", tt.in, got)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Fatalf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPermFact(t *testing.T) {
	tests := []struct {
		name  string
		isDir bool
		perms string
		want  string
	}{
		{"dir all", true, "elradfmwMT", "cdeflmp"},
		{"file all", false, "elradfmwMT", "adfrw"},
		{"dir read only", true, "elr", "el"},
		{"file read only", false, "elr", "r"},
		{"dir append creates", true, "a", "c"},
		{"dir store creates", true, "w", "c"},
		{"dir delete purges", true, "d", "dp"},
		{"only M and T", true, "MT", ""},
		{"file only M and T", false, "MT", ""},
		{"empty", false, "", ""},
		{"order independent", false, "wrfda", "adfrw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PermFact(tt.isDir, tt.perms); got != tt.want {
				t.Fatalf("PermFact(%v, %q) = %q; want %q", tt.isDir, tt.perms, got, tt.want)
			}
		})
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"20240509080503", "20240509080503.123", "20240230000000", "00000101000000",
		"99991231235959.999999999999", "2024050908050x", "20240509080503.", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err != nil {
			return
		}
		if tm.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) not in UTC: %v", s, tm)
		}
		// The first 14 bytes must be exactly what AppendTime writes back.
		if got := string(AppendTime(nil, tm)); got != s[:14] {
			t.Fatalf("ParseTime(%q) = %v, formats back as %q", s, tm, got)
		}
		if len(s) > 14 && (s[14] != '.' || strings.Trim(s[15:], "0123456789") != "") {
			t.Fatalf("ParseTime(%q) accepted a bad suffix", s)
		}
	})
}

func FuzzAppendMLSx(f *testing.F) {
	f.Add("a.txt", "adfrw", "fe00g53ef", uint32(0o644), int64(12), int64(1715241903), uint32(1000), uint32(100), false, uint16(AllFacts))
	f.Add("a\r\nb", "el", "", uint32(fs.ModeDir|fs.ModeSetgid|0o2775), int64(-1), int64(-1<<40), uint32(0), uint32(0), true, uint16(0xffff))
	f.Add("\xff\r", "", "x\ny", uint32(0), int64(0), int64(253402300800), uint32(1), uint32(2), false, uint16(0))
	f.Fuzz(func(t *testing.T, name, perm, unique string, mode uint32, size, mtimeSec int64, uid, gid uint32, isLink bool, facts uint16) {
		// Perm and Unique are computed by the server itself and never hold
		// these bytes; only the name comes from outside.
		perm = strings.Map(factValueRune, perm)
		unique = strings.Map(factValueRune, unique)
		e := MLSxEntry{
			Name:     name,
			Info:     &fileInfo{size: size, mode: fs.FileMode(mode), mtime: time.Unix(mtimeSec, 0)},
			Perm:     perm,
			Unique:   unique,
			UID:      uid,
			GID:      gid,
			HasOwner: uid%2 == 0,
			IsLink:   isLink,
		}
		line := AppendMLSx(nil, &e, Facts(facts), time.UTC)
		assertOneLine(t, line)
		// The facts end at the first space: the name is what follows.
		sp := strings.IndexByte(string(line), ' ')
		if sp < 0 || sp > 0 && line[sp-1] != ';' {
			t.Fatalf("facts not terminated before the name: %q", line)
		}
	})
}

// factValueRune drops the bytes a fact value cannot hold (RFC 3659 §7.2).
func factValueRune(r rune) rune {
	if r == '\r' || r == '\n' || r == ' ' || r == ';' || r == '=' {
		return -1
	}
	return r
}

func FuzzParseFacts(f *testing.F) {
	for _, s := range []string{"type;size;Modify;", "", ";;", "UNIX.MODE;unix.uid", "foo;type;type;", " perm ; unique "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		set, s, err := ParseFacts(list)
		if err != nil {
			if set != 0 || s != "" {
				t.Fatalf("ParseFacts(%q) = %#x, %q with error %v", list, set, s, err)
			}
			return
		}
		if set&^AllFacts != 0 {
			t.Fatalf("ParseFacts(%q) set unknown bits %#x", list, set)
		}
		// The canonical string must parse to itself.
		set2, s2, err := ParseFacts(s)
		if err != nil || set2 != set || s2 != s {
			t.Fatalf("ParseFacts(%q) = %#x, %q; reparsed %#x, %q", list, set, s, set2, s2)
		}
		if s != strings.ToLower(s) || (s != "" && !strings.HasSuffix(s, ";")) {
			t.Fatalf("ParseFacts(%q) string %q not canonical", list, s)
		}
		if strings.Count(s, ";") != popcount(set) {
			t.Fatalf("ParseFacts(%q) = %#x, %q: names and bits disagree", list, set, s)
		}
	})
}

func popcount(f Facts) int {
	n := 0
	for ; f != 0; f &= f - 1 {
		n++
	}
	return n
}

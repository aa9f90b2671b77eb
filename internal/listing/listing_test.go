package listing

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// fileInfo is a settable fs.FileInfo.
type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.mtime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return nil }

var (
	now    = time.Date(2024, time.May, 9, 12, 0, 0, 0, time.UTC)
	recent = time.Date(2024, time.May, 9, 8, 5, 0, 0, time.UTC)
)

func TestAppendLs(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CEST", 2*3600)
	}
	tests := []struct {
		name string
		e    Entry
		now  time.Time
		loc  *time.Location
		want string
	}{
		{
			name: "regular file",
			e:    Entry{Name: "a.txt", Info: &fileInfo{size: 1234, mode: 0o644, mtime: recent}, Owner: "alice", Group: "staff", Nlink: 1},
			want: "-rw-r--r--   1 alice    staff        1234 May 09 08:05 a.txt\r\n",
		},
		{
			name: "directory nlink 0 shown as 1",
			e:    Entry{Name: "dir", Info: &fileInfo{size: 4096, mode: fs.ModeDir | 0o755, mtime: recent}, Owner: "0", Group: "0"},
			want: "drwxr-xr-x   1 0        0            4096 May 09 08:05 dir\r\n",
		},
		{
			name: "name from info",
			e:    Entry{Info: &fileInfo{name: "fromstat", mode: 0o600, mtime: recent}, Owner: "u", Group: "g", Nlink: 2},
			want: "-rw-------   2 u        g               0 May 09 08:05 fromstat\r\n",
		},
		{
			name: "symlink with target",
			e:    Entry{Name: "ln", Info: &fileInfo{size: 5, mode: fs.ModeSymlink | 0o777, mtime: recent}, LinkTarget: "a.txt", Owner: "u", Group: "g", Nlink: 1},
			want: "lrwxrwxrwx   1 u        g               5 May 09 08:05 ln -> a.txt\r\n",
		},
		{
			name: "symlink without target",
			e:    Entry{Name: "ln", Info: &fileInfo{mode: fs.ModeSymlink | 0o777, mtime: recent}, Owner: "u", Group: "g"},
			want: "lrwxrwxrwx   1 u        g               0 May 09 08:05 ln\r\n",
		},
		{
			name: "target ignored for non-link",
			e:    Entry{Name: "f", Info: &fileInfo{mode: 0o644, mtime: recent}, LinkTarget: "x", Owner: "u", Group: "g"},
			want: "-rw-r--r--   1 u        g               0 May 09 08:05 f\r\n",
		},
		{
			name: "pipe socket devices",
			e:    Entry{Name: "p", Info: &fileInfo{mode: fs.ModeNamedPipe | 0o640, mtime: recent}, Owner: "u", Group: "g"},
			want: "prw-r-----   1 u        g               0 May 09 08:05 p\r\n",
		},
		{
			name: "socket",
			e:    Entry{Name: "s", Info: &fileInfo{mode: fs.ModeSocket | 0o755, mtime: recent}, Owner: "u", Group: "g"},
			want: "srwxr-xr-x   1 u        g               0 May 09 08:05 s\r\n",
		},
		{
			name: "char device",
			e:    Entry{Name: "null", Info: &fileInfo{mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, mtime: recent}, Owner: "root", Group: "root"},
			want: "crw-rw-rw-   1 root     root            0 May 09 08:05 null\r\n",
		},
		{
			name: "block device",
			e:    Entry{Name: "sda", Info: &fileInfo{mode: fs.ModeDevice | 0o660, mtime: recent}, Owner: "root", Group: "disk"},
			want: "brw-rw----   1 root     disk            0 May 09 08:05 sda\r\n",
		},
		{
			name: "setuid setgid sticky with x",
			e:    Entry{Name: "x", Info: &fileInfo{mode: fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o777, mtime: recent}, Owner: "u", Group: "g"},
			want: "-rwsrwsrwt   1 u        g               0 May 09 08:05 x\r\n",
		},
		{
			name: "setuid setgid sticky without x",
			e:    Entry{Name: "x", Info: &fileInfo{mode: fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o666, mtime: recent}, Owner: "u", Group: "g"},
			want: "-rwSrwSrwT   1 u        g               0 May 09 08:05 x\r\n",
		},
		{
			name: "sticky dir",
			e:    Entry{Name: "tmp", Info: &fileInfo{mode: fs.ModeDir | fs.ModeSticky | 0o1777, mtime: recent}, Owner: "root", Group: "root", Nlink: 12},
			want: "drwxrwxrwt  12 root     root            0 May 09 08:05 tmp\r\n",
		},
		{
			name: "wide columns not truncated",
			e:    Entry{Name: "big", Info: &fileInfo{size: 123456789012, mode: 0o644, mtime: recent}, Owner: "averylongowner", Group: "averylonggroup", Nlink: 12345},
			want: "-rw-r--r-- 12345 averylongowner averylonggroup 123456789012 May 09 08:05 big\r\n",
		},
		{
			name: "old file shows year",
			e:    Entry{Name: "old", Info: &fileInfo{mode: 0o644, mtime: time.Date(2023, time.January, 2, 3, 4, 5, 0, time.UTC)}, Owner: "u", Group: "g"},
			want: "-rw-r--r--   1 u        g               0 Jan 02  2023 old\r\n",
		},
		{
			name: "exactly 180 days is recent",
			e:    Entry{Name: "edge", Info: &fileInfo{mode: 0o644, mtime: now.Add(-sixMonths)}, Owner: "u", Group: "g"},
			want: "-rw-r--r--   1 u        g               0 Nov 11 12:00 edge\r\n",
		},
		{
			name: "just over 180 days is old",
			e:    Entry{Name: "edge", Info: &fileInfo{mode: 0o644, mtime: now.Add(-sixMonths - time.Second)}, Owner: "u", Group: "g"},
			want: "-rw-r--r--   1 u        g               0 Nov 11  2023 edge\r\n",
		},
		{
			name: "future time shows clock",
			e:    Entry{Name: "future", Info: &fileInfo{mode: 0o644, mtime: time.Date(2030, time.December, 31, 23, 59, 0, 0, time.UTC)}, Owner: "u", Group: "g"},
			want: "-rw-r--r--   1 u        g               0 Dec 31 23:59 future\r\n",
		},
		{
			name: "converted to location",
			e:    Entry{Name: "f", Info: &fileInfo{mode: 0o644, mtime: time.Date(2024, time.May, 8, 23, 30, 0, 0, time.UTC)}, Owner: "u", Group: "g"},
			loc:  berlin,
			want: "-rw-r--r--   1 u        g               0 May 09 01:30 f\r\n",
		},
		{
			name: "ancient year padded",
			e:    Entry{Name: "f", Info: &fileInfo{mode: 0o644, mtime: time.Date(5, time.March, 1, 0, 0, 0, 0, time.UTC)}, Owner: "u", Group: "g"},
			want: "-rw-r--r--   1 u        g               0 Mar 01  0005 f\r\n",
		},
		{
			name: "CR LF in name target owner group",
			e:    Entry{Name: "a\r\nb\n", Info: &fileInfo{mode: fs.ModeSymlink | 0o777, mtime: recent}, LinkTarget: "\rt", Owner: "o\n", Group: "g\r"},
			want: "lrwxrwxrwx   1 o?       g?              0 May 09 08:05 a??b? -> ?t\r\n",
		},
		{
			name: "invalid UTF-8 and non-ASCII kept raw",
			e:    Entry{Name: "caf\xc3\xa9\xff", Info: &fileInfo{mode: 0o644, mtime: recent}, Owner: "jürgen", Group: "\xff"},
			want: "-rw-r--r--   1 jürgen   \xff               0 May 09 08:05 caf\xc3\xa9\xff\r\n",
		},
		{
			name: "negative size",
			e:    Entry{Name: "n", Info: &fileInfo{size: -1, mode: 0o644, mtime: recent}, Owner: "u", Group: "g"},
			want: "-rw-r--r--   1 u        g              -1 May 09 08:05 n\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.now
			if n.IsZero() {
				n = now
			}
			prefix := []byte("prev\r\n")
			got := AppendLs(prefix, &tt.e, n, tt.loc)
			if !bytes.HasPrefix(got, []byte("prev\r\n")) {
				t.Fatalf("AppendLs clobbered dst: %q", got)
			}
			if s := string(got[len("prev\r\n"):]); s != tt.want {
				t.Fatalf("AppendLs =\n%q\nwant\n%q", s, tt.want)
			}
		})
	}
}

// TestAppendLsMatchesFmt checks the promise of the doc comment: the
// columns are exactly those fmt would produce.
func TestAppendLsMatchesFmt(t *testing.T) {
	tests := []struct {
		owner, group string
		nlink        uint64
		size         int64
	}{
		{"a", "b", 1, 0},
		{"root", "wheel", 999, 99999999},
		{"12345678", "123456789", 1000, 123456789},
		{"ünïcödé", "日本語", 7, -42},
		{"\xff\xfe", "", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.owner, func(t *testing.T) {
			e := Entry{Name: "n", Info: &fileInfo{size: tt.size, mode: 0o640, mtime: recent}, Owner: tt.owner, Group: tt.group, Nlink: tt.nlink}
			nl := tt.nlink
			if nl == 0 {
				nl = 1
			}
			want := fmt.Sprintf("%s %3d %-8s %-8s %8d %s %s\r\n", "-rw-r-----", nl, tt.owner, tt.group, tt.size, "May 09 08:05", "n")
			if got := string(AppendLs(nil, &e, now, time.UTC)); got != want {
				t.Fatalf("AppendLs =\n%q\nfmt gives\n%q", got, want)
			}
		})
	}
}

func TestAppendNlst(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "file.txt", "file.txt\r\n"},
		{"empty", "", "\r\n"},
		{"spaces kept", " a b ", " a b \r\n"},
		{"CRLF replaced", "a\r\nb", "a??b\r\n"},
		{"lone LF", "\n", "?\r\n"},
		{"invalid UTF-8 raw", "\xff\xc3", "\xff\xc3\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendNlst([]byte("x"), tt.in)); got != "x"+tt.want {
				t.Fatalf("AppendNlst(%q) = %q; want %q", tt.in, got, "x"+tt.want)
			}
		})
	}
}

func TestNoAllocs(t *testing.T) {
	ls := Entry{Name: "name", Info: &fileInfo{size: 10, mode: fs.ModeSymlink | fs.ModeSetuid | 0o755, mtime: recent}, LinkTarget: "t\r", Owner: "owner", Group: "group", Nlink: 3}
	ml := MLSxEntry{Name: "name\n", Info: &fileInfo{size: 10, mode: fs.ModeDir | fs.ModeSticky | 0o755, mtime: recent}, Perm: "el", Unique: "fe00g1", UID: 1, GID: 2, HasOwner: true}
	berlin := time.FixedZone("X", 3600)
	buf := make([]byte, 0, 1024)
	tests := []struct {
		name string
		f    func()
	}{
		{"AppendLs", func() { buf = AppendLs(buf[:0], &ls, now, berlin) }},
		{"AppendNlst", func() { buf = AppendNlst(buf[:0], "a\nb") }},
		{"AppendMLSx", func() { buf = AppendMLSx(buf[:0], &ml, AllFacts, berlin) }},
		{"AppendTime", func() { buf = AppendTime(buf[:0], recent) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.f); n != 0 {
				t.Fatalf("%s allocates %v times per call", tt.name, n)
			}
		})
	}
}

// assertOneLine checks the property every formatter must keep whatever the
// name: exactly one CRLF, at the end, and no other CR or LF.
func assertOneLine(t *testing.T, line []byte) {
	t.Helper()
	if !bytes.HasSuffix(line, []byte("\r\n")) {
		t.Fatalf("line does not end with CRLF: %q", line)
	}
	body := line[:len(line)-2]
	if bytes.ContainsAny(body, "\r\n") {
		t.Fatalf("line has a CR or LF before its end: %q", line)
	}
}

func FuzzAppendLs(f *testing.F) {
	f.Add("file.txt", "target", "owner", "group", uint32(0o644), int64(12), int64(0), uint64(1))
	f.Add("a\r\nb", "\n", "o\r", "g\n", uint32(fs.ModeSymlink|0o777), int64(-1), int64(-1<<40), uint64(0))
	f.Add("\xff\xfe\r", "\r\r\n\n", "日本", "\xc3", uint32(fs.ModeDir|fs.ModeSticky|0o1777), int64(1<<62), int64(1<<45), uint64(1<<63))
	f.Add("", "", "", "", uint32(fs.ModeDevice|fs.ModeCharDevice), int64(0), int64(1<<61), uint64(99))
	f.Fuzz(func(t *testing.T, name, target, owner, group string, mode uint32, size, mtimeSec int64, nlink uint64) {
		e := Entry{
			Name:       name,
			Info:       &fileInfo{name: "fallback", size: size, mode: fs.FileMode(mode), mtime: time.Unix(mtimeSec, 0)},
			LinkTarget: target,
			Owner:      owner,
			Group:      group,
			Nlink:      nlink,
		}
		line := AppendLs(nil, &e, now, time.UTC)
		assertOneLine(t, line)
		if len(line) < 10 || !strings.ContainsRune("dlpscb-", rune(line[0])) {
			t.Fatalf("bad perms column: %q", line)
		}
		assertOneLine(t, AppendNlst(nil, name))
	})
}

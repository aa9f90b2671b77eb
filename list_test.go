package pier_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
)

// lsRE matches an "ls -l" line: mode, links, owner, group, size, date,
// name.
var lsRE = regexp.MustCompile(`^([-dlpscb])([-r][-w][-xsS][-r][-w][-xsS][-r][-w][-xtT]) +(\d+) (\S+) +(\S+) +(\d+) ` +
	`(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d\d) (\d\d:\d\d| \d{4}) (.+)$`)

type lsLine struct {
	typ, perms string
	size       int64
	date, name string
}

func parseLs(t *testing.T, line string) lsLine {
	t.Helper()
	m := lsRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not an ls -l line: %q", line)
	}
	size, _ := strconv.ParseInt(m[6], 10, 64)
	return lsLine{typ: m[1], perms: m[2], size: size, date: m[7] + " " + m[8] + " " + m[9], name: m[10]}
}

// listFixture makes a folder with a file, a folder, a symlink and more.
func listFixture(t *testing.T, srv *ftptest.Server) {
	t.Helper()
	writeFile(t, srv, "file.txt", []byte("12345"))
	writeFile(t, srv, ".hidden", []byte("h"))
	writeFile(t, srv, "dir/inner.txt", []byte("inner"))
	writeFile(t, srv, "dir/sub/deep", nil)
	if err := os.Chmod(filepath.Join(srv.Dir, "file.txt"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file.txt", filepath.Join(srv.Dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("dir", filepath.Join(srv.Dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere", filepath.Join(srv.Dir, "broken")); err != nil {
		t.Fatal(err)
	}
	mkdirs(t, srv, "empty")
}

func TestLIST(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	listFixture(t, srv)
	rootNames := []string{".hidden", "broken -> nowhere", "dir", "dirlink -> dir", "empty", "file.txt", "link -> file.txt"}
	tests := []struct {
		name string
		cmd  string
		cwd  string
		want []string // names, sorted
	}{
		{"root", "LIST", "", rootNames},
		{"root by path", "LIST /", "/dir", rootNames},
		{"-la", "LIST -la", "", rootNames},
		{"-a", "LIST -a", "", rootNames},
		{"-l", "LIST -l", "", rootNames},
		{"-la with a path", "LIST -la /dir", "", []string{"inner.txt", "sub"}},
		{"-l -a with a path", "LIST -l -a dir", "", []string{"inner.txt", "sub"}},
		{"relative path", "LIST sub", "/dir", []string{"deep"}},
		{"a file", "LIST file.txt", "", []string{"file.txt"}},
		{"a file in a folder", "LIST /dir/inner.txt", "", []string{"inner.txt"}},
		{"a symlink to a folder lists the folder", "LIST dirlink", "", []string{"inner.txt", "sub"}},
		{"a broken symlink", "LIST broken", "", []string{"broken -> nowhere"}},
		{"an empty folder", "LIST empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			if tt.cwd != "" {
				c.Expect(t, "CWD "+tt.cwd, 250)
			}
			var names []string
			for _, l := range crlfLines(t, c.Retrieve(t, tt.cmd)) {
				names = append(names, parseLs(t, l).name)
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.want) {
				t.Errorf("%s: names %q, want %q", tt.cmd, names, tt.want)
			}
		})
	}

	t.Run("columns", func(t *testing.T) {
		t.Parallel()
		c := loginAnon(t, srv)
		got := map[string]lsLine{}
		for _, l := range crlfLines(t, c.Retrieve(t, "LIST")) {
			e := parseLs(t, l)
			got[strings.SplitN(e.name, " -> ", 2)[0]] = e
		}
		want := map[string]lsLine{
			"file.txt": {typ: "-", perms: "rw-r-----", size: 5},
			"dir":      {typ: "d", perms: "rwxr-xr-x"},
			"link":     {typ: "l"},
			"broken":   {typ: "l"},
		}
		for name, w := range want {
			g, ok := got[name]
			if !ok {
				t.Errorf("%s not listed", name)
				continue
			}
			if g.typ != w.typ || (w.perms != "" && g.perms != w.perms) || (w.typ == "-" && g.size != w.size) {
				t.Errorf("%s: got %+v, want %+v", name, g, w)
			}
		}
	})

	errTests := []struct {
		cmd  string
		code int
	}{
		{"LIST nope", 550},
		{"LIST /dir/nope", 550},
		{"NLST nope", 550},
		{"MLSD nope", 550},
		{"MLSD file.txt", 501},
		{"MLSD broken", 550},
	}
	for _, tt := range errTests {
		t.Run(tt.cmd, func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			c.Expect(t, "EPSV", 229)
			c.Expect(t, tt.cmd, tt.code)
			c.Expect(t, "NOOP", 200)
		})
	}
}

func TestNLST(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	listFixture(t, srv)
	tests := []struct {
		cmd  string
		want []string
	}{
		{"NLST", []string{".hidden", "broken", "dir", "dirlink", "empty", "file.txt", "link"}},
		{"NLST dir", []string{"inner.txt", "sub"}},
		{"NLST /dir/sub", []string{"deep"}},
		{"NLST file.txt", []string{"file.txt"}},
		{"NLST empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			t.Parallel()
			names := crlfLines(t, login(t, srv).Retrieve(t, tt.cmd))
			slices.Sort(names)
			if !slices.Equal(names, tt.want) {
				t.Errorf("got %q, want %q", names, tt.want)
			}
		})
	}
}

// parseFacts splits an MLSD or MLST line into its facts and name.
func parseFacts(t *testing.T, line string) (map[string]string, string) {
	t.Helper()
	facts, name, ok := strings.Cut(line, " ")
	if !ok || !strings.HasSuffix(facts, ";") {
		t.Fatalf("bad MLSx line %q", line)
	}
	m := map[string]string{}
	for _, f := range strings.Split(strings.TrimSuffix(facts, ";"), ";") {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("bad fact %q in %q", f, line)
		}
		m[strings.ToLower(k)] = v
	}
	return m, name
}

func TestMLSD(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	listFixture(t, srv)
	mtime := time.Date(2022, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(srv.Dir, "file.txt"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	uid, gid := fmt.Sprint(os.Getuid()), fmt.Sprint(os.Getgid())

	c := login(t, srv)
	entries := map[string]map[string]string{}
	for _, l := range crlfLines(t, c.Retrieve(t, "MLSD")) {
		f, name := parseFacts(t, l)
		entries[name] = f
	}
	// A broken symlink has nothing to describe; everything else is there.
	want := []string{".hidden", "dir", "dirlink", "empty", "file.txt", "link"}
	for _, n := range want {
		if entries[n] == nil {
			t.Errorf("MLSD lacks %s: %v", n, entries)
		}
	}
	for n := range entries {
		if !slices.Contains(append(want, "broken"), n) {
			t.Errorf("MLSD lists unexpected %q", n)
		}
	}
	f := entries["file.txt"]
	for k, v := range map[string]string{
		"type": "file", "size": "5", "modify": "20220506070809", "unix.mode": "0640",
		"unix.uid": uid, "unix.gid": gid,
	} {
		if f[k] != v {
			t.Errorf("file.txt fact %s = %q, want %q (facts %v)", k, f[k], v, f)
		}
	}
	if f["unique"] == "" || f["perm"] == "" || !strings.Contains(f["perm"], "r") || !strings.Contains(f["perm"], "w") {
		t.Errorf("file.txt facts %v: want unique and perm with r and w", f)
	}
	if entries["dir"]["type"] != "dir" || entries["empty"]["type"] != "dir" {
		t.Errorf("dir facts %v, empty facts %v: want type=dir", entries["dir"], entries["empty"])
	}
	if d := entries["dir"]["perm"]; !strings.Contains(d, "e") || !strings.Contains(d, "l") {
		t.Errorf("dir perm %q, want e and l", d)
	}
	if entries["dir"]["unique"] == f["unique"] {
		t.Errorf("dir and file.txt share the unique fact %q", f["unique"])
	}
	for _, l := range []string{"link", "dirlink"} {
		if got := entries[l]["type"]; got != "OS.unix=symlink" {
			t.Errorf("%s type = %q, want OS.unix=symlink", l, got)
		}
	}

	t.Run("anonymous perm is read-only", func(t *testing.T) {
		t.Parallel()
		c := loginAnon(t, srv)
		for _, l := range crlfLines(t, c.Retrieve(t, "MLSD")) {
			f, name := parseFacts(t, l)
			if strings.ContainsAny(f["perm"], "acdfmpw") {
				t.Errorf("anonymous sees perm=%s on %s", f["perm"], name)
			}
		}
	})
	t.Run("a folder by path", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		var names []string
		for _, l := range crlfLines(t, c.Retrieve(t, "MLSD /dir")) {
			_, name := parseFacts(t, l)
			names = append(names, name)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"inner.txt", "sub"}) {
			t.Errorf("got %q", names)
		}
	})
}

func TestMLST(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	listFixture(t, srv)
	tests := []struct {
		name  string
		cwd   string
		arg   string
		path  string // the path in the reply
		facts map[string]string
	}{
		{"file", "", "file.txt", "/file.txt", map[string]string{"type": "file", "size": "5"}},
		{"relative in a folder", "/dir", "inner.txt", "/dir/inner.txt", map[string]string{"type": "file", "size": "5"}},
		{"folder", "", "/dir", "/dir", map[string]string{"type": "dir"}},
		{"no argument is the cwd", "/dir/sub", "", "/dir/sub", map[string]string{"type": "dir"}},
		{"root", "", "/", "/", map[string]string{"type": "dir"}},
		{"symlink", "", "link", "/link", map[string]string{"type": "OS.unix=symlink"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			if tt.cwd != "" {
				c.Expect(t, "CWD "+tt.cwd, 250)
			}
			text := c.Expect(t, strings.TrimSpace("MLST "+tt.arg), 250)
			lines := strings.Split(text, "\n")
			if len(lines) != 3 {
				t.Fatalf("MLST reply %q: want 3 lines", text)
			}
			// pyftpdlib's first and last lines.
			if want := "Listing \"" + tt.path + "\":"; lines[0] != want || lines[2] != "End MLST." {
				t.Errorf("MLST reply %q: want %q ... \"End MLST.\"", text, want)
			}
			if !strings.HasPrefix(lines[1], " ") {
				t.Fatalf("fact line %q does not start with a space", lines[1])
			}
			facts, path := parseFacts(t, lines[1][1:])
			if path != tt.path {
				t.Errorf("path %q, want %q", path, tt.path)
			}
			for k, v := range tt.facts {
				if facts[k] != v {
					t.Errorf("fact %s = %q, want %q", k, facts[k], v)
				}
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		login(t, srv).Expect(t, "MLST nope", 550)
	})
}

// TestListingOddNames: names that are not valid UTF-8, or that hold a
// newline, must not break a listing.
func TestListingOddNames(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	odd := []string{"bad\xff\xfename", "new\nline", "cr\rname", "a\r\n226 Transfer complete."}
	for _, n := range odd {
		writeFile(t, srv, "d/"+n, []byte(n))
	}
	writeFile(t, srv, "d/normal", []byte("n"))
	c := login(t, srv)

	for _, cmd := range []string{"LIST d", "NLST d", "MLSD d"} {
		t.Run(cmd, func(t *testing.T) {
			lines := crlfLines(t, c.Retrieve(t, cmd))
			if len(lines) != len(odd)+1 {
				t.Fatalf("%d lines, want %d: %q", len(lines), len(odd)+1, lines)
			}
			all := strings.Join(lines, "\n")
			for _, want := range []string{"bad\xff\xfename", "new?line", "cr?name", "normal"} {
				if !strings.Contains(all, want) {
					t.Errorf("listing lacks %q: %q", want, lines)
				}
			}
		})
	}
	t.Run("STAT", func(t *testing.T) {
		text := c.Expect(t, "STAT d", 213)
		if n := strings.Count(text, "\n"); n != len(odd)+2 {
			t.Errorf("STAT reply has %d lines, want %d: %q", n+1, len(odd)+3, text)
		}
		c.Expect(t, "NOOP", 200)
	})
	t.Run("MLST", func(t *testing.T) {
		text := c.Expect(t, "MLST d/bad\xff\xfename", 250)
		if !strings.Contains(text, "/d/bad\xff\xfename") {
			t.Errorf("MLST = %q", text)
		}
		c.Expect(t, "NOOP", 200)
	})
	t.Run("the raw name retrieves the file", func(t *testing.T) {
		if got := c.Retrieve(t, "RETR d/bad\xff\xfename"); string(got) != "bad\xff\xfename" {
			t.Errorf("got %q", got)
		}
	})
}

func TestListingLatin1(t *testing.T) {
	t.Parallel()
	srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) { s.Encoding = "latin1" }})
	writeFile(t, srv, "café", []byte("coffee"))
	c := login(t, srv)
	if got := string(c.Retrieve(t, "NLST")); got != "caf\xe9\r\n" {
		t.Errorf("NLST = %q, want the name in latin1", got)
	}
	if got := string(c.Retrieve(t, "RETR caf\xe9")); got != "coffee" {
		t.Errorf("RETR by the latin1 name: %q", got)
	}
}

func TestListingDates(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	now := time.Now()
	old := now.AddDate(-1, 0, 0)
	for name, mt := range map[string]time.Time{"old": old, "new": now} {
		p := writeFile(t, srv, name, nil)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	c := login(t, srv)
	got := map[string]string{}
	for _, l := range crlfLines(t, c.Retrieve(t, "LIST")) {
		e := parseLs(t, l)
		got[e.name] = e.date
	}
	wantOld := old.UTC().Format("Jan 02  2006")
	if got["old"] != wantOld {
		t.Errorf("a year-old file shows %q, want %q", got["old"], wantOld)
	}
	// Recent: the time of day instead of the year.
	if wantNew := now.UTC().Format("Jan 02 15:04"); got["new"] != wantNew {
		t.Errorf("a new file shows %q, want %q", got["new"], wantNew)
	}
}

func TestLargeListing(t *testing.T) {
	t.Parallel()
	const n = 5000
	srv := newServer(t, nil)
	for i := range n {
		if err := os.WriteFile(filepath.Join(srv.Dir, fmt.Sprintf("file-%05d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := login(t, srv)
	for _, cmd := range []string{"LIST", "NLST", "MLSD"} {
		t.Run(cmd, func(t *testing.T) {
			lines := crlfLines(t, c.Retrieve(t, cmd))
			if len(lines) != n {
				t.Fatalf("%d lines, want %d", len(lines), n)
			}
			seen := make(map[string]bool, n)
			for _, l := range lines {
				i := strings.LastIndex(l, "file-")
				if i < 0 {
					t.Fatalf("bad line %q", l)
				}
				seen[l[i:]] = true
			}
			if len(seen) != n {
				t.Errorf("%d distinct names, want %d", len(seen), n)
			}
		})
	}
	t.Run("STAT", func(t *testing.T) {
		text := c.Expect(t, "STAT /", 213)
		if got := strings.Count(text, "\n") - 1; got != n {
			t.Errorf("STAT listed %d entries, want %d", got, n)
		}
	})
}

// TestMLSxNoOwner: a file system with no owners (here fsys/mem) gets no
// unix.uid and unix.gid facts, rather than facts that claim root.
func TestMLSxNoOwner(t *testing.T) {
	t.Parallel()
	users, ln := memSetup(t, "f", []byte("abc"))
	srv := &pier.Server{Auth: users}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := ftptest.Dial(t, ln.Addr().String())
	c.Login(t, "u", "p")
	text := c.Expect(t, "MLST f", 250)
	if !strings.Contains(text, "size=3;") {
		t.Fatalf("MLST f = %q, want the size fact", text)
	}
	for _, fact := range []string{"unix.uid=", "unix.gid="} {
		if strings.Contains(text, fact) {
			t.Errorf("MLST f = %q: a %s fact for a file with no owner", text, fact)
		}
	}
}

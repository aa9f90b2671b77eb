package pier_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

// exists reports whether name exists under the served folder (without
// following a final symlink).
func exists(t *testing.T, srv *ftptest.Server, name string) bool {
	t.Helper()
	_, err := os.Lstat(filepath.Join(srv.Dir, filepath.FromSlash(name)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func isDir(t *testing.T, srv *ftptest.Server, name string) bool {
	t.Helper()
	fi, err := os.Stat(filepath.Join(srv.Dir, filepath.FromSlash(name)))
	return err == nil && fi.IsDir()
}

// fileCase is a test of commands that change the served folder: set up the
// folder, run the steps (as anonymous if anon), then check the folder.
type fileCase struct {
	name  string
	setup func(t *testing.T, srv *ftptest.Server)
	anon  bool
	steps []step
	check func(t *testing.T, srv *ftptest.Server)
}

func runFileCases(t *testing.T, tests []fileCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, nil)
			if tt.setup != nil {
				tt.setup(t, srv)
			}
			c := login(t, srv)
			if tt.anon {
				c = loginAnon(t, srv)
			}
			runSteps(t, c, tt.steps)
			if tt.check != nil {
				tt.check(t, srv)
			}
		})
	}
}

func TestMKD(t *testing.T) {
	t.Parallel()
	wantDir := func(names ...string) func(*testing.T, *ftptest.Server) {
		return func(t *testing.T, srv *ftptest.Server) {
			for _, n := range names {
				if !isDir(t, srv, n) {
					t.Errorf("%s is not a directory on disk", n)
				}
			}
		}
	}
	runFileCases(t, []fileCase{
		{name: "MKD", steps: []step{{"MKD new", 257, `"/new" directory created.`}}, check: wantDir("new")},
		{name: "XMKD", steps: []step{{"XMKD new", 257, `"/new" directory created.`}}, check: wantDir("new")},
		{name: "relative to the cwd",
			setup: func(t *testing.T, srv *ftptest.Server) { mkdirs(t, srv, "sub") },
			steps: []step{{"CWD sub", 250, ""}, {"MKD n", 257, `"/sub/n" directory created.`}},
			check: wantDir("sub/n")},
		{name: "absolute path", setup: func(t *testing.T, srv *ftptest.Server) { mkdirs(t, srv, "sub") },
			steps: []step{{"CWD sub", 250, ""}, {"MKD /top", 257, `"/top" directory created.`}},
			check: wantDir("top")},
		{name: "quote in the name is doubled",
			steps: []step{{`MKD a"b`, 257, `"/a""b" directory created.`}},
			check: wantDir(`a"b`)},
		{name: "name with spaces", steps: []step{{"MKD  two  spaces ", 257, `"/ two  spaces " directory created.`}},
			check: wantDir(" two  spaces ")},
		{name: "already exists", setup: func(t *testing.T, srv *ftptest.Server) { mkdirs(t, srv, "d") },
			steps: []step{{"MKD d", 550, ""}}},
		{name: "a file already has the name",
			setup: func(t *testing.T, srv *ftptest.Server) { writeFile(t, srv, "f", []byte("x")) },
			steps: []step{{"MKD f", 550, ""}},
			check: func(t *testing.T, srv *ftptest.Server) {
				if string(readFile(t, srv, "f")) != "x" {
					t.Error("file f changed")
				}
			}},
		{name: "parent missing", steps: []step{{"MKD a/b", 550, ""}},
			check: func(t *testing.T, srv *ftptest.Server) {
				if exists(t, srv, "a") {
					t.Error("a was created")
				}
			}},
		{name: "the root", steps: []step{{"MKD /", 550, ""}}},
		{name: "anonymous may not", anon: true, steps: []step{{"MKD new", 550, ""}, {"XMKD new", 550, ""}},
			check: func(t *testing.T, srv *ftptest.Server) {
				if exists(t, srv, "new") {
					t.Error("anonymous created a directory")
				}
			}},
	})
}

func TestRMD(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, srv *ftptest.Server) {
		mkdirs(t, srv, "empty", "full/sub", "cwd/inner")
		writeFile(t, srv, "f", []byte("x"))
	}
	gone := func(name string) func(*testing.T, *ftptest.Server) {
		return func(t *testing.T, srv *ftptest.Server) {
			if exists(t, srv, name) {
				t.Errorf("%s still exists", name)
			}
		}
	}
	kept := func(names ...string) func(*testing.T, *ftptest.Server) {
		return func(t *testing.T, srv *ftptest.Server) {
			for _, n := range names {
				if !exists(t, srv, n) {
					t.Errorf("%s was removed", n)
				}
			}
		}
	}
	runFileCases(t, []fileCase{
		{name: "RMD", setup: setup, steps: []step{{"RMD empty", 250, ""}}, check: gone("empty")},
		{name: "XRMD", setup: setup, steps: []step{{"XRMD /empty", 250, ""}}, check: gone("empty")},
		{name: "not empty", setup: setup, steps: []step{{"RMD full", 550, ""}}, check: kept("full/sub")},
		{name: "a file", setup: setup, steps: []step{{"RMD f", 550, ""}}, check: kept("f")},
		{name: "missing", setup: setup, steps: []step{{"RMD nope", 550, ""}}},
		{name: "the root", setup: setup, steps: []step{{"RMD /", 550, ""}, {"RMD ..", 550, ""}}, check: kept("empty")},
		{name: "the working directory moves up", setup: setup, steps: []step{
			{"CWD /cwd/inner", 250, ""},
			{"RMD /cwd/inner", 250, ""},
			{"PWD", 257, `"/cwd" is the current directory.`},
		}, check: gone("cwd/inner")},
		{name: "anonymous may not", setup: setup, anon: true,
			steps: []step{{"RMD empty", 550, ""}, {"XRMD empty", 550, ""}}, check: kept("empty")},
	})
}

func TestDELE(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, srv *ftptest.Server) {
		mkdirs(t, srv, "d")
		writeFile(t, srv, "f", []byte("x"))
		writeFile(t, srv, "d/g", []byte("y"))
		if err := os.Symlink("f", filepath.Join(srv.Dir, "link")); err != nil {
			t.Fatal(err)
		}
	}
	runFileCases(t, []fileCase{
		{name: "file", setup: setup, steps: []step{{"DELE f", 250, ""}, {"DELE f", 550, ""}},
			check: func(t *testing.T, srv *ftptest.Server) {
				if exists(t, srv, "f") {
					t.Error("f still exists")
				}
			}},
		{name: "relative to the cwd", setup: setup, steps: []step{{"CWD d", 250, ""}, {"DELE g", 250, ""}},
			check: func(t *testing.T, srv *ftptest.Server) {
				if exists(t, srv, "d/g") {
					t.Error("d/g still exists")
				}
			}},
		{name: "a directory", setup: setup, steps: []step{{"DELE d", 550, ""}},
			check: func(t *testing.T, srv *ftptest.Server) {
				if !isDir(t, srv, "d") {
					t.Error("d was removed")
				}
			}},
		{name: "missing", setup: setup, steps: []step{{"DELE nope", 550, ""}}},
		{name: "a symlink, not its target", setup: setup, steps: []step{{"DELE link", 250, ""}},
			check: func(t *testing.T, srv *ftptest.Server) {
				if exists(t, srv, "link") || !exists(t, srv, "f") {
					t.Error("want link removed and f kept")
				}
			}},
		{name: "anonymous may not", setup: setup, anon: true, steps: []step{{"DELE f", 550, ""}},
			check: func(t *testing.T, srv *ftptest.Server) {
				if !exists(t, srv, "f") {
					t.Error("anonymous removed f")
				}
			}},
	})
}

func TestRename(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, srv *ftptest.Server) {
		mkdirs(t, srv, "d", "e")
		writeFile(t, srv, "f", []byte("content"))
	}
	want := func(name, content string, absent ...string) func(*testing.T, *ftptest.Server) {
		return func(t *testing.T, srv *ftptest.Server) {
			if got := string(readFile(t, srv, name)); got != content {
				t.Errorf("%s = %q, want %q", name, got, content)
			}
			for _, a := range absent {
				if exists(t, srv, a) {
					t.Errorf("%s still exists", a)
				}
			}
		}
	}
	runFileCases(t, []fileCase{
		{name: "file", setup: setup,
			steps: []step{{"RNFR f", 350, ""}, {"RNTO g", 250, ""}},
			check: want("g", "content", "f")},
		{name: "into a directory", setup: setup,
			steps: []step{{"RNFR /f", 350, ""}, {"RNTO /d/f2", 250, ""}},
			check: want("d/f2", "content", "f")},
		{name: "relative to the cwd", setup: setup,
			steps: []step{{"CWD d", 250, ""}, {"RNFR ../f", 350, ""}, {"RNTO h", 250, ""}},
			check: want("d/h", "content", "f")},
		{name: "directory", setup: setup,
			steps: []step{{"RNFR e", 350, ""}, {"RNTO e2", 250, ""}},
			check: func(t *testing.T, srv *ftptest.Server) {
				if exists(t, srv, "e") || !isDir(t, srv, "e2") {
					t.Error("want e renamed to e2")
				}
			}},
		{name: "overwrites a file", setup: func(t *testing.T, srv *ftptest.Server) {
			setup(t, srv)
			writeFile(t, srv, "old", []byte("old"))
		},
			steps: []step{{"RNFR f", 350, ""}, {"RNTO old", 250, ""}},
			check: want("old", "content", "f")},
		{name: "pending RNFR survives other commands", setup: setup,
			steps: []step{{"RNFR f", 350, ""}, {"NOOP", 200, ""}, {"PWD", 257, ""}, {"RNTO g", 250, ""}},
			check: want("g", "content", "f")},
		{name: "RNTO without RNFR", setup: setup, steps: []step{{"RNTO g", 503, ""}}, check: want("f", "content", "g")},
		{name: "RNTO is consumed", setup: setup,
			steps: []step{{"RNFR f", 350, ""}, {"RNTO g", 250, ""}, {"RNTO h", 503, ""}},
			check: want("g", "content", "h")},
		{name: "RNFR of a missing file", setup: setup,
			steps: []step{{"RNFR nope", 550, ""}, {"RNTO g", 503, ""}}},
		{name: "RNFR of the root", setup: setup, steps: []step{{"RNFR /", 550, ""}, {"RNTO x", 503, ""}}},
		{name: "RNTO onto the root", setup: setup,
			steps: []step{{"RNFR f", 350, ""}, {"RNTO /", 553, ""}},
			check: want("f", "content")},
		{name: "RNTO into a missing directory", setup: setup,
			steps: []step{{"RNFR f", 350, ""}, {"RNTO nope/g", 550, ""}},
			check: want("f", "content")},
		{name: "anonymous may not", setup: setup, anon: true,
			steps: []step{{"RNFR f", 550, ""}, {"RNTO g", 550, ""}},
			check: want("f", "content", "g")},
	})

	// With f but not w, a user may rename but not replace a file: that
	// destroys its content, which is what w governs.
	t.Run("replacing needs w", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, nil)
		setup(t, srv)
		writeFile(t, srv, "old", []byte("old"))
		if err := srv.Users.AddUser("mover", auth.Account{Password: "pw", FS: srv.Root, Perm: "elrf"}); err != nil {
			t.Fatal(err)
		}
		c := srv.Dial(t)
		c.Login(t, "mover", "pw")
		runSteps(t, c, []step{
			{"RNFR f", 350, ""}, {"RNTO old", 550, "Not enough privileges: replacing an existing file needs the w permission."},
			{"RNFR f", 350, ""}, {"RNTO f", 250, ""}, // onto itself: nothing replaced
			{"RNFR f", 350, ""}, {"RNTO new", 250, ""},
		})
		want("old", "old")(t, srv)
		want("new", "content", "f")(t, srv)
	})
}

func TestSIZE(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	writeFile(t, srv, "f", pattern(12345))
	writeFile(t, srv, "empty", nil)
	writeFile(t, srv, "d/g", []byte("abc"))
	if err := os.Symlink("f", filepath.Join(srv.Dir, "link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"binary", []step{{"SIZE f", 213, "12345"}}},
		{"empty file", []step{{"SIZE empty", 213, "0"}}},
		{"relative to the cwd", []step{{"CWD d", 250, ""}, {"SIZE g", 213, "3"}, {"SIZE /f", 213, "12345"}}},
		{"symlink gives the target's size", []step{{"SIZE link", 213, "12345"}}},
		{"ASCII mode refuses", []step{{"TYPE A", 200, ""}, {"SIZE f", 550, ""}, {"TYPE I", 200, ""}, {"SIZE f", 213, "12345"}}},
		{"directory", []step{{"SIZE d", 550, "/d is not retrievable."}}},
		// pyftpdlib's words for a missing file too.
		{"missing", []step{{"SIZE nope", 550, "/nope is not retrievable."}, {"SIZE f/x", 550, "/f/x is not retrievable."}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runSteps(t, login(t, srv), tt.steps)
		})
	}
	t.Run("anonymous may", func(t *testing.T) {
		t.Parallel()
		runSteps(t, loginAnon(t, srv), []step{{"SIZE f", 213, "12345"}})
	})
}

func TestMDTM(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	p := writeFile(t, srv, "f", []byte("x"))
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	mkdirs(t, srv, "d")
	tests := []struct {
		name  string
		steps []step
	}{
		{"file", []step{{"MDTM f", 213, "20210304050607"}}},
		{"works in ASCII mode too", []step{{"TYPE A", 200, ""}, {"MDTM /f", 213, "20210304050607"}}},
		{"directory", []step{{"MDTM d", 550, "/d is not retrievable."}}},
		{"missing", []step{{"MDTM nope", 550, "/nope is not retrievable."}, {"MDTM d/nope", 550, "/d/nope is not retrievable."}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runSteps(t, login(t, srv), tt.steps)
		})
	}
	t.Run("anonymous may", func(t *testing.T) {
		t.Parallel()
		runSteps(t, loginAnon(t, srv), []step{{"MDTM f", 213, "20210304050607"}})
	})
}

func TestMFMT(t *testing.T) {
	t.Parallel()
	old := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	setup := func(t *testing.T, srv *ftptest.Server) {
		for _, n := range []string{"f", "my file.txt"} {
			p := writeFile(t, srv, n, []byte("x"))
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
		mkdirs(t, srv, "d")
	}
	mtimeIs := func(name string, want time.Time) func(*testing.T, *ftptest.Server) {
		return func(t *testing.T, srv *ftptest.Server) {
			fi, err := os.Stat(filepath.Join(srv.Dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if !fi.ModTime().Equal(want) {
				t.Errorf("mtime of %s = %v, want %v", name, fi.ModTime().UTC(), want)
			}
		}
	}
	set := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	runFileCases(t, []fileCase{
		{name: "sets the time", setup: setup,
			steps: []step{{"MFMT 20200102030405 f", 213, "Modify=20200102030405; /f."}, {"MDTM f", 213, "20200102030405"}},
			check: mtimeIs("f", set)},
		{name: "name with a space", setup: setup,
			steps: []step{{"MFMT 20200102030405 my file.txt", 213, "Modify=20200102030405; /my file.txt."}},
			check: mtimeIs("my file.txt", set)},
		{name: "fractional seconds", setup: setup,
			steps: []step{{"MFMT 20200102030405.5 f", 213, "Modify=20200102030405; /f."}},
			check: mtimeIs("f", set.Add(500*time.Millisecond))},
		{name: "malformed time", setup: setup,
			steps: []step{
				{"MFMT 2020 f", 501, ""},
				{"MFMT 20201302030405 f", 501, ""}, // month 13
				{"MFMT 2020010203040x f", 501, ""},
				{"MFMT f 20200102030405", 501, ""},
			},
			check: mtimeIs("f", old)},
		// Times the system call can't take (nanoseconds since 1970 in 64
		// bits) are refused, not stored wrapped round.
		{name: "out of range", setup: setup,
			steps: []step{
				{"MFMT 23000101000000 f", 501, ""},
				{"MFMT 99991231235959 f", 501, ""},
				{"MFMT 16000101000000 f", 501, ""},
				{"MFMT 00010101000000 f", 501, ""},
			},
			check: mtimeIs("f", old)},
		// (How far back a file system can store is its own matter: ext4
		// stops at 1901.)
		{name: "the newest that fits", setup: setup,
			steps: []step{{"MFMT 22620411000000 f", 213, "Modify=22620411000000; /f."}},
			check: mtimeIs("f", time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC))},
		{name: "no path", setup: setup, steps: []step{{"MFMT 20200102030405", 501, ""}, {"MFMT 20200102030405 ", 501, ""}}},
		{name: "missing file", setup: setup, steps: []step{{"MFMT 20200102030405 nope", 550, "/nope is not retrievable."}}},
		{name: "directory", setup: setup, steps: []step{{"MFMT 20200102030405 d", 550, "/d is not retrievable."}}},
		{name: "anonymous may not", setup: setup, anon: true,
			steps: []step{{"MFMT 20200102030405 f", 550, ""}},
			check: mtimeIs("f", old)},
	})
}

func TestSiteCHMOD(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, srv *ftptest.Server) {
		writeFile(t, srv, "f", []byte("x"))
		writeFile(t, srv, "d/g", []byte("x"))
		if err := os.Chmod(filepath.Join(srv.Dir, "f"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	modeIs := func(name string, want fs.FileMode) func(*testing.T, *ftptest.Server) {
		return func(t *testing.T, srv *ftptest.Server) {
			fi, err := os.Stat(filepath.Join(srv.Dir, name))
			if err != nil {
				t.Fatal(err)
			}
			mask := fs.ModeDir | fs.ModePerm | fs.ModeSticky | fs.ModeSetuid | fs.ModeSetgid
			if got := fi.Mode() & mask; got != want {
				t.Errorf("mode of %s = %v, want %v", name, got, want)
			}
		}
	}
	runFileCases(t, []fileCase{
		{name: "three digits", setup: setup, steps: []step{{"SITE CHMOD 640 f", 200, ""}}, check: modeIs("f", 0o640)},
		{name: "four digits", setup: setup, steps: []step{{"SITE CHMOD 0600 f", 200, ""}}, check: modeIs("f", 0o600)},
		{name: "lower case", setup: setup, steps: []step{{"site chmod 700 f", 200, ""}}, check: modeIs("f", 0o700)},
		{name: "relative to the cwd", setup: setup,
			steps: []step{{"CWD d", 250, ""}, {"SITE CHMOD 600 g", 200, ""}}, check: modeIs("d/g", 0o600)},
		{name: "directory", setup: setup, steps: []step{{"SITE CHMOD 700 d", 200, ""}}, check: modeIs("d", fs.ModeDir|0o700)},
		{name: "sticky bit", setup: setup, steps: []step{{"SITE CHMOD 1777 d", 200, ""}},
			check: modeIs("d", fs.ModeDir|fs.ModeSticky|0o777)},
		{name: "set-user-ID refused", setup: setup, steps: []step{{"SITE CHMOD 4755 f", 550, ""}, {"SITE CHMOD 2755 f", 550, ""}},
			check: modeIs("f", 0o644)},
		{name: "bad modes", setup: setup, steps: []step{
			{"SITE CHMOD 999 f", 501, ""},
			{"SITE CHMOD 778 f", 501, ""},
			{"SITE CHMOD foo f", 501, ""},
			{"SITE CHMOD 12 f", 501, ""},
			{"SITE CHMOD 12345 f", 501, ""},
			{"SITE CHMOD +755 f", 501, ""},
			{"SITE CHMOD -177 f", 501, ""},
		}, check: modeIs("f", 0o644)},
		{name: "no path", setup: setup, steps: []step{{"SITE CHMOD 644", 501, ""}, {"SITE CHMOD 644 ", 501, ""}}},
		{name: "missing file", setup: setup, steps: []step{{"SITE CHMOD 644 nope", 550, ""}}},
		{name: "anonymous may not", setup: setup, anon: true,
			steps: []step{{"SITE CHMOD 600 f", 550, ""}}, check: modeIs("f", 0o644)},
	})
}

package fstest

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pierftp/pier"
)

func testStat(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	ctx := t.Context()
	tests := []struct {
		name    string
		wantErr []error
		dir     bool
		size    int64
	}{
		{name: ".", dir: true},
		{name: "f", size: 5},
		{name: "d", dir: true},
		{name: "d/sub/h", size: 4},
		{name: "missing", wantErr: []error{fs.ErrNotExist}},
		{name: "d/missing/x", wantErr: []error{fs.ErrNotExist}},
		{name: "f/x", wantErr: []error{syscall.ENOTDIR}},
	}
	fsys := newFS(t)
	build(t, fsys, fixture)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, err := fsys.Stat(ctx, tt.name)
			if !checkErr(t, "Stat", err, tt.wantErr...) || err != nil {
				return
			}
			checkInfo(t, fi, tt.name, tt.dir, tt.size)
		})
	}
}

// testStatDir: StatDir (pier.DirStatFS) says what Stat does, errors
// included (a file's time may differ).
func testStatDir(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	fsys := newFS(t)
	d, ok := fsys.(pier.DirStatFS)
	if !ok {
		t.Skip("not a pier.DirStatFS")
	}
	ctx := t.Context()
	build(t, fsys, fixture)
	for _, name := range []string{".", "f", "d", "d/sub", "d/sub/h", "e", "missing", "d/missing/x", "f/x"} {
		t.Run(name, func(t *testing.T) {
			fi, err := d.StatDir(ctx, name)
			st, serr := fsys.Stat(ctx, name)
			if serr != nil {
				checkErr(t, "StatDir", err, fs.ErrNotExist, syscall.ENOTDIR)
				if errors.Is(serr, syscall.ENOTDIR) != errors.Is(err, syscall.ENOTDIR) {
					t.Errorf("StatDir: %v; Stat: %v", err, serr)
				}
				return
			}
			if checkErr(t, "StatDir", err) {
				checkInfo(t, fi, name, st.IsDir(), st.Size())
			}
		})
	}
}

// testStatUpload: StatUpload (pier.UploadStatFS) describes what is there
// as Stat does; a missing name is fs.ErrNotExist (or syscall.ENOTDIR),
// with folderOK never where its folder isn't one; after it, the upload's
// open writes the file.
func testStatUpload(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	fsys := newFS(t)
	u, ok := fsys.(pier.UploadStatFS)
	if !ok {
		t.Skip("not a pier.UploadStatFS")
	}
	ctx := t.Context()
	build(t, fsys, fixture)
	tests := []struct {
		name     string
		exists   bool
		dir      bool
		size     int64
		folderOK bool
	}{
		{name: "f", exists: true, size: 5},
		{name: "d", exists: true, dir: true},
		{name: "d/sub/h", exists: true, size: 4},
		{name: "missing", folderOK: true},
		{name: "d/sub/missing", folderOK: true},
		{name: "e/missing", folderOK: true},
		{name: "d/missing/x"},
		{name: "f/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, folderOK, err := u.StatUpload(ctx, tt.name)
			if !tt.exists {
				checkErr(t, "StatUpload", err, fs.ErrNotExist, syscall.ENOTDIR)
			} else if checkErr(t, "StatUpload", err) {
				checkInfo(t, fi, tt.name, tt.dir, tt.size)
			}
			// folderOK may be false anywhere (pier then looks the
			// folder up), but true only where the folder is one.
			if folderOK && !tt.folderOK {
				t.Errorf("folderOK = true, but %s's folder isn't one", tt.name)
			}
		})
	}
	// Looked up for an upload, then written (as STOR does).
	for _, name := range []string{"f", "d/sub/new"} {
		if _, _, err := u.StatUpload(ctx, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		writeFile(t, fsys, name, "new "+name)
		if got := mustRead(t, fsys, name); got != "new "+name {
			t.Errorf("%s holds %q after the upload", name, got)
		}
	}
}

func checkInfo(t *testing.T, fi fs.FileInfo, name string, dir bool, size int64) {
	t.Helper()
	if name != "." && fi.Name() != name[strings.LastIndexByte(name, '/')+1:] {
		t.Errorf("Name() = %q for %q", fi.Name(), name)
	}
	if fi.IsDir() != dir || fi.Mode().IsDir() != dir {
		t.Errorf("IsDir() = %v, Mode() = %v; want dir %v", fi.IsDir(), fi.Mode(), dir)
	}
	if !dir && !fi.Mode().IsRegular() {
		t.Errorf("Mode() = %v, want a regular file", fi.Mode())
	}
	if !dir && fi.Size() != size {
		t.Errorf("Size() = %d, want %d", fi.Size(), size)
	}
}

func testLstat(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	ctx := t.Context()
	fsys := newFS(t)
	l, ok := fsys.(pier.LstatFS)
	if !ok {
		t.Skip("not a pier.LstatFS")
	}
	build(t, fsys, fixture)
	tests := []struct {
		name    string
		wantErr []error
		dir     bool
		size    int64
	}{
		{name: "f", size: 5},
		{name: "d", dir: true},
		{name: "missing", wantErr: []error{fs.ErrNotExist}},
		{name: "f/x", wantErr: []error{syscall.ENOTDIR}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, err := l.Lstat(ctx, tt.name)
			if errors.Is(err, pier.ErrNotSupported) {
				t.Skip(err)
			}
			if !checkErr(t, "Lstat", err, tt.wantErr...) || err != nil {
				return
			}
			checkInfo(t, fi, tt.name, tt.dir, tt.size)
		})
	}
}

func testModTime(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	ctx := t.Context()
	// File systems may keep coarser times than time.Now: allow slack.
	const slack = 2 * time.Second
	fsys := newFS(t)
	before := time.Now()
	writeFile(t, fsys, "f", "x")
	if err := fsys.Mkdir(ctx, "d", 0o755); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	for _, name := range []string{"f", "d"} {
		fi, err := fsys.Stat(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if mt := fi.ModTime(); mt.Before(before.Add(-slack)) || mt.After(after.Add(slack)) {
			t.Errorf("%s: ModTime %v, want between %v and %v", name, mt, before, after)
		}
	}
}

func testMkdir(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	ctx := t.Context()
	tests := []struct {
		name    string
		wantErr []error
	}{
		{name: "new"},
		{name: "d/new"},
		{name: "d/sub/new"},
		{name: "d", wantErr: []error{fs.ErrExist}},
		{name: "f", wantErr: []error{fs.ErrExist}},
		{name: ".", wantErr: []error{fs.ErrExist}},
		{name: "nodir/new", wantErr: []error{fs.ErrNotExist}},
		{name: "f/new", wantErr: []error{syscall.ENOTDIR}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := newFS(t)
			build(t, fsys, fixture)
			err := fsys.Mkdir(ctx, tt.name, 0o755)
			checkErr(t, "Mkdir", err, tt.wantErr...)
			want := maps.Clone(fixture)
			if tt.wantErr == nil {
				want[tt.name+"/"] = ""
				fi, err := fsys.Stat(ctx, tt.name)
				if err != nil || !fi.IsDir() {
					t.Errorf("Stat after Mkdir: %v, %v", fi, err)
				}
				if entries, err := readDir(ctx, fsys, tt.name, 10); err != nil || len(entries) != 0 {
					t.Errorf("new directory lists %v, %v", entries, err)
				}
			}
			checkTree(t, fsys, want)
		})
	}
}

func testRemove(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	ctx := t.Context()
	tests := []struct {
		name    string
		wantErr []error
		gone    []string // entries of fixture that go
	}{
		{name: "f", gone: []string{"f"}},
		{name: "d/sub/h", gone: []string{"d/sub/h"}},
		{name: "e", gone: []string{"e/"}},
		// POSIX allows EEXIST as well as ENOTEMPTY for a non-empty
		// directory.
		{name: "d", wantErr: []error{syscall.ENOTEMPTY, fs.ErrExist}},
		{name: "d/sub", wantErr: []error{syscall.ENOTEMPTY, fs.ErrExist}},
		{name: "missing", wantErr: []error{fs.ErrNotExist}},
		{name: "f/x", wantErr: []error{syscall.ENOTDIR}},
		{name: ".", wantErr: []error{errAny}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := newFS(t)
			build(t, fsys, fixture)
			checkErr(t, "Remove", fsys.Remove(ctx, tt.name), tt.wantErr...)
			want := maps.Clone(fixture)
			for _, g := range tt.gone {
				delete(want, g)
			}
			checkTree(t, fsys, want)
			if tt.wantErr == nil {
				if _, err := fsys.Stat(ctx, tt.name); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Stat after Remove: %v", err)
				}
			}
		})
	}
}

func testRename(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	ctx := t.Context()
	if _, ok := newFS(t).(pier.RenameFS); !ok {
		t.Skip("not a pier.RenameFS")
	}
	tests := []struct {
		desc     string
		old, new string
		wantErr  []error
		want     tree // nil: unchanged
	}{
		{desc: "file", old: "f", new: "f2", want: tree{"f2": "hello", "d/": "", "d/g": "inner", "d/sub/": "", "d/sub/h": "deep", "e/": ""}},
		{desc: "file into dir", old: "f", new: "d/sub/f", want: tree{"d/": "", "d/g": "inner", "d/sub/": "", "d/sub/h": "deep", "d/sub/f": "hello", "e/": ""}},
		{desc: "file out of dir", old: "d/sub/h", new: "h", want: tree{"f": "hello", "h": "deep", "d/": "", "d/g": "inner", "d/sub/": "", "e/": ""}},
		{desc: "file overwrite", old: "d/g", new: "f", want: tree{"f": "inner", "d/": "", "d/sub/": "", "d/sub/h": "deep", "e/": ""}},
		{desc: "same name", old: "f", new: "f"},
		{desc: "dir", old: "d", new: "m", want: tree{"f": "hello", "m/": "", "m/g": "inner", "m/sub/": "", "m/sub/h": "deep", "e/": ""}},
		{desc: "dir into dir", old: "d", new: "e/d", want: tree{"f": "hello", "e/": "", "e/d/": "", "e/d/g": "inner", "e/d/sub/": "", "e/d/sub/h": "deep"}},
		// As os.Rename (and pier.RenameFS: "replacing newname if it is a
		// file"), no directory is ever replaced, even an empty one.
		{desc: "dir onto empty dir", old: "d", new: "e", wantErr: []error{fs.ErrExist}},
		{desc: "dir onto non-empty dir", old: "e", new: "d", wantErr: []error{fs.ErrExist}},
		{desc: "dir into itself", old: "d", new: "d/sub/d", wantErr: []error{syscall.EINVAL}},
		{desc: "dir into its child", old: "d", new: "d/x", wantErr: []error{syscall.EINVAL}},
		{desc: "file onto dir", old: "f", new: "e", wantErr: []error{fs.ErrExist}},
		{desc: "dir onto file", old: "d", new: "f", wantErr: []error{syscall.ENOTDIR}},
		{desc: "missing", old: "missing", new: "x", wantErr: []error{fs.ErrNotExist}},
		{desc: "missing parent", old: "f", new: "nodir/f", wantErr: []error{fs.ErrNotExist}},
		{desc: "parent is a file", old: "d/g", new: "f/g", wantErr: []error{syscall.ENOTDIR}},
		{desc: "root", old: ".", new: "x", wantErr: []error{errAny}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			fsys := newFS(t)
			build(t, fsys, fixture)
			err := fsys.(pier.RenameFS).Rename(ctx, tt.old, tt.new)
			if errors.Is(err, pier.ErrNotSupported) {
				t.Skip(err)
			}
			checkErr(t, "Rename", err, tt.wantErr...)
			want := tt.want
			if want == nil {
				want = fixture
			}
			checkTree(t, fsys, want)
		})
	}
}

func testChmod(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	ctx := t.Context()
	if _, ok := newFS(t).(pier.ChmodFS); !ok {
		t.Skip("not a pier.ChmodFS")
	}
	tests := []struct {
		name    string
		mode    fs.FileMode
		wantErr []error
	}{
		{name: "f", mode: 0o600},
		{name: "f", mode: 0o640},
		{name: "d", mode: 0o700},
		{name: "missing", mode: 0o600, wantErr: []error{fs.ErrNotExist}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %o", tt.name, tt.mode), func(t *testing.T) {
			fsys := newFS(t)
			build(t, fsys, fixture)
			err := fsys.(pier.ChmodFS).Chmod(ctx, tt.name, tt.mode)
			if errors.Is(err, pier.ErrNotSupported) {
				t.Skip(err)
			}
			if !checkErr(t, "Chmod", err, tt.wantErr...) || err != nil {
				return
			}
			fi, err := fsys.Stat(ctx, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.mode || fi.IsDir() != (tt.name == "d") {
				t.Errorf("mode %v after Chmod(%o)", fi.Mode(), tt.mode)
			}
		})
	}
}

func testChtimes(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	ctx := t.Context()
	if _, ok := newFS(t).(pier.ChtimesFS); !ok {
		t.Skip("not a pier.ChtimesFS")
	}
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	tests := []struct {
		name    string
		wantErr []error
	}{
		{name: "f"},
		{name: "d"},
		{name: "missing", wantErr: []error{fs.ErrNotExist}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := newFS(t)
			build(t, fsys, fixture)
			err := fsys.(pier.ChtimesFS).Chtimes(ctx, tt.name, mtime, mtime)
			if errors.Is(err, pier.ErrNotSupported) {
				t.Skip(err)
			}
			if !checkErr(t, "Chtimes", err, tt.wantErr...) || err != nil {
				return
			}
			fi, err := fsys.Stat(ctx, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.ModTime().Equal(mtime) {
				t.Errorf("ModTime %v after Chtimes(%v)", fi.ModTime(), mtime)
			}
		})
	}
}

// Package fstest is a conformance test suite for pier.FileSystem
// implementations: one test, TestFileSystem, that every back-end runs, so
// that they all behave like a local POSIX file system where pier relies on
// it, and ask no more than pier uses.
//
//	func TestConformance(t *testing.T) {
//		fstest.TestFileSystem(t, func(t *testing.T) pier.FileSystem { return mem.New() })
//	}
package fstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pierftp/pier"
)

// Option relaxes one check of TestFileSystem for a back-end that
// legitimately differs from a local file system. Each option names the
// behaviour it excuses; without options every check applies.
type Option int

const (
	// CommitOnClose is for back-ends that, like an object store, make a
	// written file visible only when it is closed: the suite then does
	// not require Stat and other readers to see data written before
	// Close, for new files, replaced ones (STOR) and appends (APPE)
	// alike. In exchange, a file that implements pier.Aborter must leave
	// the target as it was when its upload is aborted.
	CommitOnClose Option = iota + 1
)

type config struct {
	commitOnClose bool
}

// TestFileSystem runs the conformance suite against file systems made by
// newFS, which must return a new, empty file system each time it is
// called (the suite calls it once per case).
//
// It checks every pier.FileSystem method and its error cases (errors must
// match fs.ErrNotExist, fs.ErrExist, syscall.ENOTDIR, syscall.EISDIR or
// syscall.ENOTEMPTY with errors.Is, as the OS's do); OpenFile with the
// os.O_* flags pier uses (never os.O_RDWR): os.O_RDONLY for downloads,
// os.O_WRONLY|os.O_CREATE|os.O_TRUNC (STOR), os.O_WRONLY|os.O_CREATE|
// os.O_APPEND (APPE), os.O_WRONLY and os.O_WRONLY|os.O_CREATE (STOR and
// APPE after REST), os.O_WRONLY|os.O_CREATE|os.O_EXCL (STOU); Seek on
// files that implement io.Seeker; the outcome of transfers ended with
// Close, or with Abort where files implement pier.Aborter; OpenFileAt
// where the file system implements pier.OpenAtFS, OpenInfo where it
// implements pier.OpenInfoFS, StatUpload where it implements
// pier.UploadStatFS, and StatDir where it implements pier.DirStatFS;
// ReceiveFrom where uploads implement pier.Receiver; streaming of a 1,000
// entry directory, and pier.DirInfoReader where the DirReader implements
// it; concurrent use from 8 goroutines; that a file system whose
// pier.CommitOnCloseFS reports true is tested with CommitOnClose and
// opens uploads that implement pier.Aborter; and the optional LstatFS,
// RenameFS, ChmodFS and ChtimesFS where the file system implements them
// (a method returning pier.ErrNotSupported skips its test).
//
// Every call is made with the test's context; the suite never cancels it
// while it uses a file system.
func TestFileSystem(t *testing.T, newFS func(t *testing.T) pier.FileSystem, opts ...Option) {
	var c config
	for _, o := range opts {
		switch o {
		case CommitOnClose:
			c.commitOnClose = true
		default:
			t.Fatalf("fstest: unknown option %d", o)
		}
	}
	t.Run("Stat", func(t *testing.T) { testStat(t, newFS) })
	t.Run("StatUpload", func(t *testing.T) { testStatUpload(t, newFS) })
	t.Run("StatDir", func(t *testing.T) { testStatDir(t, newFS) })
	t.Run("Lstat", func(t *testing.T) { testLstat(t, newFS) })
	t.Run("OpenFile", func(t *testing.T) { testOpenFile(t, newFS) })
	t.Run("Append", func(t *testing.T) { testAppend(t, newFS, c) })
	t.Run("Seek", func(t *testing.T) { testSeek(t, newFS) })
	t.Run("WriteVisible", func(t *testing.T) { testWriteVisible(t, newFS, c) })
	t.Run("Transfers", func(t *testing.T) { testTransfers(t, newFS, c) })
	t.Run("CommitsOnClose", func(t *testing.T) { testCommitsOnClose(t, newFS, c) })
	t.Run("OpenFileAt", func(t *testing.T) { testOpenFileAt(t, newFS) })
	t.Run("OpenInfo", func(t *testing.T) { testOpenInfo(t, newFS) })
	t.Run("Receiver", func(t *testing.T) { testReceiver(t, newFS, c) })
	t.Run("ModTime", func(t *testing.T) { testModTime(t, newFS) })
	t.Run("Mkdir", func(t *testing.T) { testMkdir(t, newFS) })
	t.Run("Remove", func(t *testing.T) { testRemove(t, newFS) })
	t.Run("Rename", func(t *testing.T) { testRename(t, newFS) })
	t.Run("Chmod", func(t *testing.T) { testChmod(t, newFS) })
	t.Run("Chtimes", func(t *testing.T) { testChtimes(t, newFS) })
	t.Run("OpenDir", func(t *testing.T) { testOpenDir(t, newFS) })
	t.Run("OpenDirStreaming", func(t *testing.T) { testOpenDirStreaming(t, newFS) })
	t.Run("ReadDirInfo", func(t *testing.T) { testReadDirInfo(t, newFS) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newFS) })
}

// The flags pier opens files with.
const (
	rd   = os.O_RDONLY
	wr   = os.O_WRONLY
	cr   = os.O_CREATE
	ex   = os.O_EXCL
	tr   = os.O_TRUNC
	apnd = os.O_APPEND
)

// errAny, as a wanted error, accepts any non-nil error.
var errAny = errors.New("any error")

// checkErr reports whether err is acceptable: nil if want is empty, else
// an error matching one of want.
func checkErr(t *testing.T, what string, err error, want ...error) bool {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return false
		}
		return true
	}
	if err == nil {
		t.Errorf("%s: no error, want %v", what, want)
		return false
	}
	for _, w := range want {
		if w == errAny || errors.Is(err, w) {
			return true
		}
	}
	t.Errorf("%s: error %v, want one matching %v", what, err, want)
	return false
}

// tree describes file system content: a name ending in "/" is a directory,
// any other a file with that content.
type tree map[string]string

// build creates the tree, parents first.
func build(t *testing.T, fsys pier.FileSystem, tr tree) {
	t.Helper()
	names := make([]string, 0, len(tr))
	for name := range tr {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		mkdirAll(t, fsys, parent(strings.TrimSuffix(name, "/")))
		if strings.HasSuffix(name, "/") {
			mkdirAll(t, fsys, strings.TrimSuffix(name, "/"))
			continue
		}
		writeFile(t, fsys, name, tr[name])
	}
}

func parent(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return "."
}

func mkdirAll(t *testing.T, fsys pier.FileSystem, name string) {
	t.Helper()
	if name == "." {
		return
	}
	if fi, err := fsys.Stat(t.Context(), name); err == nil && fi.IsDir() {
		return
	}
	mkdirAll(t, fsys, parent(name))
	if err := fsys.Mkdir(t.Context(), name, 0o755); err != nil {
		t.Fatalf("Mkdir(%q): %v", name, err)
	}
}

// writeFile uploads a file as STOR does, and closes it.
func writeFile(t testing.TB, fsys pier.FileSystem, name, data string) {
	t.Helper()
	f, err := fsys.OpenFile(t.Context(), name, wr|cr|tr, 0o666)
	if err != nil {
		t.Fatalf("create %q: %v", name, err)
	}
	if _, err := io.WriteString(f, data); err != nil {
		f.Close()
		t.Fatalf("write %q: %v", name, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %q: %v", name, err)
	}
}

// readFile downloads a file whole, as RETR does.
func readFile(ctx context.Context, fsys pier.FileSystem, name string) (string, error) {
	f, err := fsys.OpenFile(ctx, name, rd, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	return string(b), err
}

func mustRead(t testing.TB, fsys pier.FileSystem, name string) string {
	t.Helper()
	s, err := readFile(t.Context(), fsys, name)
	if err != nil {
		t.Fatalf("read %q: %v", name, err)
	}
	return s
}

// readDir lists a directory whole, through OpenDir in batches of n.
func readDir(ctx context.Context, fsys pier.FileSystem, name string, n int) ([]fs.DirEntry, error) {
	d, err := fsys.OpenDir(ctx, name)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var all []fs.DirEntry
	for {
		batch, err := d.ReadDir(n)
		all = append(all, batch...)
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return all, err
		}
		if len(batch) == 0 {
			return all, fmt.Errorf("ReadDir(%d) returned no entries and no error", n)
		}
	}
}

// snapshot reads the whole file system back as a tree.
func snapshot(t *testing.T, fsys pier.FileSystem) tree {
	t.Helper()
	tr := tree{}
	var walk func(dir string)
	walk = func(dir string) {
		entries, err := readDir(t.Context(), fsys, dir, 16)
		if err != nil {
			t.Fatalf("list %q: %v", dir, err)
		}
		for _, e := range entries {
			name := e.Name()
			if dir != "." {
				name = dir + "/" + name
			}
			if e.IsDir() {
				tr[name+"/"] = ""
				walk(name)
				continue
			}
			tr[name] = mustRead(t, fsys, name)
		}
	}
	walk(".")
	return tr
}

// checkTree checks that the file system holds want, and nothing else.
func checkTree(t *testing.T, fsys pier.FileSystem, want tree) {
	t.Helper()
	got := snapshot(t, fsys)
	for name, data := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%q missing", name)
		} else if g != data {
			t.Errorf("%q holds %q, want %q", name, g, data)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected %q", name)
		}
	}
}

// Values of a file's content (in test tables) for a name that must not
// exist and one that must still be a directory.
const (
	noFile = "\x00no file"
	isDir  = "\x00directory"
)

// fixture is the tree most cases start from.
var fixture = tree{
	"f":       "hello",
	"d/":      "",
	"d/g":     "inner",
	"d/sub/":  "",
	"d/sub/h": "deep",
	"e/":      "",
}

// testCommitsOnClose: pier opens the uploads of a pier.CommitOnCloseFS
// before its 150 and relies on Abort to leave the old file as it was if
// no byte comes, so those files must be pier.Aborters (the Transfers
// cases, run with CommitOnClose, check what Abort leaves).
func testCommitsOnClose(t *testing.T, newFS func(*testing.T) pier.FileSystem, c config) {
	fsys := newFS(t)
	cc, ok := fsys.(pier.CommitOnCloseFS)
	if !ok || !cc.CommitsOnClose() {
		t.Skip("not a pier.CommitOnCloseFS that reports true")
	}
	if !c.commitOnClose {
		t.Error("CommitsOnClose reports true: run the suite with fstest.CommitOnClose")
	}
	build(t, fsys, tree{"f": "hello"})
	for _, flag := range []int{wr | cr | tr, wr | cr | apnd} {
		f, err := fsys.OpenFile(t.Context(), "f", flag, 0o644)
		if err != nil {
			t.Fatalf("OpenFile(%s): %v", flagName(flag), err)
		}
		a, ok := f.(pier.Aborter)
		if !ok {
			f.Close()
			t.Fatalf("OpenFile(%s) returned a %T, not a pier.Aborter", flagName(flag), f)
		}
		if err := a.Abort(errors.New("fstest: no byte came")); err != nil {
			t.Errorf("Abort: %v", err)
		}
		if got := contentOf(t, fsys, "f"); got != "hello" {
			t.Errorf("after OpenFile(%s) and Abort, f holds %q, want %q", flagName(flag), got, "hello")
		}
	}
}

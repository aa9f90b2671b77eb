// Package fstest is a conformance test suite for pier.FileSystem
// implementations: one test, TestFileSystem, that every back-end runs, so
// that they all behave like a local POSIX file system where pier relies on
// it.
//
//	func TestConformance(t *testing.T) {
//		fstest.TestFileSystem(t, func(t *testing.T) pier.FileSystem { return mem.New() })
//	}
package fstest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pierftp/pier"
)

// Option relaxes one check of TestFileSystem for a back-end that
// legitimately differs from a local file system. Each option names the
// behaviour it excuses; without options every check applies.
type Option int

const (
	// CommitOnClose is for back-ends that, like an object store, make a
	// written file visible only when it is closed: the suite then does
	// not require Stat and other readers to see data before Close.
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
// syscall.ENOTEMPTY with errors.Is, as the OS's do), the os.O_* flags of
// OpenFile, Seek on files that implement io.Seeker, streaming of a 1,000
// entry directory, concurrent use from 8 goroutines, and the optional
// LstatFS, RenameFS, ChmodFS and ChtimesFS where the file system implements
// them (a method returning pier.ErrNotSupported skips its test).
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
	t.Run("Lstat", func(t *testing.T) { testLstat(t, newFS) })
	t.Run("OpenFile", func(t *testing.T) { testOpenFile(t, newFS) })
	t.Run("Append", func(t *testing.T) { testAppend(t, newFS) })
	t.Run("Seek", func(t *testing.T) { testSeek(t, newFS) })
	t.Run("ReadAt", func(t *testing.T) { testReadAt(t, newFS) })
	t.Run("WriteVisible", func(t *testing.T) { testWriteVisible(t, newFS, c) })
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
	if fi, err := fsys.Stat(name); err == nil && fi.IsDir() {
		return
	}
	mkdirAll(t, fsys, parent(name))
	if err := fsys.Mkdir(name, 0o755); err != nil {
		t.Fatalf("Mkdir(%q): %v", name, err)
	}
}

func writeFile(t testing.TB, fsys pier.FileSystem, name, data string) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
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

func readFile(fsys pier.FileSystem, name string) (string, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	return string(b), err
}

func mustRead(t testing.TB, fsys pier.FileSystem, name string) string {
	t.Helper()
	s, err := readFile(fsys, name)
	if err != nil {
		t.Fatalf("read %q: %v", name, err)
	}
	return s
}

// readDir lists a directory whole, through OpenDir in batches of n.
func readDir(fsys pier.FileSystem, name string, n int) ([]fs.DirEntry, error) {
	d, err := fsys.OpenDir(name)
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
		entries, err := readDir(fsys, dir, 16)
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

// Values of want in testOpenFile for a name that must not exist and one
// that must still be a directory.
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

func testStat(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
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
			fi, err := fsys.Stat(tt.name)
			if !checkErr(t, "Stat", err, tt.wantErr...) || err != nil {
				return
			}
			checkInfo(t, fi, tt.name, tt.dir, tt.size)
		})
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
			fi, err := l.Lstat(tt.name)
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

func testOpenFile(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	const (
		rd   = os.O_RDONLY
		wr   = os.O_WRONLY
		rw   = os.O_RDWR
		cr   = os.O_CREATE
		ex   = os.O_EXCL
		tr   = os.O_TRUNC
		apnd = os.O_APPEND
	)
	tests := []struct {
		desc    string
		name    string
		flag    int
		wantErr []error
		// After a successful open:
		read     string // read this much and want it (if readFail is false)
		readFail bool   // Read must fail (not io.EOF)
		write    string
		// writeFail: Write must fail.
		writeFail bool
		want      string // content of name afterwards, or isDir, or noFile
	}{
		{desc: "read", name: "f", flag: rd, read: "hello", writeFail: true, want: "hello"},
		{desc: "create", name: "new", flag: wr | cr | tr, write: "abc", readFail: true, want: "abc"},
		{desc: "create in subdir", name: "d/new", flag: wr | cr | tr, write: "abc", want: "abc"},
		{desc: "truncate", name: "f", flag: wr | cr | tr, write: "xy", want: "xy"},
		{desc: "truncate to empty", name: "f", flag: wr | tr, want: ""},
		{desc: "overwrite start", name: "f", flag: wr, write: "J", want: "Jello"},
		{desc: "append", name: "f", flag: wr | cr | apnd, write: " world", want: "hello world"},
		{desc: "append creates", name: "new", flag: wr | cr | apnd, write: "x", want: "x"},
		{desc: "read write", name: "f", flag: rw, read: "hello", write: "!", want: "hello!"},
		{desc: "excl new", name: "new", flag: wr | cr | ex, write: "u", want: "u"},
		{desc: "excl existing", name: "f", flag: wr | cr | ex, wantErr: []error{fs.ErrExist}, want: "hello"},
		{desc: "excl existing dir", name: "d", flag: wr | cr | ex, wantErr: []error{fs.ErrExist}, want: isDir},
		{desc: "missing", name: "missing", flag: rd, wantErr: []error{fs.ErrNotExist}, want: noFile},
		{desc: "missing for write", name: "missing", flag: wr, wantErr: []error{fs.ErrNotExist}, want: noFile},
		{desc: "missing parent", name: "nodir/new", flag: wr | cr | tr, wantErr: []error{fs.ErrNotExist}, want: noFile},
		{desc: "parent is a file", name: "f/new", flag: wr | cr | tr, wantErr: []error{syscall.ENOTDIR}, want: noFile},
		{desc: "dir for writing", name: "d", flag: wr, wantErr: []error{syscall.EISDIR}, want: isDir},
		{desc: "dir for create", name: "d", flag: wr | cr | tr, wantErr: []error{syscall.EISDIR}, want: isDir},
		{desc: "dir read write", name: "d", flag: rw, wantErr: []error{syscall.EISDIR}, want: isDir},
		{desc: "dir for reading", name: "d", flag: rd, wantErr: []error{syscall.EISDIR}, want: isDir},
		{desc: "root for reading", name: ".", flag: rd, wantErr: []error{syscall.EISDIR}, want: isDir},
		{desc: "root for writing", name: ".", flag: wr, wantErr: []error{syscall.EISDIR}, want: isDir},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			fsys := newFS(t)
			build(t, fsys, fixture)
			f, err := fsys.OpenFile(tt.name, tt.flag, 0o666)
			if checkErr(t, "OpenFile", err, tt.wantErr...) && err == nil {
				switch {
				case tt.readFail:
					n, err := f.Read(make([]byte, 8))
					if err == nil || err == io.EOF {
						t.Errorf("Read = %d, %v; want an error", n, err)
					}
				case tt.read != "":
					buf := make([]byte, len(tt.read))
					if _, err := io.ReadFull(f, buf); err != nil || string(buf) != tt.read {
						t.Errorf("read %q, %v; want %q", buf, err, tt.read)
					}
				}
				switch {
				case tt.writeFail:
					if n, err := f.Write([]byte("zz")); err == nil {
						t.Errorf("Write = %d, nil; want an error", n)
					}
				case tt.write != "":
					if n, err := io.WriteString(f, tt.write); err != nil || n != len(tt.write) {
						t.Errorf("Write = %d, %v", n, err)
					}
				}
				if err := f.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			} else if err == nil {
				f.Close()
			}
			switch tt.want {
			case noFile:
				if _, err := fsys.Stat(tt.name); !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
					t.Errorf("failed open left %q behind: Stat: %v", tt.name, err)
				}
			case isDir:
				if fi, err := fsys.Stat(tt.name); err != nil || !fi.IsDir() {
					t.Errorf("%q is no longer a directory: %v, %v", tt.name, fi, err)
				}
			default:
				if got := mustRead(t, fsys, tt.name); got != tt.want {
					t.Errorf("%q holds %q, want %q", tt.name, got, tt.want)
				}
			}
		})
	}
}

func testAppend(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	fsys := newFS(t)
	writeFile(t, fsys, "f", "abc")
	f, err := fsys.OpenFile("f", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	io.WriteString(f, "d")
	if sk, ok := f.(io.Seeker); ok {
		if _, err := sk.Seek(0, io.SeekStart); err != nil {
			t.Fatalf("Seek: %v", err)
		}
	}
	// Another writer extends the file meanwhile: O_APPEND still writes at
	// the very end.
	writeAppend(t, fsys, "f", "e")
	io.WriteString(f, "f")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, fsys, "f"); got != "abcdef" {
		t.Errorf("got %q, want %q", got, "abcdef")
	}
}

func writeAppend(t *testing.T, fsys pier.FileSystem, name, data string) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, data)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func testSeek(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	const content = "0123456789"
	tests := []struct {
		desc    string
		flag    int
		offset  int64
		whence  int
		wantPos int64
		wantErr bool
		read    string // after the seek, read up to len(read) bytes and want these ("" = io.EOF)
		write   string // or write this
		want    string // content afterwards
	}{
		{desc: "start", flag: os.O_RDONLY, offset: 3, whence: io.SeekStart, wantPos: 3, read: "345"},
		{desc: "current", flag: os.O_RDONLY, offset: 4, whence: io.SeekCurrent, wantPos: 4, read: "45"},
		{desc: "end", flag: os.O_RDONLY, offset: -2, whence: io.SeekEnd, wantPos: 8, read: "89"},
		{desc: "at end", flag: os.O_RDONLY, offset: 0, whence: io.SeekEnd, wantPos: 10, read: ""},
		{desc: "past end", flag: os.O_RDONLY, offset: 20, whence: io.SeekStart, wantPos: 20, read: ""},
		{desc: "negative", flag: os.O_RDONLY, offset: -1, whence: io.SeekStart, wantErr: true},
		{desc: "negative from end", flag: os.O_RDONLY, offset: -11, whence: io.SeekEnd, wantErr: true},
		{desc: "resume upload", flag: os.O_WRONLY, offset: 3, whence: io.SeekStart, wantPos: 3, write: "ab", want: "012ab56789"},
		{desc: "extend", flag: os.O_WRONLY, offset: 8, whence: io.SeekStart, wantPos: 8, write: "abcd", want: "01234567abcd"},
		{desc: "gap", flag: os.O_RDWR, offset: 12, whence: io.SeekStart, wantPos: 12, write: "x", want: content + "\x00\x00x"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			fsys := newFS(t)
			writeFile(t, fsys, "f", content)
			f, err := fsys.OpenFile("f", tt.flag, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sk, ok := f.(io.Seeker)
			if !ok {
				t.Skip("files do not implement io.Seeker")
			}
			pos, err := sk.Seek(tt.offset, tt.whence)
			if tt.wantErr {
				if err == nil {
					t.Errorf("Seek = %d, nil; want an error", pos)
				}
				return
			}
			if err != nil || pos != tt.wantPos {
				t.Fatalf("Seek = %d, %v; want %d", pos, err, tt.wantPos)
			}
			if tt.write != "" {
				if _, err := io.WriteString(f, tt.write); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				if got := mustRead(t, fsys, "f"); got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
				return
			}
			buf := make([]byte, max(len(tt.read), 1))
			n, err := io.ReadFull(f, buf)
			if tt.read == "" {
				if n != 0 || err != io.EOF {
					t.Errorf("Read = %d, %v; want 0, io.EOF", n, err)
				}
			} else if err != nil || string(buf[:n]) != tt.read {
				t.Errorf("read %q, %v; want %q", buf[:n], err, tt.read)
			}
		})
	}
}

func testReadAt(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	fsys := newFS(t)
	writeFile(t, fsys, "f", "0123456789")
	f, err := fsys.OpenFile("f", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ra, ok := f.(io.ReaderAt)
	if !ok {
		t.Skip("files do not implement io.ReaderAt")
	}
	tests := []struct {
		off  int64
		size int
		want string
		eof  bool
	}{
		{off: 0, size: 3, want: "012"},
		{off: 7, size: 3, want: "789"},
		{off: 8, size: 4, want: "89", eof: true},
		{off: 10, size: 1, want: "", eof: true},
		{off: 15, size: 1, want: "", eof: true},
	}
	for _, tt := range tests {
		buf := make([]byte, tt.size)
		n, err := ra.ReadAt(buf, tt.off)
		if string(buf[:n]) != tt.want || (err == io.EOF) != tt.eof || (err != nil && err != io.EOF) {
			t.Errorf("ReadAt(%d bytes, %d) = %q, %v; want %q (EOF %v)", tt.size, tt.off, buf[:n], err, tt.want, tt.eof)
		}
	}
	// ReadAt does not move the offset.
	if got, _ := io.ReadAll(f); string(got) != "0123456789" {
		t.Errorf("Read after ReadAt: %q", got)
	}
}

func testWriteVisible(t *testing.T, newFS func(*testing.T) pier.FileSystem, c config) {
	if c.commitOnClose {
		t.Skip("CommitOnClose: writes are visible at Close")
	}
	fsys := newFS(t)
	f, err := fsys.OpenFile("f", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	io.WriteString(f, "abc")
	if fi, err := fsys.Stat("f"); err != nil || fi.Size() != 3 {
		t.Errorf("Stat before Close: %v, %v; want size 3", fi, err)
	}
	if got, err := readFile(fsys, "f"); got != "abc" || err != nil {
		t.Errorf("read before Close: %q, %v", got, err)
	}
}

func testModTime(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	// File systems may keep coarser times than time.Now: allow slack.
	const slack = 2 * time.Second
	fsys := newFS(t)
	before := time.Now()
	writeFile(t, fsys, "f", "x")
	if err := fsys.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	for _, name := range []string{"f", "d"} {
		fi, err := fsys.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if mt := fi.ModTime(); mt.Before(before.Add(-slack)) || mt.After(after.Add(slack)) {
			t.Errorf("%s: ModTime %v, want between %v and %v", name, mt, before, after)
		}
	}
}

func testMkdir(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
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
			err := fsys.Mkdir(tt.name, 0o755)
			checkErr(t, "Mkdir", err, tt.wantErr...)
			want := maps.Clone(fixture)
			if tt.wantErr == nil {
				want[tt.name+"/"] = ""
				fi, err := fsys.Stat(tt.name)
				if err != nil || !fi.IsDir() {
					t.Errorf("Stat after Mkdir: %v, %v", fi, err)
				}
				if entries, err := readDir(fsys, tt.name, 10); err != nil || len(entries) != 0 {
					t.Errorf("new directory lists %v, %v", entries, err)
				}
			}
			checkTree(t, fsys, want)
		})
	}
}

func testRemove(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
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
			checkErr(t, "Remove", fsys.Remove(tt.name), tt.wantErr...)
			want := maps.Clone(fixture)
			for _, g := range tt.gone {
				delete(want, g)
			}
			checkTree(t, fsys, want)
			if tt.wantErr == nil {
				if _, err := fsys.Stat(tt.name); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Stat after Remove: %v", err)
				}
			}
		})
	}
}

func testRename(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
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
			err := fsys.(pier.RenameFS).Rename(tt.old, tt.new)
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
			err := fsys.(pier.ChmodFS).Chmod(tt.name, tt.mode)
			if errors.Is(err, pier.ErrNotSupported) {
				t.Skip(err)
			}
			if !checkErr(t, "Chmod", err, tt.wantErr...) || err != nil {
				return
			}
			fi, err := fsys.Stat(tt.name)
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
			err := fsys.(pier.ChtimesFS).Chtimes(tt.name, mtime, mtime)
			if errors.Is(err, pier.ErrNotSupported) {
				t.Skip(err)
			}
			if !checkErr(t, "Chtimes", err, tt.wantErr...) || err != nil {
				return
			}
			fi, err := fsys.Stat(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.ModTime().Equal(mtime) {
				t.Errorf("ModTime %v after Chtimes(%v)", fi.ModTime(), mtime)
			}
		})
	}
}

func testOpenDir(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	tests := []struct {
		name    string
		wantErr []error
		want    []string // names, with "/" after directories
	}{
		{name: ".", want: []string{"d/", "e/", "f"}},
		{name: "d", want: []string{"g", "sub/"}},
		{name: "e"},
		{name: "missing", wantErr: []error{fs.ErrNotExist}},
		{name: "f", wantErr: []error{syscall.ENOTDIR}},
		{name: "f/x", wantErr: []error{syscall.ENOTDIR}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := newFS(t)
			build(t, fsys, fixture)
			d, err := fsys.OpenDir(tt.name)
			if !checkErr(t, "OpenDir", err, tt.wantErr...) || err != nil {
				return
			}
			defer d.Close()
			var got []string
			for {
				entries, err := d.ReadDir(1)
				if err == io.EOF {
					if len(entries) != 0 {
						t.Errorf("ReadDir returned entries with io.EOF")
					}
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(entries) != 1 {
					t.Fatalf("ReadDir(1) returned %d entries", len(entries))
				}
				e := entries[0]
				name := e.Name()
				if e.IsDir() {
					name += "/"
				}
				got = append(got, name)
				fi, err := e.Info()
				if err != nil {
					t.Errorf("%s: Info: %v", name, err)
				} else if fi.Name() != e.Name() || fi.IsDir() != e.IsDir() || e.Type() != fi.Mode().Type() {
					t.Errorf("%s: Info() = %v %v disagrees with the entry", name, fi.Name(), fi.Mode())
				} else if !e.IsDir() {
					want := fixture[strings.TrimPrefix(tt.name+"/"+e.Name(), "./")]
					if fi.Size() != int64(len(want)) {
						t.Errorf("%s: Size() = %d, want %d", name, fi.Size(), len(want))
					}
				}
			}
			if _, err := d.ReadDir(1); err != io.EOF {
				t.Errorf("ReadDir after the end: %v, want io.EOF", err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("entries %q, want %q", got, tt.want)
			}
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func testOpenDirStreaming(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	const total, batch = 1000, 100
	fsys := newFS(t)
	if err := fsys.Mkdir("big", 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range total {
		writeFile(t, fsys, fmt.Sprintf("big/f%04d", i), "")
	}
	d, err := fsys.OpenDir("big")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	seen := make(map[string]int, total)
	calls := 0
	for {
		entries, err := d.ReadDir(batch)
		calls++
		if err == io.EOF {
			if len(entries) != 0 {
				t.Errorf("ReadDir returned %d entries with io.EOF", len(entries))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 || len(entries) > batch {
			t.Fatalf("ReadDir(%d) returned %d entries", batch, len(entries))
		}
		for _, e := range entries {
			seen[e.Name()]++
		}
		if calls > total {
			t.Fatal("ReadDir never returns io.EOF")
		}
	}
	if calls < total/batch+1 {
		t.Errorf("%d ReadDir calls for %d entries in batches of %d", calls, total, batch)
	}
	for i := range total {
		name := fmt.Sprintf("f%04d", i)
		if seen[name] != 1 {
			t.Errorf("%s seen %d times", name, seen[name])
		}
		delete(seen, name)
	}
	for name := range seen {
		t.Errorf("unexpected entry %q", name)
	}
	if _, err := d.ReadDir(batch); err != io.EOF {
		t.Errorf("ReadDir after the end: %v, want io.EOF", err)
	}
}

// testReadDirInfo checks the optional pier.DirInfoReader against ReadDir and
// Info of the same folder: same entries, same facts, early stop on fn's
// error.
func testReadDirInfo(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	fsys := newFS(t)
	build(t, fsys, fixture)
	const many = 1500 // more than one batch of any sensible size
	for i := range many {
		writeFile(t, fsys, fmt.Sprintf("d/m%04d", i), strings.Repeat("x", i%7))
	}
	if l, ok := fsys.(interface{ Dir() string }); ok { // a local folder
		if err := os.Symlink("g", l.Dir()+"/d/link"); err != nil {
			t.Fatal(err)
		}
	}
	d, err := fsys.OpenDir("d")
	if err != nil {
		t.Fatal(err)
	}
	_, ok := d.(pier.DirInfoReader)
	d.Close()
	if !ok {
		t.Skip("the file system's DirReader has no ReadDirInfo")
	}
	type facts struct {
		size  int64
		mode  fs.FileMode
		mtime int64
		dir   bool
	}
	want := map[string]facts{}
	entries, err := readDir(fsys, "d", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		want[e.Name()] = facts{fi.Size(), fi.Mode(), fi.ModTime().UnixNano(), fi.IsDir()}
	}

	d, err = fsys.OpenDir("d")
	if err != nil {
		t.Fatal(err)
	}
	dr := d.(pier.DirInfoReader)
	got := map[string]facts{}
	err = dr.ReadDirInfo(func(fi fs.FileInfo) error {
		name := strings.Clone(fi.Name()) // valid only during the call
		if _, dup := got[name]; dup {
			t.Errorf("%q listed twice", name)
		}
		got[name] = facts{fi.Size(), fi.Mode(), fi.ModTime().UnixNano(), fi.IsDir()}
		return nil
	})
	d.Close()
	if err != nil {
		t.Fatalf("ReadDirInfo: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("ReadDirInfo gave %d entries, ReadDir %d", len(got), len(want))
	}
	for name, w := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%q missing from ReadDirInfo", name)
		} else if g != w {
			t.Errorf("%q: ReadDirInfo %+v, ReadDir+Info %+v", name, g, w)
		}
	}

	// fn's error stops the walk and comes back as is.
	d, err = fsys.OpenDir("d")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	stop := errors.New("stop")
	calls := 0
	err = d.(pier.DirInfoReader).ReadDirInfo(func(fs.FileInfo) error {
		calls++
		if calls == 10 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 10 {
		t.Errorf("ReadDirInfo after fn failed: %v after %d calls, want %v after 10", err, calls, stop)
	}
}

func testConcurrent(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	const workers, rounds = 8, 20
	fsys := newFS(t)
	shared := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	writeFile(t, fsys, "shared", string(shared))
	renamer, _ := fsys.(pier.RenameFS)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			dir := fmt.Sprintf("w%d", w)
			if err := fsys.Mkdir(dir, 0o755); err != nil {
				t.Errorf("Mkdir(%q): %v", dir, err)
				return
			}
			for r := range rounds {
				name := fmt.Sprintf("%s/f%d", dir, r)
				data := strings.Repeat(name, 100)
				f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
				if err != nil {
					t.Errorf("create %q: %v", name, err)
					return
				}
				io.WriteString(f, data)
				if err := f.Close(); err != nil {
					t.Errorf("close %q: %v", name, err)
				}
				if got, err := readFile(fsys, name); got != data || err != nil {
					t.Errorf("read %q back: %d bytes, %v", name, len(got), err)
				}
				if got, err := readFile(fsys, "shared"); got != string(shared) || err != nil {
					t.Errorf("read shared: %d bytes, %v", len(got), err)
				}
				if fi, err := fsys.Stat(name); err != nil || fi.Size() != int64(len(data)) {
					t.Errorf("Stat(%q): %v, %v", name, fi, err)
				}
				if renamer != nil {
					newName := name + ".r"
					if err := renamer.Rename(name, newName); err != nil && !errors.Is(err, pier.ErrNotSupported) {
						t.Errorf("Rename(%q): %v", name, err)
					} else if err == nil {
						name = newName
					}
				}
				if entries, err := readDir(fsys, dir, 7); err != nil || len(entries) != 1 {
					t.Errorf("list %q: %d entries, %v", dir, len(entries), err)
				}
				if _, err := readDir(fsys, ".", 3); err != nil {
					t.Errorf("list root: %v", err)
				}
				if err := fsys.Remove(name); err != nil {
					t.Errorf("Remove(%q): %v", name, err)
				}
			}
			if err := fsys.Remove(dir); err != nil {
				t.Errorf("Remove(%q): %v", dir, err)
			}
		})
	}
	wg.Wait()
	checkTree(t, fsys, tree{"shared": string(shared)})
}

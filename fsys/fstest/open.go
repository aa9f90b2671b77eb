package fstest

import (
	"errors"
	"io"
	"io/fs"
	"syscall"
	"testing"

	"github.com/pierftp/pier"
)

func testOpenFile(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
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
		{desc: "truncate to empty", name: "f", flag: wr | cr | tr, want: ""},
		{desc: "overwrite start", name: "f", flag: wr, write: "J", want: "Jello"},
		{desc: "overwrite start, create", name: "f", flag: wr | cr, write: "J", want: "Jello"},
		{desc: "create without truncating", name: "new", flag: wr | cr, write: "x", want: "x"},
		{desc: "append", name: "f", flag: wr | cr | apnd, write: " world", want: "hello world"},
		{desc: "append creates", name: "new", flag: wr | cr | apnd, write: "x", want: "x"},
		{desc: "excl new", name: "new", flag: wr | cr | ex, write: "u", want: "u"},
		{desc: "excl existing", name: "f", flag: wr | cr | ex, wantErr: []error{fs.ErrExist}, want: "hello"},
		{desc: "excl existing dir", name: "d", flag: wr | cr | ex, wantErr: []error{fs.ErrExist}, want: isDir},
		{desc: "missing", name: "missing", flag: rd, wantErr: []error{fs.ErrNotExist}, want: noFile},
		{desc: "missing for write", name: "missing", flag: wr, wantErr: []error{fs.ErrNotExist}, want: noFile},
		{desc: "missing parent", name: "nodir/new", flag: wr | cr | tr, wantErr: []error{fs.ErrNotExist}, want: noFile},
		{desc: "missing parent, append", name: "nodir/new", flag: wr | cr | apnd, wantErr: []error{fs.ErrNotExist}, want: noFile},
		{desc: "missing parent, excl", name: "nodir/new", flag: wr | cr | ex, wantErr: []error{fs.ErrNotExist}, want: noFile},
		{desc: "parent is a file", name: "f/new", flag: wr | cr | tr, wantErr: []error{syscall.ENOTDIR}, want: noFile},
		{desc: "dir for writing", name: "d", flag: wr, wantErr: []error{syscall.EISDIR}, want: isDir},
		{desc: "dir for create", name: "d", flag: wr | cr | tr, wantErr: []error{syscall.EISDIR}, want: isDir},
		{desc: "dir for append", name: "d", flag: wr | cr | apnd, wantErr: []error{syscall.EISDIR}, want: isDir},
		{desc: "dir for reading", name: "d", flag: rd, wantErr: []error{syscall.EISDIR}, want: isDir},
		{desc: "root for reading", name: ".", flag: rd, wantErr: []error{syscall.EISDIR}, want: isDir},
		{desc: "root for writing", name: ".", flag: wr, wantErr: []error{syscall.EISDIR}, want: isDir},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ctx := t.Context()
			fsys := newFS(t)
			build(t, fsys, fixture)
			f, err := fsys.OpenFile(ctx, tt.name, tt.flag, 0o666)
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
				if _, err := fsys.Stat(ctx, tt.name); !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
					t.Errorf("failed open left %q behind: Stat: %v", tt.name, err)
				}
			case isDir:
				if fi, err := fsys.Stat(ctx, tt.name); err != nil || !fi.IsDir() {
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

// testAppend: with os.O_APPEND every write goes to the end, even after a
// Seek and, unless CommitOnClose, after another writer extended the file.
func testAppend(t *testing.T, newFS func(*testing.T) pier.FileSystem, c config) {
	fsys := newFS(t)
	writeFile(t, fsys, "f", "abc")
	f, err := fsys.OpenFile(t.Context(), "f", wr|cr|apnd, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f, "d")
	if sk, ok := f.(io.Seeker); ok {
		if _, err := sk.Seek(0, io.SeekStart); err != nil {
			f.Close()
			t.Fatalf("Seek: %v", err)
		}
	}
	want := "abcdf"
	if !c.commitOnClose {
		// Another writer extends the file meanwhile: O_APPEND still
		// writes at the very end.
		writeAppend(t, fsys, "f", "e")
		want = "abcdef"
	}
	mustWrite(t, f, "f")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, fsys, "f"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// mustWrite writes data to f, or closes f and stops the test.
func mustWrite(t *testing.T, f pier.File, data string) {
	t.Helper()
	if n, err := io.WriteString(f, data); err != nil || n != len(data) {
		f.Close()
		t.Fatalf("Write = %d, %v; want %d", n, err, len(data))
	}
}

// writeAppend appends data to a file as APPE does, and closes it.
func writeAppend(t *testing.T, fsys pier.FileSystem, name, data string) {
	t.Helper()
	f, err := fsys.OpenFile(t.Context(), name, wr|cr|apnd, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f, data)
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
		{desc: "start", flag: rd, offset: 3, whence: io.SeekStart, wantPos: 3, read: "345"},
		{desc: "current", flag: rd, offset: 4, whence: io.SeekCurrent, wantPos: 4, read: "45"},
		{desc: "end", flag: rd, offset: -2, whence: io.SeekEnd, wantPos: 8, read: "89"},
		{desc: "at end", flag: rd, offset: 0, whence: io.SeekEnd, wantPos: 10, read: ""},
		{desc: "past end", flag: rd, offset: 20, whence: io.SeekStart, wantPos: 20, read: ""},
		{desc: "negative", flag: rd, offset: -1, whence: io.SeekStart, wantErr: true},
		{desc: "negative from end", flag: rd, offset: -11, whence: io.SeekEnd, wantErr: true},
		{desc: "resume upload", flag: wr, offset: 3, whence: io.SeekStart, wantPos: 3, write: "ab", want: "012ab56789"},
		{desc: "extend", flag: wr, offset: 8, whence: io.SeekStart, wantPos: 8, write: "abcd", want: "01234567abcd"},
		{desc: "resume append", flag: wr | cr, offset: 10, whence: io.SeekStart, wantPos: 10, write: "ab", want: content + "ab"},
		{desc: "gap", flag: wr, offset: 12, whence: io.SeekStart, wantPos: 12, write: "x", want: content + "\x00\x00x"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			fsys := newFS(t)
			writeFile(t, fsys, "f", content)
			f, err := fsys.OpenFile(t.Context(), "f", tt.flag, 0o666)
			if err != nil {
				t.Fatal(err)
			}
			sk, ok := f.(io.Seeker)
			if !ok {
				f.Close()
				t.Skip("files do not implement io.Seeker")
			}
			pos, err := sk.Seek(tt.offset, tt.whence)
			if tt.wantErr {
				if err == nil {
					t.Errorf("Seek = %d, nil; want an error", pos)
				}
				f.Close()
				return
			}
			if err != nil || pos != tt.wantPos {
				f.Close()
				t.Fatalf("Seek = %d, %v; want %d", pos, err, tt.wantPos)
			}
			if tt.write != "" {
				mustWrite(t, f, tt.write)
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				if got := mustRead(t, fsys, "f"); got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
				return
			}
			defer f.Close()
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

// testWriteVisible: unless CommitOnClose, what an upload wrote can be read
// before it is closed, as on a local file system.
func testWriteVisible(t *testing.T, newFS func(*testing.T) pier.FileSystem, c config) {
	if c.commitOnClose {
		t.Skip("CommitOnClose: writes are visible at Close")
	}
	tests := []struct {
		desc  string
		old   string // content before, or noFile
		flag  int
		write string
		want  string
	}{
		{desc: "STOR new", old: noFile, flag: wr | cr | tr, write: "abc", want: "abc"},
		{desc: "STOR over", old: "hello", flag: wr | cr | tr, write: "abc", want: "abc"},
		{desc: "APPE", old: "hello", flag: wr | cr | apnd, write: "abc", want: "helloabc"},
		{desc: "STOU", old: noFile, flag: wr | cr | ex, write: "abc", want: "abc"},
		{desc: "STOR after REST", old: "hello", flag: wr, write: "J", want: "Jello"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ctx := t.Context()
			fsys := newFS(t)
			if tt.old != noFile {
				writeFile(t, fsys, "f", tt.old)
			}
			f, err := fsys.OpenFile(ctx, "f", tt.flag, 0o666)
			if err != nil {
				t.Fatal(err)
			}
			mustWrite(t, f, tt.write)
			if fi, err := fsys.Stat(ctx, "f"); err != nil || fi.Size() != int64(len(tt.want)) {
				t.Errorf("Stat before Close: %v, %v; want size %d", fi, err, len(tt.want))
			}
			if got, err := readFile(ctx, fsys, "f"); got != tt.want || err != nil {
				t.Errorf("read before Close: %q, %v; want %q", got, err, tt.want)
			}
			if err := f.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

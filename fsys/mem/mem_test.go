package mem_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/mem"
	"github.com/pierftp/pier/ftptest"
)

// ctx is the context of the calls: mem uses none.
var ctx = context.Background()

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name    string
		wantErr error
	}{
		{name: "top"},
		{name: "a/b/c/deep"},
		{name: "exists"},
		{name: "exists/x", wantErr: syscall.ENOTDIR},
		{name: "dir", wantErr: syscall.EISDIR},
		{name: ".", wantErr: syscall.EISDIR},
		{name: "/abs", wantErr: fs.ErrInvalid},
		{name: "a/../b", wantErr: fs.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mem.New()
			if err := m.WriteFile("exists", []byte("old")); err != nil {
				t.Fatal(err)
			}
			if err := m.Mkdir(ctx, "dir", 0o755); err != nil {
				t.Fatal(err)
			}
			data := []byte("data of " + tt.name)
			err := m.WriteFile(tt.name, data)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("WriteFile: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			data[0] = 'X' // WriteFile must have copied it
			f, err := m.OpenFile(ctx, tt.name, os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, _ := io.ReadAll(f)
			if string(got) != "data of "+tt.name {
				t.Errorf("got %q", got)
			}
			fi, _ := m.Stat(ctx, tt.name)
			if fi.Mode() != 0o644 || fi.Sys() != nil {
				t.Errorf("mode %v, Sys %v; want 0644, nil", fi.Mode(), fi.Sys())
			}
			if i := strings.LastIndexByte(tt.name, '/'); i > 0 {
				di, err := m.Stat(ctx, tt.name[:i])
				if err != nil || di.Mode() != fs.ModeDir|0o755 {
					t.Errorf("parent: %v, %v; want a directory with mode 0755", di, err)
				}
			}
		})
	}
}

func TestModes(t *testing.T) {
	m := mem.New()
	tests := []struct {
		name string
		make func(name string) error
		want fs.FileMode
	}{
		{name: "file", make: func(n string) error {
			f, err := m.OpenFile(ctx, n, os.O_WRONLY|os.O_CREATE, 0o666)
			if err == nil {
				f.Close()
			}
			return err
		}, want: 0o644},
		{name: "private", make: func(n string) error {
			f, err := m.OpenFile(ctx, n, os.O_WRONLY|os.O_CREATE, 0o600)
			if err == nil {
				f.Close()
			}
			return err
		}, want: 0o600},
		{name: "dir", make: func(n string) error { return m.Mkdir(ctx, n, 0o777) }, want: fs.ModeDir | 0o755},
		{name: ".", make: func(string) error { return nil }, want: fs.ModeDir | 0o755},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.make(tt.name); err != nil {
				t.Fatal(err)
			}
			fi, err := m.Stat(ctx, tt.name)
			if err != nil || fi.Mode() != tt.want {
				t.Errorf("Stat: %v, %v; want mode %v", fi, err, tt.want)
			}
		})
	}
}

func TestDirReaderSnapshot(t *testing.T) {
	m := mem.New()
	for _, name := range []string{"c", "a", "e", "b", "d"} {
		m.WriteFile("dir/"+name, []byte(name))
	}
	d, err := m.OpenDir(ctx, "dir")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Changes after OpenDir: a removed name is left out, a new one not
	// listed, a grown file shows its new size.
	m.Remove(ctx, "dir/b")
	m.WriteFile("dir/f", nil)
	m.WriteFile("dir/d", []byte("longer"))
	var names []string
	for {
		entries, err := d.ReadDir(2)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			names = append(names, e.Name())
			if fi, _ := e.Info(); e.Name() == "d" && fi.Size() != 6 {
				t.Errorf("d: size %d, want 6", fi.Size())
			}
		}
	}
	if want := []string{"a", "c", "d", "e"}; !slices.Equal(names, want) {
		t.Errorf("names %q, want %q (in order)", names, want)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadDir(1); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("ReadDir after Close: %v", err)
	}
}

// An open file keeps its data, like an inode, across a rename or a remove.
func TestOpenFileOutlivesName(t *testing.T) {
	tests := []struct {
		desc   string
		change func(m *mem.FS) error
	}{
		{desc: "rename", change: func(m *mem.FS) error { return m.Rename(ctx, "f", "g") }},
		{desc: "rename dir", change: func(m *mem.FS) error { return m.Rename(ctx, "d", "e") }},
		{desc: "remove", change: func(m *mem.FS) error { return m.Remove(ctx, "f") }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			m := mem.New()
			m.WriteFile("f", []byte("abc"))
			m.WriteFile("d/f", []byte("abc"))
			name := "f"
			if strings.Contains(tt.desc, "dir") {
				name = "d/f"
			}
			f, err := m.OpenFile(ctx, name, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := tt.change(m); err != nil {
				t.Fatal(err)
			}
			io.WriteString(f, "X")
			f.(io.Seeker).Seek(0, io.SeekStart)
			if got, _ := io.ReadAll(f); string(got) != "Xbc" {
				t.Errorf("got %q", got)
			}
		})
	}
}

func TestFileClosed(t *testing.T) {
	m := mem.New()
	f, err := m.OpenFile(ctx, "f", os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	mf := f.(*mem.File)
	ops := map[string]func() error{
		"Read":  func() error { _, err := mf.Read(make([]byte, 1)); return err },
		"Write": func() error { _, err := mf.Write([]byte("x")); return err },
		"Seek":  func() error { _, err := mf.Seek(0, io.SeekStart); return err },
		"Stat":  func() error { _, err := mf.Stat(); return err },
		"Close": mf.Close,
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("%s after Close: %v, want fs.ErrClosed", name, err)
		}
	}
}

// TestFTP runs a pier server over a mem.FS and drives it over the real
// protocol.
func TestFTP(t *testing.T) {
	memfs := mem.New()
	if err := memfs.WriteFile("pub/readme.txt", []byte("hello from memory\n")); err != nil {
		t.Fatal(err)
	}
	srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		if err := s.Users.AddUser("memuser", auth.Account{Password: "pw", FS: memfs, Perm: pier.AllPerms}); err != nil {
			t.Fatal(err)
		}
	}})
	c := srv.Dial(t)
	c.Login(t, "memuser", "pw")

	if got := c.Retrieve(t, "RETR /pub/readme.txt"); string(got) != "hello from memory\n" {
		t.Errorf("RETR readme: %q", got)
	}

	payload := []byte(strings.Repeat("0123456789", 10000))
	c.Store(t, "STOR upload.bin", payload)
	if fi, err := memfs.Stat(ctx, "upload.bin"); err != nil || fi.Size() != int64(len(payload)) {
		t.Fatalf("after STOR: %v, %v", fi, err)
	}

	list := string(c.Retrieve(t, "LIST"))
	for _, want := range []string{"upload.bin", "pub", "100000"} {
		if !strings.Contains(list, want) {
			t.Errorf("LIST lacks %q:\n%s", want, list)
		}
	}
	if got := c.Retrieve(t, "NLST /pub"); !strings.Contains(string(got), "readme.txt") {
		t.Errorf("NLST /pub: %q", got)
	}

	if got := c.Retrieve(t, "RETR upload.bin"); string(got) != string(payload) {
		t.Errorf("RETR upload.bin: %d bytes, want %d", len(got), len(payload))
	}

	c.Expect(t, "REST 99990", 350)
	if got := c.Retrieve(t, "RETR upload.bin"); string(got) != "0123456789" {
		t.Errorf("REST+RETR: %q", got)
	}

	// Resume an upload: REST + STOR writes at the offset, over what is
	// there (no truncation).
	c.Expect(t, "REST 5", 350)
	c.Store(t, "STOR /pub/readme.txt", []byte("FROM MEMORY"))
	if got := c.Retrieve(t, "RETR /pub/readme.txt"); string(got) != "helloFROM MEMORYy\n" {
		t.Errorf("after REST+STOR: %q", got)
	}

	c.Store(t, "APPE /pub/readme.txt", []byte("more\n"))
	if got := c.Retrieve(t, "RETR /pub/readme.txt"); string(got) != "helloFROM MEMORYy\nmore\n" {
		t.Errorf("after APPE: %q", got)
	}

	c.Expect(t, "RNFR upload.bin", 350)
	c.Expect(t, "RNTO /pub/renamed.bin", 250)
	if _, err := memfs.Stat(ctx, "upload.bin"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old name after RNTO: %v", err)
	}
	if got := c.Retrieve(t, "RETR /pub/renamed.bin"); len(got) != len(payload) {
		t.Errorf("RETR renamed: %d bytes", len(got))
	}

	c.Expect(t, "MKD newdir", 257)
	c.Expect(t, "MKD newdir", 550)
	c.Expect(t, "CWD newdir", 250)
	c.Store(t, "STOR inner.txt", []byte("inner"))
	c.Expect(t, "CWD /", 250)
	c.Expect(t, "RNFR pub", 350)
	c.Expect(t, "RNTO newdir/pub", 250)
	if got := c.Retrieve(t, "RETR /newdir/pub/renamed.bin"); len(got) != len(payload) {
		t.Errorf("RETR after moving a folder: %d bytes", len(got))
	}
	c.Expect(t, "RMD newdir", 550) // not empty

	c.Expect(t, "DELE /newdir/pub/renamed.bin", 250)
	c.Expect(t, "DELE /newdir/pub/renamed.bin", 550)
	c.Expect(t, "DELE /newdir/pub", 550) // a folder
	c.Expect(t, "SIZE /newdir/pub/renamed.bin", 550)
	c.Expect(t, "SIZE /newdir/pub/readme.txt", 213)

	c.Expect(t, "MFMT 20010203040506 /newdir/inner.txt", 213)
	if fi, _ := memfs.Stat(ctx, "newdir/inner.txt"); fi.ModTime().UTC().Format("20060102150405") != "20010203040506" {
		t.Errorf("after MFMT: %v", fi.ModTime())
	}
	c.Expect(t, "MDTM /newdir/inner.txt", 213)

	c.Expect(t, "QUIT", 221)

	want := []string{"newdir/", "newdir/inner.txt", "newdir/pub/", "newdir/pub/readme.txt"}
	if got := walk(t, memfs, "."); !slices.Equal(got, want) {
		t.Errorf("final tree %q, want %q", got, want)
	}
}

// walk lists a tree, directories with a trailing slash, in name order.
func walk(t *testing.T, m *mem.FS, dir string) []string {
	t.Helper()
	d, err := m.OpenDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if dir != "." {
			name = dir + "/" + name
		}
		if e.IsDir() {
			out = append(out, name+"/")
			out = append(out, walk(t, m, name)...)
			continue
		}
		out = append(out, name)
	}
	return out
}

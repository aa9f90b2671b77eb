package pier_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/pierftp/pier/ftptest"
)

// TestClientLibrary drives the server with a real client library, which
// parses the replies and listings its own way.
func TestClientLibrary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []ftp.DialOption
	}{
		{"EPSV and MLSD", nil},
		{"PASV", []ftp.DialOption{ftp.DialWithDisabledEPSV(true)}},
		{"LIST instead of MLSD", []ftp.DialOption{ftp.DialWithDisabledMLSD(true)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, nil)
			mtime := time.Date(2023, 7, 8, 9, 10, 11, 0, time.UTC)
			p := writeFile(t, srv, "existing.txt", []byte("already here"))
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}

			opts := append([]ftp.DialOption{ftp.DialWithTimeout(ioDeadline)}, tt.opts...)
			c, err := ftp.Dial(srv.Addr, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Quit()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(c.Login(ftptest.User, ftptest.Password))
			must(c.NoOp())

			must(c.MakeDir("dir"))
			if !isDir(t, srv, "dir") {
				t.Fatal("MakeDir did not make a directory")
			}
			must(c.ChangeDir("dir"))
			cwd, err := c.CurrentDir()
			must(err)
			if cwd != "/dir" {
				t.Errorf("CurrentDir = %q, want /dir", cwd)
			}

			data := pattern(700 << 10)
			must(c.Stor("upload.bin", bytes.NewReader(data)))
			if got := readFile(t, srv, "dir/upload.bin"); !bytes.Equal(got, data) {
				t.Fatalf("Stor: %d bytes on disk, want %d", len(got), len(data))
			}
			must(c.Append("upload.bin", bytes.NewReader([]byte("tail"))))
			data = append(data, "tail"...)

			r, err := c.Retr("upload.bin")
			must(err)
			got, err := io.ReadAll(r)
			must(err)
			must(r.Close())
			if !bytes.Equal(got, data) {
				t.Fatalf("Retr: got %d bytes, want %d", len(got), len(data))
			}

			r, err = c.RetrFrom("upload.bin", 100)
			must(err)
			got, err = io.ReadAll(r)
			must(err)
			must(r.Close())
			if !bytes.Equal(got, data[100:]) {
				t.Fatalf("RetrFrom: got %d bytes, want %d", len(got), len(data)-100)
			}

			size, err := c.FileSize("upload.bin")
			must(err)
			if size != int64(len(data)) {
				t.Errorf("FileSize = %d, want %d", size, len(data))
			}

			must(c.ChangeDirToParent())
			entries, err := c.List("/")
			must(err)
			byName := map[string]*ftp.Entry{}
			for _, e := range entries {
				byName[e.Name] = e
			}
			if e := byName["existing.txt"]; e == nil || e.Type != ftp.EntryTypeFile || e.Size != 12 {
				t.Errorf("List: existing.txt = %+v", e)
			} else if e.Time.Year() != 2023 || e.Time.Month() != 7 || e.Time.Day() != 8 {
				t.Errorf("List: existing.txt time %v, want 2023-07-08", e.Time)
			}
			if e := byName["dir"]; e == nil || e.Type != ftp.EntryTypeFolder {
				t.Errorf("List: dir = %+v", e)
			}

			names, err := c.NameList("dir")
			must(err)
			if !slices.Equal(names, []string{"upload.bin"}) && !slices.Equal(names, []string{"dir/upload.bin"}) {
				t.Errorf("NameList = %q", names)
			}

			mt, err := c.GetTime("existing.txt")
			must(err)
			if !mt.Equal(mtime) {
				t.Errorf("GetTime = %v, want %v", mt, mtime)
			}
			newTime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			must(c.SetTime("existing.txt", newTime))
			if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(newTime) {
				t.Errorf("SetTime: mtime on disk %v (%v), want %v", fi.ModTime(), err, newTime)
			}

			must(c.Rename("dir/upload.bin", "moved.bin"))
			if exists(t, srv, "dir/upload.bin") || !exists(t, srv, "moved.bin") {
				t.Error("Rename did not move the file")
			}
			must(c.Delete("moved.bin"))
			if exists(t, srv, "moved.bin") {
				t.Error("Delete did not remove the file")
			}
			must(c.RemoveDir("dir"))
			if exists(t, srv, "dir") {
				t.Error("RemoveDir did not remove the directory")
			}

			// Errors come back as errors.
			if _, err := c.Retr("nope"); err == nil {
				t.Error("Retr of a missing file succeeded")
			}
			if err := c.ChangeDir("nope"); err == nil {
				t.Error("ChangeDir to a missing directory succeeded")
			}
			if _, err := c.FileSize("nope"); err == nil {
				t.Error("FileSize of a missing file succeeded")
			}
			must(c.NoOp())
			must(c.Logout())
			if err := c.Stor("x", bytes.NewReader(nil)); err == nil {
				t.Error("Stor after Logout succeeded")
			}
			if exists(t, srv, filepath.Join("x")) {
				t.Error("x was stored after logout")
			}
		})
	}
}

func TestClientLibraryAnonymous(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	writeFile(t, srv, "pub.txt", []byte("public"))
	c, err := ftp.Dial(srv.Addr, ftp.DialWithTimeout(ioDeadline))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("anonymous", "anonymous"); err != nil {
		t.Fatal(err)
	}
	r, err := c.Retr("pub.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "public" {
		t.Errorf("Retr = %q", got)
	}
	if err := c.Stor("new.txt", bytes.NewReader([]byte("x"))); err == nil {
		t.Error("anonymous Stor succeeded")
	}
	if err := c.MakeDir("d"); err == nil {
		t.Error("anonymous MakeDir succeeded")
	}
	if err := c.Delete("pub.txt"); err == nil {
		t.Error("anonymous Delete succeeded")
	}
	if !exists(t, srv, "pub.txt") || exists(t, srv, "new.txt") || exists(t, srv, "d") {
		t.Error("anonymous changed the folder")
	}
	if err := c.NoOp(); err != nil {
		t.Error(err)
	}
}

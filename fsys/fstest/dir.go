package fstest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pierftp/pier"
)

func testOpenDir(t *testing.T, newFS func(*testing.T) pier.FileSystem) {
	ctx := t.Context()
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
			d, err := fsys.OpenDir(ctx, tt.name)
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
	ctx := t.Context()
	const total, batch = 1000, 100
	fsys := newFS(t)
	if err := fsys.Mkdir(ctx, "big", 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range total {
		writeFile(t, fsys, fmt.Sprintf("big/f%04d", i), "")
	}
	d, err := fsys.OpenDir(ctx, "big")
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
	ctx := t.Context()
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
	d, err := fsys.OpenDir(ctx, "d")
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
	entries, err := readDir(ctx, fsys, "d", 100)
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

	d, err = fsys.OpenDir(ctx, "d")
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
	d, err = fsys.OpenDir(ctx, "d")
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
	ctx := t.Context()
	const workers, rounds = 8, 20
	fsys := newFS(t)
	shared := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	writeFile(t, fsys, "shared", string(shared))
	renamer, _ := fsys.(pier.RenameFS)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			dir := fmt.Sprintf("w%d", w)
			if err := fsys.Mkdir(ctx, dir, 0o755); err != nil {
				t.Errorf("Mkdir(%q): %v", dir, err)
				return
			}
			for r := range rounds {
				name := fmt.Sprintf("%s/f%d", dir, r)
				data := strings.Repeat(name, 100)
				f, err := fsys.OpenFile(ctx, name, wr|cr|ex, 0o666)
				if err != nil {
					t.Errorf("create %q: %v", name, err)
					return
				}
				io.WriteString(f, data)
				if err := f.Close(); err != nil {
					t.Errorf("close %q: %v", name, err)
				}
				if got, err := readFile(ctx, fsys, name); got != data || err != nil {
					t.Errorf("read %q back: %d bytes, %v", name, len(got), err)
				}
				if got, err := readFile(ctx, fsys, "shared"); got != string(shared) || err != nil {
					t.Errorf("read shared: %d bytes, %v", len(got), err)
				}
				if fi, err := fsys.Stat(ctx, name); err != nil || fi.Size() != int64(len(data)) {
					t.Errorf("Stat(%q): %v, %v", name, fi, err)
				}
				if renamer != nil {
					newName := name + ".r"
					if err := renamer.Rename(ctx, name, newName); err != nil && !errors.Is(err, pier.ErrNotSupported) {
						t.Errorf("Rename(%q): %v", name, err)
					} else if err == nil {
						name = newName
					}
				}
				if entries, err := readDir(ctx, fsys, dir, 7); err != nil || len(entries) != 1 {
					t.Errorf("list %q: %d entries, %v", dir, len(entries), err)
				}
				if _, err := readDir(ctx, fsys, ".", 3); err != nil {
					t.Errorf("list root: %v", err)
				}
				if err := fsys.Remove(ctx, name); err != nil {
					t.Errorf("Remove(%q): %v", name, err)
				}
			}
			if err := fsys.Remove(ctx, dir); err != nil {
				t.Errorf("Remove(%q): %v", dir, err)
			}
		})
	}
	wg.Wait()
	checkTree(t, fsys, tree{"shared": string(shared)})
}

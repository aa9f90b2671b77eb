package aferofs_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/aferofs"
	"github.com/pierftp/pier/fsys/fstest"
	"github.com/spf13/afero"
)

// ctx is the context of the calls: aferofs uses none.
var ctx = context.Background()

func TestConformanceMemMapFs(t *testing.T) {
	fstest.TestFileSystem(t, func(t *testing.T) pier.FileSystem {
		return aferofs.New(afero.NewMemMapFs())
	})
}

func TestConformanceBasePathOsFs(t *testing.T) {
	fstest.TestFileSystem(t, func(t *testing.T) pier.FileSystem {
		return aferofs.New(afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()))
	})
}

// TestModes: new files and folders get 0644 and 0755 on afero's memory
// back-end, as under the usual umask, not 0666 and 0777.
func TestModes(t *testing.T) {
	f := aferofs.New(afero.NewMemMapFs())
	w, err := f.OpenFile(ctx, "f", os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := f.Mkdir(ctx, "d", 0o777); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]fs.FileMode{"f": 0o644, "d": fs.ModeDir | 0o755} {
		fi, err := f.Stat(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
}

func TestLinks(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "target"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", filepath.Join(dir, "link")); err != nil {
		t.Skip(err)
	}
	tests := []struct {
		desc      string
		fsys      afero.Fs
		name      string
		wantLink  string
		wantErr   error
		wantLstat fs.FileMode // type bits Lstat reports
	}{
		{desc: "os", fsys: afero.NewBasePathFs(afero.NewOsFs(), dir), name: "link", wantLink: "target", wantLstat: fs.ModeSymlink},
		{desc: "os, not a link", fsys: afero.NewBasePathFs(afero.NewOsFs(), dir), name: "target", wantErr: syscall.EINVAL},
		{desc: "os, missing", fsys: afero.NewBasePathFs(afero.NewOsFs(), dir), name: "missing", wantErr: fs.ErrNotExist},
		{desc: "memory, no LinkReader", fsys: afero.NewMemMapFs(), name: "target", wantErr: pier.ErrNotSupported},
		{desc: "base path over memory", fsys: afero.NewBasePathFs(afero.NewMemMapFs(), "/base"), name: "target", wantErr: pier.ErrNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f := aferofs.New(tt.fsys)
			afero.WriteFile(tt.fsys, "/target", []byte("x"), 0o644)
			got, err := f.Readlink(ctx, tt.name)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Readlink: %q, %v; want %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.wantLink {
				t.Errorf("Readlink: %q, %v; want %q", got, err, tt.wantLink)
			}
			fi, err := f.Lstat(ctx, tt.name)
			if err != nil || fi.Mode().Type() != tt.wantLstat {
				t.Errorf("Lstat: %v, %v; want type %v", fi, err, tt.wantLstat)
			}
			if fi, err := f.Stat(ctx, tt.name); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("Stat: %v, %v; want a regular file", fi, err)
			}
		})
	}
}

// A read-only afero.Fs refuses writes with an error pier maps to a reply.
func TestReadOnly(t *testing.T) {
	base := afero.NewMemMapFs()
	afero.WriteFile(base, "/f", []byte("x"), 0o644)
	f := aferofs.New(afero.NewReadOnlyFs(base))
	tests := []struct {
		desc string
		op   func() error
	}{
		{"create", func() error { _, err := f.OpenFile(ctx, "g", os.O_WRONLY|os.O_CREATE, 0o666); return err }},
		{"mkdir", func() error { return f.Mkdir(ctx, "d", 0o755) }},
		{"remove", func() error { return f.Remove(ctx, "f") }},
		{"rename", func() error { return f.Rename(ctx, "f", "g") }},
		{"chmod", func() error { return f.Chmod(ctx, "f", 0o600) }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, syscall.EPERM) && !errors.Is(err, fs.ErrPermission) {
				t.Errorf("%v, want a permission error", err)
			}
		})
	}
	if got, err := afero.ReadFile(base, "/f"); err != nil || string(got) != "x" {
		t.Errorf("file changed: %q, %v", got, err)
	}
}

// TestMemDirShrinks: a listing of a memory folder goes on while entries
// are removed between its batches. afero's own Readdir(n) would run past
// the end of the shrunk folder and panic with the folder's lock held
// (afero issue 261); the adapter reads such a folder whole at its first
// batch, and the folder stays usable.
func TestMemDirShrinks(t *testing.T) {
	t.Run("MemMapFs", func(t *testing.T) { testMemDirShrinks(t, afero.NewMemMapFs()) })
	t.Run("BasePathFs over MemMapFs", func(t *testing.T) {
		m := afero.NewMemMapFs()
		if err := m.MkdirAll("/base", 0o755); err != nil {
			t.Fatal(err)
		}
		testMemDirShrinks(t, afero.NewBasePathFs(m, "/base"))
	})
}

func testMemDirShrinks(t *testing.T, afs afero.Fs) {
	ctx := context.Background()
	fsys := aferofs.New(afs)
	names := []string{"a", "b", "c", "d", "e", "f"}
	for _, n := range names {
		f, err := fsys.OpenFile(ctx, n, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	d, err := fsys.OpenDir(ctx, ".")
	if err != nil {
		t.Fatal(err)
	}
	// closed at the end, not deferred: after afero's panic, Close would
	// wait for the lock it left held, and the test would hang, not fail
	var got []string
	batch, err := d.ReadDir(4)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range batch {
		got = append(got, e.Name())
	}
	for _, n := range names[:5] {
		if err := fsys.Remove(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	for {
		batch, err := d.ReadDir(4)
		for _, e := range batch {
			got = append(got, e.Name())
		}
		if err != nil {
			break
		}
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
	if len(got) != len(names) {
		t.Errorf("listed %v, want the %d entries there were when it began", got, len(names))
	}
	if _, err := fsys.Stat(ctx, "."); err != nil {
		t.Errorf("the folder after the listing: %v", err)
	}
}

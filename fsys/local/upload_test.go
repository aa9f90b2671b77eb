package local_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/fstest"
	"github.com/pierftp/pier/fsys/local"
)

func TestConformanceAtomicUploads(t *testing.T) {
	fstest.TestFileSystem(t, func(t *testing.T) pier.FileSystem {
		return newFS(t, t.TempDir(), local.AtomicUploads())
	}, fstest.CommitOnClose)
}

func newFS(t *testing.T, dir string, opts ...local.Option) *local.FS {
	t.Helper()
	fsys, err := local.New(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	return fsys
}

// temps lists the temporaries in a folder, as the OS sees it.
func temps(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), local.TempPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func write(t *testing.T, f pier.File, data string) {
	t.Helper()
	if _, err := io.WriteString(f, data); err != nil {
		t.Fatal(err)
	}
}

func readOS(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func perm(t *testing.T, name string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestAtomicClose: STOR writes to a hidden temporary that Close renames over
// the target, which keeps its permission bits; until then readers see the
// old file.
func TestAtomicClose(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "sub", "f")
	if err := os.WriteFile(target, []byte("old content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o640); err != nil {
		t.Fatal(err)
	}
	fsys := newFS(t, dir, local.AtomicUploads())
	f, err := fsys.OpenFile(ctx, "sub/f", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(*os.File); ok {
		t.Fatal("STOR under AtomicUploads returned an *os.File")
	}
	osf := f.(pier.OSFiler).OSFile()
	if _, ok := f.(pier.Aborter); !ok || osf == nil {
		t.Fatalf("the upload is no pier.Aborter, or has no *os.File (%v)", osf)
	}
	write(t, f, "new")
	if _, err := osf.WriteString(" data"); err != nil { // as splice does
		t.Fatal(err)
	}
	tmp := temps(t, filepath.Join(dir, "sub"))
	if len(tmp) != 1 || !strings.HasSuffix(tmp[0], "-f") {
		t.Fatalf("temporaries %q, want one ending in -f", tmp)
	}
	if got := readOS(t, target); got != "old content" {
		t.Errorf("target before Close: %q", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readOS(t, target); got != "new data" {
		t.Errorf("target after Close: %q, want %q", got, "new data")
	}
	if p := perm(t, target); p != 0o640 {
		t.Errorf("target's mode %v after Close, want 0640 (the old file's)", p)
	}
	if tmp := temps(t, filepath.Join(dir, "sub")); len(tmp) != 0 {
		t.Errorf("temporaries left: %q", tmp)
	}
	if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close: %v, want fs.ErrClosed", err)
	}

	// A new file gets the mode a plain create gives.
	f, err = fsys.OpenFile(ctx, "new", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("new file visible before Close: %v", err)
	}
	write(t, f, "x")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ref, err := os.OpenFile(filepath.Join(t.TempDir(), "ref"), os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	ref.Close()
	if got, want := perm(t, filepath.Join(dir, "new")), perm(t, ref.Name()); got != want {
		t.Errorf("new file's mode %v, want %v", got, want)
	}
}

// TestAtomicAbort: Abort removes the temporary and leaves the old file, or
// no file, as it was.
func TestAtomicAbort(t *testing.T) {
	for _, exists := range []bool{true, false} {
		dir := t.TempDir()
		target := filepath.Join(dir, "f")
		if exists {
			if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		fsys := newFS(t, dir, local.AtomicUploads())
		f, err := fsys.OpenFile(t.Context(), "f", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
		if err != nil {
			t.Fatal(err)
		}
		write(t, f, "partial")
		if err := f.(pier.Aborter).Abort(pier.ErrConnectionLost); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		if tmp := temps(t, dir); len(tmp) != 0 {
			t.Errorf("temporaries left: %q", tmp)
		}
		if !exists {
			if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("aborted new upload left a file: %v", err)
			}
			continue
		}
		if got := readOS(t, target); got != "old" {
			t.Errorf("target after Abort: %q, want %q", got, "old")
		}
		if p := perm(t, target); p != 0o600 {
			t.Errorf("target's mode after Abort: %v", p)
		}
		if err := f.(pier.Aborter).Abort(pier.ErrConnectionLost); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("second Abort: %v, want fs.ErrClosed", err)
		}
		if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("Close after Abort: %v, want fs.ErrClosed", err)
		}
	}
}

// listing lists a folder with ReadDir in batches of one, and with
// ReadDirInfo.
func listing(t *testing.T, fsys *local.FS, name string) (byReadDir, byInfo []string) {
	t.Helper()
	d, err := fsys.OpenDir(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	for {
		entries, err := d.ReadDir(1)
		if err == io.EOF {
			break
		}
		if err != nil || len(entries) != 1 {
			t.Fatalf("ReadDir(1) = %d entries, %v", len(entries), err)
		}
		byReadDir = append(byReadDir, entries[0].Name())
	}
	d.Close()
	d, err = fsys.OpenDir(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.(pier.DirInfoReader).ReadDirInfo(func(fi fs.FileInfo) error {
		byInfo = append(byInfo, strings.Clone(fi.Name()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(byReadDir)
	slices.Sort(byInfo)
	return byReadDir, byInfo
}

// TestAtomicListing: listings never show temporaries under AtomicUploads
// (an upload's, or stale ones), and show them without it.
func TestAtomicListing(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "z", local.TempPrefix + "0-old", local.TempPrefix + "1-old", local.TempPrefix + "2-old"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fsys := newFS(t, dir, local.AtomicUploads())
	f, err := fsys.OpenFile(t.Context(), "a", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := len(temps(t, dir)); n != 4 {
		t.Fatalf("%d temporaries, want 4", n)
	}
	want := []string{"a", "z"}
	byReadDir, byInfo := listing(t, fsys, ".")
	if !slices.Equal(byReadDir, want) || !slices.Equal(byInfo, want) {
		t.Errorf("ReadDir lists %q, ReadDirInfo %q; want %q", byReadDir, byInfo, want)
	}
	plain := newFS(t, dir)
	byReadDir, byInfo = listing(t, plain, ".")
	if len(byReadDir) != 6 || len(byInfo) != 6 {
		t.Errorf("without the option, ReadDir lists %q, ReadDirInfo %q; want all 6", byReadDir, byInfo)
	}
}

// TestAtomicInPlace: APPE, STOR and APPE after REST, STOU, and uploads to a
// symbolic link write in place, through an *os.File, as without the
// option; and clients can't create names with TempPrefix.
func TestAtomicInPlace(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		desc   string
		name   string
		flag   int
		offset int64
		want   string
	}{
		{desc: "APPE", name: "f", flag: os.O_WRONLY | os.O_CREATE | os.O_APPEND, want: "0123456789ab"},
		{desc: "STOR after REST", name: "f", flag: os.O_WRONLY, offset: 3, want: "012ab56789"},
		{desc: "APPE after REST", name: "f", flag: os.O_WRONLY | os.O_CREATE, offset: 10, want: "0123456789ab"},
		{desc: "STOU", name: "new", flag: os.O_WRONLY | os.O_CREATE | os.O_EXCL, want: "ab"},
		{desc: "STOR to a link", name: "link", flag: os.O_WRONLY | os.O_CREATE | os.O_TRUNC, want: "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "f"), []byte("0123456789"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("f", filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			fsys := newFS(t, dir, local.AtomicUploads())
			f, err := fsys.OpenFile(ctx, tt.name, tt.flag, 0o666)
			if err != nil {
				t.Fatal(err)
			}
			osf, ok := f.(*os.File)
			if !ok {
				f.Close()
				t.Fatalf("OpenFile returned a %T, want an *os.File", f)
			}
			if tt.offset > 0 {
				if _, err := osf.Seek(tt.offset, io.SeekStart); err != nil {
					t.Fatal(err)
				}
			}
			write(t, f, "ab")
			if got := readOS(t, filepath.Join(dir, tt.name)); got != tt.want {
				t.Errorf("before Close: %q, want %q (in place)", got, tt.want)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if tmp := temps(t, dir); len(tmp) != 0 {
				t.Errorf("temporaries: %q", tmp)
			}
			if fi, err := os.Lstat(filepath.Join(dir, "link")); err != nil || fi.Mode().Type() != fs.ModeSymlink {
				t.Errorf("link replaced: %v, %v", fi, err)
			}
		})
	}
	t.Run("reserved names", func(t *testing.T) {
		fsys := newFS(t, t.TempDir(), local.AtomicUploads())
		if err := os.WriteFile(filepath.Join(fsys.Dir(), "f"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		name := local.TempPrefix + "x"
		for _, flag := range []int{os.O_WRONLY | os.O_CREATE | os.O_TRUNC, os.O_WRONLY | os.O_CREATE | os.O_APPEND, os.O_WRONLY | os.O_CREATE | os.O_EXCL} {
			if _, err := fsys.OpenFile(ctx, name, flag, 0o666); !errors.Is(err, fs.ErrPermission) {
				t.Errorf("OpenFile(%q, %#x): %v, want fs.ErrPermission", name, flag, err)
			}
		}
		if err := fsys.Mkdir(ctx, name, 0o755); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Mkdir: %v, want fs.ErrPermission", err)
		}
		if err := fsys.Rename(ctx, "f", name); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Rename: %v, want fs.ErrPermission", err)
		}
		if tmp := temps(t, fsys.Dir()); len(tmp) != 0 {
			t.Errorf("created %q", tmp)
		}
	})
	t.Run("plain STOR", func(t *testing.T) {
		fsys := newFS(t, t.TempDir())
		f, err := fsys.OpenFile(ctx, "f", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, ok := f.(*os.File); !ok {
			t.Errorf("STOR without the option returned a %T, want an *os.File", f)
		}
	})
}

// TestAtomicLongName: the temporary of a file whose name is as long as the
// system allows is cut to fit.
func TestAtomicLongName(t *testing.T) {
	fsys := newFS(t, t.TempDir(), local.AtomicUploads())
	name := strings.Repeat("é", 127) // 254 bytes
	f, err := fsys.OpenFile(t.Context(), name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	write(t, f, "x")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readOS(t, filepath.Join(fsys.Dir(), name)); got != "x" {
		t.Errorf("got %q", got)
	}
}

// TestAtomicReadOnlyTarget: a file this process can't write is not replaced
// either.
func TestAtomicReadOnlyTarget(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write any file")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("keep"), 0o444); err != nil {
		t.Fatal(err)
	}
	fsys := newFS(t, dir, local.AtomicUploads())
	if _, err := fsys.OpenFile(t.Context(), "f", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("OpenFile: %v, want fs.ErrPermission", err)
	}
	if tmp := temps(t, dir); len(tmp) != 0 {
		t.Errorf("temporaries: %q", tmp)
	}
}

// TestRemoveStaleUploads: temporaries not modified for longer than the
// limit go, anywhere in the tree; fresh ones, other files, folders and
// links stay.
func TestRemoveStaleUploads(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	mk := func(name string, stale bool) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if stale {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	stale := []string{local.TempPrefix + "1-a", "sub/" + local.TempPrefix + "2-b", "sub/deeper/" + local.TempPrefix + "3-c"}
	kept := []string{local.TempPrefix + "4-fresh", "sub/deeper/" + local.TempPrefix + "5-fresh", "old-file", "sub/old-file"}
	for _, name := range stale {
		mk(name, true)
	}
	for _, name := range kept {
		mk(name, strings.Contains(name, "old"))
	}
	staleDir := filepath.Join(dir, local.TempPrefix+"6-dir")
	if err := os.Mkdir(staleDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(staleDir, old, old); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	mk2 := filepath.Join(outside, local.TempPrefix+"7-outside")
	if err := os.WriteFile(mk2, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(mk2, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(mk2, filepath.Join(dir, local.TempPrefix+"8-link")); err != nil {
		t.Fatal(err)
	}

	fsys := newFS(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := fsys.RemoveStaleUploads(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("with a cancelled context: %v", err)
	}
	n, err := fsys.RemoveStaleUploads(t.Context(), time.Hour)
	if err != nil || n != len(stale) {
		t.Errorf("RemoveStaleUploads = %d, %v; want %d, nil", n, err, len(stale))
	}
	for _, name := range stale {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want removed", name, err)
		}
	}
	for _, p := range append([]string{staleDir, mk2, filepath.Join(dir, local.TempPrefix+"8-link")}, kept...) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: %v, want kept", p, err)
		}
	}
	if n, err := fsys.RemoveStaleUploads(t.Context(), 0); n != 2 || err != nil {
		t.Errorf("with no age limit: %d, %v; want the 2 fresh ones", n, err)
	}
}

// TestOpenFileError: a failed OpenFile returns a nil File, in place or not.
func TestOpenFileError(t *testing.T) {
	for _, opts := range [][]local.Option{nil, {local.AtomicUploads()}} {
		fsys := newFS(t, t.TempDir(), opts...)
		for _, flag := range []int{os.O_RDONLY, os.O_WRONLY | os.O_TRUNC, os.O_WRONLY | os.O_CREATE | os.O_TRUNC} {
			f, err := fsys.OpenFile(t.Context(), "nodir/f", flag, 0o666)
			if f != nil || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("OpenFile(%#x) = %#v, %v; want nil, fs.ErrNotExist", flag, f, err)
			}
		}
	}
}

//go:build linux && (amd64 || arm64)

package asuser_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/asuser"
	"github.com/pierftp/pier/fsys/fstest"
	"github.com/pierftp/pier/fsys/local"
)

// openAs starts a thread with id and opens dir on it with fsys/local and
// opts.
func openAs(t *testing.T, id asuser.Identity, dir string, opts ...local.Option) *asuser.FS {
	t.Helper()
	th, err := asuser.Start(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(th.Stop)
	f, err := asuser.NewFS(th, func() (pier.FileSystem, error) { return local.New(dir, opts...) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// fillDir makes n files in a new folder name of parent, file i of i%1000
// bytes and owned by owners[i%len(owners)]; the folder has mode perm and
// belongs to dirOwner.
func fillDir(t *testing.T, parent, name string, n int, perm fs.FileMode, dirOwner uint32, owners ...uint32) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("f%05d", i))
		if err := os.WriteFile(p, make([]byte, i%1000), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, int(owners[i%len(owners)]), int(owners[i%len(owners)])); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(dir, int(dirOwner), int(dirOwner)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
	return dir
}

// entry is what a listing shows of a file.
type entry struct {
	size     int64
	mode     fs.FileMode
	uid, gid uint32
}

func entryOf(fi fs.FileInfo) entry {
	e := entry{size: fi.Size(), mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.uid, e.gid = st.Uid, st.Gid
	} else {
		e.uid, e.gid = ^uint32(0), ^uint32(0)
	}
	return e
}

// listInfo lists name of f with ReadDirInfo, failing the test if the folder
// doesn't offer it.
func listInfo(t *testing.T, f *asuser.FS, name string, fn func(fs.FileInfo) error) error {
	t.Helper()
	d, err := f.OpenDir(context.Background(), name)
	if err != nil {
		return err
	}
	defer d.Close()
	dr, ok := d.(pier.DirInfoReader)
	if !ok {
		t.Fatal("a folder of a single-threaded fsys/local does not offer pier.DirInfoReader")
	}
	return dr.ReadDirInfo(fn)
}

// TestReadDirInfoAsAccount lists through an account's thread: the same
// entries as os.ReadDir, every fstatat as the account, and the thread
// unharmed by an fn that fails or panics.
func TestReadDirInfoAsAccount(t *testing.T) {
	needRoot(t)
	parent := sharedDir(t)
	const n = 1234 // several batches, and large enough for fstatat calls to be shared
	big := fillDir(t, parent, "big", n, 0o755, uidA, uidA, uidB, 0)
	fillDir(t, parent, "owned", n, 0o700, uidA, uidA)  // only A (and root) may stat its entries
	fillDir(t, parent, "noexec", n, 0o744, uidB, uidB) // A may read it, not stat its entries
	a := openAs(t, asuser.Identity{UID: uidA, GID: gidA}, parent, local.SingleThread())
	b := openAs(t, asuser.Identity{UID: uidB, GID: gidB}, parent, local.SingleThread())

	// stillWorks checks that A's thread answers after a listing stopped.
	stillWorks := func(t *testing.T) {
		t.Helper()
		if _, err := a.Stat(context.Background(), "big/f00001"); err != nil {
			t.Errorf("the thread after the listing: %v", err)
		}
		count := 0
		if err := listInfo(t, a, "big", func(fs.FileInfo) error { count++; return nil }); err != nil || count != n {
			t.Errorf("a listing after: %d entries, %v; want %d", count, err, n)
		}
	}

	t.Run("SameAsReadDir", func(t *testing.T) {
		want := map[string]entry{}
		osEntries, err := os.ReadDir(big)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range osEntries {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			want[e.Name()] = entryOf(fi)
		}
		got := map[string]entry{}
		err = listInfo(t, a, "big", func(fi fs.FileInfo) error {
			if _, dup := got[fi.Name()]; dup {
				return fmt.Errorf("%q listed twice", fi.Name())
			}
			got[fi.Name()] = entryOf(fi)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) != n {
			t.Errorf("%d entries, os.ReadDir %d, want %d", len(got), len(want), n)
		}
		for name, w := range want {
			if g, ok := got[name]; !ok {
				t.Errorf("%q missing", name)
			} else if g != w {
				t.Errorf("%q: %+v, os.ReadDir %+v", name, g, w)
			}
		}
	})

	t.Run("OwnersPrivateFolder", func(t *testing.T) {
		count := 0
		if err := listInfo(t, a, "owned", func(fs.FileInfo) error { count++; return nil }); err != nil || count != n {
			t.Errorf("A lists its own private folder: %d entries, %v; want %d", count, err, n)
		}
		if err := listInfo(t, b, "owned", func(fs.FileInfo) error { return nil }); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("B lists A's private folder: %v", err)
		}
	})

	// The kernel lets A read the names in noexec but not stat them (root
	// may). That the stats all run on A's thread is checked in
	// fsys/local (TestSingleThreadStatsOnCaller): here the first entry's
	// is always the caller's, so a shared batch would fail alike.
	t.Run("NoSearchPermission", func(t *testing.T) {
		var names []string
		err := listInfo(t, a, "noexec", func(fi fs.FileInfo) error {
			names = append(names, fi.Name())
			return nil
		})
		if len(names) != 0 {
			t.Errorf("A got the details of %d entries of a folder it can't search (%v)", len(names), err)
		}
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("A lists a folder it can't search: %v, want a permission error", err)
		}
	})

	t.Run("FnErrorStops", func(t *testing.T) {
		stop := errors.New("stop")
		count := 0
		err := listInfo(t, a, "big", func(fs.FileInfo) error {
			count++
			if count == 300 {
				return stop
			}
			return nil
		})
		if err != stop || count != 300 {
			t.Errorf("%v after %d calls, want %v after 300", err, count, stop)
		}
		stillWorks(t)
	})

	t.Run("FnPanicReachesCaller", func(t *testing.T) {
		count := 0
		p := func() (p any) {
			defer func() { p = recover() }()
			listInfo(t, a, "big", func(fs.FileInfo) error {
				count++
				if count == 300 {
					panic("boom")
				}
				return nil
			})
			return nil
		}()
		if p != "boom" || count != 300 {
			t.Errorf("panicked with %v after %d calls, want boom after 300", p, count)
		}
		stillWorks(t)
	})

	t.Run("Cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		d, err := a.OpenDir(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		count := 0
		err = d.(pier.DirInfoReader).ReadDirInfo(func(fs.FileInfo) error {
			count++
			if count == 10 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || count >= n {
			t.Errorf("cancelled at entry 10: %v after %d entries", err, count)
		}
		count = 0
		err = d.(pier.DirInfoReader).ReadDirInfo(func(fs.FileInfo) error { count++; return nil })
		if !errors.Is(err, context.Canceled) || count != 0 {
			t.Errorf("asked after the end of its context: %v after %d entries", err, count)
		}
		stillWorks(t)
	})

	t.Run("OfferedOnlySingleThreaded", func(t *testing.T) {
		multi := openAs(t, asuser.Identity{UID: uidA, GID: gidA}, parent)
		for _, c := range []struct {
			fsys *asuser.FS
			want bool
		}{{a, true}, {multi, false}} {
			d, err := c.fsys.OpenDir(context.Background(), "big")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := d.(pier.DirInfoReader); ok != c.want {
				t.Errorf("single-threaded %v: DirInfoReader offered %v", c.want, ok)
			}
			d.Close()
		}
	})
}

// TestConformanceAsAccount runs fsys/fstest's suite on a single-threaded
// fsys/local as an account.
func TestConformanceAsAccount(t *testing.T) {
	needRoot(t)
	fstest.TestFileSystem(t, func(t *testing.T) pier.FileSystem {
		dir, err := os.MkdirTemp("", "asuser-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chown(dir, uidA, gidA); err != nil {
			t.Fatal(err)
		}
		return openAs(t, asuser.Identity{UID: uidA, GID: gidA}, dir, local.SingleThread())
	})
}

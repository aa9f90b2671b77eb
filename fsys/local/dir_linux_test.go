//go:build linux && (amd64 || arm64)

package local

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReadDirInfoParallel lists folders of sizes around the thresholds of the
// parallel fstatat calls, with one to four workers: every entry once, each
// with its own size (every file's size is its index, so a slice given to the
// wrong worker or written twice shows).
func TestReadDirInfoParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, n := range []int{0, 1, parallelStatMin - 1, parallelStatMin, parallelStatMin + 1, 1001, 3000} {
		root := t.TempDir()
		for i := range n {
			if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%05d", i)), []byte(strings.Repeat("x", i)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		fsys, err := New(root)
		if err != nil {
			t.Fatal(err)
		}
		for procs := 1; procs <= maxStatWorkers+1; procs++ {
			runtime.GOMAXPROCS(procs)
			d, err := fsys.OpenDir(context.Background(), ".")
			if err != nil {
				t.Fatal(err)
			}
			seen := make([]bool, n)
			err = d.(*dir).ReadDirInfo(func(fi fs.FileInfo) error {
				var i int
				if _, err := fmt.Sscanf(fi.Name(), "f%05d", &i); err != nil || i >= n {
					return fmt.Errorf("unexpected entry %q", fi.Name())
				}
				if seen[i] {
					return fmt.Errorf("%q listed twice", fi.Name())
				}
				seen[i] = true
				if fi.Size() != int64(i) || !fi.Mode().IsRegular() {
					return fmt.Errorf("%q: size %d, mode %v; want %d, a regular file", fi.Name(), fi.Size(), fi.Mode(), i)
				}
				return nil
			})
			d.Close()
			if err != nil {
				t.Fatalf("%d files, GOMAXPROCS %d: %v", n, procs, err)
			}
			for i, ok := range seen {
				if !ok {
					t.Fatalf("%d files, GOMAXPROCS %d: f%05d not listed", n, procs, i)
				}
			}
		}
		fsys.Close()
	}
}

// TestSingleThreadStatsOnCaller checks that under SingleThread a batch
// large enough to be shared is stat'd by the caller alone, and still lists
// every entry.
func TestSingleThreadStatsOnCaller(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(maxStatWorkers))
	root := t.TempDir()
	const n = 3 * parallelStatMin
	for i := range n {
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%05d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		opts []Option
		want int
	}{{nil, maxStatWorkers}, {[]Option{SingleThread()}, 1}} {
		fsys, err := New(root, c.opts...)
		if err != nil {
			t.Fatal(err)
		}
		d, err := fsys.OpenDir(context.Background(), ".")
		if err != nil {
			t.Fatal(err)
		}
		ld := d.(*dir)
		if got := ld.statWorkers(); got != c.want {
			t.Errorf("%d options: %d workers, want %d", len(c.opts), got, c.want)
		}
		if ld.SingleThreaded() != (c.want == 1) {
			t.Errorf("%d options: SingleThreaded %v", len(c.opts), ld.SingleThreaded())
		}
		count := 0
		if err := ld.ReadDirInfo(func(fs.FileInfo) error { count++; return nil }); err != nil || count != n {
			t.Errorf("%d options: %d entries, %v; want %d", len(c.opts), count, err, n)
		}
		d.Close()
		fsys.Close()
	}
}

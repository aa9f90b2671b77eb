package local_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/fstest"
	"github.com/pierftp/pier/fsys/local"
)

func TestConformance(t *testing.T) {
	fstest.TestFileSystem(t, func(t *testing.T) pier.FileSystem {
		fsys, err := local.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fsys.Close() })
		return fsys
	})
}

// BenchmarkListing reads a folder of 20,000 files with each entry's Lstat
// information, as a listing does: ReadDir then Info, against ReadDirInfo.
func BenchmarkListing(b *testing.B) {
	dir := b.TempDir()
	for i := range 20000 {
		f, err := os.Create(filepath.Join(dir, "file-"+strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	fsys, err := local.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer fsys.Close()
	var size int64
	b.Run("ReadDir", func(b *testing.B) {
		for b.Loop() {
			d, err := fsys.OpenDir(context.Background(), ".")
			if err != nil {
				b.Fatal(err)
			}
			for {
				entries, err := d.ReadDir(256)
				for _, e := range entries {
					fi, err := e.Info()
					if err == nil {
						size += fi.Size()
					}
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			d.Close()
		}
	})
	b.Run("ReadDirInfo", func(b *testing.B) {
		for b.Loop() {
			d, err := fsys.OpenDir(context.Background(), ".")
			if err != nil {
				b.Fatal(err)
			}
			err = d.(pier.DirInfoReader).ReadDirInfo(func(fi fs.FileInfo) error {
				size += fi.Size()
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			d.Close()
		}
	})
}

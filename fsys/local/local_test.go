package local_test

import (
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

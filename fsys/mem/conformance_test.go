package mem_test

import (
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/fstest"
	"github.com/pierftp/pier/fsys/mem"
)

func TestConformance(t *testing.T) {
	fstest.TestFileSystem(t, func(t *testing.T) pier.FileSystem { return mem.New() })
}

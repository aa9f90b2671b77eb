package local_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/local"
)

func TestAvailable(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(os.TempDir(), filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	fsys, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	ctx := context.Background()
	supported := runtime.GOOS == "linux" || runtime.GOOS == "darwin" || runtime.GOOS == "freebsd"
	for _, name := range []string{".", "sub"} {
		n, err := fsys.Available(ctx, name)
		switch {
		case !supported && !errors.Is(err, pier.ErrNotSupported):
			t.Errorf("Available(%q) = %d, %v; want ErrNotSupported here", name, n, err)
		case supported && (err != nil || n <= 0):
			t.Errorf("Available(%q) = %d, %v", name, n, err)
		}
	}
	for _, tt := range []struct {
		name string
		want error
	}{
		{"f", syscall.ENOTDIR},
		{"missing", fs.ErrNotExist},
		{"out", pier.ErrOutsideRoot},
	} {
		if _, err := fsys.Available(ctx, tt.name); !errors.Is(err, tt.want) {
			t.Errorf("Available(%q): %v, want %v", tt.name, err, tt.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := fsys.Available(cancelled, "."); !errors.Is(err, context.Canceled) {
		t.Errorf("Available with a cancelled context: %v", err)
	}
}

package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestReadDirVanished: entries removed between the read of a folder and
// their description do not end a batched listing early. os.File.ReadDir(n)
// of a folder opened in an os.Root counts such entries against n and, when
// all n of a batch vanished, returns no entry and no error (Go 1.26), which
// io/fs forbids; a caller then stops or loops. Here the folder's names are
// read into os's buffer by the first call, and all but that one entry are
// then removed.
func TestReadDirVanished(t *testing.T) {
	root := t.TempDir()
	for i := range 10 {
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fsys, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	d, err := fsys.OpenDir(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	first, err := d.ReadDir(1)
	if err != nil || len(first) != 1 {
		t.Fatalf("ReadDir(1) = %d entries, %v", len(first), err)
	}
	for i := range 10 {
		if name := fmt.Sprintf("f%d", i); name != first[0].Name() {
			if err := os.Remove(filepath.Join(root, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := d.ReadDir(3)
	if len(entries) != 0 || err != io.EOF {
		t.Errorf("ReadDir(3) after the rest vanished = %d entries, %v; want none and io.EOF", len(entries), err)
	}
}

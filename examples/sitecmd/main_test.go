package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/pierftp/pier/ftptest"
)

func start(t *testing.T, dir string) *ftptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, dir, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return &ftptest.Server{Addr: ln.Addr().String()}
}

// makeTree creates files under dir, making their folders.
func makeTree(t *testing.T, dir string, files ...string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func exists(dir, name string) bool {
	_, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name)))
	return err == nil
}

func TestRMTREE(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir,
		"old/a.txt", "old/sub/b.txt", "old/sub/deeper/c.txt",
		"archive/2024/report.txt", "keep.txt")
	if err := os.Mkdir(filepath.Join(dir, "old", "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	srv := start(t, dir)

	anon := srv.Dial(t)
	anon.Expect(t, "SITE RMTREE old", 530) // before login
	anon.Login(t, "anonymous", "guest@")
	anon.Expect(t, "SITE RMTREE old", 550) // read-only: no 'd' anywhere

	c := srv.Dial(t)
	c.Login(t, "user", "12345")
	if help := c.Expect(t, "SITE HELP RMTREE", 214); help != "Syntax: SITE RMTREE <SP> path (remove a folder and its contents)." {
		t.Errorf("SITE HELP RMTREE: %q", help)
	}
	c.Expect(t, "SITE RMTREE", 501)
	c.Expect(t, "SITE RMTREE keep.txt", 550)  // not a folder
	c.Expect(t, "SITE RMTREE missing", 550)   // no such folder
	c.Expect(t, "SITE RMTREE /", 550)         // never the root
	c.Expect(t, "SITE RMTREE archive", 550)   // the override forbids 'd' there
	c.Expect(t, "SITE RMTREE ../../old", 250) // resolved inside the root
	if exists(dir, "old") {
		t.Error("old still exists")
	}
	for _, f := range []string{"keep.txt", "archive/2024/report.txt"} {
		if !exists(dir, f) {
			t.Errorf("%s was removed", f)
		}
	}
}

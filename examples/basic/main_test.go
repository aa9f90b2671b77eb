package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

// start runs the example on a loopback port until the test ends.
func start(t *testing.T, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, dir, "user", "12345", slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr, user, pass string) *ftp.ServerConn {
	t.Helper()
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Quit() })
	if err := c.Login(user, pass); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

func TestBasic(t *testing.T) {
	dir := t.TempDir()
	addr := start(t, dir)

	alice := dial(t, addr, "user", "12345")
	if err := alice.Stor("hello.txt", strings.NewReader("hello, world\n")); err != nil {
		t.Fatalf("user STOR: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "hello.txt")); string(got) != "hello, world\n" {
		t.Fatalf("uploaded file holds %q", got)
	}

	anon := dial(t, addr, "anonymous", "guest@example.com")
	r, err := anon.Retr("hello.txt")
	if err != nil {
		t.Fatalf("anonymous RETR: %v", err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != "hello, world\n" {
		t.Fatalf("anonymous RETR: %q, %v", got, err)
	}
	// Anonymous is read-only: uploads and deletes are refused.
	if err := anon.Stor("evil.txt", bytes.NewReader([]byte("x"))); err == nil || !strings.HasPrefix(err.Error(), "550") {
		t.Errorf("anonymous STOR: %v, want 550", err)
	}
	if err := anon.Delete("hello.txt"); err == nil || !strings.HasPrefix(err.Error(), "550") {
		t.Errorf("anonymous DELE: %v, want 550", err)
	}

	// A wrong password gets 530 (after the server's 3 s anti-guessing delay).
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("user", "wrong"); err == nil || !strings.HasPrefix(err.Error(), "530") {
		t.Errorf("wrong password: %v, want 530", err)
	}
}

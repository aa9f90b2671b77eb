package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/pierftp/pier/fsys/mem"
)

func start(t *testing.T, fsys *mem.FS) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, fsys, slog.New(slog.DiscardHandler)) }()
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

func TestMemFS(t *testing.T) {
	fsys := mem.New()
	if err := fsys.WriteFile("pub/readme.txt", []byte("seeded\n")); err != nil {
		t.Fatal(err)
	}
	addr := start(t, fsys)

	c := dial(t, addr, "user", "12345")
	if err := c.MakeDir("/uploads"); err != nil {
		t.Fatalf("MKD: %v", err)
	}
	if err := c.Stor("/uploads/a.txt", strings.NewReader("uploaded\n")); err != nil {
		t.Fatalf("STOR: %v", err)
	}
	if err := c.Rename("/uploads/a.txt", "/uploads/b.txt"); err != nil {
		t.Fatalf("RNFR/RNTO: %v", err)
	}

	// The upload is in the in-memory file system, not on disk.
	f, err := fsys.OpenFile(context.Background(), "uploads/b.txt", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != "uploaded\n" {
		t.Fatalf("uploads/b.txt holds %q", got)
	}

	anon := dial(t, addr, "anonymous", "guest@")
	names, err := anon.NameList("/")
	if err != nil {
		t.Fatalf("NLST: %v", err)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "pub,uploads" {
		t.Errorf("NLST /: %q", names)
	}
	r, err := anon.Retr("/pub/readme.txt")
	if err != nil {
		t.Fatalf("RETR: %v", err)
	}
	got, _ = io.ReadAll(r)
	r.Close()
	if string(got) != "seeded\n" {
		t.Errorf("RETR pub/readme.txt: %q", got)
	}
	if err := anon.Delete("/uploads/b.txt"); err == nil {
		t.Error("anonymous DELE succeeded")
	}
}

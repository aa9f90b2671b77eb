package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier/ftptest"
)

func start(t *testing.T, dir string, process func(upload) error) *ftptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, dir, 2, process, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return &ftptest.Server{Addr: ln.Addr().String()}
}

func TestChecksumInBackground(t *testing.T) {
	dir := t.TempDir()
	// The job waits until the test lets it go, standing for a long one.
	gate := make(chan struct{})
	release := sync.OnceFunc(func() { close(gate) })
	started := make(chan string, 1)
	srv := start(t, dir, func(u upload) error {
		started <- u.vpath
		<-gate
		return writeChecksum(u)
	})
	t.Cleanup(release) // before the server stops, which waits for the job

	data := []byte(strings.Repeat("pier ", 10000))
	uploader := srv.Dial(t)
	uploader.Login(t, "user", "12345")
	uploader.Store(t, "STOR data.bin", data) // 226 while the job is pending
	select {
	case p := <-started:
		if p != "/data.bin" {
			t.Fatalf("job for %q, want /data.bin", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the job did not start")
	}

	// While the job runs, the uploader and everyone else are served.
	uploader.Expect(t, "NOOP", 200)
	other := srv.Dial(t)
	other.Login(t, "user", "12345")
	if list := other.Retrieve(t, "NLST"); string(list) != "data.bin\r\n" {
		t.Fatalf("NLST during the job: %q", list)
	}

	release()
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:]) + "  data.bin\n"
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := os.ReadFile(filepath.Join(dir, "data.bin.sha256"))
		if string(got) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("data.bin.sha256 holds %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

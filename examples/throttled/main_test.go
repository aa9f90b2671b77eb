package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

func start(t *testing.T, dir string, limit int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, dir, limit, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return ln.Addr().String()
}

// TestThrottledRoundTrip checks that throttling keeps the data intact. It
// does not measure the rate, only that the transfer was not instant: a
// lower bound holds on any machine, an upper one would not.
func TestThrottledRoundTrip(t *testing.T) {
	const limit = 30 << 10
	addr := start(t, t.TempDir(), limit)
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("user", "12345"); err != nil {
		t.Fatal(err)
	}

	data := make([]byte, 45<<10) // 1.5 s each way at 30 KiB/s
	rand.Read(data)
	began := time.Now()
	if err := c.Stor("blob.bin", bytes.NewReader(data)); err != nil {
		t.Fatalf("STOR: %v", err)
	}
	r, err := c.Retr("blob.bin")
	if err != nil {
		t.Fatalf("RETR: %v", err)
	}
	got, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("RETR: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes that differ from the %d uploaded", len(got), len(data))
	}
	// Each direction may start with a small burst; 2 s for 90 KiB is far
	// below the 3 s the limit implies.
	if took := time.Since(began); took < 2*time.Second {
		t.Errorf("round trip of %d KiB took %v: not throttled", 2*len(data)>>10, took)
	}
}

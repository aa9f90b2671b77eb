package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pierftp/pier/xferlog"
)

// TestXferlogStalledDisk: with the transfer log's writes stuck (a FIFO
// nobody reads), a reopen (SIGUSR1, or a reload) returns at once, a
// second one too, and stopping the log ends after the flush timeout: a
// stalled disk holds neither a reload nor pier's exit.
func TestXferlogStalledDisk(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "xferlog")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	reader := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_RDONLY, 0)
		if err != nil {
			t.Error(err)
		}
		reader <- f // opened, never read
	}()
	w, err := xferlog.Open(fifo, &xferlog.Options{FlushTimeout: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r := <-reader
	defer r.Close()
	l := &transferLog{path: fifo, w: w}
	log := slog.New(slog.DiscardHandler)
	stop := l.watch(log)
	e := xferlog.Entry{Time: time.Now(), RemoteHost: "127.0.0.1", Bytes: 1, Path: "/a-rather-long-name-to-fill-the-pipe-sooner.bin", User: "alice"}
	// A pipe holds 64 KiB: these lines fill it and the queue behind it.
	for range 3000 {
		w.Queue(e)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.reopen(log)
		l.reopen(log) // while the first is pending
		syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		stop()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second): // a hang guard, not a timing threshold
		t.Fatal("a reopen or the stop waited on the stalled transfer log")
	}
}

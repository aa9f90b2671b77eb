package xferlog_test

import (
	"log"
	"os"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/xferlog"
)

func ExampleAppendLine() {
	os.Stdout.Write(xferlog.AppendLine(nil, xferlog.Entry{
		Time:       time.Date(2026, time.December, 6, 18, 0, 0, 0, time.UTC),
		Duration:   300 * time.Millisecond,
		RemoteHost: "192.0.2.7",
		Bytes:      1048576,
		Path:       "/pub/file.bin",
		User:       "alice",
		Complete:   true,
	}))
	// Output: Sun Dec  6 18:00:00 2026 1 192.0.2.7 1048576 /pub/file.bin b _ o r alice ftp 0 * c
}

// A Writer writes from its own goroutine: Close writes what is queued.
func ExampleNew() {
	w := xferlog.New(os.Stdout, &xferlog.Options{QueueSize: 100})
	w.Queue(xferlog.Entry{
		Time:       time.Date(2026, time.December, 6, 18, 0, 5, 0, time.UTC),
		Duration:   5 * time.Second,
		RemoteHost: "2001:db8::7",
		Bytes:      65536,
		Path:       "/incoming/big upload.iso",
		Incoming:   true,
		User:       "bob",
		Complete:   false, // cut by ABOR, or the connection was lost
	})
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	// Output: Sun Dec  6 18:00:05 2026 5 2001:db8::7 65536 /incoming/big_upload.iso b _ i r bob ftp 0 * i
}

// A server that logs its transfers to a file, reopened by logrotate.
func ExampleOpen() {
	srv := &pier.Server{Addr: "127.0.0.1:2121"}
	w, err := xferlog.Open(os.DevNull, nil)
	if err != nil {
		log.Fatal(err)
	}
	w.Install(srv)
	// ... go srv.ListenAndServe(); on SIGUSR1: w.Reopen();
	// on exit, srv.Shutdown(ctx), then:
	if err := w.Close(); err != nil {
		log.Print(err)
	}
	// Output:
}

package xferlog_test

import (
	"os"
	"time"

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

//go:build linux

package pier_test

import (
	"testing"
	"time"
)

// TestDownloadQueuesLittle: a download on loopback (large segments, see
// shapeMinSegment) whose client stops reading leaves little in the
// kernel. The server writes only what the client's window
// takes plus sendLowat (32 KiB) unsent, so it stops reading the file a few
// hundred KiB in; without the mark it filled a send buffer the kernel grows
// to megabytes (the cut-download tests used to rely on the server getting
// 1 MiB ahead).
func TestDownloadQueuesLittle(t *testing.T) {
	t.Parallel()
	srv, ofs, _ := outcomeSetup(t, nil, nil)
	writeFile(t, srv, "big", pattern(16<<20))
	c := outcomeLogin(t, srv)
	dc := startDownload(t, c, "big")
	f := ofs.waitOpened(t)
	// Wait until the server has stopped reading the file: the same count
	// ten times in a row, 50 ms apart (bounded by ioDeadline).
	var read int64
	for same, deadline := 0, time.Now().Add(ioDeadline); same < 10 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if n := f.read.Load(); n == read {
			same++
		} else {
			read, same = n, 0
		}
	}
	const most = 1 << 20
	if read >= most {
		t.Errorf("the server read %d bytes of the file for a client that took 64 KiB; want under %d", read, most)
	}
	resetConn(dc)
	c.ExpectReply(t, 426)
}

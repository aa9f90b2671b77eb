//go:build unix

package pier_test

import (
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pierftp/pier/ftptest"
)

// sendUrgent writes line with MSG_OOB, as Python's ftplib sends ABOR: the
// last byte becomes urgent data.
func sendUrgent(t *testing.T, c *ftptest.Conn, line string) {
	t.Helper()
	rc, err := c.Conn.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), []byte(line), unix.MSG_OOB, nil)
		return serr != unix.EAGAIN
	}); err != nil || serr != nil {
		t.Fatalf("send with MSG_OOB: %v, %v", err, serr)
	}
}

// TestUrgentABOR: an ABOR sent as urgent data (ftplib's abort()) is read
// whole, idle or during a transfer, and the session stays in step.
func TestUrgentABOR(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	writeFile(t, srv, "big", pattern(32<<20))
	c := login(t, srv)
	sendUrgent(t, c, "ABOR\r\n")
	c.ExpectReply(t, 225)
	c.Expect(t, "NOOP", 200)

	dc := c.Passive(t)
	c.Send(t, "RETR big")
	expectPrelim(t, c)
	buf := make([]byte, 1024)
	if _, err := dc.Read(buf); err != nil { // the transfer is under way
		t.Fatal(err)
	}
	sendUrgent(t, c, "ABOR\r\n")
	switch code, _, err := c.ReadReply(); {
	case err == nil && code == 426:
		c.ExpectReply(t, 226)
	case err == nil && code == 226: // all of it fitted in the socket buffers
		c.ExpectReply(t, 225)
	default:
		t.Fatalf("urgent ABOR during RETR: %d, %v", code, err)
	}
	c.Expect(t, "NOOP", 200)
}

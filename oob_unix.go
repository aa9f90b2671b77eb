//go:build unix

package pier

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// setOOBInline keeps urgent (out-of-band) data in the control connection's
// stream, as pyftpdlib does. Clients send ABOR, or the Telnet Synch before
// it, as urgent data (Python's ftplib sends "ABOR\r\n" with MSG_OOB, which
// makes its last byte urgent); without it the kernel takes that byte out of
// the stream, and the ABOR line and the one after it run together.
func setOOBInline(c net.Conn) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_OOBINLINE, 1)
	})
}

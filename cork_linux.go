package pier

import (
	"net"

	"golang.org/x/sys/unix"
)

// setCork sets (on) or clears TCP_CORK on tc. Clearing it sends what it
// held back at once.
func setCork(tc *net.TCPConn, on bool) error {
	v := 0
	if on {
		v = 1
	}
	return control(tc, func(fd int) error {
		return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_CORK, v)
	})
}

package pier

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// setRcvLowat sets the receive low-water mark (SO_RCVLOWAT) of tc: the
// kernel reports the socket readable, and so wakes the goroutine waiting
// on it, only once n bytes are queued, the peer has closed, or the
// receive window is full.
func setRcvLowat(tc *net.TCPConn, n int) error {
	return control(tc, func(fd int) error {
		return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVLOWAT, n)
	})
}

// queued returns how many bytes wait in tc's receive queue (SIOCINQ).
func queued(tc *net.TCPConn) (int, error) {
	var n int
	err := control(tc, func(fd int) (err error) {
		n, err = unix.IoctlGetInt(fd, unix.SIOCINQ)
		return err
	})
	return n, err
}

func control(tc *net.TCPConn, f func(fd int) error) error {
	rc, err := tc.SyscallConn()
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	return ferr
}

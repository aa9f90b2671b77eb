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

// setSendLowat sets TCP_NOTSENT_LOWAT on tc: a write or sendfile waits
// while n bytes or more that the kernel has not yet sent are queued, and
// a waiting writer is woken once fewer than n/2 are.
func setSendLowat(tc *net.TCPConn, n int) error {
	return control(tc, func(fd int) error {
		return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, n)
	})
}

// segmentSize returns tc's maximum segment size (TCP_MAXSEG) as the kernel
// holds it now: its path's, or less early in a connection whose peer
// offered a small window (see shapeMinSegment).
func segmentSize(tc *net.TCPConn) (mss int, err error) {
	err = control(tc, func(fd int) (err error) {
		mss, err = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_MAXSEG)
		return err
	})
	return mss, err
}

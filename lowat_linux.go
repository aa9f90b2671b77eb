package pier

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// lowatSupported reports whether the kernel handles a raised receive
// low-water mark well enough for uploads (see uploadLowat): Linux 5.11 or
// later.
var lowatSupported = sync.OnceValue(func() bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	return kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 5, 11)
})

// kernelAtLeast reports whether a kernel release such as "6.1.0-18-amd64"
// is major.minor or later; an unreadable one is not.
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	num := func(s string) (int, bool) {
		end := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
		if end == 0 {
			return 0, false
		}
		if end > 0 {
			s = s[:end]
		}
		n, err := strconv.Atoi(s)
		return n, err == nil
	}
	ma, ok1 := num(parts[0])
	mi, ok2 := num(parts[1])
	if !ok1 || !ok2 {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// setRcvLowat sets the receive low-water mark (SO_RCVLOWAT) of tc: the
// kernel reports the socket readable, and so wakes the goroutine waiting
// on it, only once n bytes are queued, the peer has closed, or (since
// Linux 5.11) the receive window is nearly full. Linux holds the mark to
// half of tcp_rmem's largest receive buffer, and enlarges the socket's
// receive buffer to hold it (since 4.18).
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

//go:build unix

package pier

import (
	"errors"
	"syscall"
)

// controlClosed reports whether the client has closed the control
// connection (or it was reset), without taking a byte from it: a peek that
// finds the end of the stream. An upload whose data connection ends
// cleanly while the control connection is gone is a client that died (a
// killed process closes both), not one that finished sending: it must not
// be committed as complete.
func (s *session) controlClosed() bool {
	sc, ok := s.conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var b [1]byte
	rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == nil:
			closed = n == 0
		case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
			closed = true
		}
	})
	return closed
}

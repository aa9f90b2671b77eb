//go:build unix

package pier

import (
	"net"
	"syscall"
)

// setBacklog asks for a larger accept queue on a listening TCP socket:
// listen(2) again on a listening socket only changes its backlog.
func setBacklog(ln net.Listener, n int) error {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), n) }); err != nil {
		return err
	}
	return lerr
}

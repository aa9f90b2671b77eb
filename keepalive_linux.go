//go:build linux

package pier

import (
	"net"
	"syscall"
)

// controlListenConfig sets the control connections' keep-alive once, on the
// listening socket: Linux copies SO_KEEPALIVE and the TCP_KEEP* options to
// every socket accept returns, so Go need not set them again on each one
// (four setsockopt calls a connection, a sixth of the system calls of a
// login).
func controlListenConfig() net.ListenConfig {
	return net.ListenConfig{
		KeepAlive: -1, // inherited from the listening socket, see Control
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				for _, o := range []struct{ level, name, value int }{
					{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, int(keepAliveIdle.Seconds())},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, int(keepAliveInterval.Seconds())},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, keepAliveCount},
				} {
					if serr = syscall.SetsockoptInt(int(fd), o.level, o.name, o.value); serr != nil {
						return
					}
				}
			})
			if err == nil && serr != nil {
				err = &net.OpError{Op: "setsockopt", Net: "tcp", Err: serr}
			}
			return err
		},
	}
}

//go:build linux

package pier

import (
	"net"
	"syscall"
	"testing"
)

// acceptOne dials ln and returns the connection it accepts.
func acceptOne(t *testing.T, ln net.Listener) *net.TCPConn {
	t.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// sockopt reads one integer socket option of c.
func sockopt(t *testing.T, c *net.TCPConn, level, name int) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), level, name) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// TestListenKeepAlive: control connections accepted by Listen's listener
// have TCP keep-alive on (Go's defaults: first probe after 15 s idle, then
// every 15 s, dropped after 9 unanswered), which keeps them open through
// NAT routers while a long transfer leaves them silent, and no Nagle delay
// for the replies.
func TestListenKeepAlive(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := acceptOne(t, ln)
	for _, o := range []struct {
		what        string
		level, name int
		want        int
	}{
		{"SO_KEEPALIVE", syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, 15},
		{"TCP_KEEPINTVL", syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, 15},
		{"TCP_KEEPCNT", syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, 9},
		{"TCP_NODELAY", syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1},
	} {
		if got := sockopt(t, c, o.level, o.name); got != o.want {
			t.Errorf("%s = %d, want %d", o.what, got, o.want)
		}
	}
}

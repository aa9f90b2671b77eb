//go:build linux

package pier

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
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
// have keep-alive on with pier's timings, inherited from the listening
// socket (Go no longer sets them on each connection), and no Nagle delay.
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
		{"TCP_KEEPIDLE", syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, int(keepAliveIdle / time.Second)},
		{"TCP_KEEPINTVL", syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, int(keepAliveInterval / time.Second)},
		{"TCP_KEEPCNT", syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, keepAliveCount},
		{"TCP_NODELAY", syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1},
	} {
		if got := sockopt(t, c, o.level, o.name); got != o.want {
			t.Errorf("%s = %d, want %d", o.what, got, o.want)
		}
	}
}

// TestDataKeepAlive: data connections have no keep-alive while the data
// timeout finds stalled transfers, and keep-alive when it is disabled.
func TestDataKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		timeout time.Duration
		want    int
	}{{0, 0}, {time.Minute, 0}, {-1, 1}} {
		s := &session{srv: &Server{DataTimeout: tc.timeout}}
		ln, err := listenData(netip.MustParseAddrPort("127.0.0.1:0"), s.dataKeepAlive())
		if err != nil {
			t.Fatal(err)
		}
		c := acceptOne(t, ln)
		ln.Close()
		if got := sockopt(t, c, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE); got != tc.want {
			t.Errorf("DataTimeout %v: SO_KEEPALIVE = %d, want %d", tc.timeout, got, tc.want)
		}
	}
}

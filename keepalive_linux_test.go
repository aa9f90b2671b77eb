//go:build linux

package pier

import (
	"context"
	"net"
	"net/netip"
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

// TestDataConnNagle: data connections, passive and active, have Nagle's
// algorithm back on (see nagle); only the control connection does without.
func TestDataConnNagle(t *testing.T) {
	srv := &Server{}
	loop := netip.MustParseAddr("127.0.0.1")
	s := &session{srv: srv, ctx: context.Background(),
		remote: netip.AddrPortFrom(loop, 1), local: netip.AddrPortFrom(loop, 21)}
	s.log.Store(srv.logger())

	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	dialed := make(chan net.Conn, 1)
	go func() {
		c, _ := net.Dial("tcp", ln.Addr().String())
		dialed <- c
	}()
	passive, _, err := s.openData(&transfer{}, ln, netip.AddrPort{})
	if c := <-dialed; c != nil {
		defer c.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	defer passive.Close()

	peer, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := peer.Accept()
		accepted <- c
	}()
	active, _, err := s.openData(&transfer{}, nil, addrPort(peer.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer active.Close()
	if c := <-accepted; c != nil {
		defer c.Close()
	}

	for name, c := range map[string]net.Conn{"passive": passive, "active": active} {
		if got := sockopt(t, c.(*net.TCPConn), syscall.IPPROTO_TCP, syscall.TCP_NODELAY); got != 0 {
			t.Errorf("%s data connection: TCP_NODELAY = %d, want 0", name, got)
		}
	}
}

package pier_test

// Settings (issue 16): one rule for numbers (zero is the default, negative
// is "none" where that makes sense, and Serve refuses the values that
// mean nothing), the per-address limit counted per IPv6 /64, and Listen's
// accept queue.

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
)

// addrListener hands out the connections its Listener accepts with the
// next of addrs as their remote address (then their own), as a client
// from those addresses would have them.
type addrListener struct {
	net.Listener
	mu    sync.Mutex
	addrs []netip.AddrPort
}

func (l *addrListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.addrs) == 0 {
		return c, nil
	}
	a := l.addrs[0]
	l.addrs = l.addrs[1:]
	return &addrConn{Conn: c, remote: net.TCPAddrFromAddrPort(a)}, nil
}

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c *addrConn) RemoteAddr() net.Addr { return c.remote }

// serveOwn serves srv on ln until the test ends, then shuts it down and
// checks that Serve returned ErrServerClosed.
func serveOwn(t *testing.T, srv *pier.Server, ln net.Listener) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
			srv.Close()
		}
		if err := <-done; !errors.Is(err, pier.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
}

// TestMaxConnectionsPerIPv6Net: MaxConnectionsPerIP counts an IPv6 /64 as
// one address: the third connection from one /64 is refused, whatever its
// host bits, and one from the next /64 is served.
func TestMaxConnectionsPerIPv6Net(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &addrListener{Listener: inner, addrs: []netip.AddrPort{
		netip.MustParseAddrPort("[2001:db8:1:2::1]:40001"),
		netip.MustParseAddrPort("[2001:db8:1:2::2]:40002"),
		netip.MustParseAddrPort("[2001:db8:1:2:ffff:ffff:ffff:ffff]:40003"),
		netip.MustParseAddrPort("[2001:db8:1:3::1]:40004"),
	}}
	var mu sync.Mutex
	var seen []netip.AddrPort
	srv := &pier.Server{
		MaxConnectionsPerIP: 2,
		Logger:              slog.New(slog.DiscardHandler),
		Hooks: pier.Hooks{Connect: func(s *pier.Session) error {
			mu.Lock()
			seen = append(seen, s.RemoteAddr())
			mu.Unlock()
			return nil
		}},
	}
	serveOwn(t, srv, ln)
	addr := inner.Addr().String()

	a := ftptest.Dial(t, addr)
	b := ftptest.Dial(t, addr)
	third := (&ftptest.Server{Addr: addr}).DialRaw(t)
	code, text, err := third.ReadReply()
	if err != nil || code != 421 || text != "Too many connections from the same IP address." {
		t.Fatalf("third connection from 2001:db8:1:2::/64: %d %q %v, want 421 Too many connections from the same IP address.", code, text, err)
	}
	expectClosed(t, third)
	other := ftptest.Dial(t, addr) // 2001:db8:1:3::1: its own count
	other.Expect(t, "NOOP", 200)
	a.Expect(t, "NOOP", 200)
	b.Expect(t, "NOOP", 200)
	mu.Lock()
	defer mu.Unlock()
	want := []string{"[2001:db8:1:2::1]:40001", "[2001:db8:1:2::2]:40002", "[2001:db8:1:3::1]:40004"}
	if len(seen) != len(want) {
		t.Fatalf("sessions from %v, want %v", seen, want)
	}
	for i, w := range want {
		if seen[i].String() != w {
			t.Errorf("session %d from %v, want %s", i, seen[i], w)
		}
	}
}

// TestNegativeConnectTimeout: a negative ConnectTimeout means no limit on
// the wait for a data connection, not "expired at once": PASV and EPSV
// transfers work.
func TestNegativeConnectTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.ConnectTimeout = -1 })
	data := pattern(256 << 10)
	writeFile(t, srv, "f", data)
	c := login(t, srv)

	// PASV, by hand.
	ap := parsePASV(t, c.Expect(t, "PASV", 227))
	dc := dial(t, ap.String(), netip.Addr{})
	c.Send(t, "RETR f")
	expectPrelim(t, c)
	if got := readAll(t, dc); string(got) != string(data) {
		t.Fatalf("PASV RETR: %d bytes, want %d", len(got), len(data))
	}
	c.ExpectReply(t, 226)

	ap = parsePASV(t, c.Expect(t, "PASV", 227))
	dc = dial(t, ap.String(), netip.Addr{})
	c.Send(t, "STOR g")
	expectPrelim(t, c)
	dc.SetWriteDeadline(time.Now().Add(ioDeadline))
	if _, err := dc.Write(data); err != nil {
		t.Fatal(err)
	}
	dc.Close()
	c.ExpectReply(t, 226)
	if got := readFile(t, srv, "g"); string(got) != string(data) {
		t.Fatalf("PASV STOR: %d bytes, want %d", len(got), len(data))
	}

	// EPSV too, and a listing.
	if got := c.Retrieve(t, "RETR f"); string(got) != string(data) {
		t.Fatalf("EPSV RETR: %d bytes", len(got))
	}
	if got := c.Retrieve(t, "NLST"); !strings.Contains(string(got), "g") {
		t.Fatalf("NLST: %q", got)
	}
}

// TestNegativeMaxLoginAttempts: a negative MaxLoginAttempts never closes
// the connection for failed logins; each gets 530, and a right password
// still logs in.
func TestNegativeMaxLoginAttempts(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) {
		s.MaxLoginAttempts = -1
		s.LoginFailDelay = -1 // no delay
	})
	c := srv.Dial(t)
	for i := range 5 {
		c.Expect(t, "USER "+ftptest.User, 331)
		if text := c.Expect(t, "PASS wrong"+strconv.Itoa(i), 530); text != "Authentication failed." {
			t.Fatalf("failure %d: %q", i+1, text)
		}
	}
	c.Expect(t, "NOOP", 200)
	c.Login(t, ftptest.User, ftptest.Password)
	c.Expect(t, "PWD", 257)
}

// TestServeRefusesBadSettings: Serve refuses the values that mean
// nothing, with an error that names the field, and closes the listener.
func TestServeRefusesBadSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		field string
		set   func(*pier.Server)
	}{
		{"MaxLineLength", func(s *pier.Server) { s.MaxLineLength = -1 }},
		{"MaxLineLength", func(s *pier.Server) { s.MaxLineLength = 10 }},
		{"BanTime", func(s *pier.Server) { s.BanTime = -time.Second }},
		{"ReadLimit", func(s *pier.Server) { s.ReadLimit = -1 }},
		{"WriteLimit", func(s *pier.Server) { s.WriteLimit = -1 }},
		{"TotalReadLimit", func(s *pier.Server) { s.TotalReadLimit = -1 }},
		{"PassivePorts", func(s *pier.Server) { s.PassivePorts = pier.PortRange{First: 2000, Last: 1000} }},
		{"PassivePorts", func(s *pier.Server) { s.PassivePorts = pier.PortRange{First: 2000} }},
		{"PassivePorts", func(s *pier.Server) { s.PassivePorts = pier.PortRange{Last: 2000} }},
		{"PublicAddr", func(s *pier.Server) { s.PublicAddr = netip.MustParseAddr("2001:db8::1") }},
	} {
		s := &pier.Server{Logger: slog.New(slog.DiscardHandler)}
		tc.set(s)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Serve(ln) }()
		select {
		case err = <-done:
		case <-time.After(ioDeadline):
			s.Close()
			t.Fatalf("%s: Serve accepted the setting and serves", tc.field)
		}
		if err == nil || errors.Is(err, pier.ErrServerClosed) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Serve returned %v, want an error naming %s", tc.field, err, tc.field)
		}
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), ioDeadline); err == nil {
			c.Close()
			t.Errorf("%s: the listener is still open", tc.field)
		}
	}
}

// TestServeAcceptsEdgeSettings: the smallest line length, a one-port
// passive range and an IPv4-mapped PublicAddr are valid.
func TestServeAcceptsEdgeSettings(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) {
		s.MaxLineLength = 64
		s.PublicAddr = netip.MustParseAddr("::ffff:127.0.0.1")
		s.IdleTimeout = -1
		s.DataTimeout = -1
		s.BanAfter = -1
	})
	c := login(t, srv)
	ap := parsePASV(t, c.Expect(t, "PASV", 227))
	if ap.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("PASV advertised %v", ap)
	}
	c.Expect(t, "MKD "+strings.Repeat("d", 60), 257) // 64 bytes with "MKD "
	c.Expect(t, "MKD "+strings.Repeat("d", 61), 500)
}

// TestListenBacklog: pier.Listen's accept queue is larger than the 128
// that many systems default to: 200 connections wait in it, none
// accepted, and the kernel reports it larger than 128 (where ss is there
// to ask).
func TestListenBacklog(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		t.Skipf("can't read net.core.somaxconn: %v", err)
	}
	somaxconn, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || somaxconn <= 200 {
		t.Skipf("net.core.somaxconn is %q: the kernel caps the backlog", b)
	}
	ln, err := pier.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	if ss, err := exec.LookPath("ss"); err == nil {
		out, err := exec.Command(ss, "-ltnH", "sport = :"+strconv.Itoa(port)).Output()
		if err == nil {
			// State Recv-Q Send-Q Local Peer: a listener's Send-Q is its
			// backlog.
			f := strings.Fields(string(out))
			if len(f) < 3 {
				t.Fatalf("ss: %q", out)
			}
			backlog, err := strconv.Atoi(f[2])
			if err != nil || backlog <= 128 || backlog != min(somaxconn, 65535) {
				t.Errorf("backlog %q (ss: %q), want min(somaxconn %d, 65535)", f[2], out, somaxconn)
			}
		}
	}

	conns := make([]net.Conn, 0, 200)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 200 {
		// A full queue would drop the SYN: the dial would hang, until
		// ioDeadline.
		c, err := net.DialTimeout("tcp", ln.Addr().String(), ioDeadline)
		if err != nil {
			t.Fatalf("connection %d not queued: %v", i+1, err)
		}
		conns = append(conns, c)
	}
}

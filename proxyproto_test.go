package pier_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
	"github.com/pires/go-proxyproto"
)

// PROXY protocol (proxyproto.go): the tests play the proxy, writing the
// header themselves before the FTP dialogue.

var (
	loopback1 = netip.MustParseAddr("127.0.0.1")
	client5   = netip.MustParseAddr("127.0.0.5")
	client6   = netip.MustParseAddr("127.0.0.6")
	docAddr   = netip.MustParseAddr("192.0.2.9")
)

// proxyHeader formats a PROXY header (version 1 or 2) that names src as
// the client of a connection to dst.
func proxyHeader(t *testing.T, version byte, src, dst netip.AddrPort) []byte {
	t.Helper()
	h := proxyproto.HeaderProxyFromAddrs(version, net.TCPAddrFromAddrPort(src), net.TCPAddrFromAddrPort(dst))
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// localHeader is a v2 LOCAL header: a proxy's own connection (a health
// check).
func localHeader(t *testing.T) []byte {
	t.Helper()
	b, err := (&proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}).Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// proxyDial connects to addr from the local address from and writes
// header (if any) at once, as a proxy does.
func proxyDial(t *testing.T, addr string, from netip.Addr, header []byte) *textproto.Conn {
	t.Helper()
	nc := dial(t, addr, from)
	nc.SetDeadline(time.Now().Add(ioDeadline))
	if len(header) > 0 {
		if _, err := nc.Write(header); err != nil {
			t.Fatal(err)
		}
	}
	return textproto.NewConn(nc)
}

// expectReply reads one reply and checks its code.
func expectReply(t *testing.T, c *textproto.Conn, code int) string {
	t.Helper()
	got, text, err := c.ReadResponse(0)
	if err != nil && got == 0 || got != code {
		t.Fatalf("got %d %q (%v), want %d", got, text, err, code)
	}
	return text
}

// command sends a command and checks the code of its reply.
func command(t *testing.T, c *textproto.Conn, line string, code int) string {
	t.Helper()
	if err := c.PrintfLine("%s", line); err != nil {
		t.Fatal(err)
	}
	return expectReply(t, c, code)
}

// expectNoBanner checks that the server closes c without a reply.
func expectNoBanner(t *testing.T, c *textproto.Conn) {
	t.Helper()
	line, err := c.ReadLine()
	if err == nil {
		t.Fatalf("got %q, want the connection closed", line)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection still open: read timed out")
	}
}

// proxiedServer starts a server that takes PROXY headers from trusted,
// its log in the returned buffer.
func proxiedServer(t *testing.T, trusted string, configure func(*pier.Server)) (*ftptest.Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	srv := newServer(t, func(s *pier.Server) {
		s.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix(trusted)}
		s.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		if configure != nil {
			configure(s)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	return srv, logs
}

func TestProxyProtocolClientAddress(t *testing.T) {
	for _, version := range []byte{1, 2} {
		t.Run("v"+string('0'+rune(version)), func(t *testing.T) {
			var mu sync.Mutex
			var hooked []netip.AddrPort
			srv, logs := proxiedServer(t, "127.0.0.0/8", func(s *pier.Server) {
				s.Hooks.Connect = func(s *pier.Session) error {
					mu.Lock()
					hooked = append(hooked, s.RemoteAddr())
					mu.Unlock()
					return nil
				}
			})
			client := netip.AddrPortFrom(docAddr, 40000)
			c := proxyDial(t, srv.Addr, loopback1, proxyHeader(t, version, client, srv.LoopbackAddr()))
			expectReply(t, c, 220)
			stat := command(t, c, "STAT", 211)
			if !strings.Contains(stat, "Connected to: 192.0.2.9:40000") {
				t.Errorf("STAT: %q, want Connected to: 192.0.2.9:40000", stat)
			}
			command(t, c, "QUIT", 221)
			mu.Lock()
			defer mu.Unlock()
			if len(hooked) != 1 || hooked[0] != client {
				t.Errorf("Connect hook saw %v, want [%v]", hooked, client)
			}
			if !strings.Contains(logs.String(), "remote=192.0.2.9:40000") {
				t.Error("the log does not name the client 192.0.2.9:40000")
			}
		})
	}
}

func TestProxyProtocolBansAndLimits(t *testing.T) {
	srv, _ := proxiedServer(t, "127.0.0.1/32", func(s *pier.Server) { s.MaxConnectionsPerIP = 1 })
	srv.Ban(docAddr, time.Hour)
	dst := srv.LoopbackAddr()

	banned := proxyDial(t, srv.Addr, loopback1, proxyHeader(t, 2, netip.AddrPortFrom(docAddr, 1234), dst))
	expectReply(t, banned, 421)

	// The proxy's own address is not banned, nor limited to one
	// connection: two clients through it are served.
	a := proxyDial(t, srv.Addr, loopback1, proxyHeader(t, 2, netip.AddrPortFrom(client5, 1000), dst))
	expectReply(t, a, 220)
	b := proxyDial(t, srv.Addr, loopback1, proxyHeader(t, 1, netip.AddrPortFrom(client6, 1000), dst))
	expectReply(t, b, 220)
	// A second connection of one client is over its limit.
	again := proxyDial(t, srv.Addr, loopback1, proxyHeader(t, 2, netip.AddrPortFrom(client5, 1001), dst))
	expectReply(t, again, 421)
}

func TestProxyProtocolRefusals(t *testing.T) {
	t.Run("missing header", func(t *testing.T) {
		srv, logs := proxiedServer(t, "127.0.0.0/8", func(s *pier.Server) { s.ConnectTimeout = 200 * time.Millisecond })
		// A silent peer is closed when the header's time is up.
		expectNoBanner(t, proxyDial(t, srv.Addr, loopback1, nil))
		// A client speaking FTP straight away, several times: closed at
		// once, logged without a line for each.
		const attempts = 5
		for range attempts {
			expectNoBanner(t, proxyDial(t, srv.Addr, loopback1, []byte("USER anonymous\r\n")))
		}
		if n := strings.Count(logs.String(), "connection without a valid PROXY header closed"); n == 0 || n >= attempts {
			t.Errorf("%d log lines for %d bad headers, want them collapsed", n, attempts+1)
		}
	})
	t.Run("malformed v2", func(t *testing.T) {
		srv, logs := proxiedServer(t, "127.0.0.0/8", nil)
		bad := proxyHeader(t, 2, netip.AddrPortFrom(docAddr, 1), srv.LoopbackAddr())
		bad[13] = 0x99 // an undefined address family
		expectNoBanner(t, proxyDial(t, srv.Addr, loopback1, bad))
		eventually(t, "the bad header is logged", func() bool {
			return strings.Contains(logs.String(), "connection without a valid PROXY header closed")
		})
	})
	t.Run("health checks", func(t *testing.T) {
		srv, logs := proxiedServer(t, "127.0.0.0/8", nil)
		expectNoBanner(t, proxyDial(t, srv.Addr, loopback1, localHeader(t)))
		c := proxyDial(t, srv.Addr, loopback1, nil)
		c.Close() // connect and close, as a TCP check does
		reset := dial(t, srv.Addr, loopback1)
		reset.(*net.TCPConn).SetLinger(0)
		reset.Close() // or connect and reset
		eventually(t, "the checks are seen", func() bool {
			return strings.Count(logs.String(), "proxy health check") == 3
		})
		if strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=INFO") {
			t.Errorf("health checks logged above debug:\n%s", logs)
		}
	})
	for _, version := range []byte{1, 2} {
		t.Run("untrusted v"+string('0'+rune(version)), func(t *testing.T) {
			srv, logs := proxiedServer(t, "127.0.0.2/32", nil)
			hdr := proxyHeader(t, version, netip.AddrPortFrom(docAddr, 1), srv.LoopbackAddr())
			c := proxyDial(t, srv.Addr, loopback1, hdr)
			expectReply(t, c, 220)
			expectReply(t, c, 421)
			expectNoBanner(t, c)
			if !strings.Contains(logs.String(), "PROXY header from an untrusted address refused") {
				t.Error("the refusal is not logged")
			}
			// Without a header, the same address is served as itself.
			plain := proxyDial(t, srv.Addr, loopback1, nil)
			expectReply(t, plain, 220)
			if stat := command(t, plain, "STAT", 211); !strings.Contains(stat, "Connected to: 127.0.0.1:") {
				t.Errorf("STAT: %q", stat)
			}
		})
	}
}

// proxiedLogin logs in through the test's "proxy" on 127.0.0.1 as client.
func proxiedLogin(t *testing.T, srv *ftptest.Server, client netip.Addr) *textproto.Conn {
	t.Helper()
	c := proxyDial(t, srv.Addr, loopback1, proxyHeader(t, 2, netip.AddrPortFrom(client, 2000), srv.LoopbackAddr()))
	expectReply(t, c, 220)
	command(t, c, "USER "+ftptest.User, 331)
	command(t, c, "PASS "+ftptest.Password, 230)
	command(t, c, "TYPE I", 200)
	return c
}

// proxiedData opens a data connection to port through the "proxy", with a
// header naming client, followed at once by early (if any).
func proxiedData(t *testing.T, srv *ftptest.Server, port uint16, client netip.Addr, early []byte) net.Conn {
	t.Helper()
	dst := netip.AddrPortFrom(srv.LoopbackAddr().Addr(), port)
	dc := dial(t, dst.String(), loopback1)
	dc.SetDeadline(time.Now().Add(ioDeadline))
	msg := append(proxyHeader(t, 1, netip.AddrPortFrom(client, 3000), dst), early...)
	if _, err := dc.Write(msg); err != nil {
		t.Fatal(err)
	}
	return dc
}

func TestProxyProtocolPassiveData(t *testing.T) {
	content := []byte("data behind a proxy\n")
	t.Run("same client", func(t *testing.T) {
		srv, _ := proxiedServer(t, "127.0.0.0/8", nil)
		writeFile(t, srv, "f", content)
		c := proxiedLogin(t, srv, client5)
		port := parsePASV(t, command(t, c, "PASV", 227)).Port()
		// A thief's connection comes first, naming another client: it is
		// refused, and the transfer goes to the real client's.
		thief := proxiedData(t, srv, port, client6, nil)
		real := proxiedData(t, srv, port, client5, nil)
		command(t, c, "RETR f", 150)
		if got := readAll(t, real); string(got) != string(content) {
			t.Errorf("RETR: got %q", got)
		}
		expectReply(t, c, 226)
		if n, err := thief.Read(make([]byte, 1)); err == nil || n != 0 {
			t.Errorf("the thief's connection got data (%d, %v)", n, err)
		}
	})
	t.Run("upload with the header", func(t *testing.T) {
		srv, _ := proxiedServer(t, "127.0.0.0/8", nil)
		c := proxiedLogin(t, srv, client5)
		port := parseEPSV(t, command(t, c, "EPSV", 229))
		// The first bytes of the upload travel with the header.
		dc := proxiedData(t, srv, port, client5, content[:5])
		command(t, c, "STOR up", 150)
		if _, err := dc.Write(content[5:]); err != nil {
			t.Fatal(err)
		}
		dc.Close()
		expectReply(t, c, 226)
		if got := readFile(t, srv, "up"); string(got) != string(content) {
			t.Errorf("STOR: got %q", got)
		}
	})
	t.Run("foreign permitted", func(t *testing.T) {
		srv, _ := proxiedServer(t, "127.0.0.0/8", func(s *pier.Server) { s.PermitForeignAddresses = true })
		writeFile(t, srv, "f", content)
		c := proxiedLogin(t, srv, client5)
		port := parsePASV(t, command(t, c, "PASV", 227)).Port()
		other := proxiedData(t, srv, port, client6, nil)
		command(t, c, "RETR f", 150)
		if got := readAll(t, other); string(got) != string(content) {
			t.Errorf("RETR: got %q", got)
		}
		expectReply(t, c, 226)
	})
}

// TestProxyProtocolActiveBounce: PORT is checked against the real client,
// not the proxy.
func TestProxyProtocolActiveBounce(t *testing.T) {
	srv, _ := proxiedServer(t, "127.0.0.0/8", nil)
	c := proxiedLogin(t, srv, client5)
	_, proxyArg := listenActive(t, "127.0.0.1")
	command(t, c, "PORT "+proxyArg, 501)
	ln, clientArg := listenActive(t, "127.0.0.5")
	writeFile(t, srv, "f", []byte("x"))
	command(t, c, "PORT "+clientArg, 200)
	command(t, c, "RETR f", 150)
	if got := readAll(t, accept(t, ln)); string(got) != "x" {
		t.Errorf("RETR: got %q", got)
	}
	expectReply(t, c, 226)
}

func TestPublicAddrFor(t *testing.T) {
	srv, _ := proxiedServer(t, "127.0.0.1/32", func(s *pier.Server) {
		s.PublicAddr = netip.MustParseAddr("203.0.113.1")
		s.PublicAddrFor = []pier.NATRule{
			{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Addr: netip.MustParseAddr("198.51.100.8")},
			{Prefix: netip.MustParsePrefix("127.0.0.5/32"), Addr: netip.MustParseAddr("198.51.100.5")},
			{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Addr: netip.MustParseAddr("198.51.100.10")},
		}
	})
	for _, tc := range []struct {
		name   string
		from   netip.Addr // the connection's own address
		header netip.Addr // the client a PROXY header names, if any
		want   string
	}{
		{"most specific", client5, netip.Addr{}, "(198,51,100,5,"},
		{"network", client6, netip.Addr{}, "(198,51,100,8,"},
		{"proxied client", loopback1, netip.MustParseAddr("10.1.2.3"), "(198,51,100,10,"},
		{"everyone else", loopback1, docAddr, "(203,0,113,1,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []byte
			if tc.header.IsValid() {
				hdr = proxyHeader(t, 2, netip.AddrPortFrom(tc.header, 5000), srv.LoopbackAddr())
			}
			c := proxyDial(t, srv.Addr, tc.from, hdr)
			expectReply(t, c, 220)
			command(t, c, "USER "+ftptest.User, 331)
			command(t, c, "PASS "+ftptest.Password, 230)
			if text := command(t, c, "PASV", 227); !strings.Contains(text, tc.want) {
				t.Errorf("PASV: %q, want %s...", text, tc.want)
			}
			if text := command(t, c, "EPSV", 229); !strings.HasPrefix(text, "Entering extended passive mode (|||") {
				t.Errorf("EPSV: %q", text)
			}
		})
	}
}

func TestProxySettingsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*pier.Server)
	}{
		{"IPv6 NAT address", func(s *pier.Server) {
			s.PublicAddrFor = []pier.NATRule{{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Addr: netip.MustParseAddr("2001:db8::1")}}
		}},
		{"no prefix", func(s *pier.Server) {
			s.PublicAddrFor = []pier.NATRule{{Addr: netip.MustParseAddr("192.0.2.1")}}
		}},
		{"invalid proxy network", func(s *pier.Server) { s.ProxyProtocolFrom = []netip.Prefix{{}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &pier.Server{}
			tc.set(s)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Serve(ln); err == nil || !strings.Contains(err.Error(), "bad settings") {
				t.Errorf("Serve: %v, want bad settings", err)
			}
		})
	}
}

// TestProxyProtocolShutdownWhileWaiting: a proxy that never sends its
// header does not hold up Shutdown.
func TestProxyProtocolShutdownWhileWaiting(t *testing.T) {
	srv, _ := proxiedServer(t, "127.0.0.0/8", func(s *pier.Server) { s.ConnectTimeout = time.Hour })
	silent := proxyDial(t, srv.Addr, loopback1, nil)
	// The accept loop took the silent connection before this one.
	c := proxyDial(t, srv.Addr, loopback1, proxyHeader(t, 2, netip.AddrPortFrom(client5, 1), srv.LoopbackAddr()))
	expectReply(t, c, 220)
	ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	expectNoBanner(t, silent)
}

// TestProxyProtocolWaitingBounded: connections from a proxy network that
// send no header don't pile up past MaxConnections: the next is closed at
// once, and a proxy's connection with its header is served again once a
// waiting one has gone.
func TestProxyProtocolWaitingBounded(t *testing.T) {
	srv, logs := proxiedServer(t, "127.0.0.0/8", func(s *pier.Server) {
		s.ConnectTimeout = time.Hour
		s.MaxConnections = 3
	})
	var silent []*textproto.Conn
	for range 3 {
		silent = append(silent, proxyDial(t, srv.Addr, loopback1, nil))
	}
	// The accept loop takes connections in order: these three wait.
	over := proxyDial(t, srv.Addr, loopback1, nil)
	expectNoBanner(t, over)
	if !strings.Contains(logs.String(), "too many connections waiting for their PROXY header") {
		t.Errorf("the refusal is not logged:\n%s", logs)
	}
	silent[0].Close()
	var c *textproto.Conn
	waitFor(t, "a proxied connection served again", func() bool {
		c = proxyDial(t, srv.Addr, loopback1, proxyHeader(t, 2, netip.AddrPortFrom(client5, 1), srv.LoopbackAddr()))
		if _, err := c.ReadLine(); err != nil {
			c.Close()
			return false
		}
		return true
	})
	c.Close()
}

// headerFirst is a proxy's connection whose first write carries the PROXY
// header too, as a proxy that coalesces them sends it.
type headerFirst struct {
	net.Conn
	header []byte
}

func (c *headerFirst) Write(p []byte) (int, error) {
	if h := c.header; h != nil {
		c.header = nil
		if _, err := c.Conn.Write(append(h, p...)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// TestProxyProtocolImplicitTLS: the ClientHello of implicit FTPS may come
// in the same segment as the header.
func TestProxyProtocolImplicitTLS(t *testing.T) {
	srv, cfg := tlsServer(t, func(s *ftptest.Server) {
		s.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln)
	dst := netip.MustParseAddrPort(ln.Addr().String())
	nc := dial(t, dst.String(), loopback1)
	nc.SetDeadline(time.Now().Add(ioDeadline))
	tc := tls.Client(&headerFirst{Conn: nc, header: proxyHeader(t, 2, netip.AddrPortFrom(docAddr, 7), dst)}, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c := textproto.NewConn(tc)
	expectReply(t, c, 220)
	if stat := command(t, c, "STAT", 211); !strings.Contains(stat, "Connected to: 192.0.2.9:7") {
		t.Errorf("STAT: %q", stat)
	}
}

// TestProxyProtocolPassiveAddress checks that PASV behind a proxy gives
// the address the client connected to (the proxy's, from the header)
// when no public address is set, and the public address when one is.
func TestProxyProtocolPassiveAddress(t *testing.T) {
	proxyAddr := netip.MustParseAddrPort("127.0.0.9:21")
	for _, tc := range []struct {
		name   string
		public netip.Addr
		want   string
	}{
		{"header's address", netip.Addr{}, "(127,0,0,9,"},
		{"public address wins", netip.MustParseAddr("127.0.0.7"), "(127,0,0,7,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := proxiedServer(t, "127.0.0.0/8", func(s *pier.Server) { s.PublicAddr = tc.public })
			c := proxyDial(t, srv.Addr, loopback1, proxyHeader(t, 2, netip.AddrPortFrom(docAddr, 2000), proxyAddr))
			expectReply(t, c, 220)
			command(t, c, "USER "+ftptest.User, 331)
			command(t, c, "PASS "+ftptest.Password, 230)
			if got := command(t, c, "PASV", 227); !strings.Contains(got, tc.want) {
				t.Errorf("PASV: %q, want %s...", got, tc.want)
			}
		})
	}
	t.Run("no proxy", func(t *testing.T) {
		srv := ftptest.NewServer(t, nil)
		c := srv.Dial(t)
		c.Login(t, ftptest.User, ftptest.Password)
		if got := c.Expect(t, "PASV", 227); !strings.Contains(got, "(127,0,0,1,") {
			t.Errorf("PASV: %q, want the control connection's address", got)
		}
	})
}

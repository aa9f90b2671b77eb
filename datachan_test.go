package pier_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
)

var (
	pasvRE = regexp.MustCompile(`^Entering passive mode \(\d{1,3},\d{1,3},\d{1,3},\d{1,3},\d{1,3},\d{1,3}\)\.$`)
	epsvRE = regexp.MustCompile(`^Entering extended passive mode \(\|\|\|\d{1,5}\|\)\.$`)
)

func TestPASVAndEPSVReplies(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	writeFile(t, srv, "f", []byte("data"))

	t.Run("PASV", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		text := c.Expect(t, "PASV", 227)
		if !pasvRE.MatchString(text) {
			t.Fatalf("227 text %q", text)
		}
		ap := parsePASV(t, text)
		if ap.Addr() != netip.MustParseAddr("127.0.0.1") || ap.Port() == 0 {
			t.Fatalf("PASV address %v, want 127.0.0.1 and a port", ap)
		}
		dc := dial(t, ap.String(), netip.Addr{})
		c.Send(t, "RETR f")
		expectPrelim(t, c)
		if got := readAll(t, dc); string(got) != "data" {
			t.Errorf("got %q", got)
		}
		c.ExpectReply(t, 226)
	})

	tests := []struct {
		line string
		code int
	}{
		{"EPSV", 229},
		{"EPSV 1", 229},
		{"epsv 1", 229},
		{"EPSV 2", 522}, // IPv6 on an IPv4 connection
		{"EPSV 3", 522},
		{"EPSV x", 501},
		{"EPSV |||", 501},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			text := c.Expect(t, tt.line, tt.code)
			if tt.code != 229 {
				return
			}
			if !epsvRE.MatchString(text) {
				t.Fatalf("229 text %q", text)
			}
			dc := dial(t, fmt.Sprintf("127.0.0.1:%d", parseEPSV(t, text)), netip.Addr{})
			c.Send(t, "RETR f")
			expectPrelim(t, c)
			if got := readAll(t, dc); string(got) != "data" {
				t.Errorf("got %q", got)
			}
			c.ExpectReply(t, 226)
		})
	}

	t.Run("a new PASV replaces the previous one", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		first := parsePASV(t, c.Expect(t, "PASV", 227))
		second := parsePASV(t, c.Expect(t, "PASV", 227))
		if first == second {
			t.Skip("the kernel gave the same port twice")
		}
		// The first listener is closed.
		if conn, err := net.DialTimeout("tcp", first.String(), ioDeadline); err == nil {
			conn.Close()
			t.Errorf("the first passive port %v still accepts", first)
		}
		dc := dial(t, second.String(), netip.Addr{})
		c.Send(t, "RETR f")
		expectPrelim(t, c)
		readAll(t, dc)
		c.ExpectReply(t, 226)
	})
}

func TestPASVPublicAddr(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.PublicAddr = netip.MustParseAddr("203.0.113.7") })
	writeFile(t, srv, "f", []byte("data"))
	c := login(t, srv)
	ap := parsePASV(t, c.Expect(t, "PASV", 227))
	if want := netip.MustParseAddr("203.0.113.7"); ap.Addr() != want {
		t.Fatalf("PASV advertised %v, want %v", ap.Addr(), want)
	}
	// The listener itself is on the real address.
	dc := dial(t, fmt.Sprintf("127.0.0.1:%d", ap.Port()), netip.Addr{})
	c.Send(t, "RETR f")
	expectPrelim(t, c)
	if got := readAll(t, dc); string(got) != "data" {
		t.Errorf("got %q", got)
	}
	c.ExpectReply(t, 226)
	// EPSV carries no address, and still works.
	if got := c.Retrieve(t, "RETR f"); string(got) != "data" {
		t.Errorf("EPSV: got %q", got)
	}
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

func TestPassivePorts(t *testing.T) {
	t.Parallel()

	t.Run("in range", func(t *testing.T) {
		t.Parallel()
		first := freePort(t)
		if first > 65000 {
			first = 50000
		}
		r := pier.PortRange{First: first, Last: first + 3}
		srv := newServer(t, func(s *pier.Server) { s.PassivePorts = r })
		writeFile(t, srv, "f", []byte("data"))
		c := login(t, srv)
		for i := range 8 {
			cmd := []string{"PASV", "EPSV"}[i%2]
			text := c.Expect(t, cmd, map[string]int{"PASV": 227, "EPSV": 229}[cmd])
			var port uint16
			if cmd == "PASV" {
				port = parsePASV(t, text).Port()
			} else {
				port = parseEPSV(t, text)
			}
			if port < r.First || port > r.Last {
				t.Fatalf("%s gave port %d, outside %v", cmd, port, r)
			}
		}
		dc := dial(t, parsePASV(t, c.Expect(t, "PASV", 227)).String(), netip.Addr{})
		c.Send(t, "RETR f")
		expectPrelim(t, c)
		if got := readAll(t, dc); string(got) != "data" {
			t.Errorf("got %q", got)
		}
		c.ExpectReply(t, 226)
	})

	t.Run("range busy", func(t *testing.T) {
		t.Parallel()
		holder, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Close()
		port := uint16(holder.Addr().(*net.TCPAddr).Port)
		srv := newServer(t, func(s *pier.Server) { s.PassivePorts = pier.PortRange{First: port, Last: port} })
		c := login(t, srv)
		c.Expect(t, "PASV", 425)
		c.Expect(t, "EPSV", 425)
		c.Expect(t, "NOOP", 200)
		holder.Close()
		if got := parseEPSV(t, c.Expect(t, "EPSV", 229)); got != port {
			t.Errorf("EPSV gave port %d, want %d", got, port)
		}
	})
}

func TestEPSVALL(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	writeFile(t, srv, "f", []byte("data"))
	_, portArg := listenActive(t, "127.0.0.1")
	c := login(t, srv)
	runSteps(t, c, []step{
		{"EPSV ALL", 200, ""},
		{"PASV", 501, ""},
		{"PORT " + portArg, 501, ""},
		{"EPRT |1|127.0.0.1|2000|", 501, ""},
		{"epsv all", 200, ""},
	})
	// EPSV still works.
	if got := c.Retrieve(t, "RETR f"); string(got) != "data" {
		t.Errorf("got %q", got)
	}
	// REIN resets it.
	c.Expect(t, "REIN", 220)
	c.Login(t, ftptest.User, ftptest.Password)
	c.Expect(t, "PASV", 227)
	c.Expect(t, "PORT "+portArg, 200)
}

func TestActiveMode(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	data := pattern(1<<20 + 11)
	writeFile(t, srv, "f", data)
	mkdirs(t, srv, "d")
	writeFile(t, srv, "d/one", nil)

	eprtArg := func(ln *net.TCPListener) string {
		return fmt.Sprintf("|1|127.0.0.1|%d|", ln.Addr().(*net.TCPAddr).Port)
	}
	setups := []struct {
		name string
		cmd  func(ln *net.TCPListener, portArg string) string
	}{
		{"PORT", func(_ *net.TCPListener, portArg string) string { return "PORT " + portArg }},
		{"EPRT", func(ln *net.TCPListener, _ string) string { return "EPRT " + eprtArg(ln) }},
	}
	for _, s := range setups {
		t.Run(s.name+" RETR", func(t *testing.T) {
			t.Parallel()
			ln, portArg := listenActive(t, "127.0.0.1")
			c := login(t, srv)
			c.Expect(t, s.cmd(ln, portArg), 200)
			c.Send(t, "RETR f")
			expectPrelim(t, c)
			dc := accept(t, ln)
			if ip := dc.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(); ip != netip.MustParseAddr("127.0.0.1") {
				t.Errorf("data connection from %v, want the server's address", ip)
			}
			if got := readAll(t, dc); !bytes.Equal(got, data) {
				t.Errorf("got %d bytes, want %d", len(got), len(data))
			}
			c.ExpectReply(t, 226)
		})
		t.Run(s.name+" STOR", func(t *testing.T) {
			t.Parallel()
			ln, portArg := listenActive(t, "127.0.0.1")
			c := login(t, srv)
			c.Expect(t, s.cmd(ln, portArg), 200)
			name := "up-" + s.name
			c.Send(t, "STOR "+name)
			expectPrelim(t, c)
			dc := accept(t, ln)
			dc.SetWriteDeadline(time.Now().Add(ioDeadline))
			if _, err := dc.Write(data); err != nil {
				t.Fatal(err)
			}
			dc.Close()
			c.ExpectReply(t, 226)
			if got := readFile(t, srv, name); !bytes.Equal(got, data) {
				t.Errorf("stored %d bytes, want %d", len(got), len(data))
			}
		})
		t.Run(s.name+" LIST", func(t *testing.T) {
			t.Parallel()
			ln, portArg := listenActive(t, "127.0.0.1")
			c := login(t, srv)
			c.Expect(t, s.cmd(ln, portArg), 200)
			c.Send(t, "NLST d")
			expectPrelim(t, c)
			if got := string(readAll(t, accept(t, ln))); got != "one\r\n" {
				t.Errorf("got %q", got)
			}
			c.ExpectReply(t, 226)
		})
	}

	t.Run("PORT replaces PASV", func(t *testing.T) {
		t.Parallel()
		ln, portArg := listenActive(t, "127.0.0.1")
		c := login(t, srv)
		pasv := parsePASV(t, c.Expect(t, "PASV", 227))
		c.Expect(t, "PORT "+portArg, 200)
		if conn, err := net.DialTimeout("tcp", pasv.String(), ioDeadline); err == nil {
			conn.Close()
			t.Errorf("the passive port %v still accepts after PORT", pasv)
		}
		c.Send(t, "NLST d")
		expectPrelim(t, c)
		if got := string(readAll(t, accept(t, ln))); got != "one\r\n" {
			t.Errorf("got %q", got)
		}
		c.ExpectReply(t, 226)
	})

	t.Run("nobody listening", func(t *testing.T) {
		t.Parallel()
		ln, portArg := listenActive(t, "127.0.0.1")
		ln.Close()
		c := login(t, srv)
		c.Expect(t, "PORT "+portArg, 200)
		c.Send(t, "RETR f")
		expectPrelim(t, c)
		c.ExpectReply(t, 425)
		c.Expect(t, "NOOP", 200)
	})

	bad := []struct {
		line string
		code int
	}{
		{"PORT 1,2,3", 501},
		{"PORT 127,0,0,1,300,1", 501},
		{"PORT 127,0,0,1,1", 501},
		{"PORT 127,0,0,1,4,1,1", 501},
		{"PORT 256,0,0,1,4,1", 501},
		{"PORT a,b,c,d,e,f", 501},
		{"PORT 127,0,0,1,-1,0", 501},
		{"PORT 127.0.0.1,4,1", 501},
		{"EPRT |1|127.0.0.1|", 501},
		{"EPRT |1|127.0.0.1|70000|", 501},
		{"EPRT |1|127.0.0.1|0|", 501},
		{"EPRT |1|::1|4000|", 501},
		{"EPRT |1|localhost|4000|", 501},
		{"EPRT 1|127.0.0.1|4000|", 501},
		{"EPRT x", 501},
		{"EPRT |3|127.0.0.1|4000|", 522},
		// The client's own address but a privileged port (RFC 2577).
		{"PORT 127,0,0,1,0,21", 501},
		{"PORT 127,0,0,1,3,255", 501},
		{"PORT 127,0,0,1,0,0", 501},
		{"EPRT |1|127.0.0.1|21|", 501},
		// Another host: FTP bounce.
		{"PORT 127,0,0,2,7,208", 501},
		{"PORT 10,0,0,1,7,208", 501},
		{"EPRT |1|127.0.0.2|2000|", 501},
		// The other family: 522, whatever the address (RFC 2428 §2).
		{"EPRT |2|::1|2000|", 522},
	}
	for _, tt := range bad {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			c.Expect(t, tt.line, tt.code)
			// Refused: no data set-up was recorded.
			c.Expect(t, "RETR f", 425)
		})
	}
	t.Run("PORT 1024 is allowed", func(t *testing.T) {
		t.Parallel()
		login(t, srv).Expect(t, "PORT 127,0,0,1,4,0", 200)
	})
}

func TestActivePermissions(t *testing.T) {
	t.Parallel()
	t.Run("PermitForeignAddresses", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, func(s *pier.Server) { s.PermitForeignAddresses = true })
		writeFile(t, srv, "f", []byte("fxp"))
		ln, portArg := listenActive(t, "127.0.0.2")
		c := login(t, srv)
		c.Expect(t, "PORT 127,0,0,1,0,21", 501) // privileged ports stay refused
		c.Expect(t, "PORT "+portArg, 200)
		c.Send(t, "RETR f")
		expectPrelim(t, c)
		if got := string(readAll(t, accept(t, ln))); got != "fxp" {
			t.Errorf("got %q", got)
		}
		c.ExpectReply(t, 226)
		c.Expect(t, fmt.Sprintf("EPRT |1|127.0.0.2|%d|", ln.Addr().(*net.TCPAddr).Port), 200)
		// An IPv6 address can't be reached from an IPv4 connection.
		c.Expect(t, "EPRT |2|::1|2000|", 522)
	})
	t.Run("PermitPrivilegedPorts", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, func(s *pier.Server) { s.PermitPrivilegedPorts = true })
		c := login(t, srv)
		c.Expect(t, "PORT 127,0,0,1,0,21", 200)
		c.Expect(t, "EPRT |1|127.0.0.1|21|", 200)
		c.Expect(t, "PORT 127,0,0,2,0,21", 501) // foreign stays refused
	})
}

// TestPassiveForeignPeer: a data connection to the passive port from
// another address is refused, and the real client can still connect.
func TestPassiveForeignPeer(t *testing.T) {
	t.Parallel()
	foreign := netip.MustParseAddr("127.0.0.2")
	for _, permit := range []bool{false, true} {
		t.Run(fmt.Sprintf("PermitForeignAddresses=%v", permit), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, func(s *pier.Server) { s.PermitForeignAddresses = permit })
			writeFile(t, srv, "f", []byte("secret data"))
			c := login(t, srv)
			ap := parsePASV(t, c.Expect(t, "PASV", 227))
			c.Send(t, "RETR f")
			expectPrelim(t, c)
			intruder := dial(t, ap.String(), foreign)
			got := readAll(t, intruder)
			if !permit {
				if len(got) != 0 {
					t.Fatalf("the foreign peer got %q", got)
				}
				dc := dial(t, ap.String(), netip.Addr{})
				got = readAll(t, dc)
			}
			if string(got) != "secret data" {
				t.Errorf("got %q", got)
			}
			c.ExpectReply(t, 226)
		})
	}
}

func TestDataConnectTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.ConnectTimeout = 200 * time.Millisecond })
	writeFile(t, srv, "f", []byte("x"))
	for _, cmd := range []string{"RETR f", "STOR g", "LIST"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			c.Expect(t, "EPSV", 229)
			c.Send(t, cmd)
			expectPrelim(t, c)
			c.ExpectReply(t, 425)
			if got := c.Retrieve(t, "RETR f"); string(got) != "x" {
				t.Errorf("RETR after the timeout: %q", got)
			}
		})
	}
}

func TestDataTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.DataTimeout = 300 * time.Millisecond })
	sparseFile(t, srv, "big", 64<<20)

	t.Run("download stalls", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		dc := c.Passive(t)
		c.Send(t, "RETR big")
		expectPrelim(t, c)
		_ = dc // never read
		c.ExpectReply(t, 426)
		c.Expect(t, "NOOP", 200)
	})
	t.Run("upload stalls", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		dc := c.Passive(t)
		c.Send(t, "STOR stalled")
		expectPrelim(t, c)
		dc.Write([]byte("a little"))
		c.ExpectReply(t, 426)
		c.Expect(t, "NOOP", 200)
	})
}

// TestDataTimeoutSlowClient: the data timeout is for transfers that stop,
// not for slow ones. The client reads slowly, so that a zero-copy step
// meets its deadline (and one step may take longer than the timeout)
// while data keeps moving.
func TestDataTimeoutSlowClient(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	srv := newServer(t, func(s *pier.Server) { s.DataTimeout = timeout })
	data := pattern(16 << 20)
	writeFile(t, srv, "big", data)
	c := login(t, srv)
	dc := c.Passive(t)
	c.Send(t, "RETR big")
	expectPrelim(t, c)
	// let the server fill the buffers and grow its steps, then read at
	// about 4 MB/s: 64 KiB every 16 ms
	time.Sleep(timeout / 2)
	var got []byte
	buf := make([]byte, 64<<10)
	dc.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		n, err := io.ReadFull(dc, buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
		time.Sleep(16 * time.Millisecond)
	}
	if code, text, err := c.ReadReply(); code != 226 {
		t.Fatalf("slow download: got %d %q (%v) after %d of %d bytes, want 226", code, text, err, len(got), len(data))
	}
	if !bytes.Equal(got, data) {
		t.Errorf("received %d bytes, want %d", len(got), len(data))
	}
}

// TestDataTimeoutSlowUpload: the same for an upload that starts fast and
// then trickles in, each pause well under the timeout.
func TestDataTimeoutSlowUpload(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	srv := newServer(t, func(s *pier.Server) { s.DataTimeout = timeout })
	data := pattern(16 << 20)
	c := login(t, srv)
	dc := c.Passive(t)
	c.Send(t, "STOR slow")
	expectPrelim(t, c)
	fast := 8 << 20
	if _, err := dc.Write(data[:fast]); err != nil {
		t.Fatal(err)
	}
	for b := data[fast:]; len(b) > 0; b = b[min(len(b), 64<<10):] {
		if _, err := dc.Write(b[:min(len(b), 64<<10)]); err != nil {
			t.Fatalf("after %d bytes: %v", len(data)-len(b), err)
		}
		time.Sleep(16 * time.Millisecond)
	}
	dc.Close()
	if code, text, err := c.ReadReply(); code != 226 {
		t.Fatalf("slow upload: got %d %q (%v), want 226", code, text, err)
	}
	if got := readFile(t, srv, "slow"); !bytes.Equal(got, data) {
		t.Errorf("stored %d bytes, want %d", len(got), len(data))
	}
}

// TestDataTimeoutTrickleUpload: an upload that copies (not splices) waits
// for a quarter MiB before it reads (uploadLowat); a client that sends a
// byte at a time, never pausing as long as the timeout, still completes,
// and STAT counts its bytes as they come.
func TestDataTimeoutTrickleUpload(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	srv := newServer(t, func(s *pier.Server) {
		s.DataTimeout = timeout
		s.DisableSendfile = true
	})
	c := login(t, srv)
	dc := c.Passive(t)
	c.Send(t, "STOR trickle")
	expectPrelim(t, c)
	data := []byte("three timeouts")
	for i := range data {
		if _, err := dc.Write(data[i : i+1]); err != nil {
			t.Fatalf("after %d bytes: %v", i, err)
		}
		time.Sleep(timeout / 4)
	}
	// The last byte came a quarter of the timeout ago: two waits of an
	// eighth at most, so STAT has counted it.
	if text := c.Expect(t, "STAT", 211); !strings.Contains(text, fmt.Sprintf("Total bytes transferred: %d", len(data))) {
		t.Errorf("STAT during the upload = %q, want all %d bytes counted", text, len(data))
	}
	dc.Close()
	if code, text, err := c.ReadReply(); code != 226 {
		t.Fatalf("trickling upload: got %d %q (%v), want 226", code, text, err)
	}
	if got := readFile(t, srv, "trickle"); !bytes.Equal(got, data) {
		t.Errorf("stored %q, want %q", got, data)
	}
}

func TestIPv6(t *testing.T) {
	t.Parallel()
	srv := ftptest.NewServer(t, &ftptest.Options{Network: "tcp6"})
	data := pattern(300 << 10)
	writeFile(t, srv, "f", data)
	writeFile(t, srv, "d/one", nil)

	t.Run("EPSV", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		if got := c.Retrieve(t, "RETR f"); !bytes.Equal(got, data) {
			t.Errorf("got %d bytes", len(got))
		}
		lines := crlfLines(t, c.Retrieve(t, "LIST d"))
		if len(lines) != 1 || !strings.HasSuffix(lines[0], " one") {
			t.Errorf("LIST d = %q", lines)
		}
		runSteps(t, c, []step{{"EPSV 2", 229, ""}, {"EPSV 1", 522, ""}, {"PASV", 522, "PASV is IPv4 only; use EPSV."}})
	})
	t.Run("EPRT", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			t.Skip(err)
		}
		defer ln.Close()
		c := login(t, srv)
		port := ln.Addr().(*net.TCPAddr).Port
		c.Expect(t, fmt.Sprintf("EPRT |1|127.0.0.1|%d|", port), 522) // the other family
		c.Expect(t, fmt.Sprintf("PORT 127,0,0,1,%d,%d", port>>8, port&0xff), 501)
		c.Expect(t, fmt.Sprintf("EPRT |2|::1|%d|", port), 200)
		c.Send(t, "RETR f")
		expectPrelim(t, c)
		if got := readAll(t, accept(t, ln.(*net.TCPListener))); !bytes.Equal(got, data) {
			t.Errorf("got %d bytes", len(got))
		}
		c.ExpectReply(t, 226)
	})
	t.Run("STAT shows the IPv6 client", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		if text := c.Expect(t, "STAT", 211); !strings.Contains(text, "[::1]:") {
			t.Errorf("STAT = %q", text)
		}
	})
}

package pier_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/internal/freeport"
)

const haproxyBin = "/usr/sbin/haproxy"

// haproxyConfig is the configuration TestHAProxy runs, as
// docs/operations.md shows it: HAProxy on proxyIP forwards the control
// port and the passive range to pier with PROXY protocol v2 headers, and
// checks pier's health (each check a v2 LOCAL header).
const haproxyConfig = `global
    maxconn 100

defaults
    mode tcp
    timeout connect 5s
    timeout client 1m
    timeout server 1m

frontend ftp
    bind %[1]s:%[2]d
    default_backend pier

backend pier
    server pier %[3]s:%[4]d send-proxy-v2 check inter 200ms

frontend ftp-passive
    bind %[1]s:%[5]d-%[6]d
    default_backend pier-passive

backend pier-passive
    # No port: each connection goes to the port it came to.
    server pier %[3]s send-proxy-v2
`

// startHAProxy runs haproxy with cfg in the foreground, as the test's own
// process, and stops it (by its PID) when the test ends.
func startHAProxy(t *testing.T, cfg string) {
	t.Helper()
	if _, err := os.Stat(haproxyBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: install the haproxy package", haproxyBin)
		}
		t.Skipf("%s is missing (install haproxy to run this test)", haproxyBin)
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(haproxyBin, "-f", path, "-db")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill() // our own child, by its PID
		<-exited
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
}

func TestHAProxy(t *testing.T) {
	const proxyIP = "127.0.0.2"
	first, last := freeport.Range(t, 8, "127.0.0.1", proxyIP)
	var mu sync.Mutex
	var clients []netip.Addr
	srv, logs := proxiedServer(t, "127.0.0.1/32", func(s *pier.Server) {
		s.PassivePorts = pier.PortRange{First: uint16(first), Last: uint16(last)}
		// Clients reach the passive ports through HAProxy too.
		s.PublicAddr = netip.MustParseAddr(proxyIP)
		s.Hooks.Connect = func(s *pier.Session) error {
			mu.Lock()
			clients = append(clients, s.RemoteAddr().Addr())
			mu.Unlock()
			return nil
		}
	})
	front, _ := freeport.Range(t, 1, proxyIP)
	startHAProxy(t, fmt.Sprintf(haproxyConfig, proxyIP, front, "127.0.0.1", srv.LoopbackAddr().Port(), first, last))
	frontAddr := net.JoinHostPort(proxyIP, fmt.Sprint(front))

	// HAProxy is up when its frontend answers with pier's banner.
	eventually(t, "HAProxy forwards to pier", func() bool {
		c, err := net.DialTimeout("tcp", frontAddr, ioDeadline)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(ioDeadline))
		b := make([]byte, 3)
		_, err = io.ReadFull(c, b)
		return err == nil && string(b) == "220"
	})

	dialFrom := func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: ioDeadline, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(client5, 0))}
		return d.Dial(network, addr)
	}
	for _, mode := range []struct {
		name string
		opts []ftp.DialOption
	}{
		{"EPSV", nil},
		{"PASV", []ftp.DialOption{ftp.DialWithDisabledEPSV(true), ftp.DialWithTrustPasvIP(true)}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			opts := append([]ftp.DialOption{ftp.DialWithTimeout(ioDeadline), ftp.DialWithDialFunc(dialFrom)}, mode.opts...)
			c, err := ftp.Dial(frontAddr, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Quit()
			if err := c.Login(ftptest.User, ftptest.Password); err != nil {
				t.Fatal(err)
			}
			data := bytes.Repeat([]byte("through haproxy "), 64<<10)
			name := "up-" + mode.name
			if err := c.Stor(name, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			r, err := c.Retr(name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("RETR: %d bytes (%v), want %d", len(got), err, len(data))
			}
			entries, err := c.List("/")
			if err != nil || len(entries) == 0 {
				t.Fatalf("LIST: %v %v", entries, err)
			}
		})
	}

	mu.Lock()
	for _, a := range clients {
		// The readiness probe came from 127.0.0.1, the FTP clients from
		// 127.0.0.5; none from HAProxy's own address.
		if a != client5 && a != loopback1 {
			t.Errorf("a session saw the client as %v", a)
		}
	}
	if !slices.Contains(clients, client5) {
		t.Errorf("no session saw the client 127.0.0.5: %v", clients)
	}
	mu.Unlock()
	// The data connections too are known by the real client.
	if !strings.Contains(logs.String(), "passive data connection") || !strings.Contains(logs.String(), "peer=127.0.0.5:") {
		t.Error("no data connection logged from 127.0.0.5")
	}
	eventually(t, "a health check reaches pier", func() bool {
		return strings.Contains(logs.String(), "proxy health check")
	})
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("warnings in the log:\n%s", logs)
	}
}

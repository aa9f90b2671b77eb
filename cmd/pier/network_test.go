package main

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pires/go-proxyproto"
)

func TestProxyAndNATFlagsRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"proxy network", []string{"--proxy-protocol-from", "10.0.0.0/33"}, "--proxy-protocol-from \"10.0.0.0/33\""},
		{"proxy host name", []string{"--proxy-protocol-from", "10.0.0.0/8,lb.example.com"}, "--proxy-protocol-from \"lb.example.com\""},
		{"nat without address", []string{"--nat-address-for", "10.0.0.0/8"}, "expected CIDR=ADDR"},
		{"nat bad network", []string{"--nat-address-for", "10.0.0/8=192.0.2.1"}, "not a network"},
		{"nat IPv6 address", []string{"--nat-address-for", "10.0.0.0/8=2001:db8::1"}, "must be an IPv4 address"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(append(c.args, "-d", t.TempDir()), &stdout, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, stderr.String())
			}
			if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, c.want) {
				t.Fatalf("stderr %q: want one line containing %q", msg, c.want)
			}
		})
	}
}

func TestProxyAndNATFlags(t *testing.T) {
	var o options
	fs := newFlagSet(&o)
	args := []string{"-d", t.TempDir(), "-n", "203.0.113.1",
		"--proxy-protocol-from", "10.0.0.0/8, 192.168.1.7", "--proxy-protocol-from", "::ffff:172.16.0.0/108",
		"--nat-address-for", "127.0.0.5/32=198.51.100.5", "--nat-address-for", "10.1.0.0/16=198.51.100.10,10.2.0.0/16=198.51.100.20"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	srv, cfg, err := configure(&o, fs, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	wantNets := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("172.16.0.0/12")}
	if !slices.Equal(srv.ProxyProtocolFrom, wantNets) {
		t.Errorf("ProxyProtocolFrom %v, want %v", srv.ProxyProtocolFrom, wantNets)
	}
	wantRules := []pier.NATRule{
		{Prefix: netip.MustParsePrefix("127.0.0.5/32"), Addr: netip.MustParseAddr("198.51.100.5")},
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Addr: netip.MustParseAddr("198.51.100.10")},
		{Prefix: netip.MustParsePrefix("10.2.0.0/16"), Addr: netip.MustParseAddr("198.51.100.20")},
	}
	if !slices.Equal(srv.PublicAddrFor, wantRules) {
		t.Errorf("PublicAddrFor %v, want %v", srv.PublicAddrFor, wantRules)
	}
	settings := map[any]any{}
	kv := startupSettings(srv, cfg, &net.TCPAddr{})
	for i := 0; i+1 < len(kv); i += 2 {
		settings[kv[i]] = kv[i+1]
	}
	for key, want := range map[string]string{
		"proxy_protocol_from": "10.0.0.0/8,192.168.1.7/32,172.16.0.0/12",
		"nat_address_for":     "127.0.0.5/32=198.51.100.5,10.1.0.0/16=198.51.100.10,10.2.0.0/16=198.51.100.20",
		"nat_address":         "203.0.113.1",
	} {
		if settings[key] != want {
			t.Errorf("start-up setting %s=%v, want %s", key, settings[key], want)
		}
	}
}

// TestDaemonBehindProxy runs pier with the PROXY protocol and NAT rules
// from its configuration file, and plays the proxy.
func TestDaemonBehindProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "pier.conf")
	if err := os.WriteFile(conf, []byte("proxy-protocol-from = 127.0.0.1/32\nnat-address-for = 127.0.0.5/32=198.51.100.5, 192.0.2.0/24=198.51.100.24\nnat-address = 203.0.113.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	d, startup := startDaemon(t, "-c", conf, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-d", dir)
	for _, want := range []string{"proxy_protocol_from=127.0.0.1/32", `nat_address_for="127.0.0.5/32=198.51.100.5,192.0.2.0/24=198.51.100.24"`} {
		if !strings.Contains(startup, want) {
			t.Errorf("start-up log %q lacks %q", startup, want)
		}
	}
	for _, c := range []struct {
		client netip.Addr
		want   string
	}{
		{netip.MustParseAddr("127.0.0.5"), "(198,51,100,5,"},
		{netip.MustParseAddr("192.0.2.9"), "(198,51,100,24,"},
		{netip.MustParseAddr("198.18.0.1"), "(203,0,113,1,"},
	} {
		nc, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		dst := netip.MustParseAddrPort(nc.RemoteAddr().String())
		h, err := proxyproto.HeaderProxyFromAddrs(2, net.TCPAddrFromAddrPort(netip.AddrPortFrom(c.client, 4321)), net.TCPAddrFromAddrPort(dst)).Format()
		if err != nil {
			t.Fatal(err)
		}
		nc.Write(h)
		tc := textproto.NewConn(nc)
		for _, step := range []struct {
			send string
			code int
		}{{"", 220}, {"USER anonymous", 331}, {"PASS guest@", 230}, {"PASV", 227}} {
			if step.send != "" {
				tc.PrintfLine("%s", step.send)
			}
			code, text, err := tc.ReadResponse(step.code)
			if err != nil {
				t.Fatalf("%s %q: got %d %q (%v)", c.client, step.send, code, text, err)
			}
			if step.send == "PASV" && !strings.Contains(text, c.want) {
				t.Errorf("client %s: PASV %q, want %s", c.client, text, c.want)
			}
		}
		d.waitLog(t, "remote="+c.client.String()+":4321")
	}
	// A connection from the trusted proxy without a header is refused.
	nc, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte("USER anonymous\r\n"))
	d.waitLog(t, "connection without a valid PROXY header closed")
	d.stop(t)
}

package pier_test

// Virtual hosts (RFC 7151): HOST before login, and the TLS server name
// (SNI) for FTPS, choose each session's accounts, files, greeting and
// certificate.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/local"
	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/tlscert"
)

// vhost is a virtual host of a test server: its folder holds one file
// named after it, and its one account is user:pass.
type vhost struct {
	host       *pier.Host
	user, pass string
	file       string
}

// newVhost makes a host whose account logs in to a folder of its own.
func newVhost(t *testing.T, name, user, pass string) vhost {
	t.Helper()
	dir := t.TempDir()
	file := name + ".txt"
	if err := os.WriteFile(filepath.Join(dir, file), []byte(name), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	users := &auth.Virtual{}
	if err := users.AddUser(user, auth.Account{Password: pass, FS: root, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	return vhost{host: &pier.Host{Auth: users, Banner: "Welcome to " + name + "."}, user: user, pass: pass, file: file}
}

// hostSet is a server with two virtual hosts: a.example, and b.example
// also known as www.b.example; and a host without accounts.
type hostSet struct {
	srv  *ftptest.Server
	a, b vhost
}

func newHostSet(t *testing.T, configure func(*ftptest.Server, hostSet)) hostSet {
	t.Helper()
	hs := hostSet{a: newVhost(t, "a.example", "alice", "alice-pw"), b: newVhost(t, "b.example", "bob", "bob-pw")}
	hs.srv = ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		s.Hosts = map[string]*pier.Host{
			"a.example":      hs.a.host,
			"B.Example":      hs.b.host,
			"www.b.example":  hs.b.host,
			"noauth.example": {Banner: "No accounts here."},
		}
		if configure != nil {
			configure(s, hs)
		}
	}})
	return hs
}

// loginAs logs in and checks the session sees the host's folder.
func loginAs(t *testing.T, c *ftptest.Conn, h vhost) {
	t.Helper()
	c.Login(t, h.user, h.pass)
	if got := string(c.Retrieve(t, "NLST")); strings.TrimSpace(got) != h.file {
		t.Fatalf("NLST on %s: %q, want %s", h.file, got, h.file)
	}
}

func TestHOSTSyntax(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	for _, tt := range []struct {
		arg  string
		code int
	}{
		{"ftp.example.com", 220},
		{"FTP.Example.COM", 220},
		{"xn--e1afmkfd.com", 220}, // RFC 7151 §3.1's example of an A-label
		{"localhost", 220},
		{"ftp-1.example", 220},
		{"  ftp.example.com  ", 220},
		{"127.0.0.1", 220},          // the address the client connected to
		{"[::ffff:127.0.0.1]", 220}, // the same, in IPv6 form
		{"192.0.2.1", 504},          // RFC 7151 §3.1: another address
		{"[2001:db8::1]", 504},
		{"[::1]", 504},
		// RFC 7151 §3.1: no port, IPv6 in brackets only, letters,
		// digits and hyphens between dots.
		{"ftp.example.com:21", 501},
		{"127.0.0.1:2121", 501},
		{"[::1]:21", 501},
		{"::1", 501},
		{"[::1", 501},
		{"[127.0.0.1]", 501},
		{"[fe80::1%eth0]", 501},
		{"-ftp.example", 501},
		{"ftp-.example", 501},
		{"ftp..example", 501},
		{".example", 501},
		{"example.com.", 501},
		{"bücher.example", 501}, // U-labels: send the A-label
		{"under_score.example", 501},
		{"*.example", 501},
		{"two words", 501},
		{strings.Repeat("a", 64) + ".example", 501},
		{strings.Repeat("a.", 127) + "example", 501}, // 261 bytes
	} {
		t.Run(tt.arg, func(t *testing.T) {
			t.Parallel()
			c := srv.Dial(t)
			text := c.Expect(t, "HOST "+tt.arg, tt.code)
			if tt.code == 220 && text != pier.DefaultBanner {
				t.Errorf("HOST %s: %q, want the server's banner", tt.arg, text)
			}
			c.Expect(t, "NOOP", 200)
			c.Login(t, ftptest.User, ftptest.Password) // no virtual hosts: any name is the default host
		})
	}
	t.Run("no argument", func(t *testing.T) {
		t.Parallel()
		srv.Dial(t).Expect(t, "HOST", 501)
	})
}

func TestHOSTSequence(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	t.Run("after login", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		c.Expect(t, "HOST ftp.example.com", 503)
		c.Expect(t, "PWD", 257)
	})
	t.Run("after USER", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.Expect(t, "USER "+ftptest.User, 331)
		c.Expect(t, "HOST ftp.example.com", 503)
		c.Expect(t, "PASS "+ftptest.Password, 230) // USER still stands
	})
	t.Run("after REIN", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		c.Expect(t, "REIN", 220)
		c.Expect(t, "HOST ftp.example.com", 220)
		c.Login(t, ftptest.User, ftptest.Password)
	})
	t.Run("FEAT and HELP", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		feat := c.Expect(t, "FEAT", 211)
		for _, f := range []string{" HOST", " CLNT", " AVBL"} {
			if !strings.Contains(feat+"\n", f+"\n") {
				t.Errorf("FEAT lacks %s: %q", f, feat)
			}
		}
		c.Expect(t, "HELP HOST", 214)
		other := newServer(t, nil)
		other.RemoveCommand("HOST")
		if feat := other.Dial(t).Expect(t, "FEAT", 211); strings.Contains(feat, "HOST") {
			t.Errorf("FEAT lists a removed HOST: %q", feat)
		}
	})
}

func TestHOSTVirtualHosts(t *testing.T) {
	t.Parallel()
	type seen struct{ host, client string }
	logins := make(chan seen, 16)
	hs := newHostSet(t, func(s *ftptest.Server, _ hostSet) {
		s.Hooks.Login = func(s *pier.Session) {
			select {
			case logins <- seen{s.Host(), s.Client()}:
			default: // only the first login is looked at
			}
		}
	})
	srv, a, b := hs.srv, hs.a, hs.b
	t.Run("each host its accounts, files and banner", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			name string
			h    vhost
		}{{"a.example", a}, {"b.example", b}, {"WWW.B.Example", b}} {
			c := srv.Dial(t)
			if text := c.Expect(t, "HOST "+tt.name, 220); text != tt.h.host.Banner {
				t.Errorf("HOST %s: %q, want %q", tt.name, text, tt.h.host.Banner)
			}
			loginAs(t, c, tt.h)
		}
	})
	t.Run("the last HOST counts", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.Expect(t, "HOST a.example", 220)
		c.Expect(t, "HOST b.example", 220)
		c.Expect(t, "USER "+a.user, 331)
		c.Expect(t, "PASS "+a.pass, 530)
		loginAs(t, c, b)
	})
	t.Run("unknown host", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.Expect(t, "HOST c.example", 504)
		c.Expect(t, "HOST a.example.org", 504)
		c.Expect(t, "HOST a.example", 220) // RFC 7151 §3.2: the client may try again
		loginAs(t, c, a)
	})
	t.Run("accounts stay apart", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t) // the default host
		c.Expect(t, "USER "+a.user, 331)
		c.Expect(t, "PASS "+a.pass, 530)
		c.Login(t, ftptest.User, ftptest.Password)
		c = srv.Dial(t)
		c.Expect(t, "HOST a.example", 220)
		c.Expect(t, "USER "+ftptest.User, 331)
		c.Expect(t, "PASS "+ftptest.Password, 530)
		c = srv.Dial(t)
		c.Expect(t, "HOST noauth.example", 220)
		c.Expect(t, "USER "+ftptest.User, 331)
		c.Expect(t, "PASS "+ftptest.Password, 530) // no Auth: no fall-back to the server's
	})
	t.Run("an address names the default host", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.Expect(t, "HOST a.example", 220)
		if text := c.Expect(t, "HOST 127.0.0.1", 220); text != pier.DefaultBanner {
			t.Errorf("HOST 127.0.0.1: %q", text)
		}
		c.Login(t, ftptest.User, ftptest.Password)
	})
	t.Run("REIN forgets the host, a new USER keeps it", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.Expect(t, "HOST a.example", 220)
		loginAs(t, c, a)
		c.Expect(t, "USER "+a.user, 331)
		c.Expect(t, "PASS "+a.pass, 230)
		c.Expect(t, "REIN", 220) // RFC 7151 §3.2.1
		c.Expect(t, "USER "+a.user, 331)
		c.Expect(t, "PASS "+a.pass, 530)
		c.Expect(t, "HOST a.example", 220)
		loginAs(t, c, a)
	})
	t.Run("hooks see the host and the client", func(t *testing.T) {
		c := srv.Dial(t)
		c.Expect(t, "CLNT pier-test 1.0", 200)
		c.Expect(t, "HOST A.EXAMPLE", 220)
		c.Login(t, a.user, a.pass)
		if got := <-logins; got != (seen{"a.example", "pier-test 1.0"}) {
			t.Errorf("the Login hook saw %+v", got)
		}
	})
}

func TestHOSTServeRefusesBadHosts(t *testing.T) {
	t.Parallel()
	ok := &pier.Host{}
	for _, tt := range []struct {
		name  string
		hosts map[string]*pier.Host
		tls   bool
	}{
		{"wildcard", map[string]*pier.Host{"*.example": ok}, false},
		{"port", map[string]*pier.Host{"a.example:21": ok}, false},
		{"address", map[string]*pier.Host{"192.0.2.1": ok}, false},
		{"IPv6 address", map[string]*pier.Host{"[2001:db8::1]": ok}, false},
		{"empty", map[string]*pier.Host{"": ok}, false},
		{"U-label", map[string]*pier.Host{"bücher.example": ok}, false},
		{"trailing dot", map[string]*pier.Host{"a.example.": ok}, false},
		{"the same name twice", map[string]*pier.Host{"a.example": ok, "A.Example": ok}, false},
		{"nil", map[string]*pier.Host{"a.example": nil}, false},
		{"TLS for a host only", map[string]*pier.Host{"a.example": {TLSConfig: &tls.Config{}}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &pier.Server{Hosts: tt.hosts, Logger: slog.New(slog.DiscardHandler)}
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
				t.Fatal("Serve accepted the hosts and serves")
			}
			if err == nil || errors.Is(err, pier.ErrServerClosed) || !strings.Contains(err.Error(), "Hosts[") {
				t.Errorf("Serve returned %v, want an error naming Hosts", err)
			}
		})
	}
}

// hostCerts is a test CA's worth of certificates: the default host's (for
// localhost and 127.0.0.1), a.example's and b.example's, and a pool that
// trusts all three.
type hostCerts struct {
	def, a, b tls.Certificate
	pool      *x509.CertPool
}

func newHostCerts(t *testing.T) hostCerts {
	t.Helper()
	var hc hostCerts
	var err error
	for _, c := range []struct {
		cert  *tls.Certificate
		names []string
	}{{&hc.def, []string{"localhost", "127.0.0.1"}}, {&hc.a, []string{"a.example"}}, {&hc.b, []string{"b.example", "www.b.example"}}} {
		if *c.cert, err = tlscert.SelfSigned(c.names...); err != nil {
			t.Fatal(err)
		}
	}
	hc.pool = x509.NewCertPool()
	for _, c := range []tls.Certificate{hc.def, hc.a, hc.b} {
		hc.pool.AddCert(c.Leaf)
	}
	return hc
}

// client returns a client configuration that checks the server's
// certificate against name, and sends it in SNI unless it is an address.
func (hc hostCerts) client(name string) *tls.Config {
	return &tls.Config{RootCAs: hc.pool, ServerName: name, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
}

// peer returns the certificate the server showed on the control
// connection.
func peer(t *testing.T, c *ftptest.Conn) *x509.Certificate {
	t.Helper()
	tc, ok := c.Conn.(*tls.Conn)
	if !ok {
		t.Fatal("the control connection is not protected")
	}
	return tc.ConnectionState().PeerCertificates[0]
}

// tlsHostSet is newHostSet with FTPS: the default host, a.example and
// b.example have their own certificates; c.example has the default's.
func tlsHostSet(t *testing.T) (hostSet, hostCerts) {
	t.Helper()
	hc := newHostCerts(t)
	hs := newHostSet(t, func(s *ftptest.Server, hs hostSet) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{hc.def}}
		hs.a.host.TLSConfig = &tls.Config{Certificates: []tls.Certificate{hc.a}}
		hs.b.host.TLSConfig = &tls.Config{Certificates: []tls.Certificate{hc.b}}
		s.Hosts["c.example"] = &pier.Host{Auth: hs.a.host.Auth}
	})
	return hs, hc
}

func TestHOSTWithTLS(t *testing.T) {
	t.Parallel()
	hs, hc := tlsHostSet(t)
	srv, a, b := hs.srv, hs.a, hs.b
	t.Run("HOST, then AUTH TLS: the host's certificate, for control and data", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{"a.example", "127.0.0.1"} { // with SNI, and without (an address)
			c := srv.Dial(t)
			c.Expect(t, "HOST a.example", 220)
			cfg := hc.client(name)
			cfg.InsecureSkipVerify = name != "a.example" // a.example's certificate does not name 127.0.0.1
			c.AuthTLS(t, cfg)
			if !peer(t, c).Equal(hc.a.Leaf) {
				t.Fatalf("%s: the server showed %v", name, peer(t, c).DNSNames)
			}
			c.Expect(t, "HOST a.example", 220) // the same host again
			c.Expect(t, "PBSZ 0", 200)
			c.Expect(t, "PROT P", 200)
			c.DataTLS = cfg
			loginAs(t, c, a) // its NLST runs over TLS, with the host's certificate
		}
	})
	t.Run("HOST, then AUTH TLS naming another host in SNI", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.Expect(t, "HOST a.example", 220)
		c.Expect(t, "AUTH TLS", 234)
		cfg := hc.client("b.example")
		cfg.InsecureSkipVerify = true // the server is the one to refuse
		tc := tls.Client(c.Conn, cfg)
		tc.SetDeadline(time.Now().Add(ioDeadline))
		if err := tc.Handshake(); err == nil {
			t.Fatal("the handshake passed with SNI b.example after HOST a.example")
		}
		if _, _, err := c.ReadReply(); err == nil {
			t.Fatal("the session goes on")
		}
	})
	t.Run("SNI chooses the host without HOST", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.AuthTLS(t, hc.client("b.example"))
		if !peer(t, c).Equal(hc.b.Leaf) {
			t.Fatalf("the server showed %v", peer(t, c).DNSNames)
		}
		c.Expect(t, "HOST a.example", 504)     // RFC 7151 §3.2.2: not the SNI
		c.Expect(t, "HOST www.b.example", 504) // the same host, but not the name sent in SNI
		c.Expect(t, "HOST 127.0.0.1", 504)
		c.Expect(t, "HOST B.EXAMPLE", 220)
		loginAs(t, c, b)
	})
	t.Run("SNI the server does not know: the default host", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.AuthTLS(t, hc.client("localhost"))
		if !peer(t, c).Equal(hc.def.Leaf) {
			t.Fatalf("the server showed %v", peer(t, c).DNSNames)
		}
		c.Expect(t, "HOST a.example", 504)
		c.Login(t, ftptest.User, ftptest.Password)
	})
	t.Run("no SNI and no HOST: HOST after AUTH TLS is too late", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.AuthTLS(t, hc.client("127.0.0.1")) // an address: no SNI
		if !peer(t, c).Equal(hc.def.Leaf) {
			t.Fatalf("the server showed %v", peer(t, c).DNSNames)
		}
		c.Expect(t, "HOST a.example", 503) // RFC 7151 §4: HOST first, or SNI
		c.Expect(t, "HOST 127.0.0.1", 220) // the host it has
		c.Login(t, ftptest.User, ftptest.Password)
	})
	t.Run("a host without TLSConfig has the server's", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.Expect(t, "HOST c.example", 220)
		cfg := hc.client("c.example")
		cfg.InsecureSkipVerify = true
		c.AuthTLS(t, cfg)
		if !peer(t, c).Equal(hc.def.Leaf) {
			t.Fatalf("the server showed %v", peer(t, c).DNSNames)
		}
		c.Login(t, a.user, a.pass)
	})
	t.Run("REIN keeps the host the connection was secured for", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.AuthTLS(t, hc.client("b.example"))
		c.Login(t, b.user, b.pass)
		c.Expect(t, "REIN", 220)
		c.Expect(t, "HOST a.example", 504)
		loginAs(t, c, b)
	})
}

func TestHOSTImplicitTLS(t *testing.T) {
	t.Parallel()
	hs, hc := tlsHostSet(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.srv.ServeTLS(ln)
	implicit := *hs.srv
	implicit.Addr = ln.Addr().String()
	t.Run("SNI chooses the host and its greeting", func(t *testing.T) {
		t.Parallel()
		c := implicit.DialRaw(t)
		cfg := hc.client("a.example")
		c.StartTLS(t, cfg)
		if text := c.ExpectReply(t, 220); text != hs.a.host.Banner {
			t.Errorf("greeting %q, want %q", text, hs.a.host.Banner)
		}
		if !peer(t, c).Equal(hc.a.Leaf) {
			t.Fatalf("the server showed %v", peer(t, c).DNSNames)
		}
		c.DataTLS = cfg // implicit FTPS protects data from the start
		loginAs(t, c, hs.a)
		c.Store(t, "STOR up.txt", []byte("to a"))
		if got := string(c.Retrieve(t, "RETR up.txt")); got != "to a" {
			t.Fatalf("RETR: %q", got)
		}
	})
	t.Run("no SNI: the default host", func(t *testing.T) {
		t.Parallel()
		c := implicit.DialRaw(t)
		c.StartTLS(t, hc.client("127.0.0.1"))
		if text := c.ExpectReply(t, 220); text != pier.DefaultBanner {
			t.Errorf("greeting %q", text)
		}
		c.Expect(t, "HOST b.example", 503)
		c.Login(t, ftptest.User, ftptest.Password)
	})
}

// TestHOSTTLSReuseByHost: a data connection may resume the TLS session of
// another control connection of the same user, but a user of the same
// name on another virtual host is another user.
func TestHOSTTLSReuseByHost(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	srv, cfg := reuseServer(t, &logs, func(s *ftptest.Server) {
		same := &auth.Virtual{} // an account named as the default host's
		if err := same.AddUser(ftptest.User, auth.Account{Password: ftptest.Password, FS: s.Root, Perm: pier.AllPerms}); err != nil {
			t.Fatal(err)
		}
		s.Hosts = map[string]*pier.Host{"a.example": {Auth: same}}
	})
	// A control connection on a.example, without SNI.
	other := srv.Dial(t)
	otherCache := newTicketCache()
	otherCfg := cfg.Clone()
	otherCfg.ServerName, otherCfg.ClientSessionCache = "127.0.0.1", otherCache
	other.Expect(t, "HOST a.example", 220)
	other.AuthTLS(t, otherCfg)
	other.Login(t, ftptest.User, ftptest.Password)
	planted := otherCache.stored(t)

	cache := newTicketCache()
	own := cfg.Clone()
	own.ClientSessionCache = cache
	c := srv.Dial(t)
	secureLogin(t, c, own) // the default host's user
	cache.plant(planted)
	c.DataTLS = own
	dc := c.Passive(t)
	c.Send(t, "NLST")
	c.ExpectReply(t, 150)
	expectRefused(t, c, dc, &logs, "not logged in as the same user")
	if !cache.gave(planted) {
		t.Fatal("the data connection did not offer the planted session")
	}
}

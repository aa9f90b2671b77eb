package pier_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"

	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/tlscert"
)

// tlsPair returns a server configuration with a fresh self-signed
// certificate and a client configuration that trusts it, with a session
// cache so data connections can resume the control connection's session.
func tlsPair(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	cert, err := tlscert.SelfSigned("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	server = &tls.Config{Certificates: []tls.Certificate{cert}}
	client = &tls.Config{RootCAs: pool, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	return server, client
}

func tlsServer(t *testing.T, configure func(*ftptest.Server)) (*ftptest.Server, *tls.Config) {
	t.Helper()
	serverCfg, clientCfg := tlsPair(t)
	srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		s.TLSConfig = serverCfg
		if configure != nil {
			configure(s)
		}
	}})
	return srv, clientCfg
}

// secureLogin does AUTH TLS, PBSZ 0, PROT P and logs in.
func secureLogin(t *testing.T, c *ftptest.Conn, cfg *tls.Config) {
	t.Helper()
	c.AuthTLS(t, cfg)
	c.Expect(t, "PBSZ 0", 200)
	c.Expect(t, "PROT P", 200)
	c.Login(t, ftptest.User, ftptest.Password)
}

func TestFTPSTransfersResumeSession(t *testing.T) {
	for _, v := range []struct {
		name string
		ver  uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}} {
		t.Run(v.name, func(t *testing.T) {
			srv, cfg := tlsServer(t, nil)
			cfg.MinVersion, cfg.MaxVersion = v.ver, v.ver
			c := srv.Dial(t)
			secureLogin(t, c, cfg)
			c.DataTLS = cfg
			data := bytes.Repeat([]byte("pier over TLS\n"), 50000)
			c.Store(t, "STOR secret.txt", data)
			if got := c.Retrieve(t, "RETR secret.txt"); !bytes.Equal(got, data) {
				t.Fatalf("RETR over TLS: %d bytes, want %d", len(got), len(data))
			}
			if got := string(c.Retrieve(t, "NLST")); !strings.Contains(got, "secret.txt") {
				t.Fatalf("NLST over TLS: %q", got)
			}
			_, text := c.Cmd(t, "STAT")
			if !strings.Contains(text, "Logged in as: "+ftptest.User) {
				t.Fatalf("STAT: %q", text)
			}
		})
	}
}

func TestFTPSReuseRequired(t *testing.T) {
	srv, cfg := tlsServer(t, nil)
	c := srv.Dial(t)
	secureLogin(t, c, cfg)
	// A data connection with its own, empty session cache cannot resume:
	// that is what a third party racing to the passive port looks like.
	fresh := cfg.Clone()
	fresh.ClientSessionCache = nil
	c.DataTLS = fresh
	dc := c.Passive(t)
	c.Send(t, "LIST")
	c.ExpectReply(t, 150)
	dc.Read(make([]byte, 1)) // drive the handshake; the server then closes
	c.ExpectReply(t, 522)
	// The session survives, and a proper client still transfers.
	c.DataTLS = cfg
	c.Retrieve(t, "LIST")
}

func TestFTPSAllowNoReuse(t *testing.T) {
	srv, cfg := tlsServer(t, func(s *ftptest.Server) { s.TLSAllowNoReuse = true })
	c := srv.Dial(t)
	secureLogin(t, c, cfg)
	fresh := cfg.Clone()
	fresh.ClientSessionCache = nil
	c.DataTLS = fresh
	c.Store(t, "STOR x", []byte("no reuse"))
	if got := string(c.Retrieve(t, "RETR x")); got != "no reuse" {
		t.Fatalf("RETR: %q", got)
	}
}

func TestFTPSControlRequired(t *testing.T) {
	for _, required := range []bool{true, false} {
		srv, cfg := tlsServer(t, func(s *ftptest.Server) { s.TLSControlRequired = required })
		c := srv.Dial(t)
		if required {
			c.Expect(t, "USER "+ftptest.User, 530)
			c.Expect(t, "PASS "+ftptest.Password, 530)
			c.AuthTLS(t, cfg)
			c.Login(t, ftptest.User, ftptest.Password)
		} else {
			c.Login(t, ftptest.User, ftptest.Password)
		}
	}
}

func TestFTPSDataRequired(t *testing.T) {
	t.Run("required", func(t *testing.T) {
		srv, cfg := tlsServer(t, func(s *ftptest.Server) { s.TLSDataRequired = true })
		c := srv.Dial(t)
		c.AuthTLS(t, cfg)
		c.Login(t, ftptest.User, ftptest.Password)
		c.Expect(t, "PASV", 521)
		c.Expect(t, "EPSV", 521)
		c.Expect(t, "EPRT |1|127.0.0.1|40000|", 521)
		c.Expect(t, "PBSZ 0", 200)
		c.Expect(t, "PROT C", 534)
		c.Expect(t, "PROT P", 200)
		c.DataTLS = cfg
		c.Retrieve(t, "LIST")
	})
	t.Run("not required", func(t *testing.T) {
		srv, cfg := tlsServer(t, nil)
		c := srv.Dial(t)
		c.AuthTLS(t, cfg)
		c.Login(t, ftptest.User, ftptest.Password)
		c.Expect(t, "PBSZ 0", 200)
		c.Expect(t, "PROT C", 200)
		c.Retrieve(t, "LIST") // clear data on a protected control connection
	})
}

func TestFTPSCommandErrors(t *testing.T) {
	srv, cfg := tlsServer(t, nil)
	c := srv.Dial(t)
	if _, feat := c.Cmd(t, "FEAT"); !strings.Contains(feat, " AUTH TLS") || !strings.Contains(feat, " PROT") || !strings.Contains(feat, " PBSZ") {
		t.Fatalf("FEAT lacks FTPS: %q", feat)
	}
	c.Expect(t, "PBSZ 0", 503) // before AUTH
	c.Expect(t, "PROT P", 503)
	c.Expect(t, "AUTH KERBEROS", 504)
	c.Expect(t, "AUTH", 501)
	c.AuthTLS(t, cfg)
	c.Expect(t, "AUTH TLS", 503) // already
	c.Expect(t, "PROT P", 503)   // before PBSZ
	c.Expect(t, "PBSZ 0", 200)
	c.Expect(t, "PROT S", 536)
	c.Expect(t, "PROT E", 536)
	c.Expect(t, "PROT Z", 504)
	c.Expect(t, "CCC", 533)
	c.Expect(t, "NOOP", 200)
}

func TestFTPSNotConfigured(t *testing.T) {
	srv := ftptest.NewServer(t, nil)
	c := srv.Dial(t)
	c.Expect(t, "AUTH TLS", 502)
	if _, feat := c.Cmd(t, "FEAT"); strings.Contains(feat, "AUTH") {
		t.Fatalf("FEAT advertises AUTH without TLS: %q", feat)
	}
}

func TestFTPSReinResetsProt(t *testing.T) {
	srv, cfg := tlsServer(t, nil)
	c := srv.Dial(t)
	secureLogin(t, c, cfg)
	c.Expect(t, "REIN", 220)
	c.Login(t, ftptest.User, ftptest.Password) // the control connection stays protected
	c.Retrieve(t, "LIST")                      // PROT is back to C: clear data
	c.Expect(t, "PROT P", 503)                 // PBSZ was reset too
}

// TestFTPSPipeliningAfterAuth: commands sent in clear text behind AUTH TLS
// could have been injected by a man in the middle; they are not run.
func TestFTPSPipeliningAfterAuth(t *testing.T) {
	srv, _ := tlsServer(t, nil)
	c := srv.Dial(t)
	c.Send(t, "AUTH TLS\r\nUSER "+ftptest.User)
	c.ExpectReply(t, 503)
	if _, _, err := c.ReadReply(); err == nil {
		t.Fatal("connection still open after pipelined AUTH")
	}
}

func TestFTPSImplicit(t *testing.T) {
	srv, cfg := tlsServer(t, nil)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln)
	plain := *srv
	plain.Addr = ln.Addr().String()
	c := plain.DialRaw(t)
	c.StartTLS(t, cfg)
	c.ExpectReply(t, 220)
	c.Login(t, ftptest.User, ftptest.Password)
	c.Expect(t, "AUTH TLS", 503)
	c.DataTLS = cfg // implicit FTPS protects data by default
	c.Store(t, "STOR implicit.txt", []byte("implicit"))
	if got := string(c.Retrieve(t, "RETR implicit.txt")); got != "implicit" {
		t.Fatalf("RETR: %q", got)
	}
}

func TestFTPSHandshakeFailureClosesOnlyThatSession(t *testing.T) {
	srv, _ := tlsServer(t, nil)
	c := srv.Dial(t)
	c.Expect(t, "AUTH TLS", 234)
	c.Conn.Write([]byte("this is not a TLS client hello\r\n"))
	if _, _, err := c.ReadReply(); err == nil {
		t.Fatal("session survived a broken handshake")
	}
	other := srv.Dial(t)
	other.Login(t, ftptest.User, ftptest.Password)
}

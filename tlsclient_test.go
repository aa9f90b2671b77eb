package pier_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/internal/testpki"
	"github.com/pierftp/pier/tlscert"
)

// certEnv is a server that asks for client certificates of ca, with these
// accounts besides ftptest's: alice logs in by certificate alone, bob by
// certificate and password ("bobpw"); and the certificates to try.
type certEnv struct {
	srv    *ftptest.Server
	client *tls.Config // trusts the server; sends no certificate
	ca     *testpki.CA
	certs  map[string]tls.Certificate
}

// newCertEnv starts the server; configure, if not nil, changes it before.
func newCertEnv(t *testing.T, configure func(*ftptest.Server, *certEnv)) *certEnv {
	t.Helper()
	e := &certEnv{ca: testpki.NewCA("pier test CA")}
	other := testpki.NewCA("another CA")
	now := time.Now()
	e.certs = map[string]tls.Certificate{
		"alice":         e.ca.Issue(testpki.Options{CommonName: "alice"}),
		"bob":           e.ca.Issue(testpki.Options{CommonName: "bob"}),
		"alice expired": e.ca.Issue(testpki.Options{CommonName: "alice", NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}),
		"alice future":  e.ca.Issue(testpki.Options{CommonName: "alice", NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(48 * time.Hour)}),
		"alice revoked": e.ca.Issue(testpki.Options{CommonName: "alice"}),
		"alice server":  e.ca.Issue(testpki.Options{CommonName: "alice", ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}),
		"alice other":   other.Issue(testpki.Options{CommonName: "alice"}),
	}
	crls := []*x509.RevocationList{e.ca.CRL(time.Time{}, e.certs["alice revoked"].Leaf)}
	var clientCfg *tls.Config
	e.srv, clientCfg = tlsServer(t, func(s *ftptest.Server) {
		s.BanAfter = -1 // the tests fail many logins
		s.TLSClientCerts = &pier.ClientCertPolicy{
			CAs:  e.ca.Pool(),
			CRLs: func() []*x509.RevocationList { return crls },
		}
		bobHash, err := auth.HashPassword("bobpw")
		if err != nil {
			t.Fatal(err)
		}
		for name, a := range map[string]auth.Account{
			"alice": {FS: s.Root, Perm: pier.AllPerms, Cert: auth.CertOnly},
			"bob":   {FS: s.Root, PasswordHash: bobHash, Cert: auth.CertAndPassword},
		} {
			if err := s.Users.AddUser(name, a); err != nil {
				t.Fatal(err)
			}
		}
		if configure != nil {
			configure(s, e)
		}
	})
	e.client = clientCfg
	return e
}

// dial connects and, unless cert is "clear", does AUTH TLS sending the
// certificate of that name ("" for none).
func (e *certEnv) dial(t *testing.T, cert string) *ftptest.Conn {
	t.Helper()
	c := e.srv.Dial(t)
	switch cert {
	case "clear":
	case "":
		c.AuthTLS(t, e.client)
	default:
		c.AuthTLS(t, e.config(cert))
	}
	return c
}

// config is the client configuration that sends the certificate of that
// name.
func (e *certEnv) config(cert string) *tls.Config {
	return testpki.ClientConfig(e.client, e.certs[cert])
}

// expect sends line and checks the reply's code and, if text is not "",
// its text.
func expect(t *testing.T, c *ftptest.Conn, line string, code int, text string) {
	t.Helper()
	got, gotText := c.Cmd(t, line)
	if got != code || (text != "" && gotText != text) {
		t.Fatalf("%q: got %d %q, want %d %q", line, got, gotText, code, text)
	}
}

func TestClientCertLogin(t *testing.T) {
	e := newCertEnv(t, nil)
	const (
		byCert     = "Login successful (client certificate)."
		required   = "Client certificate required."
		notForUser = "Client certificate not accepted for this user."
	)
	cases := []struct {
		name       string
		cert       string // "" none, "clear" no TLS at all
		user, pass string
		userCode   int
		userText   string
		passCode   int // 0: no PASS
	}{
		{"certificate alone", "alice", "alice", "", 230, byCert, 0},
		{"certificate and password", "bob", "bob", "bobpw", 331, "", 230},
		{"certificate and wrong password", "bob", "bob", "nope", 331, "", 530},
		{"no certificate for a certificate user", "", "alice", "", 530, required, 0},
		{"no certificate and password", "", "bob", "bobpw", 530, required, 0},
		{"no TLS for a certificate user", "clear", "alice", "", 530, "Client certificate required: use AUTH TLS and send one.", 0},
		{"another user's certificate", "bob", "alice", "", 530, notForUser, 0},
		{"another user's certificate, with password", "alice", "bob", "bobpw", 530, notForUser, 0},
		{"expired", "alice expired", "alice", "", 530, "Client certificate refused: expired.", 0},
		{"not valid yet", "alice future", "alice", "", 530, "Client certificate refused: not valid yet.", 0},
		{"from another CA", "alice other", "alice", "", 530, "Client certificate refused: not issued by a trusted CA.", 0},
		{"revoked", "alice revoked", "alice", "", 530, "Client certificate refused: revoked.", 0},
		{"not for client authentication", "alice server", "alice", "", 530, "Client certificate refused: not for client authentication.", 0},
		// A certificate that is not valid refuses the connection's
		// password logins too.
		{"bad certificate, password user", "alice expired", ftptest.User, ftptest.Password, 530, "Client certificate refused: expired.", 0},
		{"bad certificate, anonymous", "alice other", "anonymous", "x", 530, "Client certificate refused: not issued by a trusted CA.", 0},
		// A valid certificate changes nothing for password users.
		{"password user with a certificate", "alice", ftptest.User, ftptest.Password, 331, "Username ok, send password.", 230},
		{"password user without a certificate", "", ftptest.User, ftptest.Password, 331, "", 230},
		{"password user on a clear connection", "clear", ftptest.User, ftptest.Password, 331, "", 230},
		{"anonymous with a certificate", "alice", "anonymous", "x@y", 331, "", 230},
		{"unknown name with a certificate", "alice", "nobody", "x", 331, "Username ok, send password.", 530},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial(t, tc.cert)
			expect(t, c, "USER "+tc.user, tc.userCode, tc.userText)
			if tc.passCode != 0 {
				expect(t, c, "PASS "+tc.pass, tc.passCode, "")
			}
			if tc.userCode == 230 || tc.passCode == 230 {
				expect(t, c, "PWD", 257, "")
			} else {
				expect(t, c, "PWD", 530, "")
			}
		})
	}
}

// TestClientCertReplies: USER's replies with client certificates on are
// those without for the rest of the session: REIN and a new USER, a second
// certificate login, PASS after a certificate login.
func TestClientCertReplies(t *testing.T) {
	e := newCertEnv(t, nil)
	c := e.dial(t, "alice")
	expect(t, c, "USER alice", 230, "")
	expect(t, c, "PASS x", 503, "User already authenticated.")
	expect(t, c, "USER alice", 230, "") // a new login, by the same certificate
	expect(t, c, "REIN", 220, "")
	expect(t, c, "PWD", 530, "")
	expect(t, c, "USER "+ftptest.User, 331, "")
	expect(t, c, "PASS "+ftptest.Password, 230, "")
	expect(t, c, "USER nobody", 331, "Previous account information was flushed, send password.")
	expect(t, c, "USER bob", 530, "Client certificate not accepted for this user.")
	expect(t, c, "USER alice", 230, "")
}

// TestClientCertFEAT: asking for certificates changes no FEAT or HELP line.
func TestClientCertFEAT(t *testing.T) {
	plain, cfg := tlsServer(t, nil)
	e := newCertEnv(t, nil)
	for _, cmd := range []string{"FEAT", "HELP"} {
		a := plain.Dial(t)
		a.AuthTLS(t, cfg)
		_, want := a.Cmd(t, cmd)
		_, got := e.dial(t, "alice").Cmd(t, cmd)
		if got != want {
			t.Errorf("%s with client certificates:\n%s\nwithout:\n%s", cmd, got, want)
		}
	}
}

func TestClientCertRequired(t *testing.T) {
	e := newCertEnv(t, func(s *ftptest.Server, _ *certEnv) { s.TLSClientCerts.Required = true })
	for _, user := range []string{ftptest.User, "anonymous", "alice", "nobody"} {
		t.Run(user, func(t *testing.T) {
			expect(t, e.dial(t, ""), "USER "+user, 530, "Client certificate required.")
			expect(t, e.dial(t, "clear"), "USER "+user, 530, "Client certificate required: use AUTH TLS and send one.")
		})
	}
	// Any valid certificate lets password users log in with their
	// password.
	c := e.dial(t, "bob")
	c.Login(t, ftptest.User, ftptest.Password)
}

// TestClientCertAttempts: refusals count as failed logins, and the last
// one allowed closes the connection.
func TestClientCertAttempts(t *testing.T) {
	failed := make(chan string, 10)
	e := newCertEnv(t, func(s *ftptest.Server, _ *certEnv) {
		s.Hooks.LoginFailed = func(_ *pier.Session, user string) { failed <- user }
	})
	c := e.dial(t, "alice expired")
	expect(t, c, "USER alice", 530, "Client certificate refused: expired.")
	expect(t, c, "USER "+ftptest.User, 530, "Client certificate refused: expired.")
	expect(t, c, "USER alice", 530, "Client certificate refused: expired. Disconnecting.")
	if _, _, err := c.ReadReply(); err == nil {
		t.Fatal("connection still open after the last attempt")
	}
	d := e.dial(t, "")
	expect(t, d, "USER alice", 530, "Client certificate required.")
	// The hook runs after the reply is sent: wait for each.
	var got []string
	for range 4 {
		select {
		case u := <-failed:
			got = append(got, u)
		case <-time.After(20 * time.Second):
			t.Fatalf("LoginFailed hooks: %q, and no more", got)
		}
	}
	if strings.Join(got, ",") != "alice,user,alice,alice" {
		t.Fatalf("LoginFailed hooks: %q", got)
	}
}

// TestClientCertCRLOutOfDate: a revocation list past its next update can't
// tell whether a certificate is revoked: 421, as for an authenticator
// outage, and no failure is counted.
func TestClientCertCRLOutOfDate(t *testing.T) {
	e := newCertEnv(t, func(s *ftptest.Server, e *certEnv) {
		stale := []*x509.RevocationList{e.ca.CRL(time.Now().Add(-time.Minute))}
		s.TLSClientCerts.CRLs = func() []*x509.RevocationList { return stale }
		s.BanAfter = 1
	})
	c := e.dial(t, "alice")
	expect(t, c, "USER alice", 421, "Service not available: can't check client certificates now; try again later.")
	if _, _, err := c.ReadReply(); err == nil {
		t.Fatal("connection still open after 421")
	}
	// Not banned: a login without a certificate still works.
	e.dial(t, "").Login(t, ftptest.User, ftptest.Password)
}

// TestClientCertCRLs: a list applies only to the certificates of the CA
// that signed it.
func TestClientCertCRLs(t *testing.T) {
	other := testpki.NewCA("pier test CA") // the same name, another key
	e := newCertEnv(t, func(s *ftptest.Server, e *certEnv) {
		forged := []*x509.RevocationList{other.CRL(time.Now().Add(-time.Minute), e.certs["alice"].Leaf)}
		s.TLSClientCerts.CRLs = func() []*x509.RevocationList { return forged }
	})
	expect(t, e.dial(t, "alice"), "USER alice", 230, "")
}

// TestClientCertTransfers: a session logged in by certificate moves
// protected data, its data connections resuming the control connection's
// TLS session (which carries the certificate), in TLS 1.2 and 1.3.
func TestClientCertTransfers(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			e := newCertEnv(t, nil)
			cfg := e.config("alice")
			cfg.MinVersion, cfg.MaxVersion = v, v
			c := e.srv.Dial(t)
			c.AuthTLS(t, cfg)
			expect(t, c, "USER alice", 230, "")
			c.Expect(t, "PBSZ 0", 200)
			c.Expect(t, "PROT P", 200)
			c.Expect(t, "TYPE I", 200)
			c.DataTLS = cfg
			data := bytes.Repeat([]byte("certified\n"), 10000)
			c.Store(t, "STOR cert.txt", data)
			if got := c.Retrieve(t, "RETR cert.txt"); !bytes.Equal(got, data) {
				t.Fatalf("RETR: %d bytes, want %d", len(got), len(data))
			}
		})
	}
}

// TestClientCertConnInfo: any Authenticator sees the valid certificate in
// ConnInfo, and hooks in Session.ClientCert; never one that is not valid.
func TestClientCertConnInfo(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	name := func(c *x509.Certificate) string {
		if c == nil {
			return "none"
		}
		return c.Subject.CommonName
	}
	e := newCertEnv(t, func(s *ftptest.Server, _ *certEnv) {
		users := s.Users
		s.Auth = pier.AuthenticatorFunc(func(ctx context.Context, c pier.ConnInfo, user, pass string) (*pier.User, error) {
			mu.Lock()
			seen = append(seen, "auth:"+name(c.ClientCert))
			mu.Unlock()
			return users.Authenticate(ctx, c, user, pass)
		})
		s.Hooks.Login = func(p *pier.Session) {
			mu.Lock()
			seen = append(seen, "hook:"+name(p.ClientCert()))
			mu.Unlock()
		}
	})
	e.dial(t, "bob").Login(t, ftptest.User, ftptest.Password)
	e.dial(t, "").Login(t, ftptest.User, ftptest.Password)
	// Through an Authenticator that hides AuthenticateCert, alice still
	// logs in: her certificate is checked at PASS, any password taken.
	c := e.dial(t, "alice")
	expect(t, c, "USER alice", 331, "")
	expect(t, c, "PASS whatever", 230, "")
	expect(t, c, "NOOP", 200, "") // after the Login hook
	c = e.dial(t, "")
	expect(t, c, "USER bob", 331, "")
	expect(t, c, "PASS bobpw", 530, "Client certificate required.")
	mu.Lock()
	defer mu.Unlock()
	want := "auth:bob hook:bob auth:none hook:none auth:alice hook:alice auth:none"
	if got := strings.Join(seen, " "); got != want {
		t.Fatalf("seen %q, want %q", got, want)
	}
}

// TestClientCertLog: a certificate login logs the certificate's subject
// and serial number.
func TestClientCertLog(t *testing.T) {
	var buf syncBuffer
	e := newCertEnv(t, func(s *ftptest.Server, _ *certEnv) {
		s.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	})
	cert := e.certs["alice"].Leaf
	c := e.dial(t, "alice")
	first := c.LocalAddr()
	expect(t, c, "USER alice", 230, "")
	expect(t, c, "QUIT", 221, "")
	c = e.dial(t, "alice revoked")
	second := c.LocalAddr()
	expect(t, c, "USER alice", 530, "")
	expect(t, c, "QUIT", 221, "")
	log := buf.String()
	for _, want := range []string{
		fmt.Sprintf(`msg="user logged in" session=1 remote=%s user=alice cert_subject="CN=alice" cert_serial=%x cert_issuer="CN=pier test CA,O=pier tests"`, first, cert.SerialNumber),
		fmt.Sprintf(`msg="client certificate refused" session=2 remote=%s cert_subject="CN=alice" cert_serial=%x`, second, e.certs["alice revoked"].Leaf.SerialNumber),
		"reason=revoked",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestClientCertSettings: Serve refuses a policy that can't work.
func TestClientCertSettings(t *testing.T) {
	serverCfg, _ := tlsPair(t)
	for _, tc := range []struct {
		name string
		srv  *pier.Server
		want string
	}{
		{"no CAs", &pier.Server{TLSConfig: serverCfg, TLSClientCerts: &pier.ClientCertPolicy{}}, "TLSClientCerts.CAs"},
		{"no TLS", &pier.Server{TLSClientCerts: &pier.ClientCertPolicy{CAs: x509.NewCertPool()}}, "needs TLSConfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.srv.Serve(ln); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Serve: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestClientCertVirtualHost: a virtual host with a certificate of its own
// asks for client certificates too, and its Authenticator logs its users
// in by them, whether the client chose it by SNI or by HOST.
func TestClientCertVirtualHost(t *testing.T) {
	hostCert, err := tlscert.SelfSigned("files.example")
	if err != nil {
		t.Fatal(err)
	}
	hostUsers := &auth.Virtual{}
	e := newCertEnv(t, func(s *ftptest.Server, _ *certEnv) {
		if err := hostUsers.AddUser("carol", auth.Account{FS: s.Root, Cert: auth.CertOnly}); err != nil {
			t.Fatal(err)
		}
		s.Hosts = map[string]*pier.Host{"files.example": {Auth: hostUsers, TLSConfig: &tls.Config{Certificates: []tls.Certificate{hostCert}}}}
	})
	carol := e.ca.Issue(testpki.Options{CommonName: "carol"})
	roots := x509.NewCertPool()
	roots.AddCert(hostCert.Leaf)
	cfg := testpki.ClientConfig(&tls.Config{RootCAs: roots, ServerName: "files.example", ClientSessionCache: tls.NewLRUClientSessionCache(4)}, carol)
	for _, how := range []string{"SNI", "HOST"} {
		t.Run(how, func(t *testing.T) {
			c := e.srv.Dial(t)
			if how == "HOST" {
				c.Expect(t, "HOST files.example", 220)
			}
			c.AuthTLS(t, cfg)
			expect(t, c, "USER alice", 331, "") // not an account of this host
			expect(t, c, "USER carol", 230, "Login successful (client certificate).")
			c.Expect(t, "PBSZ 0", 200)
			c.Expect(t, "PROT P", 200)
			c.DataTLS = cfg
			c.Retrieve(t, "LIST")
		})
	}
}

// TestClientCertGoClient: jlaffaye/ftp (rclone's FTP client) takes the
// 230 to USER of a certificate login (it would not take RFC 2228's 232),
// and transfers over the resumed TLS sessions.
func TestClientCertGoClient(t *testing.T) {
	e := newCertEnv(t, nil)
	c, err := ftp.Dial(e.srv.Addr, ftp.DialWithExplicitTLS(e.config("alice")), ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("alice", ""); err != nil {
		t.Fatalf("Login by certificate: %v", err)
	}
	if err := c.Stor("go.txt", strings.NewReader("by certificate")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.List("/"); err != nil {
		t.Fatal(err)
	}
}

// TestClientCertImplicit: implicit FTPS asks for the certificate in its
// first handshake.
func TestClientCertImplicit(t *testing.T) {
	e := newCertEnv(t, nil)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.ServeTLS(ln)
	implicit := *e.srv
	implicit.Addr = ln.Addr().String()
	c := implicit.DialRaw(t)
	c.StartTLS(t, e.config("alice"))
	c.ExpectReply(t, 220)
	expect(t, c, "USER alice", 230, "Login successful (client certificate).")
	c.DataTLS = e.config("alice")
	c.Retrieve(t, "LIST")
}

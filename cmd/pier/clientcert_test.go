package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/internal/testpki"
)

// pki is a test CA's files and certificates.
type pki struct {
	ca            *testpki.CA
	caFile        string
	crlFile       string // revokes "revoked"
	otherCRLFile  string // of another CA
	certs         map[string]tls.Certificate
	clientConfigs map[string]*tls.Config // by certificate; "" sends none
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{ca: testpki.NewCA("pier daemon test CA")}
	p.certs = map[string]tls.Certificate{
		"alice":   p.ca.Issue(testpki.Options{CommonName: "alice", Emails: []string{"alice@example.org"}}),
		"bob":     p.ca.Issue(testpki.Options{CommonName: "bob", Emails: []string{"bob@example.org"}}),
		"revoked": p.ca.Issue(testpki.Options{CommonName: "alice", Emails: []string{"alice@example.org"}}),
	}
	write := func(name string, data []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	p.caFile = write("ca.pem", p.ca.PEM())
	p.crlFile = write("crl.pem", testpki.CRLPEM(p.ca.CRL(time.Time{}, p.certs["revoked"].Leaf)))
	p.otherCRLFile = write("other-crl.pem", testpki.CRLPEM(testpki.NewCA("other").CRL(time.Time{})))
	// The daemon's certificate is self-signed (--tls-self-signed): the
	// tests don't check it.
	base := &tls.Config{InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	p.clientConfigs = map[string]*tls.Config{"": base}
	for name, c := range p.certs {
		p.clientConfigs[name] = testpki.ClientConfig(base, c)
	}
	return p
}

// serveArgs configures pier from args and serves it on a loopback port,
// in this process, until the test ends; it returns the address.
func serveArgs(t *testing.T, args ...string) string {
	t.Helper()
	srv, _ := configureArgs(t, args...)
	srv.LoginFailDelay = -1
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		if err := <-done; !errors.Is(err, pier.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// loginCase is one login attempt: the certificate the client sends ("":
// none), USER's reply, and PASS's (0: no PASS).
type loginCase struct {
	cert, user, pass string
	userCode         int
	userText         string
	passCode         int
}

func (p *pki) check(t *testing.T, addr string, cases []loginCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.user+" with "+c.cert+" certificate", func(t *testing.T) {
			conn := ftptest.Dial(t, addr)
			conn.AuthTLS(t, p.clientConfigs[c.cert])
			code, text := conn.Cmd(t, "USER "+c.user)
			if code != c.userCode || (c.userText != "" && text != c.userText) {
				t.Fatalf("USER %s: %d %q, want %d %q", c.user, code, text, c.userCode, c.userText)
			}
			if c.passCode != 0 {
				conn.Expect(t, "PASS "+c.pass, c.passCode)
			}
		})
	}
}

const (
	certRequired = "Client certificate required."
	notForUser   = "Client certificate not accepted for this user."
)

// TestClientCertSingleUser: with -u, the user needs a certificate that
// names them, and the password.
func TestClientCertSingleUser(t *testing.T) {
	p := newPKI(t)
	addr := serveArgs(t, "-d", t.TempDir(), "-u", "alice", "-P", "pw", "--tls-self-signed", "--tls-client-ca", p.caFile, "--tls-client-crl", p.crlFile)
	p.check(t, addr, []loginCase{
		{cert: "alice", user: "alice", pass: "pw", userCode: 331, passCode: 230},
		{cert: "alice", user: "alice", pass: "wrong", userCode: 331, passCode: 530},
		{cert: "", user: "alice", userCode: 530, userText: certRequired},
		{cert: "bob", user: "alice", userCode: 530, userText: notForUser},
		{cert: "revoked", user: "alice", userCode: 530, userText: "Client certificate refused: revoked."},
		{cert: "", user: "nobody", userCode: 530, userText: certRequired},
	})
}

// TestClientCertAnonymous: anonymous takes any valid certificate, and
// needs one.
func TestClientCertAnonymous(t *testing.T) {
	p := newPKI(t)
	addr := serveArgs(t, "-d", t.TempDir(), "--tls-self-signed", "--tls-client-ca", p.caFile)
	p.check(t, addr, []loginCase{
		{cert: "bob", user: "anonymous", pass: "x@y", userCode: 331, passCode: 230},
		{cert: "", user: "anonymous", userCode: 530, userText: certRequired},
	})
}

// TestClientCertUsersFile: the users file says who logs in by certificate;
// --tls-client-cert-user email names them by e-mail address.
func TestClientCertUsersFile(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	hash, err := auth.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte(strings.Join([]string{
		"alice@example.org:cert:elr:.",
		"bob@example.org:cert+" + hash + ":elr:.",
		"carol:" + hash + ":elr:.",
	}, "\n")+"\n"), 0o600)
	addr := serveArgs(t, "--users-file", users, "--tls-self-signed", "--tls-client-ca", p.caFile, "--tls-client-crl", p.crlFile, "--tls-client-cert-user", "email")
	p.check(t, addr, []loginCase{
		{cert: "alice", user: "alice@example.org", userCode: 230, userText: "Login successful (client certificate)."},
		{cert: "bob", user: "alice@example.org", userCode: 530, userText: notForUser},
		{cert: "", user: "alice@example.org", userCode: 530, userText: certRequired},
		{cert: "revoked", user: "alice@example.org", userCode: 530, userText: "Client certificate refused: revoked."},
		{cert: "bob", user: "bob@example.org", pass: "pw", userCode: 331, passCode: 230},
		{cert: "", user: "bob@example.org", userCode: 530, userText: certRequired},
		{cert: "", user: "carol", pass: "pw", userCode: 331, passCode: 230},
		{cert: "alice", user: "carol", pass: "pw", userCode: 331, passCode: 230},
		{cert: "revoked", user: "carol", userCode: 530, userText: "Client certificate refused: revoked."},
	})
}

// TestCertNamed: the system accounts' wrapper lets in only the account
// the certificate names, and anonymous with any.
func TestCertNamed(t *testing.T) {
	p := newPKI(t)
	fs := &pier.User{Name: "x"}
	next := pier.AuthenticatorFunc(func(_ context.Context, _ pier.ConnInfo, user, pass string) (*pier.User, error) {
		if pass != "pw" {
			return nil, pier.ErrAuthFailed
		}
		return fs, nil
	})
	a := &certNamed{next: next, names: auth.CertCommonName}
	alice := pier.ConnInfo{ClientCert: p.certs["alice"].Leaf}
	ctx := context.Background()
	for _, c := range []struct {
		info      pier.ConnInfo
		user      string
		atUSER    error
		pass      string
		atPASSErr error
	}{
		{alice, "alice", pier.ErrPasswordNeeded, "pw", nil},
		{alice, "alice", pier.ErrPasswordNeeded, "no", pier.ErrAuthFailed},
		{alice, "bob", pier.ErrAuthFailed, "pw", pier.ErrAuthFailed},
		{pier.ConnInfo{}, "alice", pier.ErrCertRequired, "pw", pier.ErrCertRequired},
		{alice, "anonymous", pier.ErrPasswordNeeded, "pw", nil},
	} {
		if _, err := a.AuthenticateCert(ctx, c.info, c.user); !errors.Is(err, c.atUSER) {
			t.Errorf("AuthenticateCert(%s): %v, want %v", c.user, err, c.atUSER)
		}
		if _, err := a.Authenticate(ctx, c.info, c.user, c.pass); !errors.Is(err, c.atPASSErr) {
			t.Errorf("Authenticate(%s, %s): %v, want %v", c.user, c.pass, err, c.atPASSErr)
		}
	}
}

func TestClientCertFlags(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	certUsers := filepath.Join(dir, "users")
	os.WriteFile(certUsers, []byte("alice:cert:elr:.\n"), 0o600)
	key := filepath.Join(dir, "key.pem")
	os.WriteFile(key, testpki.KeyPEM(p.certs["alice"]), 0o600)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"ca without tls", []string{"--tls-client-ca", p.caFile}, "--tls-client-ca needs --tls"},
		{"crl without ca", []string{"--tls-self-signed", "--tls-client-crl", p.crlFile}, "--tls-client-crl needs --tls-client-ca"},
		{"cert user without ca", []string{"--tls-self-signed", "--tls-client-cert-user", "email"}, "--tls-client-cert-user needs --tls-client-ca"},
		{"missing ca", []string{"--tls-self-signed", "--tls-client-ca", filepath.Join(dir, "none.pem")}, "--tls-client-ca: tlscert: open"},
		{"a key as ca", []string{"--tls-self-signed", "--tls-client-ca", key}, "not a CERTIFICATE"},
		{"bad cert user", []string{"--tls-self-signed", "--tls-client-ca", p.caFile, "--tls-client-cert-user", "serial"}, `--tls-client-cert-user "serial"`},
		{"crl of another ca", []string{"--tls-self-signed", "--tls-client-ca", p.caFile, "--tls-client-crl", p.otherCRLFile}, "not signed by any of the CAs"},
		{"missing crl", []string{"--tls-self-signed", "--tls-client-ca", p.caFile, "--tls-client-crl", filepath.Join(dir, "none")}, "--tls-client-crl"},
		{"cert users without ca", []string{"--users-file", certUsers}, "alice logs in by client certificate: needs --tls-client-ca"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(c.args, &stdout, &stderr)
			msg := stderr.String()
			if code != 2 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, c.want) {
				t.Fatalf("exit %d, stderr %q: want 2 and one line containing %q", code, msg, c.want)
			}
		})
	}
}

// TestDaemonClientCRL: pier reloads the revocation list on SIGHUP (and
// when the file changes: tlscert's tests), keeping the old one if the new
// one is broken.
func TestDaemonClientCRL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	p := newPKI(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte("alice:cert:elr:.\n"), 0o600)
	empty := testpki.CRLPEM(p.ca.CRL(time.Time{}))
	os.WriteFile(p.crlFile, empty, 0o600)
	port := freePort(t)
	d, _ := startDaemon(t, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "--users-file", users, "--tls-self-signed", "--tls-client-ca", p.caFile, "--tls-client-crl", p.crlFile)
	line := d.waitLog(t, "TLS client certificates asked for")
	for _, want := range []string{`cas="CN=pier daemon test CA,O=pier tests"`, "crl=" + p.crlFile, "revoked=0", "user_field=cn"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	login := func(want int, text string) {
		t.Helper()
		c := ftptest.Dial(t, addr)
		c.AuthTLS(t, p.clientConfigs["alice"])
		if code, got := c.Cmd(t, "USER alice"); code != want || got != text {
			t.Fatalf("USER alice: %d %q, want %d %q", code, got, want, text)
		}
		c.Cmd(t, "QUIT")
	}
	login(230, "Login successful (client certificate).")

	// Revoked by SIGHUP.
	os.WriteFile(p.crlFile, testpki.CRLPEM(p.ca.CRL(time.Time{}, p.certs["alice"].Leaf)), 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(t, "client certificate revocation lists reloaded")
	login(530, "Client certificate refused: revoked.")

	// A broken list is not taken: the reload fails, the old one stays in
	// force.
	os.WriteFile(p.crlFile, []byte("garbage"), 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	if l := d.waitLog(t, "reload failed; keeping the settings in force"); !strings.Contains(l, "tls-client-crl") {
		t.Errorf("reload failure %q doesn't name --tls-client-crl", l)
	}
	login(530, "Client certificate refused: revoked.")

	// Let in again.
	os.WriteFile(p.crlFile, empty, 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(t, "client certificate revocation lists reloaded")
	login(230, "Login successful (client certificate).")
	d.stop(t)
}

// TestClientCertConfigFile: in a configuration file, the CA and CRL files
// are relative to its folder.
func TestClientCertConfigFile(t *testing.T) {
	p := newPKI(t)
	dir := filepath.Dir(p.caFile)
	conf := filepath.Join(dir, "pier.conf")
	os.WriteFile(conf, []byte("tls-self-signed\ntls-client-ca = ca.pem\ntls-client-crl = crl.pem\ntls-client-cert-user = email\n"), 0o600)
	srv, cfg := configureArgs(t, "-c", conf, "-d", t.TempDir())
	if srv.TLSClientCerts == nil || srv.TLSClientCerts.CRLs == nil || !srv.TLSClientCerts.Required {
		t.Fatalf("policy %+v", srv.TLSClientCerts)
	}
	if n := revokedCount(cfg.clientCerts.crl); n != 1 {
		t.Fatalf("%d certificates revoked, want 1", n)
	}
}

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"testing"

	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/tlscert"
)

// start runs the example with a fresh self-signed certificate and returns
// its address and a client configuration that trusts that certificate.
func start(t *testing.T) (string, *tls.Config) {
	t.Helper()
	cert, err := tlscert.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srvCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	go func() { done <- run(ctx, ln, t.TempDir(), srvCfg, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})

	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	return ln.Addr().String(), &tls.Config{
		RootCAs:    roots,
		ServerName: "127.0.0.1",
		// The cache lets data connections resume the control connection's
		// TLS session, which the server requires.
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
	}
}

func TestFTPS(t *testing.T) {
	addr, cfg := start(t)
	c := ftptest.Dial(t, addr)

	// No login in clear.
	c.Expect(t, "USER user", 530)

	c.AuthTLS(t, cfg)
	c.Login(t, "user", "12345")
	// No data connection in clear either.
	c.Expect(t, "EPSV", 521)

	c.Expect(t, "PBSZ 0", 200)
	c.Expect(t, "PROT P", 200)
	c.DataTLS = cfg // same cache and name: the data connection resumes
	want := []byte("top secret\n")
	c.Store(t, "STOR secret.txt", want)
	if got := c.Retrieve(t, "RETR secret.txt"); string(got) != string(want) {
		t.Fatalf("RETR over TLS: %q, want %q", got, want)
	}
	c.Expect(t, "QUIT", 221)
}

// TestFTPSNoResume shows what a client that does not resume the session
// gets on its data connection: 522.
func TestFTPSNoResume(t *testing.T) {
	addr, cfg := start(t)
	c := ftptest.Dial(t, addr)
	c.AuthTLS(t, cfg)
	c.Login(t, "user", "12345")
	c.Expect(t, "PBSZ 0", 200)
	c.Expect(t, "PROT P", 200)

	fresh := cfg.Clone()
	fresh.ClientSessionCache = nil
	c.DataTLS = fresh
	dc := c.Passive(t)
	c.Expect(t, "LIST", 150)
	// The server refuses the handshake's result; the client sees the data
	// connection end, then the reply.
	dc.Read(make([]byte, 1))
	c.ExpectReply(t, 522)
}

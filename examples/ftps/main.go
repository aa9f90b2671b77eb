// Command ftps is an explicit FTPS server (RFC 4217): clients connect in
// clear, send AUTH TLS, and must protect both the control connection and
// every data connection (pyftpdlib's tls_ftpd.py with tls_control_required
// and tls_data_required).
//
// Without -certfile it makes a self-signed certificate in memory and logs
// its SHA-256 fingerprint, for clients to compare:
//
//	go run ./examples/ftps -dir /srv/ftp
//	curl --ssl-reqd -k -u user:12345 ftp://127.0.0.1:2121/
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/local"
	"github.com/pierftp/pier/tlscert"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2121", "address to listen on")
	dir := flag.String("dir", ".", "folder to serve")
	certFile := flag.String("certfile", "", "PEM certificate chain (default: self-signed, in memory)")
	keyFile := flag.String("keyfile", "", "PEM private key (default: -certfile)")
	flag.Parse()

	cfg, err := tlsConfig(*certFile, *keyFile)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := pier.Listen(*addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, ln, *dir, cfg, slog.Default()); err != nil {
		log.Fatal(err)
	}
}

// tlsConfig loads a certificate from files, reloaded when they change (so a
// renewed certificate needs no restart), or makes a self-signed one.
func tlsConfig(certFile, keyFile string) (*tls.Config, error) {
	if certFile != "" {
		if keyFile == "" {
			keyFile = certFile
		}
		r, err := tlscert.NewReloader(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		return &tls.Config{GetCertificate: r.GetCertificate}, nil
	}
	cert, err := tlscert.SelfSigned("localhost", "127.0.0.1", "::1")
	if err != nil {
		return nil, err
	}
	slog.Info("self-signed certificate", "sha256", tlscert.Fingerprint(&cert))
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}

func run(ctx context.Context, ln net.Listener, dir string, cfg *tls.Config, logger *slog.Logger) error {
	root, err := local.New(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	users := &auth.Virtual{}
	if err := users.AddUser("user", auth.Account{Password: "12345", FS: root, Perm: pier.AllPerms}); err != nil {
		return err
	}
	srv := &pier.Server{
		Auth:      users,
		TLSConfig: cfg,
		// No password or file crosses the network in clear: USER and PASS
		// before AUTH TLS get 530, data connections without PROT P 521.
		TLSControlRequired: true,
		TLSDataRequired:    true,
		// Protected data connections must also resume a TLS session the
		// server gave this user at this address (the default;
		// TLSAllowNoReuse relaxes it), so nobody can race the client to
		// a passive port.
		Logger: logger,
	}
	return srv.ServeContext(ctx, ln, 10*time.Second)
}

package main

import (
	"cmp"
	"crypto/tls"
	"log/slog"
	"net"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/tlscert"
)

// configureTLS checks the TLS flags and sets the Server's FTPS fields;
// FTPS stays off without --tls or --tls-self-signed.
func configureTLS(o *options, srv *pier.Server, cfg *config) error {
	if err := checkTLSFlags(o); err != nil || !o.tls {
		return err
	}
	if o.tlsImplicitPort < 0 || o.tlsImplicitPort > 65535 {
		return usagef("--tls-implicit-port %d: must be between 1 and 65535", o.tlsImplicitPort)
	}
	tlsConfig, reloader, err := newTLSConfig(o)
	if err != nil {
		return err
	}
	srv.TLSConfig = tlsConfig
	srv.TLSControlRequired = o.tlsControlRequired
	srv.TLSDataRequired = o.tlsDataRequired
	srv.TLSAllowNoReuse = o.tlsAllowNoReuse
	cfg.reloader = reloader
	return nil
}

// checkTLSFlags refuses TLS flags without --tls, and a self-signed
// certificate with certificate files; --tls-self-signed implies --tls.
func checkTLSFlags(o *options) error {
	if o.tlsSelfSigned {
		if o.certfile != "" || o.keyfile != "" {
			return usagef("--tls-self-signed and --certfile/--keyfile exclude each other")
		}
		o.tls = true
	}
	if o.tls {
		return nil
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"certfile", o.certfile != ""}, {"keyfile", o.keyfile != ""},
		{"tls-control-required", o.tlsControlRequired}, {"tls-data-required", o.tlsDataRequired},
		{"tls-implicit-port", o.tlsImplicitPort != 0}, {"tls-allow-no-reuse", o.tlsAllowNoReuse},
	} {
		if f.set {
			return usagef("--%s needs --tls", f.name)
		}
	}
	return nil
}

// newTLSConfig builds the TLS configuration: a self-signed certificate
// made in memory, or the certificate files, through a Reloader.
func newTLSConfig(o *options) (*tls.Config, *tlscert.Reloader, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.tlsSelfSigned {
		cert, err := tlscert.SelfSigned("localhost", "127.0.0.1", "::1")
		if err != nil {
			return nil, nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
		return cfg, nil, nil
	}
	if o.certfile == "" {
		return nil, nil, usagef("--tls needs --certfile and --keyfile (or --tls-self-signed)")
	}
	r, err := tlscert.NewReloader(o.certfile, cmp.Or(o.keyfile, o.certfile))
	if err != nil {
		return nil, nil, usagef("--certfile/--keyfile: %v", err)
	}
	cfg.GetCertificate = r.GetCertificate
	return cfg, r, nil
}

// logTLS logs the FTPS settings and the certificate's fingerprint, which a
// user compares with what the client shows before trusting it; from then
// on, certificate reloads are logged too.
func logTLS(log *slog.Logger, srv *pier.Server, cfg *config) {
	var cert *tls.Certificate
	source := "self-signed, in memory"
	if cfg.reloader != nil {
		cert = cfg.reloader.Certificate()
		source = cfg.o.certfile
		cfg.reloader.OnReload = func(err error) { logReload(log, cfg.reloader, err) }
	} else if len(srv.TLSConfig.Certificates) > 0 {
		cert = &srv.TLSConfig.Certificates[0]
	}
	log.Info("FTPS enabled",
		"certificate", source,
		"sha256", tlscert.Fingerprint(cert),
		"control_required", srv.TLSControlRequired,
		"data_required", srv.TLSDataRequired,
		"session_reuse_required", !srv.TLSAllowNoReuse)
	logClientCerts(log, cfg)
}

// logReload logs the outcome of a certificate reload.
func logReload(log *slog.Logger, r *tlscert.Reloader, err error) {
	if err != nil {
		log.Error("certificate reload failed; keeping the old one", "err", err)
	} else {
		log.Info("certificate reloaded", "sha256", tlscert.Fingerprint(r.Certificate()))
	}
}

// startImplicitTLS logs the FTPS settings and, with --tls-implicit-port
// (ln, which listen took), starts serving implicit FTPS; Serve's result
// goes to done. It returns how many listeners it started.
func startImplicitTLS(srv *pier.Server, cfg *config, ln net.Listener, done chan<- error) int {
	if srv.TLSConfig == nil {
		return 0
	}
	logTLS(cfg.logger, srv, cfg)
	if ln == nil {
		return 0
	}
	cfg.logger.Info("implicit FTPS listening", "listen", ln.Addr().String())
	go func() { done <- srv.ServeTLS(ln) }()
	return 1
}

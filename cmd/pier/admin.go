package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/admin"
	"github.com/pierftp/pier/tlscert"
)

// The status page and admin API (package admin) at --admin. Who may do
// what:
//
//   - on a loopback address without --admin-token-file, anyone who can
//     connect may read (GET); actions need a client certificate (with
//     --admin-client-ca), so without one the API is read-only;
//   - with --admin-token-file, reading and actions need the token (or a
//     client certificate);
//   - on any other address, pier refuses to start without
//     --admin-token-file or --admin-client-ca.
//
// The token file must be readable and writable by its owner only (pier
// refuses to start otherwise, as ssh does for keys): the token is the
// file's first line, trimmed.

// adminOptions are the flags of --admin, and what configureAdmin made of
// them for serve.
type adminOptions struct {
	addr, tokenFile, clientCA string

	handler   *admin.Handler // nil without --admin
	tlsConfig *tls.Config    // nil without --admin-client-ca
}

// addAdminFlags defines the flags of the status page and admin API.
func addAdminFlags(fs *pflag.FlagSet, o *options) {
	a := &o.admin
	fs.StringVar(&a.addr, "admin", "", "serve the live status page and the admin API (sessions, bans, reload) at http://`ADDR`/ (HOST:PORT, such as 127.0.0.1:9122); on a loopback address readable without a token, elsewhere it needs --admin-token-file or --admin-client-ca; default: off")
	fs.StringVar(&a.tokenFile, "admin-token-file", "", "the admin API's bearer token is the first line of `FILE` (mode 600: pier refuses a file others can read); needed for actions (ending sessions, bans, reload) and, once set, for reading")
	fs.StringVar(&a.clientCA, "admin-client-ca", "", "serve --admin over HTTPS with the FTPS certificate (--certfile or --tls-self-signed), and accept client certificates issued by the CA certificates in `FILE` (PEM) as credentials, like the token")
}

// configureAdmin checks the --admin flags and makes the handler; it runs
// after configureMetrics and configureLogging. Without --metrics, it
// instruments srv so that /metrics works at --admin too.
func configureAdmin(o *options, srv *pier.Server, cfg *config) error {
	a := &o.admin
	if a.addr == "" {
		for name, set := range map[string]bool{"admin-token-file": a.tokenFile != "", "admin-client-ca": a.clientCA != ""} {
			if set {
				return usagef("--%s needs --admin", name)
			}
		}
		return nil
	}
	host, port, err := net.SplitHostPort(a.addr)
	if p, perr := strconv.Atoi(port); err != nil || perr != nil || p < 0 || p > 65535 {
		return usagef("--admin %q: want HOST:PORT, such as 127.0.0.1:9122", a.addr)
	}
	loopback := isLoopbackHost(host)
	if !loopback && a.tokenFile == "" && a.clientCA == "" {
		return usagef("--admin %s is not a loopback address: it needs --admin-token-file or --admin-client-ca (or listen on 127.0.0.1)", a.addr)
	}
	token := ""
	if a.tokenFile != "" {
		if token, err = readTokenFile(a.tokenFile); err != nil {
			return err
		}
	}
	if a.clientCA != "" {
		if a.tlsConfig, err = adminTLSConfig(o, srv, cfg); err != nil {
			return err
		}
	}
	reg := cfg.metrics
	if reg == nil {
		if reg, err = configureMetrics(a.addr, srv); err != nil {
			return err
		}
	}
	a.handler, err = admin.New(admin.Options{
		Server:       srv,
		Token:        token,
		LoopbackRead: loopback,
		Metrics:      reg,
		Logger:       cfg.logger,
		// cfg.reload is set by serve before the admin server starts.
		Reload: func() error {
			if cfg.reload == nil {
				return errors.ErrUnsupported
			}
			return cfg.reload()
		},
	})
	return err
}

// isLoopbackHost reports whether --admin's host is a loopback address
// ("localhost" counts; "" is every interface, and does not).
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// readTokenFile reads the token: the first line, trimmed, of a file that
// only its owner may read or write.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", usagef("--admin-token-file: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", usagef("--admin-token-file: %v", err)
	}
	if !st.Mode().IsRegular() {
		return "", usagef("--admin-token-file %q: not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o066 != 0 {
		return "", usagef("--admin-token-file %q: others can read or change it (mode %04o): chmod 600 it", path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", usagef("--admin-token-file: %v", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	token := strings.TrimSpace(line)
	if token == "" {
		return "", usagef("--admin-token-file %q: the first line is empty; put the token there", path)
	}
	return token, nil
}

// adminTLSConfig is --admin's HTTPS: the FTPS certificate (reloaded with
// it), and client certificates of --admin-client-ca's CAs asked for but
// not required, so that the page and token holders still get in.
func adminTLSConfig(o *options, srv *pier.Server, cfg *config) (*tls.Config, error) {
	if srv.TLSConfig == nil {
		return nil, usagef("--admin-client-ca needs --certfile (or --tls-self-signed): --admin then serves HTTPS with the FTPS certificate")
	}
	cas, err := tlscert.LoadCertificates(o.admin.clientCA)
	if err != nil {
		return nil, usagef("--admin-client-ca: %v", err)
	}
	pool := x509.NewCertPool()
	for _, ca := range cas {
		pool.AddCert(ca)
	}
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: srv.TLSConfig.Certificates, // --tls-self-signed
		ClientCAs:    pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}
	if cfg.reloader != nil {
		c.GetCertificate = cfg.reloader.GetCertificate
	}
	return c, nil
}

// listenAdmin takes --admin's address (nil without --admin); on failure
// it prints the one-line error and returns false.
func listenAdmin(cfg *config) (net.Listener, bool) {
	if cfg.o.admin.handler == nil {
		return nil, true
	}
	ln, err := net.Listen("tcp", cfg.o.admin.addr)
	if err != nil {
		fmt.Fprintf(cfg.stderr, "pier: %v\n", listenError(" for the admin page", cfg.o.admin.addr, "--admin", err))
		return nil, false
	}
	return ln, true
}

// serveAdmin serves the status page and admin API on ln (nil: nothing)
// until stop is called.
func serveAdmin(log *slog.Logger, ln net.Listener, cfg *config) (stop func()) {
	if ln == nil {
		return func() {}
	}
	a := &cfg.o.admin
	hs := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if a.tlsConfig != nil {
		ln, scheme = tls.NewListener(ln, a.tlsConfig), "https"
	}
	ctx, cancel := context.WithCancel(context.Background())
	go a.handler.Run(ctx)
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server stopped", "err", err)
		}
	}()
	log.Info("admin page listening", "url", scheme+"://"+ln.Addr().String()+"/",
		"token", a.tokenFile != "", "client_ca", a.clientCA != "",
		"read_without_token", a.tokenFile == "" && isLoopbackAddr(ln.Addr()),
		"actions", a.tokenFile != "" || a.clientCA != "")
	return func() {
		cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if hs.Shutdown(ctx) != nil {
			hs.Close()
		}
	}
}

// isLoopbackAddr reports whether a listener's address is a loopback one.
func isLoopbackAddr(addr net.Addr) bool {
	ap, err := netip.ParseAddrPort(addr.String())
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/tlscert"
)

// TLS client certificates: --tls-client-ca asks FTPS clients for one and
// checks it. Who logs in by certificate:
//
//   - with --users-file, each line says ("cert" for a certificate alone,
//     "cert+HASH" for a certificate and a password, a bare hash for a
//     password alone);
//   - otherwise (-u, --system-users, anonymous) every login needs a valid
//     certificate: one that names the account (-u, a system account) and
//     the account's password besides; anonymous takes any valid one, with
//     any password as always.

// clientCertOptions are the flags of client certificates.
type clientCertOptions struct {
	caFile, crlFile, userField string
}

// clientCerts is what the daemon keeps of client certificates, for its
// log and SIGHUP.
type clientCerts struct {
	cas  []*x509.Certificate
	crl  *tlscert.CRLReloader // nil without --tls-client-crl
	who  string               // who logs in by certificate, for the log
	none bool                 // the users file has no account that does
}

// addClientCertFlags defines the flags of client certificates.
func addClientCertFlags(fs *pflag.FlagSet, o *options) {
	c := &o.clientCert
	fs.StringVar(&c.caFile, "tls-client-ca", "", "ask FTPS clients for a certificate, and accept those issued by the CA certificates in `FILE` (PEM); a bad one gets 530 with the reason; with --users-file, lines say who logs in by certificate (cert, cert+HASH); otherwise every login needs one, naming the account (and its password)")
	fs.StringVar(&c.crlFile, "tls-client-crl", "", "refuse client certificates revoked by the lists in `FILE` (PEM or DER, signed by --tls-client-ca CAs); reloaded when it changes and on SIGHUP")
	fs.StringVar(&c.userField, "tls-client-cert-user", "cn", "the client certificate `FIELD` that names the user: cn (subject common name), email or dns (subject alternative names)")
}

// configureClientCerts checks the client certificate flags and sets the
// Server's policy; it runs after configureAccounts.
func configureClientCerts(o *options, fs *pflag.FlagSet, srv *pier.Server, cfg *config) error {
	c := &o.clientCert
	if c.caFile == "" {
		for _, name := range []string{"tls-client-crl", "tls-client-cert-user"} {
			if fs.Changed(name) {
				return usagef("--%s needs --tls-client-ca", name)
			}
		}
		if v, ok := srv.Auth.(*auth.Virtual); ok && o.usersFile != "" {
			if names := v.CertUsers(); len(names) > 0 {
				return usagef("--users-file: %s logs in by client certificate: needs --tls-client-ca", names[0])
			}
		}
		return nil
	}
	if !o.tls {
		return usagef("--tls-client-ca needs --tls (client certificates come in the TLS handshake)")
	}
	names, err := auth.CertNameByField(c.userField)
	if err != nil {
		return usagef("--tls-client-cert-user %q: choose cn, email or dns", c.userField)
	}
	cas, err := tlscert.LoadCertificates(c.caFile)
	if err != nil {
		return usagef("--tls-client-ca: %v", err)
	}
	cc := &clientCerts{cas: cas}
	policy := &pier.ClientCertPolicy{CAs: x509.NewCertPool()}
	for _, ca := range cas {
		policy.CAs.AddCert(ca)
	}
	if c.crlFile != "" {
		if cc.crl, err = tlscert.NewCRLReloader(c.crlFile, cas); err != nil {
			return usagef("--tls-client-crl: %v", err)
		}
		policy.CRLs = cc.crl.CRLs
	}
	switch a := srv.Auth.(type) {
	case *auth.Virtual:
		a.CertName = names
		if o.usersFile != "" {
			certUsers := a.CertUsers()
			cc.who = "the users file's lines with cert: " + strings.Join(certUsers, ", ")
			cc.none = len(certUsers) == 0
			break
		}
		// singleAccount made the -u account CertAndPassword.
		policy.Required = true
		cc.who = "anonymous: any valid certificate"
		if o.username != "" {
			cc.who = "user " + o.username + ": a certificate that names it, and the password"
		}
	default: // --system-users
		policy.Required = true
		srv.Auth = &certNamed{next: srv.Auth, names: names}
		cc.who = "every account: a certificate that names it, and the password; anonymous: any valid certificate"
	}
	srv.TLSClientCerts = policy
	cfg.clientCerts = cc
	return nil
}

// certNamed makes every login of an Authenticator (the system accounts)
// need a valid client certificate that names the account, besides its
// password; anonymous needs any valid one (Required sees to that).
type certNamed struct {
	next  pier.Authenticator
	names auth.CertName
}

// fits says why the connection's certificate can't log in user, or
// returns nil if it can.
func (a *certNamed) fits(c pier.ConnInfo, user string) error {
	switch {
	case user == auth.AnonymousName:
		return nil
	case c.ClientCert == nil:
		return fmt.Errorf("user %q: %w", user, pier.ErrCertRequired)
	case !slices.Contains(a.names(c.ClientCert), user):
		return fmt.Errorf("user %q: the client certificate (%s) names someone else: %w", user, c.ClientCert.Subject, pier.ErrAuthFailed)
	}
	return nil
}

// AuthenticateCert implements pier.CertAuthenticator: a certificate that
// names the user lets the password decide.
func (a *certNamed) AuthenticateCert(_ context.Context, c pier.ConnInfo, user string) (*pier.User, error) {
	if err := a.fits(c, user); err != nil {
		return nil, err
	}
	return nil, pier.ErrPasswordNeeded
}

// Authenticate implements pier.Authenticator.
func (a *certNamed) Authenticate(ctx context.Context, c pier.ConnInfo, user, pass string) (*pier.User, error) {
	if err := a.fits(c, user); err != nil {
		return nil, err
	}
	return a.next.Authenticate(ctx, c, user, pass)
}

// logClientCerts logs the client certificate settings and, from then on,
// the revocation lists' reloads.
func logClientCerts(log *slog.Logger, cfg *config) {
	cc := cfg.clientCerts
	if cc == nil {
		return
	}
	subjects := make([]string, len(cc.cas))
	for i, ca := range cc.cas {
		subjects[i] = ca.Subject.String()
	}
	crl := "none"
	if cc.crl != nil {
		crl = cfg.o.clientCert.crlFile
		cc.crl.OnReload = func(err error) { logCRLReload(log, cc.crl, err) }
	}
	log.Info("TLS client certificates asked for", "cas", strings.Join(subjects, "; "), "crl", crl, "revoked", revokedCount(cc.crl), "user_field", cfg.o.clientCert.userField, "needed_by", cc.who)
	if cc.none {
		log.Warn("--tls-client-ca: no account of the users file logs in by certificate (cert or cert+HASH instead of the hash): certificates are only checked")
	}
}

// revokedCount is the number of certificates the lists revoke.
func revokedCount(r *tlscert.CRLReloader) int {
	if r == nil {
		return 0
	}
	n := 0
	for _, l := range r.CRLs() {
		n += len(l.RevokedCertificateEntries)
	}
	return n
}

// logCRLReload logs the outcome of a revocation list reload.
func logCRLReload(log *slog.Logger, r *tlscert.CRLReloader, err error) {
	if err != nil {
		log.Error("client certificate revocation lists reload failed; keeping the old ones", "err", err)
	} else {
		log.Info("client certificate revocation lists reloaded", "revoked", revokedCount(r))
	}
}

// crlReloader returns the revocation lists' reloader, nil if none.
func (cc *clientCerts) crlReloader() *tlscert.CRLReloader {
	if cc == nil {
		return nil
	}
	return cc.crl
}

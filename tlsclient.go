package pier

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// TLS client certificates. The control connection's handshake asks for a
// certificate but does not judge it: Go's TLS server would end a handshake
// with a bad one in an alert, which FTP clients show as a broken
// connection. pier checks the certificate at USER instead, where a refusal
// is a 530 reply that says what is wrong with it (expired, revoked, not
// issued by a trusted CA) and counts as a failed login. The handshake
// still proves that the client holds the certificate's private key.

// ClientCertPolicy says which TLS client certificates are valid (see
// Server.TLSClientCerts).
type ClientCertPolicy struct {
	// CAs are the certificate authorities whose certificates are valid:
	// the roots of the chains (a client may send intermediates after its
	// certificate). Their names are sent to clients in the handshake, so
	// that a client with several certificates picks the right one. Serve
	// refuses a policy without CAs.
	CAs *x509.CertPool

	// CRLs, if not nil, returns the certificate revocation lists in force.
	// It is called at each USER, so it may return lists reloaded since (as
	// tlscert.CRLReloader's CRLs does). A certificate is revoked when a
	// list issued and signed by its issuer names its serial number; a list
	// of another issuer, or with a bad signature, is not used. A list past
	// its NextUpdate means the check can't be made: the client gets 421
	// and is disconnected, and the error is logged, as for an
	// Authenticator outage (nobody is banned for it). If nil, nothing is
	// revoked.
	CRLs func() []*x509.RevocationList

	// Required refuses every login without a valid certificate, whatever
	// the user: "530 Client certificate required." at USER (vsftpd's
	// require_cert). Otherwise a client without a certificate is for the
	// Authenticator to judge, user by user (CertAuthenticator).
	Required bool
}

// CertAuthenticator is an Authenticator that also logs users in by TLS
// client certificate, such as auth.Virtual. When Server.TLSClientCerts is
// set, the server calls AuthenticateCert at USER, with c.ClientCert the
// connection's valid client certificate, or nil if the client sent none (a
// certificate that is not valid never gets here: it is refused first).
type CertAuthenticator interface {
	Authenticator

	// AuthenticateCert decides what a login as user needs. It returns:
	//
	//   - the user, when the certificate is enough: the login completes
	//     at once, "230 Login successful (client certificate).";
	//   - ErrPasswordNeeded when the password decides: a user who logs
	//     in by password (with or without a certificate), or a name that
	//     does not exist; the client gets 331, and PASS calls
	//     Authenticate with the same c.ClientCert;
	//   - ErrCertRequired when the user needs a certificate and the
	//     client sent none: "530 Client certificate required.";
	//   - ErrAuthFailed when the certificate is not the user's: "530
	//     Client certificate not accepted for this user.".
	//
	// Both 530 replies count as failed logins (Server.MaxLoginAttempts,
	// Server.BanAfter). Any other error means the check could not be
	// made, as for Authenticate: 421, and the connection closes.
	AuthenticateCert(ctx context.Context, c ConnInfo, user string) (*User, error)
}

// ErrPasswordNeeded is what CertAuthenticator.AuthenticateCert returns
// when the login goes on with PASS.
var ErrPasswordNeeded = errors.New("password needed")

// ErrCertRequired is what CertAuthenticator.AuthenticateCert returns for a
// user who needs a client certificate when the client sent none, and what
// Authenticate may return (wrapping ErrAuthFailed) for such a user's
// password.
var ErrCertRequired = fmt.Errorf("client certificate required: %w", ErrAuthFailed)

// errCRLOutOfDate is a revocation list past its NextUpdate: the
// certificate's status is unknown.
var errCRLOutOfDate = errors.New("certificate revocation list out of date")

// certRefusal is a client certificate that is not valid.
type certRefusal struct {
	reason string // the end of "530 Client certificate refused: <reason>."
	err    error  // the detail, for the log
}

func (r *certRefusal) Error() string { return r.reason + ": " + r.err.Error() }

// checkClientCerts is Serve's check of TLSClientCerts.
func (s *Server) checkClientCerts() []string {
	switch p := s.TLSClientCerts; {
	case p == nil:
		return nil
	case p.CAs == nil:
		return []string{"TLSClientCerts.CAs (nil: no certificate would be valid)"}
	case s.TLSConfig == nil:
		return []string{"TLSClientCerts (needs TLSConfig)"}
	}
	return nil
}

// requestClientCert makes a handshake's configuration ask for a client
// certificate, when the server checks them. Data connections ask too:
// Go's TLS server does not resume a session that carries a client
// certificate with a configuration that asks for none, and data
// connections must resume the control connection's session.
func (s *Server) requestClientCert(cfg *tls.Config) {
	p := s.TLSClientCerts
	if p == nil {
		return
	}
	if cfg.ClientAuth == tls.NoClientCert {
		cfg.ClientAuth = tls.RequestClientCert
	}
	if cfg.ClientCAs == nil {
		cfg.ClientCAs = p.CAs
	}
}

// verify returns the client's certificate if it is valid now: issued
// through a chain to one of the CAs, within its dates, for client
// authentication, not revoked. It returns nil, nil for a client that sent
// none; a *certRefusal for one that is not valid; an error wrapping
// errCRLOutOfDate when revocation can't be checked.
func (p *ClientCertPolicy) verify(certs []*x509.Certificate, now time.Time) (*x509.Certificate, error) {
	if len(certs) == 0 {
		return nil, nil
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         p.CAs,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, &certRefusal{reason: verifyReason(leaf, now, err), err: err}
	}
	if p.CRLs == nil {
		return leaf, nil
	}
	crls := p.CRLs()
	var revoked error
	for _, chain := range chains {
		if revoked, err = checkRevocation(chain, crls, now); err != nil {
			return nil, err
		}
		if revoked == nil {
			return leaf, nil // one clean chain is enough
		}
	}
	return nil, &certRefusal{reason: "revoked", err: revoked}
}

// verifyReason says, in a few words, why x509 refused a certificate.
func verifyReason(leaf *x509.Certificate, now time.Time, err error) string {
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		switch {
		case now.After(leaf.NotAfter):
			return "expired"
		case now.Before(leaf.NotBefore):
			return "not valid yet"
		}
		return "a certificate of its chain has expired"
	case errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
		return "not for client authentication"
	case errors.As(err, &unknown):
		return "not issued by a trusted CA"
	}
	return "invalid"
}

// checkRevocation returns an error naming the first certificate of chain
// that a list of crls revokes, nil if none is revoked; or an error
// wrapping errCRLOutOfDate if a list that applies is out of date.
func checkRevocation(chain []*x509.Certificate, crls []*x509.RevocationList, now time.Time) (revoked, err error) {
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		for _, crl := range crls {
			if crl == nil || !bytes.Equal(crl.RawIssuer, issuer.RawSubject) || crl.CheckSignatureFrom(issuer) != nil {
				continue
			}
			if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
				return nil, fmt.Errorf("%w: the list of %s was due on %s", errCRLOutOfDate, issuer.Subject, crl.NextUpdate.UTC().Format(time.RFC3339))
			}
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
					return fmt.Errorf("%s (serial %x) revoked by %s on %s", cert.Subject, cert.SerialNumber, issuer.Subject, e.RevocationTime.UTC().Format(time.RFC3339)), nil
				}
			}
		}
	}
	return nil, nil
}

// peerCertificates returns the certificates the client sent in the
// control connection's handshake, none if it is clear.
func (s *session) peerCertificates() []*x509.Certificate {
	s.writeMu.Lock()
	tc, ok := s.ctrl.(*tls.Conn)
	s.writeMu.Unlock()
	if !ok {
		return nil
	}
	return tc.ConnectionState().PeerCertificates
}

// certLogin is USER's part when Server.TLSClientCerts is set: it checks
// the connection's certificate and, with a CertAuthenticator, asks what
// the login of name needs. It returns true when it has replied, false when
// USER goes on as without certificates (331, then PASS).
func (s *session) certLogin(ctx context.Context, name string) (bool, error) {
	s.clientCert = nil
	p := s.srv.TLSClientCerts
	if p == nil {
		return false, nil
	}
	if why := s.srv.banned(s.remote.Addr(), time.Now()); why != "" {
		s.reply(421, why)
		s.quit.Store(true)
		return true, nil
	}
	certs := s.peerCertificates()
	cert, err := p.verify(certs, time.Now())
	var refusal *certRefusal
	switch {
	case errors.As(err, &refusal):
		s.logger().Warn("client certificate refused", append(certAttrs(certs[0]), "reason", refusal.reason, "err", refusal.err)...)
		s.failLogin(ctx, name, "Client certificate refused: "+refusal.reason+".")
		return true, nil
	case err != nil:
		s.logger().Error("client certificate can't be checked: login refused with 421", append(certAttrs(certs[0]), "err", err)...)
		s.reply(421, "Service not available: can't check client certificates now; try again later.")
		s.quit.Store(true)
		return true, nil
	case cert == nil && p.Required:
		s.failLogin(ctx, name, s.certRequiredText())
		return true, nil
	}
	s.clientCert = cert
	ca, ok := s.authenticator().(CertAuthenticator)
	if !ok {
		return false, nil
	}
	u, err := ca.AuthenticateCert(ctx, s.connInfo(), name)
	if err == nil && (u == nil || u.FS == nil) {
		if u != nil && u.Release != nil {
			u.Release()
		}
		err = errors.New("authenticator returned no user or no file system")
	}
	switch {
	case err == nil:
		s.completeLogin(ctx, u, "Login successful (client certificate).")
	case errors.Is(err, ErrPasswordNeeded):
		return false, nil
	case errors.Is(err, ErrCertRequired):
		s.failLogin(ctx, name, s.certRequiredText())
	case errors.Is(err, ErrAuthFailed):
		s.logger().Warn("client certificate not accepted for the user", append(certAttrs(cert), "user", name, "err", err)...)
		s.failLogin(ctx, name, "Client certificate not accepted for this user.")
	case ctx.Err() != nil:
		return true, ctx.Err() // QUIT, or the session ended, before the check could answer
	default:
		s.logger().Error("authentication error: login refused with 421", "user", name, "err", err)
		s.reply(421, "Service not available: can't check logins now; try again later.")
		s.quit.Store(true)
	}
	return true, nil
}

// certRequiredText is the 530 reply to a login that needs a client
// certificate the client did not send.
func (s *session) certRequiredText() string {
	if !s.tls.active {
		return "Client certificate required: use AUTH TLS and send one."
	}
	return "Client certificate required."
}

// certAttrs are what the log says of a client certificate: its subject,
// serial number and issuer; never more.
func certAttrs(c *x509.Certificate) []any {
	if c == nil {
		return nil
	}
	return []any{slog.String("cert_subject", c.Subject.String()), slog.String("cert_serial", fmt.Sprintf("%x", c.SerialNumber)), slog.String("cert_issuer", c.Issuer.String())}
}

// ClientCert returns the client's TLS certificate as the last USER found
// it valid (see Server.TLSClientCerts), or nil: none, not valid, or
// client certificates are off.
func (p *Session) ClientCert() *x509.Certificate { return p.s.clientCert }

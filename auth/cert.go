package auth

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	"github.com/pierftp/pier"
)

// Logins by TLS client certificate (pier.Server.TLSClientCerts): the
// server checks the certificate (its CA, dates, revocation); Virtual
// decides whether it is the user's, by the names CertName finds in it, and
// whether the user also needs a password.

// CertPolicy says whether an account logs in by TLS client certificate.
type CertPolicy uint8

const (
	// PasswordOnly logs the account in by password; a client certificate
	// is not looked at. The default.
	PasswordOnly CertPolicy = iota
	// CertOnly logs the account in by a valid client certificate that
	// names it, without a password: USER gets 230 at once. Without a
	// certificate USER gets "530 Client certificate required.".
	CertOnly
	// CertAndPassword needs both: a valid client certificate that names
	// the account, then its password.
	CertAndPassword
)

// String returns the policy's name: "password", "cert" or "cert+password".
func (p CertPolicy) String() string {
	switch p {
	case PasswordOnly:
		return "password"
	case CertOnly:
		return "cert"
	case CertAndPassword:
		return "cert+password"
	}
	return fmt.Sprintf("CertPolicy(%d)", uint8(p))
}

// CertName returns the login names a client certificate stands for: a
// login as one of them may use the certificate. Names are compared exactly
// as the certificate writes them.
type CertName func(cert *x509.Certificate) []string

// CertCommonName is the CertName of the certificate subject's common name
// (CN): the default.
func CertCommonName(cert *x509.Certificate) []string {
	if cert.Subject.CommonName == "" {
		return nil
	}
	return []string{cert.Subject.CommonName}
}

// CertEmail is the CertName of the e-mail addresses among the certificate's
// subject alternative names (rfc822Name).
func CertEmail(cert *x509.Certificate) []string { return cert.EmailAddresses }

// CertDNSName is the CertName of the DNS names among the certificate's
// subject alternative names: for machines that log in by certificate.
func CertDNSName(cert *x509.Certificate) []string { return cert.DNSNames }

// CertNameByField returns the CertName of a field by its short name, as
// the pier command's --tls-client-cert-user takes it: "cn"
// (CertCommonName), "email" (CertEmail) or "dns" (CertDNSName).
func CertNameByField(field string) (CertName, error) {
	switch strings.ToLower(field) {
	case "cn":
		return CertCommonName, nil
	case "email":
		return CertEmail, nil
	case "dns":
		return CertDNSName, nil
	}
	return nil, fmt.Errorf("auth: no certificate field %q (cn, email or dns)", field)
}

// certNames returns the names cert stands for.
func (v *Virtual) certNames(cert *x509.Certificate) []string {
	if v.CertName != nil {
		return v.CertName(cert)
	}
	return CertCommonName(cert)
}

// certFits says why cert, the connection's valid client certificate (nil:
// none), can't log in account a as name, or returns nil if it can. The
// anonymous account takes any valid certificate.
func (v *Virtual) certFits(a *Account, name string, cert *x509.Certificate) error {
	switch {
	case cert == nil:
		return fmt.Errorf("user %q: %w", name, pier.ErrCertRequired)
	case a.anonymous:
		return nil
	}
	names := v.certNames(cert)
	if !slices.Contains(names, name) {
		return fmt.Errorf("user %q: the client certificate (%s) stands for %q: %w", name, cert.Subject, names, pier.ErrAuthFailed)
	}
	return nil
}

// AuthenticateCert implements pier.CertAuthenticator. A user who logs in
// by password, or a name that does not exist, gets pier.ErrPasswordNeeded
// (331, as without certificates, so that names can't be probed); a
// CertOnly user whose certificate fits is logged in; a CertAndPassword
// user whose certificate fits gets pier.ErrPasswordNeeded; one whose
// client sent no certificate gets pier.ErrCertRequired, one whose
// certificate names someone else pier.ErrAuthFailed.
func (v *Virtual) AuthenticateCert(_ context.Context, c pier.ConnInfo, name string) (*pier.User, error) {
	v.mu.RLock()
	a, ok := v.users[name]
	v.mu.RUnlock()
	if !ok || a.Cert == PasswordOnly {
		return nil, pier.ErrPasswordNeeded
	}
	if err := v.certFits(a, name, c.ClientCert); err != nil {
		return nil, err
	}
	if a.Cert == CertAndPassword {
		return nil, pier.ErrPasswordNeeded
	}
	return a.user(name), nil
}

var _ pier.CertAuthenticator = (*Virtual)(nil)

// CertUsers returns the names of the accounts that need a client
// certificate, sorted: a server without pier.Server.TLSClientCerts can't
// log them in.
func (v *Virtual) CertUsers() []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var names []string
	for name, a := range v.users {
		if a.Cert != PasswordOnly {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// The hash field of a users file says how an account logs in: a password
// hash; "cert" (CertOnly); "cert+" and a hash (CertAndPassword).
const (
	certField       = "cert"
	certAndPassword = "cert+"
)

// parseHashField splits a users file's hash field into the account's
// certificate policy and password hash.
func parseHashField(field string) (CertPolicy, string) {
	switch {
	case field == certField:
		return CertOnly, ""
	case strings.HasPrefix(field, certAndPassword):
		return CertAndPassword, field[len(certAndPassword):]
	}
	return PasswordOnly, field
}

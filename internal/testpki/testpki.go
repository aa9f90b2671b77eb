// Package testpki makes certificate authorities, client certificates and
// revocation lists in memory, for the tests of TLS client certificates.
// Its errors panic: it serves tests only.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync/atomic"
	"time"
)

// CA is a certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// nextSerial numbers the certificates and lists it issues.
	nextSerial atomic.Int64
}

// NewCA makes a self-signed root CA with the given common name, valid from
// a day ago for ten years.
func NewCA(name string) *CA {
	key := newKey()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"pier tests"}},
		NotBefore:             time.Now().Add(-24 * time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err)
	}
	ca := &CA{Cert: mustParse(der), Key: key}
	ca.nextSerial.Store(100)
	return ca
}

// Pool returns a pool holding the CA's certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// PEM returns the CA's certificate in PEM.
func (ca *CA) PEM() []byte { return CertPEM(ca.Cert) }

// Options shape a client certificate.
type Options struct {
	CommonName string
	Emails     []string
	DNSNames   []string
	// NotBefore and NotAfter: if zero, an hour ago and a year from now.
	NotBefore, NotAfter time.Time
	// ExtKeyUsage: if nil, client authentication.
	ExtKeyUsage []x509.ExtKeyUsage
}

// Issue makes a client certificate signed by the CA.
func (ca *CA) Issue(o Options) tls.Certificate {
	key := newKey()
	tmpl := &x509.Certificate{
		SerialNumber:   big.NewInt(ca.nextSerial.Add(1)),
		Subject:        pkix.Name{CommonName: o.CommonName},
		EmailAddresses: o.Emails,
		DNSNames:       o.DNSNames,
		NotBefore:      o.NotBefore,
		NotAfter:       o.NotAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    o.ExtKeyUsage,
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	if tmpl.ExtKeyUsage == nil {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: mustParse(der)}
}

// CRL makes a revocation list of the CA that revokes the given
// certificates, next updated at nextUpdate (if zero, in a week), issued an
// hour before that or now, whichever is earlier.
func (ca *CA) CRL(nextUpdate time.Time, revoked ...*x509.Certificate) *x509.RevocationList {
	if nextUpdate.IsZero() {
		nextUpdate = time.Now().Add(7 * 24 * time.Hour)
	}
	thisUpdate := time.Now().Add(-time.Hour)
	if !nextUpdate.After(thisUpdate) {
		thisUpdate = nextUpdate.Add(-time.Hour)
	}
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(ca.nextSerial.Add(1)),
		ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate,
	}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber:   c.SerialNumber,
			RevocationTime: time.Now().Add(-time.Minute),
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		panic(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		panic(err)
	}
	return crl
}

// CertPEM encodes a certificate in PEM.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// CRLPEM encodes a revocation list in PEM.
func CRLPEM(crl *x509.RevocationList) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl.Raw})
}

// KeyPEM encodes a certificate's private key in PEM (PKCS #8).
func KeyPEM(c tls.Certificate) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// ClientConfig returns cfg with cert as the client certificate, sent
// whatever CAs the server says it accepts (as OpenSSL-based clients do;
// Go's client would otherwise keep back a certificate of another CA).
func ClientConfig(cfg *tls.Config, cert tls.Certificate) *tls.Config {
	cfg = cfg.Clone()
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	return cfg
}

func newKey() *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return key
}

func mustParse(der []byte) *x509.Certificate {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return c
}

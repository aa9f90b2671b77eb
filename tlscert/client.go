package tlscert

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

// The files of TLS client certificates (pier.ClientCertPolicy): the CAs
// that issue them, and the revocation lists of those CAs.

// LoadCertificates reads the certificates of a PEM file, such as a bundle
// of CA certificates. It fails if the file holds none, or a block that is
// not a certificate (a private key given by mistake, say).
func LoadCertificates(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tlscert: %w", err)
	}
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("tlscert: %s: PEM block %d is a %q, not a CERTIFICATE", file, n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tlscert: %s: certificate %d: %w", file, n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("tlscert: %s: no PEM certificate in it", file)
	}
	return certs, nil
}

// LoadCRLs reads the certificate revocation lists of a file: PEM ("X509
// CRL" blocks, any number of them, as "openssl ca -gencrl" writes) or a
// single list in DER. If issuers is not nil, each list must be issued and
// signed by one of them. A list past its NextUpdate is refused: it can't
// tell what was revoked since.
func LoadCRLs(file string, issuers []*x509.Certificate) ([]*x509.RevocationList, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tlscert: %w", err)
	}
	var ders [][]byte
	if bytes.Contains(data, []byte("-----BEGIN")) {
		for n := 1; ; n++ {
			var block *pem.Block
			if block, data = pem.Decode(data); block == nil {
				break
			}
			if block.Type != "X509 CRL" {
				return nil, fmt.Errorf("tlscert: %s: PEM block %d is a %q, not an X509 CRL", file, n, block.Type)
			}
			ders = append(ders, block.Bytes)
		}
	} else if len(data) > 0 {
		ders = append(ders, data)
	}
	if len(ders) == 0 {
		return nil, fmt.Errorf("tlscert: %s: no revocation list in it", file)
	}
	now := time.Now()
	crls := make([]*x509.RevocationList, 0, len(ders))
	for i, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("tlscert: %s: revocation list %d: %w", file, i+1, err)
		}
		if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
			return nil, fmt.Errorf("tlscert: %s: the revocation list of %s is out of date (next update was due %s)", file, crl.Issuer, crl.NextUpdate.UTC().Format(time.RFC3339))
		}
		if issuers != nil && !signedByOneOf(crl, issuers) {
			return nil, fmt.Errorf("tlscert: %s: the revocation list of %s is not signed by any of the CAs", file, crl.Issuer)
		}
		crls = append(crls, crl)
	}
	return crls, nil
}

func signedByOneOf(crl *x509.RevocationList, issuers []*x509.Certificate) bool {
	for _, c := range issuers {
		if bytes.Equal(crl.RawIssuer, c.RawSubject) && crl.CheckSignatureFrom(c) == nil {
			return true
		}
	}
	return false
}

// CRLReloader holds the revocation lists of a file (LoadCRLs) and loads
// them again when the file changes (checked at most once a second, when
// CRLs is called) or when Reload is called (on SIGHUP, say). If the new
// file is broken, it keeps the lists it has. Its CRLs method is what
// pier.ClientCertPolicy.CRLs takes.
type CRLReloader struct {
	r reloading[[]*x509.RevocationList]
	// OnReload, if set, is called after each reload attempt (err nil on
	// success). It runs with no lock held.
	OnReload func(err error)
}

// NewCRLReloader loads the lists of file, each signed by one of issuers
// if issuers is not nil, and fails with a clear error if it can't.
func NewCRLReloader(file string, issuers []*x509.Certificate) (*CRLReloader, error) {
	r := &CRLReloader{}
	r.r = reloading[[]*x509.RevocationList]{
		files: []string{file},
		load:  func() ([]*x509.RevocationList, error) { return LoadCRLs(file, issuers) },
	}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload loads the file again now.
func (r *CRLReloader) Reload() error { return r.r.reload(r.OnReload) }

// CRLs returns the lists in force, after loading the file again if it
// changed.
func (r *CRLReloader) CRLs() []*x509.RevocationList { return r.r.current(r.OnReload) }

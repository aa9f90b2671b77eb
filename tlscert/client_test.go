package tlscert

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierftp/pier/internal/testpki"
)

func TestLoadCertificates(t *testing.T) {
	dir := t.TempDir()
	a, b := testpki.NewCA("CA one"), testpki.NewCA("CA two")
	bundle := filepath.Join(dir, "bundle.pem")
	os.WriteFile(bundle, append(a.PEM(), b.PEM()...), 0o600)
	certs, err := LoadCertificates(bundle)
	if err != nil || len(certs) != 2 || certs[1].Subject.CommonName != "CA two" {
		t.Fatalf("LoadCertificates: %v %v", certs, err)
	}
	key := filepath.Join(dir, "key.pem")
	os.WriteFile(key, testpki.KeyPEM(a.Issue(testpki.Options{CommonName: "x"})), 0o600)
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("nothing here\n"), 0o600)
	for file, want := range map[string]string{
		key:                            `is a "PRIVATE KEY"`,
		empty:                          "no PEM certificate",
		filepath.Join(dir, "none.pem"): "no such file",
	} {
		if _, err := LoadCertificates(file); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", filepath.Base(file), err, want)
		}
	}
}

func TestLoadCRLs(t *testing.T) {
	dir := t.TempDir()
	a, b := testpki.NewCA("CA one"), testpki.NewCA("CA two")
	revoked := a.Issue(testpki.Options{CommonName: "gone"}).Leaf
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pemFile := write("both.pem", append(testpki.CRLPEM(a.CRL(time.Time{}, revoked)), testpki.CRLPEM(b.CRL(time.Time{}))...))
	crls, err := LoadCRLs(pemFile, []*x509.Certificate{a.Cert, b.Cert})
	if err != nil || len(crls) != 2 || crls[0].RevokedCertificateEntries[0].SerialNumber.Cmp(revoked.SerialNumber) != 0 {
		t.Fatalf("PEM: %v %v", crls, err)
	}
	if crls, err := LoadCRLs(write("one.der", a.CRL(time.Time{}).Raw), nil); err != nil || len(crls) != 1 {
		t.Fatalf("DER: %v %v", crls, err)
	}
	for name, c := range map[string]struct {
		file    string
		issuers []*x509.Certificate
		want    string
	}{
		"another CA's":  {pemFile, []*x509.Certificate{a.Cert}, "not signed by any of the CAs"},
		"out of date":   {write("stale.pem", testpki.CRLPEM(a.CRL(time.Now().Add(-time.Hour)))), nil, "out of date"},
		"a certificate": {write("cert.pem", a.PEM()), nil, `is a "CERTIFICATE"`},
		"garbage DER":   {write("bad.der", []byte{0x30, 0x03, 1, 2, 3}), nil, "revocation list 1"},
		"empty":         {write("empty", nil), nil, "no revocation list"},
		"missing":       {filepath.Join(dir, "none"), nil, "no such file"},
	} {
		if _, err := LoadCRLs(c.file, c.issuers); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func TestCRLReloader(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA("CA")
	file := filepath.Join(dir, "crl.pem")
	os.WriteFile(file, testpki.CRLPEM(ca.CRL(time.Time{})), 0o600)
	r, err := NewCRLReloader(file, []*x509.Certificate{ca.Cert})
	if err != nil {
		t.Fatal(err)
	}
	var reloads []error
	r.OnReload = func(err error) { reloads = append(reloads, err) }
	if crls := r.CRLs(); len(crls) != 1 || len(crls[0].RevokedCertificateEntries) != 0 {
		t.Fatalf("first lists: %v", crls)
	}
	gone := ca.Issue(testpki.Options{CommonName: "gone"}).Leaf
	os.WriteFile(file, testpki.CRLPEM(ca.CRL(time.Time{}, gone)), 0o600)
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(file, later, later) // a new stamp even on coarse file clocks
	r.r.mu.Lock()
	r.r.checked = time.Time{} // don't wait for the once-a-second check
	r.r.mu.Unlock()
	if crls := r.CRLs(); len(crls) != 1 || len(crls[0].RevokedCertificateEntries) != 1 {
		t.Fatalf("changed file not reloaded: %v", crls)
	}
	// A broken file keeps the lists in force.
	os.WriteFile(file, []byte("garbage"), 0o600)
	if err := r.Reload(); err == nil {
		t.Fatal("Reload took a broken file")
	}
	if crls := r.CRLs(); len(crls) != 1 || len(crls[0].RevokedCertificateEntries) != 1 {
		t.Fatalf("a failed reload replaced the lists: %v", crls)
	}
	if len(reloads) != 2 || reloads[0] != nil || reloads[1] == nil {
		t.Fatalf("OnReload calls: %v", reloads)
	}
	if _, err := NewCRLReloader(filepath.Join(dir, "none"), nil); err == nil {
		t.Fatal("NewCRLReloader took a missing file")
	}
}

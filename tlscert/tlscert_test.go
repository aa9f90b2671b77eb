package tlscert

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// writePair writes a fresh self-signed pair as PEM files.
func writePair(t *testing.T, certFile, keyFile string) *tls.Certificate {
	t.Helper()
	cert, err := SelfSigned("localhost")
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cert
}

func TestReloaderPicksUpNewFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writePair(t, certFile, keyFile)
	r, err := NewReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var reloads []error
	r.OnReload = func(err error) { reloads = append(reloads, err) }
	got, _ := r.GetCertificate(nil)
	if Fingerprint(got) != Fingerprint(first) {
		t.Fatal("first certificate not served")
	}
	second := writePair(t, certFile, keyFile)
	// Make sure the stamp differs even on coarse file-time clocks.
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(certFile, later, later)
	r.r.mu.Lock()
	r.r.checked = time.Time{} // don't wait for the once-a-second check
	r.r.mu.Unlock()
	got, _ = r.GetCertificate(nil)
	if Fingerprint(got) != Fingerprint(second) {
		t.Fatal("changed files not reloaded")
	}
	if len(reloads) != 1 || reloads[0] != nil {
		t.Fatalf("OnReload calls: %v", reloads)
	}

	// A broken key keeps the old certificate in service.
	os.WriteFile(keyFile, []byte("garbage"), 0o600)
	if err := r.Reload(); err == nil {
		t.Fatal("Reload accepted a broken key")
	}
	got, _ = r.GetCertificate(nil)
	if Fingerprint(got) != Fingerprint(second) {
		t.Fatal("a failed reload replaced the certificate")
	}
}

func TestNewReloaderErrors(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := filepath.Join(dir, "a.pem"), filepath.Join(dir, "a.key")
	certB, keyB := filepath.Join(dir, "b.pem"), filepath.Join(dir, "b.key")
	writePair(t, certA, keyA)
	writePair(t, certB, keyB)
	cases := []struct {
		name, cert, key, want string
	}{
		{"missing cert", filepath.Join(dir, "none.pem"), keyA, "no such file"},
		{"missing key", certA, filepath.Join(dir, "none.key"), "no such file"},
		{"mismatched pair", certA, keyB, "does not match"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewReloader(c.cert, c.key)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestSelfSigned(t *testing.T) {
	cert, err := SelfSigned("localhost", "127.0.0.1", "::1")
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	if err := cert.Leaf.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	if !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(Fingerprint(&cert)) {
		t.Errorf("fingerprint %q", Fingerprint(&cert))
	}
	if Fingerprint(nil) != "" {
		t.Error("fingerprint of nil")
	}
}

package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pierftp/pier/tlscert"
)

// TestSIGHUPReloadsCertificate: FTPS with certificate files; replacing the
// files and sending SIGHUP makes pier log the new certificate's
// fingerprint.
func TestSIGHUPReloadsCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCertPair(t, certFile, keyFile)
	bin := pierBinary(t)
	cmd := exec.Command(bin, "-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-d", dir, "--tls", "--certfile", certFile, "--keyfile", keyFile)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor := func(want ...string) string {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("pier exited; wanted a line with %q", want)
				}
				match := true
				for _, w := range want {
					match = match && strings.Contains(l, w)
				}
				if match {
					return l
				}
			case <-timeout:
				t.Fatalf("no log line with %q", want)
			}
		}
	}
	waitFor("starting pier")
	waitFor("FTPS enabled", "sha256="+tlscert.Fingerprint(first))
	second := writeCertPair(t, certFile, keyFile)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("certificate reloaded", "sha256="+tlscert.Fingerprint(second))
}

// writeCertPair writes a fresh self-signed pair as PEM files.
func writeCertPair(t *testing.T, certFile, keyFile string) *tls.Certificate {
	t.Helper()
	cert, err := tlscert.SelfSigned("localhost")
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return &cert
}

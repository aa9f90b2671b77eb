package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/local"
	"github.com/pierftp/pier/internal/testpki"
)

// outcome names what AuthenticateCert or Authenticate returned.
func outcome(u *pier.User, err error) string {
	switch {
	case err == nil && u != nil:
		return "user " + u.Name
	case errors.Is(err, pier.ErrPasswordNeeded):
		return "password"
	case errors.Is(err, pier.ErrCertRequired):
		return "cert required"
	case errors.Is(err, pier.ErrAuthFailed):
		return "failed"
	}
	return "error " + err.Error()
}

func TestVirtualCertLogins(t *testing.T) {
	ca := testpki.NewCA("test CA")
	certs := map[string]*x509.Certificate{
		"none":  nil,
		"alice": ca.Issue(testpki.Options{CommonName: "alice"}).Leaf,
		"bob":   ca.Issue(testpki.Options{CommonName: "bob"}).Leaf,
	}
	fs := newLocal(t)
	v := &Virtual{}
	for name, a := range map[string]Account{
		"alice": {FS: fs, Cert: CertOnly},
		"bob":   {FS: fs, Password: "bobpw", Cert: CertAndPassword},
		"carol": {FS: fs, Password: "carolpw"},
	} {
		if err := v.AddUser(name, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.AddAnonymous(Account{FS: fs, Cert: CertOnly}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		cert, user, pass string
		atUSER, atPASS   string
	}{
		{"alice", "alice", "", "user alice", "user alice"},
		{"none", "alice", "", "cert required", "cert required"},
		{"bob", "alice", "", "failed", "failed"},
		{"bob", "bob", "bobpw", "password", "user bob"},
		{"bob", "bob", "wrong", "password", "failed"},
		{"none", "bob", "bobpw", "cert required", "cert required"},
		{"alice", "bob", "bobpw", "failed", "failed"},
		{"none", "carol", "carolpw", "password", "user carol"},
		{"alice", "carol", "carolpw", "password", "user carol"},
		{"alice", "carol", "wrong", "password", "failed"},
		{"alice", "nobody", "x", "password", "failed"},
		{"bob", "anonymous", "x", "user anonymous", "user anonymous"}, // any valid certificate
		{"none", "anonymous", "x", "cert required", "cert required"},
	}
	for _, c := range cases {
		info := pier.ConnInfo{ClientCert: certs[c.cert]}
		if got := outcome(v.AuthenticateCert(ctx, info, c.user)); got != c.atUSER {
			t.Errorf("AuthenticateCert(%s, cert %s) = %s, want %s", c.user, c.cert, got, c.atUSER)
		}
		if got := outcome(v.Authenticate(ctx, info, c.user, c.pass)); got != c.atPASS {
			t.Errorf("Authenticate(%s, %q, cert %s) = %s, want %s", c.user, c.pass, c.cert, got, c.atPASS)
		}
	}
	if got := v.CertUsers(); !slices.Equal(got, []string{"alice", "anonymous", "bob"}) {
		t.Errorf("CertUsers() = %q", got)
	}
}

func TestCertNames(t *testing.T) {
	ca := testpki.NewCA("test CA")
	cert := ca.Issue(testpki.Options{CommonName: "Alice Smith", Emails: []string{"alice@example.org", "a@example.org"}, DNSNames: []string{"build1.example.org"}}).Leaf
	fs := newLocal(t)
	for _, c := range []struct {
		field string
		names []string
		user  string
	}{
		{"cn", []string{"Alice Smith"}, "Alice Smith"},
		{"email", []string{"alice@example.org", "a@example.org"}, "a@example.org"},
		{"DNS", []string{"build1.example.org"}, "build1.example.org"},
	} {
		f, err := CertNameByField(c.field)
		if err != nil {
			t.Fatal(err)
		}
		if got := f(cert); !slices.Equal(got, c.names) {
			t.Errorf("%s: %q, want %q", c.field, got, c.names)
		}
		v := &Virtual{CertName: f}
		if err := v.AddUser(c.user, Account{FS: fs, Cert: CertOnly}); err != nil {
			t.Fatal(err)
		}
		if got := outcome(v.AuthenticateCert(context.Background(), pier.ConnInfo{ClientCert: cert}, c.user)); got != "user "+c.user {
			t.Errorf("%s: login as %s: %s", c.field, c.user, got)
		}
	}
	if _, err := CertNameByField("serial"); err == nil {
		t.Error("CertNameByField(serial) accepted")
	}
	if got := CertCommonName(ca.Issue(testpki.Options{Emails: []string{"x@example.org"}}).Leaf); got != nil {
		t.Errorf("no CN: %q", got)
	}
}

func TestVirtualCertErrors(t *testing.T) {
	fs := newLocal(t)
	hash, _ := HashPassword("pw")
	for _, c := range []struct {
		a    Account
		want string
	}{
		{Account{FS: fs, Cert: CertOnly, Password: "pw"}, "takes no password"},
		{Account{FS: fs, Cert: CertOnly, PasswordHash: hash}, "takes no password"},
		{Account{FS: fs, Cert: 7}, "no such certificate policy"},
	} {
		if err := (&Virtual{}).AddUser("alice", c.a); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("AddUser(%+v): %v, want %q", c.a, err, c.want)
		}
	}
	for p, want := range map[CertPolicy]string{PasswordOnly: "password", CertOnly: "cert", CertAndPassword: "cert+password", 9: "CertPolicy(9)"} {
		if p.String() != want {
			t.Errorf("%d: %q", p, p.String())
		}
	}
}

func TestLoadFileCerts(t *testing.T) {
	dir := t.TempDir()
	hash, _ := HashPassword("s3cret")
	path := filepath.Join(dir, "users")
	write := func(content string) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	open := func(home string) (pier.FileSystem, error) { return local.New(home) }
	write("alice:cert:elr:.\nbob:cert+" + hash + ":elr:.\ncarol:" + hash + ":elr:.\nanonymous:cert:elr:.\n")
	v, err := LoadFile(path, open)
	if err != nil {
		t.Fatal(err)
	}
	ca := testpki.NewCA("test CA")
	ctx := context.Background()
	bob := pier.ConnInfo{ClientCert: ca.Issue(testpki.Options{CommonName: "bob"}).Leaf}
	for _, c := range []struct {
		got, want string
	}{
		{outcome(v.AuthenticateCert(ctx, pier.ConnInfo{ClientCert: ca.Issue(testpki.Options{CommonName: "alice"}).Leaf}, "alice")), "user alice"},
		{outcome(v.AuthenticateCert(ctx, bob, "bob")), "password"},
		{outcome(v.Authenticate(ctx, bob, "bob", "s3cret")), "user bob"},
		{outcome(v.Authenticate(ctx, pier.ConnInfo{}, "bob", "s3cret")), "cert required"},
		{outcome(v.Authenticate(ctx, pier.ConnInfo{}, "carol", "s3cret")), "user carol"},
		{outcome(v.AuthenticateCert(ctx, bob, "anonymous")), "user anonymous"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
	for content, want := range map[string]string{
		"alice:cert+:elr:.\n":                 "users:1: user \"alice\"",
		"alice:cert+plain:elr:.\n":            "users:1: user \"alice\"",
		"alice:certificate:elr:.\n":           "users:1: user \"alice\"",
		"anonymous:cert+:elr:.\n":             "takes no password",
		"anonymous:cert+" + hash + ":elr:.\n": "takes no password",
	} {
		write(content)
		if _, err := LoadFile(path, open); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", content, err, want)
		}
	}
}

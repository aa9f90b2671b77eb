// Package auth holds pier's ready-made authenticators: virtual users kept in
// memory, each with a password, a home file system and permissions, plus an
// optional anonymous account.
package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pierftp/pier"
)

// AnonymousName is the login name of the anonymous account. Its password can
// be anything, as RFC 1635 describes (clients send an e-mail address).
const AnonymousName = "anonymous"

// Account is one virtual user's settings.
type Account struct {
	// Password is compared in constant time. An empty password is allowed.
	// Ignored when PasswordHash is set.
	Password string
	// PasswordHash, if set, is an argon2id or bcrypt hash of the password
	// (see HashPassword); Password is then ignored.
	PasswordHash string
	// FS is the user's file system, rooted at their home.
	FS pier.FileSystem
	// Perm is the user's permission letters; if empty, read-only ("elr").
	Perm pier.Perm
	// LoginMessage and QuitMessage override the 230 and 221 texts.
	LoginMessage, QuitMessage string
	// Overrides give other permissions under some folders (pyftpdlib's
	// override_perm).
	Overrides []pier.PermOverride
	// ReadLimit and WriteLimit cap the user's upload and download rates in
	// bytes per second (0: the server's per-session limits).
	ReadLimit, WriteLimit int64
	// Cert says whether the user logs in by TLS client certificate
	// (cert.go): by password alone (the default), by a certificate alone
	// (CertOnly: Password and PasswordHash must be empty), or by both.
	// For the anonymous account any valid certificate will do.
	Cert CertPolicy
	// Quota, if set, counts and limits what the user stores
	// (pier.User.Quota); the logins of one account share it.
	Quota pier.Quota

	anonymous bool // added with AddAnonymous: any password
}

// Virtual is an Authenticator over an in-memory table of users. The zero
// value has no users; it is safe for concurrent use.
type Virtual struct {
	// CertName finds the user names a client certificate stands for, for
	// the accounts that log in by certificate (Account.Cert). If nil,
	// CertCommonName. Set it before the server starts.
	CertName CertName

	mu    sync.RWMutex
	users map[string]*Account
	// decoy is a password hash of one of the users, checked (and the
	// result dropped) for names that don't exist, so that the time of
	// a failed login does not tell whether the name does.
	decoy string
}

var _ pier.Authenticator = (*Virtual)(nil)

// decoyCheck is VerifyPassword; tests count its calls.
var decoyCheck = VerifyPassword

// AddUser adds a user. It fails if the name is taken or is AnonymousName
// (see AddAnonymous), the permission letters are not pyftpdlib's, or fsys
// is nil.
func (v *Virtual) AddUser(name string, a Account) error {
	if name == AnonymousName {
		return fmt.Errorf("auth: %q is the anonymous account, which takes any password: add it with AddAnonymous", name)
	}
	a.anonymous = false
	return v.add(name, a)
}

func (v *Virtual) add(name string, a Account) error {
	if name == "" {
		return errors.New("auth: empty user name")
	}
	if a.FS == nil {
		return fmt.Errorf("auth: user %q has no file system", name)
	}
	if a.Perm == "" {
		a.Perm = pier.ReadPerms
	}
	if a.PasswordHash != "" {
		if err := checkHash(a.PasswordHash); err != nil {
			return fmt.Errorf("auth: user %q: %w", name, err)
		}
	}
	if err := a.Perm.Validate(); err != nil {
		return fmt.Errorf("auth: user %q: %w", name, err)
	}
	switch {
	case a.Cert > CertAndPassword:
		return fmt.Errorf("auth: user %q: no such certificate policy %d", name, a.Cert)
	case a.Cert == CertOnly && (a.Password != "" || a.PasswordHash != ""):
		return fmt.Errorf("auth: user %q logs in by certificate alone (CertOnly) and takes no password: use CertAndPassword for both", name)
	}
	for _, o := range a.Overrides {
		if err := o.Perm.Validate(); err != nil {
			return fmt.Errorf("auth: user %q: override %s: %w", name, o.Dir, err)
		}
		if !strings.HasPrefix(o.Dir, "/") {
			return fmt.Errorf("auth: user %q: override %q: want a virtual absolute path such as /incoming", name, o.Dir)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.users == nil {
		v.users = make(map[string]*Account)
	}
	if _, ok := v.users[name]; ok {
		return fmt.Errorf("auth: user %q already exists", name)
	}
	v.users[name] = &a
	if a.PasswordHash != "" {
		v.decoy = a.PasswordHash
	}
	return nil
}

func (a *Account) passwordOK(pass string) bool {
	if a.PasswordHash != "" {
		return VerifyPassword(a.PasswordHash, pass)
	}
	return subtle.ConstantTimeCompare([]byte(pass), []byte(a.Password)) == 1
}

// AddAnonymous adds the anonymous account: any password is accepted. Write
// letters in a.Perm make the server writable by anyone; the caller should
// warn about it.
func (v *Virtual) AddAnonymous(a Account) error {
	a.Password, a.PasswordHash = "", ""
	a.anonymous = true
	return v.add(AnonymousName, a)
}

// Anonymous reports whether the anonymous account exists, and its
// permission letters.
func (v *Virtual) Anonymous() (pier.Perm, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	a, ok := v.users[AnonymousName]
	if !ok || !a.anonymous {
		return "", false
	}
	return a.Perm, true
}

// RemoveUser removes a user; sessions already logged in keep going.
func (v *Virtual) RemoveUser(name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.users, name)
}

// Authenticate implements pier.Authenticator. User names are
// case-sensitive. An account that needs a client certificate
// (Account.Cert) needs c.ClientCert to stand for it, else the error wraps
// pier.ErrCertRequired (none) or pier.ErrAuthFailed (another's); a CertOnly
// account then takes any password (for an Authenticator that wraps Virtual
// and hides its AuthenticateCert).
func (v *Virtual) Authenticate(_ context.Context, c pier.ConnInfo, name, pass string) (*pier.User, error) {
	v.mu.RLock()
	a, ok := v.users[name]
	decoy := v.decoy
	v.mu.RUnlock()
	if !ok {
		if decoy != "" {
			decoyCheck(decoy, pass) // as long as a known name's check
		}
		return nil, fmt.Errorf("user %q: %w", name, pier.ErrAuthFailed)
	}
	passOK := a.anonymous || a.Cert == CertOnly || a.passwordOK(pass)
	if a.Cert != PasswordOnly {
		if err := v.certFits(a, name, c.ClientCert); err != nil {
			return nil, err
		}
	}
	if !passOK {
		return nil, fmt.Errorf("user %q: wrong password: %w", name, pier.ErrAuthFailed)
	}
	return a.user(name), nil
}

// user returns the pier.User of a login to account a as name.
func (a *Account) user(name string) *pier.User {
	return &pier.User{
		Name:         name,
		Anonymous:    a.anonymous,
		Perm:         a.Perm,
		FS:           a.FS,
		LoginMessage: a.LoginMessage,
		QuitMessage:  a.QuitMessage,
		Overrides:    a.Overrides,
		ReadLimit:    a.ReadLimit,
		WriteLimit:   a.WriteLimit,
		Quota:        a.Quota,
	}
}

package system

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/go-crypt/crypt/algorithm"
	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
)

// errRefused is the one error every refused login gets, whatever the
// reason, so that a client can't tell an unknown name from a wrong
// password or a locked account. The reason goes to the log.
var errRefused = fmt.Errorf("system: login refused: %w", pier.ErrAuthFailed)

// account is a machine account as a login sees it.
type account struct {
	passwdEntry
	shadow *shadowEntry // nil if the shadow file has no line for it
	groups []uint32     // from NSS (PAM logins); nil: from the group file
}

// hash returns the account's password hash: the shadow file's, or, for an
// account the shadow file does not list, the passwd file's password field
// unless it is "x". It returns a reason for the log if there is none.
func (acct *account) hash() (string, string) {
	switch {
	case acct.shadow != nil:
		return acct.shadow.Password, ""
	case acct.Password == "x": // the hash is in the shadow file
		return "", "no line in the shadow file"
	}
	return acct.Password, ""
}

// lookup finds an account by name; it returns nil if there is none.
func (a *Authenticator) lookup(name string) (*account, error) {
	pw, err := a.passwd.load()
	if err != nil {
		return nil, err
	}
	e, ok := pw[name]
	if !ok {
		return nil, nil
	}
	sh, err := a.shadow.load()
	if err != nil {
		return nil, err
	}
	acct := &account{passwdEntry: e}
	if s, ok := sh.byName[name]; ok {
		acct.shadow = &s
	}
	return acct, nil
}

// Authenticate implements pier.Authenticator. A refused login returns an
// error wrapping pier.ErrAuthFailed, the same one whatever the reason,
// and logs the reason. An account file that can't be read, a PAM outage,
// or ctx ending while the password waits to be checked, returns another
// error.
//
// The password is checked first, and the account's rules (lists, UID,
// shell, expiry, home folder) only once it is right, so that a client
// without the password learns nothing about the account. With
// Options.PAMService, PAM checks the password and the expiry, and the
// lists, which are about the name the client gave rather than the
// account, are checked before PAM is asked.
func (a *Authenticator) Authenticate(ctx context.Context, c pier.ConnInfo, name, pass string) (*pier.User, error) {
	if name == auth.AnonymousName && a.opts.AnonymousUser != "" {
		return a.anonymous(ctx, c)
	}
	if a.opts.PAMService != "" {
		return a.authenticatePAM(ctx, c, name, pass)
	}
	acct, reason, err := a.checkPassword(ctx, name, pass)
	if err != nil {
		return nil, err
	}
	if reason == "" {
		if reason, err = a.accountRules(name, acct); err != nil {
			return nil, err
		}
	}
	if reason != "" {
		return nil, a.refuse(ctx, c, slog.LevelInfo, name, reason)
	}
	return a.login(ctx, c, name, acct, a.settings(name), a.opts.Root, false, nil)
}

// settings returns the settings of a user other than anonymous.
func (a *Authenticator) settings(name string) UserSettings {
	s, ok := a.opts.Users[name]
	if !ok || s.Perm == "" {
		s.Perm = a.opts.Perm
	}
	return s
}

// checkPassword looks the account up and checks pass against its hash. It
// returns the account, or the reason pass does not let it in. A name
// with no hash to check gets a decoy check, so that it takes as long to
// refuse as a wrong password.
func (a *Authenticator) checkPassword(ctx context.Context, name, pass string) (*account, string, error) {
	acct, err := a.lookup(name)
	if err != nil {
		return nil, "", err
	}
	var d algorithm.Digest
	reason := "no such account"
	if acct != nil {
		var hash string
		if hash, reason = acct.hash(); reason == "" {
			d, reason = decode(hash)
		}
	}
	if d == nil {
		sh, err := a.shadow.load()
		if err != nil {
			return nil, "", err
		}
		return nil, reason, decoyMatch(ctx, sh.decoy, pass)
	}
	ok, err := match(ctx, d, pass)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "wrong password", nil
	}
	return acct, "", nil
}

// anonymous logs in the anonymous login as Options.AnonymousUser, with any
// password (RFC 1635), jailed in that account's home.
func (a *Authenticator) anonymous(ctx context.Context, c pier.ConnInfo) (*pier.User, error) {
	name := auth.AnonymousName
	acct, err := a.lookup(a.opts.AnonymousUser)
	if err != nil {
		return nil, err
	}
	var reason string
	switch {
	case acct == nil:
		reason = "no such account"
	case acct.UID == 0:
		reason = "is root"
	case acct.shadow != nil && acct.shadow.Expire >= 0 && dayOf(a.now()) >= acct.shadow.Expire:
		reason = "account expired"
	}
	if reason != "" {
		return nil, a.refuse(ctx, c, slog.LevelWarn, name, fmt.Sprintf("AnonymousUser %q: %s", a.opts.AnonymousUser, reason))
	}
	s := a.opts.Users[name]
	s.Perm = a.opts.AnonymousPerm
	return a.login(ctx, c, name, acct, s, "", true, nil)
}

// refuse logs why a login is refused, in one line, and returns errRefused.
func (a *Authenticator) refuse(ctx context.Context, c pier.ConnInfo, level slog.Level, name, reason string) error {
	attrs := []slog.Attr{slog.Uint64("session", c.ID), slog.String("user", name), slog.String("reason", reason)}
	if c.RemoteAddr.IsValid() {
		attrs = append(attrs, slog.String("remote", c.RemoteAddr.String()))
	}
	a.log.LogAttrs(ctx, level, "system login refused", attrs...)
	return errRefused
}

package system

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// nameRules returns why a login name may not log in, whatever its
// account, or "" if it may: the allowed and rejected lists.
func (a *Authenticator) nameRules(name string) string {
	switch {
	case len(a.allowed) > 0 && !a.allowed[name]:
		return "not in AllowedUsers"
	case a.rejected[name]:
		return "in RejectedUsers"
	}
	return ""
}

// accountRules returns why an account whose password was right may not
// log in, or "" if it may: the allowed and rejected lists, root and
// MinUID, the login shell, and the shadow file's expiry dates (if the
// account has a shadow entry), in that order.
func (a *Authenticator) accountRules(name string, acct *account) (string, error) {
	if reason := a.nameRules(name); reason != "" {
		return reason, nil
	}
	switch {
	case acct.UID == 0 && !a.opts.AllowRoot:
		return "root (UID 0) may not log in without AllowRoot", nil
	case acct.UID != 0 && a.minUID >= 0 && int64(acct.UID) < a.minUID:
		return fmt.Sprintf("UID %d is below MinUID %d", acct.UID, a.minUID), nil
	}
	if !a.opts.AnyShell {
		shells, err := a.shells.load()
		if err != nil {
			return "", err
		}
		if !shells.valid(acct.Shell) {
			return fmt.Sprintf("shell %q is not in %s", acct.Shell, a.shells.path), nil
		}
	}
	if acct.shadow != nil {
		if reason := acct.shadow.refusal(dayOf(a.now())); reason != "" {
			return reason, nil
		}
	}
	return "", nil
}

// homeRefusal returns why a home folder can't be used, or "" if it can.
// It looks as the server (root); whether the account itself may enter the
// folder is checked on its own thread when its file system opens.
func homeRefusal(home string) string {
	if !filepath.IsAbs(home) {
		return fmt.Sprintf("home folder %q is not an absolute path", home)
	}
	st, err := os.Stat(home)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("home folder missing: %s", home)
	case err != nil:
		return fmt.Sprintf("home folder: %v", err)
	case !st.IsDir():
		return fmt.Sprintf("home folder is not a directory: %s", home)
	}
	return ""
}

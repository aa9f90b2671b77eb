package system

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/pierftp/pier"
)

// pamRequest is what a PAM helper is asked to check.
type pamRequest struct {
	Service, ConfDir string // Options.PAMService and PAMConfDir
	User, Password   string
	RHost            string // the client's address, for PAM_RHOST; "" if unknown
}

// authenticatePAM logs name in through Options.PAMService. PAM's auth and
// account steps run in a helper process; then pier's own rules apply to
// the account NSS has for name, the helper opens the PAM session, and the
// login keeps the helper until it is released.
//
// The allowed and rejected lists are checked before PAM is asked. They
// are about the name, which the client chose, not about an account: a
// refusal by them tells the client nothing about the machine's accounts,
// and its reply is the same as any other's. A name that may never log in
// then costs no helper process, no PAM delay, and no failure counted
// against the account by a module such as pam_faillock. The rules that
// are about the account (root, MinUID, the shell, the home folder) wait
// for PAM to have checked the password.
func (a *Authenticator) authenticatePAM(ctx context.Context, c pier.ConnInfo, name, pass string) (*pier.User, error) {
	if reason := a.nameRules(name); reason != "" {
		return nil, a.refuse(ctx, c, slog.LevelInfo, name, reason)
	}
	req := pamRequest{Service: a.opts.PAMService, ConfDir: a.opts.PAMConfDir, User: name, Password: pass}
	if c.RemoteAddr.IsValid() {
		req.RHost = c.RemoteAddr.Addr().String()
	}
	h, err := startPAMHelper(ctx, a.log, req)
	if err != nil {
		if errors.Is(err, errPAMRefused) {
			return nil, a.refuse(ctx, c, slog.LevelInfo, name, err.Error())
		}
		return nil, a.pamOutage(ctx, err)
	}
	u, err := a.pamAccount(ctx, c, name, h)
	if err != nil {
		h.Close()
		return nil, err
	}
	return u, nil
}

// pamAccount logs in the account PAM let in, whose helper is h: it looks
// the account up through NSS, applies pier's rules, has the helper open
// the PAM session, and opens the account's file system. The caller
// closes h if it fails.
func (a *Authenticator) pamAccount(ctx context.Context, c pier.ConnInfo, name string, h *pamHelper) (*pier.User, error) {
	e, groups, err := lookupNSS(name)
	switch {
	case errors.Is(err, errUnknownUser):
		return nil, a.refuse(ctx, c, slog.LevelWarn, name, "PAM let in a name NSS has no account for")
	case err != nil:
		return nil, fmt.Errorf("system: look up %q: %w", name, err)
	}
	// No shadow entry: the expiry dates were PAM's to check, in its
	// account step.
	acct := &account{passwdEntry: e, groups: groups}
	reason, err := a.accountRules(name, acct)
	if err != nil {
		return nil, err
	}
	if reason != "" {
		return nil, a.refuse(ctx, c, slog.LevelInfo, name, reason)
	}
	// Before the home folder is checked: a session module such as
	// pam_mkhomedir may make it.
	if err := h.openSession(ctx); err != nil {
		return nil, a.pamOutage(ctx, err)
	}
	return a.login(ctx, c, name, acct, a.settings(name), a.opts.Root, false, h)
}

// pamOutage returns the error of a PAM step that could not decide: ctx's
// error if ctx ended, else err with the service.
func (a *Authenticator) pamOutage(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("system: PAM service %q: %w", a.opts.PAMService, err)
}

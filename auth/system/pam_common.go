package system

import "errors"

// ErrNoPAM is wrapped by New's error when Options.PAMService is set in a
// pier built without PAM support.
var ErrNoPAM = errors.New("this pier was built without PAM support (build it on Linux with -tags pam and cgo enabled; it needs libpam0g-dev)")

// errPAMRefused is wrapped by the error of a login that PAM refused: a
// wrong password, an unknown, locked or expired account, a password that
// must be changed. Any other PAM error is an outage, not a refusal.
var errPAMRefused = errors.New("refused by PAM")

// errUnknownUser is lookupNSS's error for a name NSS has no account for.
var errUnknownUser = errors.New("no such account")

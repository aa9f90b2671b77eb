//go:build !(pam && cgo && linux)

package system

import (
	"context"
	"log/slog"
)

// pamBuilt reports whether this pier was built with PAM support.
const pamBuilt = false

// pamHelper stands for a PAM helper process in a pier built without PAM:
// there never is one, and its methods do nothing.
type pamHelper struct{}

// startPAMHelper always fails with an outage: there is no PAM to ask. New
// refuses Options.PAMService first, so no login gets here.
func startPAMHelper(ctx context.Context, log *slog.Logger, req pamRequest) (*pamHelper, error) {
	return nil, ErrNoPAM
}

// openSession does nothing but fail.
func (h *pamHelper) openSession(ctx context.Context) error { return ErrNoPAM }

// Close does nothing.
func (h *pamHelper) Close() error { return nil }

// lookupNSS always fails: without cgo there is no NSS to ask.
func lookupNSS(name string) (passwdEntry, []uint32, error) {
	return passwdEntry{}, nil, ErrNoPAM
}

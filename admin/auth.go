package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// credentials are who a request's credentials say it is.
type credentials struct {
	// who is "token" or "cert:CN"; "" when the request has none.
	who string
	// bad: an Authorization header that is not the token; why says how.
	bad bool
	why string
}

// authenticate checks the request's bearer token and TLS client
// certificate. A wrong token counts as bad even beside a good
// certificate: a client that sends one is mistaken, and is told so.
func (h *Handler) authenticate(r *http.Request) credentials {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, token, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return credentials{bad: true, why: "want Authorization: Bearer TOKEN"}
		}
		want := h.token.Load()
		if want == nil {
			return credentials{bad: true, why: "no token is set here: send none"}
		}
		// Hashes have one length: the comparison says nothing of the
		// token's.
		sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			return credentials{bad: true, why: "wrong token"}
		}
		return credentials{who: "token"}
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		return credentials{who: "cert:" + r.TLS.VerifiedChains[0][0].Subject.CommonName}
	}
	return credentials{}
}

// loopbackRead reports whether r may read without credentials.
func (h *Handler) loopbackRead(r *http.Request) bool {
	if !h.o.LoopbackRead || h.token.Load() != nil {
		return false
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	ap, err := netip.ParseAddrPort(local.String())
	return err == nil && ap.Addr().Unmap().IsLoopback() && loopbackHost(r.Host)
}

// loopbackHost reports whether a request's Host names this machine by a
// loopback address or "localhost". A web page elsewhere can make a
// browser on this machine send requests to 127.0.0.1 under the page's
// own host name (DNS rebinding); such a request does not read without
// credentials.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// unauthorised writes the 401.
func unauthorised(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="pier admin"`)
	writeError(w, http.StatusUnauthorized, msg)
}

// reading wraps a GET handler in the reading rule.
func (h *Handler) reading(f http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := h.authenticate(r)
		switch {
		case c.bad:
			unauthorised(w, c.why)
		case c.who == "" && !h.loopbackRead(r):
			unauthorised(w, "a bearer token or a client certificate is needed")
		default:
			f(w, r)
		}
	})
}

// acting wraps an action's handler in the action rule (credentials,
// always; no cross-origin browser request, since a client certificate
// comes with any request a browser sends) and logs the outcome.
func (h *Handler) acting(action string, f func(w http.ResponseWriter, r *http.Request) actionResult) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.logAction(r, "", action, r.URL.Path, "refused: cross-origin request")
		writeError(w, http.StatusForbidden, "cross-origin request refused")
	}))
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := h.authenticate(r)
		if c.bad || c.who == "" {
			msg := "a bearer token or a client certificate is needed"
			if c.bad {
				msg = c.why
			}
			// The target is not parsed for a refused request: its
			// path says what was tried.
			h.logAction(r, c.who, action, r.URL.Path, "refused: "+msg)
			unauthorised(w, msg)
			return
		}
		res := f(w, r)
		h.logAction(r, c.who, action, res.target, res.outcome)
	}))
}

// actionResult is what an action did, for the log.
type actionResult struct {
	target, outcome string
}

// logAction logs an action, done or refused.
func (h *Handler) logAction(r *http.Request, who, action, target, outcome string) {
	level := slog.LevelInfo
	if outcome != "ok" {
		level = slog.LevelWarn
	}
	h.log.Log(r.Context(), level, "admin action",
		"who", who, "client", r.RemoteAddr, "action", action, "target", target, "outcome", outcome)
}

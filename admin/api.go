package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/pierftp/pier"
)

// maxBody bounds a request's JSON body.
const maxBody = 4096

// status serves GET /api/status.
func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	st := h.srv.Stats()
	bans := h.banList()
	c := h.authenticate(r)
	writeJSON(w, http.StatusOK, Status{
		Now:       now,
		Started:   h.started,
		Who:       c.who,
		CanAct:    c.who != "",
		CanReload: h.o.Reload != nil,
		Totals: Totals{
			Sessions: st.Sessions, LoggedIn: st.LoggedIn,
			BytesReceived: st.BytesReceived, BytesSent: st.BytesSent,
			Uploads: st.Uploads, Downloads: st.Downloads,
			Bans: len(bans),
		},
		Sessions:   h.sessionList(now),
		Bans:       bans,
		Recent:     h.recentTransfers(),
		Throughput: h.throughput(),
	})
}

// sessions serves GET /api/sessions.
func (h *Handler) sessions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.sessionList(time.Now()))
}

// bans serves GET /api/bans.
func (h *Handler) bans(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.banList())
}

func (h *Handler) sessionList(now time.Time) []Session {
	all := h.srv.Sessions()
	out := make([]Session, 0, len(all))
	for _, s := range all {
		v := Session{
			ID: s.ID, User: s.User,
			RemoteAddr: s.RemoteAddr.String(), LocalAddr: s.LocalAddr.String(),
			Since: s.Since, Host: s.Host, Client: s.Client, TLS: s.TLS,
			Command: s.Command, Arg: s.Arg, CommandAt: s.CommandAt,
		}
		if t := s.Transfer; t != nil {
			v.Transfer = &Transfer{
				Command: t.Command, Path: t.Path, Upload: t.Upload, Start: t.Start,
				Offset: t.Offset, Bytes: t.Bytes, Size: t.Size,
				Rate: h.speed(s.ID, t, now),
			}
		}
		out = append(out, v)
	}
	return out
}

func (h *Handler) banList() []Ban {
	all := h.srv.Bans()
	out := make([]Ban, 0, len(all))
	for _, b := range all {
		out = append(out, banOf(b))
	}
	return out
}

func banOf(b pier.BanStatus) Ban {
	p := b.Prefix.String()
	if b.Prefix.IsSingleIP() {
		p = b.Prefix.Addr().String()
	}
	return Ban{Prefix: p, Until: b.Until}
}

// endSession serves DELETE /api/sessions/{id}: 202, the session ends
// soon after.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) actionResult {
	arg := r.PathValue("id")
	id, err := strconv.ParseUint(arg, 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("session id %q: not a number", arg))
		return actionResult{arg, "bad session id"}
	}
	if !h.srv.EndSession(id) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no session %d", id))
		return actionResult{arg, "no such session"}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"ended": id})
	return actionResult{arg, "ok"}
}

// banRequest is the body of POST /api/bans.
type banRequest struct {
	Address string `json:"address"`
	// Duration is a Go duration ("90s", "1h"); if empty, the server's
	// BanTime.
	Duration string `json:"duration"`
}

// ban serves POST /api/bans: 201 with the ban.
func (h *Handler) ban(w http.ResponseWriter, r *http.Request) actionResult {
	var req banRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body: want {\"address\": \"ADDR\", \"duration\": \"1h\"}: "+err.Error())
		return actionResult{"", "bad body"}
	}
	addr, err := parseAddress(req.Address)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return actionResult{req.Address, "bad address"}
	}
	var d time.Duration
	if req.Duration != "" {
		if d, err = time.ParseDuration(req.Duration); err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("duration %q: want a positive Go duration such as 90s or 1h", req.Duration))
			return actionResult{req.Address, "bad duration"}
		}
	}
	b := banOf(h.srv.Ban(addr, d))
	writeJSON(w, http.StatusCreated, b)
	return actionResult{b.Prefix + " until " + b.Until.Format(time.RFC3339), "ok"}
}

// unban serves DELETE /api/bans/{address}: the address may be any of
// the banned /64's, or the prefix as the list shows it.
func (h *Handler) unban(w http.ResponseWriter, r *http.Request) actionResult {
	arg := r.PathValue("address")
	addr, err := parseAddress(arg)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return actionResult{arg, "bad address"}
	}
	here := h.srv.Unban(addr)
	if !here && h.srv.BanStore == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s is not banned", arg))
		return actionResult{arg, "not banned"}
	}
	// With a BanStore the lift went to every node, whether or not this
	// one had the ban yet.
	writeJSON(w, http.StatusOK, map[string]any{"unbanned": arg, "bannedHere": here})
	return actionResult{arg, "ok"}
}

// parseAddress takes an address, or a prefix of the size pier bans (an
// IPv4 /32, an IPv6 /64, as Bans lists them): its address. A wider or
// narrower prefix is refused rather than taken for its first address.
func parseAddress(s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone(""), nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		a := p.Addr().Unmap()
		if (a.Is4() && p.Bits() == 32) || (a.Is6() && p.Bits() == 64) {
			return a, nil
		}
		return netip.Addr{}, fmt.Errorf("prefix %q: pier bans one IPv4 address or one IPv6 /64; give an address", s)
	}
	return netip.Addr{}, fmt.Errorf("address %q: want an IP address such as 192.0.2.7 or 2001:db8::1", s)
}

// reload serves POST /api/reload.
func (h *Handler) reload(w http.ResponseWriter, r *http.Request) actionResult {
	if h.o.Reload == nil {
		writeError(w, http.StatusNotImplemented, "reload is not available")
		return actionResult{"", "not available"}
	}
	err := h.o.Reload()
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		writeError(w, http.StatusNotImplemented, "reload is not available")
		return actionResult{"", "not available"}
	case err != nil:
		writeError(w, http.StatusInternalServerError, "reload failed: "+err.Error())
		return actionResult{"", "failed: " + err.Error()}
	}
	writeJSON(w, http.StatusOK, map[string]any{"reloaded": true})
	return actionResult{"", "ok"}
}

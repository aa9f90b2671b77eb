package pier

import (
	"net/netip"
	"sync"
	"time"
)

// Address bans (beyond pyftpdlib): an address that fails to log in BanAfter
// times within BanTime, across any number of connections, is refused for
// BanTime. The per-connection limit (MaxLoginAttempts) alone lets a guesser
// reconnect forever; the 3 s failure delay alone still allows ~30 guesses a
// second from 100 connections.

// Defaults for the ban fields.
const (
	DefaultBanAfter = 10
	DefaultBanTime  = 15 * time.Minute
)

// maxBanEntries bounds the table, so that failures from a great many
// addresses can't grow memory without end.
const maxBanEntries = 100_000

type banEntry struct {
	failures int
	first    time.Time // of the current window
	until    time.Time // banned until; zero if not banned
	manual   bool      // the ban is Ban's, not the failures'
	// bannedAt is when the ban was made (here, or by another server of
	// a BanStore): a lift made before it does not undo it.
	bannedAt time.Time
}

type banTable struct {
	mu      sync.Mutex
	entries map[netip.Prefix]*banEntry
}

// banKey groups an address with its neighbours that one attacker controls
// as easily: an IPv6 /64 is one customer's network.
func banKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, 32)
}

func (s *Server) banLimits() (after int, d time.Duration) {
	l := s.lim()
	after = l.BanAfter
	if after == 0 {
		after = DefaultBanAfter
	}
	return after, durationOr(l.BanTime, DefaultBanTime)
}

// Why a banned address is refused: failed logins, or Ban.
const (
	bannedForFailures = "Too many failed logins from your address; try again later."
	bannedByHand      = "Connections from your address are refused; try again later."
)

// banned returns why a is banned now ("" if it is not): for its failed
// logins, or by Ban (which works even with BanAfter negative).
func (s *Server) banned(a netip.Addr, now time.Time) string {
	s.bans.mu.Lock()
	defer s.bans.mu.Unlock()
	e := s.bans.entries[banKey(a)]
	switch {
	case e == nil || !now.Before(e.until):
		return ""
	case e.manual:
		return bannedByHand
	}
	return bannedForFailures
}

// loginFailed counts a failed login from a; it returns true when this
// failure bans the address.
func (s *Server) loginFailed(a netip.Addr, now time.Time) bool {
	after, d := s.banLimits()
	if after < 0 {
		return false
	}
	key := banKey(a)
	s.bans.mu.Lock()
	defer s.bans.mu.Unlock()
	if s.bans.entries == nil {
		s.bans.entries = make(map[netip.Prefix]*banEntry)
	}
	e := s.bans.entries[key]
	if e == nil {
		if len(s.bans.entries) >= maxBanEntries {
			s.bans.sweep(now, d)
			if len(s.bans.entries) >= maxBanEntries {
				return false // full of live bans; don't grow
			}
		}
		e = &banEntry{first: now}
		s.bans.entries[key] = e
	}
	if now.Sub(e.first) > d {
		e.failures, e.first = 0, now // the window has passed
	}
	e.failures++
	if e.failures >= after && !now.Before(e.until) {
		e.until = now.Add(d)
		e.failures, e.first = 0, now
		e.manual = false
		e.bannedAt = now
		return true
	}
	return false
}

// sweep drops entries whose window and ban have both passed.
func (t *banTable) sweep(now time.Time, d time.Duration) {
	for k, e := range t.entries {
		if now.Sub(e.first) > d && !now.Before(e.until) {
			delete(t.entries, k)
		}
	}
}

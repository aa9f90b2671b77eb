package pier

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
)

// Virtual hosts (RFC 7151). Several FTP services share one address and
// port; a client names the one it wants with HOST before it logs in, or,
// over FTPS, in the TLS server name indication (SNI) of its handshake. A
// session that names none is on the default host: the Server's own Auth,
// Banner and TLSConfig.

// Host is a virtual host: one of the FTP services a Server offers on the
// same address and port (see Server.Hosts). Its accounts, and through them
// its files, its greeting and its certificate are its own.
type Host struct {
	// Auth checks the logins of the host's sessions. If nil, every login
	// fails: a host never falls back to Server.Auth, so that the accounts
	// of two hosts stay apart (RFC 7151 §4).
	Auth Authenticator

	// Banner is the text of the 220 reply to HOST, and of the greeting of
	// an implicit FTPS connection that names the host in SNI (the greeting
	// of other connections comes before the client can name a host). If
	// empty, the Server's Banner.
	Banner string

	// TLSConfig is the host's FTPS configuration (its certificate, first
	// of all), used for the control and data connections of its sessions
	// instead of Server.TLSConfig. If nil, Server.TLSConfig. FTPS is on
	// only where Server.TLSConfig is set: Serve refuses a host's
	// TLSConfig without it.
	TLSConfig *tls.Config
}

// maxClientName is the longest CLNT text kept, in bytes.
const maxClientName = 200

// initHosts checks Server.Hosts and indexes them by their names in the
// form HOST compares (lower case).
func (s *Server) initHosts() error {
	if len(s.Hosts) == 0 {
		return nil
	}
	s.hosts = make(map[string]*Host, len(s.Hosts))
	s.hostIDs = make(map[*Host]string)
	var bad []string
	names := make([]string, 0, len(s.Hosts))
	for name := range s.Hosts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		h := s.Hosts[name]
		key, ok := canonicalHostName(name)
		switch {
		case !ok || isAddressName(name): // an address names the default host
			bad = append(bad, fmt.Sprintf("Hosts[%q] (not a host name: letters, digits, hyphens and dots; A-labels (xn--) for international names; no address, port or wildcard)", name))
			continue
		case h == nil:
			bad = append(bad, fmt.Sprintf("Hosts[%q] (nil)", name))
			continue
		case s.hosts[key] != nil:
			bad = append(bad, fmt.Sprintf("Hosts[%q] (a second entry for %s)", name, key))
			continue
		case h.TLSConfig != nil && s.TLSConfig == nil:
			bad = append(bad, fmt.Sprintf("Hosts[%q].TLSConfig (FTPS needs Server.TLSConfig too)", name))
			continue
		}
		s.hosts[key] = h
		if _, seen := s.hostIDs[h]; !seen {
			s.hostIDs[h] = key // the first of its names, in order
		}
	}
	if len(bad) > 0 {
		return errors.New("pier: bad settings: " + strings.Join(bad, "; "))
	}
	return nil
}

// canonicalHostName returns name lower-cased if it is a domain as RFC 7151
// §3.1 has it (dot-separated labels of letters, digits and hyphens, that
// neither start nor end with a hyphen; at most 63 octets a label and 253
// in all), which includes the A-labels of internationalised names.
func canonicalHostName(name string) (string, bool) {
	if name == "" || len(name) > 253 {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(name))
	label := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-':
			if label == 0 {
				return "", false
			}
		case c == '.':
			if label == 0 || name[i-1] == '-' {
				return "", false
			}
			label = 0
			b.WriteByte(c)
			continue
		default:
			return "", false
		}
		if label++; label > 63 {
			return "", false
		}
		b.WriteByte(c)
	}
	if label == 0 || name[len(name)-1] == '-' {
		return "", false
	}
	return b.String(), true
}

// hostArg is the argument of a HOST command.
type hostArg struct {
	name string     // lower case; an address as RFC 7151 writes it ("[::1]")
	addr netip.Addr // the address of an address literal, else invalid
}

// parseHostArg parses a HOST argument (RFC 7151 §3.1): a domain, an IPv4
// address, or an IPv6 address in square brackets; never a port.
func parseHostArg(arg string) (hostArg, bool) {
	arg = strings.TrimSpace(arg)
	if inner, ok := strings.CutPrefix(arg, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		a, err := netip.ParseAddr(inner)
		if !ok || err != nil || !a.Is6() || a.Zone() != "" {
			return hostArg{}, false
		}
		return hostArg{name: "[" + a.String() + "]", addr: a}, true
	}
	if a, err := netip.ParseAddr(arg); err == nil {
		if !a.Is4() {
			return hostArg{}, false // IPv6 needs its brackets
		}
		return hostArg{name: a.String(), addr: a}, true
	}
	name, ok := canonicalHostName(arg)
	return hostArg{name: name}, ok
}

// isAddressName reports whether a session's host name came from an
// address literal.
func isAddressName(name string) bool {
	_, err := netip.ParseAddr(strings.Trim(name, "[]"))
	return err == nil
}

// sniName returns the server name a TLS client sent, in the form HOST
// compares, or "" if it sent none that is a host name.
func sniName(serverName string) string {
	name, ok := canonicalHostName(strings.TrimSuffix(serverName, "."))
	if !ok {
		return ""
	}
	return name
}

// authenticator returns the session host's Authenticator.
func (s *session) authenticator() Authenticator {
	if s.host != nil {
		return s.host.Auth
	}
	return s.srv.defaultAuth()
}

// banner returns the session host's greeting.
func (s *session) banner() string {
	if s.host != nil && s.host.Banner != "" {
		return s.host.Banner
	}
	return cmp.Or(s.srv.Banner, DefaultBanner)
}

// baseLogger is the session's logger before login: with the session, the
// client's address and the host's name, if one was chosen.
func (s *session) baseLogger() *slog.Logger {
	l := s.srv.logger().With("session", s.id, "remote", s.remote.String())
	if s.hostName != "" {
		l = l.With("host", s.hostName)
	}
	return l
}

// setHost puts the session on host h (nil: the default host), chosen by
// name.
func (s *session) setHost(h *Host, name string) {
	s.host, s.hostName = h, name
	s.setView(func(v *sessionView) { v.host = name })
	s.log.Store(s.baseLogger())
}

// loginKey is what TLS session reuse knows a login by (tlsreuse.go): the
// user's name, qualified by the virtual host, whose accounts are not the
// default host's even where their names are the same.
func (s *session) loginKey(name string) string {
	if s.host == nil {
		return name
	}
	return "\x00host " + s.srv.hostIDs[s.host] + "\x00" + name
}

// hostChoice is the virtual host a control connection's TLS handshake was
// made for, filled in during the handshake.
type hostChoice struct {
	sni    string      // the server name the client sent (sniName), "" if none
	host   *Host       // the host whose configuration the handshake used
	config *tls.Config // that configuration: the session's copy
}

// controlTLSConfig returns the configuration for the control connection's
// handshake (before handshakeConfig), and the choice of host it makes.
//
// A session that chose its host with HOST gets that host's certificate,
// and a client that then names another host in SNI is refused (RFC 7151
// §3.2.2: the server must check that they match; an address given to
// HOST can't be compared with a name, and is not). A session that did not
// gets the host its SNI names, or the default host: a name the server
// does not know is not refused, because the default host has no name in
// Server.Hosts.
func (s *session) controlTLSConfig() (*tls.Config, *hostChoice) {
	choice := &hostChoice{host: s.host, config: s.tls.config}
	if len(s.srv.hosts) == 0 && s.hostName == "" {
		return s.tls.config, choice
	}
	cfg := s.tls.config.Clone()
	next := cfg.GetConfigForClient // the application's
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		choice.sni = sniName(hello.ServerName)
		if s.hostName != "" {
			if choice.sni != "" && !isAddressName(s.hostName) && choice.sni != s.hostName {
				return nil, fmt.Errorf("the TLS server name %q does not match HOST %s", choice.sni, s.hostName)
			}
		} else {
			choice.host = s.srv.hosts[choice.sni]
		}
		if choice.host == nil || choice.host.TLSConfig == nil {
			if next == nil {
				return nil, nil
			}
			return next(hello)
		}
		c := choice.host.TLSConfig.Clone()
		choice.config = c
		if c.GetConfigForClient != nil {
			if r, err := c.GetConfigForClient(hello); r != nil || err != nil {
				return r, err
			}
		}
		return c, nil
	}
	return cfg, choice
}

// tlsHostChosen applies a control connection's completed handshake: its
// data connections use its host's configuration, and a session that had
// not chosen a host is now on the one its SNI named.
func (s *session) tlsHostChosen(c *hostChoice) {
	s.tls.host, s.tls.sni, s.tls.config = c.host, c.sni, c.config
	if s.hostName == "" && c.host != nil {
		s.setHost(c.host, c.sni)
		s.logger().Log(s.ctx, LevelVerbose, "virtual host chosen by TLS server name")
	}
	s.tls.hostName = s.hostName
}

// resetHost undoes HOST (REIN, RFC 7151 §3.2.1): the session returns to
// the host its protected control connection was set up for, or else to
// the default host.
func (s *session) resetHost() {
	if s.host != s.tls.host || s.hostName != s.tls.hostName {
		s.setHost(s.tls.host, s.tls.hostName)
	}
}

// Host returns the name of the session's virtual host: the argument of
// its last successful HOST command (lower case; an address in its usual
// form, an IPv6 one in brackets), or the TLS server name that chose one
// of Server.Hosts; "" for the default host when neither did. REIN clears
// it, except for the host a protected control connection was set up for.
func (p *Session) Host() string { return p.s.hostName }

// Client returns what the client said it is with CLNT ("FileZilla
// 3.66.4", say), at most 200 bytes with control characters replaced by
// '?', or "" if it said nothing.
func (p *Session) Client() string { return p.s.clientName }

package pier

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The Server's numbers with their defaults, and the check of the values
// that mean nothing (see Server: zero is the default, negative is none).

func (s *Server) maxConnections() int {
	if n := s.lim().MaxConnections; n != 0 {
		return n
	}
	return DefaultMaxConnections
}

// maxHashes is MaxHashes with its default; zero or less means no limit.
func (s *Server) maxHashes() int {
	if n := s.lim().MaxHashes; n != 0 {
		return n
	}
	return DefaultMaxHashes
}

// connectTimeout is ConnectTimeout with its default; zero or less means
// none.
func (s *Server) connectTimeout() time.Duration {
	return durationOr(s.lim().ConnectTimeout, DefaultConnectTimeout)
}

// handshakeTimeout bounds a TLS handshake: ConnectTimeout, or its default
// when that is negative (a handshake must not hold a session forever).
func (s *Server) handshakeTimeout() time.Duration {
	if d := s.connectTimeout(); d > 0 {
		return d
	}
	return DefaultConnectTimeout
}

// checkSettings refuses the values that mean nothing (see Server).
func (s *Server) checkSettings() error {
	var bad []string
	if s.MaxLineLength < 0 || (s.MaxLineLength > 0 && s.MaxLineLength < 64) {
		bad = append(bad, fmt.Sprintf("MaxLineLength %d (at least 64)", s.MaxLineLength))
	}
	bad = append(bad, s.fieldLimits().check()...)
	if r := s.PassivePorts; (r.First == 0) != (r.Last == 0) || r.First > r.Last {
		bad = append(bad, "PassivePorts "+r.String()+" (first port above the last, or only one set)")
	}
	if s.PublicAddr.IsValid() && !s.PublicAddr.Unmap().Is4() {
		bad = append(bad, "PublicAddr "+s.PublicAddr.String()+" (PASV can only advertise IPv4)")
	}
	for _, r := range s.PublicAddrFor {
		if !r.Prefix.IsValid() || !r.Addr.IsValid() || !r.Addr.Unmap().Is4() {
			bad = append(bad, "PublicAddrFor "+r.Prefix.String()+"="+r.Addr.String()+" (a network and an IPv4 address)")
		}
	}
	for _, p := range s.ProxyProtocolFrom {
		if !p.IsValid() {
			bad = append(bad, "ProxyProtocolFrom "+p.String())
		}
	}
	bad = append(bad, s.checkClientCerts()...)
	if len(bad) > 0 {
		return errors.New("pier: bad settings: " + strings.Join(bad, "; "))
	}
	return nil
}

func durationOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

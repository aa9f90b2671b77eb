package pier

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// FTPS (RFC 4217). The control connection is upgraded by AUTH TLS, or is TLS
// from the first byte on a listener given to ServeTLS (implicit FTPS). Data
// connections are protected after PROT P, and by default must resume a TLS
// session of the same client (tlsreuse.go).

// tlsState is a session's FTPS state, owned by the control goroutine.
type tlsState struct {
	config *tls.Config // per-session clone of Server.TLSConfig; nil before AUTH
	// ticketKey is the key that encrypted the control connection's
	// tickets, kept while the session lives (tlsSessions.ticketKeys).
	ticketKey [32]byte
	active    bool // the control connection is encrypted
	pbsz      bool // PBSZ was sent (RFC 4217 §8)
	prot      byte // 'C' or 'P': protection of data connections
	// The virtual host the handshake was made for (nil: the default
	// host), the name the session's host had then, and the server name
	// the client sent ("" if none): HOST must agree with them (host.go).
	host     *Host
	hostName string
	sni      string
}

// sessionTLSConfig returns the session's copy of the server's TLS
// configuration, and registers the session as one that tickets may be
// issued to.
func (s *session) sessionTLSConfig() (*tls.Config, error) {
	if s.tls.config != nil {
		return s.tls.config, nil
	}
	base := s.srv.TLSConfig
	if base == nil {
		return nil, errors.New("TLS is not configured")
	}
	user := ""
	if s.user != nil {
		user = s.loginKey(s.user.Name)
	}
	s.srv.tlsSessions.register(s.id, s.remote.Addr(), user)
	s.tls.config = base.Clone()
	return s.tls.config, nil
}

// tlsLoggedIn records a login for the session's tickets: from now on they
// may be resumed by the data connections of the same user's other
// sessions from the same address.
func (s *session) tlsLoggedIn(u *User) { s.srv.tlsSessions.loggedIn(s.id, s.loginKey(u.Name)) }

// startControlTLS runs the server side of the TLS handshake on the control
// connection, bounded by the connect timeout.
func (s *session) startControlTLS() error {
	if _, err := s.sessionTLSConfig(); err != nil {
		return err
	}
	base, choice := s.controlTLSConfig() // the virtual host's
	cfg, key := s.handshakeConfig(base, s.tls.ticketKey, nil)
	tc := tls.Server(s.withBuffered(), cfg)
	s.conn.SetDeadline(time.Now().Add(s.srv.handshakeTimeout()))
	err := tc.HandshakeContext(s.ctx)
	s.conn.SetDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("control TLS handshake: %w", err)
	}
	s.writeMu.Lock()
	s.ctrl = tc
	s.writeMu.Unlock()
	s.r.Reset(tc)
	s.tls.active = true
	s.setView(func(v *sessionView) { v.tls = true })
	s.tls.ticketKey = key
	s.tlsHostChosen(choice)
	cs := tc.ConnectionState()
	s.logger().Log(s.ctx, LevelVerbose, "control connection secured", "tls", tls.VersionName(cs.Version), "cipher", tls.CipherSuiteName(cs.CipherSuite))
	return nil
}

// errTLSReuse is a protected data connection that did not resume a TLS
// session of this client.
var errTLSReuse = errors.New("data connection did not resume a TLS session of this client")

// dataTLS is what a transfer needs to protect its data connection, taken
// from the session when the transfer begins.
type dataTLS struct {
	config    *tls.Config // the session's
	ticketKey [32]byte    // the session's tlsState.ticketKey
	user      string      // the login
}

// dataTLS returns the protection of the next data connection: nil unless
// PROT P is in force.
func (s *session) dataTLS() *dataTLS {
	if s.tls.prot != 'P' {
		return nil
	}
	d := &dataTLS{config: s.tls.config, ticketKey: s.tls.ticketKey}
	if s.user != nil {
		d.user = s.loginKey(s.user.Name)
	}
	return d
}

// protectData runs the TLS handshake on a data connection after PROT P.
// Unless TLSAllowNoReuse is set, the connection must resume a session
// that refuseResumption allows.
func (s *session) protectData(t *transfer, conn net.Conn, peer netip.AddrPort, d *dataTLS) (net.Conn, error) {
	check := &reuseCheck{peer: peer.Addr().WithZone(""), user: d.user}
	cfg, _ := s.handshakeConfig(d.config, d.ticketKey, check)
	tc := tls.Server(conn, cfg)
	conn.SetDeadline(t.limit(time.Now().Add(s.srv.handshakeTimeout())))
	if err := tc.HandshakeContext(s.ctx); err != nil {
		return nil, fmt.Errorf("data TLS handshake: %w", err)
	}
	conn.SetDeadline(t.limit(time.Time{}))
	cs := tc.ConnectionState()
	if s.srv.TLSAllowNoReuse {
		return tc, nil
	}
	if !cs.DidResume {
		return nil, fmt.Errorf("%w: %s", errTLSReuse, check.reason(cs))
	}
	if check.pending {
		if why := s.awaitTicketOwner(t, check); why != "" {
			return nil, fmt.Errorf("%w: %s", errTLSReuse, why)
		}
	}
	if check.owner != s.id {
		s.logger().Log(s.ctx, LevelVerbose, "data connection resumed the TLS session of another control connection of this user", "owner", check.owner)
	}
	return tc, nil
}

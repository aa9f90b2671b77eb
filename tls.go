package pier

import (
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// FTPS (RFC 4217). The control connection is upgraded by AUTH TLS, or is TLS
// from the first byte on a listener given to ServeTLS (implicit FTPS). Data
// connections are protected after PROT P.
//
// Data-connection session reuse: each control connection gets its own
// session-ticket key, and by default a protected data connection must
// resume a TLS session of its own control connection. A third party that
// races the client to the passive port can't do that, so it can't steal or
// inject the data (vsftpd's require_ssl_reuse).

// tlsState is a session's FTPS state, owned by the control goroutine.
type tlsState struct {
	config *tls.Config // per-session clone with its own ticket key; nil before AUTH
	active bool        // the control connection is encrypted
	pbsz   bool        // PBSZ was sent (RFC 4217 §8)
	prot   byte        // 'C' or 'P': protection of data connections
}

// sessionTLSConfig returns a copy of the server's TLS configuration with a
// session-ticket key of this session's own.
func (s *session) sessionTLSConfig() (*tls.Config, error) {
	if s.tls.config != nil {
		return s.tls.config, nil
	}
	base := s.srv.TLSConfig
	if base == nil {
		return nil, errors.New("TLS is not configured")
	}
	cfg := base.Clone()
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("session ticket key: %w", err)
	}
	cfg.SessionTicketsDisabled = false
	cfg.SetSessionTicketKeys([][32]byte{key})
	s.tls.config = cfg
	return cfg, nil
}

// startControlTLS runs the server side of the TLS handshake on the control
// connection, bounded by the connect timeout.
func (s *session) startControlTLS() error {
	cfg, err := s.sessionTLSConfig()
	if err != nil {
		return err
	}
	tc := tls.Server(s.conn, cfg)
	s.conn.SetDeadline(time.Now().Add(s.srv.handshakeTimeout()))
	err = tc.HandshakeContext(s.ctx)
	s.conn.SetDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("control TLS handshake: %w", err)
	}
	s.writeMu.Lock()
	s.ctrl = tc
	s.writeMu.Unlock()
	s.r.Reset(tc)
	s.tls.active = true
	cs := tc.ConnectionState()
	s.logger().Log(s.ctx, LevelVerbose, "control connection secured", "tls", tls.VersionName(cs.Version), "cipher", tls.CipherSuiteName(cs.CipherSuite))
	return nil
}

// errTLSReuse is a protected data connection that did not resume the
// control connection's TLS session.
var errTLSReuse = errors.New("data connection did not reuse the control connection's TLS session")

// protectData runs the TLS handshake on a data connection after PROT P.
func (s *session) protectData(t *transfer, conn net.Conn, cfg *tls.Config) (net.Conn, error) {
	tc := tls.Server(conn, cfg)
	conn.SetDeadline(t.limit(time.Now().Add(s.srv.handshakeTimeout())))
	if err := tc.HandshakeContext(s.ctx); err != nil {
		return nil, fmt.Errorf("data TLS handshake: %w", err)
	}
	conn.SetDeadline(t.limit(time.Time{}))
	if !s.srv.TLSAllowNoReuse && !tc.ConnectionState().DidResume {
		return nil, errTLSReuse
	}
	return tc, nil
}

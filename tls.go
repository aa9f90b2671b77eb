package pier

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
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
	bc := &batchConn{Conn: conn}
	tc := tls.Server(bc, cfg)
	conn.SetDeadline(t.limit(time.Now().Add(s.srv.handshakeTimeout())))
	if err := tc.HandshakeContext(s.ctx); err != nil {
		return nil, fmt.Errorf("data TLS handshake: %w", err)
	}
	conn.SetDeadline(t.limit(time.Time{}))
	cs := tc.ConnectionState()
	dc := &tlsDataConn{Conn: tc, raw: bc}
	if s.srv.TLSAllowNoReuse {
		return dc, nil
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
	return dc, nil
}

// tlsDataConn is a protected data connection whose Write reaches the
// socket in one system call, where crypto/tls makes one per record (16
// KiB of data): a download's 64 KiB writes (copyBufPool) go out whole.
// On loopback (ftpbench --tls, six alternations) a 1 GiB download took
// 0.75-0.84 s of server CPU so, and 0.94-0.99 s one record a write; 100
// simultaneous 10 MiB downloads 0.76-0.80 s per GiB against 0.88-0.98 s.
type tlsDataConn struct {
	*tls.Conn
	raw *batchConn
}

func (c *tlsDataConn) Write(p []byte) (int, error) {
	c.raw.begin()
	n, err := c.Conn.Write(p)
	if ferr := c.raw.end(); err == nil {
		err = ferr
	}
	return n, err
}

// batchPool holds the buffers in which batchConns gather records: room
// for 64 KiB of data in four records and their overhead (at most 22 bytes
// each in TLS 1.3, 29 in TLS 1.2). A Write that makes more is written in
// several parts.
var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 65<<10); return &b }}

// batchConn is the socket under a protected data connection. During a
// tlsDataConn.Write, the records crypto/tls writes one by one gather in
// a buffer and go out together when the Write ends or the buffer is full;
// outside one (the handshake, alerts, close_notify) writes go straight
// through.
type batchConn struct {
	net.Conn
	mu  sync.Mutex
	buf *[]byte // while batching
	// Uploads (readAhead): what one read of the socket brought, served
	// to crypto/tls, which reads for one record at a time.
	rbuf []byte
	rpos int
}

// readAheadSize is how much an upload's batchConn reads from the socket
// at once: crypto/tls asks for about one record (16 KiB) a read. A 1 GiB
// upload on loopback (ftpbench --tls, six alternations) took a median
// 1.01 s of server CPU with it and 1.15 s without.
const readAheadSize = 256 << 10

// readAhead makes c read the socket readAheadSize bytes at a time.
func (c *batchConn) readAhead() {
	if c.rbuf == nil {
		c.rbuf = make([]byte, 0, readAheadSize)
	}
}

func (c *batchConn) Read(p []byte) (int, error) {
	if c.rpos < len(c.rbuf) {
		n := copy(p, c.rbuf[c.rpos:])
		c.rpos += n
		return n, nil
	}
	if c.rbuf == nil || len(p) >= cap(c.rbuf) {
		return c.Conn.Read(p)
	}
	n, err := c.Conn.Read(c.rbuf[:cap(c.rbuf)])
	c.rbuf, c.rpos = c.rbuf[:n], 0
	if n == 0 {
		return 0, err
	}
	c.rpos = copy(p, c.rbuf)
	return c.rpos, nil
}

func (c *batchConn) begin() {
	c.mu.Lock()
	c.buf = batchPool.Get().(*[]byte)
	c.mu.Unlock()
}

// end writes what was gathered and stops gathering.
func (c *batchConn) end() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.flushLocked()
	if c.buf != nil {
		batchPool.Put(c.buf)
		c.buf = nil
	}
	return err
}

func (c *batchConn) flushLocked() error {
	if c.buf == nil || len(*c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
	return err
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return c.Conn.Write(p)
	}
	if len(*c.buf)+len(p) > cap(*c.buf) {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > cap(*c.buf) {
			return c.Conn.Write(p)
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

// Close writes what is gathered (a close_notify sent during a Write of
// another goroutine, say) before it closes.
func (c *batchConn) Close() error {
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
	return c.Conn.Close()
}

// isTLSData reports whether conn, a data connection as moveData gets it,
// is protected.
func isTLSData(conn net.Conn) bool { return tlsData(conn) != nil }

// tlsData returns the protected connection under conn, or nil.
func tlsData(conn net.Conn) *tlsDataConn {
	if t, ok := conn.(*throttledConn); ok {
		conn = t.Conn
	}
	dc, _ := conn.(*tlsDataConn)
	return dc
}

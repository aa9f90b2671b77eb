package pier

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/pires/go-proxyproto"
)

// The PROXY protocol (HAProxy's proxy-protocol.txt, v1 text and v2
// binary): a proxy in front of the server starts each connection it
// forwards with a header naming the client it forwards for. The server
// takes it from the networks in ProxyProtocolFrom only, and from them it
// requires it; everything after (bans, limits, logs, hooks, data
// connection checks) then sees the real client.

// proxyTrusted reports whether a connection from addr must carry a PROXY
// header.
func (s *Server) proxyTrusted(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range s.ProxyProtocolFrom {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// errProxyLocal is a header that names no client: v2's LOCAL command or
// v1's UNKNOWN, which a proxy sends for its own connections (health
// checks).
var errProxyLocal = errors.New("PROXY header names no client (LOCAL)")

// errProxyNone is a connection closed before it sent a byte: a TCP
// health check.
var errProxyNone = errors.New("closed before a PROXY header")

// readProxyHeader reads the PROXY header at the start of conn, within the
// handshake timeout, and returns the client it names (src) and the
// address that client connected to (dst: the proxy's). The reader it
// returns holds whatever came after the header; it must be read before
// conn.
func (s *Server) readProxyHeader(conn net.Conn, bufSize int) (src, dst netip.AddrPort, r *bufio.Reader, err error) {
	r = bufio.NewReaderSize(conn, bufSize)
	conn.SetReadDeadline(time.Now().Add(s.handshakeTimeout()))
	defer conn.SetReadDeadline(time.Time{})
	if _, err := r.Peek(1); err != nil {
		if isTimeout(err) {
			return netip.AddrPort{}, netip.AddrPort{}, nil, err
		}
		// Closed or reset before the first byte: a TCP check (HAProxy
		// may end one with a reset).
		return netip.AddrPort{}, netip.AddrPort{}, nil, fmt.Errorf("%w: %w", errProxyNone, err)
	}
	h, err := proxyproto.Read(r)
	if err != nil {
		return netip.AddrPort{}, netip.AddrPort{}, nil, err
	}
	if h.Command.IsLocal() || h.TransportProtocol == proxyproto.UNSPEC {
		return netip.AddrPort{}, netip.AddrPort{}, nil, errProxyLocal
	}
	from, to, ok := h.TCPAddrs()
	if !ok {
		return netip.AddrPort{}, netip.AddrPort{}, nil, errors.New("PROXY header for a protocol other than TCP")
	}
	src, dst = from.AddrPort(), to.AddrPort()
	return netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port()), r, nil
}

// logProxyError logs a connection from a trusted network that did not
// send a usable header: a health check quietly, anything else as a
// warning, repeats collapsed.
func (s *Server) logProxyError(peer netip.AddrPort, kind string, err error) {
	switch {
	case s.inShutdown.Load():
	case errors.Is(err, errProxyLocal), errors.Is(err, errProxyNone):
		s.logger().Debug("proxy health check", "peer", peer.String(), "conn", kind, "err", err)
	default:
		s.logRepeats.warn(s.logger(), "proxy-header-"+kind, "connection without a valid PROXY header closed",
			"peer", peer.String(), "conn", kind, "err", err)
	}
}

// acceptProxied reads the PROXY header of a control connection from a
// trusted network on a goroutine of its own (a slow proxy must not hold
// the accept loop), then starts the session for the client it names. A
// connection without a valid header is closed before the banner.
func (s *Server) acceptProxied(conn net.Conn, implicitTLS bool) {
	s.mu.Lock()
	if s.inShutdown.Load() {
		s.mu.Unlock()
		conn.Close()
		return
	}
	if s.proxyWaiting == nil {
		s.proxyWaiting = make(map[net.Conn]struct{})
	}
	// A proxy sends its header at once; connections that don't are not
	// let to pile up (a goroutine and a descriptor each) past the
	// connection limit, which counts only sessions.
	if len(s.proxyWaiting) >= s.maxProxyWaiting() {
		s.mu.Unlock()
		s.logRepeats.warn(s.logger(), "proxy-header-waiting", "connection closed: too many connections waiting for their PROXY header",
			"peer", conn.RemoteAddr().String(), "waiting", s.maxProxyWaiting())
		conn.Close()
		return
	}
	s.proxyWaiting[conn] = struct{}{}
	s.sessionsWG.Add(1) // Shutdown waits for the header too (it closes conn)
	s.mu.Unlock()
	go func() {
		defer s.sessionsWG.Done()
		remote, via, r, err := s.readProxyHeader(conn, 1024)
		s.mu.Lock()
		delete(s.proxyWaiting, conn)
		s.mu.Unlock()
		if err != nil {
			s.logProxyError(addrPort(conn.RemoteAddr()), "control", err)
			conn.Close()
			return
		}
		s.handleConn(conn, r, remote, implicitTLS, via.Addr())
	}()
}

// maxProxyWaiting is the most connections from proxies that may wait for
// their header at once: MaxConnections, or its default when that is
// unlimited.
func (s *Server) maxProxyWaiting() int {
	if n := s.maxConnections(); n > 0 {
		return n
	}
	return DefaultMaxConnections
}

// closeProxyWaiting closes the connections whose header is still awaited
// (Shutdown, Close). The caller holds s.mu.
func (s *Server) closeProxyWaiting() {
	for c := range s.proxyWaiting {
		c.Close()
	}
}

// isProxyHeader reports whether the first line of an untrusted control
// connection is a PROXY header: v1's text, or the start of v2's binary
// signature ("\r\n\r\n\x00\r\nQUIT\n", whose first line is empty).
func (s *session) isProxyHeader(line string) bool {
	if strings.HasPrefix(line, "PROXY ") {
		return true
	}
	if line != "" {
		return false
	}
	next, _ := s.r.Peek(min(s.r.Buffered(), 10))
	return string(next) == "\r\n\x00\r\nQUIT\n"
}

// dataProxyHeader reads the PROXY header of a passive data connection
// from a trusted network, and returns the connection to use (with what
// followed the header, if anything did) and the client the header names.
func (s *session) dataProxyHeader(c *net.TCPConn) (net.Conn, netip.AddrPort, error) {
	peer, _, r, err := s.srv.readProxyHeader(c, 256)
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	if n := r.Buffered(); n > 0 {
		// An upload whose first bytes came with the header: they are read
		// first, at the cost of the zero-copy path for this transfer.
		early, _ := r.Peek(n)
		return &prefixedConn{Conn: c, r: io.MultiReader(strings.NewReader(string(early)), c)}, peer, nil
	}
	return c, peer, nil
}

// withBuffered returns the control connection with what its reader holds
// in front: the start of an implicit FTPS handshake that came with the
// PROXY header (AUTH TLS refuses buffered bytes).
func (s *session) withBuffered() net.Conn {
	n := s.r.Buffered()
	if n == 0 {
		return s.conn
	}
	early, _ := s.r.Peek(n)
	return &prefixedConn{Conn: s.conn, r: io.MultiReader(strings.NewReader(string(early)), s.conn)}
}

// prefixedConn is a connection whose first bytes were already read.
type prefixedConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite keeps the half-close of the connection underneath.
func (c *prefixedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

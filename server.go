package pier

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Defaults for the zero values of Server's fields.
const (
	DefaultAddr             = ":2121"
	DefaultIdleTimeout      = 300 * time.Second
	DefaultDataTimeout      = 300 * time.Second
	DefaultConnectTimeout   = 30 * time.Second
	DefaultMaxConnections   = 512
	DefaultMaxLoginAttempts = 3
	DefaultLoginFailDelay   = 3 * time.Second
	DefaultMaxLineLength    = 2048
	DefaultMaxHashes        = 4
	DefaultBanner           = "pier FTP server ready."
)

// PortRange is an inclusive range of TCP ports for passive data connections.
type PortRange struct {
	// First and Last are the lowest and highest port; the zero range
	// means any free port.
	First, Last uint16
}

// String returns "first-last", or "any" for the zero range.
func (r PortRange) String() string {
	if r.First == 0 {
		return "any"
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// Server is an FTP server. Its exported fields are its configuration; set
// them before calling Serve or ListenAndServe and do not change them after.
// Two Servers in one process never share state.
//
// One rule holds for every number: zero means the default, which is safe;
// a negative value means "none" (no limit, no timeout, no delay, no bans)
// where that makes sense, and Serve refuses it where it does not
// (MaxLineLength, BanTime, the rate limits), as it refuses a PassivePorts
// range whose first port is above its last and an IPv6 PublicAddr.
type Server struct {
	// Addr is the TCP address to listen on, "host:port". If empty, ":2121":
	// every interface, IPv4 and IPv6 (dual-stack).
	Addr string

	// Auth checks logins. If nil, every login fails.
	Auth Authenticator

	// Banner is the text of the 220 greeting. If empty, DefaultBanner, which
	// does not reveal the version.
	Banner string

	// PassivePorts limits the ports of passive data connections (PASV,
	// EPSV). If zero, the kernel picks any free port.
	PassivePorts PortRange

	// PublicAddr, if valid, is the IPv4 address advertised in PASV replies
	// instead of the connection's own address (for a server behind NAT).
	// If zero, a session behind a proxy (ProxyProtocolFrom) advertises the
	// IPv4 address its client connected to, from the PROXY header: the
	// proxy's, which must then forward the passive ports too.
	PublicAddr netip.Addr

	// PublicAddrFor gives the clients of some networks a PASV address of
	// their own, in place of PublicAddr: the rule whose Prefix holds the
	// client's address and is the longest wins (the first listed, among
	// equal ones). The client's address is its real one (see
	// ProxyProtocolFrom), IPv4 clients as IPv4. Each Addr must be IPv4.
	// EPSV, whose reply has no address, is not affected. If empty,
	// PublicAddr is for every client.
	PublicAddrFor []NATRule

	// ProxyProtocolFrom lists the networks of the proxies (HAProxy, a load
	// balancer) that forward connections to the server with a PROXY
	// protocol header, v1 or v2, naming the client. A control or passive
	// data connection from these networks must start with one: the
	// session then knows the client by the header's source address (for
	// bans, limits, logs, hooks, STAT and the data connection checks). A
	// control connection from them without a valid header is closed
	// before the banner and logged; one whose header names no client (v2
	// LOCAL, v1 UNKNOWN: the proxy's health checks), or that closes
	// before sending a byte, is closed quietly. The header must arrive
	// within ConnectTimeout (30 s if that is negative). A control
	// connection from any other network must not send a header: one whose
	// first line is a PROXY header is closed. If empty, no header is read
	// and the connection's own address is the client's.
	ProxyProtocolFrom []netip.Prefix

	// IdleTimeout closes a control connection that sends no command for this
	// long (421). It does not run while a transfer is in progress, and
	// starts again when one ends. If zero, 300 s; negative disables it.
	IdleTimeout time.Duration

	// DataTimeout aborts a transfer during which no data moves for this long
	// (426), measured to within a quarter of it and at most two seconds. If
	// zero, 300 s; negative disables it.
	DataTimeout time.Duration

	// ConnectTimeout bounds the wait for a passive data connection to
	// arrive, and for an active one (PORT, EPRT) to be established (425),
	// and TLS handshakes. If zero, 30 s; negative: data connections are
	// waited for as long as the session lasts (TLS handshakes still get
	// 30 s).
	ConnectTimeout time.Duration

	// MaxConnections is the most control connections at once; the next one
	// gets 421 and is closed before any command is read. If zero, 512;
	// negative means no limit.
	MaxConnections int

	// MaxConnectionsPerIP is the most control connections from one client
	// address, IPv6 addresses counted per /64 (as bans are: one host
	// usually has a whole /64). If zero or negative, no limit.
	MaxConnectionsPerIP int

	// MaxLoginAttempts is the number of failed logins after which the
	// connection is closed. If zero, 3; negative: no limit per connection
	// (bans still apply).
	MaxLoginAttempts int

	// LoginFailDelay is how long a failed PASS waits before its 530 reply,
	// to slow password guessing. If zero, 3 s; negative means no delay.
	LoginFailDelay time.Duration

	// MaxLineLength is the longest command line accepted, in bytes; a longer
	// one gets 500 and is discarded. If zero, 2048; it can't be negative,
	// and Serve refuses less than 64.
	MaxLineLength int

	// BanAfter is the number of failed logins from one address (an IPv6
	// /64), across its connections, within BanTime, after which the address
	// is refused (421 before the banner) for BanTime. If zero, 10;
	// negative disables bans.
	BanAfter int

	// BanTime is how long a ban lasts, and the window in which failures
	// count. If zero, 15 minutes; it can't be negative.
	BanTime time.Duration

	// SlowAfterErrors is the number of commands refused in a row (4xx and
	// 5xx replies; any 2xx or 3xx starts the count again) after which the
	// session runs each next command (but QUIT) only after a delay: 10 ms,
	// doubling with each further refusal up to 1 s. If zero, 50;
	// negative: never.
	SlowAfterErrors int

	// CloseAfterErrors is the number of commands refused in a row after
	// which the session gets "421 Too many errors; closing the
	// connection." and is closed. If zero, 1000; negative: never.
	CloseAfterErrors int

	// PermitForeignAddresses allows data connections to (PORT, EPRT) and
	// from (PASV, EPSV) an address other than the client's: FXP. Off by
	// default, which stops FTP bounce attacks (RFC 2577).
	PermitForeignAddresses bool

	// PermitPrivilegedPorts allows PORT and EPRT to ports below 1024.
	PermitPrivilegedPorts bool

	// UseLocalTime shows local times in listings and MDTM instead of GMT.
	UseLocalTime bool

	// DisableSendfile turns off zero-copy transfers (sendfile, splice).
	// Where zero-copy costs more than it saves, pier copies anyway: no
	// more than a quarter of the user's pipe budget splices uploads (16
	// uploads with Linux's default fs.pipe-user-pages-soft);
	// docs/benchmarks.md has the measurements.
	DisableSendfile bool

	// Encoding is the character set of file names on the wire. If empty,
	// UTF-8 (RFC 2640), and names pass through as raw bytes. Other names
	// are IANA character set names such as "latin1", or Python's spellings
	// such as "latin-1" and "cp1252"; the character set must keep ASCII as
	// it is. Characters it lacks are sent as '?'.
	Encoding string

	// TLSConfig enables FTPS (RFC 4217): AUTH TLS on every listener, and
	// TLS from the first byte on listeners given to ServeTLS. It needs a
	// certificate (Certificates or GetCertificate). TLS 1.2 is the minimum
	// whatever MinVersion says. If nil, AUTH gets 502.
	TLSConfig *tls.Config

	// TLSControlRequired refuses USER and PASS (530) until the control
	// connection is protected.
	TLSControlRequired bool

	// TLSDataRequired refuses data connections (521) unless PROT P is in
	// effect.
	TLSDataRequired bool

	// TLSAllowNoReuse accepts protected data connections that do not resume
	// a TLS session this server gave the same client: the session of their
	// control connection, or of another control connection logged in as
	// the same user from the same address. By default they are refused
	// (522), which stops a third party from taking over a data connection;
	// set it for clients that can't resume sessions (stock Python ftplib;
	// curl with TLS 1.2, which offers no session tickets).
	TLSAllowNoReuse bool

	// TLSClientCerts, if set, asks FTPS clients for a certificate, and
	// checks the one a client sent at each USER (tlsclient.go): one that
	// is not valid gets "530 Client certificate refused: <why>." for every
	// login on that connection; a valid one is ConnInfo.ClientCert, and an
	// Auth that is a CertAuthenticator may log its user in by it. It
	// needs TLSConfig. If nil, no certificate is asked for.
	TLSClientCerts *ClientCertPolicy

	// ReadLimit and WriteLimit cap each session's upload (read from the
	// client) and download (written to it) rates, in bytes per second;
	// User.ReadLimit and User.WriteLimit override them per user. Zero means
	// no limit; they can't be negative. Throttled transfers don't use
	// sendfile.
	ReadLimit, WriteLimit int64

	// TotalReadLimit and TotalWriteLimit cap the whole server's upload and
	// download rates, shared by all sessions. Zero means no limit; they
	// can't be negative.
	TotalReadLimit, TotalWriteLimit int64

	// MaxHashes is the most file hashes (HASH, XCRC, XMD5, XSHA1, XSHA256,
	// XSHA512) computed at once in the whole server; the next gets "450
	// Too many hashes being computed; try again later.", so clients can't
	// make the server read terabytes in parallel. A hash reads the file as
	// a download does, and is throttled as one (WriteLimit,
	// TotalWriteLimit). If zero, 4; negative means no limit.
	MaxHashes int

	// Hosts are the virtual hosts (RFC 7151) that share the server's
	// listeners, by name: "ftp.example.com", matched without regard to
	// case; an internationalised name in its A-label form ("xn--...").
	// Several names may share one *Host. A client chooses one with HOST
	// before USER, or over FTPS by naming it in TLS SNI; one that does
	// neither is on the default host: Auth, Banner and TLSConfig above.
	// An unknown name gets 504. If empty, there are no virtual hosts and
	// HOST takes any name for the default host. Serve refuses a name that
	// is not a host name (an address, a port, a wildcard), a nil Host, and
	// a Host's TLSConfig without the Server's.
	Hosts map[string]*Host

	// BanStore, if set, shares failed logins and bans with other servers
	// (the nodes of a cluster): see BanStore. The server asks it for
	// changes every BanSyncInterval from the first Serve until Shutdown or
	// Close. If nil, bans are this server's own.
	BanStore BanStore

	// Hooks are called on session events: connect, login, transfers...
	Hooks Hooks

	// Middleware wraps every recognised command, in order: the first runs
	// outermost.
	Middleware []Middleware

	// Logger receives the server's logs. If nil, slog.Default(). At debug
	// level every command and reply is logged, with PASS masked.
	Logger *slog.Logger

	mu         sync.Mutex
	listeners  map[net.Listener]struct{}
	sessions   map[*session]struct{}
	perIP      map[netip.Prefix]int // control connections per banKey
	nextID     atomic.Uint64
	inShutdown atomic.Bool
	sessionsWG sync.WaitGroup
	// proxyWaiting are the control connections whose PROXY header is
	// awaited (acceptProxied); guarded by mu.
	proxyWaiting map[net.Conn]struct{}

	cmdMu     sync.Mutex // serialises HandleCommand and friends
	cmdTables atomic.Pointer[commandTables]

	// The limits in force (limits.go): nil until Serve or SetLimits;
	// totalRead and totalWrite are their server-wide rates, nil for none.
	limits                atomic.Pointer[Limits]
	limitsMu              sync.Mutex // serialises SetLimits
	totalRead, totalWrite atomic.Pointer[rate.Limiter]
	auth                  atomic.Pointer[Authenticator] // SetAuth's
	hashes                atomic.Int32                  // hashes being computed (MaxHashes)
	bans                  banTable
	banSyncOnce           sync.Once     // startBanSync
	banSyncStop           chan struct{} // closed by Shutdown and Close; guarded by mu
	logRepeats            logRepeats
	refusalSleep          func(time.Duration) // the tests' sleepRefused
	uploads               uploadLocks
	tlsSessions           tlsSessions // FTPS ticket keys and owners (tlsreuse.go)

	hosts   map[string]*Host // Hosts by lower-case name (initHosts)
	hostIDs map[*Host]string // a name of each host, for loginKey

	// The idle poller (idlepark.go): started at the first park; noPark
	// and parkAfter are the tests' (export_test.go).
	idleOnce   sync.Once
	idle       atomic.Pointer[idlePoller]
	idleBroken atomic.Bool // no poller could start: sessions don't park
	noPark     bool
	parkAfter  time.Duration

	codecOnce sync.Once
	codec     *wireCodec
	codecErr  error
	owners    ownerCache
	totals    serverTotals // Stats
}

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close.
var ErrServerClosed = errors.New("pier: server closed")

// ListenAndServe listens on s.Addr and serves FTP until Shutdown or Close.
func (s *Server) ListenAndServe() error {
	if s.inShutdown.Load() {
		return ErrServerClosed
	}
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := Listen(addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln and serves each in its own goroutine. It
// returns ErrServerClosed after Shutdown or Close, or the accept error that
// stopped it. Serve closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(ln, false)
}

// ServeTLS is Serve for implicit FTPS: every connection on ln speaks TLS
// from its first byte (conventionally on port 990), and data connections
// are protected unless the client sends PROT C. TLSConfig must be set.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.TLSConfig == nil {
		ln.Close()
		return errors.New("pier: ServeTLS needs TLSConfig")
	}
	return s.serve(ln, true)
}

func (s *Server) serve(ln net.Listener, implicitTLS bool) error {
	if err := s.init(); err != nil {
		ln.Close()
		return err
	}
	if !s.trackListener(ln, true) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.trackListener(ln, false)
	defer ln.Close()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: back off, as
				// net/http does, rather than spin.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Warn("accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("pier: accept: %w", err)
		}
		delay = 0
		if len(s.ProxyProtocolFrom) > 0 && s.proxyTrusted(addrPort(conn.RemoteAddr()).Addr()) {
			s.acceptProxied(conn, implicitTLS)
			continue
		}
		s.handleConn(conn, nil, addrPort(conn.RemoteAddr()), implicitTLS, netip.Addr{})
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) init() error {
	s.codecOnce.Do(func() {
		if s.codecErr = s.checkSettings(); s.codecErr != nil {
			return
		}
		if s.codecErr = s.initHosts(); s.codecErr != nil {
			return
		}
		s.codec, s.codecErr = newWireCodec(s.Encoding)
		s.limitsMu.Lock()
		if s.limits.Load() == nil {
			l := s.fieldLimits()
			s.limits.Store(l)
			s.totalRead.Store(newLimiter(l.TotalReadLimit))
			s.totalWrite.Store(newLimiter(l.TotalWriteLimit))
		}
		s.limitsMu.Unlock()
	})
	if s.codecErr == nil && !s.inShutdown.Load() {
		s.startBanSync()
	}
	return s.codecErr
}

func (s *Server) trackListener(ln net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.inShutdown.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[net.Listener]struct{})
		}
		s.listeners[ln] = struct{}{}
	} else {
		delete(s.listeners, ln)
	}
	return true
}

// handleConn applies the connection limits and starts the session of the
// client at remote. r, if not nil, reads conn (it holds what followed a
// PROXY header); via is the address the client connected to, as that
// header names it (the proxy's), if any.
func (s *Server) handleConn(conn net.Conn, r *bufio.Reader, remote netip.AddrPort, implicitTLS bool, via netip.Addr) {
	ip := remote.Addr()
	s.mu.Lock()
	if s.inShutdown.Load() {
		s.mu.Unlock()
		conn.Close()
		return
	}
	var refuse string
	switch why := s.banned(ip, time.Now()); {
	case why != "":
		refuse = "421 " + why + "\r\n"
	case s.maxConnections() > 0 && len(s.sessions) >= s.maxConnections():
		refuse = "421 Too many connections. Service temporarily unavailable.\r\n"
	case s.lim().MaxConnectionsPerIP > 0 && s.perIP[banKey(ip)] >= s.lim().MaxConnectionsPerIP:
		refuse = "421 Too many connections from the same IP address.\r\n"
	}
	if refuse != "" {
		s.mu.Unlock()
		reason := refuse[4 : len(refuse)-2]
		s.logRepeats.warn(s.logger(), "connection refused: "+reason, "connection refused", "remote", remote.String(), "reason", reason)
		// The write is tiny and the socket new: it does not block in
		// practice, but bound it anyway so a hostile client can't hold us.
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		conn.Write([]byte(refuse))
		conn.Close()
		return
	}
	setOOBInline(conn)
	sess := newSession(s, conn, remote, s.nextID.Add(1))
	sess.r = r // nil, or what followed a PROXY header
	sess.implicitTLS = implicitTLS
	sess.via = via
	if s.sessions == nil {
		s.sessions = make(map[*session]struct{})
		s.perIP = make(map[netip.Prefix]int)
	}
	s.sessions[sess] = struct{}{}
	s.perIP[banKey(ip)]++
	s.sessionsWG.Add(1)
	s.mu.Unlock()
	go sess.serve()
}

func (s *Server) removeSession(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	key := banKey(sess.remote.Addr())
	if s.perIP[key] <= 1 {
		delete(s.perIP, key)
	} else {
		s.perIP[key]--
	}
	s.mu.Unlock()
	s.tlsSessions.end(sess.id)
	s.sessionsWG.Done()
}

// ServeContext serves ln until ctx ends, then shuts the server down: it
// calls Shutdown, giving transfers in progress up to grace to finish, and
// Close after that. It returns nil once the server has stopped because ctx
// ended, every session has ended and no hook is running any more (a hook
// that blocks holds it up), or Serve's error if serving fails first. It is the whole life of
// an embedded server in one call:
//
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
//	defer stop()
//	err := srv.ServeContext(ctx, ln, 10*time.Second)
func (s *Server) ServeContext(ctx context.Context, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.Shutdown(shutdownCtx); err != nil {
		s.Close()
		s.sessionsWG.Wait() // Close ends them; their hooks still run
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the server gracefully: it closes the listeners, tells idle
// sessions "421" and closes them, and lets sessions with a transfer in
// progress finish it before they close (meanwhile they answer ABOR, STAT,
// NOOP and QUIT; any other command gets 421). It returns when every session has
// ended, or ctx's error if ctx ends first (then call Close).
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	s.stopPoller() // parked sessions resume, to end
	s.stopBanSync()
	s.closeListeners()
	s.mu.Lock()
	s.closeProxyWaiting()
	for sess := range s.sessions {
		sess.interrupt() // only sets a deadline: never blocks
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.sessionsWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes the listeners and ends every session at once: a running
// transfer is cut (its client gets 426, its file system learns
// ErrServerShutdown), then each session gets 421 and its connection
// closes. It does not wait for the sessions to end: their Disconnect and
// file hooks may still be running when it returns. Call Shutdown after it
// to wait for them.
func (s *Server) Close() error {
	s.inShutdown.Store(true)
	s.stopPoller() // parked sessions resume, to end
	s.stopBanSync()
	s.closeListeners()
	s.mu.Lock()
	s.closeProxyWaiting()
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		go sess.closeForShutdown()
	}
	return nil
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		ln.Close()
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// addrPort converts a net.Addr to a netip.AddrPort with IPv4-mapped IPv6
// addresses unmapped, so that a dual-stack listener compares and prints
// IPv4 clients as IPv4.
func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

package pier

import (
	"bufio"
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/pierftp/pier/internal/listing"
)

// session is one control connection. Its state is owned by the goroutine
// running serve; a transfer goroutine shares only what transfer holds, and
// replies go through writeMu.
type session struct {
	srv    *Server
	id     uint64
	conn   net.Conn // the TCP connection: deadlines and Close
	ctrl   net.Conn // what replies are written to: conn, or TLS over it; guarded by writeMu
	remote netip.AddrPort
	local  netip.AddrPort
	// via is the address the client connected to, from the PROXY
	// header (a load balancer's); invalid without one.
	via    netip.Addr
	r      *bufio.Reader
	log    atomic.Pointer[slog.Logger] // see logger
	ctx    context.Context
	cancel context.CancelCauseFunc // ends ctx with why the session ends

	writeMu sync.Mutex // guards writes to conn

	// Login state.
	userName      string // from USER, waiting for PASS
	user          *User
	loginAttempts int
	clientCert    *x509.Certificate // found valid at the last USER (tlsclient.go)
	// The virtual host (host.go): nil for the default host, and the name
	// that chose it (HOST's argument or the TLS server name), "" if none.
	host       *Host
	hostName   string
	clientName string // CLNT's text

	// Command state.
	cwd        string // virtual absolute path, always clean
	restOffset int64  // set by REST, pending
	restNow    int64  // the offset for the command running now (takeRest)
	renameFrom string // virtual path after RNFR, "" if none
	binary     bool   // TYPE I; sessions start in TYPE A (RFC 959)
	epsvAll    bool
	facts      listing.Facts
	// The small fields sit together: an idle session's size matters
	// (idlepark.go). implicitTLS: the connection began with a TLS
	// handshake. parkedRead and firstLine: see lineDeadline below.
	implicitTLS, parkedRead, firstLine bool
	// hashAlgo is the algorithm OPTS HASH chose, nil for the default
	// (SHA-256); rang is a pending RANG and rangNow the one for the
	// command running now (takeRange), handed over as REST's offset is.
	hashAlgo      *hashAlgorithm
	rang, rangNow *octetRange

	// Data connection set up by PASV/EPSV (pasv) or PORT/EPRT (active), used
	// by the next transfer command.
	pasv   *net.TCPListener
	active netip.AddrPort

	pub *Session // the public view handed to hooks and custom commands

	readLimiter, writeLimiter *rate.Limiter // set at login; nil: no limit

	task *cmdTask // the command running on its own goroutine; reader goroutine only
	// lastTask is the last task started, for closeForShutdown (any
	// goroutine): its reply comes before the 421.
	lastTask atomic.Pointer[cmdTask]

	tls tlsState

	xferMu sync.Mutex // guards xfer
	xfer   *transfer  // the running transfer, nil if none
	// xferEnded is when the last transfer ended (Unix nanoseconds, 0 for
	// none): the idle timeout counts from then (readLine).
	xferEnded atomic.Int64
	quit      atomic.Bool // the session ends after the current command
	// refusals counts the replies refused in a row (countReply).
	refusals atomic.Int64
	// endReply sends the 421 of a shutdown, or of EndSession, once
	// (replyEnd).
	endReply sync.Once

	// Reading state kept while parked (idlepark.go): the deadline of the
	// line being read, and the poller's registration; parkedRead (above)
	// says readLine carries on a parked read, and firstLine that the
	// next line is the first (checked for a PROXY header).
	lineDeadline time.Time
	parking      parked
	// closing is set by closeConn before it wakes the session: a session
	// about to park sees it under the poller's lock, and doesn't.
	closing atomic.Bool

	since  time.Time   // when the connection was accepted
	viewMu sync.Mutex  // guards view
	view   sessionView // what Server.Sessions shows (status.go)
}

func newSession(srv *Server, conn net.Conn, remote netip.AddrPort, id uint64) *session {
	s := &session{
		srv:    srv,
		id:     id,
		conn:   conn,
		ctrl:   conn,
		remote: remote,
		local:  addrPort(conn.LocalAddr()),
		cwd:    "/",
		facts:  listing.AllFacts,
		since:  time.Now(),
	}
	s.pub = &Session{s: s}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	return s // its logger is made at its first use (logger)
}

// logger returns the session's logger: with the user once logged in. It
// is read by the reader and by tasks, hence the atomic pointer. A parked
// session drops it (idlepark.go), and it is made again from the session's
// view when next needed.
func (s *session) logger() *slog.Logger {
	if l := s.log.Load(); l != nil {
		return l
	}
	s.viewMu.Lock()
	host, user := s.view.host, s.view.user
	s.viewMu.Unlock()
	l := s.srv.logger().With("session", s.id, "remote", s.remote.String())
	if host != "" {
		l = l.With("host", host)
	}
	if user != "" {
		l = l.With("user", user)
	}
	s.log.Store(l)
	return l
}

func (s *session) connInfo() ConnInfo {
	return ConnInfo{ID: s.id, RemoteAddr: s.remote, LocalAddr: s.local, ClientCert: s.clientCert}
}

// serve runs the session until the client quits or the connection ends,
// or until it parks (idlepark.go): resume carries on from there.
func (s *session) serve() { s.run(true) }

// resume carries a parked session on, on a new goroutine.
func (s *session) resume() { s.run(false) }

// run greets the client if greet is set, then reads and runs commands.
// The session ends when it returns, unless it parked.
func (s *session) run(greet bool) {
	handedOn := false // parked, or resumed on another goroutine
	defer func() {
		if !handedOn {
			s.srv.removeSession(s)
		}
	}()
	defer func() {
		if v := recover(); v != nil {
			s.logger().Error("panic in session; closing it", "panic", v, "stack", string(debug.Stack()))
		}
		if !handedOn {
			s.end(ErrSessionClosed)
		}
	}()
	if greet {
		if !s.greet() {
			return
		}
		// Logging the greeting grew this goroutine's stack to 8 KiB, which
		// a blocked reader would keep: the commands are read on a new
		// goroutine, whose stack starts small.
		handedOn = true
		go s.resume()
		return
	}
	handedOn = s.commands()
}

// greet opens the session: the implicit TLS handshake, the Connect hook,
// the banner. It returns false if the session ends there.
func (s *session) greet() bool {
	s.logger().Info("FTP session opened", "local", s.local.String())
	s.r = newControlReader(s.r, s.conn) // a reader given holds what followed a PROXY header
	if s.implicitTLS {
		if err := s.startControlTLS(); err != nil {
			s.logger().Info("implicit TLS handshake failed", "err", err)
			return false
		}
		s.tls.pbsz, s.tls.prot = true, 'P'
	}
	if h := s.srv.Hooks.Connect; h != nil {
		if err := h(s.pub); err != nil {
			s.logger().Info("connection refused by the Connect hook", "err", err)
			code, text := 421, "Service not available."
			var r *Refusal
			if errors.As(err, &r) {
				code, text = cmp.Or(r.Code, 421), r.Text
			}
			s.reply(code, text)
			return false
		}
	}
	s.reply(220, s.banner())
	s.firstLine = len(s.srv.ProxyProtocolFrom) > 0 // check the first line for a PROXY header
	return true
}

// commands reads and runs commands until the session ends (false) or
// parks (true: the session is no longer this goroutine's).
func (s *session) commands() bool {
	for !s.quit.Load() {
		line, err := s.readLine()
		if err != nil {
			if errors.Is(err, errParked) {
				if s.park(s.lineDeadline) {
					return true
				}
				continue
			}
			if errors.Is(err, errLineTooLong) {
				s.logger().Warn("command too long")
				s.waitIdle() // its reply first, as for any command
				if !s.tooManyRefusals() {
					s.reply(500, "Command too long.")
				}
				continue
			}
			return false
		}
		if s.firstLine && s.isProxyHeader(line) {
			// Only the proxies of ProxyProtocolFrom may say who the
			// client is (and their headers were read before the banner).
			s.srv.logRepeats.warn(s.logger(), "proxy-untrusted", "PROXY header from an untrusted address refused")
			s.reply(421, "PROXY header not accepted from this address.")
			return false
		}
		s.firstLine = false
		s.dispatch(line)
	}
	return false
}

var errLineTooLong = errors.New("command line too long")

// readLine reads one command line, bounded by MaxLineLength. The idle
// timeout applies to the whole line, so a client that trickles a line byte
// by byte can't hold the session; it does not run while a transfer does. A
// line ends with LF; a CR before it is dropped (pyftpdlib accepts only
// CRLF; a bare LF is what hand-typed netcat sessions send).
func (s *session) readLine() (string, error) {
	maxLen := s.srv.MaxLineLength
	if maxLen <= 0 {
		maxLen = DefaultMaxLineLength
	}
	idle := durationOr(s.srv.lim().IdleTimeout, DefaultIdleTimeout)
	deadline := s.lineDeadline // a parked session's, carried on
	if !s.parkedRead {
		deadline = time.Time{}
		if idle > 0 {
			deadline = time.Now().Add(idle)
		}
	}
	s.parkedRead = false
	s.r = newControlReader(s.r, s.conn)
	parkDelay := s.parkDelay()
	var buf []byte
	tooLong := false
	for {
		// Before the line's deadline, a read may stop early to park the
		// session (idlepark.go) if nothing of the line has come.
		readDeadline, parkWait := deadline, false
		if parkDelay > 0 && len(buf) == 0 && !tooLong {
			if p := time.Now().Add(parkDelay); deadline.IsZero() || p.Before(deadline) {
				readDeadline, parkWait = p, true
			}
		}
		s.conn.SetReadDeadline(readDeadline)
		// During a graceful shutdown a session goes on reading while its
		// transfer runs, so that ABOR, STAT and NOOP still work; the
		// transfer's end wakes it (runTransfer), and it closes.
		if s.srv.inShutdown.Load() && !s.busy() {
			s.shutdownSession()
			return "", net.ErrClosed
		}
		if s.quit.Load() && !s.busy() {
			// A command that ran as a task ended the session.
			return "", net.ErrClosed
		}
		frag, err := s.r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(frag) > maxLen+2 {
				tooLong = true
				buf = nil
			} else {
				buf = append(buf, frag...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return "", errLineTooLong
			}
			line := buf[:len(buf)-1]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			if len(line) > maxLen {
				return "", errLineTooLong
			}
			return string(line), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case isTimeout(err):
			if s.busy() {
				// The idle timer is suspended during transfers. Without
				// one (idle <= 0) there is no deadline: one in the past
				// would spin here until the transfer ends (as after a
				// shutdown's wake-up).
				deadline = time.Time{}
				if idle > 0 {
					deadline = time.Now().Add(idle)
				}
				continue
			}
			if s.srv.inShutdown.Load() {
				s.shutdownSession()
				return "", err
			}
			if s.quit.Load() {
				return "", net.ErrClosed
			}
			// It starts again when a transfer ends: a client waits for
			// the 226 before it sends its next command.
			if ended := s.xferEnded.Load(); ended != 0 && idle > 0 {
				if d := time.Unix(0, ended).Add(idle); d.After(deadline) {
					deadline = d
				}
			}
			now := time.Now()
			if deadline.IsZero() || now.Before(deadline) {
				if parkWait && len(buf) == 0 && !tooLong && s.canPark() {
					s.lineDeadline, s.parkedRead = deadline, true
					return "", errParked
				}
				continue // a transfer ended meanwhile, or parking waits
			}
			s.logger().Info("control connection timed out")
			s.reply(421, "Control connection timed out.")
			return "", err
		}
		return "", err
	}
}

// shutdownSession ends the session during a graceful Shutdown: a running
// command or transfer finishes first.
func (s *session) shutdownSession() {
	s.waitIdle()
	s.replyShutdown()
}

// replyShutdown sends the shutdown's 421, once: the reader and Close may
// both get there, and the one that comes second returns only once the
// reply is out (Close then closes the connection).
func (s *session) replyShutdown() { s.replyEnd("Server shutting down.") }

// replyEnd sends the 421 that ends the session, once.
func (s *session) replyEnd(text string) {
	s.endReply.Do(func() { s.reply(421, text) })
}

// cancelSession ends the session's context with cause, and the context of
// the command running as a task, which is not its child (startTask).
func (s *session) cancelSession(cause error) {
	s.cancel(cause)
	if t := s.lastTask.Load(); t != nil {
		t.cancel(cause)
	}
	// A transfer that took over its command's context outlives the task.
	if t := s.currentTransfer(); t != nil {
		t.cancel(cause)
	}
}

// interrupt wakes the reader so that it notices the shutdown.
// A parked session is resumed first.
func (s *session) interrupt() {
	s.wake()
	s.conn.SetReadDeadline(time.Now())
}

// closeConn closes the control connection; a parked session is resumed
// first, so that its reader ends it.
func (s *session) closeConn() {
	s.closing.Store(true)
	s.wake()
	s.conn.Close()
}

// kill ends the session at once, for cause (ErrSessionClosed,
// ErrServerShutdown). It does not wait for a running transfer to wind down
// (the session's own goroutine does), so it is safe to call from anywhere,
// a file hook on the transfer goroutine included.
func (s *session) kill(cause error) {
	// The transfer first: a back-end call that the session's context
	// ends must find the transfer's cause set, or its error would be
	// taken for the file's (451 instead of 426).
	if t := s.currentTransfer(); t != nil {
		t.abort(cause)
	}
	s.cancelSession(cause)
	s.closeConn()
}

// closeForShutdown ends the session for Server.Close: a running transfer
// is cut, and replies 426 (the client must not take a cut download for a
// whole one), a running command is cancelled and replies for itself, then
// the session gets 421 and its connection closes. It may block for a
// moment: Close runs it on a goroutine per session.
func (s *session) closeForShutdown() {
	s.closeWith(ErrServerShutdown, "Server shutting down.")
}

// closeWith ends the session as closeForShutdown does, for cause, with a
// 421 of that text.
func (s *session) closeWith(cause error, text string) {
	// The transfer's cause is set before the session's context ends (as
	// in kill), then the transfer is waited for.
	t := s.currentTransfer()
	aborted := t != nil && t.abort(cause)
	s.cancelSession(cause)
	// One grace for it all: a back-end that ignores its context, or a
	// client that does not read, holds Close no longer.
	grace, cancel := context.WithTimeout(context.Background(), taskGrace)
	defer cancel()
	if aborted {
		select {
		case <-t.done:
		case <-grace.Done():
		}
	}
	// A running command, cancelled with the session, replies first too.
	if t := s.lastTask.Load(); t != nil {
		select {
		case <-t.done:
		case <-grace.Done():
		}
	}
	// The reader may be sending the 421 (replyShutdown): it must be out
	// before the connection closes.
	sent := make(chan struct{})
	go func() {
		s.replyEnd(text)
		close(sent)
	}()
	select {
	case <-sent:
	case <-grace.Done():
	}
	s.closeConn()
}

// end runs when the session's reading goroutine stops: the running command
// and transfer are cancelled (with ErrSessionClosed, or the cause the
// session was ended with), the login ends (Logout hook, User.Release), and
// the Disconnect hook runs.
func (s *session) end(cause error) {
	if c := context.Cause(s.ctx); c != nil {
		cause = c // ended already (kill, Close): that cause stands
	}
	// The transfer's cause first, as in kill: an upload whose read the
	// session's context ends must find it set, or it would end with the
	// context's error instead of ErrSessionClosed.
	if t := s.currentTransfer(); t != nil {
		t.abort(cause)
	}
	s.cancelSession(cause)
	var task *cmdTask
	if !s.cancelTask(cause) {
		task = s.task
	}
	xfer := s.abortTransfer(cause)
	s.conn.Close()
	finish := func() {
		s.closeDataSetup()
		// The logger is taken while it still names the user: endLogin
		// forgets the user, and a parked session has no logger cached.
		log := s.logger()
		s.endLogin(false)
		log.Info("FTP session closed")
		if h := s.srv.Hooks.Disconnect; h != nil {
			defer func() {
				if v := recover(); v != nil {
					s.logger().Error("panic in the Disconnect hook", "panic", v)
				}
			}()
			h(s.pub)
		}
	}
	if task == nil && xfer == nil {
		finish()
		return
	}
	// A back-end call (or a transfer's file) that ignores its context
	// still uses the session and the login's resources: the rest of the
	// ending (data set-up, Logout, Release, Disconnect, in that order)
	// waits for it, on a goroutine of its own. Its replies go nowhere:
	// the connection is closed.
	s.logger().Warn("session closed while its file system or authenticator still runs; its login ends when that returns")
	go func() {
		if task != nil {
			<-task.done
		}
		if xfer != nil {
			<-xfer.done
		}
		finish()
	}()
}

func (s *session) timeLocation() *time.Location {
	if s.srv.UseLocalTime {
		return time.Local
	}
	return time.UTC
}

// statusLines is the body of STAT without an argument (RFC 959 §4.1.3):
// the session's state, also during a transfer. It shows the client's
// address, never a host name.
func (s *session) statusLines() []string {
	lines := []string{"Connected to: " + s.remote.String()}
	switch {
	case s.user != nil:
		lines = append(lines, "Logged in as: "+s.user.Name)
	case s.userName != "":
		lines = append(lines, "Waiting for password.")
	default:
		lines = append(lines, "Waiting for username.")
	}
	typ := "ASCII"
	if s.binary {
		typ = "Binary"
	}
	lines = append(lines, "TYPE: "+typ+"; STRUcture: File; MODE: Stream")
	switch t := s.runningTransfer(); {
	case t != nil:
		lines = append(lines,
			"Data connection open: "+t.cmd+" "+t.path,
			fmt.Sprintf("Total bytes transferred: %d", t.bytes.Load()),
			fmt.Sprintf("Transfer elapsed time: %.3f secs", time.Since(t.start).Seconds()))
	case s.pasv != nil:
		lines = append(lines, "Passive data channel waiting for connection.")
	case s.active.IsValid():
		lines = append(lines, "Active data channel set to "+s.active.String()+".")
	default:
		lines = append(lines, "Data connection closed.")
	}
	return lines
}

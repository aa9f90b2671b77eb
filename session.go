package pier

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
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
	r      *bufio.Reader
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	writeMu sync.Mutex // guards writes to conn

	// Login state.
	userName      string // from USER, waiting for PASS
	user          *User
	loginAttempts int

	// Command state.
	cwd        string // virtual absolute path, always clean
	binary     bool   // TYPE I; sessions start in TYPE A (RFC 959)
	restOffset int64  // set by REST, pending
	restNow    int64  // the offset for the command running now (takeRest)
	renameFrom string // virtual path after RNFR, "" if none
	epsvAll    bool
	facts      listing.Facts

	// Data connection set up by PASV/EPSV (pasv) or PORT/EPRT (active), used
	// by the next transfer command.
	pasv   *net.TCPListener
	active netip.AddrPort

	pub *Session // the public view handed to hooks and custom commands

	readLimiter, writeLimiter *rate.Limiter // set at login; nil: no limit
	curPerm                   byte          // permission letter of the running command

	tls         tlsState
	implicitTLS bool

	xferMu sync.Mutex // guards xfer
	xfer   *transfer  // the running transfer, nil if none
	// xferEnded is when the last transfer ended (Unix nanoseconds, 0 for
	// none): the idle timeout counts from then (readLine).
	xferEnded atomic.Int64
	quit      bool
}

func newSession(srv *Server, conn net.Conn, id uint64) *session {
	s := &session{
		srv:    srv,
		id:     id,
		conn:   conn,
		ctrl:   conn,
		remote: addrPort(conn.RemoteAddr()),
		local:  addrPort(conn.LocalAddr()),
		cwd:    "/",
		facts:  listing.AllFacts,
	}
	s.pub = &Session{s: s}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.log = srv.logger().With("session", id, "remote", s.remote.String())
	return s
}

func (s *session) connInfo() ConnInfo {
	return ConnInfo{ID: s.id, RemoteAddr: s.remote, LocalAddr: s.local}
}

// serve runs the session until the client quits or the connection ends.
func (s *session) serve() {
	defer s.srv.removeSession(s)
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic in session; closing it", "panic", v, "stack", string(debug.Stack()))
		}
		s.cancel()
		s.abortTransfer()
		s.closeDataSetup()
		s.conn.Close()
		s.log.Info("FTP session closed")
		if h := s.srv.Hooks.Disconnect; h != nil {
			// This runs after the recover above: a panic in the hook
			// must not take the whole server down.
			defer func() {
				if v := recover(); v != nil {
					s.log.Error("panic in the Disconnect hook", "panic", v)
				}
			}()
			h(s.pub)
		}
	}()
	s.log.Info("FTP session opened", "local", s.local.String())
	s.r = bufio.NewReaderSize(s.conn, 1024)
	if s.implicitTLS {
		if err := s.startControlTLS(); err != nil {
			s.log.Info("implicit TLS handshake failed", "err", err)
			return
		}
		s.tls.pbsz, s.tls.prot = true, 'P'
	}
	if h := s.srv.Hooks.Connect; h != nil {
		if err := h(s.pub); err != nil {
			s.log.Info("connection refused by the Connect hook", "err", err)
			code, text := 421, "Service not available."
			var r *Refusal
			if errors.As(err, &r) {
				code, text = cmp.Or(r.Code, 421), r.Text
			}
			s.reply(code, text)
			return
		}
	}
	s.reply(220, cmp.Or(s.srv.Banner, DefaultBanner))
	for !s.quit {
		line, err := s.readLine()
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				s.log.Warn("command too long")
				s.waitTransfer() // its reply first, as for any command
				s.reply(500, "Command too long.")
				continue
			}
			return
		}
		s.dispatch(line)
	}
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
	idle := durationOr(s.srv.IdleTimeout, DefaultIdleTimeout)
	var deadline time.Time
	if idle > 0 {
		deadline = time.Now().Add(idle)
	}
	var buf []byte
	tooLong := false
	for {
		s.conn.SetReadDeadline(deadline)
		// During a graceful shutdown a session goes on reading while its
		// transfer runs, so that ABOR, STAT and NOOP still work; the
		// transfer's end wakes it (runTransfer), and it closes.
		if s.srv.inShutdown.Load() && !s.transferRunning() {
			s.shutdownSession()
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
			if s.transferRunning() {
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
			// It starts again when a transfer ends: a client waits for
			// the 226 before it sends its next command.
			if ended := s.xferEnded.Load(); ended != 0 && idle > 0 {
				if d := time.Unix(0, ended).Add(idle); time.Now().Before(d) {
					deadline = d
					continue
				}
			}
			s.log.Info("control connection timed out")
			s.reply(421, "Control connection timed out.")
			return "", err
		}
		return "", err
	}
}

// shutdownSession ends the session during a graceful Shutdown: a running
// transfer finishes first.
func (s *session) shutdownSession() {
	s.waitTransfer()
	s.reply(421, "Server shutting down.")
}

// interrupt wakes the reader so that it notices the shutdown.
func (s *session) interrupt() { s.conn.SetReadDeadline(time.Now()) }

// kill ends the session at once. It does not wait for a running transfer
// to wind down (the session's own goroutine does), so it is safe to call
// from anywhere, a file hook on the transfer goroutine included.
func (s *session) kill() {
	s.cancel()
	if t := s.currentTransfer(); t != nil {
		t.abort()
	}
	s.conn.Close()
}

// reply sends a single-line reply. CR and LF inside text are replaced, so a
// file name can never inject a reply line.
func (s *session) reply(code int, text string) {
	b := make([]byte, 0, 8+len(text))
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = appendSafe(b, s.srv.codec.encode(text))
	b = append(b, '\r', '\n')
	s.write(b)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("->", "reply", string(b[:len(b)-2]))
	} else if code >= 400 && s.log.Enabled(context.Background(), LevelVerbose) {
		s.log.Log(context.Background(), LevelVerbose, "refused", "reply", string(b[:len(b)-2]))
	}
}

// replyLines sends a multi-line reply (RFC 959 §4.2): "code-first",
// the lines as given, then "code last".
func (s *session) replyLines(code int, first string, lines []string, last string) {
	var b []byte
	c := strconv.Itoa(code)
	b = append(b, c...)
	b = append(b, '-')
	b = appendSafe(b, s.srv.codec.encode(first))
	b = append(b, '\r', '\n')
	for _, l := range lines {
		b = appendSafe(b, s.srv.codec.encode(l))
		b = append(b, '\r', '\n')
	}
	b = append(b, c...)
	b = append(b, ' ')
	b = appendSafe(b, s.srv.codec.encode(last))
	b = append(b, '\r', '\n')
	s.write(b)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("->", "reply", c+" "+last, "lines", len(lines)+2)
	}
}

// replyErr sends the reply for an error from the file system.
func (s *session) replyErr(err error) {
	code, text := errorReply(err)
	if code == 550 && text == replyGenericFailure {
		s.log.Warn("file system error", "err", err)
	}
	s.reply(code, text)
}

func (s *session) write(b []byte) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// A client that stops reading must not block the session forever.
	s.conn.SetWriteDeadline(s.writeDeadline())
	if _, err := s.ctrl.Write(b); err != nil {
		s.conn.Close()
	}
}

// writeDeadline bounds a write on the control connection: the data
// timeout, or five minutes when that is disabled.
func (s *session) writeDeadline() time.Time {
	d := durationOr(s.srv.DataTimeout, DefaultDataTimeout)
	if d <= 0 {
		d = 5 * time.Minute
	}
	return time.Now().Add(d)
}

// appendSafe appends text with CR and LF replaced by '?'.
func appendSafe(b []byte, text string) []byte {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\r' || c == '\n' {
			c = '?'
		}
		b = append(b, c)
	}
	return b
}

// quote returns name for a 257 reply: RFC 959 Appendix II doubles quotes.
func quote(name string) string { return strings.ReplaceAll(name, `"`, `""`) }

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
	s.xferMu.Lock()
	t := s.xfer
	s.xferMu.Unlock()
	switch {
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

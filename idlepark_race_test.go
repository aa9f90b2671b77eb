//go:build linux

package pier_test

// Tests from a review of idle-session parking (idlepark.go): races between
// parking and the session's end, a line read across a park, the task
// context's cancellation, and what must stay the same across a park.

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/mem"
	"github.com/pierftp/pier/ftptest"
)

// TestIdleParkOverlongLineSplit: a line longer than MaxLineLength is
// read to its end and refused as a whole ("500 Command too long"). readLine
// drops what it buffered of such a line (buf = nil), so a client that
// pauses in the middle of it looks as if it had read nothing of its next
// line: the session parks, and resumes with a fresh line, whose tail is
// then run as a command of its own.
func TestIdleParkOverlongLineSplit(t *testing.T) {
	srv := parkingServer(t, nil)
	c := login(t, srv)
	defer c.Close()
	waitParked(t, srv, 1)
	head := "SITE " + strings.Repeat("A", 4*pier.DefaultMaxLineLength)
	if _, err := c.Conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // ten park delays, mid-line
	parkedMidLine := pier.ParkedSessions(srv.Server)
	if _, err := c.Conn.Write([]byte("MKD smuggled\r\n")); err != nil {
		t.Fatal(err)
	}
	code, text, err := c.ReadReply()
	if err != nil {
		t.Fatal(err)
	}
	if code != 500 {
		t.Errorf("over-long line split by a pause: reply %d %q, want 500 (too long); sessions parked mid-line: %d",
			code, text, parkedMidLine)
	}
	if _, err := os.Stat(srv.Dir + "/smuggled"); err == nil {
		t.Errorf("the tail of an over-long line ran as a command (MKD smuggled)")
	}
	c.Expect(t, "NOOP", 200)
}

// slowCloseListener hands out connections whose Close waits a moment
// before closing: the scheduler can stop a goroutine between any two
// statements, and this holds closeConn between its wake() and its
// conn.Close() long enough for the session to park in between. The
// connection is still a syscall.Conn, so sessions park as on a bare
// *net.TCPConn.
type slowCloseListener struct {
	net.Listener
	delay time.Duration
}

func (l slowCloseListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &slowCloseConn{TCPConn: c.(*net.TCPConn), delay: l.delay}, nil
}

type slowCloseConn struct {
	*net.TCPConn
	delay time.Duration
	once  sync.Once
}

func (c *slowCloseConn) Close() error {
	c.once.Do(func() { time.Sleep(c.delay) })
	return c.TCPConn.Close()
}

// idleRaceServer serves srv on ln (not ftptest's listener) with the test
// account, and shuts it down when the test ends.
func idleRaceServer(t *testing.T, ln net.Listener, configure func(*pier.Server)) *pier.Server {
	t.Helper()
	users := &auth.Virtual{}
	if err := users.AddUser(ftptest.User, auth.Account{Password: ftptest.Password, FS: mem.New(), Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	srv := &pier.Server{Auth: users, LoginFailDelay: -1, Logger: slog.New(slog.DiscardHandler)}
	if configure != nil {
		configure(srv)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
			srv.Close()
		}
		<-done
	})
	return srv
}

// TestIdleEndSessionWhileParking: EndSession (closeWith -> closeConn:
// wake, then conn.Close) of a session that parks between the two. wake
// finds nothing parked; the session then registers its descriptor; Close
// closes it, which takes it out of the epoll set without an event. The
// session is never resumed: it stays in Sessions, holds its MaxConnections
// slot, and its Disconnect hook does not run, until the idle timeout (never,
// here) or the server's shutdown.
func TestIdleEndSessionWhileParking(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	var disconnected atomic.Int32
	srv := idleRaceServer(t, slowCloseListener{ln, 300 * time.Millisecond}, func(s *pier.Server) {
		pier.SetParkAfter(s, 50*time.Millisecond)
		s.IdleTimeout = -1
		s.Hooks.Disconnect = func(*pier.Session) { disconnected.Add(1) }
	})
	c := ftptest.Dial(t, ln.Addr().String())
	defer c.Close()
	sessions := srv.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(sessions))
	}
	if pier.ParkedSessions(srv) != 0 {
		t.Skip("parked already; the interleaving needs a session not yet parked")
	}
	srv.EndSession(sessions[0].ID)
	code, text, err := c.ReadReply()
	if err != nil || code != 421 {
		t.Fatalf("EndSession: %d %q %v, want 421", code, text, err)
	}
	// The client sees the close; the server should forget the session.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && (len(srv.Sessions()) != 0 || disconnected.Load() != 1) {
		time.Sleep(20 * time.Millisecond)
	}
	if n, d := len(srv.Sessions()), disconnected.Load(); n != 0 || d != 1 {
		t.Errorf("3 s after EndSession: %d sessions listed (%d parked), Disconnect ran %d times; want 0 and 1",
			n, pier.ParkedSessions(srv), d)
	}
}

// TestIdleSessionCloseWhileParking: the same race through
// Session.Close (kill), which an embedder calls from any goroutine (say,
// to kick a user from an admin page).
func TestIdleSessionCloseWhileParking(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	var disconnected atomic.Int32
	sessCh := make(chan *pier.Session, 1)
	srv := idleRaceServer(t, slowCloseListener{ln, 300 * time.Millisecond}, func(s *pier.Server) {
		pier.SetParkAfter(s, 50*time.Millisecond)
		s.IdleTimeout = -1
		s.Hooks.Connect = func(s *pier.Session) error { sessCh <- s; return nil }
		s.Hooks.Disconnect = func(*pier.Session) { disconnected.Add(1) }
	})
	c := ftptest.Dial(t, ln.Addr().String())
	defer c.Close()
	sess := <-sessCh
	if pier.ParkedSessions(srv) != 0 {
		t.Skip("parked already")
	}
	sess.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after Session.Close")
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && (len(srv.Sessions()) != 0 || disconnected.Load() != 1) {
		time.Sleep(20 * time.Millisecond)
	}
	if n, d := len(srv.Sessions()), disconnected.Load(); n != 0 || d != 1 {
		t.Errorf("3 s after Session.Close: %d sessions listed (%d parked), Disconnect ran %d times; want 0 and 1",
			n, pier.ParkedSessions(srv), d)
	}
}

// TestIdleStaleRegistrationSilencesOtherSession: the worst of the race
// above. The lost session's poller entry outlives its descriptor; a new
// connection gets the same descriptor number and parks on it; when the
// lost session's idle timer fires, release() runs EPOLL_CTL_DEL on that
// number and takes the new session out of the epoll set. The new client's
// command then wakes nothing, and at its own idle deadline the session
// answers "421 timed out" although the command had been waiting.
func TestIdleStaleRegistrationSilencesOtherSession(t *testing.T) {
	inner, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	gate := make(chan struct{}, 1)
	gate <- struct{}{} // the first connection is accepted at once
	ln := &gatedListener{slowCloseListener: slowCloseListener{inner, 300 * time.Millisecond}, gate: gate}
	srv := idleRaceServer(t, ln, func(s *pier.Server) {
		pier.SetParkAfter(s, 50*time.Millisecond)
		s.IdleTimeout = 2 * time.Second
	})
	a := ftptest.Dial(t, inner.Addr().String())
	defer a.Close()
	t0 := time.Now() // about when a's last read began: its idle deadline is t0+2s
	aFD := ln.lastFD()
	if pier.ParkedSessions(srv) != 0 {
		t.Skip("parked already")
	}
	srv.EndSession(srv.Sessions()[0].ID)
	a.ExpectReply(t, 421)
	// b's client socket is made now, while a's server descriptor is still
	// open (the slow Close); the server accepts b once it is closed, and
	// the accept takes the lowest free number: a's.
	b := (&ftptest.Server{Addr: inner.Addr().String()}).DialRaw(t)
	defer b.Close()
	time.Sleep(500 * time.Millisecond)
	gate <- struct{}{}
	b.ExpectReply(t, 220)
	if got := ln.lastFD(); got != aFD {
		t.Skipf("descriptor not reused (%d, then %d)", aFD, got)
	}
	// b parks (and, with the bug, a stays parked on its closed descriptor).
	time.Sleep(200 * time.Millisecond)
	time.Sleep(time.Until(t0.Add(1600 * time.Millisecond)))
	b.Expect(t, "NOOP", 200)                                // b's idle deadline moves to about t0+3.6s
	time.Sleep(200 * time.Millisecond)                      // b parks again
	time.Sleep(time.Until(t0.Add(2400 * time.Millisecond))) // a's idle timer has fired
	if code, text := b.Cmd(t, "NOOP"); code != 200 {
		t.Errorf("NOOP on the session that reused the descriptor: %d %q, want 200", code, text)
	}
}

// gatedListener accepts one connection per token on gate, and records
// the descriptor of the last one.
type gatedListener struct {
	slowCloseListener
	gate   chan struct{}
	closed sync.Once
	mu     sync.Mutex
	fd     int
}

func (l *gatedListener) Accept() (net.Conn, error) {
	<-l.gate
	c, err := l.slowCloseListener.Accept()
	if err != nil {
		return nil, err
	}
	rc, _ := c.(*slowCloseConn).SyscallConn()
	rc.Control(func(fd uintptr) {
		l.mu.Lock()
		l.fd = int(fd)
		l.mu.Unlock()
	})
	return c, nil
}

func (l *gatedListener) Close() error {
	l.closed.Do(func() { close(l.gate) })
	return l.slowCloseListener.Close()
}

func (l *gatedListener) lastFD() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fd
}

// TestIdleEndSessionParkRaceStress: the race of
// TestIdleEndSessionWhileParking on plain TCP, no wrapper: many sessions
// ended by EndSession just as they park. Every one must be gone soon after.
func TestIdleEndSessionParkRaceStress(t *testing.T) {
	if testing.Short() {
		t.Skip("stress")
	}
	var disconnected atomic.Int32
	srv := newServer(t, func(s *pier.Server) {
		pier.SetParkAfter(s, time.Millisecond)
		s.IdleTimeout = -1
		s.Logger = slog.New(slog.DiscardHandler)
		s.Hooks.Disconnect = func(*pier.Session) { disconnected.Add(1) }
	})
	const n = 2000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	for i := range n {
		sem <- struct{}{}
		c := srv.DialRaw(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer c.Close()
			if code, _, err := c.ReadReply(); err != nil || code != 220 {
				t.Errorf("greeting: %d %v", code, err)
				return
			}
			time.Sleep(time.Duration(i%25) * 50 * time.Microsecond) // around the 1 ms park
			for _, st := range srv.Sessions() {
				if st.RemoteAddr.String() == c.LocalAddr().String() {
					srv.EndSession(st.ID)
				}
			}
			io.Copy(io.Discard, c) // until the server closes
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && disconnected.Load() != n {
		time.Sleep(20 * time.Millisecond)
	}
	if d := disconnected.Load(); d != n {
		t.Errorf("%d of %d sessions ended by EndSession are still there (%d parked)", n-int(d), n, pier.ParkedSessions(srv.Server))
	}
}

// ctxFS is a file system whose uploads commit in Close with the context
// they were opened with (an object store's upload), and report when the
// commit starts and how it ended.
type ctxFS struct {
	pier.FileSystem
	closing chan struct{}
	ended   chan error
}

func (f *ctxFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	file, err := f.FileSystem.OpenFile(ctx, name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return file, err
	}
	return &ctxFile{File: file, ctx: ctx, fs: f}, nil
}

type ctxFile struct {
	pier.File
	ctx context.Context
	fs  *ctxFS
}

func (f *ctxFile) Close() error {
	f.File.Close()
	close(f.fs.closing)
	select {
	case <-f.ctx.Done():
		f.fs.ended <- context.Cause(f.ctx)
		return context.Cause(f.ctx)
	case <-time.After(8 * time.Second):
		f.fs.ended <- nil
		return nil
	}
}

// TestIdleEndSessionCancelsCommittingUpload: EndSession while an upload
// commits (its data all in, File.Close running with the transfer's
// context). The transfer's context is its STOR task's, which is no longer
// a child of the session's (startTask); the task has returned, so
// cancelSession no longer sees it (lastTask was cleared), and abort()
// skips a transfer marked finished; end() cancels s.task, but the reader
// has forgotten the task once a park-delay tick saw it done (any transfer
// longer than parkAfter, 1 s). Before the change the session's end
// cancelled the commit at once (ErrSessionEnded); now nothing does, and
// the back-end runs on after the session is gone.
func TestIdleEndSessionCancelsCommittingUpload(t *testing.T) {
	for _, how := range []string{"EndSession", "Close", "SessionClose"} {
		t.Run(how, func(t *testing.T) {
			cfs := &ctxFS{FileSystem: mem.New(), closing: make(chan struct{}), ended: make(chan error, 1)}
			sessCh := make(chan *pier.Session, 1)
			srv := parkingServer(t, func(s *pier.Server) {
				if err := s.Auth.(*auth.Virtual).AddUser("c", auth.Account{Password: "p", FS: cfs, Perm: pier.AllPerms}); err != nil {
					t.Fatal(err)
				}
				s.Hooks.Login = func(s *pier.Session) { sessCh <- s }
			})
			c := srv.Dial(t)
			defer c.Close()
			c.Login(t, "c", "p")
			sess := <-sessCh
			dc := c.Passive(t)
			c.Send(t, "STOR f")
			c.ExpectReply(t, 150)
			dc.Write([]byte("data"))
			// The reader's park-delay ticks during the transfer see the
			// STOR task done and forget it (taskRunning: s.task = nil).
			time.Sleep(200 * time.Millisecond)
			dc.Close()
			select {
			case <-cfs.closing:
			case <-time.After(5 * time.Second):
				t.Fatal("the upload never committed")
			}
			start := time.Now()
			switch how {
			case "EndSession":
				srv.EndSession(sess.ID())
			case "Close":
				srv.Server.Close()
			case "SessionClose":
				sess.Close()
			}
			select {
			case cause := <-cfs.ended:
				if cause == nil {
					t.Errorf("%s: the committing upload's context was never cancelled (Close ran %v on its own)", how, time.Since(start).Round(time.Millisecond))
				} else if d := time.Since(start); d > time.Second {
					t.Errorf("%s: the upload's context ended %v later (%v)", how, d, cause)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Close never returned")
			}
		})
	}
}

// TestIdleParkKeepsState: across parks, REST, RNFR, TYPE and the working
// folder hold, and pipelined commands after a park are answered in order.
func TestIdleParkKeepsState(t *testing.T) {
	srv := parkingServer(t, nil)
	writeFile(t, srv, "a", []byte("0123456789"))
	c := login(t, srv)
	defer c.Close()
	c.Expect(t, "TYPE A", 200)
	waitParked(t, srv, 1)
	c.Expect(t, "RNFR a", 350)
	waitParked(t, srv, 1)
	c.Expect(t, "RNTO b", 250)
	waitParked(t, srv, 1)
	c.Expect(t, "TYPE I", 200)
	c.Expect(t, "REST 4", 350)
	waitParked(t, srv, 1)
	if got := c.Retrieve(t, "RETR b"); string(got) != "456789" {
		t.Errorf("RETR after REST across a park: %q, want 456789", got)
	}
	waitParked(t, srv, 1)
	c.Send(t, "NOOP\r\nPWD\r\nSYST")
	c.ExpectReply(t, 200)
	c.ExpectReply(t, 257)
	c.ExpectReply(t, 215)
}

// TestIdleNoParkDuringTransfer: a session whose transfer runs does not
// park; STAT and ABOR answer at once during it, and the session parks
// again after it.
func TestIdleNoParkDuringTransfer(t *testing.T) {
	srv := parkingServer(t, nil)
	c := login(t, srv)
	defer c.Close()
	waitParked(t, srv, 1)
	dc := c.Passive(t)
	defer dc.Close()
	c.Send(t, "STOR slow")
	c.ExpectReply(t, 150)
	dc.Write([]byte("some"))
	time.Sleep(300 * time.Millisecond)
	if got := pier.ParkedSessions(srv.Server); got != 0 {
		t.Errorf("%d sessions parked during a transfer", got)
	}
	if text := c.Expect(t, "STAT", 211); !strings.Contains(text, "STOR") {
		t.Errorf("STAT during the transfer: %q", text)
	}
	// Telnet IP and Synch before ABOR (RFC 959 §4.1.3).
	if _, err := c.Conn.Write([]byte{255, 244, 255}); err != nil {
		t.Fatal(err)
	}
	c.Conn.(*net.TCPConn).Write([]byte{242}) // DM, ideally urgent
	c.Send(t, "ABOR")
	c.ExpectReply(t, 426)
	c.ExpectReply(t, 226)
	waitParked(t, srv, 1)
	c.Expect(t, "NOOP", 200)
}

// TestIdleIdleTimeoutAfterTransferParked: the idle timeout counts from
// a transfer's end (as before), also for a session that parks right after.
func TestIdleIdleTimeoutAfterTransferParked(t *testing.T) {
	srv := parkingServer(t, func(s *pier.Server) { s.IdleTimeout = 700 * time.Millisecond })
	c := login(t, srv)
	defer c.Close()
	dc := c.Passive(t)
	c.Send(t, "STOR f")
	c.ExpectReply(t, 150)
	time.Sleep(900 * time.Millisecond) // longer than the idle timeout
	dc.Write([]byte("x"))
	dc.Close()
	c.ExpectReply(t, 226)
	ended := time.Now()
	waitParked(t, srv, 1)
	code, _, err := c.ReadReply()
	if err != nil || code != 421 {
		t.Fatalf("idle after a transfer: %d %v, want 421", code, err)
	}
	if d := time.Since(ended); d < 600*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("timed out %v after the transfer ended, want about 700ms", d)
	}
}

// TestIdleParkedLogger: a session's log lines after a park carry the
// session, the remote address, the host and the user, once each.
func TestIdleParkedLogger(t *testing.T) {
	var buf syncBuffer
	srv := parkingServer(t, func(s *pier.Server) {
		s.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s.Hosts = map[string]*pier.Host{"ftp.example.com": {Auth: s.Auth}}
	})
	c := srv.Dial(t)
	defer c.Close()
	c.Expect(t, "HOST ftp.example.com", 220)
	waitParked(t, srv, 1)
	c.Expect(t, "USER "+ftptest.User, 331)
	waitParked(t, srv, 1)
	c.Expect(t, "PASS "+ftptest.Password, 230)
	waitParked(t, srv, 1)
	c.Expect(t, "NOOP", 200)
	waitParked(t, srv, 1)
	c.Expect(t, "QUIT", 221)
	expectClosed(t, c)
	eventually(t, "session closed logged", func() bool { return strings.Contains(buf.String(), "FTP session closed") })
	for _, line := range strings.Split(buf.String(), "\n") {
		if !strings.Contains(line, `reply="200`) && !strings.Contains(line, "FTP session closed") {
			continue
		}
		for _, attr := range []string{"session=", "remote=", "host=ftp.example.com", "user=" + ftptest.User} {
			if n := strings.Count(line, " "+attr); n != 1 {
				t.Errorf("%q %d times in %q", attr, n, line)
			}
		}
	}
}

// TestIdleParkedCloseNamesUser: at the default level, the one line a
// session's end logs names its user, also when the session was parked
// (which drops its cached logger) just before: by QUIT and by the client
// going away. "user logged out" is logged only for REIN and a new USER.
func TestIdleParkedCloseNamesUser(t *testing.T) {
	for _, end := range []string{"QUIT", "drop", "REIN"} {
		t.Run(end, func(t *testing.T) {
			var buf syncBuffer
			srv := parkingServer(t, func(s *pier.Server) {
				s.Logger = slog.New(slog.NewTextHandler(&buf, nil)) // Info
			})
			c := srv.Dial(t)
			defer c.Close()
			c.Login(t, ftptest.User, ftptest.Password)
			waitParked(t, srv, 1)
			switch end {
			case "QUIT":
				c.Expect(t, "QUIT", 221)
				expectClosed(t, c)
			case "drop":
				c.Close()
			case "REIN":
				c.Expect(t, "REIN", 220)
				c.Expect(t, "QUIT", 221)
				expectClosed(t, c)
			}
			eventually(t, "session closed logged", func() bool { return strings.Contains(buf.String(), "FTP session closed") })
			logs := buf.String()
			for _, line := range strings.Split(logs, "\n") {
				if !strings.Contains(line, "FTP session closed") {
					continue
				}
				if hasUser := strings.Contains(line, " user="+ftptest.User); hasUser == (end == "REIN") {
					t.Errorf("closing line %q: user= given %v, want %v", line, hasUser, end != "REIN")
				}
			}
			if n, want := strings.Count(logs, "user logged out"), map[bool]int{true: 1}[end == "REIN"]; n != want {
				t.Errorf("%d \"user logged out\" lines, want %d:\n%s", n, want, logs)
			}
		})
	}
}

// TestIdleHooksOnceAcrossParks: Connect, Login and Disconnect run once
// for a session that parks many times, and Session.Context ends with it.
func TestIdleHooksOnceAcrossParks(t *testing.T) {
	var connects, logins, disconnects atomic.Int32
	ctxCh := make(chan context.Context, 1)
	srv := parkingServer(t, func(s *pier.Server) {
		s.Hooks.Connect = func(s *pier.Session) error { connects.Add(1); ctxCh <- s.Context(); return nil }
		s.Hooks.Login = func(*pier.Session) { logins.Add(1) }
		s.Hooks.Disconnect = func(*pier.Session) { disconnects.Add(1) }
	})
	c := login(t, srv)
	ctx := <-ctxCh
	for range 5 {
		waitParked(t, srv, 1)
		c.Expect(t, "NOOP", 200)
	}
	waitParked(t, srv, 1)
	if ctx.Err() != nil {
		t.Fatal("Session.Context ended while the session is parked")
	}
	c.Close()
	eventually(t, "Disconnect", func() bool { return disconnects.Load() == 1 })
	if err := context.Cause(ctx); !errors.Is(err, pier.ErrSessionClosed) {
		t.Errorf("Session.Context after the client left: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if connects.Load() != 1 || logins.Load() != 1 || disconnects.Load() != 1 {
		t.Errorf("hooks: Connect %d, Login %d, Disconnect %d; want 1 each", connects.Load(), logins.Load(), disconnects.Load())
	}
}

// TestIdlePollerClosedAfterShutdown: the poller's goroutine and
// descriptors (epoll, its pipe) are gone once Shutdown returns.
func TestIdlePollerClosedAfterShutdown(t *testing.T) {
	noGC(t)
	epolls := func() int {
		n := 0
		entries, _ := os.ReadDir("/proc/self/fd")
		for _, e := range entries {
			if target, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.Contains(target, "eventpoll") {
				n++
			}
		}
		return n
	}
	before := epolls()
	srv := parkingServer(t, nil)
	c := login(t, srv)
	defer c.Close()
	waitParked(t, srv, 1) // the poller runs: its epoll set is open
	// (Counts are the whole process's: an earlier test's poller may still
	// be closing, so only "no more than before" is certain at the end.)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "epoll descriptor closed", func() bool { return epolls() <= before })
}

package pier_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

func TestBanner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		banner, want string
	}{
		{"", pier.DefaultBanner},
		{"Welcome to the test server.", "Welcome to the test server."},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, func(s *pier.Server) { s.Banner = tt.banner })
			if got := srv.Dial(t).Banner; got != tt.want {
				t.Errorf("banner %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoginAndQuitMessages(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	if err := srv.Users.AddUser("greeted", auth.Account{
		Password: "pw", FS: srv.Root, Perm: pier.ReadPerms,
		LoginMessage: "Hello, greeted.", QuitMessage: "See you.",
	}); err != nil {
		t.Fatal(err)
	}
	runSteps(t, srv.Dial(t), []step{
		{"USER greeted", 331, ""},
		{"PASS pw", 230, "Hello, greeted."},
		{"QUIT", 221, "See you."},
	})
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.IdleTimeout = 300 * time.Millisecond })
	t.Run("before login", func(t *testing.T) {
		t.Parallel()
		c := srv.Dial(t)
		c.ExpectReply(t, 421)
		expectClosed(t, c)
	})
	t.Run("after login", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		c.ExpectReply(t, 421)
		expectClosed(t, c)
	})
	t.Run("not during a transfer", func(t *testing.T) {
		t.Parallel()
		data := pattern(8 << 20)
		writeFile(t, srv, "f", data)
		c := login(t, srv)
		dc := c.Passive(t)
		c.Send(t, "RETR f")
		expectPrelim(t, c)
		// Stall the transfer for longer than the idle timeout.
		time.Sleep(time.Second)
		if got := readAll(t, dc); !bytes.Equal(got, data) {
			t.Fatalf("got %d bytes, want %d", len(got), len(data))
		}
		c.ExpectReply(t, 226)
		// The timer runs again after it.
		c.ExpectReply(t, 421)
	})
}

func TestMaxConnections(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.MaxConnections = 2 })
	a := srv.Dial(t)
	b := srv.Dial(t)
	third := srv.DialRaw(t)
	code, text, err := third.ReadReply()
	if err != nil || code != 421 {
		t.Fatalf("third connection: got %d %q %v, want 421 before any banner", code, text, err)
	}
	expectClosed(t, third)
	a.Expect(t, "NOOP", 200)
	b.Expect(t, "NOOP", 200)

	// Once one leaves, a new one gets in. The server notices the closed
	// session asynchronously: retry a bounded number of times.
	a.Expect(t, "QUIT", 221)
	expectClosed(t, a)
	for i := 0; ; i++ {
		c := srv.DialRaw(t)
		code, _, err := c.ReadReply()
		if err == nil && code == 220 {
			c.Expect(t, "NOOP", 200)
			break
		}
		if i == 100 {
			t.Fatalf("no connection accepted after one left: last %d %v", code, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMaxConnectionsPerIP(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.MaxConnectionsPerIP = 1 })
	first := srv.Dial(t)
	second := srv.DialRaw(t)
	if code, text, err := second.ReadReply(); err != nil || code != 421 {
		t.Fatalf("second connection from 127.0.0.1: got %d %q %v, want 421", code, text, err)
	}
	expectClosed(t, second)
	// Another address has its own count.
	other := dial(t, srv.Addr, netip.MustParseAddr("127.0.0.2"))
	other.SetReadDeadline(time.Now().Add(ioDeadline))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(other, buf); err != nil || string(buf) != "220 " {
		t.Fatalf("connection from 127.0.0.2: got %q %v, want 220", buf, err)
	}
	first.Expect(t, "NOOP", 200)
}

// TestShutdown: a graceful shutdown lets a running transfer finish and
// tells idle sessions 421.
func TestShutdown(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	data := pattern(16 << 20)
	writeFile(t, srv, "f", data)

	idle := login(t, srv)
	anon := srv.Dial(t)
	busy := login(t, srv)
	dc := busy.Passive(t)
	busy.Send(t, "RETR f")
	expectPrelim(t, busy)
	head := make([]byte, 64<<10)
	dc.SetReadDeadline(time.Now().Add(ioDeadline))
	if _, err := io.ReadFull(dc, head); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	idle.ExpectReply(t, 421)
	expectClosed(t, idle)
	anon.ExpectReply(t, 421)
	expectClosed(t, anon)

	// The listener is closed: new connections are refused. Shutdown closes
	// it before it tells the sessions, so this is already true.
	if nc, err := net.DialTimeout("tcp", srv.Addr, ioDeadline); err == nil {
		nc.SetReadDeadline(time.Now().Add(ioDeadline))
		b, _ := io.ReadAll(nc)
		nc.Close()
		if bytes.HasPrefix(b, []byte("220")) {
			t.Errorf("a new connection got the banner during shutdown: %q", b)
		}
	}

	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a transfer runs", err)
	default:
	}
	rest := readAll(t, dc)
	if got := append(head, rest...); !bytes.Equal(got, data) {
		t.Errorf("transfer got %d bytes, want %d", len(got), len(data))
	}
	busy.ExpectReply(t, 226)
	busy.ExpectReply(t, 421)
	expectClosed(t, busy)
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestShutdownContextExpires(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	sparseFile(t, srv, "big", 64<<20)
	c := login(t, srv)
	c.Passive(t) // connected, never read
	c.Send(t, "RETR big")
	expectPrelim(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with a stuck transfer and a done context: %v, want context.Canceled", err)
	}
	// Close ends it at once: the cut download gets its 426 (a client
	// must not take it for a whole file), the session 421, then the
	// connection closes.
	srv.Close()
	c.ExpectReply(t, 426)
	c.ExpectReply(t, 421)
	expectClosed(t, c)
}

func TestClose(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	sparseFile(t, srv, "big", 64<<20)
	idle := login(t, srv)
	busy := login(t, srv)
	dc := busy.Passive(t)
	busy.Send(t, "RETR big")
	expectPrelim(t, busy)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	idle.ExpectReply(t, 421)
	expectClosed(t, idle)
	// The data connection ends before the whole file is sent, with an
	// error (a reset), not a clean end of file.
	dc.SetReadDeadline(time.Now().Add(ioDeadline))
	n, err := io.Copy(io.Discard, dc)
	if n >= 64<<20 {
		t.Errorf("the whole file was sent after Close")
	}
	if err == nil {
		t.Errorf("the cut download ended with a clean end of file")
	}
	busy.ExpectReply(t, 426)
	busy.ExpectReply(t, 421)
	expectClosed(t, busy)
}

func TestServeAfterShutdown(t *testing.T) {
	t.Parallel()
	s := &pier.Server{}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, pier.ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v, want ErrServerClosed", err)
	}
	// Serve closed the listener.
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), ioDeadline); err == nil {
		t.Errorf("the listener is still open")
	}
	if err := s.ListenAndServe(); !errors.Is(err, pier.ErrServerClosed) {
		t.Errorf("ListenAndServe after Shutdown: %v, want ErrServerClosed", err)
	}
}

func TestBadEncoding(t *testing.T) {
	t.Parallel()
	s := &pier.Server{Encoding: "no-such-charset"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err == nil || errors.Is(err, pier.ErrServerClosed) {
		t.Errorf("Serve with a bad encoding: %v, want an error", err)
	}
	if err := pier.ValidateEncoding("no-such-charset"); err == nil {
		t.Error("ValidateEncoding accepted a bad name")
	}
	if err := pier.ValidateEncoding("latin1"); err != nil {
		t.Errorf("ValidateEncoding(latin1): %v", err)
	}
}

func TestAuthenticator(t *testing.T) {
	t.Parallel()
	type call struct {
		info       pier.ConnInfo
		user, pass string
	}
	calls := make(chan call, 10)
	srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		root := s.Root
		s.Auth = pier.AuthenticatorFunc(func(ctx context.Context, c pier.ConnInfo, user, pass string) (*pier.User, error) {
			calls <- call{c, user, pass}
			switch user {
			case "good":
				return &pier.User{Name: user, Perm: pier.ReadPerms, FS: root}, nil
			case "nofs":
				return &pier.User{Name: user}, nil
			case "broken":
				return nil, errors.New("database down")
			}
			return nil, pier.ErrAuthFailed
		})
	}})
	runSteps(t, srv.Dial(t), []step{{"USER bad", 331, ""}, {"PASS x", 530, ""}})
	// A user without a file system is the authenticator's fault, not a
	// wrong password: 421, as for an outage.
	nofs := srv.Dial(t)
	runSteps(t, nofs, []step{{"USER nofs", 331, ""}, {"PASS x", 421, ""}})
	expectClosed(t, nofs)
	// The error's text is not shown to the client.
	runSteps(t, srv.Dial(t), []step{{"USER broken", 331, ""}, {"PASS x", 421, "Service not available: can't check logins now; try again later."}})
	c := srv.Dial(t)
	runSteps(t, c, []step{{"USER good", 331, ""}, {"PASS pass word", 230, ""}, {"PWD", 257, ""}})
	var last call
	for range 4 {
		last = <-calls
	}
	if last.user != "good" || last.pass != "pass word" {
		t.Errorf("Authenticate got %q %q", last.user, last.pass)
	}
	if last.info.RemoteAddr.Addr() != netip.MustParseAddr("127.0.0.1") || last.info.LocalAddr.String() != srv.Addr || last.info.ID == 0 {
		t.Errorf("ConnInfo %+v", last.info)
	}

	t.Run("no Authenticator", func(t *testing.T) {
		t.Parallel()
		srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) { s.Auth = nil }})
		runSteps(t, srv.Dial(t), []step{
			{"USER user", 331, ""}, {"PASS secret", 530, ""},
			{"USER anonymous", 331, ""}, {"PASS x", 530, ""},
		})
	})
}

// TestConcurrentSessions runs many sessions against one server at once;
// with -race it checks that sessions share nothing unguarded.
func TestConcurrentSessions(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	data := pattern(256 << 10)
	writeFile(t, srv, "f", data)
	for i := range 16 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			name := fmt.Sprintf("up%d", i)
			c.Store(t, "STOR "+name, data)
			if got := c.Retrieve(t, "RETR "+name); !bytes.Equal(got, data) {
				t.Errorf("%s: got %d bytes back, want %d", name, len(got), len(data))
			}
			if got := c.Retrieve(t, "RETR f"); !bytes.Equal(got, data) {
				t.Errorf("f: got %d bytes, want %d", len(got), len(data))
			}
			c.Expect(t, "STAT", 211)
			c.Expect(t, "QUIT", 221)
		})
	}
}

// TestBanAfterFailedLogins: failures across connections ban the address,
// successes in between or not; the ban lifts after BanTime.
func TestBanAfterFailedLogins(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) {
		s.BanAfter = 3
		s.BanTime = 500 * time.Millisecond
		s.MaxLoginAttempts = 1
	})
	fail := func() {
		t.Helper()
		c := srv.Dial(t)
		c.Expect(t, "USER user", 331)
		c.Expect(t, "PASS wrong", 530)
	}
	fail()
	fail()
	login(t, srv) // a success does not reset the count
	fail()        // the third failure: banned
	c := srv.DialRaw(t)
	if code, text, _ := c.ReadReply(); code != 421 || !strings.Contains(text, "failed logins") {
		t.Fatalf("banned address got %d %q, want 421", code, text)
	}
	expectClosed(t, c)
	// The ban lifts (bounded poll, not a timing assertion).
	deadline := time.Now().Add(ioDeadline)
	for {
		c := srv.DialRaw(t)
		code, _, _ := c.ReadReply()
		c.Close()
		if code == 220 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ban never lifted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	login(t, srv)
}

// TestLoginAttemptsSurviveSuccess: a success on the connection (here
// anonymous) does not give a guesser new attempts.
func TestLoginAttemptsSurviveSuccess(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.BanAfter = -1; s.MaxLoginAttempts = 2 })
	c := srv.Dial(t)
	c.Expect(t, "USER user", 331)
	c.Expect(t, "PASS wrong", 530)
	c.Expect(t, "USER anonymous", 331)
	c.Expect(t, "PASS guest@", 230)
	c.Expect(t, "USER user", 331)
	if text := c.Expect(t, "PASS wrong", 530); !strings.Contains(text, "Disconnecting") {
		t.Fatalf("second failure after a success: %q, want the disconnect", text)
	}
	expectClosed(t, c)
}

// TestBanEndsOpenSession: once the address is banned, a connection that
// was already open gets 421 at its next PASS, even a right one.
func TestBanEndsOpenSession(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.BanAfter = 2; s.BanTime = time.Minute; s.MaxLoginAttempts = 5 })
	a := srv.Dial(t)
	a.Expect(t, "USER user", 331)
	a.Expect(t, "PASS wrong", 530)
	b := srv.Dial(t)
	b.Expect(t, "USER user", 331)
	b.Expect(t, "PASS wrong", 530) // the second failure: banned
	a.Expect(t, "USER user", 331)
	a.Expect(t, "PASS "+ftptest.Password, 421)
	expectClosed(t, a)
}

func TestBanDisabled(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.BanAfter = -1; s.MaxLoginAttempts = 1 })
	for range 12 {
		c := srv.Dial(t)
		c.Expect(t, "USER user", 331)
		c.Expect(t, "PASS wrong", 530)
	}
	login(t, srv)
}

// TestServeContext: the server serves until the context ends, then tells
// idle sessions 421, waits up to the grace period for a transfer, closes
// what is left, and returns nil.
func TestServeContext(t *testing.T) {
	t.Parallel()
	users, ln := memSetup(t, "big", make([]byte, 64<<20))
	// The hooks of the sessions Close ends run before ServeContext
	// returns: a program may close what they write to once it has.
	var hooksDone atomic.Int32
	slow := func() { time.Sleep(100 * time.Millisecond); hooksDone.Add(1) }
	srv := &pier.Server{Auth: users, Hooks: pier.Hooks{
		Disconnect:         func(*pier.Session) { slow() },
		IncompleteFileSent: func(*pier.Session, pier.TransferInfo) { slow() },
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	const grace = 200 * time.Millisecond
	go func() { done <- srv.ServeContext(ctx, ln, grace) }()

	idle := ftptest.Dial(t, ln.Addr().String())
	stuck := ftptest.Dial(t, ln.Addr().String())
	stuck.Login(t, "u", "p")
	dc := stuck.Passive(t) // connected, never read: the transfer can't end
	defer dc.Close()
	stuck.Send(t, "RETR big")
	expectPrelim(t, stuck)

	start := time.Now()
	cancel()
	idle.ExpectReply(t, 421)
	expectClosed(t, idle)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeContext: %v, want nil", err)
		}
		if waited := time.Since(start); waited < grace {
			t.Errorf("returned after %v, before the grace period of %v", waited, grace)
		}
		// Two Disconnects (idle, stuck) and the stuck download's hook.
		if n := hooksDone.Load(); n != 3 {
			t.Errorf("ServeContext returned with %d of 3 hooks done", n)
		}
	case <-time.After(ioDeadline):
		t.Fatal("ServeContext did not return after the grace period")
	}
	stuck.SetReadDeadline(time.Now().Add(ioDeadline))
	if _, err := io.ReadAll(stuck); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Error("the stuck session's connection is still open")
		}
	}

	// Serving that fails at once is reported, not hidden.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if err := (&pier.Server{Auth: users}).ServeContext(context.Background(), closed, grace); err == nil {
		t.Error("ServeContext on a closed listener returned nil")
	}
}

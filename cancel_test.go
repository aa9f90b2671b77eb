package pier_test

// Cancellation (issue 16): a back-end call that blocks until its context
// ends never holds up ABOR, QUIT, a shutdown or Server.Close. Each test
// records the context's cause, to check who ended it.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/mem"
	"github.com/pierftp/pier/ftptest"
)

// blockingStat returns an lcFS.stat that blocks on the name "slow" until
// its context ends, and then reports the context's cause on causes. entered
// is closed when the first call blocks.
func blockingStat(entered chan struct{}, causes chan error) func(ctx context.Context, name string) error {
	var once sync.Once
	return func(ctx context.Context, name string) error {
		if name != "slow" {
			return nil
		}
		once.Do(func() { close(entered) })
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	}
}

// slowStatServer serves a user "slow" (password "p") whose Stat of "slow"
// blocks until its context ends.
func slowStatServer(t *testing.T, srv *ftptest.Server) (entered chan struct{}, causes chan error) {
	t.Helper()
	entered, causes = make(chan struct{}), make(chan error, 4)
	fsys := &lcFS{FileSystem: srv.Root, stat: blockingStat(entered, causes)}
	if err := srv.Users.AddUser("slow", auth.Account{Password: "p", FS: fsys, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	return entered, causes
}

// blockedCause waits (boundedly) for the cause a blocked call reported.
func blockedCause(t *testing.T, causes chan error) error {
	t.Helper()
	select {
	case err := <-causes:
		return err
	case <-time.After(ioDeadline):
		t.Fatal("the blocked call never returned")
		return nil
	}
}

// TestCancelStatABOR: ABOR ends a CWD whose Stat hangs: the CWD gets 451,
// the ABOR its own reply, and the session goes on where it was.
func TestCancelStatABOR(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	entered, causes := slowStatServer(t, srv)
	c := srv.Dial(t)
	c.Login(t, "slow", "p")
	c.Send(t, "CWD slow")
	<-entered
	c.Send(t, "ABOR")
	c.ExpectReply(t, 451)
	c.ExpectReply(t, 225)
	if err := blockedCause(t, causes); !errors.Is(err, pier.ErrTransferAborted) {
		t.Errorf("Stat's context ended with %v, want ErrTransferAborted", err)
	}
	c.Expect(t, "NOOP", 200)
	if text := c.Expect(t, "PWD", 257); text != `"/" is the current directory.` {
		t.Errorf("PWD after the aborted CWD: %q", text)
	}
}

// TestCancelStatQUIT: QUIT ends a CWD whose Stat hangs: the CWD's 451,
// then 221, and the connection closes.
func TestCancelStatQUIT(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	entered, causes := slowStatServer(t, srv)
	c := srv.Dial(t)
	c.Login(t, "slow", "p")
	c.Send(t, "CWD slow")
	<-entered
	c.Send(t, "QUIT")
	c.ExpectReply(t, 451)
	c.ExpectReply(t, 221)
	expectClosed(t, c)
	if err := blockedCause(t, causes); !errors.Is(err, pier.ErrSessionClosed) {
		t.Errorf("Stat's context ended with %v, want ErrSessionClosed", err)
	}
}

// TestCancelStatShutdown: a graceful Shutdown waits for a command, so one
// whose Stat hangs makes it return its context's error; Close then ends
// the command (its context's cause is ErrServerShutdown) and the session,
// and Shutdown afterwards finds nothing left running.
func TestCancelStatShutdown(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	entered, causes := slowStatServer(t, srv)
	c := srv.Dial(t)
	c.Login(t, "slow", "p")
	c.Send(t, "CWD slow")
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a hung command: %v, want DeadlineExceeded", err)
	}
	srv.Close()
	if err := blockedCause(t, causes); !errors.Is(err, pier.ErrServerShutdown) {
		t.Errorf("Stat's context ended with %v, want ErrServerShutdown", err)
	}
	// The command's reply comes before the 421, and then the
	// connection closes.
	c.ExpectReply(t, 451)
	c.ExpectReply(t, 421)
	expectClosed(t, c)
	ctx2, cancel2 := context.WithTimeout(context.Background(), ioDeadline)
	defer cancel2()
	if err := srv.Shutdown(ctx2); err != nil {
		t.Errorf("Shutdown after Close: %v (a session still runs)", err)
	}
}

// TestCancelServeContext: ServeContext with a command whose Stat hangs
// returns once its context ends: its Shutdown runs out of time, Close ends
// the command, and no session is left.
func TestCancelServeContext(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, causes := make(chan struct{}), make(chan error, 4)
	users := &auth.Virtual{}
	fsys := &lcFS{FileSystem: mem.New(), stat: blockingStat(entered, causes)}
	if err := users.AddUser("slow", auth.Account{Password: "p", FS: fsys, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	srv := &pier.Server{Auth: users, LoginFailDelay: -1, Logger: slog.New(slog.DiscardHandler)}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.ServeContext(ctx, ln, 50*time.Millisecond) }()

	c := ftptest.Dial(t, ln.Addr().String())
	c.Login(t, "slow", "p")
	c.Send(t, "CWD slow")
	<-entered
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("ServeContext: %v", err)
		}
	case <-time.After(ioDeadline):
		t.Fatal("ServeContext did not return")
	}
	if err := blockedCause(t, causes); !errors.Is(err, pier.ErrServerShutdown) && !errors.Is(err, pier.ErrSessionClosed) {
		t.Errorf("Stat's context ended with %v, want ErrServerShutdown or ErrSessionClosed", err)
	}
	c.ExpectReply(t, 451)
	c.ExpectReply(t, 421)
	expectClosed(t, c)
}

// TestCancelAuthQUIT: QUIT while an authenticator hangs on PASS ends it
// (cause ErrSessionClosed): PASS gets 451, QUIT 221. A cancelled check is
// no failed login.
func TestCancelAuthQUIT(t *testing.T) {
	t.Parallel()
	entered, causes := make(chan struct{}), make(chan error, 1)
	ev := &lcEvents{}
	srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		s.Auth = pier.AuthenticatorFunc(func(ctx context.Context, c pier.ConnInfo, user, pass string) (*pier.User, error) {
			close(entered)
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil, ctx.Err()
		})
		s.BanAfter = 1
		s.Hooks.LoginFailed = func(_ *pier.Session, user string) { ev.add("login_failed:%s", user) }
	}})
	c := srv.Dial(t)
	c.Expect(t, "USER u", 331)
	c.Send(t, "PASS p")
	<-entered
	c.Send(t, "QUIT")
	c.ExpectReply(t, 451)
	c.ExpectReply(t, 221)
	expectClosed(t, c)
	if err := blockedCause(t, causes); !errors.Is(err, pier.ErrSessionClosed) {
		t.Errorf("Authenticate's context ended with %v, want ErrSessionClosed", err)
	}
	// Not a failure: nothing banned (BanAfter 1), no LoginFailed hook.
	srv.Dial(t).Expect(t, "NOOP", 200)
	if got := ev.get(); len(got) != 0 {
		t.Errorf("LoginFailed ran: %q", got)
	}
}

// TestCancelAuthABOR: ABOR does not cancel a password check (a guess
// answered by ABOR would not count): it waits for PASS's reply, the wrong
// password counts, and with BanAfter 1 the address is banned; ABOR then
// gets 225.
func TestCancelAuthABOR(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var failed atomic.Int32
	srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		s.BanAfter = 1
		s.LoginFailDelay = -1
		s.Hooks.LoginFailed = func(*pier.Session, string) { failed.Add(1) }
		// The check answers once the server has read ABOR.
		s.Hooks.Command = func(_ *pier.Session, name string) {
			if name == "ABOR" {
				close(release)
			}
		}
		s.Auth = pier.AuthenticatorFunc(func(ctx context.Context, c pier.ConnInfo, user, pass string) (*pier.User, error) {
			close(entered)
			select {
			case <-release:
			case <-ctx.Done():
				t.Error("ABOR cancelled the password check")
			}
			return nil, pier.ErrAuthFailed
		})
	}})
	c := srv.Dial(t)
	c.Expect(t, "USER guess", 331)
	c.Send(t, "PASS wrong")
	<-entered
	c.Send(t, "ABOR")
	c.ExpectReply(t, 530)
	// The hook releases the check as the server reads ABOR, so PASS may
	// end before ABOR is dispatched: ABOR is then a command of a session
	// with no login (530). Either way the check was not cancelled.
	if code, text, err := c.ReadReply(); err != nil || (code != 225 && code != 530) {
		t.Fatalf("ABOR: got %d %q (%v), want 225 (or 530 once PASS has ended)", code, text, err)
	}
	if failed.Load() != 1 {
		t.Errorf("LoginFailed ran %d times, want 1: the guess must count", failed.Load())
	}
	// The guess counted toward the ban.
	c2 := srv.DialRaw(t)
	if code, _, err := c2.ReadReply(); err != nil || code != 421 {
		t.Errorf("after a counted failure with BanAfter 1: got %d (%v), want 421 before the banner", code, err)
	}
}

// TestCancelReadABOR: ABOR during a download whose File.Read waits on its
// context: 426 for the transfer, 226 for the ABOR; the file is aborted
// with ErrTransferAborted, which is also its context's cause.
func TestCancelReadABOR(t *testing.T) {
	t.Parallel()
	rig, files := streamRig(t, func(ctx context.Context, ev *lcEvents) *lcFile {
		return &lcFile{ctx: ctx, ev: ev, waitCtx: true, reading: make(chan struct{})}
	}, nil)
	c := rig.Dial(t)
	rig.login(t, c)
	c.Passive(t)
	c.Send(t, "RETR stream")
	expectPrelim(t, c)
	f := <-files
	<-f.reading
	c.Send(t, "ABOR")
	c.ExpectReply(t, 426)
	c.ExpectReply(t, 226)
	c.Expect(t, "NOOP", 200)
	reason, cause := f.got()
	if !errors.Is(reason, pier.ErrTransferAborted) {
		t.Errorf("Abort reason %v, want ErrTransferAborted", reason)
	}
	if !errors.Is(cause, pier.ErrTransferAborted) {
		t.Errorf("the file's context ended with %v, want ErrTransferAborted", cause)
	}
	if got := rig.ev.get(); !slices.Equal(got, []string{"login:1", "file:open", "file:abort"}) {
		t.Errorf("events %q", got)
	}
}

// waitAfterNext is a middleware that, for RETR, waits after next until the
// command's context ends (it ends with the transfer): one that logs a
// transfer's outcome, say. The transfer runs meanwhile, and the command's
// task with it.
func waitAfterNext(s *pier.Session, r *pier.Request, next func() error) error {
	err := next()
	if r.Command == "RETR" {
		<-r.Context().Done()
	}
	return err
}

// TestCancelABORWhileCommandReturns: ABOR while the transfer runs and the
// command that started it has not returned yet (its middleware acts after
// next) is an ABOR of the transfer: 426 then 226, and the file learns
// ErrTransferAborted.
func TestCancelABORWhileCommandReturns(t *testing.T) {
	t.Parallel()
	rig, files := streamRig(t, func(ctx context.Context, ev *lcEvents) *lcFile {
		return &lcFile{ctx: ctx, ev: ev, waitCtx: true, reading: make(chan struct{})}
	}, func(s *pier.Server) { s.Middleware = []pier.Middleware{waitAfterNext} })
	c := rig.Dial(t)
	rig.login(t, c)
	c.Passive(t)
	c.Send(t, "RETR stream")
	expectPrelim(t, c)
	f := <-files
	<-f.reading
	c.Send(t, "ABOR")
	c.ExpectReply(t, 426)
	c.ExpectReply(t, 226)
	c.Expect(t, "NOOP", 200)
	if reason, _ := f.got(); !errors.Is(reason, pier.ErrTransferAborted) {
		t.Errorf("Abort reason %v, want ErrTransferAborted", reason)
	}
}

// TestCancelQUITWhileCommandReturns: QUIT lets a running download finish
// (226, then 221), also while the command that started it has not
// returned yet: QUIT cancels a command, never a transfer.
func TestCancelQUITWhileCommandReturns(t *testing.T) {
	t.Parallel()
	const size = 32 << 20 // more than the socket buffers hold
	rig, files := streamRig(t, func(ctx context.Context, ev *lcEvents) *lcFile {
		return &lcFile{ctx: ctx, ev: ev, size: size, reading: make(chan struct{})}
	}, func(s *pier.Server) { s.Middleware = []pier.Middleware{waitAfterNext} })
	c := rig.Dial(t)
	rig.login(t, c)
	dc := c.Passive(t)
	c.Send(t, "RETR stream")
	expectPrelim(t, c)
	f := <-files
	<-f.reading
	c.Send(t, "QUIT") // before reading: the transfer can't be over
	dc.SetReadDeadline(time.Now().Add(ioDeadline))
	n, err := io.Copy(io.Discard, dc)
	if err != nil || n != size {
		t.Errorf("download: %d bytes, %v; want %d", n, err, size)
	}
	c.ExpectReply(t, 226)
	c.ExpectReply(t, 221)
	expectClosed(t, c)
	rig.ev.waitFor(t, "login:1", "file:open", "file:close", "logout:1", "release:1", "disconnect")
}

package pier_test

// The life of a login (issue 16): User.Release is the one release point,
// called exactly once per login, after the Logout hook and after whatever
// the login still runs; and an authenticator that can't answer is an
// outage, not a failed login.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
)

// lcEvents is an ordered record of what the server called: hooks,
// releases, files ended.
type lcEvents struct {
	mu   sync.Mutex
	list []string
}

func (e *lcEvents) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, fmt.Sprintf(format, args...))
}

func (e *lcEvents) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}

// waitFor waits, boundedly, until the last event of want has been recorded
// (the server ends a session asynchronously after the client has gone),
// then checks that the whole record is want.
func (e *lcEvents) waitFor(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(ioDeadline)
	for {
		got := e.get()
		if slices.Contains(got, want[len(want)-1]) || time.Now().After(deadline) {
			if !slices.Equal(got, want) {
				t.Fatalf("events %q, want %q", got, want)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lcFS is a FileSystem whose Stat and OpenFile a test can take over.
type lcFS struct {
	pier.FileSystem
	// stat, if set, runs before every Stat; an error it returns is
	// Stat's.
	stat func(ctx context.Context, name string) error
	// open, if set, replaces OpenFile.
	open func(ctx context.Context, name string, flag int) (pier.File, error)
}

func (f *lcFS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	if f.stat != nil {
		if err := f.stat(ctx, name); err != nil {
			return nil, err
		}
	}
	return f.FileSystem.Stat(ctx, name)
}

func (f *lcFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	if f.open != nil {
		return f.open(ctx, name, flag)
	}
	return f.FileSystem.OpenFile(ctx, name, flag, perm)
}

// lcFile is a download: Read gives zeros without end, or waits for its
// context to end (waitCtx), or for hold to be closed (ignoring its
// context, as a careless back-end does), or, with size, gives size zeros
// and then io.EOF, failing once its context has ended (as a remote
// store's stream does). Close and Abort are recorded in ev ("file:close",
// "file:abort"), and the reason and the context's cause are kept.
type lcFile struct {
	ctx     context.Context
	ev      *lcEvents
	waitCtx bool
	hold    chan struct{}
	size    int64
	reading chan struct{} // closed at the first Read, if not nil

	once   sync.Once
	mu     sync.Mutex
	reason error // Abort's
	cause  error // context.Cause(ctx) when a waiting Read returned
}

func (f *lcFile) Read(p []byte) (int, error) {
	if f.reading != nil {
		f.once.Do(func() { close(f.reading) })
	}
	switch {
	case f.hold != nil:
		<-f.hold
		return 0, errors.New("lcFile: released")
	case f.waitCtx:
		<-f.ctx.Done()
		f.mu.Lock()
		f.cause = context.Cause(f.ctx)
		f.mu.Unlock()
		return 0, f.ctx.Err()
	case f.size > 0:
		if f.ctx.Err() != nil {
			return 0, context.Cause(f.ctx)
		}
		n := int(min(int64(len(p)), f.size))
		clear(p[:n])
		f.size -= int64(n)
		if f.size == 0 {
			f.size = -1 // the end
		}
		return n, nil
	case f.size < 0:
		return 0, io.EOF
	}
	clear(p)
	return len(p), nil
}

func (f *lcFile) Write(p []byte) (int, error) { return len(p), nil }

func (f *lcFile) Close() error {
	f.ev.add("file:close")
	return nil
}

func (f *lcFile) Abort(reason error) error {
	f.mu.Lock()
	f.reason = reason
	f.mu.Unlock()
	f.ev.add("file:abort")
	return nil
}

func (f *lcFile) got() (reason, cause error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reason, f.cause
}

// releaseRig is a server whose authenticator gives every login a User of
// its own, numbered from 1, whose Release is recorded ("release:N"), as
// are the Login, Logout ("logout:N", N being the login Session.User
// returns inside the hook, 0 for none) and Disconnect hooks.
type releaseRig struct {
	*ftptest.Server
	ev *lcEvents

	mu    sync.Mutex
	users []*pier.User
	fsys  pier.FileSystem // given to logins; the served folder if nil
}

// newReleaseRig starts the server. The password is "p" for any name; the
// name "nofs" gets a User without a file system (a broken authenticator).
// When the test ends, after the server has shut down, every login must
// have been released exactly once, after its one Logout.
// configure, if not nil, changes the server before it starts.
func newReleaseRig(t *testing.T, fsys func(root pier.FileSystem) pier.FileSystem, configure func(*pier.Server)) *releaseRig {
	t.Helper()
	rig := &releaseRig{ev: &lcEvents{}}
	// Cleanups run last first: this one after the server's shutdown.
	t.Cleanup(func() { rig.checkReleased(t) })
	rig.Server = ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		rig.fsys = s.Root
		if fsys != nil {
			rig.fsys = fsys(s.Root)
		}
		s.Auth = pier.AuthenticatorFunc(func(ctx context.Context, c pier.ConnInfo, user, pass string) (*pier.User, error) {
			if pass != "p" {
				return nil, pier.ErrAuthFailed
			}
			rig.mu.Lock()
			defer rig.mu.Unlock()
			n := len(rig.users) + 1
			u := &pier.User{Name: user, Perm: pier.AllPerms, FS: rig.fsys, Release: func() { rig.ev.add("release:%d", n) }}
			if user == "nofs" {
				u.FS = nil
			}
			rig.users = append(rig.users, u)
			return u, nil
		})
		s.Hooks.Login = func(s *pier.Session) { rig.ev.add("login:%d", rig.index(s.User())) }
		s.Hooks.Logout = func(s *pier.Session) { rig.ev.add("logout:%d", rig.index(s.User())) }
		s.Hooks.Disconnect = func(*pier.Session) { rig.ev.add("disconnect") }
		if configure != nil {
			configure(s.Server)
		}
	}})
	return rig
}

// index returns the number of the login whose User u is, 0 if none.
func (rig *releaseRig) index(u *pier.User) int {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	return slices.Index(rig.users, u) + 1
}

func (rig *releaseRig) login(t *testing.T, c *ftptest.Conn) {
	t.Helper()
	c.Login(t, "u", "p")
}

func (rig *releaseRig) checkReleased(t *testing.T) {
	got := rig.ev.get()
	if slices.Contains(got, "logout:0") {
		t.Errorf("Logout ran with Session.User nil: %q", got)
	}
	rig.mu.Lock()
	defer rig.mu.Unlock()
	for i, u := range rig.users {
		n := i + 1
		rel := fmt.Sprintf("release:%d", n)
		out := fmt.Sprintf("logout:%d", n)
		if c := lcCount(got, rel); c != 1 {
			t.Errorf("login %d released %d times: %q", n, c, got)
		}
		wantLogouts := 1
		if u.FS == nil {
			wantLogouts = 0 // never logged in
		}
		if c := lcCount(got, out); c != wantLogouts {
			t.Errorf("login %d: %d Logout hooks, want %d: %q", n, c, wantLogouts, got)
		} else if c == 1 && slices.Index(got, out) > slices.Index(got, rel) {
			t.Errorf("login %d released before its Logout hook: %q", n, got)
		}
	}
}

func lcCount(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// TestReleaseOnce: every way a login ends calls the Logout hook (with
// Session.User still the user who leaves), then User.Release, once each;
// Disconnect comes after both.
func TestReleaseOnce(t *testing.T) {
	t.Parallel()
	t.Run("QUIT", func(t *testing.T) {
		t.Parallel()
		rig := newReleaseRig(t, nil, nil)
		c := rig.Dial(t)
		rig.login(t, c)
		c.Expect(t, "QUIT", 221)
		expectClosed(t, c)
		rig.ev.waitFor(t, "login:1", "logout:1", "release:1", "disconnect")
	})
	t.Run("REIN", func(t *testing.T) {
		t.Parallel()
		rig := newReleaseRig(t, nil, nil)
		c := rig.Dial(t)
		rig.login(t, c)
		c.Expect(t, "REIN", 220)
		// The login has ended before the 220.
		if got, want := rig.ev.get(), []string{"login:1", "logout:1", "release:1"}; !slices.Equal(got, want) {
			t.Fatalf("after REIN: %q, want %q", got, want)
		}
		c.Expect(t, "PWD", 530)
		c.Expect(t, "QUIT", 221)
		expectClosed(t, c)
		rig.ev.waitFor(t, "login:1", "logout:1", "release:1", "disconnect")
	})
	t.Run("USER while logged in", func(t *testing.T) {
		t.Parallel()
		rig := newReleaseRig(t, nil, nil)
		c := rig.Dial(t)
		rig.login(t, c)
		c.Expect(t, "USER v", 331)
		if got, want := rig.ev.get(), []string{"login:1", "logout:1", "release:1"}; !slices.Equal(got, want) {
			t.Fatalf("after USER: %q, want %q", got, want)
		}
		c.Expect(t, "PASS p", 230)
		c.Expect(t, "PWD", 257)
		c.Expect(t, "QUIT", 221)
		expectClosed(t, c)
		// The second login has its own release, at its own end.
		rig.ev.waitFor(t, "login:1", "logout:1", "release:1", "login:2", "logout:2", "release:2", "disconnect")
	})
	t.Run("client drops", func(t *testing.T) {
		t.Parallel()
		rig := newReleaseRig(t, nil, nil)
		c := rig.Dial(t)
		rig.login(t, c)
		c.Close()
		rig.ev.waitFor(t, "login:1", "logout:1", "release:1", "disconnect")
	})
	t.Run("Server.Close", func(t *testing.T) {
		t.Parallel()
		rig := newReleaseRig(t, nil, nil)
		c := rig.Dial(t)
		rig.login(t, c)
		if err := rig.Close(); err != nil {
			t.Fatal(err)
		}
		c.ExpectReply(t, 421)
		expectClosed(t, c)
		rig.ev.waitFor(t, "login:1", "logout:1", "release:1", "disconnect")
	})
	t.Run("Server.Shutdown", func(t *testing.T) {
		t.Parallel()
		rig := newReleaseRig(t, nil, nil)
		c := rig.Dial(t)
		rig.login(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
		defer cancel()
		if err := rig.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		// Shutdown returns once every session has ended, hooks and
		// releases included.
		if got, want := rig.ev.get(), []string{"login:1", "logout:1", "release:1", "disconnect"}; !slices.Equal(got, want) {
			t.Fatalf("after Shutdown: %q, want %q", got, want)
		}
		c.ExpectReply(t, 421)
		expectClosed(t, c)
	})
	t.Run("login refused for want of a file system", func(t *testing.T) {
		t.Parallel()
		rig := newReleaseRig(t, nil, nil)
		c := rig.Dial(t)
		c.Expect(t, "USER nofs", 331)
		c.Expect(t, "PASS p", 421)
		expectClosed(t, c)
		// Released at once, never logged in: no Login, no Logout.
		rig.ev.waitFor(t, "release:1", "disconnect")
	})
}

// streamRig is a releaseRig whose file "stream" downloads from an lcFile
// made by mk; configure is newReleaseRig's.
func streamRig(t *testing.T, mk func(ctx context.Context, ev *lcEvents) *lcFile, configure func(*pier.Server)) (*releaseRig, chan *lcFile) {
	t.Helper()
	files := make(chan *lcFile, 1)
	var ev *lcEvents
	rig := newReleaseRig(t, func(root pier.FileSystem) pier.FileSystem {
		return &lcFS{FileSystem: root, open: func(ctx context.Context, name string, flag int) (pier.File, error) {
			if name != "stream" || flag != os.O_RDONLY {
				return root.OpenFile(ctx, name, flag, 0o644)
			}
			f := mk(ctx, ev)
			ev.add("file:open")
			files <- f
			return f, nil
		}}
	}, configure)
	ev = rig.ev
	writeFile(t, rig.Server, "stream", []byte("x"))
	return rig, files
}

// TestReleaseAfterTransfer: a client that drops its control connection
// during a download ends the login only once the transfer's file has been
// ended (Abort, with ErrSessionClosed).
func TestReleaseAfterTransfer(t *testing.T) {
	t.Parallel()
	rig, files := streamRig(t, func(ctx context.Context, ev *lcEvents) *lcFile {
		return &lcFile{ctx: ctx, ev: ev, reading: make(chan struct{})}
	}, nil)
	c := rig.Dial(t)
	rig.login(t, c)
	dc := c.Passive(t) // never read: the server's writes block
	c.Send(t, "RETR stream")
	expectPrelim(t, c)
	f := <-files
	<-f.reading
	c.Close()
	rig.ev.waitFor(t, "login:1", "file:open", "file:abort", "logout:1", "release:1", "disconnect")
	if reason, _ := f.got(); !errors.Is(reason, pier.ErrSessionClosed) {
		t.Errorf("Abort reason %v, want ErrSessionClosed", reason)
	}
	dc.Close()
}

// TestReleaseAfterStuckTransfer: a file whose Read ignores its context
// holds the transfer past the session's end; the login is released only
// when the transfer has ended, even if that is long after.
func TestReleaseAfterStuckTransfer(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	rig, files := streamRig(t, func(ctx context.Context, ev *lcEvents) *lcFile {
		return &lcFile{ctx: ctx, ev: ev, hold: hold, reading: make(chan struct{})}
	}, nil)
	c := rig.Dial(t)
	rig.login(t, c)
	c.Passive(t)
	c.Send(t, "RETR stream")
	expectPrelim(t, c)
	f := <-files
	<-f.reading
	c.Close()
	// The session gives up waiting for the transfer (after its grace)
	// and ends: Shutdown sees it gone. The login must not be released
	// while the file is still being read, nor Disconnect run before it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rig.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := rig.ev.get(); !slices.Equal(got, []string{"login:1", "file:open"}) {
		t.Fatalf("before the file ended: %q", got)
	}
	close(hold)
	rig.ev.waitFor(t, "login:1", "file:open", "file:abort", "logout:1", "release:1", "disconnect")
}

// outageRig is a server whose authenticator is down for the password
// "outage", and knows the password "right"; BanAfter 1 and
// MaxLoginAttempts 1. LoginFailed calls are counted.
func outageRig(t *testing.T) (*ftptest.Server, *lcEvents) {
	t.Helper()
	ev := &lcEvents{}
	srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		root := s.Root
		s.BanAfter = 1
		s.MaxLoginAttempts = 1
		s.Auth = pier.AuthenticatorFunc(func(ctx context.Context, c pier.ConnInfo, user, pass string) (*pier.User, error) {
			switch pass {
			case "outage":
				return nil, errors.New("database unreachable")
			case "right":
				return &pier.User{Name: user, Perm: pier.ReadPerms, FS: root}, nil
			}
			return nil, fmt.Errorf("wrong password for %s: %w", user, pier.ErrAuthFailed)
		})
		s.Hooks.LoginFailed = func(_ *pier.Session, user string) { ev.add("login_failed:%s", user) }
	}})
	return srv, ev
}

// TestAuthOutage: an authenticator error other than ErrAuthFailed gets 421
// and the connection closes; it counts as no failed login (no ban, no
// LoginFailed hook) even where one failure bans.
func TestAuthOutage(t *testing.T) {
	t.Parallel()
	srv, ev := outageRig(t)
	for range 3 {
		c := srv.Dial(t)
		c.Expect(t, "USER u", 331)
		text := c.Expect(t, "PASS outage", 421)
		if strings.Contains(text, "database") {
			t.Errorf("the authenticator's error reached the client: %q", text)
		}
		expectClosed(t, c)
	}
	// Nobody is banned: a new connection gets the banner and logs in.
	c := srv.Dial(t)
	c.Login(t, "u", "right")
	c.Expect(t, "PWD", 257)
	c.Expect(t, "QUIT", 221)
	if got := ev.get(); len(got) != 0 {
		t.Errorf("LoginFailed ran for outages: %q", got)
	}
}

// TestAuthFailureBans: a real ErrAuthFailed (wrapped) counts: with
// MaxLoginAttempts 1 the connection closes, with BanAfter 1 the address is
// banned, and the next connection gets 421 before any banner.
func TestAuthFailureBans(t *testing.T) {
	t.Parallel()
	srv, ev := outageRig(t)
	c := srv.Dial(t)
	c.Expect(t, "USER u", 331)
	c.Expect(t, "PASS wrong", 530)
	expectClosed(t, c)
	ev.waitFor(t, "login_failed:u")
	next := srv.DialRaw(t)
	code, text, err := next.ReadReply()
	if err != nil || code != 421 {
		t.Fatalf("connection after a ban: got %d %q %v, want 421", code, text, err)
	}
	expectClosed(t, next)
}

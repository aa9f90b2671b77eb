package pier_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

// recorder collects hook events in order.
type recorder struct {
	mu     sync.Mutex
	events []string
	infos  []pier.TransferInfo
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// waitFor polls until the events equal want (hooks such as Disconnect run
// after the client has seen the connection close). Bounded by ioDeadline.
func (r *recorder) waitFor(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(ioDeadline)
	for time.Now().Before(deadline) {
		if slices.Equal(r.get(), want) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("hook events %q, want %q", r.get(), want)
}

func hookServer(t *testing.T) (*ftptest.Server, *recorder) {
	t.Helper()
	r := &recorder{}
	user := func(s *pier.Session) string {
		if u := s.User(); u != nil {
			return u.Name
		}
		return ""
	}
	file := func(name string) func(*pier.Session, pier.TransferInfo) {
		return func(s *pier.Session, ti pier.TransferInfo) {
			r.mu.Lock()
			r.infos = append(r.infos, ti)
			r.mu.Unlock()
			r.add(name + ":" + ti.Path)
		}
	}
	srv := newServer(t, func(s *pier.Server) {
		s.Hooks = pier.Hooks{
			Connect: func(s *pier.Session) error {
				if s.ID() == 0 || !s.RemoteAddr().IsValid() || !s.LocalAddr().IsValid() || s.Context().Err() != nil {
					t.Errorf("Connect: bad session %d %v %v", s.ID(), s.RemoteAddr(), s.LocalAddr())
				}
				r.add("connect")
				return nil
			},
			Disconnect: func(s *pier.Session) {
				r.add("disconnect")
				// The session's context ends with the session.
				select {
				case <-s.Context().Done():
				case <-time.After(ioDeadline):
					t.Error("Disconnect: context still live")
				}
			},
			Login:                  func(s *pier.Session) { r.add("login:" + user(s)) },
			LoginFailed:            func(s *pier.Session, name string) { r.add("login_failed:" + name) },
			Logout:                 func(s *pier.Session) { r.add("logout:" + user(s)) },
			FileSent:               file("sent"),
			FileReceived:           file("received"),
			IncompleteFileSent:     file("incomplete_sent"),
			IncompleteFileReceived: file("incomplete_received"),
		}
	})
	return srv, r
}

// TestHooksSequences replays pyftpdlib's callback tests.
func TestHooksSequences(t *testing.T) {
	t.Run("login then close", func(t *testing.T) {
		srv, r := hookServer(t)
		c := login(t, srv)
		c.Close()
		// The login ends with the connection: Logout runs, then
		// Disconnect.
		r.waitFor(t, "connect", "login:user", "logout:user", "disconnect")
	})
	t.Run("login then QUIT", func(t *testing.T) {
		srv, r := hookServer(t)
		c := login(t, srv)
		c.Expect(t, "QUIT", 221)
		r.waitFor(t, "connect", "login:user", "logout:user", "disconnect")
	})
	t.Run("login then REIN", func(t *testing.T) {
		srv, r := hookServer(t)
		c := login(t, srv)
		c.Expect(t, "REIN", 220)
		r.waitFor(t, "connect", "login:user", "logout:user")
	})
	t.Run("USER without PASS", func(t *testing.T) {
		srv, r := hookServer(t)
		c := srv.Dial(t)
		c.Expect(t, "USER user", 331)
		r.waitFor(t, "connect")
	})
	t.Run("user then anonymous", func(t *testing.T) {
		srv, r := hookServer(t)
		c := login(t, srv)
		c.Expect(t, "USER anonymous", 331)
		c.Expect(t, "PASS x", 230)
		r.waitFor(t, "connect", "login:user", "logout:user", "login:anonymous")
	})
	t.Run("failed login", func(t *testing.T) {
		srv, r := hookServer(t)
		c := srv.Dial(t)
		c.Expect(t, "USER foo", 331)
		c.Expect(t, "PASS bar?!?", 530)
		r.waitFor(t, "connect", "login_failed:foo")
	})
}

func TestHooksFiles(t *testing.T) {
	srv, r := hookServer(t)
	writeFile(t, srv, "big", pattern(64<<20))
	c := login(t, srv)
	c.Store(t, "STOR up.txt", []byte("hello"))
	c.Retrieve(t, "RETR up.txt")
	c.Retrieve(t, "LIST") // listings fire no file hooks
	r.waitFor(t, "connect", "login:user", "received:/up.txt", "sent:/up.txt")

	// RETR cut short by the client closing the data connection.
	dc := c.Passive(t)
	c.Send(t, "RETR big")
	expectPrelim(t, c)
	io.ReadFull(dc, make([]byte, 32<<10))
	dc.Close()
	if code, _, _ := c.ReadReply(); code != 426 {
		t.Fatalf("RETR closed early: %d, want 426", code)
	}
	r.waitFor(t, "connect", "login:user", "received:/up.txt", "sent:/up.txt", "incomplete_sent:/big")

	// STOR cut by ABOR.
	dc = c.Passive(t)
	c.Send(t, "STOR part")
	expectPrelim(t, c)
	dc.Write(make([]byte, 32<<10))
	c.Send(t, "ABOR")
	c.ExpectReply(t, 426)
	c.ExpectReply(t, 226)
	r.waitFor(t, "connect", "login:user", "received:/up.txt", "sent:/up.txt", "incomplete_sent:/big", "incomplete_received:/part")

	r.mu.Lock()
	defer r.mu.Unlock()
	if ti := r.infos[0]; ti.Command != "STOR" || ti.Bytes != 5 || ti.Err != nil {
		t.Errorf("FileReceived info %+v", ti)
	}
	if ti := r.infos[2]; ti.Command != "RETR" || ti.Err == nil || ti.Bytes == 0 {
		t.Errorf("IncompleteFileSent info %+v", ti)
	}
}

func TestConnectHookRefuses(t *testing.T) {
	srv := newServer(t, func(s *pier.Server) {
		s.Hooks.Connect = func(*pier.Session) error { return &pier.Refusal{Text: "You are banned."} }
	})
	c := srv.DialRaw(t)
	if code, text, _ := c.ReadReply(); code != 421 || text != "You are banned." {
		t.Fatalf("got %d %q, want 421 You are banned.", code, text)
	}
	expectClosed(t, c)
}

func TestMiddleware(t *testing.T) {
	var mu sync.Mutex
	var seen, calls []string
	srv := newServer(t, func(s *pier.Server) {
		s.Middleware = []pier.Middleware{
			func(s *pier.Session, r *pier.Request, next func() error) error {
				mu.Lock()
				calls = append(calls, r.Command+" "+r.Path)
				mu.Unlock()
				if r.Command == "DELE" && strings.HasSuffix(r.Path, ".keep") {
					return &pier.ReplyError{Code: 550, Message: "Files ending in .keep can't be deleted."}
				}
				err := next()
				mu.Lock()
				seen = append(seen, r.Command)
				mu.Unlock()
				return err
			},
			func(s *pier.Session, r *pier.Request, next func() error) error {
				if r.Command == "SITE CHMOD" && strings.HasPrefix(r.Word, "777") {
					s.Reply(550, "No world-writable files here.")
					return nil
				}
				return next()
			},
		}
	})
	writeFile(t, srv, "a.keep", []byte("x"))
	writeFile(t, srv, "b.txt", []byte("x"))
	// Before login the pipeline refuses, and middleware never runs.
	anon := srv.DialRaw(t)
	anon.ExpectReply(t, 220)
	anon.Expect(t, "DELE a.keep", 530)
	c := login(t, srv)
	// Every spelling of the path reaches the middleware resolved.
	for _, p := range []string{"a.keep", "a.keep/.", "./a.keep", "/a.keep", "x/../a.keep"} {
		if text := c.Expect(t, "DELE "+p, 550); text != "Files ending in .keep can't be deleted." {
			t.Errorf("DELE %s: %q", p, text)
		}
	}
	c.Expect(t, "SITE CHMOD 777 b.txt", 550)
	c.Expect(t, "SITE CHMOD 644 b.txt", 200)
	c.Expect(t, "DELE b.txt", 250)
	c.Expect(t, "BOGUS", 500) // unknown commands don't reach middleware
	if _, err := os.Stat(filepath.Join(srv.Dir, "a.keep")); err != nil {
		t.Fatal("a.keep deleted despite the middleware")
	}
	mu.Lock()
	defer mu.Unlock()
	// USER, PASS and TYPE from Login, then the commands that ran.
	want := []string{"USER", "PASS", "TYPE", "SITE CHMOD", "SITE CHMOD", "DELE"}
	if !slices.Equal(seen, want) {
		t.Fatalf("middleware saw %q, want %q", seen, want)
	}
	if calls[0] != "USER " {
		t.Errorf("middleware ran before login: %q", calls)
	}
}

func TestCustomCommands(t *testing.T) {
	srv := newServer(t, nil)
	// The seed's example: SITE RMTREE removes a folder and its contents.
	err := srv.HandleSite(pier.Command{
		Name: "RMTREE", Help: "Syntax: SITE RMTREE <SP> path (remove a directory tree).",
		NeedsLogin: true, Perm: "d", Path: pier.PathArg, Arg: pier.ArgRequired,
		Handler: func(s *pier.Session, r *pier.Request) error {
			if r.Name == "." {
				return &pier.ReplyError{Code: 550, Message: "Can't remove the root."}
			}
			if err := os.RemoveAll(filepath.Join(srv.Dir, r.Name)); err != nil {
				return err
			}
			s.Reply(250, "Tree removed.")
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.HandleCommand(pier.Command{Name: "xhello", Arg: pier.ArgOptional, Handler: func(s *pier.Session, r *pier.Request) error {
		s.Reply(200, fmt.Sprintf("Hello %s from session %d.", r.Arg, s.ID()))
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	srv.HandleCommand(pier.Command{Name: "SYST", Handler: func(s *pier.Session, _ *pier.Request) error { s.Reply(215, "UNIX Type: L8 (pier)"); return nil }})
	srv.RemoveCommand("MFMT")
	nop := func(*pier.Session, *pier.Request) error { return nil }
	for _, bad := range []pier.Command{{Name: "", Handler: nop}, {Name: "X"}, {Name: "SITE", Handler: nop}, {Name: "Y", Perm: "Z", Handler: nop},
		{Name: "Z", Stat: true, Handler: nop}, {Name: "W", Path: 9, Handler: nop}} {
		add := srv.HandleCommand
		if err := add(bad); err == nil {
			t.Errorf("HandleCommand(%+v) accepted", bad)
		}
	}

	mkdirs(t, srv, "tree/a/b")
	writeFile(t, srv, "tree/a/b/f", []byte("x"))
	c := srv.Dial(t)
	c.Expect(t, "XHELLO you", 200)       // no login needed
	c.Expect(t, "SITE RMTREE tree", 530) // login needed
	if _, help := c.Cmd(t, "SITE HELP"); !strings.Contains(help, "RMTREE") {
		t.Errorf("SITE HELP lacks RMTREE: %q", help)
	}
	if code, help := c.Cmd(t, "HELP SITE RMTREE"); code != 214 || !strings.Contains(help, "remove a directory tree") {
		t.Errorf("HELP SITE RMTREE: %d %q", code, help)
	}
	if _, help := c.Cmd(t, "HELP"); !strings.Contains(help, "XHELLO") || strings.Contains(help, "MFMT") {
		t.Errorf("HELP: %q", help)
	}
	if _, feat := c.Cmd(t, "FEAT"); strings.Contains(feat, "MFMT") {
		t.Errorf("FEAT lists the removed MFMT: %q", feat)
	}
	if _, text := c.Cmd(t, "SYST"); text != "UNIX Type: L8 (pier)" {
		t.Errorf("replaced SYST: %q", text)
	}
	c.Login(t, "anonymous", "x")
	c.Expect(t, "SITE RMTREE tree", 550) // anonymous has no 'd'
	c.Expect(t, "SITE RMTREE", 501)
	c.Expect(t, "MFMT 20200101000000 x", 500)
	c.Login(t, ftptest.User, ftptest.Password)
	c.Expect(t, "SITE RMTREE tree", 250)
	if _, err := os.Stat(filepath.Join(srv.Dir, "tree")); !os.IsNotExist(err) {
		t.Fatal("tree still there")
	}
}

// TestCustomCommandPerm: a custom command's Perm is checked at its path
// argument (PathArg) or at the working directory, per-path overrides
// included, and before login it gets 530, whether or not NeedsLogin is set.
func TestCustomCommandPerm(t *testing.T) {
	srv := newServer(t, nil)
	mkdirs(t, srv, "incoming/x")
	if err := srv.Users.AddUser("bob", auth.Account{Password: "b", FS: srv.Root, Perm: pier.ReadPerms, Overrides: []pier.PermOverride{
		{Dir: "/incoming", Perm: "elrdmw", Recursive: true},
	}}); err != nil {
		t.Fatal(err)
	}
	ok := func(s *pier.Session, r *pier.Request) error { s.Reply(200, "ok "+r.Arg); return nil }
	for _, c := range []pier.Command{
		{Name: "ZAP", Perm: "d", Path: pier.PathArg, Arg: pier.ArgRequired, Handler: ok},
		{Name: "ZAPHERE", Perm: "d", Arg: pier.ArgOptional, Handler: ok},
	} {
		if err := srv.HandleSite(c); err != nil {
			t.Fatal(err)
		}
		if err := srv.HandleCommand(c); err != nil {
			t.Fatal(err)
		}
	}
	c := srv.Dial(t)
	runSteps(t, c, []step{
		// Perm without NeedsLogin, before login: 530, not a crash.
		{"ZAP /incoming/x", 530, ""},
		{"SITE ZAP /incoming/x", 530, ""},
		{"ZAPHERE", 530, ""},
		{"USER bob", 331, ""}, {"PASS b", 230, ""},
		{"ZAP /incoming/x", 200, ""}, // 'd' at the argument
		{"SITE ZAP /incoming/x", 200, ""},
		{"ZAP /elsewhere", 550, ""},
		{"ZAPHERE", 550, ""}, // 'd' at the working directory, /
		{"CWD /incoming", 250, ""},
		{"ZAPHERE", 200, ""},
		{"ZAP x", 200, ""}, // relative to the working directory
		{"ZAP ../other", 550, ""},
	})
}

// TestPermOverrides: pyftpdlib's override_perm, as anonymous with an upload
// folder.
func TestPermOverrides(t *testing.T) {
	srv := newServer(t, nil)
	mkdirs(t, srv, "incoming/deep", "pub")
	if err := srv.Users.AddUser("guest", auth.Account{Password: "g", FS: srv.Root, Perm: pier.ReadPerms, Overrides: []pier.PermOverride{
		{Dir: "/incoming", Perm: "elrwm"},
		{Dir: "/pub", Perm: "elradfmw", Recursive: true},
	}}); err != nil {
		t.Fatal(err)
	}
	c := srv.Dial(t)
	c.Login(t, "guest", "g")
	runSteps(t, c, []step{
		{"MKD /x", 550, ""},             // root: read-only
		{"MKD /incoming/new", 257, ""},  // direct child of the non-recursive override
		{"DELE /incoming/new", 550, ""}, // no 'd' there
		{"MKD /pub/a", 257, ""},
		{"MKD /pub/a/b", 257, ""}, // recursive
		{"RMD /pub/a/b", 250, ""},
		{"MKD /incoming/deep/x", 550, ""}, // grandchild of a non-recursive override
	})
	c.Store(t, "STOR /incoming/up.txt", []byte("up"))
	c.Passive(t)
	c.Expect(t, "STOR /up.txt", 550)
}

func TestThrottle(t *testing.T) {
	srv := newServer(t, func(s *pier.Server) {
		s.WriteLimit = 256 << 10 // 256 KiB/s
		s.ReadLimit = 256 << 10
	})
	data := pattern(96 << 10)
	writeFile(t, srv, "f", data)
	c := login(t, srv)
	// The content arrives whole and unchanged through the limiter; how
	// long it takes is not asserted (no timing in tests).
	if got := c.Retrieve(t, "RETR f"); string(got) != string(data) {
		t.Fatalf("throttled RETR: %d bytes", len(got))
	}
	c.Store(t, "STOR g", data)
	if got := readFile(t, srv, "g"); string(got) != string(data) {
		t.Fatalf("throttled STOR: %d bytes", len(got))
	}
	// ABOR still interrupts a throttled transfer waiting for tokens.
	writeFile(t, srv, "big", pattern(8<<20))
	dc := c.Passive(t)
	c.Send(t, "RETR big")
	expectPrelim(t, c)
	io.ReadFull(dc, make([]byte, 1024))
	c.Send(t, "ABOR")
	c.ExpectReply(t, 426)
	c.ExpectReply(t, 226)
	c.Expect(t, "NOOP", 200)
}

func TestConnectHookPlainErrorAndSessionClose(t *testing.T) {
	srv := newServer(t, func(s *pier.Server) {
		s.Hooks.Connect = func(s *pier.Session) error {
			if s.ID() == 1 {
				return errors.New("internal reason, not for the client")
			}
			return nil
		}
		s.Middleware = []pier.Middleware{func(s *pier.Session, r *pier.Request, next func() error) error {
			if r.Command == "SITE HELP" {
				s.Reply(421, "Bye.")
				s.Close()
				return nil
			}
			return next()
		}}
	})
	c := srv.DialRaw(t)
	if code, text, _ := c.ReadReply(); code != 421 || text != "Service not available." {
		t.Fatalf("got %d %q", code, text)
	}
	c2 := login(t, srv)
	c2.Expect(t, "SITE HELP", 421)
	expectClosed(t, c2)
}

package pier_test

// The command pipeline (issue 16), as middleware and custom commands see
// it: paths resolved before anything looks at them, the login checked
// before any middleware, permission letters at the resolved path, and
// Command.Stat's lookup between the middleware and the handler.

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

// lockGuard is a middleware that refuses DELE of "*.lock" files, and
// records the command and resolved path of every call.
type lockGuard struct {
	mu    sync.Mutex
	calls []string
	infos []bool // whether Request.Info was set when the middleware ran
}

func (g *lockGuard) middleware(s *pier.Session, r *pier.Request, next func() error) error {
	g.mu.Lock()
	g.calls = append(g.calls, r.Command+" "+r.Path)
	g.infos = append(g.infos, r.Info != nil)
	g.mu.Unlock()
	if r.Command == "DELE" && strings.HasSuffix(r.Path, ".lock") {
		return &pier.ReplyError{Code: 550, Message: "Lock files stay."}
	}
	return next()
}

func (g *lockGuard) get() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.calls...)
}

// TestMiddlewareSeesResolvedPath: no spelling of a path gets past a
// middleware that refuses it by name: the middleware sees the path
// resolved, whatever the working directory.
func TestMiddlewareSeesResolvedPath(t *testing.T) {
	t.Parallel()
	g := &lockGuard{}
	srv := newServer(t, func(s *pier.Server) { s.Middleware = []pier.Middleware{g.middleware} })
	writeFile(t, srv, "a.lock", []byte("x"))
	writeFile(t, srv, "b.txt", []byte("x"))
	mkdirs(t, srv, "sub")
	c := login(t, srv)
	for _, p := range []string{"a.lock", "a.lock/.", "./a.lock", "sub/../a.lock", "/a.lock", "//a.lock", "a.lock/", "/sub/../../a.lock", "../a.lock"} {
		if text := c.Expect(t, "DELE "+p, 550); text != "Lock files stay." {
			t.Errorf("DELE %s: %q", p, text)
		}
	}
	c.Expect(t, "CWD sub", 250)
	for _, p := range []string{"../a.lock", "./../a.lock", "../sub/../a.lock"} {
		if text := c.Expect(t, "DELE "+p, 550); text != "Lock files stay." {
			t.Errorf("DELE %s from /sub: %q", p, text)
		}
	}
	c.Expect(t, "DELE ../b.txt", 250)
	if _, err := os.Stat(srv.Dir + "/a.lock"); err != nil {
		t.Fatalf("a.lock deleted past the middleware: %v", err)
	}
	for _, call := range g.get() {
		if strings.HasPrefix(call, "DELE ") && call != "DELE /a.lock" && call != "DELE /b.txt" {
			t.Errorf("middleware saw %q, not a resolved path", call)
		}
	}
}

// TestMiddlewareNotBeforeLogin: commands that need a login are refused
// (530) before any middleware runs.
func TestMiddlewareNotBeforeLogin(t *testing.T) {
	t.Parallel()
	g := &lockGuard{}
	srv := newServer(t, func(s *pier.Server) { s.Middleware = []pier.Middleware{g.middleware} })
	if err := srv.HandleCommand(pier.Command{Name: "XMINE", NeedsLogin: true, Handler: func(s *pier.Session, r *pier.Request) error {
		s.Reply(200, "mine")
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.HandleSite(pier.Command{Name: "ZAP", Perm: "d", Path: pier.PathArg, Arg: pier.ArgRequired, Handler: func(s *pier.Session, r *pier.Request) error {
		s.Reply(200, "zapped")
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, srv, "a.lock", []byte("x"))
	c := srv.Dial(t)
	for _, line := range []string{"DELE a.lock", "RETR a.lock", "STOR x", "CWD /", "LIST", "MKD d", "PWD", "PASV",
		"SITE CHMOD 644 a.lock", "SITE ZAP a.lock", "XMINE", "ABOR", "REIN"} {
		c.Expect(t, line, 530)
	}
	if got := g.get(); len(got) != 0 {
		t.Fatalf("middleware ran before login: %q", got)
	}
	c.Login(t, ftptest.User, ftptest.Password)
	c.Expect(t, "XMINE", 200)
	want := []string{"USER ", "PASS ", "TYPE ", "XMINE "}
	if got := g.get(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("middleware calls %q, want %q", got, want)
	}
}

// TestCustomCommandPermAtResolvedPath: a custom command's permission
// letters are checked at its resolved path argument, with the user's
// overrides, and the handler gets that path.
func TestCustomCommandPermAtResolvedPath(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	mkdirs(t, srv, "drop/x", "pub")
	if err := srv.Users.AddUser("dan", auth.Account{Password: "d", FS: srv.Root, Perm: pier.ReadPerms,
		Overrides: []pier.PermOverride{{Dir: "/drop", Perm: "elrd", Recursive: true}}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	if err := srv.HandleCommand(pier.Command{Name: "XZAP", Perm: "d", Path: pier.PathArg, Arg: pier.ArgRequired,
		Handler: func(s *pier.Session, r *pier.Request) error {
			mu.Lock()
			got = append(got, r.Path+" "+r.Name)
			mu.Unlock()
			s.Reply(200, "ok")
			return nil
		}}); err != nil {
		t.Fatal(err)
	}
	c := srv.Dial(t)
	c.Login(t, "dan", "d")
	runSteps(t, c, []step{
		{"XZAP /drop/x", 200, ""},
		{"XZAP /drop", 200, ""}, // the override's folder itself
		{"XZAP /pub", 550, ""},  // read-only there
		{"XZAP /drop/../pub", 550, ""},
		{"CWD /pub", 250, ""},
		{"XZAP ../drop/x", 200, ""},
		{"XZAP ../../../drop/y", 200, ""}, // ".." stops at the root
		{"XZAP x", 550, ""},               // /pub/x
		{"XZAP /drop/x/../../pub/x", 550, ""},
	})
	mu.Lock()
	defer mu.Unlock()
	want := []string{"/drop/x drop/x", "/drop drop", "/drop/x drop/x", "/drop/y drop/y"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("handler got %q, want %q", got, want)
	}
}

// TestCommandStat: a custom command with Stat gets Request.Info (the path
// itself, a symbolic link not followed); a missing path gets 550 before
// the handler runs, after the middleware.
func TestCommandStat(t *testing.T) {
	t.Parallel()
	g := &lockGuard{}
	srv := newServer(t, func(s *pier.Server) { s.Middleware = []pier.Middleware{g.middleware} })
	writeFile(t, srv, "f", []byte("hello"))
	if err := os.Symlink("f", srv.Dir+"/link"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	if err := srv.HandleCommand(pier.Command{Name: "XINFO", NeedsLogin: true, Path: pier.PathArg, Stat: true, Arg: pier.ArgRequired,
		Handler: func(s *pier.Session, r *pier.Request) error {
			mu.Lock()
			calls++
			mu.Unlock()
			if r.Info == nil {
				return &pier.ReplyError{Code: 451, Message: "no Info"}
			}
			kind := "file"
			if r.Info.Mode()&os.ModeSymlink != 0 {
				kind = "link"
			}
			s.Reply(213, r.Info.Name()+" "+kind+" "+strconv.FormatInt(r.Info.Size(), 10))
			return nil
		}}); err != nil {
		t.Fatal(err)
	}
	c := login(t, srv)
	runSteps(t, c, []step{
		{"XINFO f", 213, "f file 5"},
		{"XINFO /link", 213, "link link 1"},
		{"XINFO missing", 550, "No such file or directory."},
		{"XINFO /nowhere/f", 550, ""},
	})
	mu.Lock()
	if calls != 2 {
		t.Errorf("handler ran %d times, want 2 (not for missing paths)", calls)
	}
	mu.Unlock()
	// The middleware ran for all four, before the path was looked up.
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for i, call := range g.calls {
		if strings.HasPrefix(call, "XINFO ") {
			n++
			if g.infos[i] {
				t.Errorf("%s: Info set before the middleware", call)
			}
		}
	}
	if n != 4 {
		t.Errorf("middleware saw %d XINFO, want 4: %q", n, g.calls)
	}
}

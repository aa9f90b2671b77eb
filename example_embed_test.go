package pier_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/mem"
)

// Each example starts a server on a loopback port and talks to it over a
// raw connection: send writes a command line (none for the greeting) and
// prints the reply, every line of it.

// A custom SITE sub-command gets the same argument, login and permission
// checks as the built-in ones, and SITE HELP lists it.
func ExampleServer_HandleSite() {
	users := &auth.Virtual{}
	users.AddUser("alice", auth.Account{Password: "s3cret", FS: mem.New()})
	srv := &pier.Server{
		Auth:   users,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	err := srv.HandleSite(pier.Command{
		Name:       "WHOAMI",
		Help:       "Syntax: SITE WHOAMI (show your name and address).",
		NeedsLogin: true,
		Arg:        pier.ArgNone,
		Handler: func(s *pier.Session, _ *pier.Request) error {
			s.Reply(200, "You are "+s.User().Name+" from "+s.RemoteAddr().Addr().String()+".")
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	send := exampleSender(c)

	send("")
	send("SITE WHOAMI")
	send("USER alice")
	send("PASS s3cret")
	send("SITE WHOAMI now")
	send("SITE WHOAMI")
	send("SITE HELP WHOAMI")
	// Output:
	// 220 pier FTP server ready.
	// 530 Log in with USER and PASS first.
	// 331 Username ok, send password.
	// 230 Login successful.
	// 501 Syntax error: command does not accept arguments.
	// 200 You are alice from 127.0.0.1.
	// 214 Syntax: SITE WHOAMI (show your name and address).
}

// Hooks see each session's events. They run on the session's own
// goroutine, so this one hands its events to a channel rather than
// printing them among the client's replies.
func ExampleHooks() {
	users := &auth.Virtual{}
	users.AddUser("alice", auth.Account{Password: "s3cret", FS: mem.New()})
	events := make(chan string, 10)
	srv := &pier.Server{
		Auth:           users,
		LoginFailDelay: -1, // no delay after a wrong password, for the example
		Hooks: pier.Hooks{
			Connect: func(s *pier.Session) error {
				events <- "connect from " + s.RemoteAddr().Addr().String()
				return nil // an error would refuse the client with 421
			},
			LoginFailed: func(s *pier.Session, user string) { events <- "login failed: " + user },
			Login:       func(s *pier.Session) { events <- "login: " + s.User().Name },
			Logout:      func(s *pier.Session) { events <- "logout: " + s.User().Name },
			Disconnect:  func(s *pier.Session) { events <- "disconnect" },
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	send := exampleSender(c)

	send("")
	send("USER alice")
	send("PASS guess")
	send("USER alice")
	send("PASS s3cret")
	send("QUIT")
	// Disconnect fires after the connection has closed.
	for e := range events {
		fmt.Println("hook:", e)
		if e == "disconnect" {
			break
		}
	}
	// Output:
	// 220 pier FTP server ready.
	// 331 Username ok, send password.
	// 530 Authentication failed.
	// 331 Username ok, send password.
	// 230 Login successful.
	// 221 Goodbye.
	// hook: connect from 127.0.0.1
	// hook: login failed: alice
	// hook: login: alice
	// hook: logout: alice
	// hook: disconnect
}

// A middleware sees every command once the server has checked it (login,
// argument, permission), under its upper-case name ("SITE CHMOD" for SITE
// sub-commands) and with its path resolved, and may refuse it by returning
// a *pier.ReplyError instead of calling next.
func ExampleMiddleware() {
	noDeletes := func(s *pier.Session, r *pier.Request, next func() error) error {
		switch r.Command {
		case "DELE", "RMD", "SITE CHMOD":
			return &pier.ReplyError{Code: 550, Message: r.Command + " is disabled on this server."}
		}
		start := time.Now()
		err := next()
		s.Logger().Debug("command done", "cmd", r.Command, "path", r.Path, "took", time.Since(start))
		return err
	}

	fsys := mem.New()
	fsys.WriteFile("notes.txt", []byte("keep me\n"))
	users := &auth.Virtual{}
	users.AddUser("alice", auth.Account{Password: "s3cret", FS: fsys, Perm: pier.AllPerms})
	srv := &pier.Server{
		Auth:       users,
		Middleware: []pier.Middleware{noDeletes},
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	send := exampleSender(c)

	send("")
	send("USER alice")
	send("PASS s3cret")
	send("DELE notes.txt")
	send("SITE CHMOD 600 notes.txt")
	send("MKD docs")
	// Output:
	// 220 pier FTP server ready.
	// 331 Username ok, send password.
	// 230 Login successful.
	// 550 DELE is disabled on this server.
	// 550 SITE CHMOD is disabled on this server.
	// 257 "/docs" directory created.
}

// A read-only user who may upload and make folders under /incoming, like
// pyftpdlib's override_perm.
func ExamplePermOverride() {
	fsys := mem.New()
	fsys.Mkdir(context.Background(), "incoming", 0o755)
	users := &auth.Virtual{}
	users.AddUser("bob", auth.Account{
		Password:  "builder",
		FS:        fsys,
		Perm:      pier.ReadPerms,
		Overrides: []pier.PermOverride{{Dir: "/incoming", Perm: pier.ReadPerms + "mw", Recursive: true}},
	})
	srv := &pier.Server{
		Auth:   users,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	send := exampleSender(c)

	send("")
	send("USER bob")
	send("PASS builder")
	send("MKD /photos")
	send("MKD /incoming/photos")
	send("RMD /incoming/photos")
	// Output:
	// 220 pier FTP server ready.
	// 331 Username ok, send password.
	// 230 Login successful.
	// 550 Not enough privileges.
	// 257 "/incoming/photos" directory created.
	// 550 Not enough privileges.
}

// PermAt answers with the deepest override that matches; a non-recursive
// one covers a folder and the entries directly in it.
func ExampleUser_PermAt() {
	u := &pier.User{
		Perm: pier.ReadPerms,
		Overrides: []pier.PermOverride{
			{Dir: "/incoming", Perm: "elrw"},
			{Dir: "/incoming/private", Perm: "", Recursive: true},
		},
	}
	for _, p := range []string{"/", "/docs/a.txt", "/incoming", "/incoming/a.txt", "/incoming/sub/b.txt", "/incoming/private/c.txt"} {
		fmt.Printf("%-24s %q\n", p, u.PermAt(p))
	}
	// Output:
	// /                        "elr"
	// /docs/a.txt              "elr"
	// /incoming                "elrw"
	// /incoming/a.txt          "elrw"
	// /incoming/sub/b.txt      "elr"
	// /incoming/private/c.txt  ""
}

// An Authenticator that lets only some networks log in, wrapped around
// the virtual users: ConnInfo carries the client's address.
func ExampleAuthenticatorFunc() {
	users := &auth.Virtual{}
	users.AddUser("alice", auth.Account{Password: "s3cret", FS: mem.New(), LoginMessage: "Welcome, alice."})
	allowed := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("192.168.0.0/16"),
	}
	allowList := pier.AuthenticatorFunc(func(ctx context.Context, c pier.ConnInfo, user, pass string) (*pier.User, error) {
		ip := c.RemoteAddr.Addr()
		if !slices.ContainsFunc(allowed, func(p netip.Prefix) bool { return p.Contains(ip) }) {
			// The client sees only a generic 530; the log gets the reason.
			return nil, fmt.Errorf("%s is not allowed: %w", ip, pier.ErrAuthFailed)
		}
		return users.Authenticate(ctx, c, user, pass)
	})
	srv := &pier.Server{
		Auth:           allowList,
		LoginFailDelay: -1,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	send := exampleSender(c)

	send("")
	send("USER alice")
	send("PASS wrong")
	send("USER alice")
	send("PASS s3cret")
	// Output:
	// 220 pier FTP server ready.
	// 331 Username ok, send password.
	// 530 Authentication failed.
	// 331 Username ok, send password.
	// 230 Welcome, alice.
}

// exampleSender returns a function that sends a command line on c (none
// if cmd is empty: the greeting) and prints its reply, each line with its
// CRLF trimmed.
func exampleSender(c net.Conn) func(cmd string) {
	r := bufio.NewReader(c)
	return func(cmd string) {
		if cmd != "" {
			fmt.Fprintf(c, "%s\r\n", cmd)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			line, err := r.ReadString('\n')
			line = strings.TrimRight(line, "\r\n")
			fmt.Println(line)
			// The last line of a reply is "ddd text" (RFC 959 §4.2).
			if err != nil || len(line) < 4 || line[3] == ' ' {
				return
			}
		}
	}
}

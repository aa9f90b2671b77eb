// Package ftptest starts pier servers on a loopback port and talks to them
// line by line, for pier's own tests and for embedders' tests.
//
//	srv := ftptest.NewServer(t, nil)
//	c := srv.Dial(t)
//	c.Login(t, ftptest.User, ftptest.Password)
//	c.Expect(t, "PWD", 257)
package ftptest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/local"
)

// The account every test server has: full permissions on Server.Dir. The
// anonymous account has read-only access to the same folder.
const (
	User     = "user"
	Password = "secret"
)

// Server is a running test server.
type Server struct {
	*pier.Server
	// Addr is the "host:port" the server listens on.
	Addr string
	// Dir is the folder served to User and anonymous.
	Dir string
	// Users is the authenticator, to add more accounts.
	Users *auth.Virtual
	// Root is the local file system on Dir.
	Root *local.FS
}

// Options change how NewServer sets the server up.
type Options struct {
	// Network is "tcp4" (127.0.0.1, the default) or "tcp6" (::1).
	Network string
	// Configure, if set, is called on the Server before it starts.
	Configure func(*Server)
	// NoAnonymous leaves out the anonymous account.
	NoAnonymous bool
}

// NewServer starts a server on a loopback port with the accounts above and
// short timeouts fit for tests (no login-failure delay). It stops when the
// test ends, and the test fails if the server does not shut down cleanly.
func NewServer(t testing.TB, opts *Options) *Server {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	dir := t.TempDir()
	root, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	users := &auth.Virtual{}
	if err := users.AddUser(User, auth.Account{Password: Password, FS: root, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	if !opts.NoAnonymous {
		if err := users.AddAnonymous(auth.Account{FS: root, Perm: pier.ReadPerms}); err != nil {
			t.Fatal(err)
		}
	}
	network, host := "tcp4", "127.0.0.1:0"
	if opts.Network == "tcp6" {
		network, host = "tcp6", "[::1]:0"
	}
	ln, err := net.Listen(network, host)
	if err != nil {
		t.Skipf("ftptest: can't listen on %s: %v", host, err)
	}
	s := &Server{
		Server: &pier.Server{
			Auth:           users,
			LoginFailDelay: -1,
			ConnectTimeout: 5 * time.Second,
			Logger:         slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		},
		Addr:  ln.Addr().String(),
		Dir:   dir,
		Users: users,
		Root:  root,
	}
	if opts.Configure != nil {
		opts.Configure(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("ftptest: shutdown: %v", err)
			s.Close()
		}
		if err := <-done; !errors.Is(err, pier.ErrServerClosed) {
			t.Errorf("ftptest: Serve returned %v", err)
		}
		root.Close()
	})
	return s
}

// testWriter sends the server's log to t.Log, so a failing test shows it.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Conn is a raw control connection.
type Conn struct {
	net.Conn
	r *bufio.Reader
	// Banner is the text of the 220 greeting.
	Banner string
	// DataTLS, if set, makes Passive wrap data connections in TLS with this
	// configuration (after PROT P). Give it the control connection's
	// ClientSessionCache and ServerName so that the data connection resumes
	// the control connection's session, as pier requires by default.
	DataTLS *tls.Config
}

// AuthTLS sends AUTH TLS and upgrades the control connection with cfg.
func (c *Conn) AuthTLS(t testing.TB, cfg *tls.Config) {
	t.Helper()
	c.Expect(t, "AUTH TLS", 234)
	c.StartTLS(t, cfg)
}

// StartTLS runs a client TLS handshake on the control connection (after a
// 234, or at once for implicit FTPS).
func (c *Conn) StartTLS(t testing.TB, cfg *tls.Config) {
	t.Helper()
	tc := tls.Client(c.Conn, cfg)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("ftptest: TLS handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	c.Conn = tc
	c.r = bufio.NewReader(tc)
}

// Dial connects to an FTP server at addr ("host:port"), one this package
// did not start, and reads its 220 greeting.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	return (&Server{Addr: addr}).Dial(t)
}

// Dial connects to the server and reads the 220 greeting.
func (s *Server) Dial(t testing.TB) *Conn {
	t.Helper()
	c := s.DialRaw(t)
	code, text, err := c.ReadReply()
	if err != nil || code != 220 {
		t.Fatalf("ftptest: greeting: %d %q %v", code, text, err)
	}
	c.Banner = text
	return c
}

// DialRaw connects without reading the greeting.
func (s *Server) DialRaw(t testing.TB) *Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatalf("ftptest: dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	return &Conn{Conn: nc, r: bufio.NewReader(nc)}
}

// Send writes one command line (CRLF added).
func (c *Conn) Send(t testing.TB, line string) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, line+"\r\n"); err != nil {
		t.Fatalf("ftptest: send %q: %v", line, err)
	}
}

// ReadReply reads one reply, single- or multi-line (RFC 959 §4.2), and
// returns its code and its text; a multi-line reply's lines are joined with
// "\n", first line first, without the code of the last one.
func (c *Conn) ReadReply() (int, string, error) {
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if len(line) < 4 {
		return 0, line, fmt.Errorf("ftptest: short reply %q", line)
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil {
		return 0, line, fmt.Errorf("ftptest: bad reply %q", line)
	}
	if line[3] != '-' {
		return code, line[4:], nil
	}
	lines := []string{line[4:]}
	end := line[:3] + " "
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			return code, strings.Join(lines, "\n"), err
		}
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, end) {
			lines = append(lines, l[4:])
			return code, strings.Join(lines, "\n"), nil
		}
		lines = append(lines, l)
	}
}

// Cmd sends a line and reads its reply.
func (c *Conn) Cmd(t testing.TB, line string) (int, string) {
	t.Helper()
	c.Send(t, line)
	code, text, err := c.ReadReply()
	if err != nil {
		t.Fatalf("ftptest: %q: %v", line, err)
	}
	return code, text
}

// Expect sends a line and fails the test unless the reply has the code.
func (c *Conn) Expect(t testing.TB, line string, code int) string {
	t.Helper()
	got, text := c.Cmd(t, line)
	if got != code {
		t.Fatalf("ftptest: %q: got %d %q, want %d", line, got, text, code)
	}
	return text
}

// ExpectReply reads a reply and fails the test unless it has the code.
func (c *Conn) ExpectReply(t testing.TB, code int) string {
	t.Helper()
	got, text, err := c.ReadReply()
	if err != nil || got != code {
		t.Fatalf("ftptest: got %d %q (%v), want %d", got, text, err, code)
	}
	return text
}

// Login logs in with USER and PASS and switches to TYPE I.
func (c *Conn) Login(t testing.TB, user, pass string) {
	t.Helper()
	c.Expect(t, "USER "+user, 331)
	c.Expect(t, "PASS "+pass, 230)
	c.Expect(t, "TYPE I", 200)
}

// Passive sends EPSV and connects to the port it names. The caller then
// sends the transfer command and reads from or writes to the connection.
func (c *Conn) Passive(t testing.TB) net.Conn {
	t.Helper()
	text := c.Expect(t, "EPSV", 229)
	i := strings.Index(text, "(|||")
	j := strings.LastIndex(text, "|)")
	if i < 0 || j < i {
		t.Fatalf("ftptest: bad EPSV reply %q", text)
	}
	port, err := strconv.Atoi(text[i+4 : j])
	if err != nil {
		t.Fatalf("ftptest: bad EPSV reply %q", text)
	}
	host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	dc, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		t.Fatalf("ftptest: data dial: %v", err)
	}
	t.Cleanup(func() { dc.Close() })
	if c.DataTLS != nil {
		// The handshake runs on first use: the server starts its side
		// only after the transfer command.
		return tls.Client(dc, c.DataTLS)
	}
	return dc
}

// Retrieve downloads a file (or a listing: pass "LIST /dir") over a passive
// connection and returns its bytes after the 226.
func (c *Conn) Retrieve(t testing.TB, cmd string) []byte {
	t.Helper()
	dc := c.Passive(t)
	c.Send(t, cmd)
	code, text, err := c.ReadReply()
	if err != nil || (code != 150 && code != 125) {
		t.Fatalf("ftptest: %q: got %d %q (%v), want 150", cmd, code, text, err)
	}
	dc.SetReadDeadline(time.Now().Add(30 * time.Second))
	data, err := io.ReadAll(dc)
	if err != nil {
		t.Fatalf("ftptest: %q: read data: %v", cmd, err)
	}
	c.ExpectReply(t, 226)
	return data
}

// Store uploads data with cmd ("STOR name", "APPE name") over a passive
// connection and waits for the 226.
func (c *Conn) Store(t testing.TB, cmd string, data []byte) {
	t.Helper()
	dc := c.Passive(t)
	c.Send(t, cmd)
	code, text, err := c.ReadReply()
	if err != nil || (code != 150 && code != 125) {
		t.Fatalf("ftptest: %q: got %d %q (%v), want 150", cmd, code, text, err)
	}
	dc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := dc.Write(data); err != nil {
		t.Fatalf("ftptest: %q: write data: %v", cmd, err)
	}
	dc.Close()
	c.ExpectReply(t, 226)
}

// LoopbackAddr reports the server's address as a netip.AddrPort.
func (s *Server) LoopbackAddr() netip.AddrPort { return netip.MustParseAddrPort(s.Addr) }

package pier_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/mem"
	"github.com/pierftp/pier/ftptest"
)

// ioDeadline bounds every blocking read or write of a test, so that a
// server bug fails the test instead of hanging it. It is not a performance
// threshold: loopback transfers take a small fraction of it.
const ioDeadline = 20 * time.Second

// newServer starts a test server; configure, if not nil, changes the
// pier.Server before it starts.
func newServer(t *testing.T, configure func(*pier.Server)) *ftptest.Server {
	t.Helper()
	return ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		if configure != nil {
			configure(s.Server)
		}
	}})
}

// goClient dials srv with jlaffaye/ftp and logs in as the full-permission
// test user. It reports failures with t.Error and returns nil, so it may
// run in any goroutine.
func goClient(t *testing.T, srv *ftptest.Server) *ftp.ServerConn {
	c, err := ftp.Dial(srv.Addr, ftp.DialWithTimeout(ioDeadline))
	if err != nil {
		t.Error(err)
		return nil
	}
	if err := c.Login(ftptest.User, ftptest.Password); err != nil {
		t.Error(err)
		c.Quit()
		return nil
	}
	return c
}

// login dials srv and logs in as the full-permission test user (TYPE I).
func login(t *testing.T, srv *ftptest.Server) *ftptest.Conn {
	t.Helper()
	c := srv.Dial(t)
	c.Login(t, ftptest.User, ftptest.Password)
	return c
}

// loginAnon dials srv and logs in as anonymous, who may only read (TYPE I).
func loginAnon(t *testing.T, srv *ftptest.Server) *ftptest.Conn {
	t.Helper()
	c := srv.Dial(t)
	c.Login(t, "anonymous", "guest@example.com")
	return c
}

// writeFile creates a file (and its parent folders) under the served folder.
func writeFile(t *testing.T, srv *ftptest.Server, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(srv.Dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mkdirs creates folders under the served folder.
func mkdirs(t *testing.T, srv *ftptest.Server, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(srv.Dir, filepath.FromSlash(n)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// readFile reads a file under the served folder.
func readFile(t *testing.T, srv *ftptest.Server, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(srv.Dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sparseFile creates a file of size bytes of zeros without writing them.
func sparseFile(t *testing.T, srv *ftptest.Server, name string, size int64) {
	t.Helper()
	f, err := os.Create(filepath.Join(srv.Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// pattern returns n bytes that are not all alike, so that an offset error
// shows in a byte comparison.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// step is one command and the reply code it must get; if text is set, the
// reply text must equal it.
type step struct {
	line string
	code int
	text string
}

func runSteps(t *testing.T, c *ftptest.Conn, steps []step) {
	t.Helper()
	for _, s := range steps {
		code, text := c.Cmd(t, s.line)
		if code != s.code {
			t.Fatalf("%q: got %d %q, want %d", s.line, code, text, s.code)
		}
		if s.text != "" && text != s.text {
			t.Fatalf("%q: got text %q, want %q", s.line, text, s.text)
		}
	}
}

// parsePASV extracts the address from a 227 reply text.
func parsePASV(t *testing.T, text string) netip.AddrPort {
	t.Helper()
	i, j := strings.Index(text, "("), strings.Index(text, ")")
	if i < 0 || j < i {
		t.Fatalf("bad 227 text %q", text)
	}
	f := strings.Split(text[i+1:j], ",")
	if len(f) != 6 {
		t.Fatalf("bad 227 text %q", text)
	}
	var n [6]byte
	for k, s := range f {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > 255 {
			t.Fatalf("bad 227 text %q", text)
		}
		n[k] = byte(v)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(n[:4])), uint16(n[4])<<8|uint16(n[5]))
}

// parseEPSV extracts the port from a 229 reply text.
func parseEPSV(t *testing.T, text string) uint16 {
	t.Helper()
	i, j := strings.Index(text, "(|||"), strings.LastIndex(text, "|)")
	if i < 0 || j < i {
		t.Fatalf("bad 229 text %q", text)
	}
	p, err := strconv.ParseUint(text[i+4:j], 10, 16)
	if err != nil {
		t.Fatalf("bad 229 text %q", text)
	}
	return uint16(p)
}

// dial connects to addr, optionally from a given local address.
func dial(t *testing.T, addr string, from netip.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: ioDeadline}
	if from.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads a data connection to its end.
func readAll(t *testing.T, dc net.Conn) []byte {
	t.Helper()
	dc.SetReadDeadline(time.Now().Add(ioDeadline))
	b, err := io.ReadAll(dc)
	if err != nil {
		t.Fatalf("read data: %v", err)
	}
	return b
}

// listenActive opens a listener for PORT or EPRT on ip and returns it with
// the PORT argument that names it.
func listenActive(t *testing.T, ip string) (*net.TCPListener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("can't listen on %s: %v", ip, err)
	}
	t.Cleanup(func() { ln.Close() })
	tl := ln.(*net.TCPListener)
	ap := tl.Addr().(*net.TCPAddr).AddrPort()
	a := ap.Addr().Unmap().As4()
	arg := strings.Join([]string{
		strconv.Itoa(int(a[0])), strconv.Itoa(int(a[1])), strconv.Itoa(int(a[2])), strconv.Itoa(int(a[3])),
		strconv.Itoa(int(ap.Port() >> 8)), strconv.Itoa(int(ap.Port() & 0xff)),
	}, ",")
	return tl, arg
}

// accept waits for the server's active data connection.
func accept(t *testing.T, ln *net.TCPListener) net.Conn {
	t.Helper()
	ln.SetDeadline(time.Now().Add(ioDeadline))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept data connection: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expectPrelim reads the 150 (or 125) that opens a transfer.
func expectPrelim(t *testing.T, c *ftptest.Conn) string {
	t.Helper()
	code, text, err := c.ReadReply()
	if err != nil || (code != 150 && code != 125) {
		t.Fatalf("got %d %q (%v), want 150", code, text, err)
	}
	return text
}

// startDownload opens a passive data connection, sends RETR name, reads
// the 150 and the first 64 KiB of the file, and returns the data
// connection: a download under way whose client has stopped reading.
func startDownload(t *testing.T, c *ftptest.Conn, name string) net.Conn {
	t.Helper()
	dc := c.Passive(t)
	c.Send(t, "RETR "+name)
	expectPrelim(t, c)
	dc.SetReadDeadline(time.Now().Add(ioDeadline))
	if _, err := io.ReadFull(dc, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	return dc
}

// expectClosed checks that the server closed the control connection.
func expectClosed(t *testing.T, c *ftptest.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioDeadline))
	code, text, err := c.ReadReply()
	if err == nil {
		t.Fatalf("connection still open: got %d %q", code, text)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open: read timed out")
	}
}

// crlfLines splits a listing into lines, failing the test if a line does
// not end with CRLF.
func crlfLines(t *testing.T, data []byte) []string {
	t.Helper()
	if len(data) == 0 {
		return nil
	}
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		t.Fatalf("listing does not end with CRLF: %q", tail(data))
	}
	parts := strings.Split(string(data[:len(data)-2]), "\r\n")
	for _, p := range parts {
		if strings.ContainsAny(p, "\r\n") {
			t.Fatalf("listing line holds a bare CR or LF: %q", p)
		}
	}
	return parts
}

func tail(b []byte) []byte {
	if len(b) > 200 {
		return b[len(b)-200:]
	}
	return b
}

// memSetup makes an fsys/mem file system holding name with data, a
// read-only virtual user "u" (password "p") on it, and a loopback
// listener for the server to serve.
func memSetup(t *testing.T, name string, data []byte) (*auth.Virtual, net.Listener) {
	t.Helper()
	fsys := mem.New()
	if err := fsys.WriteFile(name, data); err != nil {
		t.Fatal(err)
	}
	users := &auth.Virtual{}
	if err := users.AddUser("u", auth.Account{Password: "p", FS: fsys, Perm: pier.ReadPerms}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return users, ln
}

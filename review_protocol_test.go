package pier_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

// TestRepliesKeepCommandOrder: a command the server doesn't know, sent
// while a transfer runs, is answered after the transfer's final reply, as
// every other command is; Telnet signals on a line of their own (before an
// ABOR) get no reply and don't wait.
func TestRepliesKeepCommandOrder(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	data := pattern(4 << 20)
	writeFile(t, srv, "big", data)
	c := login(t, srv)
	dc := c.Passive(t)
	c.Send(t, "RETR big")
	expectPrelim(t, c)
	c.Send(t, "XYZZY")
	c.Send(t, "")   // an empty line is no Telnet signal: it gets its 500 too
	c.Send(t, "42") // nor is a line without letters
	if got := readAll(t, dc); !bytes.Equal(got, data) {
		t.Fatalf("RETR: %d bytes, want %d", len(got), len(data))
	}
	c.ExpectReply(t, 226)
	c.ExpectReply(t, 500)
	c.ExpectReply(t, 500)
	c.ExpectReply(t, 500)

	dc = c.Passive(t)
	c.Send(t, "RETR big")
	expectPrelim(t, c)
	c.Send(t, "\xff\xf4\xff\xf2") // IAC IP, IAC DM: no command
	c.Send(t, "ABOR")
	code, _, err := c.ReadReply()
	if err != nil || (code != 426 && code != 225) {
		t.Fatalf("ABOR after Telnet signals: %d, %v", code, err)
	}
	if code == 426 {
		c.ExpectReply(t, 226)
	}
	dc.Close()
	c.Expect(t, "NOOP", 200)
}

// TestQUITWithPendingDataConnection: QUIT while a transfer waits for a data
// connection that never comes ends it within a short grace, with its 425, rather than
// after ConnectTimeout.
func TestQUITWithPendingDataConnection(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.ConnectTimeout = 5 * time.Minute })
	writeFile(t, srv, "f", []byte("x"))
	c := login(t, srv)
	c.Expect(t, "EPSV", 229) // and never connect
	c.Send(t, "RETR f")
	expectPrelim(t, c)
	c.Send(t, "QUIT")
	c.ExpectReply(t, 425) // within ftptest's 20 s read deadline, not 5 min
	c.ExpectReply(t, 221)
	expectClosed(t, c)
}

// TestMLSTRootPerm: the root's perm fact leaves out d and f: it can't be
// removed or renamed (RFC 3659 §7.5.5: the fact says what will be allowed).
func TestMLSTRootPerm(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	mkdirs(t, srv, "sub")
	c := login(t, srv)
	text := c.Expect(t, "MLST /", 250)
	if !strings.Contains(text, "perm=celmp;") {
		t.Errorf("MLST /: %q, want perm=celmp", text)
	}
	c.Expect(t, "RMD /", 550)
	c.Expect(t, "RNFR /", 550)
	// A folder below the root keeps them.
	if text := c.Expect(t, "MLST /sub", 250); !strings.Contains(text, "perm=cdeflmp;") {
		t.Errorf("MLST /sub: %q, want perm=cdeflmp", text)
	}
	listing := string(c.Retrieve(t, "MLSD /"))
	for _, line := range strings.Split(listing, "\r\n") {
		if strings.Contains(line, "type=cdir") && !strings.Contains(line, "perm=celmp;") {
			t.Errorf("MLSD / cdir: %q, want perm=celmp", line)
		}
	}
}

// TestShutdownKeepsTransferCommands: during a graceful shutdown a session
// whose transfer runs still answers STAT and NOOP, ABOR still stops the
// transfer, and then the session gets 421 and closes.
func TestShutdownKeepsTransferCommands(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.WriteLimit = 64 << 10 })
	writeFile(t, srv, "slow", pattern(4<<20)) // about a minute at that rate
	c := login(t, srv)
	dc := c.Passive(t)
	c.Send(t, "RETR slow")
	expectPrelim(t, c)
	go io.Copy(io.Discard, dc)
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	eventually(t, "the listener closed by Shutdown", func() bool {
		nc, err := net.DialTimeout("tcp", srv.Addr, time.Second)
		if err != nil {
			return true
		}
		nc.Close()
		return false
	})
	c.Expect(t, "NOOP", 200)
	if code, _ := c.Cmd(t, "STAT"); code != 213 && code != 211 {
		t.Errorf("STAT during shutdown: %d", code)
	}
	c.Send(t, "ABOR")
	c.ExpectReply(t, 426)
	c.ExpectReply(t, 226)
	c.ExpectReply(t, 421)
	expectClosed(t, c)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestIdleTimeoutAfterTransfer: the idle timeout counts from the end of a
// transfer, not from before it: a client that reads its 226 has the whole
// timeout for its next command.
func TestIdleTimeoutAfterTransfer(t *testing.T) {
	t.Parallel()
	const idle = 2 * time.Second
	srv := newServer(t, func(s *pier.Server) { s.IdleTimeout = idle; s.WriteLimit = 64 << 10 })
	writeFile(t, srv, "f", pattern(192<<10)) // three seconds at that rate: longer than idle
	c := login(t, srv)
	if got := len(c.Retrieve(t, "RETR f")); got != 192<<10 {
		t.Fatalf("RETR: %d bytes", got)
	}
	// Before the fix the old deadline (idle after RETR was read, moved
	// on by idle while the transfer ran) fell about a second after the
	// 226.
	time.Sleep(idle * 6 / 10)
	c.Expect(t, "NOOP", 200)
}

// TestEncodingNames: the spellings pyftpdlib's --encoding takes (Python's)
// are accepted; encodings that don't keep ASCII as it is are not.
func TestEncodingNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"latin1", "latin-1", "iso8859-1", "ISO_8859_1", "cp1252", "windows-1252", "ascii", "us-ascii", "mac-roman", "cp437", "iso8859_15", "latin-2", "latin9", "cp932", "u8", "shift_jis", "UTF-8", "utf8"} {
		if err := pier.ValidateEncoding(name); err != nil {
			t.Errorf("ValidateEncoding(%q): %v", name, err)
		}
	}
	for _, name := range []string{"utf-16", "UTF-16LE", "utf-32", "no-such", "cp", "cpx"} {
		if err := pier.ValidateEncoding(name); err == nil {
			t.Errorf("ValidateEncoding(%q) accepted", name)
		}
	}
}

// TestEncodingUnencodable: with a one-byte encoding, a name it can't hold
// is shown with '?', not the character set's control byte SUB (0x1A);
// OPTS UTF8 OFF agrees that UTF-8 is off.
func TestEncodingUnencodable(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.Encoding = "latin1" })
	writeFile(t, srv, "日本é.txt", []byte("x"))
	c := login(t, srv)
	got := string(c.Retrieve(t, "NLST"))
	if !strings.Contains(got, "??\xe9.txt") || strings.Contains(got, "\x1a") {
		t.Errorf("NLST: %q, want ??\\xe9.txt (é in latin1)", got)
	}
	c.Expect(t, "OPTS UTF8 OFF", 200)
	c.Expect(t, "OPTS UTF8 ON", 504)
	u := login(t, newServer(t, nil))
	u.Expect(t, "OPTS UTF8 OFF", 504)
}

// failDirFS fails OpenDir: a folder that can't be read.
type failDirFS struct{ pier.FileSystem }

func (failDirFS) OpenDir(context.Context, string) (pier.DirReader, error) {
	return nil, fs.ErrPermission
}

// TestSTATUnreadableFolder: STAT of a folder that can't be opened gets the
// error's reply, not an empty 213.
func TestSTATUnreadableFolder(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	mkdirs(t, srv, "locked")
	if err := srv.Users.AddUser("fd", auth.Account{Password: "p", FS: failDirFS{srv.Root}}); err != nil {
		t.Fatal(err)
	}
	c := srv.Dial(t)
	c.Login(t, "fd", "p")
	c.Expect(t, "STAT locked", 550)
	c.Expect(t, "NOOP", 200)
}

// countingListener counts SetReadDeadline calls on the connections it
// accepts: each is one turn of the session's read loop.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) SetReadDeadline(t time.Time) error {
	c.n.Add(1)
	return c.Conn.SetReadDeadline(t)
}

// TestShutdownNoIdleTimeout: with the idle timeout off, a session whose
// transfer runs through a graceful shutdown waits for its next command
// without a deadline; it does not spin on one in the past.
func TestShutdownNoIdleTimeout(t *testing.T) {
	t.Parallel()
	users, ln := memSetup(t, "slow", pattern(4<<20))
	var turns atomic.Int64
	srv := &pier.Server{Auth: users, IdleTimeout: -1, WriteLimit: 64 << 10, LoginFailDelay: -1}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(countingListener{ln, &turns}) }()
	c := ftptest.Dial(t, ln.Addr().String())
	c.Login(t, "u", "p")
	dc := c.Passive(t)
	c.Send(t, "RETR slow")
	expectPrelim(t, c)
	go io.Copy(io.Discard, dc)
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	c.Expect(t, "NOOP", 200) // the session reads on through the shutdown
	before := turns.Load()
	time.Sleep(300 * time.Millisecond)
	if n := turns.Load() - before; n > 50 {
		t.Errorf("%d turns of the read loop in 300 ms while waiting for a command: it spins", n)
	}
	c.Send(t, "ABOR")
	c.ExpectReply(t, 426)
	c.ExpectReply(t, 226)
	c.ExpectReply(t, 421)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	<-served
}

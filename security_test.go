package pier_test

// Hostile clients: resource accounting under abuse, faults, and safe
// defaults (issue 4). The tests that count resources are not parallel:
// goroutines and file descriptors are counted for the whole process, and
// Go runs the parallel tests only after every sequential one has finished.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

// resources is what a leak would grow: goroutines, open file descriptors
// and listening TCP sockets (passive ports) of this process.
type resources struct {
	goroutines, fds, listeners int
	fdTargets                  map[string]string // by number, for the failure message
}

func countResources(t *testing.T) resources {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("can't count file descriptors: %v", err)
	}
	sockets := make(map[string]bool)
	targets := make(map[string]string)
	fds := 0
	for _, e := range entries {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if strings.HasPrefix(target, "pipe:") {
			// The runtime's pool of splice pipes (internal/poll), which a
			// collection empties: a cache, not a leak.
			continue
		}
		fds++
		targets[e.Name()] = target
		if err == nil && strings.HasPrefix(target, "socket:[") {
			sockets[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	listeners := 0
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local rem st queues tr retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" && sockets[f[9]] {
				listeners++
			}
		}
	}
	return resources{goroutines: runtime.NumGoroutine(), fds: fds, listeners: listeners, fdTargets: targets}
}

// noGC turns the garbage collector off for the rest of the test: files and
// sockets have finalizers that close them, and a leak must not hide
// behind a collection that happens to run while the test counts. Only for
// tests that allocate little.
func noGC(t *testing.T) {
	old := debug.SetGCPercent(-1)
	t.Cleanup(func() { debug.SetGCPercent(old) })
}

// expectNoLeak waits, boundedly, until the counts are back to before. The
// server frees a session's resources asynchronously after the client has
// gone, so a single look would be flaky; ioDeadline is a bound, not a
// performance threshold.
func expectNoLeak(t *testing.T, before resources) {
	t.Helper()
	deadline := time.Now().Add(ioDeadline)
	for {
		now := countResources(t)
		if now.goroutines <= before.goroutines && now.fds <= before.fds && now.listeners <= before.listeners {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			var newFDs []string
			for fd, target := range now.fdTargets {
				if before.fdTargets[fd] != target {
					newFDs = append(newFDs, fd+" -> "+target+" "+socketInfo(target))
				}
			}
			t.Fatalf("leak: goroutines %d -> %d, file descriptors %d -> %d (new: %v), listeners %d -> %d\n%s",
				before.goroutines, now.goroutines, before.fds, now.fds, newFDs, before.listeners, now.listeners, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// socketInfo describes a socket:[inode] from /proc/net/tcp: addresses and
// state, in hex.
func socketInfo(target string) string {
	inode := strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(table)
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 9 && f[9] == inode {
				return "(" + f[1] + " " + f[2] + " st " + f[3] + ")"
			}
		}
	}
	return ""
}

// eventually polls cond until it holds, within ioDeadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// quietServer is newServer without the per-command debug log, for tests
// that send tens of thousands of commands.
func quietServer(t *testing.T, configure func(*pier.Server)) *ftptest.Server {
	t.Helper()
	return newServer(t, func(s *pier.Server) {
		s.Logger = slog.New(slog.DiscardHandler)
		if configure != nil {
			configure(s)
		}
	})
}

// reset closes a connection with a TCP RST, as a crashing client would.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// serverStillServes checks a fresh login and a round-trip transfer.
func serverStillServes(t *testing.T, srv *ftptest.Server) {
	t.Helper()
	var c *ftptest.Conn
	// Sessions that just ended may still count against a connection
	// limit for a moment: retry a refused connection, boundedly.
	eventually(t, "a new connection gets the banner", func() bool {
		c = srv.DialRaw(t)
		code, _, err := c.ReadReply()
		if err == nil && code == 220 {
			return true
		}
		c.Close()
		return false
	})
	c.Login(t, ftptest.User, ftptest.Password)
	roundTrip(t, c)
	c.Expect(t, "QUIT", 221)
	c.Close()
}

// roundTrip uploads a file and downloads it again, closing its data
// connections (ftptest's Retrieve leaves them to the test's cleanup, which
// a resource count would see).
func roundTrip(t *testing.T, c *ftptest.Conn) {
	t.Helper()
	data := pattern(300 << 10)
	name := fmt.Sprintf("round-trip-%d", time.Now().UnixNano())
	c.Store(t, "STOR "+name, data)
	dc := c.Passive(t)
	c.Send(t, "RETR "+name)
	expectPrelim(t, c)
	got := readAll(t, dc)
	dc.Close()
	c.ExpectReply(t, 226)
	if !bytes.Equal(got, data) {
		t.Fatalf("round trip: got %d bytes, want %d", len(got), len(data))
	}
}

// TestDisconnectMidTransfer: a client that vanishes during STOR or RETR
// costs nothing once it is gone. The partial upload stays on disk (as
// pyftpdlib and vsftpd do, so that REST can resume it) and the hook
// reports it incomplete.
func TestDisconnectMidTransfer(t *testing.T) {
	noGC(t)
	incomplete := make(chan pier.TransferInfo, 4)
	srv := newServer(t, func(s *pier.Server) {
		s.Hooks.IncompleteFileReceived = func(_ *pier.Session, ti pier.TransferInfo) { incomplete <- ti }
		s.Hooks.IncompleteFileSent = func(_ *pier.Session, ti pier.TransferInfo) { incomplete <- ti }
	})
	sparseFile(t, srv, "big", 64<<20)
	bystander := login(t, srv)

	t.Run("STOR", func(t *testing.T) {
		before := countResources(t)
		c := login(t, srv)
		dc := c.Passive(t)
		c.Send(t, "STOR partial")
		expectPrelim(t, c)
		sent := pattern(1 << 20)
		dc.SetWriteDeadline(time.Now().Add(ioDeadline))
		if _, err := dc.Write(sent); err != nil {
			t.Fatal(err)
		}
		// Make sure the server is in the middle of it.
		eventually(t, "upload under way", func() bool {
			fi, err := os.Stat(filepath.Join(srv.Dir, "partial"))
			return err == nil && fi.Size() > 0
		})
		// The control connection goes first, so no FIN on the data
		// connection ever says "end of file".
		reset(c.Conn)
		reset(dc)
		expectNoLeak(t, before)
		select {
		case ti := <-incomplete:
			if ti.Command != "STOR" || ti.Path != "/partial" || ti.Err == nil {
				t.Errorf("incomplete upload reported as %+v", ti)
			}
		case <-time.After(ioDeadline):
			t.Fatal("IncompleteFileReceived not called")
		}
		got := readFile(t, srv, "partial")
		if len(got) == 0 || !bytes.Equal(got, sent[:min(len(got), len(sent))]) || len(got) > len(sent) {
			t.Errorf("partial file: %d bytes, not a prefix of the %d sent", len(got), len(sent))
		}
	})

	t.Run("STOR data connection reset", func(t *testing.T) {
		before := countResources(t)
		c := login(t, srv)
		dc := c.Passive(t)
		c.Send(t, "STOR reset")
		expectPrelim(t, c)
		dc.SetWriteDeadline(time.Now().Add(ioDeadline))
		if _, err := dc.Write(pattern(256 << 10)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "upload under way", func() bool {
			fi, err := os.Stat(filepath.Join(srv.Dir, "reset"))
			return err == nil && fi.Size() > 0
		})
		reset(dc)
		c.ExpectReply(t, 426)
		<-incomplete
		c.Expect(t, "NOOP", 200)
		c.Close()
		expectNoLeak(t, before)
	})

	t.Run("RETR", func(t *testing.T) {
		before := countResources(t)
		c := login(t, srv)
		dc := c.Passive(t)
		c.Send(t, "RETR big")
		expectPrelim(t, c)
		dc.SetReadDeadline(time.Now().Add(ioDeadline))
		if _, err := io.ReadFull(dc, make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		reset(c.Conn)
		reset(dc)
		expectNoLeak(t, before)
		select {
		case ti := <-incomplete:
			if ti.Command != "RETR" || ti.Bytes >= 64<<20 {
				t.Errorf("incomplete download reported as %+v", ti)
			}
		case <-time.After(ioDeadline):
			t.Fatal("IncompleteFileSent not called")
		}
	})

	bystander.Expect(t, "NOOP", 200)
	serverStillServes(t, srv)
}

// badCommands get a 4xx or 5xx reply each, and change nothing.
var badCommands = []string{
	"XYZZY", "RETR", "NOOP extra", "TYPE Z", "PORT 1,2,3", "MKD a\x00b", "SITE NOPE",
	"REST -1", "EPRT |9|::1|1|", "RNTO x", "CWD /no/such/dir", "\xff\xfe\xfd", "",
	"STOR", "PASS", "MODE Z", "DELE /no/such/file", "MFMT 2020 x", "SITE CHMOD 999 x",
}

// replyConn is a control connection that reads replies: *ftptest.Conn or
// rawConn.
type replyConn interface {
	net.Conn
	ReadReply() (int, string, error)
}

// rawConn is a control connection whose first line was read by hand.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

// ReadReply reads a reply, single- or multi-line, and returns its code.
func (c rawConn) ReadReply() (int, string, error) {
	c.SetReadDeadline(time.Now().Add(ioDeadline))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	code, err := strconv.Atoi(line[:min(3, len(line))])
	if err != nil || len(line) < 4 {
		return 0, line, fmt.Errorf("bad reply %q", line)
	}
	for line[3] == '-' {
		l, err := c.r.ReadString('\n')
		if err != nil {
			return 0, "", err
		}
		if strings.HasPrefix(l, line[:3]+" ") {
			break
		}
	}
	return code, strings.TrimRight(line[4:], "\r\n"), nil
}

// floodBadCommands sends n bad commands on c, pipelined, and checks that
// each gets a 4xx or 5xx reply.
func floodBadCommands(t *testing.T, c replyConn, n int) {
	t.Helper()
	written := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(c)
		c.SetWriteDeadline(time.Now().Add(ioDeadline))
		for i := range n {
			w.WriteString(badCommands[i%len(badCommands)])
			w.WriteString("\r\n")
		}
		written <- w.Flush()
	}()
	for i := range n {
		code, text, err := c.ReadReply()
		if err != nil || code < 400 {
			t.Fatalf("bad command %d (%q): got %d %q %v, want a 4xx or 5xx", i, badCommands[i%len(badCommands)], code, text, err)
		}
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
}

// TestBadCommandFlood: 10,000 bad commands in a row leave the session
// working, and leak nothing.
func TestBadCommandFlood(t *testing.T) {
	srv := quietServer(t, nil)
	before := countResources(t)
	c := login(t, srv)
	floodBadCommands(t, c, 10_000)
	c.Expect(t, "NOOP", 200)
	c.Expect(t, "PWD", 257)
	roundTrip(t, c)
	c.Close()
	expectNoLeak(t, before)
}

// garbage returns random bytes of every value, with runs of NUL, of
// Telnet IAC (0xFF), of CR, and one long run without LF.
func garbage(seed uint64) []byte {
	r := mrand.New(mrand.NewPCG(seed, 1))
	var b []byte
	for range 40 {
		switch r.IntN(5) {
		case 0:
			b = append(b, bytes.Repeat([]byte{0}, r.IntN(8<<10))...)
		case 1:
			b = append(b, bytes.Repeat([]byte{0xff}, r.IntN(8<<10))...)
		case 2:
			b = append(b, bytes.Repeat([]byte{'\r'}, r.IntN(4<<10))...)
		default:
			chunk := make([]byte, r.IntN(8<<10))
			for i := range chunk {
				chunk[i] = byte(r.Uint32())
			}
			b = append(b, chunk...)
		}
	}
	long := make([]byte, 1<<20)
	for i := range long {
		if long[i] = byte(r.Uint32()); long[i] == '\n' {
			long[i] = 0
		}
	}
	return append(b, long...)
}

// TestBinaryGarbage: random bytes on several connections at once get
// well-formed replies (or none, while a line is unfinished), and each
// session still answers NOOP afterwards.
func TestBinaryGarbage(t *testing.T) {
	srv := quietServer(t, nil)
	before := countResources(t)
	t.Run("connections", func(t *testing.T) {
		for i := range 6 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				c := srv.Dial(t)
				if i%2 == 1 {
					c.Login(t, ftptest.User, ftptest.Password)
				}
				written := make(chan error, 1)
				go func() {
					c.SetWriteDeadline(time.Now().Add(ioDeadline))
					_, err := c.Write(append(garbage(uint64(i)), "\r\nNOOP\r\n"...))
					written <- err
				}()
				// ReadReply fails on a reply that is not "ddd " or
				// "ddd-": every reply must be well formed.
				for n := 0; ; n++ {
					code, text, err := c.ReadReply()
					if err != nil {
						t.Fatalf("after %d replies: %v", n, err)
					}
					if code == 200 && text == "NOOP ok." {
						break
					}
				}
				if err := <-written; err != nil {
					t.Fatal(err)
				}
				c.Expect(t, "NOOP", 200)
				c.Close()
			})
		}
	})
	expectNoLeak(t, before)
	serverStillServes(t, srv)
}

// TestConnectDisconnectCycles: 2,000 connections that come and go, some
// before the banner, some with a reset, leave nothing behind.
func TestConnectDisconnectCycles(t *testing.T) {
	srv := quietServer(t, nil)
	before := countResources(t)
	const workers, cycles = 8, 250
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range cycles {
				nc, err := net.DialTimeout("tcp", srv.Addr, ioDeadline)
				if err != nil {
					errs <- err
					return
				}
				switch (w + i) % 3 {
				case 0: // gone before the banner
					nc.Close()
				case 1: // read the banner, then crash
					nc.SetReadDeadline(time.Now().Add(ioDeadline))
					buf := make([]byte, 4)
					if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != "220 " {
						errs <- fmt.Errorf("banner %q: %v", buf, err)
						nc.Close()
						return
					}
					reset(nc)
				default: // reset at once
					reset(nc)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	expectNoLeak(t, before)
	serverStillServes(t, srv)
}

// TestConnectionBurst: 1,000 simultaneous connection attempts from three
// addresses against MaxConnections and MaxConnectionsPerIP. Every
// connection over a limit gets 421 as its first and only line; the 220s
// never exceed the limits, all held at once. The admitted sessions then
// flood bad commands, and a normal login and transfer still work.
func TestConnectionBurst(t *testing.T) {
	const limit, perIP, attempts = 50, 20, 1000
	srv := quietServer(t, func(s *pier.Server) {
		s.MaxConnections = limit
		s.MaxConnectionsPerIP = perIP
	})
	froms := []netip.Addr{
		netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"),
	}
	before := countResources(t)

	type result struct {
		conn  rawConn // admitted: still open
		from  int
		first string // first line received
		err   error
	}
	results := make([]result, attempts)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() {
			<-start
			res := &results[i]
			res.from = i % len(froms)
			d := net.Dialer{Timeout: ioDeadline, LocalAddr: &net.TCPAddr{IP: froms[res.from].AsSlice()}}
			nc, err := d.Dial("tcp", srv.Addr)
			if err != nil {
				res.err = err
				return
			}
			nc.SetReadDeadline(time.Now().Add(ioDeadline))
			r := bufio.NewReader(nc)
			res.first, res.err = r.ReadString('\n')
			if res.err != nil || !strings.HasPrefix(res.first, "421 ") {
				// Admitted (or broken): keep it open until all are done,
				// so the 220s counted are all held at once.
				res.conn = rawConn{nc, r}
				return
			}
			defer nc.Close()
			rest, err := io.ReadAll(r)
			if err != nil || len(rest) > 0 {
				res.err = fmt.Errorf("after the 421: %q %v, want the connection closed", rest, err)
			}
		})
	}
	close(start)
	wg.Wait()

	admitted := make([]int, len(froms))
	var open []rawConn
	refused := 0
	for i, res := range results {
		switch {
		case res.err != nil:
			t.Errorf("attempt %d: %v (first line %q)", i, res.err, res.first)
		case strings.HasPrefix(res.first, "220 "):
			admitted[res.from]++
			open = append(open, res.conn)
		case strings.HasPrefix(res.first, "421 "):
			refused++
		default:
			t.Errorf("attempt %d: first line %q, want 220 or 421", i, res.first)
		}
	}
	total := 0
	for i, n := range admitted {
		total += n
		if n > perIP {
			t.Errorf("%d sessions from %s at once, limit %d", n, froms[i], perIP)
		}
	}
	// Every address had far more attempts than its limit, and the three
	// per-address limits add up to more than the total: the server
	// admits exactly the total limit.
	if total != limit || refused != attempts-limit {
		t.Errorf("admitted %d (%v), refused %d; want %d admitted", total, admitted, refused, limit)
	}
	if t.Failed() {
		t.FailNow()
	}

	// The admitted sessions flood bad commands: 10,000 in all.
	var flood sync.WaitGroup
	for i, c := range open {
		flood.Go(func() {
			t.Run(fmt.Sprintf("flood %d", i), func(t *testing.T) { floodBadCommands(t, c, attempts*10/limit) })
		})
	}
	flood.Wait()
	for _, c := range open {
		c.Close()
	}
	serverStillServes(t, srv)
	expectNoLeak(t, before)
}

// enospc is what a full disk says.
var enospc = &fs.PathError{Op: "write", Path: "file", Err: syscall.ENOSPC}

// fullDiskFS wraps a FileSystem so that every file opened for writing
// takes room bytes, then fails with ENOSPC.
type fullDiskFS struct {
	pier.FileSystem
	room int
}

func (f *fullDiskFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	file, err := f.FileSystem.OpenFile(ctx, name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return file, err
	}
	return &fullFile{File: file, room: f.room}, nil
}

type fullFile struct {
	pier.File
	room int
}

func (f *fullFile) Write(p []byte) (int, error) {
	if len(p) <= f.room {
		n, err := f.File.Write(p)
		f.room -= n
		return n, err
	}
	n, _ := f.File.Write(p[:f.room])
	f.room -= n
	return n, enospc
}

// TestFullDisk: an upload that fills the disk gets 452 (RFC 959:
// insufficient storage), the session goes on, and what was written stays.
func TestFullDisk(t *testing.T) {
	noGC(t)
	const room = 100_000
	srv := newServer(t, nil)
	if err := srv.Users.AddUser("full", auth.Account{Password: "pw", FS: &fullDiskFS{srv.Root, room}, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, typ string
		data      []byte
	}{
		{"binary", "TYPE I", pattern(1 << 20)},
		{"ASCII", "TYPE A", bytes.Repeat([]byte("a line of text\n"), 70_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countResources(t)
			c := srv.Dial(t)
			c.Login(t, "full", "pw")
			c.Expect(t, tt.typ, 200)
			dc := c.Passive(t)
			c.Send(t, "STOR big-"+tt.name)
			expectPrelim(t, c)
			go func() {
				// The server stops reading at the full disk: the write
				// fails then, as it should.
				dc.SetWriteDeadline(time.Now().Add(ioDeadline))
				dc.Write(tt.data)
				dc.Close()
			}()
			if text := c.ExpectReply(t, 452); !strings.Contains(text, "Insufficient storage") {
				t.Errorf("452 text %q", text)
			}
			c.Expect(t, "NOOP", 200)
			got := readFile(t, srv, "big-"+tt.name)
			if len(got) != room || !bytes.Equal(got, tt.data[:room]) {
				t.Errorf("partial file: %d bytes, want the first %d", len(got), room)
			}
			// Room for a small file: the session still works.
			c.Store(t, "STOR small", []byte("small\n"))
			c.Close()
			expectNoLeak(t, before)
		})
	}
}

// panicFS is a FileSystem whose files panic when read.
type panicFS struct{ pier.FileSystem }

func (f panicFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	file, err := f.FileSystem.OpenFile(ctx, name, flag, perm)
	if err != nil {
		return nil, err
	}
	return panicFile{file}, nil
}

type panicFile struct{ pier.File }

func (panicFile) Read([]byte) (int, error) { panic("boom from a file") }

// TestPanicClosesOnlyThatSession: a panic in a custom command, or in a
// file system during a transfer, is recovered and logged; it closes that
// session only, frees its resources, and the server serves on.
func TestPanicClosesOnlyThatSession(t *testing.T) {
	noGC(t)
	var logBuf syncBuffer
	srv := newServer(t, func(s *pier.Server) { s.Logger = slog.New(slog.NewTextHandler(&logBuf, nil)) })
	if err := srv.HandleCommand(pier.Command{Name: "XPANIC", Handler: func(*pier.Session, *pier.Request) error { panic("boom from XPANIC") }}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Users.AddUser("panicky", auth.Account{Password: "pw", FS: panicFS{srv.Root}, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, srv, "f", pattern(1000))
	bystander := login(t, srv)

	t.Run("custom command", func(t *testing.T) {
		before := countResources(t)
		c := login(t, srv)
		c.Send(t, "XPANIC")
		expectClosed(t, c)
		c.Close()
		expectNoLeak(t, before)
		if !strings.Contains(logBuf.String(), "boom from XPANIC") {
			t.Errorf("panic not logged:\n%s", logBuf.String())
		}
	})
	t.Run("file system during a transfer", func(t *testing.T) {
		before := countResources(t)
		c := srv.Dial(t)
		c.Login(t, "panicky", "pw")
		dc := c.Passive(t)
		c.Send(t, "RETR f")
		expectPrelim(t, c)
		expectClosed(t, c)
		c.Close()
		dc.Close()
		expectNoLeak(t, before)
		if !strings.Contains(logBuf.String(), "boom from a file") {
			t.Errorf("panic not logged:\n%s", logBuf.String())
		}
	})
	bystander.Expect(t, "NOOP", 200)
	serverStillServes(t, srv)
}

// TestTimeoutsFreeResources: an idle control connection, stalled
// transfers and a passive port nobody connects to each end with their
// reply and give back their goroutine, file and port.
func TestTimeoutsFreeResources(t *testing.T) {
	noGC(t)
	srv := newServer(t, func(s *pier.Server) {
		s.IdleTimeout = 300 * time.Millisecond
		s.DataTimeout = 300 * time.Millisecond
		s.ConnectTimeout = 300 * time.Millisecond
	})
	sparseFile(t, srv, "big", 64<<20)
	t.Run("idle control connection", func(t *testing.T) {
		before := countResources(t)
		c := srv.Dial(t)
		c.ExpectReply(t, 421)
		expectClosed(t, c)
		c.Close()
		expectNoLeak(t, before)
	})
	t.Run("stalled download", func(t *testing.T) {
		before := countResources(t)
		c := login(t, srv)
		dc := c.Passive(t) // never read
		c.Send(t, "RETR big")
		expectPrelim(t, c)
		c.ExpectReply(t, 426)
		c.Close()
		dc.Close()
		expectNoLeak(t, before)
	})
	t.Run("stalled upload", func(t *testing.T) {
		before := countResources(t)
		c := login(t, srv)
		dc := c.Passive(t) // never written
		c.Send(t, "STOR stalled")
		expectPrelim(t, c)
		c.ExpectReply(t, 426)
		c.Close()
		dc.Close()
		expectNoLeak(t, before)
	})
	t.Run("passive port nobody connects to", func(t *testing.T) {
		before := countResources(t)
		c := login(t, srv)
		port := parseEPSV(t, c.Expect(t, "EPSV", 229))
		c.Send(t, "RETR big")
		expectPrelim(t, c)
		c.ExpectReply(t, 425)
		c.Close()
		expectNoLeak(t, before)
		if nc, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), ioDeadline); err == nil {
			nc.Close()
			t.Errorf("passive port %d still open", port)
		}
	})
}

// TestSlowloris: a line sent one byte every 100 ms can't hold a session
// past the idle timeout, which runs for the whole line.
func TestSlowloris(t *testing.T) {
	noGC(t)
	srv := newServer(t, func(s *pier.Server) { s.IdleTimeout = 300 * time.Millisecond })
	before := countResources(t)
	c := srv.Dial(t)
	line := "USER " + strings.Repeat("a", 95) + "\r\n" // 10 s at this pace
	stop := make(chan struct{})
	var sent atomic.Int64
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := range len(line) {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := c.Write([]byte{line[i]}); err != nil {
				return
			}
			sent.Add(1)
		}
	}()
	c.ExpectReply(t, 421)
	expectClosed(t, c)
	close(stop)
	if n := sent.Load(); n >= int64(len(line)) {
		t.Errorf("the whole line (%d bytes) went through before the 421", n)
	}
	c.Close()
	expectNoLeak(t, before)
}

// TestLongLineMemory: 50 MB without a line feed gets one 500 and does not
// grow the server's memory with the line's length.
func TestLongLineMemory(t *testing.T) {
	srv := quietServer(t, nil)
	c := login(t, srv)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	start := ms.HeapInuse
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	written := make(chan error, 1)
	go func() {
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		c.SetWriteDeadline(time.Now().Add(ioDeadline))
		if _, err := c.Write([]byte("NOOP ")); err != nil {
			written <- err
			return
		}
		for range 50 << 20 / len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				written <- err
				return
			}
		}
		_, err := c.Write([]byte("\r\nNOOP\r\n"))
		written <- err
	}()
	c.ExpectReply(t, 500)
	c.ExpectReply(t, 200)
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	close(stopSampling)
	<-sampled
	const bound = 64 << 20
	if grew := int64(peak.Load()) - int64(start); grew > bound {
		t.Errorf("heap in use grew by %d MB while a 50 MB line came in; bound %d MB", grew>>20, bound>>20)
	}
	c.Expect(t, "PWD", 257)
}

// TestAnonymousNeverCHMOD: even with write permissions (pier -w),
// anonymous gets 550 for SITE CHMOD; a named user with the same letters
// may.
func TestAnonymousNeverCHMOD(t *testing.T) {
	t.Parallel()
	srv := ftptest.NewServer(t, &ftptest.Options{NoAnonymous: true})
	if err := srv.Users.AddAnonymous(auth.Account{FS: srv.Root, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, srv, "f", []byte("x"))
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	anon := loginAnon(t, srv)
	anon.Expect(t, "SITE CHMOD 777 f", 550)
	anon.Expect(t, "SITE CHMOD 600 /f", 550)
	anon.Store(t, "STOR up", []byte("anonymous may write")) // -w is in effect
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode after anonymous SITE CHMOD: %v %v", fi.Mode(), err)
	}
	login(t, srv).Expect(t, "SITE CHMOD 600 f", 200)
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode after the user's SITE CHMOD: %v %v", fi.Mode(), err)
	}
}

// TestPasswordsNeverLogged: at debug level every command is logged, but
// no password, right or wrong, reaches the log.
func TestPasswordsNeverLogged(t *testing.T) {
	t.Parallel()
	secret := func() string {
		b := make([]byte, 12)
		rand.Read(b)
		return hex.EncodeToString(b)
	}
	good, bad, anonPass := "good-"+secret(), "bad-"+secret(), "anon-"+secret()+"@example.com"
	var logBuf syncBuffer
	srv := newServer(t, func(s *pier.Server) {
		s.Logger = slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s.MaxLoginAttempts = 10
	})
	if err := srv.Users.AddUser("logtest", auth.Account{Password: good, FS: srv.Root, Perm: pier.ReadPerms}); err != nil {
		t.Fatal(err)
	}
	c := srv.Dial(t)
	runSteps(t, c, []step{
		{"USER logtest", 331, ""},
		{"PASS " + bad, 530, ""},
		{"USER logtest", 331, ""},
		{"pass " + bad + " with spaces", 530, ""},
		{"USER nosuchuser", 331, ""},
		{"Pass " + bad, 530, ""},
		{" PASS " + bad, 500, ""}, // not a command, but logged: masked too
		{"\xff\xf4PASS " + bad, 500, ""},
		{"\xff\xf4\xff\xf2PASS " + bad, 500, ""},
		{"        PASS " + bad, 500, ""},
		{"USER logtest", 331, ""},
		{"PASS " + good, 230, ""},
		{"PWD", 257, ""},
		{"USER anonymous", 331, ""},
		{"PASS " + anonPass, 230, ""},
		{"QUIT", 221, ""},
	})
	expectClosed(t, c)
	eventually(t, "the session's end logged", func() bool { return strings.Contains(logBuf.String(), "FTP session closed") })
	log := logBuf.String()
	if !strings.Contains(log, "PASS ******") {
		t.Fatalf("debug logging did not run:\n%s", log)
	}
	for _, pw := range []string{good, bad, anonPass} {
		if strings.Contains(log, pw) {
			t.Errorf("password %q found in the log:\n%s", pw, log)
		}
	}
}

// panicHandler is a slog.Handler that counts error records about panics,
// which the server logs when it recovers one: a fuzz input that makes the
// server panic would otherwise look like a closed connection.
type panicHandler struct{ panics *atomic.Int64 }

func (h panicHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h panicHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		h.panics.Add(1)
	}
	return nil
}
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicHandler) WithGroup(string) slog.Handler      { return h }

// readWellFormedReply reads one reply and fails the test unless each of
// its lines is well formed (RFC 959 §4.2): "ddd " or "ddd-" first, and a
// multi-line reply ends with "ddd ". It returns io.EOF-like errors from
// the connection as they are.
func readWellFormedReply(t *testing.T, r *bufio.Reader) (int, error) {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 6 || !strings.HasSuffix(line, "\r\n") || line[3] != ' ' && line[3] != '-' {
		t.Fatalf("malformed reply line %q", line)
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil || code < 100 || code > 599 {
		t.Fatalf("malformed reply code in %q", line)
	}
	if line[3] == '-' {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return 0, err
			}
			if strings.HasPrefix(l, line[:3]+" ") {
				break
			}
		}
	}
	return code, nil
}

// FuzzSession drives a real session, logged in with every permission on a
// temporary folder, with arbitrary command lines. Every line gets at least
// one well-formed final reply, or the server closes the connection; the
// server never panics; nothing outside the user's root changes.
func FuzzSession(f *testing.F) {
	var panics atomic.Int64
	srv := ftptest.NewServer(f, &ftptest.Options{Configure: func(s *ftptest.Server) {
		s.Logger = slog.New(panicHandler{&panics})
		s.BanAfter = -1
		s.ConnectTimeout = 20 * time.Millisecond
		s.DataTimeout = time.Second
		s.IdleTimeout = 5 * time.Second
	}})
	canary := f.TempDir() // a sibling of srv.Dir
	const canaryText = "must not change"
	if err := os.WriteFile(filepath.Join(canary, "keep.txt"), []byte(canaryText), 0o644); err != nil {
		f.Fatal(err)
	}
	parent := filepath.Dir(srv.Dir)
	if filepath.Dir(canary) != parent {
		f.Fatalf("canary %s is not a sibling of %s", canary, srv.Dir)
	}
	f.Cleanup(func() {
		// SITE CHMOD 000 may have locked folders; let TempDir remove them.
		filepath.WalkDir(srv.Dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
	})
	if err := os.WriteFile(filepath.Join(srv.Dir, "f"), []byte("hello\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"NOOP",
		"PWD\nCWD ..\nCWD ../..\nPWD\nCDUP\nCDUP",
		"MKD ../escape\nMKD /../../escape2\nRMD ..",
		"PASV\nSTOR ../../x\nEPSV\nAPPE /../x",
		"RNFR f\nRNTO ../f\nRNFR f\nRNTO ../" + "canary/keep.txt",
		"SITE CHMOD 777 /\nSITE CHMOD 000 ..\nSITE CHMOD 4755 f",
		"PASV\nRETR f\nTYPE A\nEPSV\nLIST -la\nMLSD ..\nNLST /..",
		"USER x\nPASS y\nUSER user\nPASS secret",
		"QUIT\nNOOP",
		"REIN\nNOOP\nPWD",
		"\xff\xf4\xff\xf2ABOR\nABOR\nSTAT\nSTAT ..",
		strings.Repeat("A", 3000),
		"MFMT 20200101000000 ../canary/keep.txt\nMDTM ../../etc/passwd\nSIZE ..",
		"EPRT |1|127.0.0.1|1|\nPORT 127,0,0,1,0,1\nEPSV ALL\nPASV",
		"HELP\nFEAT\nSITE HELP\nHELP SITE CHMOD\nOPTS MLST type;size;\nMLST f",
		"RMD /\nDELE ../canary/keep.txt\nDELE ..\\canary\\keep.txt",
		"REST 3\nPASV\nRETR f\nREST 99999999999999999999",
		"STOU\nSTOU ../x\nALLO 1\nMODE S\nSTRU F\nSYST",
		"CWD \x00\nMKD a\rb\nMKD a\x00b\nCWD //\nCWD \\",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		lines := strings.Split(string(script), "\n")
		if len(lines) > 32 {
			lines = lines[:32]
		}
		nc, err := net.DialTimeout("tcp", srv.Addr, ioDeadline)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(ioDeadline))
		r := bufio.NewReader(nc)
		if code, err := readWellFormedReply(t, r); err != nil || code != 220 {
			t.Fatalf("banner: %d %v", code, err)
		}
		io.WriteString(nc, "USER "+ftptest.User+"\r\nPASS "+ftptest.Password+"\r\n")
		if code, err := readWellFormedReply(t, r); err != nil || code != 331 {
			t.Fatalf("USER: %d %v", code, err)
		}
		if code, err := readWellFormedReply(t, r); err != nil || code != 230 {
			t.Fatalf("PASS: %d %v", code, err)
		}
	script:
		for _, line := range lines {
			if _, err := io.WriteString(nc, line+"\r\n"); err != nil {
				break // closed by the server after an earlier line
			}
			// Read replies up to a final one: a transfer sends a
			// preliminary 150 first.
			for {
				code, err := readWellFormedReply(t, r)
				var ne net.Error
				switch {
				case errors.As(err, &ne) && ne.Timeout():
					t.Fatalf("no reply to %q", line)
				case err != nil:
					break script // the server closed the connection
				case code >= 200:
					continue script
				}
			}
		}
		if n := panics.Load(); n > 0 {
			t.Fatalf("the server recovered from %d panics", n)
		}
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("something was written next to the root: %v", names)
		}
		if b, err := os.ReadFile(filepath.Join(canary, "keep.txt")); err != nil || string(b) != canaryText {
			t.Fatalf("canary changed: %q %v", b, err)
		}
		if entries, err := os.ReadDir(canary); err != nil || len(entries) != 1 {
			t.Fatalf("canary folder changed: %d entries, %v", len(entries), err)
		}
	})
}

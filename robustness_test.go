package pier_test

// Hostile and broken clients: disconnects mid-transfer, floods of bad
// commands and garbage, connection storms, stalls, slowloris, long lines,
// panics; each leaves the server serving and leaks nothing.

import (
	"bufio"
	"bytes"
	"context"
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

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
		dc := startDownload(t, c, "big")
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

// TestBadCommandFlood: with the limits on refusals in a row off, 10,000
// bad commands in a row leave the session working, and leak nothing: they
// cost nothing but their replies. With the limits on, the session is
// slowed and then closed (TestRefusalsClose).
func TestBadCommandFlood(t *testing.T) {
	srv := quietServer(t, func(s *pier.Server) { s.SlowAfterErrors, s.CloseAfterErrors = -1, -1 })
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
	// Garbage is refused line after line: not slowed here, to prove it
	// costs nothing (TestRefusalsSlowDown tests the slowing).
	srv := quietServer(t, func(s *pier.Server) { s.SlowAfterErrors, s.CloseAfterErrors = -1, -1 })
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
		s.SlowAfterErrors, s.CloseAfterErrors = -1, -1 // the flood below is not slowed
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

package pier_test

// Resource accounting for the robustness tests: goroutines, descriptors
// and listening sockets counted before and after, and small helpers the
// tests that count them share. Tests that count resources are not
// parallel: the counts are the whole process's.

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier"
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
		if strings.HasPrefix(target, "pipe:") || target == "anon_inode:[eventpoll]" {
			// The runtime's pool of splice pipes (internal/poll), which a
			// collection empties: a cache, not a leak. And the epoll sets
			// of the runtime and of a server's idle poller (idlepark.go),
			// which the server's first parked session starts: the
			// server's, not a session's.
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
	return resources{goroutines: runtime.NumGoroutine() - idlePollers(), fds: fds, listeners: listeners, fdTargets: targets}
}

// idlePollers counts the goroutines of idle pollers (idlepark.go): one a
// server, from its first parked session to its shutdown.
func idlePollers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Count(buf[:n], []byte("pier.(*idlePoller).run("))
		}
		buf = make([]byte, 2*len(buf))
	}
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

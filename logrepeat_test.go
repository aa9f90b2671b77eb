package pier_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct{ now atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// warnServer starts a server that logs Warn and above to logs, with clock
// as the log limiter's.
func warnServer(t *testing.T, logs *syncBuffer, clock *fakeClock, configure func(*pier.Server)) *ftptest.Server {
	t.Helper()
	return newServer(t, func(s *pier.Server) {
		s.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		pier.SetLogClock(s, clock.Now)
		if configure != nil {
			configure(s)
		}
	})
}

// linesWith returns the lines of logs that hold msg.
func linesWith(logs *syncBuffer, msg string) []string {
	var found []string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, msg) {
			found = append(found, l)
		}
	}
	return found
}

// expectRepeatedLines checks that msg was logged want times, the last line
// with repeated=N when N is not zero and without it when it is.
func expectRepeatedLines(t *testing.T, logs *syncBuffer, msg string, want, repeated int) {
	t.Helper()
	lines := linesWith(logs, msg)
	if len(lines) != want {
		t.Fatalf("%d lines with %q, want %d:\n%s", len(lines), msg, want, logs.String())
	}
	last := lines[len(lines)-1]
	has := strings.Contains(last, "repeated=")
	if repeated == 0 && has || repeated != 0 && !strings.Contains(last, " repeated="+strconv.Itoa(repeated)+"\n") {
		t.Fatalf("last line %q, want repeated=%d", last, repeated)
	}
}

// TestRefusedConnectionsLogRepeats: 100 connections over MaxConnections
// within the period make one line, not 100; the next one after the period
// makes a line that counts the 99 held back.
func TestRefusedConnectionsLogRepeats(t *testing.T) {
	var logs syncBuffer
	clock := newFakeClock()
	srv := warnServer(t, &logs, clock, func(s *pier.Server) { s.MaxConnections = 1 })
	held := srv.Dial(t)
	refused := func() {
		t.Helper()
		c := srv.DialRaw(t)
		if code, text, err := c.ReadReply(); err != nil || code != 421 {
			t.Fatalf("over the limit: %d %q %v, want 421", code, text, err)
		}
		c.Close()
	}
	const msg = "connection refused"
	for range 100 {
		refused()
	}
	expectRepeatedLines(t, &logs, msg, 1, 0)
	clock.Advance(9 * time.Second)
	refused()
	expectRepeatedLines(t, &logs, msg, 1, 0)
	clock.Advance(time.Second)
	refused()
	expectRepeatedLines(t, &logs, msg, 2, 100)
	clock.Advance(time.Minute)
	refused()
	expectRepeatedLines(t, &logs, msg, 3, 0)
	held.Close()
}

// TestRejectedDataConnectionsLogRepeats: PORT to a foreign address or a
// privileged port, 100 times, makes one line each, then a line with the
// count once the period is over.
func TestRejectedDataConnectionsLogRepeats(t *testing.T) {
	for _, tc := range []struct{ name, cmd, msg string }{
		{"foreign address", "PORT 127,0,0,2,200,1", "rejected active data connection to a foreign address"},
		{"privileged port", "PORT 127,0,0,1,0,21", "rejected active data connection to a privileged port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			clock := newFakeClock()
			srv := warnServer(t, &logs, clock, func(s *pier.Server) { s.SlowAfterErrors = -1 })
			c := login(t, srv)
			for range 100 {
				c.Expect(t, tc.cmd, 501)
			}
			expectRepeatedLines(t, &logs, tc.msg, 1, 0)
			clock.Advance(10 * time.Second)
			c.Expect(t, tc.cmd, 501)
			expectRepeatedLines(t, &logs, tc.msg, 2, 99)
		})
	}
}

// downFS is a file system whose store is down: a Stat of "f", and every
// upload's Write, fail with the 451 a back-end gives for that.
type downFS struct{ pier.FileSystem }

var errStoreDown = &pier.ReplyError{Code: 451, Message: "Requested action aborted: can't reach the storage.",
	Err: errors.New("dial tcp 127.0.0.1:7070: connect: connection refused")}

func (d downFS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	if name == "f" {
		return nil, errStoreDown
	}
	return d.FileSystem.Stat(ctx, name)
}

func (d downFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	f, err := d.FileSystem.OpenFile(ctx, name, flag, perm)
	if err != nil || flag&os.O_WRONLY == 0 {
		return f, err
	}
	return downFile{f}, nil
}

type downFile struct{ pier.File }

func (downFile) Write([]byte) (int, error) { return 0, errStoreDown }

// TestStorageErrorLogRepeats: a store that is down answers each command
// and transfer with its 451, and the log says why (the cause the client
// is not told), once per period for the whole server, with a count of the
// lines held back.
func TestStorageErrorLogRepeats(t *testing.T) {
	var logs syncBuffer
	clock := newFakeClock()
	srv := warnServer(t, &logs, clock, nil)
	if err := srv.Users.AddUser("sd", auth.Account{Password: "sd-pw", FS: downFS{srv.Root}, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	c := srv.Dial(t)
	c.Login(t, "sd", "sd-pw")
	for range 3 {
		if text := c.Expect(t, "SIZE f", 451); text != errStoreDown.Message {
			t.Errorf("SIZE: 451 %q, want %q", text, errStoreDown.Message)
		}
	}
	expectRepeatedLines(t, &logs, "storage error", 1, 0)
	if l := linesWith(&logs, "storage error")[0]; !strings.Contains(l, "connection refused") || !strings.Contains(l, `reply="451 Requested action aborted`) {
		t.Errorf("the line %q doesn't give the cause and the reply", l)
	}
	clock.Advance(11 * time.Second)
	dc := c.Passive(t)
	c.Expect(t, "STOR up2", 150)
	dc.Write([]byte("data"))
	dc.Close()
	c.ExpectReply(t, 451)
	expectRepeatedLines(t, &logs, "storage error", 2, 2)
	c.Expect(t, "NOOP", 200)
}

package xferlog_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/xferlog"
)

var end = time.Date(2026, time.December, 6, 18, 0, 0, 0, time.UTC)

func TestAppendLine(t *testing.T) {
	base := xferlog.Entry{
		Time: end, Duration: 1500 * time.Millisecond, RemoteHost: "127.0.0.1",
		Bytes: 1048576, Path: "/pub/file.bin", User: "alice", Complete: true,
	}
	tests := []struct {
		name string
		edit func(*xferlog.Entry)
		want string
	}{
		{"download", func(*xferlog.Entry) {}, "Sun Dec  6 18:00:00 2026 2 127.0.0.1 1048576 /pub/file.bin b _ o r alice ftp 0 * c\n"},
		{"upload", func(e *xferlog.Entry) { e.Incoming = true }, "Sun Dec  6 18:00:00 2026 2 127.0.0.1 1048576 /pub/file.bin b _ i r alice ftp 0 * c\n"},
		{"incomplete", func(e *xferlog.Entry) { e.Complete, e.Bytes = false, 4096 }, "Sun Dec  6 18:00:00 2026 2 127.0.0.1 4096 /pub/file.bin b _ o r alice ftp 0 * i\n"},
		{"ascii", func(e *xferlog.Entry) { e.ASCII = true }, "Sun Dec  6 18:00:00 2026 2 127.0.0.1 1048576 /pub/file.bin a _ o r alice ftp 0 * c\n"},
		{"anonymous", func(e *xferlog.Entry) { e.Anonymous, e.User = true, "anonymous" }, "Sun Dec  6 18:00:00 2026 2 127.0.0.1 1048576 /pub/file.bin b _ o a anonymous ftp 0 * c\n"},
		{"sub-second is 1", func(e *xferlog.Entry) { e.Duration = time.Millisecond }, "Sun Dec  6 18:00:00 2026 1 127.0.0.1 1048576 /pub/file.bin b _ o r alice ftp 0 * c\n"},
		{"zero is 1", func(e *xferlog.Entry) { e.Duration = 0 }, "Sun Dec  6 18:00:00 2026 1 127.0.0.1 1048576 /pub/file.bin b _ o r alice ftp 0 * c\n"},
		{"long", func(e *xferlog.Entry) { e.Duration = 3*time.Minute + 20*time.Second }, "Sun Dec  6 18:00:00 2026 200 127.0.0.1 1048576 /pub/file.bin b _ o r alice ftp 0 * c\n"},
		{"two-digit day", func(e *xferlog.Entry) { e.Time = end.AddDate(0, 0, 10) }, "Wed Dec 16 18:00:00 2026 2 127.0.0.1 1048576 /pub/file.bin b _ o r alice ftp 0 * c\n"},
		{"spaces and controls", func(e *xferlog.Entry) { e.Path = "/my file\tname\n\x7f.txt" }, "Sun Dec  6 18:00:00 2026 2 127.0.0.1 1048576 /my_file_name__.txt b _ o r alice ftp 0 * c\n"},
		{"utf-8 kept, invalid replaced", func(e *xferlog.Entry) { e.Path = "/café/\xff.txt" }, "Sun Dec  6 18:00:00 2026 2 127.0.0.1 1048576 /café/_.txt b _ o r alice ftp 0 * c\n"},
		{"ipv6, user with space", func(e *xferlog.Entry) { e.RemoteHost, e.User = "::1", "bob smith" }, "Sun Dec  6 18:00:00 2026 2 ::1 1048576 /pub/file.bin b _ o r bob_smith ftp 0 * c\n"},
		{"no user", func(e *xferlog.Entry) { e.User = "" }, "Sun Dec  6 18:00:00 2026 2 127.0.0.1 1048576 /pub/file.bin b _ o r * ftp 0 * c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			tt.edit(&e)
			if got := string(xferlog.AppendLine(nil, e)); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestWriterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "xferlog")
	w, err := xferlog.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	e := xferlog.Entry{Time: end, RemoteHost: "127.0.0.1", Path: "/a", User: "u", Complete: true}
	w.Queue(e)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	e.Path = "/b"
	w.Queue(e) // queued before Reopen: to the renamed file
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	e.Path = "/c"
	w.Queue(e)
	if err := w.Close(); err != nil { // writes /c
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if got := paths(string(old)); got != "/a /b" {
		t.Errorf("rotated file has %q, want /a /b", got)
	}
	if got := paths(string(cur)); got != "/c" {
		t.Errorf("new file has %q, want /c", got)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm&^0o640 != 0 {
		t.Errorf("mode %v, want at most 0640", perm)
	}
	if err := w.Reopen(); err != xferlog.ErrClosed {
		t.Errorf("Reopen after Close: %v, want ErrClosed", err)
	}
	if w.Queue(e) {
		t.Error("Queue after Close reported the line queued")
	}
	nw := xferlog.New(&bytes.Buffer{}, nil)
	defer nw.Close()
	if err := nw.Reopen(); err != xferlog.ErrNotFile {
		t.Errorf("Reopen of New: %v, want ErrNotFile", err)
	}
}

func TestReopenFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "xferlog")
	w, err := xferlog.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// The folder is gone: Reopen fails, the lines go on to the old file.
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); err == nil {
		t.Fatal("Reopen in a missing folder succeeded")
	}
	w.Queue(xferlog.Entry{Time: end, Path: "/after", Complete: true})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir+".old", "xferlog"))
	if got := paths(string(b)); got != "/after" {
		t.Errorf("old file has %q, want /after", got)
	}
}

// paths returns the filename fields of lines, space-separated.
func paths(lines string) string {
	var ps []string
	for _, l := range strings.Split(strings.TrimSpace(lines), "\n") {
		if f := strings.Fields(l); len(f) > 8 {
			ps = append(ps, f[8])
		}
	}
	return strings.Join(ps, " ")
}

func TestInstall(t *testing.T) {
	var buf lockedBuffer
	w := xferlog.New(&buf, &xferlog.Options{Now: func() time.Time { return end }})
	defer w.Close()
	var (
		mu      sync.Mutex
		chained []string
	)
	srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		s.Hooks.FileReceived = func(_ *pier.Session, ti pier.TransferInfo) {
			mu.Lock()
			defer mu.Unlock()
			chained = append(chained, ti.Path)
		}
		w.Install(s.Server)
	}})
	c := srv.Dial(t)
	c.Login(t, ftptest.User, ftptest.Password)
	c.Expect(t, "TYPE I", 200)
	c.Store(t, "STOR up load.bin", []byte("hello"))
	c.Expect(t, "TYPE A", 200)
	if got := c.Retrieve(t, "RETR up load.bin"); string(got) != "hello" {
		t.Fatalf("RETR got %q", got)
	}
	c.Expect(t, "PWD", 257) // PWD waits for the transfer, file hooks included (NOOP does not)

	a := srv.Dial(t)
	a.Login(t, "anonymous", "me@example.com")
	a.Expect(t, "TYPE I", 200)
	a.Retrieve(t, "RETR /up load.bin")
	a.Expect(t, "PWD", 257)

	// An upload cut by ABOR: its data connection stays open, so it can't
	// complete; the hooks run before ABOR's replies. How many of the
	// bytes the server read first is up to the scheduler.
	dc := c.Passive(t)
	c.Send(t, "STOR cut.bin")
	c.ExpectReply(t, 150)
	dc.Write([]byte("part"))
	c.Send(t, "ABOR")
	c.ExpectReply(t, 426)
	c.ExpectReply(t, 226)

	if err := w.Close(); err != nil { // writes the queued lines
		t.Fatal(err)
	}
	want := "Sun Dec  6 18:00:00 2026 1 127.0.0.1 5 /up_load.bin b _ i r user ftp 0 * c\n" +
		"Sun Dec  6 18:00:00 2026 1 127.0.0.1 5 /up_load.bin a _ o r user ftp 0 * c\n" +
		"Sun Dec  6 18:00:00 2026 1 127.0.0.1 5 /up_load.bin b _ o a anonymous ftp 0 * c\n"
	got := buf.String()
	cut := regexp.MustCompile(`\ASun Dec  6 18:00:00 2026 1 127\.0\.0\.1 [0-4] /cut\.bin a _ i r user ftp 0 \* i\n\z`)
	if head, last, _ := strings.Cut(got, want); head != "" || !cut.MatchString(last) {
		t.Errorf("log:\n%s\nwant:\n%s<the incomplete STOR of /cut.bin>", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(chained) != 1 || chained[0] != "/up load.bin" {
		t.Errorf("the server's own FileReceived hook saw %q, want [/up load.bin]", chained)
	}
	if strings.Contains(buf.String(), "me@example.com") {
		t.Error("the anonymous password was logged")
	}
}

// lockedBuffer is a bytes.Buffer the test reads while the server's
// sessions may write.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

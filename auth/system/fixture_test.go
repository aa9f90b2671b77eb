package system

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/asuser"
)

// today is the day the fixture's clock shows, in days since 1970-01-01.
const today = 20000

// fixedNow is noon of today.
func fixedNow() time.Time { return time.Unix(today*86400+12*3600, 0) }

// fixture is a machine in temporary files: passwd, shadow, group and
// shells files, and home folders, with every account in the test password
// "secret" (sha512-crypt) unless said otherwise.
type fixture struct {
	dir  string
	opts Options // the file paths and the clock

	mu      sync.Mutex // guards started and stops
	started []asuser.Identity
	stops   int
}

// fixtureAccount is one account of the fixture.
type fixtureAccount struct {
	name   string
	uid    uint32
	shell  string
	hash   string // the password field; hashSHA512 if "-"
	ageing string // the shadow fields after the hash; "none": no shadow line, the hash is in passwd
	home   string // "": a folder made under dir/home; "missing", "file" or a relative path
}

var fixtureAccounts = []fixtureAccount{
	{name: "root", uid: 0, shell: "/bin/bash"},
	{name: "daemon", uid: 1, shell: "/usr/sbin/nologin"},
	{name: "sys2", uid: 999, shell: "/bin/sh"},
	{name: "alice", uid: 1000, shell: "/bin/bash"},
	{name: "bob", uid: 1001, shell: "/bin/sh"},
	{name: "carol", uid: 1002, shell: ""}, // /bin/sh
	{name: "nologin", uid: 1003, shell: "/usr/sbin/nologin"},
	{name: "lockedbang", uid: 1004, shell: "/bin/sh", hash: "!" + hashSHA512},
	{name: "lockedstar", uid: 1005, shell: "/bin/sh", hash: "*"},
	{name: "lockeddouble", uid: 1006, shell: "/bin/sh", hash: "!!"},
	{name: "emptypw", uid: 1007, shell: "/bin/sh", hash: ""},
	{name: "des", uid: 1008, shell: "/bin/sh", hash: "abCDefGHijKLm"},
	{name: "noshadow", uid: 1009, shell: "/bin/sh", hash: "x", ageing: "none"},
	{name: "inpasswd", uid: 1010, shell: "/bin/sh", ageing: "none"},
	{name: "expired", uid: 1011, shell: "/bin/sh", ageing: fmt.Sprintf("%d:0:99999:7::%d:", today-10, today-1)},
	{name: "expirestoday", uid: 1012, shell: "/bin/sh", ageing: fmt.Sprintf("%d:0:99999:7::%d:", today-10, today)},
	{name: "expirestomorrow", uid: 1013, shell: "/bin/sh", ageing: fmt.Sprintf("%d:0:99999:7::%d:", today-10, today+1)},
	{name: "mustchange", uid: 1014, shell: "/bin/sh", ageing: "0:0:99999:7:::"},
	{name: "pwexpired", uid: 1015, shell: "/bin/sh", ageing: fmt.Sprintf("%d:0:90:7:::", today-91)},
	{name: "inactive", uid: 1016, shell: "/bin/sh", ageing: fmt.Sprintf("%d:0:90:7:5::", today-96)},
	{name: "nohome", uid: 1017, shell: "/bin/sh", home: "missing"},
	{name: "filehome", uid: 1018, shell: "/bin/sh", home: "file"},
	{name: "relhome", uid: 1019, shell: "/bin/sh", home: "home/relhome"},
	{name: "ftp", uid: 107, shell: "/usr/sbin/nologin", hash: "*"},
	{name: "oldftp", uid: 108, shell: "/usr/sbin/nologin", hash: "*", ageing: fmt.Sprintf("%d:0:99999:7::%d:", today-10, today-1)},
}

// newFixture writes the fixture's files, and replaces the start of the
// account's thread (which needs root) by opening the file system in
// place, recording the identity.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	var passwd, shadow strings.Builder
	for _, a := range fixtureAccounts {
		hash := a.hash
		if hash == "" && a.name != "emptypw" {
			hash = hashSHA512
		}
		home := filepath.Join(f.dir, "home", a.name)
		switch a.home {
		case "":
			if err := os.MkdirAll(home, 0o755); err != nil {
				t.Fatal(err)
			}
		case "file":
			if err := os.MkdirAll(filepath.Dir(home), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(home, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		case "missing":
		default:
			home = a.home
		}
		gid := a.uid
		if a.name == "ftp" || a.name == "oldftp" {
			gid = 65534
		}
		if a.ageing == "none" {
			fmt.Fprintf(&passwd, "%s:%s:%d:%d::%s:%s\n", a.name, hash, a.uid, gid, home, a.shell)
			continue
		}
		fmt.Fprintf(&passwd, "%s:x:%d:%d::%s:%s\n", a.name, a.uid, gid, home, a.shell)
		ageing := a.ageing
		if ageing == "" {
			ageing = fmt.Sprintf("%d:0:99999:7:::", today-10)
		}
		fmt.Fprintf(&shadow, "%s:%s:%s\n", a.name, hash, ageing)
	}
	f.opts = Options{
		PasswdFile: f.write(t, "passwd", passwd.String()),
		ShadowFile: f.write(t, "shadow", shadow.String()),
		GroupFile:  f.write(t, "group", "alice:x:1000:\ndevs:x:2000:alice,bob\nwww-data:x:33:alice\n"),
		ShellsFile: f.write(t, "shells", "# /etc/shells\n/bin/sh\n/bin/bash\n"),
		Now:        fixedNow,
	}
	old := startFS
	startFS = func(id asuser.Identity, open func() (pier.FileSystem, error)) (pier.FileSystem, func(), error) {
		fsys, err := open()
		if err != nil {
			return nil, nil, err
		}
		f.mu.Lock()
		f.started = append(f.started, id)
		f.mu.Unlock()
		return fsys, func() { f.mu.Lock(); f.stops++; f.mu.Unlock() }, nil
	}
	t.Cleanup(func() { startFS = old })
	return f
}

// write writes a file of the fixture and returns its path.
func (f *fixture) write(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(f.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// home returns the home folder of a fixture account.
func (f *fixture) home(name string) string { return filepath.Join(f.dir, "home", name) }

// threads returns how many threads were started and stopped.
func (f *fixture) threads() (started, stopped int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.started), f.stops
}

// testLog is a logger whose lines a test reads.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the lines logged so far.
func (l *testLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(l.buf.String(), "\n"), "\n")
}

// new returns an Authenticator on the fixture's files with the options
// that change is given, and the log it writes.
func (f *fixture) new(t *testing.T, change func(*Options)) (*Authenticator, *testLog) {
	t.Helper()
	opts := f.opts
	if change != nil {
		change(&opts)
	}
	log := &testLog{}
	opts.Logger = slog.New(slog.NewJSONHandler(log, nil))
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a, log
}

// login logs in and fails the test if it is refused.
func login(t *testing.T, a *Authenticator, name, pass string) *pier.User {
	t.Helper()
	u, err := a.Authenticate(context.Background(), pier.ConnInfo{}, name, pass)
	if err != nil {
		t.Fatalf("login %q: %v", name, err)
	}
	t.Cleanup(u.Release)
	return u
}

// logLine is one line of the log, its attributes as text.
type logLine map[string]string

// refused logs in, expects the refusal every client gets, and returns the
// one line it logged.
func refused(t *testing.T, a *Authenticator, log *testLog, name, pass string) logLine {
	t.Helper()
	before := len(log.lines())
	u, err := a.Authenticate(context.Background(), pier.ConnInfo{}, name, pass)
	if err == nil {
		u.Release()
		t.Fatalf("login %q accepted", name)
	}
	if err != errRefused || !errors.Is(err, pier.ErrAuthFailed) || err.Error() != "system: login refused: authentication failed" {
		t.Fatalf("login %q: error %v, want errRefused", name, err)
	}
	lines := log.lines()[before:]
	if len(lines) != 1 {
		t.Fatalf("login %q logged %d lines, want 1: %q", name, len(lines), lines)
	}
	return parseLogLine(t, lines[0])
}

// parseLogLine parses a line of the JSON log.
func parseLogLine(t *testing.T, line string) logLine {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	l := make(logLine, len(m))
	for k, v := range m {
		l[k] = fmt.Sprint(v)
	}
	l["line"] = line
	return l
}

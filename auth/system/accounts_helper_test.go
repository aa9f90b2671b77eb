package system_test

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pierftp/pier/auth/system"
)

// ioDeadline bounds every blocking read or write of these tests, so that a
// server bug fails a test instead of hanging it. It is not a performance
// threshold: loopback transfers take a small fraction of it.
const ioDeadline = 20 * time.Second

// requireRoot skips a test unless it runs as root, except under CI, which
// runs these tests as root: there it fails.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("this test needs root, and CI runs as root")
	}
	t.Skip("needs root: it creates machine accounts")
}

// requireTool fails the test if a program it runs is missing under CI, and
// skips it elsewhere.
func requireTool(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s: %v", name, err)
			}
			t.Skipf("%s: %v", name, err)
		}
	}
}

// account is a machine account a test made, with its password.
type account struct {
	Name, Pass string
	UID, GID   uint32
	Home       string
	Shell      string
}

// accountSpec says how to make an account.
type accountSpec struct {
	// Method is chpasswd's -c: "YESCRYPT", "SHA512"...; if empty, SHA512,
	// the quickest to check.
	Method string
	// Shell is the login shell; if empty, /bin/bash.
	Shell string
	// NoHome gives the account a home folder that does not exist.
	NoHome bool
	// Locked locks the password (usermod -L); Expired sets the account's
	// expiry date to 1970-01-01 (chage -E 0).
	Locked, Expired bool
	// UID, if not zero, is the account's uid (useradd -u).
	UID uint32
}

// accountSeq numbers the accounts of this test process, so that names are
// unique within a run; the process id keeps them apart across runs.
var accountSeq atomic.Int32

// newAccount creates a machine account with useradd and chpasswd, and
// removes it, its home, its mail spool and its group when the test ends.
// Make accounts before the server that logs them in, so that the server
// (and with it every thread of the account) is gone before userdel runs.
func newAccount(t *testing.T, spec accountSpec) *account {
	t.Helper()
	requireTool(t, "useradd", "userdel", "usermod", "chpasswd", "chage", "groupdel")
	if spec.Method == "" {
		spec.Method = "SHA512"
	}
	if spec.Shell == "" {
		spec.Shell = "/bin/bash"
	}
	var name string
	for tries := 0; ; tries++ {
		name = fmt.Sprintf("pt%d%s", os.Getpid()%10000, letters(int(accountSeq.Add(1))))
		args := []string{"-m", "-s", spec.Shell, name}
		if spec.NoHome {
			args = []string{"-M", "-d", "/nonexistent/" + name, "-s", spec.Shell, name}
		}
		if spec.UID != 0 {
			args = append([]string{"-u", strconv.FormatUint(uint64(spec.UID), 10)}, args...)
		}
		code, stderr := runAccountTool(t, "", "useradd", args...)
		if code == 0 {
			break
		}
		// 9: the name is taken (left by a run that was killed): take
		// the next one rather than remove someone else's account.
		if code != 9 || tries == 20 {
			t.Fatalf("useradd %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
	}
	t.Cleanup(func() { removeAccount(t, name) })
	pass := "Pt-" + rand.Text()[:16]
	mustAccountTool(t, name+":"+pass+"\n", "chpasswd", "-c", spec.Method)
	if spec.Locked {
		mustAccountTool(t, "", "usermod", "-L", name)
	}
	if spec.Expired {
		mustAccountTool(t, "", "chage", "-E", "0", name)
	}
	a := lookupAccount(t, name)
	a.Pass = pass
	return a
}

// letters writes n in base 26 with the letters a to z.
func letters(n int) string {
	s := ""
	for {
		s = string(rune('a'+n%26)) + s
		n /= 26
		if n == 0 {
			return s
		}
		n--
	}
}

// lookupAccount reads an account's line from /etc/passwd.
func lookupAccount(t *testing.T, name string) *account {
	t.Helper()
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) != 7 || f[0] != name {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("/etc/passwd line %q: %v", line, err)
		}
		return &account{Name: name, UID: uint32(uid), GID: uint32(gid), Home: f[5], Shell: f[6]}
	}
	t.Fatalf("no %s in /etc/passwd", name)
	return nil
}

// shadowHash returns an account's password field in /etc/shadow.
func shadowHash(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("/etc/shadow")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Split(line, ":"); len(f) > 1 && f[0] == name {
			return f[1]
		}
	}
	t.Fatalf("no %s in /etc/shadow", name)
	return ""
}

// removeAccount deletes an account with its home and mail spool, then its
// group if userdel left it. -f: userdel refuses an account a process still
// runs as, and says so about this one while a thread of a session that
// ended badly may still have its identity; the test checks threads itself.
func removeAccount(t *testing.T, name string) {
	code, stderr := runAccountTool(t, "", "userdel", "-r", "-f", name)
	if inFile(t, "/etc/passwd", name) {
		t.Errorf("userdel -r -f %s: exit %d: %s; the account is still there", name, code, stderr)
	}
	if inFile(t, "/etc/group", name) {
		if code, stderr := runAccountTool(t, "", "groupdel", name); code != 0 {
			t.Errorf("groupdel %s: exit %d: %s", name, code, stderr)
		}
	}
}

// inFile reports whether an account file has a line for name.
func inFile(t *testing.T, path, name string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.HasPrefix(line, name+":") {
			return true
		}
	}
	return false
}

// runAccountTool runs one of the shadow tools and returns its exit code and
// standard error. The tools refuse to run while another holds their lock
// (a parallel test run): then it tries again, up to 50 times.
func runAccountTool(t *testing.T, stdin, name string, args ...string) (int, string) {
	t.Helper()
	for try := 0; ; try++ {
		cmd := exec.Command(name, args...)
		cmd.Stdin = strings.NewReader(stdin)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0, ""
		case !errors.As(err, &exit):
			t.Fatalf("%s: %v", name, err)
		case strings.Contains(stderr.String(), "lock") && try < 50:
			time.Sleep(100 * time.Millisecond)
			continue
		}
		return exit.ExitCode(), stderr.String()
	}
}

// mustAccountTool runs a shadow tool and fails the test if it fails.
func mustAccountTool(t *testing.T, stdin, name string, args ...string) {
	t.Helper()
	if code, stderr := runAccountTool(t, stdin, name, args...); code != 0 {
		t.Fatalf("%s %s: exit %d: %s", name, strings.Join(args, " "), code, stderr)
	}
}

// newAuth returns an Authenticator on the machine's account files with the
// options, logging to the test.
func newAuth(t *testing.T, opts system.Options) *system.Authenticator {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger(t)
	}
	a, err := system.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// quietLogger sends warnings and errors to t.Log: the debug log of a
// hundred sessions would bury them.
func quietLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// owner returns the uid and gid of a file, not following a last symlink.
func owner(path string) (uid, gid uint32, err error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0, 0, err
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid, nil
}

// checkOwner fails the test unless path belongs to the account.
func checkOwner(t *testing.T, path string, a *account) {
	t.Helper()
	uid, gid, err := owner(path)
	if err != nil {
		t.Error(err)
		return
	}
	if uid != a.UID || gid != a.GID {
		t.Errorf("%s is owned by %d:%d, want %s's %d:%d", path, uid, gid, a.Name, a.UID, a.GID)
	}
}

// tasksWithUID counts the threads of this process whose real uid is uid
// (the first field of the Uid line of /proc/self/task/*/status).
func tasksWithUID(t *testing.T, uid uint32) int {
	t.Helper()
	dirs, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	want := strconv.FormatUint(uint64(uid), 10)
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join("/proc/self/task", d.Name(), "status"))
		if err != nil {
			continue // the thread ended meanwhile
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if f := strings.Fields(line); len(f) == 5 && f[0] == "Uid:" && f[1] == want {
				n++
			}
		}
	}
	return n
}

// openFDs returns the targets of this process's open file descriptors.
func openFDs(t *testing.T) []string {
	t.Helper()
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		t.Fatal(err)
	}
	var fds []string
	for _, n := range names {
		target, err := os.Readlink("/proc/self/fd/" + n)
		if err != nil {
			continue // closed meanwhile (the folder's own descriptor is)
		}
		if strings.HasPrefix(target, "/proc/") && strings.HasSuffix(target, "/fd") {
			continue // the descriptor reading the folder
		}
		fds = append(fds, n+" -> "+target)
	}
	return fds
}

// settledFDs returns the targets of the open descriptors once the garbage
// collector has run and the count stays the same twice in a row (at most
// 100 reads): Go keeps the pipes of splice in a pool whose descriptors are
// closed by finalizers, which would otherwise come and go between counts.
func settledFDs(t *testing.T) []string {
	t.Helper()
	var prev []string
	for i := range 100 {
		runtime.GC()
		fds := openFDs(t)
		if i > 0 && len(fds) == len(prev) {
			return fds
		}
		prev = fds
		time.Sleep(10 * time.Millisecond)
	}
	return prev
}

// waitFor polls cond every 10 ms, at most tries times, and reports whether
// it became true. It waits on an observable condition; how long it takes
// is never asserted.
func waitFor(tries int, cond func() bool) bool {
	for range tries {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

// ftpConn is a raw control connection that reports errors instead of
// failing the test, so that it may run on any goroutine (ftptest.Conn
// calls t.Fatal).
type ftpConn struct {
	nc net.Conn
	tp *textproto.Conn
}

// dialFTP connects to addr and reads the 220 greeting.
func dialFTP(addr string) (*ftpConn, error) {
	nc, err := net.DialTimeout("tcp", addr, ioDeadline)
	if err != nil {
		return nil, err
	}
	c := &ftpConn{nc: nc, tp: textproto.NewConn(nc)}
	if code, text, err := c.read(); err != nil || code != 220 {
		nc.Close()
		return nil, fmt.Errorf("greeting: %d %q %v", code, text, err)
	}
	return c, nil
}

// read reads one reply (multi-line ones too, RFC 959 §4.2).
func (c *ftpConn) read() (int, string, error) {
	c.nc.SetReadDeadline(time.Now().Add(ioDeadline))
	// Expecting code 0, ReadResponse reports only I/O and syntax errors.
	return c.tp.ReadResponse(0)
}

// send writes one command line.
func (c *ftpConn) send(line string) error {
	c.nc.SetWriteDeadline(time.Now().Add(ioDeadline))
	_, err := io.WriteString(c.nc, line+"\r\n")
	return err
}

// cmd sends a line and reads its reply.
func (c *ftpConn) cmd(line string) (int, string, error) {
	if err := c.send(line); err != nil {
		return 0, "", err
	}
	return c.read()
}

// expect sends a line and returns an error unless the reply has the code.
func (c *ftpConn) expect(line string, code int) (string, error) {
	got, text, err := c.cmd(line)
	if err != nil {
		return "", fmt.Errorf("%q: %w", line, err)
	}
	if got != code {
		return text, fmt.Errorf("%q: got %d %q, want %d", line, got, text, code)
	}
	return text, nil
}

// expectReply reads a reply and returns an error unless it has the code.
func (c *ftpConn) expectReply(what string, code int) (string, error) {
	got, text, err := c.read()
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if got != code {
		return text, fmt.Errorf("%s: got %d %q, want %d", what, got, text, code)
	}
	return text, nil
}

// login sends USER and PASS, wanting 230, then TYPE I.
func (c *ftpConn) login(name, pass string) error {
	if _, err := c.expect("USER "+name, 331); err != nil {
		return err
	}
	if _, err := c.expect("PASS "+pass, 230); err != nil {
		return err
	}
	_, err := c.expect("TYPE I", 200)
	return err
}

// passive sends EPSV and connects to the port it names.
func (c *ftpConn) passive() (net.Conn, error) {
	text, err := c.expect("EPSV", 229)
	if err != nil {
		return nil, err
	}
	i, j := strings.Index(text, "(|||"), strings.LastIndex(text, "|)")
	if i < 0 || j < i {
		return nil, fmt.Errorf("bad EPSV reply %q", text)
	}
	host, _, _ := net.SplitHostPort(c.nc.RemoteAddr().String())
	dc, err := net.DialTimeout("tcp", net.JoinHostPort(host, text[i+4:j]), ioDeadline)
	if err != nil {
		return nil, err
	}
	dc.SetDeadline(time.Now().Add(ioDeadline))
	return dc, nil
}

// store uploads data with cmd ("STOR name", "APPE name") and waits for
// the 226.
func (c *ftpConn) store(cmd string, data []byte) error {
	dc, err := c.passive()
	if err != nil {
		return err
	}
	defer dc.Close()
	if _, err := c.expect(cmd, 150); err != nil {
		return err
	}
	if _, err := dc.Write(data); err != nil {
		return fmt.Errorf("%q: write data: %w", cmd, err)
	}
	dc.Close()
	_, err = c.expectReply(cmd, 226)
	return err
}

// retrieve downloads with cmd ("RETR name", "LIST") and returns the data
// after the 226.
func (c *ftpConn) retrieve(cmd string) ([]byte, error) {
	dc, err := c.passive()
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	if _, err := c.expect(cmd, 150); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(bufio.NewReader(dc))
	if err != nil {
		return nil, fmt.Errorf("%q: read data: %w", cmd, err)
	}
	_, err = c.expectReply(cmd, 226)
	return data, err
}

// closed reports an error unless the server has closed the connection:
// reading gets the end of the stream or a reset, not a reply.
func (c *ftpConn) closed(what string) error {
	code, text, err := c.read()
	if err == nil {
		return fmt.Errorf("%s: got reply %d %q, want the connection closed", what, code, text)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: connection still open: %w", what, err)
	}
	return nil
}

func (c *ftpConn) Close() error { return c.nc.Close() }

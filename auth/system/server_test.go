package system_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/textproto"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth/system"
	"github.com/pierftp/pier/fsys/local"
	"github.com/pierftp/pier/ftptest"
)

// These tests log real machine accounts, made with useradd and chpasswd,
// into a real pier server on loopback, and check on disk what the kernel
// did as each account. They need root.

// newSystemServer starts a test server whose logins are opts' system
// users, with no bans (the tests fail logins on purpose). configure, if
// not nil, changes the server before it starts.
func newSystemServer(t *testing.T, opts system.Options, configure func(*ftptest.Server)) *ftptest.Server {
	t.Helper()
	a := newAuth(t, opts)
	return ftptest.NewServer(t, &ftptest.Options{NoAnonymous: true, Configure: func(s *ftptest.Server) {
		s.Auth = a
		s.BanAfter = -1
		if configure != nil {
			configure(s)
		}
	}})
}

// loginRecord is what the Login hook saw of one login.
type loginRecord struct {
	name      string
	anonymous bool
	system    pier.SystemAccount
	startDir  string
}

// loginRecorder records, through Hooks.Login, every login's user.
type loginRecorder struct {
	mu     sync.Mutex
	logins []loginRecord
}

func (r *loginRecorder) hook(s *pier.Session) {
	u := s.User()
	rec := loginRecord{name: u.Name, anonymous: u.Anonymous, startDir: u.StartDir}
	if u.System != nil {
		rec.system = *u.System
		rec.system.Groups = slices.Clone(u.System.Groups)
	}
	r.mu.Lock()
	r.logins = append(r.logins, rec)
	r.mu.Unlock()
}

// last returns the last login recorded, and whether there is one.
func (r *loginRecorder) last() (loginRecord, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.logins) == 0 {
		return loginRecord{}, false
	}
	return r.logins[len(r.logins)-1], true
}

// checkLogin fails the test unless rec is a login as the account, under
// the name name.
func checkLogin(t *testing.T, rec loginRecord, name string, a *account) {
	t.Helper()
	sys := rec.system
	if rec.name != name || sys.UID != a.UID || sys.GID != a.GID || sys.Home != a.Home || sys.Shell != a.Shell || !slices.Contains(sys.Groups, a.GID) {
		t.Errorf("Login hook saw user %q with %+v; want %q with uid %d, gid %d (in its groups), home %s, shell %s",
			rec.name, sys, name, a.UID, a.GID, a.Home, a.Shell)
	}
}

// refusalLog records the Authenticator's JSON log, to read the reasons of
// refusals.
type refusalLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *refusalLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// reasons returns the reasons logged for refusing name.
func (l *refusalLog) reasons(t *testing.T, name string) []string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var reasons []string
	for line := range strings.SplitSeq(strings.TrimSpace(l.buf.String()), "\n") {
		var m struct{ Msg, User, Reason string }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m.Msg == "system login refused" && m.User == name {
			reasons = append(reasons, m.Reason)
		}
	}
	return reasons
}

// TestServerAccountKinds logs each kind of account in through the server:
// yescrypt and sha512-crypt passwords get 230 and a session as the
// account; a locked, an expired, a nologin and a homeless account, a wrong
// password and an unknown name all get the same 530, each for the reason
// the log names.
func TestServerAccountKinds(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name   string
		spec   accountSpec
		ok     bool
		hash   string // how the shadow hash starts
		reason string // part of the refusal's logged reason
	}{
		{name: "yescrypt", spec: accountSpec{Method: "YESCRYPT"}, ok: true, hash: "$y$"},
		{name: "sha512", spec: accountSpec{Method: "SHA512"}, ok: true, hash: "$6$"},
		{name: "locked", spec: accountSpec{Method: "YESCRYPT", Locked: true}, hash: "!$y$", reason: "password locked"},
		{name: "expired", spec: accountSpec{Expired: true}, hash: "$6$", reason: "account expired"},
		{name: "nologin", spec: accountSpec{Shell: "/usr/sbin/nologin"}, hash: "$6$", reason: `shell "/usr/sbin/nologin" is not in /etc/shells`},
		{name: "missing home", spec: accountSpec{NoHome: true}, hash: "$6$", reason: "home folder missing: /nonexistent/"},
	}
	accounts := make([]*account, len(tests))
	for i, tt := range tests {
		accounts[i] = newAccount(t, tt.spec)
		if h := shadowHash(t, accounts[i].Name); !strings.HasPrefix(h, tt.hash) {
			t.Fatalf("%s: shadow hash %.6q..., want %s", tt.name, h, tt.hash)
		}
	}
	logins := &loginRecorder{}
	var failedMu sync.Mutex
	var failed []string
	log := &refusalLog{}
	srv := newSystemServer(t, system.Options{Logger: slog.New(slog.NewJSONHandler(log, nil))}, func(s *ftptest.Server) {
		s.Hooks.Login = logins.hook
		s.Hooks.LoginFailed = func(_ *pier.Session, name string) {
			failedMu.Lock()
			failed = append(failed, name)
			failedMu.Unlock()
		}
	})

	for i, tt := range tests {
		a := accounts[i]
		t.Run(tt.name, func(t *testing.T) {
			c := srv.Dial(t)
			c.Expect(t, "USER "+a.Name, 331)
			code, text := c.Cmd(t, "PASS "+a.Pass)
			if !tt.ok {
				if code != 530 || text != "Authentication failed." {
					t.Fatalf("PASS: %d %q, want 530 \"Authentication failed.\"", code, text)
				}
				if got := c.Expect(t, "PWD", 530); got != "Log in with USER and PASS first." {
					t.Errorf("PWD after the refusal: %q", got)
				}
				reasons := log.reasons(t, a.Name)
				if len(reasons) != 1 || !strings.Contains(reasons[0], tt.reason) {
					t.Errorf("logged reasons %q, want one with %q", reasons, tt.reason)
				}
				// The Go client sees the same refusal.
				gc, err := ftp.Dial(srv.Addr, ftp.DialWithTimeout(ioDeadline))
				if err != nil {
					t.Fatal(err)
				}
				defer gc.Quit()
				if err := gc.Login(a.Name, a.Pass); replyCode(err) != 530 {
					t.Errorf("jlaffaye/ftp Login: %v, want 530", err)
				}
				return
			}
			if code != 230 || text != "Login successful." {
				t.Fatalf("PASS: %d %q, want 230", code, text)
			}
			// PWD waits for PASS, Login hook included.
			if got := c.Expect(t, "PWD", 257); got != `"/" is the current directory.` {
				t.Errorf("PWD: %q", got)
			}
			rec, ok := logins.last()
			if !ok {
				t.Fatal("the Login hook did not run")
			}
			checkLogin(t, rec, a.Name, a)

			// A wrong password, and the Go client's session as the
			// account: its upload belongs to the account.
			c2 := srv.Dial(t)
			c2.Expect(t, "USER "+a.Name, 331)
			if got := c2.Expect(t, "PASS "+a.Pass+"x", 530); got != "Authentication failed." {
				t.Errorf("wrong password: %q", got)
			}
			gc, err := ftp.Dial(srv.Addr, ftp.DialWithTimeout(ioDeadline))
			if err != nil {
				t.Fatal(err)
			}
			defer gc.Quit()
			if err := gc.Login(a.Name, a.Pass); err != nil {
				t.Fatal(err)
			}
			if err := gc.Stor("hello.txt", strings.NewReader("hello "+a.Name)); err != nil {
				t.Fatal(err)
			}
			entries, err := gc.List("/")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name)
			}
			if !slices.Contains(names, "hello.txt") || !slices.Contains(names, ".bashrc") {
				t.Errorf("listing of the home: %q, want hello.txt and /etc/skel's .bashrc", names)
			}
			checkOwner(t, filepath.Join(a.Home, "hello.txt"), a)
		})
	}

	t.Run("unknown name", func(t *testing.T) {
		c := srv.Dial(t)
		c.Expect(t, "USER nosuchuser"+strconv.Itoa(os.Getpid()), 331)
		if got := c.Expect(t, "PASS whatever", 530); got != "Authentication failed." {
			t.Errorf("PASS: %q", got)
		}
	})
	t.Run("changes while the server runs", func(t *testing.T) {
		// The account files are read again when they change: an account
		// made, a password changed and an account locked after the
		// server started count from the next login.
		a := newAccount(t, accountSpec{Method: "YESCRYPT"})
		login := func(pass string, code int) {
			t.Helper()
			c := srv.Dial(t)
			c.Expect(t, "USER "+a.Name, 331)
			c.Expect(t, "PASS "+pass, code)
			c.Expect(t, "QUIT", 221)
		}
		login(a.Pass, 230)
		mustAccountTool(t, a.Name+":"+a.Pass+"-new\n", "chpasswd")
		login(a.Pass, 530)
		login(a.Pass+"-new", 230)
		mustAccountTool(t, "", "usermod", "-L", a.Name)
		login(a.Pass+"-new", 530)
		if reasons := log.reasons(t, a.Name); !slices.Equal(reasons, []string{"wrong password", "password locked"}) {
			t.Errorf("logged reasons %q", reasons)
		}
	})
	// Each refused PASS, the wrong passwords too, ran the LoginFailed
	// hook with its name; the unknown name once more. The hook runs after
	// the 530, and nothing after some of those 530s (the second raw
	// client's, the Go client's) waits for it: wait (10 s at most) until
	// every hook has run, then check.
	wantFailed := func(i int) int {
		if !tests[i].ok {
			return 2 // raw client and Go client
		}
		return 1
	}
	waitFor(1000, func() bool {
		failedMu.Lock()
		defer failedMu.Unlock()
		for i := range tests {
			if countOf(failed, accounts[i].Name) < wantFailed(i) {
				return false
			}
		}
		return true
	})
	failedMu.Lock()
	defer failedMu.Unlock()
	for i, tt := range tests {
		want := wantFailed(i)
		if n := countOf(failed, accounts[i].Name); n != want {
			t.Errorf("%s: LoginFailed ran %d times for it, want %d", tt.name, n, want)
		}
	}
}

// replyCode returns the reply code of a jlaffaye/ftp error, 0 if it has
// none.
func replyCode(err error) int {
	var re *textproto.Error
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}

func countOf(names []string, name string) int {
	n := 0
	for _, s := range names {
		if s == name {
			n++
		}
	}
	return n
}

// TestServerOwnershipUnderLoad runs 50 sessions of each of two accounts at
// once (all 100 logged in together, each with its own account thread),
// uploading (STOR, APPE, REST+STOR), making folders and renaming, while
// some sessions abort an upload, some panic in a middleware and some in a
// file hook. The server goes on, and every file and folder in the homes
// belongs to its account: none to root or to the other account. It runs
// with uploads written in place and with AtomicUploads, whose temporaries
// are made and renamed on the account's thread too.
func TestServerOwnershipUnderLoad(t *testing.T) {
	requireRoot(t)
	if testing.Short() {
		t.Skip("100 concurrent sessions: not with -short")
	}
	t.Run("in place", func(t *testing.T) { ownershipUnderLoad(t, false) })
	t.Run("atomic uploads", func(t *testing.T) { ownershipUnderLoad(t, true) })
}

func ownershipUnderLoad(t *testing.T, atomicUploads bool) {
	const perUser = 50
	users := []*account{newAccount(t, accountSpec{}), newAccount(t, accountSpec{})}
	var dials, disconnects, badLogins atomic.Int32
	srv := newSystemServer(t, system.Options{AtomicUploads: atomicUploads}, func(s *ftptest.Server) {
		s.Logger = quietLogger(t)
		s.Middleware = []pier.Middleware{func(s *pier.Session, r *pier.Request, next func() error) error {
			if strings.Contains(r.Arg, "panic-mw") {
				panic("test: middleware panic for " + r.Arg)
			}
			return next()
		}}
		s.Hooks.FileReceived = func(s *pier.Session, info pier.TransferInfo) {
			if strings.Contains(info.Path, "panic-hook") {
				panic("test: FileReceived panic for " + info.Path)
			}
		}
		s.Hooks.Login = func(s *pier.Session) {
			u := s.User()
			for _, a := range users {
				if u.Name == a.Name && (u.System == nil || u.System.UID != a.UID || u.System.GID != a.GID) {
					badLogins.Add(1)
				}
			}
		}
		s.Hooks.Disconnect = func(*pier.Session) { disconnects.Add(1) }
	})

	var loggedIn sync.WaitGroup
	start := make(chan struct{})
	var wg sync.WaitGroup
	results := make([][]sessionResult, len(users))
	for u, a := range users {
		results[u] = make([]sessionResult, perUser)
		for i := range perUser {
			loggedIn.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := &loadSession{srv: srv, a: a, i: i, atomic: atomicUploads, dials: &dials, loggedIn: sync.OnceFunc(loggedIn.Done), start: start}
				defer w.loggedIn()
				if i%2 == 0 {
					results[u][i] = w.runGoClient()
				} else {
					results[u][i] = w.runRaw()
				}
			}()
		}
	}
	loggedIn.Wait()
	// Every session is logged in and none has ended: one thread each.
	for _, a := range users {
		if n := tasksWithUID(t, a.UID); n != perUser {
			t.Errorf("%d threads have %s's uid with %d sessions logged in, want %d", n, a.Name, perUser, perUser)
		}
	}
	close(start)
	wg.Wait()

	for u, a := range users {
		for i, r := range results[u] {
			if r.err != nil {
				t.Errorf("%s session %d: %v", a.Name, i, r.err)
				continue
			}
			for name, want := range r.files {
				got, err := os.ReadFile(filepath.Join(a.Home, name))
				if err != nil {
					t.Errorf("%s session %d: %v", a.Name, i, err)
				} else if !bytes.Equal(got, want) {
					t.Errorf("%s session %d: %s has %d bytes, not the %d uploaded", a.Name, i, name, len(got), len(want))
				}
			}
			for _, name := range r.absent {
				if _, err := os.Lstat(filepath.Join(a.Home, name)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s session %d: %s: %v, want it not to exist", a.Name, i, name, err)
				}
			}
			for _, dir := range r.dirs {
				if fi, err := os.Stat(filepath.Join(a.Home, dir)); err != nil || !fi.IsDir() {
					t.Errorf("%s session %d: folder %s: %v", a.Name, i, dir, err)
				}
			}
		}
		files, dirs := walkOwned(t, a, users)
		t.Logf("%s's home: %d files and %d folders, all %d:%d", a.Name, files, dirs, a.UID, a.GID)
	}
	if n := badLogins.Load(); n != 0 {
		t.Errorf("the Login hook saw %d logins with the wrong system account", n)
	}
	// Every session has ended (its Disconnect hook ran after its login's
	// release): no thread has either account's identity any more.
	if !waitFor(3000, func() bool { return disconnects.Load() == dials.Load() }) {
		t.Fatalf("%d of %d sessions ended", disconnects.Load(), dials.Load())
	}
	for _, a := range users {
		if n := tasksWithUID(t, a.UID); n != 0 {
			t.Errorf("%d threads still have %s's uid after every session ended", n, a.Name)
		}
	}
}

// walkOwned fails the test for each entry of a's home that does not
// belong to a, naming root and the other users apart, and returns how many
// files and folders it saw.
func walkOwned(t *testing.T, a *account, users []*account) (files, dirs int) {
	t.Helper()
	err := filepath.WalkDir(a.Home, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), local.TempPrefix) {
			t.Errorf("%s: an upload's temporary is left", path)
		}
		if d.IsDir() {
			dirs++
		} else {
			files++
		}
		uid, gid, err := owner(path)
		if err != nil {
			return err
		}
		if uid == a.UID && gid == a.GID {
			return nil
		}
		who := strconv.Itoa(int(uid))
		if uid == 0 {
			who = "root"
		}
		for _, o := range users {
			if o.UID == uid {
				who = o.Name
			}
		}
		t.Errorf("%s is owned by %s (%d:%d), want %s (%d:%d)", path, who, uid, gid, a.Name, a.UID, a.GID)
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	return files, dirs
}

// sessionResult is what one load session left: the files it uploaded with
// their final contents, and the folders it made, by path in the home.
type sessionResult struct {
	files  map[string][]byte
	dirs   []string
	absent []string // names that must not exist
	err    error
}

// loadSession is one session of TestServerOwnershipUnderLoad, run on its
// own goroutine: errors are returned, never t.Fatal.
type loadSession struct {
	srv      *ftptest.Server
	a        *account
	i        int
	atomic   bool // the server has AtomicUploads
	dials    *atomic.Int32
	loggedIn func() // called once the first login is done (or failed)
	start    <-chan struct{}
}

// content returns the bytes of the session's upload part (a few KiB,
// different for each session and part).
func (w *loadSession) content(part string, n int) []byte {
	line := fmt.Sprintf("%s session %d %s\n", w.a.Name, w.i, part)
	return bytes.Repeat([]byte(line), n/len(line)+1)[:n]
}

// The session's names, each in its own folder s<i> of the home.
func (w *loadSession) dir() string { return "s" + strconv.Itoa(w.i) }

// runGoClient is a session of jlaffaye/ftp: MKD, STOR then APPE or
// REST+STOR or nothing more, a second MKD, renames of a file and a folder.
func (w *loadSession) runGoClient() sessionResult {
	w.dials.Add(1)
	c, err := ftp.Dial(w.srv.Addr, ftp.DialWithTimeout(ioDeadline))
	if err != nil {
		return sessionResult{err: err}
	}
	defer c.Quit()
	if err := c.Login(w.a.Name, w.a.Pass); err != nil {
		return sessionResult{err: err}
	}
	w.loggedIn()
	<-w.start
	d := w.dir()
	first := w.content("first", 8192+w.i*37)
	more := w.content("more", 3000)
	want := first
	steps := []func() error{
		func() error { return c.MakeDir(d) },
		func() error { return c.Stor(d+"/f", bytes.NewReader(first)) },
		func() error {
			switch w.i % 3 {
			case 0:
				want = append(slices.Clip(first), more...)
				return c.Append(d+"/f", bytes.NewReader(more))
			case 1:
				off := len(first) - 1000
				want = append(slices.Clone(first[:off]), more...)
				return c.StorFrom(d+"/f", bytes.NewReader(more), uint64(off))
			}
			return nil
		},
		func() error { return c.MakeDir(d + "/sub") },
		func() error { return c.Rename(d+"/f", d+"/sub/g") },
		func() error { return c.Rename(d+"/sub", d+"/sub2") },
	}
	for n, step := range steps {
		if err := step(); err != nil {
			return sessionResult{err: fmt.Errorf("step %d: %w", n, err)}
		}
	}
	return sessionResult{files: map[string][]byte{d + "/sub2/g": want}, dirs: []string{d, d + "/sub2"}}
}

// runRaw is a session of the raw client doing what runGoClient does, some
// with one of these in the middle: i%10 == 3 aborts an upload once its
// file exists; 7 sends an MKD the middleware panics on, 9 an upload the
// FileReceived hook panics on, after which the server has closed the
// connection, and the session logs in again and goes on.
func (w *loadSession) runRaw() sessionResult {
	var c *ftpConn
	connect := func() error {
		w.dials.Add(1)
		var err error
		if c, err = dialFTP(w.srv.Addr); err != nil {
			return err
		}
		return c.login(w.a.Name, w.a.Pass)
	}
	defer func() {
		if c != nil {
			c.cmd("QUIT")
			c.Close()
		}
	}()
	if err := connect(); err != nil {
		return sessionResult{err: err}
	}
	w.loggedIn()
	<-w.start
	d := w.dir()
	first := w.content("first", 8192+w.i*37)
	more := w.content("more", 3000)
	want := first
	res := sessionResult{files: map[string][]byte{}, dirs: []string{d, d + "/sub2"}}
	steps := []func() error{
		func() error { _, err := c.expect("MKD "+d, 257); return err },
		func() error { return c.store("STOR "+d+"/f", first) },
		func() error {
			switch w.i % 10 {
			case 3:
				if w.atomic {
					// Its temporary is removed: nothing is
					// committed.
					res.absent = append(res.absent, d+"/aborted")
				}
				return w.abortUpload(c, d+"/aborted")
			case 7:
				if err := c.send("MKD " + d + "/panic-mw"); err != nil {
					return err
				}
				if err := c.closed("MKD the middleware panics on"); err != nil {
					return err
				}
				c.Close()
				return connect()
			case 9:
				data := w.content("hook", 5000)
				if err := c.store("STOR "+d+"/panic-hook", data); err != nil {
					return err
				}
				res.files[d+"/panic-hook"] = data
				// The next command waits for the transfer, whose
				// hook panicked: the connection is closed.
				if err := c.send("PWD"); err != nil {
					return err
				}
				if err := c.closed("PWD after the FileReceived panic"); err != nil {
					return err
				}
				c.Close()
				return connect()
			}
			return nil
		},
		func() error {
			switch w.i % 3 {
			case 0:
				want = append(slices.Clip(first), more...)
				return c.store("APPE "+d+"/f", more)
			case 1:
				off := len(first) - 1000
				want = append(slices.Clone(first[:off]), more...)
				return w.restStore(c, d+"/f", off, more)
			}
			return nil
		},
		func() error { _, err := c.expect("MKD "+d+"/sub", 257); return err },
		func() error { return rename(c, d+"/f", d+"/sub/g") },
		func() error { return rename(c, d+"/sub", d+"/sub2") },
	}
	for n, step := range steps {
		if err := step(); err != nil {
			res.err = fmt.Errorf("step %d: %w", n, err)
			return res
		}
	}
	res.files[d+"/sub2/g"] = want
	return res
}

// abortUpload starts an upload, sends a first part, waits until the file
// (or, with AtomicUploads, its temporary) has bytes, then sends ABOR: 426
// for the transfer, 226 for the ABOR, and the session goes on.
func (w *loadSession) abortUpload(c *ftpConn, name string) error {
	dc, err := c.passive()
	if err != nil {
		return err
	}
	defer dc.Close()
	if _, err := c.expect("STOR "+name, 150); err != nil {
		return err
	}
	if _, err := dc.Write(w.content("aborted", 4096)); err != nil {
		return err
	}
	path := filepath.Join(w.a.Home, name)
	if w.atomic {
		path = filepath.Join(filepath.Dir(path), local.TempPrefix+"*-"+filepath.Base(path))
	}
	written := func() bool {
		matches, _ := filepath.Glob(path)
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Size() > 0 {
				return true
			}
		}
		return false
	}
	if !waitFor(2000, written) {
		return fmt.Errorf("%s: the upload's first bytes never reached the file", path)
	}
	if err := c.send("ABOR"); err != nil {
		return err
	}
	if _, err := c.expectReply("the aborted STOR", 426); err != nil {
		return err
	}
	if _, err := c.expectReply("ABOR", 226); err != nil {
		return err
	}
	_, err = c.expect("NOOP", 200)
	return err
}

// restStore writes data at offset off of name with REST and STOR.
func (w *loadSession) restStore(c *ftpConn, name string, off int, data []byte) error {
	dc, err := c.passive()
	if err != nil {
		return err
	}
	defer dc.Close()
	if _, err := c.expect("REST "+strconv.Itoa(off), 350); err != nil {
		return err
	}
	if _, err := c.expect("STOR "+name, 150); err != nil {
		return err
	}
	if _, err := dc.Write(data); err != nil {
		return err
	}
	dc.Close()
	_, err = c.expectReply("REST+STOR", 226)
	return err
}

// rename renames with RNFR and RNTO.
func rename(c *ftpConn, from, to string) error {
	if _, err := c.expect("RNFR "+from, 350); err != nil {
		return err
	}
	_, err := c.expect("RNTO "+to, 250)
	return err
}

// TestServerKernelRefusals checks that what the kernel refuses an account
// pier refuses, with the whole file system shown (Root "/"), so that the
// other account's home and the system's files can be named: only the
// account's own permissions stand in the way.
func TestServerKernelRefusals(t *testing.T) {
	requireRoot(t)
	alice, bob := newAccount(t, accountSpec{}), newAccount(t, accountSpec{})
	// Bob's home is closed to others, with a file in it.
	bobFile := filepath.Join(bob.Home, "secret.txt")
	writeOwned(t, bobFile, "bob's secret\n", 0o644, bob)
	if err := os.Chmod(bob.Home, 0o700); err != nil {
		t.Fatal(err)
	}
	// Alice has a read-only file, and a root-owned sticky folder in her
	// home (as /tmp is) where bob has a file and she has one.
	roFile := filepath.Join(alice.Home, "readonly.txt")
	writeOwned(t, roFile, "keep me\n", 0o444, alice)
	drop := filepath.Join(alice.Home, "drop")
	if err := os.Mkdir(drop, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(drop, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	writeOwned(t, filepath.Join(drop, "bobs.txt"), "bob's\n", 0o666, bob)
	writeOwned(t, filepath.Join(drop, "alices.txt"), "alice's\n", 0o644, alice)

	srv := newSystemServer(t, system.Options{Root: "/"}, nil)
	c := srv.Dial(t)
	c.Login(t, alice.Name, alice.Pass)
	va := alice.Home // virtual paths are the real ones with Root "/"

	unchanged := func(path, content string) func(t *testing.T) {
		return func(t *testing.T) {
			t.Helper()
			got, err := os.ReadFile(path)
			if err != nil || string(got) != content {
				t.Errorf("%s now holds %q (%v), want %q", path, got, err, content)
			}
		}
	}
	absent := func(path string) func(t *testing.T) {
		return func(t *testing.T) {
			t.Helper()
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: %v, want it not to exist", path, err)
			}
		}
	}
	tests := []struct {
		name string
		cmds []string // the last one's reply is checked; the others' must be 2xx or 3xx
		data bool     // open a data connection first
		code int
		text string
		then func(t *testing.T)
		// cwdBug: a CWD that got 250 into a folder the account may not
		// search (pier.AccessFS.CanEnter missing) fails the case, after
		// checking that a LIST there is refused.
		cwdBug bool
	}{
		{name: "LIST of bob's 0700 home", cmds: []string{"LIST " + bob.Home}, data: true, code: 550, text: "Permission denied."},
		{name: "NLST of bob's 0700 home", cmds: []string{"NLST " + bob.Home}, data: true, code: 550, text: "Permission denied."},
		{name: "CWD into bob's home", cmds: []string{"CWD " + bob.Home}, code: 550, text: "Permission denied.", cwdBug: true},
		{name: "RETR from bob's home", cmds: []string{"RETR " + bobFile}, data: true, code: 550, text: "Permission denied."},
		{name: "SIZE in bob's home", cmds: []string{"SIZE " + bobFile}, code: 550, text: "Permission denied."},
		{name: "STOR into bob's home", cmds: []string{"STOR " + bob.Home + "/planted.txt"}, data: true, code: 550, text: "Permission denied.",
			then: absent(filepath.Join(bob.Home, "planted.txt"))},
		{name: "DELE in bob's home", cmds: []string{"DELE " + bobFile}, code: 550, text: "Permission denied.",
			then: unchanged(bobFile, "bob's secret\n")},
		{name: "MKD in bob's home", cmds: []string{"MKD " + bob.Home + "/d"}, code: 550, text: "Permission denied.",
			then: absent(filepath.Join(bob.Home, "d"))},
		// An existing file is checked for writing, as the account,
		// before the 150 (pier.AccessFS): 550.
		{name: "STOR over a 0444 file of one's own", cmds: []string{"STOR " + va + "/readonly.txt"}, data: true, code: 550, text: "Permission denied.",
			then: unchanged(roFile, "keep me\n")},
		{name: "APPE to a 0444 file of one's own", cmds: []string{"APPE " + va + "/readonly.txt"}, data: true, code: 550, text: "Permission denied.",
			then: unchanged(roFile, "keep me\n")},
		{name: "DELE of bob's file in a sticky folder", cmds: []string{"DELE " + va + "/drop/bobs.txt"}, code: 550, text: "Permission denied.",
			then: unchanged(filepath.Join(drop, "bobs.txt"), "bob's\n")},
		{name: "RNTO of bob's file in a sticky folder", cmds: []string{"RNFR " + va + "/drop/bobs.txt", "RNTO " + va + "/drop/mine.txt"}, code: 550, text: "Permission denied.",
			then: unchanged(filepath.Join(drop, "bobs.txt"), "bob's\n")},
		{name: "DELE of her own file in the sticky folder", cmds: []string{"DELE " + va + "/drop/alices.txt"}, code: 250,
			then: absent(filepath.Join(drop, "alices.txt"))},
		{name: "RETR /etc/shadow", cmds: []string{"RETR /etc/shadow"}, data: true, code: 550, text: "Permission denied."},
		{name: "MKD in /etc", cmds: []string{"MKD /etc/" + alice.Name}, code: 550, text: "Permission denied.",
			then: absent("/etc/" + alice.Name)},
		// A new file is created at the upload's first byte, after the
		// 150: a folder the account may not write refuses it with 451
		// then (RFC 959 §5.4 has no 550 after a 150).
		{name: "STOR into /etc", cmds: []string{"STOR /etc/" + alice.Name + ".conf"}, data: true, code: 451, text: "Permission denied. Transfer aborted.",
			then: absent("/etc/" + alice.Name + ".conf")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dc io.ReadWriteCloser
			if tt.data {
				dc = c.Passive(t)
				defer dc.Close()
			}
			for _, cmd := range tt.cmds[:len(tt.cmds)-1] {
				if code, text := c.Cmd(t, cmd); code >= 400 {
					t.Fatalf("%q: %d %q", cmd, code, text)
				}
			}
			last := tt.cmds[len(tt.cmds)-1]
			code, text := c.Cmd(t, last)
			if code == 150 {
				// An upload opens its file at its first byte.
				dc.Write([]byte("intruder\n"))
				dc.Close()
				code, text, _ = c.ReadReply()
			}
			if tt.cwdBug && code == 250 {
				checkCwdBug(t, c, alice)
			}
			if code != tt.code || (tt.text != "" && text != tt.text) {
				t.Errorf("%q: %d %q, want %d %q", last, code, text, tt.code, tt.text)
			}
			if tt.then != nil {
				tt.then(t)
			}
		})
	}
	c.Expect(t, "NOOP", 200)
}

// checkCwdBug is for a CWD into a folder the account may not search that
// got 250: it checks that the kernel refuses a LIST there, goes back to
// the home and skips the test, naming the bug.
func checkCwdBug(t *testing.T, c *ftptest.Conn, a *account) {
	t.Helper()
	dc := c.Passive(t)
	defer dc.Close()
	if got := c.Expect(t, "LIST", 550); got != "Permission denied." {
		t.Errorf("LIST in the folder CWD went to: %q", got)
	}
	c.Expect(t, "CWD "+a.Home, 250)
	t.Error("CWD into a folder the account can't search got 250, not 550")
}

// writeOwned writes a file and gives it to the account.
func writeOwned(t *testing.T, path, content string, mode fs.FileMode, a *account) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := os.Chown(path, int(a.UID), int(a.GID)); err != nil {
		t.Fatal(err)
	}
}

// TestServerNoLeaks runs 500 sessions one after the other, login, LIST and
// QUIT, alternating two accounts and clients, some dropped without QUIT
// (after the LIST, or right after PASS), and checks that once they have
// ended no thread has an account's identity and the process has no more
// descriptors open than before.
func TestServerNoLeaks(t *testing.T) {
	requireRoot(t)
	if testing.Short() {
		t.Skip("500 sessions: not with -short")
	}
	const sessions = 500
	users := []*account{newAccount(t, accountSpec{}), newAccount(t, accountSpec{})}
	var dials, disconnects atomic.Int32
	srv := newSystemServer(t, system.Options{}, func(s *ftptest.Server) {
		s.Logger = quietLogger(t)
		s.Hooks.Disconnect = func(*pier.Session) { disconnects.Add(1) }
	})
	ended := func() bool { return disconnects.Load() == dials.Load() }

	session := func(i int) error {
		a := users[i%len(users)]
		dials.Add(1)
		if i%4 == 1 {
			c, err := ftp.Dial(srv.Addr, ftp.DialWithTimeout(ioDeadline))
			if err != nil {
				return err
			}
			defer c.Quit()
			if err := c.Login(a.Name, a.Pass); err != nil {
				return err
			}
			_, err = c.List("/")
			return err
		}
		c, err := dialFTP(srv.Addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if i%10 == 6 {
			// Gone while the password is checked: the login that
			// succeeds after is released all the same.
			c.send("USER " + a.Name)
			c.read()
			return c.send("PASS " + a.Pass)
		}
		if err := c.login(a.Name, a.Pass); err != nil {
			return err
		}
		listing, err := c.retrieve("LIST -a")
		if err != nil {
			return err
		}
		if !bytes.Contains(listing, []byte(".bashrc")) {
			return fmt.Errorf("LIST -a of the home: %q", listing)
		}
		if i%5 == 4 {
			return nil // dropped without QUIT
		}
		_, err = c.expect("QUIT", 221)
		return err
	}

	// One session of each account first, so that what the first sessions
	// open once for good (the owner names' lookups...) is in the count.
	for i := range 2 {
		if err := session(i * 2); err != nil {
			t.Fatal(err)
		}
	}
	if !waitFor(3000, ended) {
		t.Fatalf("%d of %d warm-up sessions ended", disconnects.Load(), dials.Load())
	}
	before := settledFDs(t)
	for _, a := range users {
		if n := tasksWithUID(t, a.UID); n != 0 {
			t.Fatalf("%d threads have %s's uid before the run", n, a.Name)
		}
	}
	for i := range sessions {
		if err := session(i); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
	}
	if !waitFor(3000, ended) {
		t.Fatalf("%d of %d sessions ended", disconnects.Load(), dials.Load())
	}
	for _, a := range users {
		if n := tasksWithUID(t, a.UID); n != 0 {
			t.Errorf("%d threads still have %s's uid after %d sessions ended", n, a.Name, sessions)
		}
	}
	var after []string
	if !waitFor(100, func() bool { after = settledFDs(t); return len(after) <= len(before) }) {
		t.Errorf("%d descriptors open before the sessions, %d after:\nbefore %q\nafter %q", len(before), len(after), before, after)
	}
	t.Logf("%d sessions (%d connections): %d descriptors open before, %d after", sessions, dials.Load(), len(before), len(after))
}

// TestServerListingOwners checks that LIST shows the account's login name
// and group as the owner of what is in its home, and MLSD its uid and gid
// (pier gives the unix.uid and unix.gid facts, not owner names).
func TestServerListingOwners(t *testing.T) {
	requireRoot(t)
	alice, bob := newAccount(t, accountSpec{}), newAccount(t, accountSpec{})
	group, err := user.LookupGroupId(strconv.Itoa(int(alice.GID)))
	if err != nil {
		t.Fatal(err)
	}
	srv := newSystemServer(t, system.Options{}, nil)
	c := srv.Dial(t)
	c.Login(t, alice.Name, alice.Pass)
	c.Store(t, "STOR uploaded.txt", []byte("mine\n"))
	c.Expect(t, "MKD made", 257)

	t.Run("LIST", func(t *testing.T) {
		lines := strings.Split(strings.TrimSpace(string(c.Retrieve(t, "LIST -a"))), "\r\n")
		seen := map[string]bool{}
		for _, line := range lines {
			f := strings.Fields(line)
			if len(f) < 9 {
				t.Errorf("LIST line %q", line)
				continue
			}
			name := strings.Join(f[8:], " ")
			seen[name] = true
			if f[2] != alice.Name || f[3] != group.Name {
				t.Errorf("LIST line %q: owner %s:%s, want %s:%s", line, f[2], f[3], alice.Name, group.Name)
			}
		}
		for _, name := range []string{"uploaded.txt", "made", ".bashrc", ".profile"} {
			if !seen[name] {
				t.Errorf("LIST -a shows no %s: %q", name, lines)
			}
		}
	})
	t.Run("MLSD", func(t *testing.T) {
		lines := strings.Split(strings.TrimSpace(string(c.Retrieve(t, "MLSD"))), "\r\n")
		ids := fmt.Sprintf(";unix.gid=%d;", alice.GID)
		uid := fmt.Sprintf(";unix.uid=%d;", alice.UID)
		var names []string
		for _, line := range lines {
			facts, name, _ := strings.Cut(line, " ")
			names = append(names, name)
			if !strings.Contains(";"+facts, ids) || !strings.Contains(";"+facts, uid) {
				t.Errorf("MLSD line %q: want unix.uid=%d and unix.gid=%d", line, alice.UID, alice.GID)
			}
		}
		if !slices.Contains(names, "uploaded.txt") || !slices.Contains(names, "made") {
			t.Errorf("MLSD names %q", names)
		}
	})
	t.Run("a uid given to a new account", func(t *testing.T) {
		// An account is deleted while the server runs, and its uid
		// given to a new one, as useradd does with the highest uid.
		old := newAccount(t, accountSpec{})
		c := srv.Dial(t)
		c.Login(t, old.Name, old.Pass)
		if got := c.Retrieve(t, "LIST"); !bytes.Contains(got, []byte(" "+old.Name+" ")) {
			t.Fatalf("LIST: %q", got)
		}
		c.Expect(t, "QUIT", 221)
		removeAccount(t, old.Name)
		heir := newAccount(t, accountSpec{UID: old.UID})
		c = srv.Dial(t)
		c.Login(t, heir.Name, heir.Pass)
		got := c.Retrieve(t, "LIST")
		if bytes.Contains(got, []byte(" "+old.Name+" ")) {
			t.Fatalf("%s's files show the deleted %s as owner: %q",
				heir.Name, old.Name, got)
		}
		if !bytes.Contains(got, []byte(" "+heir.Name+" ")) {
			t.Errorf("LIST: %q, want %s as owner", got, heir.Name)
		}
	})
	t.Run("LIST of /home with Root /", func(t *testing.T) {
		srv := newSystemServer(t, system.Options{Root: "/"}, nil)
		c := srv.Dial(t)
		c.Login(t, bob.Name, bob.Pass)
		owners := map[string]string{}
		for line := range strings.SplitSeq(strings.TrimSpace(string(c.Retrieve(t, "LIST /home"))), "\r\n") {
			if f := strings.Fields(line); len(f) >= 9 {
				owners[f[8]] = f[2]
			}
		}
		for _, a := range []*account{alice, bob} {
			if got := owners[filepath.Base(a.Home)]; got != a.Name {
				t.Errorf("LIST /home shows %s owned by %q, want %q (all: %v)", a.Home, got, a.Name, owners)
			}
		}
	})
}

// TestServerWholeFileSystem checks Root "/": a login starts in its home,
// the rest of the file system is there, and the kernel, not a jail,
// keeps the account out of root's home.
func TestServerWholeFileSystem(t *testing.T) {
	requireRoot(t)
	a := newAccount(t, accountSpec{})
	logins := &loginRecorder{}
	srv := newSystemServer(t, system.Options{Root: "/"}, func(s *ftptest.Server) { s.Hooks.Login = logins.hook })
	c := srv.Dial(t)
	c.Login(t, a.Name, a.Pass)
	if got := c.Expect(t, "PWD", 257); got != `"`+a.Home+`" is the current directory.` {
		t.Errorf("PWD after login: %q, want %q", got, a.Home)
	}
	rec, _ := logins.last()
	checkLogin(t, rec, a.Name, a)
	if rec.startDir != a.Home {
		t.Errorf("User.StartDir %q, want %q", rec.startDir, a.Home)
	}
	c.Store(t, "STOR relative.txt", []byte("in the home\n"))
	checkOwner(t, filepath.Join(a.Home, "relative.txt"), a)

	fi, err := os.Stat("/root")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o001 != 0 {
		t.Fatalf("/root is %v here: others may enter it, so this test can't show the kernel refusing", fi.Mode())
	}
	t.Run("CWD /root", func(t *testing.T) {
		code, text := c.Cmd(t, "CWD /root")
		if code == 250 {
			checkCwdBug(t, c, a)
		}
		if code != 550 || text != "Permission denied." {
			t.Errorf("CWD /root: %d %q, want 550", code, text)
		}
	})
	if got := c.Expect(t, "PWD", 257); got != `"`+a.Home+`" is the current directory.` {
		t.Errorf("PWD after the refused CWD: %q", got)
	}
	if got := c.Expect(t, "CWD /etc", 250); got != `"/etc" is the current directory.` {
		t.Errorf("CWD /etc: %q", got)
	}
	if got := c.Retrieve(t, "RETR /etc/passwd"); !bytes.Contains(got, []byte("\n"+a.Name+":x:")) {
		t.Errorf("RETR /etc/passwd has no line for %s", a.Name)
	}
	c.Expect(t, "CDUP", 250)
	if got := c.Expect(t, "PWD", 257); got != `"/" is the current directory.` {
		t.Errorf("PWD after CDUP from /etc: %q", got)
	}
}

// TestServerAnonymousAccount checks AnonymousUser: "anonymous" with any
// password logs in as the account (whose nologin shell would refuse its
// own login), jailed in its home, read-only.
func TestServerAnonymousAccount(t *testing.T) {
	requireRoot(t)
	anon := newAccount(t, accountSpec{Shell: "/usr/sbin/nologin"})
	writeOwned(t, filepath.Join(anon.Home, "welcome.txt"), "welcome\n", 0o644, anon)
	user := newAccount(t, accountSpec{})
	logins := &loginRecorder{}
	srv := newSystemServer(t, system.Options{AnonymousUser: anon.Name}, func(s *ftptest.Server) { s.Hooks.Login = logins.hook })

	for _, pass := range []string{"guest@example.com", anon.Pass + "wrong"} {
		t.Run("password "+pass, func(t *testing.T) {
			c := srv.Dial(t)
			c.Login(t, "anonymous", pass)
			if got := c.Expect(t, "PWD", 257); got != `"/" is the current directory.` {
				t.Errorf("PWD: %q", got)
			}
			rec, _ := logins.last()
			checkLogin(t, rec, "anonymous", anon)
			if !rec.anonymous {
				t.Error("User.Anonymous is false")
			}
			if got := c.Retrieve(t, "RETR welcome.txt"); string(got) != "welcome\n" {
				t.Errorf("RETR welcome.txt: %q", got)
			}
			if got := c.Retrieve(t, "LIST"); !bytes.Contains(got, []byte(" "+anon.Name+" ")) || !bytes.Contains(got, []byte("welcome.txt")) {
				t.Errorf("LIST: %q", got)
			}
			c.Expect(t, "CWD ..", 250)
			if got := c.Expect(t, "PWD", 257); got != `"/" is the current directory.` {
				t.Errorf("PWD after CWD ..: %q", got)
			}
			for _, cmd := range []string{"STOR new.txt", "APPE welcome.txt", "MKD dir", "DELE welcome.txt", "RNFR welcome.txt", "SITE CHMOD 777 welcome.txt"} {
				if got := c.Expect(t, cmd, 550); got != "Not enough privileges." {
					t.Errorf("%q: %q", cmd, got)
				}
			}
			for _, name := range []string{"new.txt", "dir"} {
				if _, err := os.Lstat(filepath.Join(anon.Home, name)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s in the anonymous home: %v", name, err)
				}
			}
		})
	}
	t.Run("the account's own login", func(t *testing.T) {
		c := srv.Dial(t)
		c.Expect(t, "USER "+anon.Name, 331)
		c.Expect(t, "PASS "+anon.Pass, 530)
	})
	t.Run("another account", func(t *testing.T) {
		c := srv.Dial(t)
		c.Login(t, user.Name, user.Pass)
		c.Store(t, "STOR mine.txt", []byte("mine\n"))
		checkOwner(t, filepath.Join(user.Home, "mine.txt"), user)
	})
}

// TestServerCommandLineClients logs in, uploads and downloads with curl
// and lftp; what they upload belongs to the account.
func TestServerCommandLineClients(t *testing.T) {
	requireRoot(t)
	requireTool(t, "curl", "lftp")
	a := newAccount(t, accountSpec{Method: "YESCRYPT"})
	srv := newSystemServer(t, system.Options{}, nil)
	url := "ftp://" + srv.Addr
	local := t.TempDir()
	run := func(t *testing.T, name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = append(os.Environ(), "HOME="+local) // no ~/.lftprc, ~/.netrc
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", name, err, out)
		}
		return string(out)
	}
	data := bytes.Repeat([]byte("pier system users\n"), 10000)

	t.Run("curl", func(t *testing.T) {
		up := filepath.Join(local, "curl-up.bin")
		if err := os.WriteFile(up, data, 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, "curl", "-sS", "--max-time", "60", "--user", a.Name+":"+a.Pass, "-T", up, url+"/")
		run(t, "curl", "-sS", "--max-time", "60", "--user", a.Name+":"+a.Pass, "--ftp-create-dirs", "-T", up, url+"/curldir/again.bin")
		for _, p := range []string{"curl-up.bin", "curldir", "curldir/again.bin"} {
			checkOwner(t, filepath.Join(a.Home, p), a)
		}
		down := filepath.Join(local, "curl-down.bin")
		run(t, "curl", "-sS", "--max-time", "60", "--user", a.Name+":"+a.Pass, "-o", down, url+"/curldir/again.bin")
		if got, err := os.ReadFile(down); err != nil || !bytes.Equal(got, data) {
			t.Errorf("curl download: %d bytes (%v), want %d", len(got), err, len(data))
		}
		// curl's "login denied" exit code for a wrong password.
		cmd := exec.Command("curl", "-sS", "--max-time", "60", "--user", a.Name+":wrong", url+"/")
		var exit *exec.ExitError
		if err := cmd.Run(); !errors.As(err, &exit) || exit.ExitCode() != 67 {
			t.Errorf("curl with a wrong password: %v, want exit status 67", err)
		}
	})
	t.Run("lftp", func(t *testing.T) {
		up := filepath.Join(local, "lftp-up.bin")
		if err := os.WriteFile(up, data, 0o644); err != nil {
			t.Fatal(err)
		}
		down := filepath.Join(local, "lftp-down.bin")
		script := fmt.Sprintf("set net:max-retries 1; set net:timeout 20; set ftp:ssl-allow no; set cmd:fail-exit yes; "+
			"put %s -o lftp-up.bin; mkdir lftpdir; mv lftp-up.bin lftpdir/moved.bin; get lftpdir/moved.bin -o %s; quit", up, down)
		run(t, "lftp", "-u", a.Name+","+a.Pass, "-e", script, url)
		for _, p := range []string{"lftpdir", "lftpdir/moved.bin"} {
			checkOwner(t, filepath.Join(a.Home, p), a)
		}
		if got, err := os.ReadFile(down); err != nil || !bytes.Equal(got, data) {
			t.Errorf("lftp download: %d bytes (%v), want %d", len(got), err, len(data))
		}
	})
	t.Run("lftp put onto a 0444 file", func(t *testing.T) {
		// pier asks the kernel, as the account, before the 150
		// (pier.AccessFS), so the refusal is a 550, which lftp takes
		// for what it is. Were it a 451 after the 150, lftp would take
		// it for a passing failure, ask SIZE, find the old file at least
		// as long, and report success.
		ro := filepath.Join(a.Home, "readonly.txt")
		writeOwned(t, ro, "old content\n", 0o444, a)
		up := filepath.Join(local, "shorter.txt")
		if err := os.WriteFile(up, []byte("new\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// Retries on (lftp's default is 1000), as a user has them;
		// short waits between them.
		script := fmt.Sprintf("set net:max-retries 3; set net:reconnect-interval-base 1; set net:timeout 20; set ftp:ssl-allow no; set cmd:fail-exit yes; put %s -o readonly.txt; quit", up)
		cmd := exec.CommandContext(ctx, "lftp", "-u", a.Name+","+a.Pass, "-e", script, url)
		cmd.Env = append(os.Environ(), "HOME="+local)
		out, err := cmd.CombinedOutput()
		if got, rerr := os.ReadFile(ro); rerr != nil || string(got) != "old content\n" {
			t.Errorf("readonly.txt now holds %q (%v)", got, rerr)
		}
		if err == nil {
			t.Errorf("lftp reported success putting onto a file the account may not write: %q", out)
		}
	})
}

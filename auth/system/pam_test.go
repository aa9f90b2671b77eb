//go:build pam && cgo && linux

package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/msteinert/pam/v2"
	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
)

// pamService is the test's PAM service: Debian's pam_unix alone, without
// nullok.
const pamService = `auth required pam_unix.so
account required pam_unix.so
session required pam_unix.so
`

// pamRecordService is pamService with record.sh (pamScripts) run at each
// step, and session modules that change the state of the process they run
// in: its resource limits (pam_limits), its groups, through glibc's
// setgroups for every thread (pam_env reading the user's file), its
// keyrings, through setreuid (pam_keyinit).
const pamRecordService = `auth optional pam_exec.so quiet @/record.sh
auth required pam_unix.so
account required pam_unix.so
session required pam_exec.so @/record.sh
session required pam_limits.so conf=@/limits.conf
session required pam_env.so readenv=0 user_readenv=1 conffile=@/env.conf
session optional pam_keyinit.so force revoke
session required pam_unix.so
`

// pamLimit is the open files limit pamRecordService's sessions get.
const pamLimit = 4321

// pamScripts are the scripts and files of the services. record.sh adds a
// line "TYPE PID" to record.USER for each step it runs at, with the PID
// of the process that ran PAM (its parent). die.sh kills that process.
// block.sh writes that PID to pids.USER, then waits for a line from the
// FIFO "fifo".
var pamScripts = map[string]string{
	"record.sh":   "#!/bin/sh\necho \"$PAM_TYPE $PPID\" >>\"$(dirname \"$0\")/record.$PAM_USER\"\n",
	"die.sh":      "#!/bin/sh\nkill -9 $PPID\n",
	"block.sh":    "#!/bin/sh\ndir=$(dirname \"$0\")\necho $PPID >\"$dir/pids.$PAM_USER\"\nread line <\"$dir/fifo\"\n",
	"limits.conf": fmt.Sprintf("* - nofile %d\n", pamLimit),
	"env.conf":    "",
}

// pamConf returns a PAM configuration folder holding the services given,
// by name, and pamScripts. "@" in a service stands for the folder.
func pamConf(t *testing.T, services map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range services {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(text, "@", dir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range pamScripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// pamUser creates a throwaway account with a password and its home,
// removed when the test ends. Each test gives a different suffix.
func pamUser(t *testing.T, suffix, pass string) string {
	t.Helper()
	base := t.TempDir()
	for _, dir := range []string{base, filepath.Dir(base)} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	name := fmt.Sprintf("pierpam%d%s", os.Getpid(), suffix)
	addUser(t, name, filepath.Join(base, name))
	runTool(t, nil, name+":"+pass+"\n", "chpasswd")
	return name
}

// newPAMAuth returns an Authenticator on the machine's accounts that asks
// PAM service, read from conf, and the log it writes (Info and above).
func newPAMAuth(t *testing.T, conf, service string, change func(*Options)) (*Authenticator, *testLog) {
	t.Helper()
	log := &testLog{}
	opts := Options{PAMService: service, PAMConfDir: conf, Logger: slog.New(slog.NewJSONHandler(log, nil))}
	if change != nil {
		change(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a, log
}

// pamRecord returns the lines record.sh wrote for a user: "TYPE PID".
func pamRecord(t *testing.T, conf, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(conf, "record."+name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// recordedPID returns the PID of the record line of a type.
func recordedPID(t *testing.T, record []string, typ string) int {
	t.Helper()
	for _, line := range record {
		if rest, ok := strings.CutPrefix(line, typ+" "); ok {
			pid, err := strconv.Atoi(rest)
			if err != nil {
				t.Fatalf("record line %q", line)
			}
			return pid
		}
	}
	t.Fatalf("no %s in the record %q", typ, record)
	return 0
}

// procStat returns a process's state letter and parent PID from
// /proc/PID/stat, or ok false if there is no such process.
func procStat(t *testing.T, pid int) (state string, ppid int, ok bool) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return "", 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	return f[0], ppid, true
}

// exists reports whether a process exists (a zombie, not yet waited for,
// does).
func exists(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// openFilesLimit returns this process's RLIMIT_NOFILE.
func openFilesLimit(t *testing.T) syscall.Rlimit {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	return lim
}

// createAs creates a file through the user's file system and checks that
// it belongs to uid: the account's thread acts as the account.
func createAs(t *testing.T, u *pier.User, home, name string, uid uint32) {
	t.Helper()
	f, err := u.FS.OpenFile(context.Background(), name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatalf("create %s as %s: %v", name, u.Name, err)
	}
	f.Close()
	st, err := os.Stat(filepath.Join(home, name))
	if err != nil {
		t.Fatal(err)
	}
	if owner := st.Sys().(*syscall.Stat_t).Uid; owner != uid {
		t.Errorf("%s made by uid %d, want %d", name, owner, uid)
	}
}

// TestPAMLogin logs accounts in through PAM, in helper processes: the
// test binary started again, as any program linking the package with the
// pam tag can be.
func TestPAMLogin(t *testing.T) {
	needRoot(t)
	const pass = "Corr3ct horse PAM"
	conf := pamConf(t, map[string]string{"pier-test": pamRecordService})
	a, log := newPAMAuth(t, conf, "pier-test", nil)

	t.Run("RightPassword", func(t *testing.T) {
		t.Parallel()
		name := pamUser(t, "ok", pass)
		limit := openFilesLimit(t)
		remote := netip.MustParseAddrPort("192.0.2.7:2121")
		u, err := a.Authenticate(context.Background(), pier.ConnInfo{RemoteAddr: remote}, name, pass)
		if err != nil {
			t.Fatalf("right password: %v", err)
		}
		released := false
		defer func() {
			if !released {
				u.Release()
			}
		}()

		// Every step ran in the same helper: the test's child.
		record := pamRecord(t, conf, name)
		pid := recordedPID(t, record, "auth")
		if got := recordedPID(t, record, "open_session"); got != pid {
			t.Errorf("session opened by PID %d, authentication by %d", got, pid)
		}
		if pid == os.Getpid() {
			t.Fatal("PAM ran in the test process")
		}
		state, ppid, ok := procStat(t, pid)
		if !ok || state == "Z" || ppid != os.Getpid() {
			t.Fatalf("helper %d during the login: exists %v, state %q, parent %d, want a live child of %d", pid, ok, state, ppid, os.Getpid())
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.HasPrefix(cmdline, []byte("pier-pam-helper\x00")) {
			t.Errorf("helper's command line %q, %v", cmdline, err)
		}

		// pam_limits set the helper's limit, not the server's.
		limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("Max open files            %-20d %-20d", pamLimit, pamLimit); !strings.Contains(string(limits), want) {
			t.Errorf("helper's limits lack %q:\n%s", want, limits)
		}
		if got := openFilesLimit(t); got != limit {
			t.Errorf("the test's open files limit went from %+v to %+v", limit, got)
		}

		// The account's thread still acts as the account, after
		// modules that called setgroups and setreuid.
		e, _, err := lookupNSS(name)
		if err != nil {
			t.Fatal(err)
		}
		if u.System.UID != e.UID || u.System.Home != e.Home {
			t.Errorf("system account %+v, want uid %d home %s", u.System, e.UID, e.Home)
		}
		createAs(t, u, e.Home, "made", e.UID)

		u.Release()
		released = true
		if exists(pid) {
			t.Errorf("helper %d still exists after Release", pid)
		}
		if got := recordedPID(t, pamRecord(t, conf, name), "close_session"); got != pid {
			t.Errorf("session closed by PID %d, want %d", got, pid)
		}
	})

	t.Run("NonUTF8Password", func(t *testing.T) {
		t.Parallel()
		const latin1 = "Corr3ct h\xf4rse PAM"
		name := pamUser(t, "latin", latin1)
		login(t, a, name, latin1)
		if _, err := a.Authenticate(context.Background(), pier.ConnInfo{}, name, strings.ToValidUTF8(latin1, "\uFFFD")); err != errRefused {
			t.Errorf("the password made UTF-8: %v, want errRefused", err)
		}
	})

	refusals := []struct {
		name  string
		setup func(t *testing.T, name string) // the account, if not nil
		pass  string
		code  pam.Error // in the logged reason, if not 0
	}{
		{name: "WrongPassword", setup: func(*testing.T, string) {}, pass: "corr3ct horse PAM", code: pam.ErrAuth},
		{name: "EmptyPassword", setup: func(*testing.T, string) {}, pass: ""},
		{name: "Locked", setup: func(t *testing.T, name string) {
			runTool(t, nil, "", "usermod", "-L", name)
		}, pass: pass, code: pam.ErrAuth},
		{name: "Expired", setup: func(t *testing.T, name string) {
			runTool(t, nil, "", "chage", "-E", "0", name)
		}, pass: pass, code: pam.ErrAcctExpired},
		{name: "MustChange", setup: func(t *testing.T, name string) {
			runTool(t, nil, "", "chage", "-d", "0", name)
		}, pass: pass, code: pam.ErrNewAuthtokReqd},
		{name: "UnknownUser", pass: pass},
		{name: "NULInPassword", setup: func(*testing.T, string) {}, pass: pass + "\x00x"},
	}
	for i, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("pierpam%dnone", os.Getpid())
			if tt.setup != nil {
				name = pamUser(t, fmt.Sprintf("r%d", i), pass)
				tt.setup(t, name)
			}
			u, err := a.Authenticate(context.Background(), pier.ConnInfo{}, name, tt.pass)
			if err == nil {
				u.Release()
				t.Fatal("logged in")
			}
			if err != errRefused {
				t.Fatalf("%v, want errRefused", err)
			}
			if slices.ContainsFunc(pamRecord(t, conf, name), func(l string) bool { return strings.HasPrefix(l, "open_session") }) {
				t.Error("a session was opened")
			}
			reason := pamReason(t, log, name)
			if !strings.HasPrefix(reason, "refused by PAM: ") || tt.code != 0 && !strings.HasSuffix(reason, tt.code.Error()) {
				t.Errorf("reason %q, want PAM's %q", reason, tt.code.Error())
			}
		})
	}
}

// pamReason returns the reason of the one refusal logged for a user.
func pamReason(t *testing.T, log *testLog, name string) string {
	t.Helper()
	var reasons []string
	for _, line := range log.lines() {
		if l := parseLogLine(t, line); l["user"] == name && l["msg"] == "system login refused" {
			reasons = append(reasons, l["reason"])
		}
	}
	if len(reasons) != 1 {
		t.Fatalf("%d refusals logged for %s, want 1: %q", len(reasons), name, reasons)
	}
	return reasons[0]
}

// TestPAMRules checks pier's own rules with PAM: the lists before PAM is
// asked, the others after it let the account in, before the session.
func TestPAMRules(t *testing.T) {
	needRoot(t)
	const pass = "Corr3ct horse PAM"
	conf := pamConf(t, map[string]string{"pier-test": pamRecordService})
	tests := []struct {
		name    string
		change  func(opts *Options, user string)
		reason  string
		askPAM  bool // the helper ran the auth step
		nologin bool // the account's shell is nologin
	}{
		{name: "NotAllowed", change: func(o *Options, _ string) { o.AllowedUsers = []string{"someone"} }, reason: "not in AllowedUsers"},
		{name: "Rejected", change: func(o *Options, user string) { o.RejectedUsers = []string{user} }, reason: "in RejectedUsers"},
		{name: "MinUID", change: func(o *Options, _ string) { o.MinUID = 1 << 30 }, reason: "is below MinUID", askPAM: true},
		{name: "Shell", reason: "is not in /etc/shells", askPAM: true, nologin: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := pamUser(t, fmt.Sprintf("rule%d", i), pass)
			if tt.nologin {
				runTool(t, nil, "", "usermod", "-s", "/usr/sbin/nologin", name)
			}
			a, log := newPAMAuth(t, conf, "pier-test", func(o *Options) {
				if tt.change != nil {
					tt.change(o, name)
				}
			})
			l := refused(t, a, log, name, pass)
			if !strings.Contains(l["reason"], tt.reason) {
				t.Errorf("reason %q, want %q", l["reason"], tt.reason)
			}
			record := pamRecord(t, conf, name)
			if asked := len(record) > 0; asked != tt.askPAM {
				t.Errorf("PAM asked: %v, want %v (record %q)", asked, tt.askPAM, record)
			}
			if slices.ContainsFunc(record, func(l string) bool { return !strings.HasPrefix(l, "auth ") }) {
				t.Errorf("record %q: steps after the authentication", record)
			}
			if tt.askPAM && exists(recordedPID(t, record, "auth")) {
				t.Error("helper left behind")
			}
		})
	}

	t.Run("Anonymous", func(t *testing.T) {
		t.Parallel()
		guest := pamUser(t, "anon", pass)
		a, _ := newPAMAuth(t, conf, "pier-test", func(o *Options) { o.AnonymousUser = guest })
		u, err := a.Authenticate(context.Background(), pier.ConnInfo{}, "anonymous", "guest@example.com")
		if err != nil {
			t.Fatal(err)
		}
		u.Release()
		if record := pamRecord(t, conf, guest); record != nil {
			t.Errorf("the anonymous login went through PAM: %q", record)
		}
	})
}

// TestPAMCancel checks that a login returns when its context ends while
// PAM blocks in a module, and that the helper is killed.
func TestPAMCancel(t *testing.T) {
	needRoot(t)
	conf := pamConf(t, map[string]string{"pier-block": "auth required pam_exec.so @/block.sh\n" + pamService})
	fifo := filepath.Join(conf, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	const pass = "Corr3ct horse PAM"
	name := pamUser(t, "cancel", pass)
	a, _ := newPAMAuth(t, conf, "pier-block", nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 1)
	go func() {
		u, err := a.Authenticate(ctx, pier.ConnInfo{}, name, pass)
		if u != nil {
			u.Release()
		}
		errs <- err
	}()
	// Opening the FIFO for writing waits for the script to open it for
	// reading: PAM is then blocked in pam_exec.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// pam_exec runs its program in a session of its own (setsid),
		// out of the helper's process group: this ends it.
		w.WriteString("go on\n")
		w.Close()
	}()
	data, err := os.ReadFile(filepath.Join(conf, "pids."+name))
	if err != nil {
		t.Fatal(err)
	}
	var helper int
	if _, err := fmt.Sscan(string(data), &helper); err != nil {
		t.Fatalf("pids %q: %v", data, err)
	}
	cancel()
	if err := <-errs; err != context.Canceled {
		t.Errorf("%v, want context.Canceled", err)
	}
	if exists(helper) {
		t.Errorf("helper %d still exists", helper)
	}
	if n := len(pamSlots); n != 0 {
		t.Errorf("%d PAM slots taken", n)
	}
}

// TestPAMOutage checks PAM failures that are not refusals: the login
// fails with an error other than pier.ErrAuthFailed (the client gets
// 421), and nothing waits for a helper that died.
func TestPAMOutage(t *testing.T) {
	needRoot(t)
	const pass = "Corr3ct horse PAM"
	conf := pamConf(t, map[string]string{
		"pier-test":        pamRecordService,
		"pier-broken":      "auth required pam_exec.so /bin/false\n" + pamService,
		"pier-die-check":   "auth required pam_exec.so @/die.sh\n" + pamService,
		"pier-die-session": "auth required pam_unix.so\naccount required pam_unix.so\nsession required pam_exec.so @/die.sh\n",
	})
	tests := []struct {
		name, service, confDir, want string
	}{
		{"ModuleFails", "pier-broken", conf, "authentication"},
		{"HelperDiesInCheck", "pier-die-check", conf, "ended without a reply: signal: killed"},
		{"HelperDiesInSession", "pier-die-session", conf, "ended without a reply: signal: killed"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := pamUser(t, fmt.Sprintf("o%d", i), pass)
			a, log := newPAMAuth(t, tt.confDir, tt.service, nil)
			u, err := a.Authenticate(context.Background(), pier.ConnInfo{}, name, pass)
			if err == nil {
				u.Release()
				t.Fatal("logged in")
			}
			t.Log(err)
			if errors.Is(err, pier.ErrAuthFailed) {
				t.Fatalf("%v: a refusal, want an outage", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), fmt.Sprintf("system: PAM service %q: ", tt.service)) {
				t.Errorf("%v, want the service and %q", err, tt.want)
			}
			if lines := log.lines(); len(lines) != 0 {
				t.Errorf("logged %q", lines)
			}
		})
	}

	t.Run("HelperDiesDuringLogin", func(t *testing.T) {
		t.Parallel()
		name := pamUser(t, "died", pass)
		a, log := newPAMAuth(t, conf, "pier-test", nil)
		u := login(t, a, name, pass)
		pid := recordedPID(t, pamRecord(t, conf, name), "open_session")
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		u.Release()
		if exists(pid) {
			t.Errorf("helper %d still exists after Release", pid)
		}
		lines := log.lines()
		if len(lines) != 1 || !strings.Contains(lines[0], "PAM session close failed") || !strings.Contains(lines[0], "signal: killed") {
			t.Errorf("log %q, want the session close failure", lines)
		}
	})
}

// TestPAMServer logs in through a pier server on loopback with a real FTP
// client, and uploads, while another account logs in through PAM.
func TestPAMServer(t *testing.T) {
	needRoot(t)
	const pass = "Corr3ct horse PAM"
	conf := pamConf(t, map[string]string{"pier-test": pamRecordService})
	alice, bob := pamUser(t, "srva", pass), pamUser(t, "srvb", pass)
	// Registered before the server, so run after it shut down, and
	// released its logins.
	t.Cleanup(func() {
		for _, name := range []string{alice, bob} {
			if record := pamRecord(t, conf, name); slices.ContainsFunc(record, func(l string) bool { return strings.HasPrefix(l, "open_session ") }) {
				pid := recordedPID(t, record, "open_session")
				if exists(pid) {
					t.Errorf("%s's helper %d still exists after the server shut down", name, pid)
				}
				if got := recordedPID(t, record, "close_session"); got != pid {
					t.Errorf("%s's session closed by PID %d, want %d", name, got, pid)
				}
			}
		}
	})
	a, _ := newPAMAuth(t, conf, "pier-test", nil)
	srv := ftptest.NewServer(t, &ftptest.Options{NoAnonymous: true, Configure: func(s *ftptest.Server) {
		s.Auth = a
		s.BanAfter = -1
	}})

	dial := func(name, pass string) (*ftp.ServerConn, error) {
		t.Helper()
		c, err := ftp.Dial(srv.Addr, ftp.DialWithTimeout(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login(name, pass); err != nil {
			c.Quit()
			return nil, err
		}
		return c, nil
	}
	ca, err := dial(alice, pass)
	if err != nil {
		t.Fatalf("login %s: %v", alice, err)
	}
	defer ca.Quit()
	// bob's session modules run while alice's thread acts as alice.
	cb, err := dial(bob, pass)
	if err != nil {
		t.Fatalf("login %s: %v", bob, err)
	}
	defer cb.Quit()
	if _, err := dial(bob, "wrong"); err == nil || !strings.HasPrefix(err.Error(), "530") {
		t.Errorf("wrong password: %v, want 530", err)
	}

	for _, up := range []struct {
		c    *ftp.ServerConn
		name string
	}{{ca, alice}, {cb, bob}} {
		if err := up.c.Stor("up.txt", strings.NewReader("data\n")); err != nil {
			t.Fatalf("STOR as %s: %v", up.name, err)
		}
		e, _, err := lookupNSS(up.name)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(e.Home, "up.txt"))
		st, err2 := os.Stat(filepath.Join(e.Home, "up.txt"))
		if err != nil || err2 != nil {
			t.Fatalf("the upload: %v %v", err, err2)
		}
		if string(data) != "data\n" || st.Sys().(*syscall.Stat_t).Uid != e.UID {
			t.Errorf("%s's upload: %q owned by uid %d, want uid %d", up.name, data, st.Sys().(*syscall.Stat_t).Uid, e.UID)
		}
	}
}

func TestPAMNew(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, service, confDir, want string
	}{
		{"ConfDirAlone", "", "/tmp", "PAMConfDir is set without PAMService"},
		{"Path", "../ftp", "", "want a service name"},
		{"NUL", "ftp\x00", "", "want a service name"},
		{"NoServiceFile", "pier-missing", "", `no service file /etc/pam.d/pier-missing (PAM would use its "other" service instead)`},
		{"NoConfDir", "login", "/nonexistent", "no service file /nonexistent/login"},
		{"OK", "login", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := f.opts
			opts.PAMService, opts.PAMConfDir = tt.service, tt.confDir
			_, err := New(opts)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("New: %v, want %q", err, tt.want)
			}
		})
	}
}

// TestPAMTransaction runs PAM transactions in the test process, as the
// helper does.
func TestPAMTransaction(t *testing.T) {
	needRoot(t)
	const pass = "Corr3ct horse PAM"
	conf := pamConf(t, map[string]string{
		"pier-test": pamService,
		// pam_exec exports the PAM items to the script.
		"pier-items": "auth required pam_exec.so @/items.sh\n" + pamService,
	})
	if err := os.WriteFile(filepath.Join(conf, "items.sh"), []byte("#!/bin/sh\necho \"$PAM_USER $PAM_RHOST $PAM_TTY\" >\"$(dirname \"$0\")/items\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("Session", func(t *testing.T) {
		t.Parallel()
		name := pamUser(t, "tx", pass)
		tx, err := pamAuthenticate("pier-test", conf, name, pass, "192.0.2.7")
		if err != nil {
			t.Fatalf("right password: %v", err)
		}
		if err := tx.OpenSession(); err != nil {
			t.Fatalf("open session: %v", err)
		}
		if err := tx.OpenSession(); err == nil {
			t.Error("second open session: no error")
		}
		if err := tx.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := tx.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
		if err := tx.OpenSession(); err == nil {
			t.Error("open session after Close: no error")
		}
	})

	t.Run("Items", func(t *testing.T) {
		t.Parallel()
		name := pamUser(t, "items", pass)
		tx, err := pamAuthenticate("pier-items", conf, name, pass, "192.0.2.7")
		if err != nil {
			t.Fatalf("right password: %v", err)
		}
		tx.Close()
		got, err := os.ReadFile(filepath.Join(conf, "items"))
		if err != nil {
			t.Fatal(err)
		}
		if want := name + " 192.0.2.7 ftp\n"; string(got) != want {
			t.Errorf("PAM_USER PAM_RHOST PAM_TTY: %q, want %q", got, want)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		name := pamUser(t, "txr", pass)
		tx, err := pamAuthenticate("pier-test", conf, name, "wrong", "")
		if tx != nil || !errors.Is(err, errPAMRefused) || !errors.Is(err, pam.ErrAuth) {
			t.Errorf("%v, %v: want errPAMRefused and pam.ErrAuth", tx, err)
		}
		tx, err = pamAuthenticate("pier-missing", conf, name, pass, "")
		if tx != nil || err == nil || errors.Is(err, errPAMRefused) {
			t.Errorf("%v, %v: want an outage", tx, err)
		}
	})
}

// TestPAMMessages checks the messages between the server and its helpers.
func TestPAMMessages(t *testing.T) {
	var buf bytes.Buffer
	fields := []string{"check", "", "name", "p\xc1ss\x00\n", strings.Repeat("x", 1000)}
	if err := writeMessage(&buf, fields...); err != nil {
		t.Fatal(err)
	}
	if err := writeMessage(&buf); err != nil {
		t.Fatal(err)
	}
	whole := bytes.Clone(buf.Bytes())
	got, err := readMessage(&buf)
	if err != nil || !slices.Equal(got, fields) {
		t.Errorf("read %q, %v, want %q", got, err, fields)
	}
	if got, err := readMessage(&buf); err != nil || len(got) != 0 {
		t.Errorf("read %q, %v, want no fields", got, err)
	}
	if _, err := readMessage(&buf); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
	if _, err := readMessage(bytes.NewReader(whole[:10])); err != io.ErrUnexpectedEOF {
		t.Errorf("cut short: %v, want io.ErrUnexpectedEOF", err)
	}
	for _, bad := range [][]byte{
		{0, 0, 0, 2, 0, 0},             // a field's length cut short
		{0, 0, 0, 5, 0, 0, 0, 9, 'x'},  // a field longer than the message
		{0xff, 0xff, 0xff, 0xff, 0, 0}, // too long
	} {
		if _, err := readMessage(bytes.NewReader(bad)); err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
			t.Errorf("%q: %v, want an error", bad, err)
		}
	}
	if err := writeMessage(io.Discard, strings.Repeat("x", maxPAMMessage)); err == nil {
		t.Error("a message too long: no error")
	}
}

func TestPAMLookupNSS(t *testing.T) {
	needRoot(t)
	name := pamUser(t, "nss", "Corr3ct horse PAM")
	group := fmt.Sprintf("pierpam%dg", os.Getpid())
	runTool(t, nil, "", "groupadd", group)
	t.Cleanup(func() {
		if out, err := exec.Command("groupdel", group).CombinedOutput(); err != nil {
			t.Errorf("groupdel %s: %v: %s", group, err, out)
		}
	})
	runTool(t, nil, "", "usermod", "-aG", group, name)
	runTool(t, nil, "", "usermod", "-c", "PAM Tester,Room 7,,", name)

	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	want := parsePasswd(data)[name]
	data, err = os.ReadFile("/etc/group")
	if err != nil {
		t.Fatal(err)
	}
	wantGroups := parseGroup(data).groupsOf(name, want.GID)
	if len(wantGroups) != 2 {
		t.Fatalf("groups in /etc/group %v, want the primary one and %s", wantGroups, group)
	}

	e, groups, err := lookupNSS(name)
	if err != nil {
		t.Fatal(err)
	}
	if e != want {
		t.Errorf("entry %+v, want %+v", e, want)
	}
	if e.Shell != "/bin/sh" || e.Gecos != "PAM Tester,Room 7,," {
		t.Errorf("shell %q, GECOS %q", e.Shell, e.Gecos)
	}
	if !slices.Equal(groups, wantGroups) {
		t.Errorf("groups %v, want %v", groups, wantGroups)
	}

	for _, unknown := range []string{fmt.Sprintf("pierpam%dnone", os.Getpid()), "", "root\x00"} {
		if _, groups, err := lookupNSS(unknown); err != errUnknownUser || groups != nil {
			t.Errorf("%q: %v, %v, want errUnknownUser", unknown, groups, err)
		}
	}
}

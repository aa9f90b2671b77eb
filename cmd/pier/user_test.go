package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierftp/pier/internal/pgtest"
	"github.com/pierftp/pier/pgstore"
)

// pierUser runs "pier user args..." through the built binary with stdin
// and env, and returns its output and exit status.
func pierUser(t *testing.T, stdin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runPierCommand(t, stdin, env, append([]string{"user"}, args...)...)
}

// runPierCommand runs the built binary with args, stdin and env added to
// the environment, and returns its output and exit status.
func runPierCommand(t *testing.T, stdin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runPierEnv(t, stdin, append(os.Environ(), env...), args...)
}

// runPierEnv runs the built binary with args, stdin and exactly the
// environment env, and returns its output and exit status.
func runPierEnv(t *testing.T, stdin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(pierBinary(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// startDaemonLogging is startDaemon for a log line that comes before the
// start-up line, which it returns.
func startDaemonLogging(t *testing.T, first string, args ...string) (*daemon, string) {
	t.Helper()
	d := runDaemon(t, exec.Command(pierBinary(t), args...), nil)
	return d, d.waitLog(t, first)
}

// TestUserUsage: mistakes on the command line give one line and status 2,
// before any connection (the URL's port has nothing listening).
func TestUserUsage(t *testing.T) {
	db := "--db=postgres://pier@127.0.0.1:1/pier"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "which command?"},
		{"unknown command", []string{"frob"}, `no such command "frob"`},
		{"no name", []string{"add", db, "--home=/srv"}, "which user?"},
		{"two names", []string{"del", db, "a", "b"}, `unexpected argument "b"`},
		{"no database", []string{"list"}, "no database: give --db URL or set PIER_DB"},
		{"bad URL", []string{"list", "--db=postgres://[::1"}, "--db: not a PostgreSQL connection URL"},
		{"no home", []string{"add", db, "alice"}, "--home is required"},
		{"relative home", []string{"add", db, "alice", "--home=srv"}, "want an absolute folder"},
		{"bad letters", []string{"add", db, "alice", "--home=/srv", "--perm=elrz"}, `--perm "elrz"`},
		{"bad rate", []string{"set", db, "alice", "--read-limit=fast"}, "--read-limit"},
		{"bad quota", []string{"set", db, "alice", "--quota-bytes=10X"}, `--quota-bytes "10X"`},
		{"quota too big", []string{"set", db, "alice", "--quota-bytes=9000000T"}, `--quota-bytes "9000000T"`},
		{"negative quota", []string{"add", db, "alice", "--home=/srv", "--quota-files=-1"}, `--quota-files "-1"`},
		{"disable and enable", []string{"set", db, "alice", "--disable", "--enable"}, "choose one"},
		{"nothing to set", []string{"set", db, "alice"}, "nothing to change"},
		{"override without =", []string{"set", db, "alice", "--perm-at=/in"}, `--perm-at "/in": want /DIR=LETTERS`},
		{"relative override", []string{"set", db, "alice", "--perm-under=in=elr"}, `--perm-under "in=elr": want /DIR=LETTERS`},
		{"override letters", []string{"add", db, "alice", "--home=/srv", "--perm-at=/in=elz"}, `--perm-at "/in=elz"`},
		{"overrides and none", []string{"set", db, "alice", "--perm-at=/in=elrw", "--no-overrides"}, "choose"},
		{"unknown flag", []string{"list", db, "--perm=elr"}, "unknown flag: --perm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := pierUser(t, "", []string{"PIER_DB="}, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
				t.Errorf("status %d, stderr %q, stdout %q; want 2 and one line with %q", code, stderr, stdout, tc.want)
			}
		})
	}
	if stdout, _, code := pierUser(t, "", nil, "--help"); code != 0 || !strings.Contains(stdout, "pier user add NAME") {
		t.Errorf("--help: %d %q", code, stdout)
	}
}

// TestDBExcludes: --db with another source of accounts is a usage error.
func TestDBExcludes(t *testing.T) {
	for _, extra := range [][]string{{"--users-file", "/etc/passwd"}, {"-u", "bob", "-P", "pw"}, {"--system-users"}, {"-w"}} {
		args := append([]string{"-i", "127.0.0.1", "-p", "0", "--db", "postgres://pier:sekrit@127.0.0.1:1/pier"}, extra...)
		out, err := exec.Command(pierBinary(t), args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "excludes") || strings.Count(string(out), "\n") != 1 {
			t.Errorf("%v: %v\n%s", extra, err, out)
		}
	}
}

// TestUserUnreachable: a database that can't be reached is status 1, one
// line, without the password.
func TestUserUnreachable(t *testing.T) {
	_, stderr, code := pierUser(t, "", []string{"PIER_DB=postgres://pier:sekrit@127.0.0.1:1/pier"}, "list")
	if code != 1 || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "sekrit") || !strings.HasPrefix(stderr, "pier user list: ") {
		t.Errorf("status %d, stderr %q", code, stderr)
	}
}

// TestUserCommandsAndDaemon manages users with "pier user" and logs them
// in to a daemon started with --db; changes made while it runs apply at
// the next login.
func TestUserCommandsAndDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	url := pgtest.Start(t)
	// The cluster trusts local connections: the password is never asked
	// for, and must never be logged.
	url = strings.Replace(url, "postgres@", "postgres:sekrit@", 1)
	home := t.TempDir()
	run := func(stdin string, wantCode int, args ...string) string {
		t.Helper()
		stdout, stderr, code := pierUser(t, stdin, nil, append(args, "--db", url)...)
		if code != wantCode {
			t.Fatalf("pier user %v: status %d, want %d\n%s", args, code, wantCode, stderr)
		}
		if strings.Contains(stdout+stderr, "sekrit") {
			t.Errorf("pier user %v printed the password: %s%s", args, stdout, stderr)
		}
		return stdout + stderr
	}
	run("alice-pw\n", 0, "add", "alice", "--home", home, "--perm", "elrw", "--write-limit", "1M", "--message", "hello alice",
		"--quota-bytes", "10G", "--quota-files", "1000")
	run("bob-pw\n", 0, "add", "bob", "--home", home)
	if out := run("x\n", 1, "add", "bob", "--home", home); !strings.Contains(out, "already exists") {
		t.Errorf("second add: %q", out)
	}
	if out := run("", 1, "del", "carol"); !strings.Contains(out, "no such user") {
		t.Errorf("del carol: %q", out)
	}
	list := run("", 0, "list")
	if lines := strings.Split(strings.TrimSpace(list), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.HasPrefix(lines[1], "alice ") || !strings.Contains(lines[1], "elrw") || !strings.Contains(lines[1], home) ||
		!strings.Contains(lines[1], " 0/10G ") || !strings.Contains(lines[1], " 0/1000 ") || !strings.Contains(lines[2], " 0/- ") {
		t.Errorf("list:\n%s", list)
	}
	if strings.Contains(list, "$argon2id") {
		t.Errorf("list shows hashes:\n%s", list)
	}
	stdout, _, _ := pierUser(t, "", []string{"PIER_DB=" + url}, "list", "--json") // the URL from the environment
	var users []map[string]any
	if err := json.Unmarshal([]byte(stdout), &users); err != nil || len(users) != 2 || users[0]["name"] != "alice" ||
		users[0]["write_limit"] != float64(1<<20) || users[0]["login_message"] != "hello alice" || strings.Contains(stdout, "argon2") ||
		users[0]["quota_bytes"] != float64(10<<30) || users[0]["quota_files"] != float64(1000) || users[1]["quota_bytes"] != float64(0) {
		t.Errorf("list --json: %v\n%s", err, stdout)
	}
	run("", 0, "del", "bob")

	port := freePort(t)
	d, ready := startDaemonLogging(t, "database ready", "-i", "127.0.0.1", "-p", strconv.Itoa(port), "--db", url)
	if strings.Contains(ready, "sekrit") || !strings.Contains(ready, "schema_version="+strconv.Itoa(pgstore.SchemaVersion)) ||
		!strings.Contains(ready, "postgres://postgres:xxxxx@127.0.0.1:") {
		t.Errorf("ready line: %s", ready)
	}
	if startup := d.waitLog(t, "starting pier"); strings.Contains(startup, "sekrit") {
		t.Errorf("start-up line shows the password: %s", startup)
	}
	login := func(user, pass, code string) *ftpClient {
		t.Helper()
		f := dialClient(t, port)
		f.expect("", "220")
		f.expect("USER "+user, "331")
		f.expect("PASS "+pass, code)
		return f
	}
	f := login("alice", "alice-pw", "230")
	f.expect("TYPE I", "200")
	f.store("up.txt", []byte("hi\n"))
	login("bob", "bob-pw", "530")

	// The upload counted; a quota lowered below what the next upload
	// needs refuses it.
	waitUsage(t, url, "alice", 3, 1)
	run("", 0, "set", "alice", "--quota-bytes", "5")
	f = login("alice", "alice-pw", "230")
	f.expect("TYPE I", "200")
	data := f.startStore("big.txt")
	data.Write([]byte("0123456789"))
	data.Close()
	f.expect("", "552")
	run("", 0, "set", "alice", "--quota-bytes", "0")

	run("", 0, "set", "alice", "--perm", "elr")
	f = login("alice", "alice-pw", "230")
	f.expect("TYPE I", "200")
	f.passive()
	f.expect("STOR refused.txt", "550")
	// Folder permissions: w under /drop (and below), not at the top.
	if err := os.MkdirAll(filepath.Join(home, "drop", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	run("", 0, "set", "alice", "--perm-under", "/drop=elrw", "--perm-at", "/pub/=elr")
	stdout, _, _ = pierUser(t, "", nil, "list", "--json", "--db", url)
	if !strings.Contains(stdout, `"dir": "/drop"`) || !strings.Contains(stdout, `"recursive": true`) || !strings.Contains(stdout, `"dir": "/pub"`) {
		t.Errorf("list --json after --perm-under, --perm-at:\n%s", stdout)
	}
	f = login("alice", "alice-pw", "230")
	f.expect("TYPE I", "200")
	f.store("drop/deep/in.txt", []byte("dropped\n"))
	f.passive()
	f.expect("STOR top.txt", "550")
	run("", 0, "set", "alice", "--no-overrides")
	f = login("alice", "alice-pw", "230")
	f.expect("TYPE I", "200")
	f.passive()
	f.expect("STOR drop/again.txt", "550")
	run("", 0, "set", "alice", "--disable")
	login("alice", "alice-pw", "530")
	run("new-pw\n", 0, "set", "alice", "--enable", "--password")
	login("alice", "new-pw", "230")
	d.stop(t)
}

// waitUsage polls "pier user list --json" until name's usage is bytes
// and files, for a while at most.
func waitUsage(t *testing.T, url, name string, bytes, files int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		stdout, stderr, code := pierUser(t, "", nil, "list", "--json", "--db", url)
		var users []listedUser
		if code != 0 || json.Unmarshal([]byte(stdout), &users) != nil {
			t.Fatalf("list --json: status %d: %s%s", code, stdout, stderr)
		}
		i := slices.IndexFunc(users, func(u listedUser) bool { return u.Name == name })
		if i >= 0 && users[i].UsedBytes == bytes && users[i].UsedFiles == files {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage of %s: %+v; want %d bytes, %d files", name, users, bytes, files)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDaemonDatabaseOutage: pier starts while PostgreSQL is down (a
// warning, logins 421), becomes ready when it comes up, answers 421 again
// while it is stopped, and recovers when it is back, without a restart;
// the outages ban nobody (--ban-after 1).
func TestDaemonDatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	db := pgtest.StartServer(t)
	home := t.TempDir()
	if _, stderr, code := pierUser(t, "pw\n", nil, "add", "alice", "--home", home, "--db", db.URL); code != 0 {
		t.Fatalf("add: %s", stderr)
	}
	db.Stop()
	port := freePort(t)
	d, _ := startDaemonLogging(t, "database unreachable", "-i", "127.0.0.1", "-p", strconv.Itoa(port), "--db", db.URL, "--ban-after", "1")
	d.waitLog(t, "starting pier")
	// Published (once it can) under the default name: host/address.
	host, _ := os.Hostname()
	if l := d.waitLog(t, "publishing the live sessions"); !strings.Contains(l, "node="+host+"/127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("node name: %s", l)
	}
	login := func(code string) {
		t.Helper()
		f := dialClient(t, port)
		f.expect("", "220")
		f.expect("USER alice", "331")
		f.expect("PASS pw", code)
	}
	login("421")
	login("421") // not banned by the first

	db.Restart()
	d.waitLog(t, "database ready")
	login("230")

	db.Stop()
	login("421")
	db.Restart()
	login("230")
	d.stop(t)
}

// TestRedactDB: the password is out of every form of the URL.
func TestRedactDB(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://pier:sekrit@db.example:5432/pier", "postgres://pier:xxxxx@db.example:5432/pier"},
		{"postgresql://pier@db.example/pier?sslmode=require&password=sekrit", "postgresql://pier@db.example/pier?password=xxxxx&sslmode=require"},
		{"postgres://db.example/pier", "postgres://db.example/pier"},
		{"host=db.example user=pier password=sekrit dbname=pier", "host=db.example user=pier password=xxxxx dbname=pier"},
		{"host=db.example password = 'sek rit' dbname=pier", "host=db.example password = xxxxx dbname=pier"},
		// net/url refuses these; pgx takes them.
		{"postgres://pier:sekrit@[::1]:5432,db2/pier", "postgres://pier:xxxxx@[::1]:5432,db2/pier"},
		{"postgres://pier:sekrit@db1,[::1]/pier?sslpassword=sekrit2", "postgres://pier:xxxxx@db1,[::1]/pier?sslpassword=xxxxx"},
		{"postgresql://pier:sekrit@db1,[::1]", "postgresql://pier:xxxxx@db1,[::1]"},
		{"postgres://db.example/pier?sslpassword=sekrit", "postgres://db.example/pier?sslpassword=xxxxx"},
	}
	for _, tc := range tests {
		if got := redactDB(tc.in); got != tc.want {
			t.Errorf("redactDB(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCheckConfigDB: pier check-config takes a --db setting without
// connecting (nothing listens on the URL's port).
func TestCheckConfigDB(t *testing.T) {
	file := t.TempDir() + "/pier.conf"
	if err := os.WriteFile(file, []byte("db = postgres://pier@127.0.0.1:1/pier\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pierBinary(t), "check-config", file).CombinedOutput()
	if err != nil || string(out) != file+": OK\n" {
		t.Errorf("check-config: %v\n%s", err, out)
	}
}

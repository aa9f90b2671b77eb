package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/internal/pgtest"
	"github.com/pierftp/pier/pgstore"
)

// pierSessions runs "pier sessions args..." through the built binary and
// returns its output and exit status.
func pierSessions(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runPierCommand(t, "", env, append([]string{"sessions"}, args...)...)
}

// TestSessionsUsage: mistakes give one line and status 2, before any
// connection; --help is status 0.
func TestSessionsUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no database", nil, "no database: give --db URL or set PIER_DB"},
		{"bad URL", []string{"--db=postgres://[::1"}, "--db: not a PostgreSQL connection URL"},
		{"an argument", []string{"--db=postgres://pier@127.0.0.1:1/pier", "node1"}, `unexpected argument "node1"`},
		{"unknown flag", []string{"--node=x"}, "unknown flag: --node"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := pierSessions(t, []string{"PIER_DB="}, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
				t.Errorf("status %d, stderr %q, stdout %q; want 2 and one line with %q", code, stderr, stdout, tc.want)
			}
		})
	}
	if stdout, _, code := pierSessions(t, nil, "--help"); code != 0 || !strings.Contains(stdout, "Usage: pier sessions") {
		t.Errorf("--help: %d %q", code, stdout)
	}
	_, stderr, code := pierSessions(t, []string{"PIER_DB=postgres://pier:sekrit@127.0.0.1:1/pier"})
	if code != 1 || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "sekrit") {
		t.Errorf("unreachable: status %d, stderr %q", code, stderr)
	}
}

// TestNodeNameFlag: --node-name without --db, or empty, is a usage error,
// before anything starts; --help shows it.
func TestNodeNameFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--node-name", "ftp1"}, "--node-name needs --db"},
		{[]string{"--db", "postgres://pier@127.0.0.1:1/pier", "--node-name", " "}, "--node-name: an empty name"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"-i", "127.0.0.1", "-p", "0"}, tc.args...), &stdout, &stderr); code != 2 ||
			strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: status %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if run([]string{"--help"}, &stdout, &stderr); !strings.Contains(stdout.String(), "--node-name NAME") {
		t.Errorf("--help lacks --node-name NAME:\n%s", stdout.String())
	}
}

// TestSessionsCommand: "pier sessions" lists the sessions of a daemon
// started with --db under its --node-name, until the daemon stops.
func TestSessionsCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	url := pgtest.Start(t)
	// It reads only: on a database pier never served, it says so.
	if _, stderr, code := pierSessions(t, nil, "--db", url); code != 1 || !strings.Contains(stderr, "no view pier_live_sessions") {
		t.Errorf("before pier's tables: status %d, %q", code, stderr)
	}
	home := t.TempDir()
	if _, stderr, code := pierUser(t, "pw\n", nil, "add", "alice", "--home", home, "--perm", "elrw", "--db", url); code != 0 {
		t.Fatalf("add: %s", stderr)
	}
	port := freePort(t)
	d, _ := startDaemonLogging(t, "database ready", "-i", "127.0.0.1", "-p", strconv.Itoa(port), "--db", url, "--node-name", "ftp-test-1")
	if l := d.waitLog(t, "publishing the live sessions"); !strings.Contains(l, "node=ftp-test-1") {
		t.Errorf("log: %s", l)
	}
	f := dialClient(t, port)
	f.expect("", "220")
	f.expect("USER alice", "331")
	f.expect("PASS pw", "230")
	f.expect("PWD", "257")
	client := f.c.LocalAddr().String()

	var row []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		stdout, stderr, code := pierSessions(t, nil, "--db", url)
		if code != 0 {
			t.Fatalf("pier sessions: status %d: %s", code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if strings.Join(strings.Fields(lines[0]), " ") != "NODE ID USER CLIENT SINCE COMMAND TRANSFER" {
			t.Fatalf("header: %q", lines[0])
		}
		if len(lines) == 2 && strings.Contains(lines[1], " PWD ") {
			row = strings.Fields(lines[1])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pier sessions:\n%s", stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(row) != 7 || row[0] != "ftp-test-1" || row[2] != "alice" || row[3] != client || row[5] != "PWD" || row[6] != "-" {
		t.Errorf("row: %q; want ftp-test-1, alice from %s, PWD, no transfer", row, client)
	}
	if since, err := time.Parse(time.RFC3339, row[4]); err != nil || since.After(time.Now()) {
		t.Errorf("since %q: %v", row[4], err)
	}
	stdout, _, _ := pierSessions(t, []string{"PIER_DB=" + url}, "--json")
	var sessions []listedSession
	if err := json.Unmarshal([]byte(stdout), &sessions); err != nil || len(sessions) != 1 ||
		sessions[0].Node != "ftp-test-1" || sessions[0].User != "alice" || sessions[0].Client != client {
		t.Errorf("--json: %v\n%s", err, stdout)
	}

	d.stop(t) // removes the node's sessions
	if stdout, _, code := pierSessions(t, nil, "--db", url); code != 0 || strings.Count(stdout, "\n") != 1 {
		t.Errorf("after the daemon stopped: status %d\n%s", code, stdout)
	}
}

// TestReloadKeepsDatabase: a reload (a dry run of configure) takes the
// database pier started with as authenticator and ban store, and starts
// no publisher of its own.
func TestReloadKeepsDatabase(t *testing.T) {
	const url = "postgres://pier@127.0.0.1:1/pier" // never connected to
	store, err := pgstore.Open(url, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	openedStore.Lock()
	before := openedStore.store
	openedStore.store = store
	openedStore.Unlock()
	defer func() {
		openedStore.Lock()
		openedStore.store = before
		openedStore.Unlock()
	}()
	o := &options{db: dbOptions{url: url}}
	cfg := &config{o: o, dryRun: true, logger: slog.New(slog.DiscardHandler)}
	srv := &pier.Server{}
	if err := configureDB(o, srv, cfg); err != nil {
		t.Fatal(err)
	}
	if srv.Auth != store || srv.BanStore != store {
		t.Errorf("reload: Auth %v, BanStore %v; want the running store", srv.Auth, srv.BanStore)
	}
	var logged bytes.Buffer
	cfg.logger = slog.New(slog.NewTextHandler(&logged, nil))
	serveDB(srv, cfg, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2121})()
	if logged.Len() != 0 {
		t.Errorf("a dry run published: %s", logged.String())
	}
}

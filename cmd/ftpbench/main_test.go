package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/tlscert"
)

// TestMain lets the test binary be ceiling-store's receiving process, as
// ftpbench's own main does: the ceiling starts os.Executable() again.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == storeReceiverArg {
		os.Exit(storeReceiverMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// benchArgs are the flags of a tiny run against srv.
func benchArgs(t *testing.T, srv *ftptest.Server, extra ...string) []string {
	t.Helper()
	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{
		"-H", host, "-P", port, "-u", ftptest.User, "-p", ftptest.Password,
		"-n", "5", "-s", "64K", "--single-size", "1M", "--entries", "100",
		"--timeout", "20s",
	}, extra...)
}

// runBench runs ftpbench and returns its JSON results, failing the test
// unless it exits with status 0.
func runBench(t *testing.T, args ...string) []result {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	code := run(append(args, "--json", out), &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if code != 0 {
		t.Fatalf("run exited %d", code)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var results []result
	if err := json.Unmarshal(data, &results); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, data)
	}
	for _, r := range results {
		if r.Errors != 0 || r.Error != "" {
			t.Errorf("%s: %d errors: %s", r.Workload, r.Errors, r.Error)
		}
		if r.Value <= 0 || r.Seconds <= 0 {
			t.Errorf("%s: value %v, seconds %v", r.Workload, r.Value, r.Seconds)
		}
		if !strings.Contains(stdout.String(), r.Workload) {
			t.Errorf("%s missing from the table", r.Workload)
		}
	}
	return results
}

// dirNames lists a folder of the server.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestAllWorkloads(t *testing.T) {
	srv := ftptest.NewServer(t, nil)
	dir := t.TempDir()
	defer func(d func() string) { ceilingDir = d }(ceilingDir)
	ceilingDir = func() string { return dir }
	// The server runs in this process: --pid samples our own memory.
	results := runBench(t, benchArgs(t, srv, "-b", "all", "--pid", strconv.Itoa(os.Getpid()), "--quiet")...)
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("the ceiling left %d files behind, the first %s", len(left), left[0].Name())
	}
	want := map[string]string{
		"ceiling-sendfile": "MB/s", "ceiling-write": "MB/s", "ceiling-store": "MB/s",
		"stor": "MB/s", "retr": "MB/s", "logins": "s", "stor-idle": "MB/s", "retr-idle": "MB/s",
		"retr-many": "s", "stor-many": "s", "quit": "s", "list-100": "s", "mlsd-100": "s",
	}
	if len(results) != len(want) {
		t.Errorf("%d results, want %d", len(results), len(want))
	}
	for _, r := range results {
		unit, ok := want[r.Workload]
		if !ok {
			t.Errorf("unexpected workload %q", r.Workload)
			continue
		}
		if r.Unit != unit {
			t.Errorf("%s: unit %q, want %q", r.Workload, r.Unit, unit)
		}
		if !strings.HasPrefix(r.Workload, "ceiling") && (r.ServerRSS <= 0 || r.ServerPSS <= 0) {
			t.Errorf("%s: no memory sample (rss %d, pss %d)", r.Workload, r.ServerRSS, r.ServerPSS)
		}
		switch r.Workload {
		case "stor", "retr":
			if r.Bytes != 1<<20 {
				t.Errorf("%s: %d bytes", r.Workload, r.Bytes)
			}
		case "retr-many", "stor-many":
			if r.Bytes != 5*64<<10 || r.Clients != 5 {
				t.Errorf("%s: %d bytes, %d clients", r.Workload, r.Bytes, r.Clients)
			}
		}
	}
	// Only the listing folder is left, with its 100 files.
	if got := dirNames(t, srv.Dir); len(got) != 1 || got[0] != "ftpbench-list-100" {
		t.Errorf("left on the server: %v", got)
	}
	if got := dirNames(t, filepath.Join(srv.Dir, "ftpbench-list-100")); len(got) != 100 {
		t.Errorf("listing folder has %d entries", len(got))
	}

	// A second run reuses the folder, repeats, and --cleanup removes it.
	runBench(t, benchArgs(t, srv, "-b", "list,mlsd", "--repeat", "3", "--cleanup")...)
	if got := dirNames(t, srv.Dir); len(got) != 0 {
		t.Errorf("left on the server after --cleanup: %v", got)
	}
}

func TestTLS(t *testing.T) {
	cert, err := tlscert.SelfSigned("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}})
	results := runBench(t, benchArgs(t, srv, "-b", "stor,retr,retr-many", "--tls")...)
	if len(results) != 3 {
		t.Errorf("%d results, want 3", len(results))
	}
}

func TestFailuresAreReported(t *testing.T) {
	srv := ftptest.NewServer(t, nil)
	var stdout, stderr bytes.Buffer
	args := benchArgs(t, srv, "-b", "retr,logins", "-n", "2", "--quiet")
	for i, a := range args {
		if a == ftptest.Password {
			args[i] = "wrong"
		}
	}
	if code := run(args, &stdout, &stderr); code != 1 {
		t.Errorf("exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "530") {
		t.Errorf("the table does not show the 530:\n%s", stdout.String())
	}
}

func TestRefusesRemoteHosts(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-H", "192.0.2.1", "-u", "x", "-b", "stor"}, &stdout, &stderr); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "loopback") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

func TestFlags(t *testing.T) {
	for in, want := range map[string]int64{"10M": 10 << 20, "64K": 64 << 10, "1G": 1 << 30, "512": 512, "2MiB": 2 << 20, "3kb": 3 << 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "1.5M", "-1", "10X"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
	var stdout, stderr bytes.Buffer
	for _, args := range [][]string{
		{"-u", "x", "-b", "nope"},
		{"-b", "stor"}, // no user
		{"-u", "x", "-n", "0"},
	} {
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code := run([]string{"--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "--single-size") {
		t.Errorf("--help: exit %d\n%s", code, stdout.String())
	}
	if port, err := parseEPSV("Entering Extended Passive Mode (|||6446|)"); err != nil || port != 6446 {
		t.Errorf("parseEPSV: %d, %v", port, err)
	}
	if dir, err := parsePWD(`"/a ""b""" is the current directory`); err != nil || dir != `/a "b"` {
		t.Errorf("parsePWD: %q, %v", dir, err)
	}
}

// TestCPU: the client's CPU time is measured for every timed part, the
// server's through the cgroup files of v2 (cpu.stat) and v1
// (cpuacct.usage, also where a cpu.stat without usage sits beside it),
// and an unreadable --cgroup is refused before any workload runs.
func TestCPU(t *testing.T) {
	v2, v1, v1cpu, bad, none := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	write := func(dir, name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(v2, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n")
	write(v1, "cpuacct.usage", "2000000\n")
	// v1 with cpu and cpuacct mounted together: cpu.stat holds only
	// throttling counters
	write(v1cpu, "cpuacct.usage", "3000000\n")
	write(v1cpu, "cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n")
	write(bad, "cpu.stat", "user_usec 1000\n")
	for dir, want := range map[string]time.Duration{v2: 1500 * time.Microsecond, v1: 2 * time.Millisecond, v1cpu: 3 * time.Millisecond} {
		if got, err := cgroupCPU(dir); err != nil || got != want {
			t.Errorf("cgroupCPU(%s) = %v, %v; want %v", dir, got, err, want)
		}
	}
	for _, dir := range []string{bad, none} {
		if _, err := cgroupCPU(dir); err == nil {
			t.Errorf("cgroupCPU(%s) succeeded", dir)
		}
	}

	srv := ftptest.NewServer(t, nil)
	var stdout, stderr bytes.Buffer
	if code := run(benchArgs(t, srv, "-b", "stor", "--cgroup", none), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--cgroup") {
		t.Errorf("--cgroup %s: exit %d, want 2\n%s", none, code, stderr.String())
	}
	// A cgroup whose usage does not move: the server used no CPU.
	for _, r := range runBench(t, benchArgs(t, srv, "-b", "stor,retr", "--cgroup", v2, "--quiet")...) {
		if r.ClientCPU <= 0 || r.ServerCPU == nil || *r.ServerCPU != 0 {
			t.Errorf("%s: client CPU %v s, server CPU %v; want > 0 and 0 s", r.Workload, r.ClientCPU, r.ServerCPU)
		}
	}
}

// TestStoreReceiverBadInput: the receiving process refuses wrong arguments,
// and a receiver that cannot store says why, which ceiling-store reports
// instead of a bare connection error.
func TestStoreReceiverBadInput(t *testing.T) {
	for _, args := range [][]string{nil, {"/tmp"}, {"/tmp", "soon"}, {"/tmp", "1s", "extra"}} {
		if code := storeReceiverMain(args); code != 2 {
			t.Errorf("storeReceiverMain(%q) = %d, want 2", args, code)
		}
	}
	b := &bench{o: &options{timeout: 10 * time.Second}, wbuf: make([]byte, 64<<10)}
	_, err := b.storeCeiling(4<<20, filepath.Join(t.TempDir(), "missing"))
	if err == nil || !strings.Contains(err.Error(), "ceiling-store: the receiver:") {
		t.Errorf("storing into a missing folder: error %v, want the receiver's", err)
	}
}

// TestParseFlagsSettle: --settle is refused where it could not do what it
// says, rather than ignored.
func TestParseFlagsSettle(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" for accepted
	}{
		{[]string{"-u", "a", "-p", "b", "--settle", "-1s", "--pid", "1"}, "--settle must not be negative"},
		{[]string{"-u", "a", "-p", "b", "--settle", "5s"}, "needs --pid"},
		{[]string{"-u", "a", "-p", "b", "--settle", "five"}, "invalid argument"},
		{[]string{"-u", "a", "-p", "b", "--settle", "5s", "--pid", "1"}, ""},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v, want accepted", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

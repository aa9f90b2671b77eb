package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemonXferlog: --xferlog writes a line per transfer, and after
// logrotate's rename and SIGHUP the next lines go to a new file.
func TestDaemonXferlog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "xferlog")
	port := freePort(t)
	d, _ := startDaemon(t, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-d", dir, "-w",
		"-u", "alice", "-P", "s3cret", "--xferlog", logPath)
	f := dialClient(t, port)
	f.expect("", "220")
	f.expect("USER alice", "331")
	f.expect("PASS s3cret", "230")
	f.expect("TYPE I", "200")
	data := []byte("0123456789")
	f.store("my file.bin", data)
	if got := f.retrieve("my file.bin"); string(got) != string(data) {
		t.Fatalf("RETR got %q", got)
	}
	f.expect("NOOP", "200") // the file hooks ran before NOOP was read

	checkXferlog(t, logPath,
		"127.0.0.1 10 /my_file.bin b _ i r alice ftp 0 * c",
		"127.0.0.1 10 /my_file.bin b _ o r alice ftp 0 * c")

	// logrotate: rename, then SIGHUP.
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(t, "reopened the transfer log")
	f.expect("TYPE A", "200")
	f.retrieve("my file.bin")
	f.expect("NOOP", "200")

	checkXferlog(t, logPath+".1",
		"127.0.0.1 10 /my_file.bin b _ i r alice ftp 0 * c",
		"127.0.0.1 10 /my_file.bin b _ o r alice ftp 0 * c")
	checkXferlog(t, logPath, "127.0.0.1 10 /my_file.bin a _ o r alice ftp 0 * c")
	st, err := os.Stat(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm&^0o640 != 0 {
		t.Errorf("new log's mode %v, want at most 0640", perm)
	}
	f.expect("QUIT", "221")
	d.stop(t)
}

// checkXferlog checks that the file at path has one line per want, each
// a ctime(3) date, a whole number of seconds (at least 1), then want;
// and that no password is in it.
func checkXferlog(t *testing.T, path string, want ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "s3cret") {
		t.Errorf("%s has the password", path)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%s has %d lines, want %d:\n%s", path, len(lines), len(want), b)
	}
	for i, l := range lines {
		if len(l) < 26 {
			t.Errorf("line %q too short", l)
			continue
		}
		if _, err := time.ParseInLocation(time.ANSIC, l[:24], time.Local); err != nil {
			t.Errorf("line %q: date: %v", l, err)
		}
		secs, rest, _ := strings.Cut(l[25:], " ")
		if n, err := strconv.Atoi(secs); err != nil || n < 1 {
			t.Errorf("line %q: transfer time %q, want a whole number of seconds, at least 1", l, secs)
		}
		if rest != want[i] {
			t.Errorf("line %q:\ngot  %q\nwant %q", l, rest, want[i])
		}
	}
}

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

// TestDaemonXferlog: --xferlog writes a line per transfer; after
// logrotate's rename and SIGUSR1 (or SIGHUP) the next lines go to a new
// file; at exit the queued lines are written.
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

	checkXferlog(t, logPath,
		"127.0.0.1 10 /my_file.bin b _ i r alice ftp 0 * c",
		"127.0.0.1 10 /my_file.bin b _ o r alice ftp 0 * c")

	// logrotate: rename, then SIGUSR1 (contrib/logrotate.d/pier).
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGUSR1)
	d.waitLog(t, "SIGUSR1: reopened the transfer log")
	f.expect("TYPE A", "200")
	f.retrieve("my file.bin")

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

	// SIGHUP reopens it too, with the rest of a reload.
	if err := os.Rename(logPath, logPath+".2"); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(t, "reload: reopened the transfer log")
	f.expect("TYPE I", "200")
	f.retrieve("my file.bin")
	checkXferlog(t, logPath+".2", "127.0.0.1 10 /my_file.bin a _ o r alice ftp 0 * c")
	checkXferlog(t, logPath, "127.0.0.1 10 /my_file.bin b _ o r alice ftp 0 * c")

	// The last transfer's line is written by the time pier has exited.
	f.store("last.bin", data)
	f.expect("QUIT", "221")
	d.stop(t)
	checkXferlog(t, logPath,
		"127.0.0.1 10 /my_file.bin b _ o r alice ftp 0 * c",
		"127.0.0.1 10 /last.bin b _ i r alice ftp 0 * c")
}

// TestDaemonXferlogOffSIGUSR1: without --xferlog, SIGUSR1 (from a
// logrotate script aimed at every pier) is logged, not fatal.
func TestDaemonXferlogOffSIGUSR1(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	port := freePort(t)
	d, _ := startDaemon(t, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-d", t.TempDir())
	d.cmd.Process.Signal(syscall.SIGUSR1)
	d.waitLog(t, "SIGUSR1: no transfer log (--xferlog) to reopen")
	f := dialClient(t, port)
	f.expect("", "220")
	f.expect("QUIT", "221")
	d.stop(t)
}

// checkXferlog waits until the file at path has as many lines as want
// (pier writes them from a goroutine of their own, after the transfer's
// reply), then checks that each is a ctime(3) date, a whole number of
// seconds (at least 1), then want; and that no password is in it.
func checkXferlog(t *testing.T, path string, want ...string) {
	t.Helper()
	var (
		b     []byte
		lines []string
	)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(b) == 0 {
			lines = nil
		}
		if len(lines) >= len(want) || time.Now().After(deadline) {
			break
		}
	}
	if strings.Contains(string(b), "s3cret") {
		t.Errorf("%s has the password", path)
	}
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

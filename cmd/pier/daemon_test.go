package main

import (
	"bufio"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// daemon is a pier process started by a test.
type daemon struct {
	cmd  *exec.Cmd
	logs chan string // its stderr, line by line; closed when it exits
}

// startDaemon runs the built binary with args and waits for its start-up
// log line, which it returns. The process is killed when the test ends.
func startDaemon(t *testing.T, args ...string) (*daemon, string) {
	t.Helper()
	d := &daemon{cmd: exec.Command(pierBinary(t), args...), logs: make(chan string, 100)}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.logs <- sc.Text()
		}
		close(d.logs)
	}()
	return d, d.waitLog(t, "starting pier")
}

// waitLog returns the next log line that contains substr.
func (d *daemon) waitLog(t *testing.T, substr string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-d.logs:
			if !ok {
				t.Fatalf("pier exited before logging %q", substr)
			}
			if strings.Contains(l, substr) {
				return l
			}
		case <-timeout:
			t.Fatalf("no log line with %q", substr)
		}
	}
}

// stop sends SIGTERM and checks that pier exits cleanly.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		for range d.logs {
		}
	}()
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pier exited with %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("pier did not stop after SIGTERM")
	}
}

// dialFTP connects to 127.0.0.1:port and returns a function that sends a
// line ("" sends nothing) and reads the final line of its reply, failing
// the test unless it starts with code.
func dialFTP(t *testing.T, port int) func(send, code string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	return func(send, code string) string {
		t.Helper()
		if send != "" {
			io.WriteString(c, send+"\r\n")
		}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%q: %v", send, err)
			}
			if len(l) >= 4 && l[3] == ' ' {
				if !strings.HasPrefix(l, code) {
					t.Fatalf("%q: got %q, want %s", send, l, code)
				}
				return l
			}
		}
	}
}

package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifySocket is a datagram socket standing in for systemd's
// NOTIFY_SOCKET; its messages arrive on msgs.
type notifySocket struct {
	path string
	msgs chan string
}

func listenNotify(t *testing.T, path string) *notifySocket {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	n := &notifySocket{path: path, msgs: make(chan string, 100)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	return n
}

// wait returns the next message that has the line want.
func (n *notifySocket) wait(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(20 * time.Second) // a hang guard only
	for {
		select {
		case m := <-n.msgs:
			for _, l := range strings.Split(m, "\n") {
				if l == want {
					return m
				}
			}
		case <-timeout:
			t.Fatalf("no %s on NOTIFY_SOCKET", want)
		}
	}
}

// TestNotify: with NOTIFY_SOCKET, pier sends READY=1 (with a STATUS= that
// says where it listens) once it listens, STOPPING=1 at SIGTERM, and
// WATCHDOG=1 pings when WATCHDOG_USEC is set; a file system socket and an
// abstract one (@name) alike.
func TestNotify(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, c := range []struct{ name, socket string }{
		{"path", filepath.Join(t.TempDir(), "notify")},
		{"abstract", "@pier-test-notify-" + strconv.Itoa(os.Getpid())},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.socket[0] == '@' && runtime.GOOS != "linux" {
				t.Skip("abstract sockets are Linux's")
			}
			n := listenNotify(t, c.socket)
			port := freePort(t)
			cmd := exec.Command(pierBinary(t), "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-d", t.TempDir())
			cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+c.socket, "WATCHDOG_USEC=20000")
			done := runNotified(t, cmd)
			ready := n.wait(t, "READY=1")
			if want := "STATUS=serving FTP on 127.0.0.1:" + strconv.Itoa(port); !strings.Contains(ready, want) {
				t.Errorf("READY message %q lacks %q", ready, want)
			}
			f := dialClient(t, port) // listening by the time READY=1 comes
			f.expect("", "220")
			n.wait(t, "WATCHDOG=1")
			n.wait(t, "WATCHDOG=1")
			cmd.Process.Signal(syscall.SIGTERM)
			n.wait(t, "STOPPING=1")
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("pier exited with %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("pier did not stop after SIGTERM")
			}
		})
	}
}

// runNotified starts cmd, drains its stderr, and returns its exit.
func runNotified(t *testing.T, cmd *exec.Cmd) <-chan error {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
		}
		done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() }) // the goroutine then waits for it
	return done
}

// TestSdNotifyWithout: without NOTIFY_SOCKET, sdNotify does nothing.
func TestSdNotifyWithout(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", "vsock:2:1234")
	if err := sdNotify("READY=1"); err == nil {
		t.Error("vsock NOTIFY_SOCKET: no error")
	}
}

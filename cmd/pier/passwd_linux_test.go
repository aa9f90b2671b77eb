package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPasswdTerminal runs "pier passwd" on a pseudo-terminal, as a user
// does: it asks twice, on stderr, prints only the hash on stdout, and
// refuses two different passwords.
func TestPasswdTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cases := []struct {
		name          string
		first, second string
		wantCode      int
	}{
		{"same twice", "hunter2", "hunter2", 0},
		{"different", "hunter2", "hunter3", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tty := openPTY(t)
			cmd := exec.Command(pierBinary(t), "passwd")
			var stdout bytes.Buffer
			stderr := &syncBuffer{}
			// The slave itself (an *os.File): the program's stdin is
			// then the terminal, not a pipe exec copies into.
			cmd.Stdin, cmd.Stdout, cmd.Stderr = tty.slave, &stdout, stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			stderr.waitFor(t, "Password: ")
			io.WriteString(tty.master, c.first+"\n")
			stderr.waitFor(t, "Password again: ")
			io.WriteString(tty.master, c.second+"\n")
			code, err := 0, cmd.Wait()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.wantCode {
				t.Fatalf("exit status %d, want %d; stderr %q", code, c.wantCode, stderr.String())
			}
			out := stdout.String()
			if c.wantCode != 0 {
				if out != "" || !strings.Contains(stderr.String(), "differ") {
					t.Errorf("stdout %q, stderr %q: want nothing printed and the reason", out, stderr.String())
				}
				return
			}
			if !strings.HasPrefix(out, "$argon2id$") || strings.Count(out, "\n") != 1 || strings.Contains(out, "Password") {
				t.Errorf("stdout %q: want the hash alone", out)
			}
		})
	}
}

// pty is a pseudo-terminal: the program gets the slave, the test types on
// the master.
type pty struct{ master, slave *os.File }

// openPTY opens a pseudo-terminal pair, closed when the test ends.
func openPTY(t *testing.T) pty {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return pty{master: m, slave: s}
}

// syncBuffer is a bytes.Buffer a program writes to while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits (bounded) until the buffer holds s.
func (b *syncBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(b.String(), s); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %q", s, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

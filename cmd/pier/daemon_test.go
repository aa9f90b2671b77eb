package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
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
	d := runDaemon(t, exec.Command(pierBinary(t), args...), nil)
	return d, d.waitLog(t, "starting pier")
}

// runDaemon starts cmd (pier, or a program that runs it) and reads its
// stderr line by line into the daemon's logs, passing each line to each
// first if it is not nil. The process is killed when the test ends.
func runDaemon(t *testing.T, cmd *exec.Cmd, each func(line string)) *daemon {
	t.Helper()
	d := &daemon{cmd: cmd, logs: make(chan string, 1000)}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if each != nil {
				each(sc.Text())
			}
			d.logs <- sc.Text()
		}
		close(d.logs)
	}()
	return d
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

// kill sends SIGKILL and waits for pier to exit.
func (d *daemon) kill(t *testing.T) {
	t.Helper()
	d.cmd.Process.Kill()
	timeout := time.After(20 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-d.logs:
		case <-timeout:
			t.Fatal("pier's log did not end after SIGKILL")
		}
	}
	d.cmd.Wait()
}

// dialFTP connects to 127.0.0.1:port and returns a function that sends a
// line ("" sends nothing) and reads the final line of its reply, failing
// the test unless it starts with code.
func dialFTP(t *testing.T, port int) func(send, code string) string {
	t.Helper()
	return dialClient(t, port).expect
}

// TestDaemon builds pier, starts it as a user would, checks the start-up
// log, logs in, and stops it with SIGTERM.
func TestDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	d, startup := startDaemon(t, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-d", dir, "-w", "-r", "40000-40100", "-n", "10.1.2.3", "-V")
	for _, want := range []string{"listen=127.0.0.1:" + strconv.Itoa(port), "directory=" + dir, "passive_ports=40000-40100", "nat_address=10.1.2.3", "write=true", "login=anonymous"} {
		if !strings.Contains(startup, want) {
			t.Errorf("start-up log %q lacks %q", startup, want)
		}
	}
	expect := dialFTP(t, port)
	expect("", "220")
	expect("USER anonymous", "331")
	expect("PASS guest@", "230")
	pasv := expect("PASV", "227")
	if !strings.Contains(pasv, "(10,1,2,3,") {
		t.Errorf("PASV %q does not advertise the NAT address", pasv)
	}
	m := regexp.MustCompile(`,(\d+),(\d+)\)`).FindStringSubmatch(pasv)
	p1, _ := strconv.Atoi(m[1])
	p2, _ := strconv.Atoi(m[2])
	if p := p1*256 + p2; p < 40000 || p > 40100 {
		t.Errorf("passive port %d outside the range", p)
	}
	expect("QUIT", "221")
	d.stop(t)
}

// binary is the pier command, built once for the tests that run it.
var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// pierBinary builds pier (once) and returns the path of the binary.
func pierBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		if binary.dir, binary.err = os.MkdirTemp("", "pier-test-bin-"); binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "pier")
		if out, err := exec.Command("go", "build", "-o", binary.path, ".").CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestDualStackDefault: with no -i, pier listens on IPv4 and IPv6 at once.
func TestDualStackDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback")
	} else {
		ln.Close()
	}
	bin := pierBinary(t)
	port := freePort(t)
	cmd := exec.Command(bin, "-p", strconv.Itoa(port), "-d", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for _, host := range []string{"127.0.0.1", "::1"} {
		var c net.Conn
		var err error
		for range 100 { // wait (bounded) for the server to listen
			if c, err = net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), time.Second); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || !strings.HasPrefix(line, "220 ") {
			t.Fatalf("%s: greeting %q %v", host, line, err)
		}
	}
}

// TestDaemonPortBusy: an address already in use (the control port, the
// implicit FTPS port) stops pier before it says it started, with a
// one-line error on stderr, as every other start-up error, and exit
// status 1, as the other failures that are not usage errors.
func TestDaemonPortBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"control port", []string{"-p", port}, "pier: can't listen on 127.0.0.1:" + port + " (--interface, --port): address already in use\n"},
		{"implicit FTPS port", []string{"-p", "0", "--tls-self-signed", "--tls-implicit-port", port}, "pier: can't listen for implicit FTPS on 127.0.0.1:" + port + " (--tls-implicit-port): address already in use\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(pierBinary(t), append([]string{"-i", "127.0.0.1", "-d", t.TempDir()}, c.args...)...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1\n%s", err, stderr.String())
			}
			if stderr.String() != c.want || stdout.Len() != 0 {
				t.Errorf("stderr %q, stdout %q; want stderr %q", stderr.String(), stdout.String(), c.want)
			}
		})
	}
}

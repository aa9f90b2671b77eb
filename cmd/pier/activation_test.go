package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

// socketActivateBinary finds systemd-socket-activate (Debian: package
// systemd): the test is skipped without it, except under CI=true, where it
// fails.
func socketActivateBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	p, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but systemd-socket-activate is missing (apt-get install systemd)")
		}
		t.Skip("no systemd-socket-activate")
	}
	return p
}

// startActivated runs pier with args under systemd-socket-activate, which
// listens on a free loopback port per name of names and passes the
// sockets, so named, to pier; it returns the daemon and the ports. pier
// itself starts at the first connection, which is the test's to make:
// then wait for its start-up line.
func startActivated(t *testing.T, names []string, args ...string) (*daemon, []int) {
	t.Helper()
	ssa := socketActivateBinary(t)
	bin := pierBinary(t)
	for attempt := 0; ; attempt++ {
		ports := make([]int, len(names))
		ssaArgs := []string{"--fdname=" + strings.Join(names, ":")}
		for i := range names {
			ports[i] = freePort(t)
			ssaArgs = append(ssaArgs, "-l", "127.0.0.1:"+strconv.Itoa(ports[i]))
		}
		ssaArgs = append(ssaArgs, bin)
		d := runDaemon(t, exec.Command(ssa, append(ssaArgs, args...)...), nil)
		if listening(t, d, len(names)) {
			return d, ports
		}
		d.cmd.Process.Kill()
		d.cmd.Wait()
		if attempt == 4 {
			t.Fatal("systemd-socket-activate could not listen on free ports in 5 attempts")
		}
	}
}

// listening waits for systemd-socket-activate to say it listens on n
// sockets ("Listening on ADDR as FD."); false if it exits first (a port
// taken in the meantime).
func listening(t *testing.T, d *daemon, n int) bool {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for n > 0 {
		select {
		case l, ok := <-d.logs:
			if !ok {
				return false
			}
			if strings.HasPrefix(l, "Listening on ") {
				n--
			}
		case <-timeout:
			t.Fatal("systemd-socket-activate did not listen")
		}
	}
	return true
}

// TestSocketActivation: pier serves the socket systemd-socket-activate
// passed (named ftp, as the .socket unit names it), not --port: a full
// session with jlaffaye/ftp (login, list, upload, download) on it.
func TestSocketActivation(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unused := freePort(t)
	d, ports := startActivated(t, []string{"ftp"}, "-i", "127.0.0.1", "-p", strconv.Itoa(unused), "-d", dir, "-w")
	c, err := ftp.Dial("127.0.0.1:"+strconv.Itoa(ports[0]), ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	activation := d.waitLog(t, "socket activation")
	if want := "ftp=127.0.0.1:" + strconv.Itoa(ports[0]); !strings.Contains(activation, want) {
		t.Errorf("activation log %q lacks %q", activation, want)
	}
	startup := d.waitLog(t, "starting pier")
	if want := "listen=127.0.0.1:" + strconv.Itoa(ports[0]); !strings.Contains(startup, want) {
		t.Errorf("start-up log %q lacks %q", startup, want)
	}
	if err := c.Login("anonymous", "guest@"); err != nil {
		t.Fatal(err)
	}
	names, err := c.NameList("/")
	if err != nil || len(names) != 1 || names[0] != "hello.txt" {
		t.Fatalf("NLST: %q, %v", names, err)
	}
	if err := c.Stor("up.txt", strings.NewReader("uploaded\n")); err != nil {
		t.Fatal(err)
	}
	r, err := c.Retr("up.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != "uploaded\n" {
		t.Fatalf("RETR: %q, %v", got, err)
	}
	checkCloseOnExec(t, d.cmd.Process.Pid)
	if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(unused)); err != nil {
		t.Errorf("pier listens on --port %d too: %v", unused, err)
	} else {
		ln.Close()
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	d.stop(t)
}

// TestSocketActivationImplicitTLS: of two sockets, the one named implicit
// speaks TLS from the first byte, the one named ftp plain FTP.
func TestSocketActivationImplicitTLS(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cert := writeCertPair(t, certFile, keyFile)
	d, ports := startActivated(t, []string{"ftp", "implicit"}, "-d", dir, "--tls", "--certfile", certFile, "--keyfile", keyFile)

	plain := dialClient(t, ports[0])
	plain.expect("", "220")
	d.waitLog(t, "starting pier")
	plain.expect("USER anonymous", "331")
	plain.expect("PASS guest@", "230")

	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	client := &tls.Config{RootCAs: pool, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	c, err := ftp.Dial("127.0.0.1:"+strconv.Itoa(ports[1]), ftp.DialWithTLS(client), ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("anonymous", "guest@"); err != nil {
		t.Fatal(err)
	}
	r, err := c.Retr("hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != "hi\n" {
		t.Fatalf("RETR over implicit FTPS: %q, %v", got, err)
	}
	c.Quit()
	plain.expect("QUIT", "221")
	d.stop(t)
}

// TestSocketActivationImplicitNeedsTLS: a socket named implicit without
// --tls stops pier with a one-line error, before it says it started.
func TestSocketActivationImplicitNeedsTLS(t *testing.T) {
	d, ports := startActivated(t, []string{"ftp", "implicit"}, "-d", t.TempDir())
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(ports[0]), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var rest bytes.Buffer
	for l := range d.logs {
		rest.WriteString(l + "\n")
	}
	if err := d.cmd.Wait(); err == nil {
		t.Fatal("pier started")
	}
	want := "pier: socket activation: socket implicit is for implicit FTPS, which needs --tls (with --certfile and --keyfile)\n"
	if !strings.HasSuffix(rest.String(), want) || strings.Contains(rest.String(), "starting pier") {
		t.Errorf("stderr %q, want it to end with %q", rest.String(), want)
	}
}

// checkCloseOnExec checks, on Linux, that every descriptor of process pid
// from 3 up, the sockets systemd passed included, is close-on-exec: no
// child pier starts inherits one.
func checkCloseOnExec(t *testing.T, pid int) {
	t.Helper()
	fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		t.Logf("can't check close-on-exec: %v", err)
		return
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		info, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/fdinfo/" + e.Name())
		if err != nil {
			continue // closed in the meantime
		}
		for _, l := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(l, "flags:"); ok {
				flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
				if err != nil || flags&0o2000000 == 0 {
					target, _ := os.Readlink(filepath.Join(fdDir, e.Name()))
					t.Errorf("descriptor %d (%s) is not close-on-exec: flags %s", fd, target, strings.TrimSpace(v))
				}
			}
		}
	}
}

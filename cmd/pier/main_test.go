package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
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

	"github.com/spf13/pflag"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/tlscert"
)

func TestBadFlags(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string // part of the one-line error
	}{
		{"unknown flag", []string{"--nope"}, "unknown flag"},
		{"port not a number", []string{"-p", "x"}, "port"},
		{"port too big", []string{"-p", "70000"}, "--port"},
		{"missing directory", []string{"-d", filepath.Join(dir, "missing")}, "no such directory"},
		{"directory needs value", []string{"-d"}, "-d"},
		{"bad range", []string{"-r", "yyy-zzz"}, "--range"},
		{"range reversed", []string{"-r", "6000-5000"}, "--range"},
		{"range out of bounds", []string{"-r", "0-70000"}, "--range"},
		{"bad nat", []string{"-n", "not-an-ip"}, "--nat-address"},
		{"ipv6 nat", []string{"-n", "::1"}, "--nat-address"},
		{"username without password", []string{"-u", "bob"}, "--username needs --password"},
		{"password without username", []string{"-P", "pw"}, "--password needs --username"},
		{"tls without a certificate", []string{"--tls"}, "--tls needs --certfile"},
		{"certfile without tls", []string{"--certfile", "x.pem"}, "--certfile needs --tls"},
		{"tls-data-required without tls", []string{"--tls-data-required"}, "--tls-data-required needs --tls"},
		{"tls-control-required without tls", []string{"--tls-control-required"}, "--tls-control-required needs --tls"},
		{"implicit port without tls", []string{"--tls-implicit-port", "990"}, "--tls-implicit-port needs --tls"},
		{"missing certificate file", []string{"--tls", "--certfile", filepath.Join(dir, "none.pem")}, "no such file"},
		{"self-signed and certfile", []string{"--tls-self-signed", "--certfile", "x.pem"}, "exclude each other"},
		{"bad implicit port", []string{"--tls-self-signed", "--tls-implicit-port", "70000"}, "--tls-implicit-port"},
		{"bad encoding", []string{"--encoding", "klingon"}, "--encoding"},
		{"negative timeout", []string{"--timeout", "-1"}, "--timeout"},
		{"zero login attempts", []string{"--max-login-attempts", "0"}, "--max-login-attempts"},
		{"bad log format", []string{"--log-format", "xml"}, "--log-format"},
		{"write takes no value", []string{"-w", "foo"}, "unexpected argument"},
		{"debug takes no value", []string{"-D", "xxx"}, "unexpected argument"},
		{"bad interface", []string{"-i", "no.such.host.invalid"}, "--interface"},
		{"negative ban-after", []string{"--ban-after", "-1"}, "--ban-after"},
		{"bad ban-time", []string{"--ban-time", "soon"}, "ban-time"},
		{"zero ban-time", []string{"--ban-time", "0s"}, "--ban-time"},
		{"bad read limit", []string{"--read-limit", "fast"}, "--read-limit"},
		{"negative write limit", []string{"--write-limit", "-5"}, "--write-limit"},
		{"bad total limit", []string{"--total-write-limit", "10X"}, "--total-write-limit"},
		{"bad metrics address", []string{"--metrics", "9121"}, "--metrics"},
		{"anonymous with a password", []string{"-u", "anonymous", "-P", "secret", "-w"}, "--username anonymous"},
		{"bad concurrency", []string{"--concurrency", "threads"}, "--concurrency"},
		{"bad metrics port", []string{"--metrics", "127.0.0.1:http"}, "--metrics"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(c.args, &stdout, &stderr)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, stderr.String())
			}
			msg := stderr.String()
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, c.want) {
				t.Fatalf("stderr %q: want one line containing %q", msg, c.want)
			}
		})
	}
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	help := stdout.String()
	var o options
	newFlagSet(&o).VisitAll(func(f *pflag.Flag) {
		if !strings.Contains(help, "--"+f.Name) {
			t.Errorf("--help does not mention --%s", f.Name)
		}
		if f.Shorthand != "" && !strings.Contains(help, "-"+f.Shorthand+", --"+f.Name) {
			t.Errorf("--help does not show -%s for --%s", f.Shorthand, f.Name)
		}
	})
	for _, def := range []string{"(default 2121)", "(default 300)", "(default 512)", "(default 3)", "(default pier FTP server ready.)", "(default utf-8)"} {
		if !strings.Contains(help, def) {
			t.Errorf("--help lacks %s", def)
		}
	}
}

// TestConcurrencyAccepted: pyftpdlib's --concurrency values are taken, so
// its command lines run.
func TestConcurrencyAccepted(t *testing.T) {
	for _, v := range []string{"async", "multi-thread", "multi-proc", "pre-fork"} {
		var o options
		fs := newFlagSet(&o)
		if err := fs.Parse([]string{"--concurrency", v, "-d", t.TempDir()}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := configure(&o, fs, io.Discard); err != nil {
			t.Errorf("--concurrency %s: %v", v, err)
		}
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-v"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "pier ") {
		t.Fatalf("exit %d, stdout %q", code, stdout.String())
	}
}

func TestParseRate(t *testing.T) {
	cases := map[string]int64{"0": 0, "30720": 30720, "512K": 512 << 10, "10M": 10 << 20, "1g": 1 << 30, "2MB/s": 2 << 20, " 7 ": 7}
	for in, want := range cases {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1.5M", "K", "99999999999G"} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) accepted", bad)
		}
	}
}

func TestParseRange(t *testing.T) {
	cases := []struct {
		in          string
		first, last uint16
		ok          bool
	}{
		{"60000-61000", 60000, 61000, true},
		{"5000-5000", 5000, 5000, true},
		{"1-65535", 1, 65535, true},
		{"0-10", 0, 0, false},
		{"10-", 0, 0, false},
		{"-10", 0, 0, false},
		{"a-b", 0, 0, false},
		{"100", 0, 0, false},
		{"200-100", 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			r, err := parseRange(c.in)
			if (err == nil) != c.ok || r.First != c.first || r.Last != c.last {
				t.Fatalf("parseRange(%q) = %v, %v", c.in, r, err)
			}
		})
	}
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

func TestPasswdAndUsersFile(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runPasswd(nil, strings.NewReader("hunter2\n"), &stdout, &stderr); code != 0 {
		t.Fatalf("passwd exit %d: %s", code, stderr.String())
	}
	hash := strings.TrimSpace(stdout.String())
	if !strings.HasPrefix(hash, "$argon2id$") {
		t.Fatalf("hash %q", hash)
	}
	stdout.Reset()
	if code := runPasswd([]string{"--bcrypt"}, strings.NewReader("hunter2"), &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "$2a$") {
		t.Fatalf("bcrypt: exit %d, %q", code, stdout.String())
	}
	if code := runPasswd(nil, strings.NewReader(""), &stdout, &stderr); code != 1 {
		t.Fatalf("empty stdin: exit %d", code)
	}
	if code := runPasswd([]string{"extra"}, strings.NewReader("x\n"), &stdout, &stderr); code != 2 {
		t.Fatalf("extra argument: exit %d", code)
	}

	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte("alice:"+hash+":elradfmwMT:"+dir+"\n"), 0o600)
	var o options
	fs := newFlagSet(&o)
	if err := fs.Parse([]string{"--users-file", users}); err != nil {
		t.Fatal(err)
	}
	srv, _, err := configure(&o, fs, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := srv.Auth.Authenticate(t.Context(), pier.ConnInfo{}, "alice", "hunter2"); err != nil || u.Perm != pier.AllPerms {
		t.Fatalf("alice: %v %v", u, err)
	}
	if _, err := srv.Auth.Authenticate(t.Context(), pier.ConnInfo{}, "anonymous", ""); err == nil {
		t.Fatal("anonymous logs in though the users file has no anonymous line")
	}

	// A users file that lets anonymous write is warned about, as -w is.
	anonWrite := filepath.Join(dir, "users-anon")
	os.WriteFile(anonWrite, []byte("anonymous::elradfmwMT:"+dir+"\n"), 0o600)
	o = options{}
	fs = newFlagSet(&o)
	if err := fs.Parse([]string{"--users-file", anonWrite}); err != nil {
		t.Fatal(err)
	}
	if _, cfg, err := configure(&o, fs, io.Discard); err != nil {
		t.Fatal(err)
	} else if cfg.anonymousWrite != "elradfmwMT" {
		t.Fatalf("anonymous write from a users file: %q, want the warning's letters", cfg.anonymousWrite)
	}

	for _, args := range [][]string{{"--users-file", users, "-u", "x", "-P", "y"}, {"--users-file", users, "-w"}, {"--users-file", users, "-d", dir}, {"--users-file", filepath.Join(dir, "none")}} {
		var stderr bytes.Buffer
		if code := run(args, io.Discard, &stderr); code != 2 {
			t.Errorf("%v: exit %d (%s)", args, code, stderr.String())
		}
	}
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

// TestSIGHUPReloadsCertificate: FTPS with certificate files; replacing the
// files and sending SIGHUP makes pier log the new certificate's
// fingerprint.
func TestSIGHUPReloadsCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCertPair(t, certFile, keyFile)
	bin := pierBinary(t)
	cmd := exec.Command(bin, "-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-d", dir, "--tls", "--certfile", certFile, "--keyfile", keyFile)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor := func(want ...string) string {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("pier exited; wanted a line with %q", want)
				}
				match := true
				for _, w := range want {
					match = match && strings.Contains(l, w)
				}
				if match {
					return l
				}
			case <-timeout:
				t.Fatalf("no log line with %q", want)
			}
		}
	}
	waitFor("starting pier")
	waitFor("FTPS enabled", "sha256="+tlscert.Fingerprint(first))
	second := writeCertPair(t, certFile, keyFile)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("certificate reloaded", "sha256="+tlscert.Fingerprint(second))
}

// writeCertPair writes a fresh self-signed pair as PEM files.
func writeCertPair(t *testing.T, certFile, keyFile string) *tls.Certificate {
	t.Helper()
	cert, err := tlscert.SelfSigned("localhost")
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return &cert
}

// TestVerboseLevelName: -V lines say VERBOSE, not slog's DEBUG+2.
func TestVerboseLevelName(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		log, err := newLogger(&options{verbose: true, logFormat: format}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		log.Log(t.Context(), pier.LevelVerbose, "data connection")
		log.Info("info")
		out := buf.String()
		if !strings.Contains(out, "VERBOSE") || strings.Contains(out, "DEBUG+2") || !strings.Contains(out, "INFO") {
			t.Errorf("%s: %q", format, out)
		}
	}
}

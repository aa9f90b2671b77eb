package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestCheckConfig: pier check-config FILE exits 0 with "FILE: OK", or 2
// with the first mistake as "FILE:LINE: message" (the line that set the
// flag the message is about), or "FILE: message" for a mistake of no line.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	served := filepath.Join(dir, "served")
	if err := os.Mkdir(served, 0o755); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCertPair(t, certFile, keyFile)
	for _, c := range []struct {
		name, content string
		code          int
		want          string // the first line; FILE stands for the file's path, DIR for its folder
	}{
		{"good", "# pier.conf\nport = 21\ndirectory = served\nwrite\n", 0, "FILE: OK"},
		{"good with TLS", "directory = served\ntls = true\ncertfile = cert.pem\nkeyfile = key.pem\ntls-implicit-port = 990\n", 0, "FILE: OK"},
		{"good with a new xferlog", "directory = served\nxferlog = xfer.log\n", 0, "FILE: OK"},
		{"no name", "port = 21\n\n= 5\n", 2, "FILE:3: a setting's name is missing before ="},
		{"unknown setting", "port = 21\ncolour = red\n", 2, `FILE:2: unknown setting "colour" (settings are the long flag names of pier --help, without --)`},
		{"no value", "directory = served\nport\n", 2, "FILE:2: port needs a value: port = VALUE"},
		{"set twice", "port = 21\nport = 22\n", 2, "FILE:2: port is already set on line 1"},
		{"bad quoting", `banner = "unterminated` + "\n", 2, `FILE:1: banner: bad quoted value "unterminated`},
		{"not a number", "directory = served\n\nport = abc\n", 2, `FILE:3: port: invalid argument "abc" for "-p, --port" flag: must be an integer`},
		{"port out of range", "directory = served\n# the port\nport = 70000\n", 2, "FILE:3: --port 70000: must be between 0 and 65535"},
		{"no such directory", "port = 21\ndirectory = nope\n", 2, `FILE:2: --directory "DIR/nope": no such directory`},
		{"missing users file", "port = 21\nusers-file = users\n", 2, "FILE:2: --users-file: auth: open DIR/users: no such file or directory"},
		{"users file and write", "users-file = users\nwrite = true\n", 2, "FILE:1: --users-file excludes --username, --password, --write and --directory (homes and permissions come from the file)"},
		{"TLS without a certificate", "directory = served\n\ntls\n", 2, "FILE:3: --tls needs --certfile and --keyfile (or --tls-self-signed)"},
		{"missing certificate", "directory = served\ntls\ncertfile = nope.pem\n", 2, "FILE:3: --certfile/--keyfile: "},
		{"xferlog in a missing folder", "directory = served\nxferlog = nope/xfer.log\n", 2, `FILE:2: --xferlog "DIR/nope/xfer.log": open DIR/nope/xfer.log: no such file or directory`},
		{"xferlog is a folder", "directory = served\nxferlog = served\n", 2, `FILE:2: --xferlog "DIR/served": is a directory`},
		{"bad encoding", "directory = served\nencoding = klingon\n", 2, `FILE:2: --encoding "klingon": unknown encoding`},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".conf")
			if err := os.WriteFile(file, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out := checkConfig(t, file)
			want := strings.NewReplacer("FILE", file, "DIR", dir).Replace(c.want)
			first, _, _ := strings.Cut(out, "\n")
			if code != c.code || !(first == want || strings.HasSuffix(want, ": ") && strings.HasPrefix(first, want)) {
				t.Errorf("exit %d, %q; want %d, %q", code, out, c.code, want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "xfer.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("check-config created the --xferlog file: %v", err)
	}
}

// checkConfig runs pier check-config file in this process, and returns
// its exit status and what it printed, stdout then stderr.
func checkConfig(t *testing.T, file string) (int, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	code := run([]string{"check-config", file}, &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

// TestCheckConfigNotFromALine: mistakes that no line made: a missing
// file, a folder, no argument.
func TestCheckConfigNotFromALine(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "pier.conf")
	if code, out := checkConfig(t, missing); code != 2 || out != missing+": open "+missing+": no such file or directory\n" {
		t.Errorf("missing file: exit %d, %q", code, out)
	}
	if code, out := checkConfig(t, dir); code != 2 || out != dir+": not a regular file\n" {
		t.Errorf("folder: exit %d, %q", code, out)
	}
	var stdout, stderr strings.Builder
	if code := run([]string{"check-config"}, &stdout, &stderr); code != 2 || !strings.HasPrefix(stderr.String(), "Usage: pier check-config FILE") {
		t.Errorf("no argument: exit %d, %q", code, stderr.String())
	}
}

// TestCheckConfigNoSideEffects: a valid file with --xferlog to a new path
// and --atomic-uploads: check-config says OK and leaves the folders as
// they were, and no goroutine of it outlives it.
func TestCheckConfigNoSideEffects(t *testing.T) {
	dir := t.TempDir()
	served := filepath.Join(dir, "served")
	if err := os.Mkdir(served, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "pier.conf")
	xferlog := filepath.Join(dir, "logs", "xferlog")
	if err := os.Mkdir(filepath.Dir(xferlog), 0o755); err != nil {
		t.Fatal(err)
	}
	content := "directory = served\nwrite\natomic-uploads\nxferlog = " + xferlog + "\nmetrics = 127.0.0.1:0\n"
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	if code, out := checkConfig(t, file); code != 0 || out != file+": OK\n" {
		t.Fatalf("exit %d, %q", code, out)
	}
	if _, err := os.Stat(xferlog); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("check-config created the --xferlog file: %v", err)
	}
	for _, d := range []string{served, filepath.Dir(xferlog)} {
		if entries, err := os.ReadDir(d); err != nil || len(entries) != 0 {
			t.Errorf("%s: %d entries after check-config, %v", d, len(entries), err)
		}
	}
	for i := 0; runtime.NumGoroutine() > before; i++ { // bounded: a goroutine on its way out
		if i == 100 {
			t.Fatalf("%d goroutines after check-config, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCheckConfigBinary: the built command's exit status and streams.
func TestCheckConfigBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "pier.conf")
	if err := os.WriteFile(file, []byte("directory = "+dir+"\nmax-cons = many\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pierBinary(t), "check-config", file)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v, want status 2", err)
	}
	if want := file + ":2: max-cons: "; !strings.HasPrefix(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 || stdout.Len() != 0 {
		t.Errorf("stderr %q, stdout %q; want one line starting %q", stderr.String(), stdout.String(), want)
	}
	os.WriteFile(file, []byte("directory = "+dir+"\n"), 0o644)
	out, err := exec.Command(pierBinary(t), "check-config", file).Output()
	if err != nil || string(out) != file+": OK\n" {
		t.Errorf("good file: %q, %v", out, err)
	}
}

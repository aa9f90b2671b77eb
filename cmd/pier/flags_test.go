package main

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
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
		{"negative slow-after-errors", []string{"--slow-after-errors", "-1"}, "--slow-after-errors"},
		{"negative close-after-errors", []string{"--close-after-errors", "-1"}, "--close-after-errors"},
		{"bad ban-time", []string{"--ban-time", "soon"}, "ban-time"},
		{"zero ban-time", []string{"--ban-time", "0s"}, "--ban-time"},
		{"bad read limit", []string{"--read-limit", "fast"}, "--read-limit"},
		{"negative write limit", []string{"--write-limit", "-5"}, "--write-limit"},
		{"bad total limit", []string{"--total-write-limit", "10X"}, "--total-write-limit"},
		{"bad metrics address", []string{"--metrics", "9121"}, "--metrics"},
		{"anonymous with a password", []string{"-u", "anonymous", "-P", "secret", "-w"}, "--username anonymous"},
		{"bad concurrency", []string{"--concurrency", "threads"}, "--concurrency"},
		{"bad metrics port", []string{"--metrics", "127.0.0.1:http"}, "--metrics"},
		{"max-line-length too short", []string{"--max-line-length", "63"}, "--max-line-length"},
		{"max-line-length too long", []string{"--max-line-length", "1048577"}, "--max-line-length"},
		{"max-line-length not a number", []string{"--max-line-length", "lots"}, "max-line-length"},
		{"min-uid without system-users", []string{"--min-uid", "500"}, "--min-uid needs --system-users"},
		{"anonymous-user without system-users", []string{"--anonymous-user", "ftp"}, "--anonymous-user needs --system-users"},
		{"user-perm without system-users", []string{"--user-perm", "alice=elr"}, "--user-perm needs --system-users"},
		{"system-users with a username", []string{"--system-users", "-u", "bob", "-P", "pw"}, "--system-users excludes --username"},
		{"system-users with a users file", []string{"--system-users", "--users-file", "users"}, "--system-users excludes --users-file"},
		{"system-users with a directory", []string{"--system-users", "-d", dir}, "--system-users excludes --directory"},
		{"system-users with write", []string{"--system-users", "-w"}, "--write with --system-users"},
		{"allowed and rejected users", []string{"--system-users", "--allowed-users", "a", "--rejected-users", "b"}, "--allowed-users and --rejected-users"},
		{"negative min-uid", []string{"--system-users", "--min-uid", "-1"}, "--min-uid -1"},
		{"empty allowed-users", []string{"--system-users", "--allowed-users", ""}, "--allowed-users: an empty list"},
		{"a space in rejected-users", []string{"--system-users", "--rejected-users", "a,,b"}, "an empty name"},
		{"user-perm without letters", []string{"--system-users", "--user-perm", "alice="}, "--user-perm alice="},
		{"xferlog in a missing folder", []string{"--xferlog", filepath.Join(dir, "missing", "x.log")}, "--xferlog"},
		{"xferlog on a folder", []string{"--xferlog", dir}, "is a directory"},
		{"pam service without its file", []string{"--system-users", "--pam-service", "pier-no-such-service"}, "--pam-service"},
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

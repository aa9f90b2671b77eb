package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierftp/pier"
)

func writeFile(t *testing.T, name, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// TestConfigFile: settings come from the file by their flag names, the
// command line wins, relative paths are relative to the file's folder,
// quoted values keep their spaces and #, and a bare boolean means true.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	served := filepath.Join(dir, "served")
	if err := os.Mkdir(served, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "pier.conf")
	writeFile(t, conf, `# pier settings
port = 2200
directory = served
write
banner = "  Welcome # not a comment  "
max-cons-per-ip=7
read-limit = 512K
   # an indented comment

username = alice
password = "p#ss word"
ban-time = 90s
`, 0o600)
	var o options
	fs := newFlagSet(&o)
	if err := fs.Parse([]string{"--config", conf, "--port", "2300", "--ban-time", "2m"}); err != nil {
		t.Fatal(err)
	}
	cf, err := applyConfigFile(fs, conf)
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.warnings) != 0 {
		t.Errorf("warnings for a 0600 file: %q", cf.warnings)
	}
	if o.port != 2300 || o.banTime != 2*time.Minute {
		t.Errorf("port %d, ban-time %s: the command line (2300, 2m) must win over the file", o.port, o.banTime)
	}
	if o.directory != served {
		t.Errorf("directory %q, want %q (relative to the file's folder)", o.directory, served)
	}
	if !o.write || o.banner != "  Welcome # not a comment  " || o.maxConsPerIP != 7 || o.readLimit != "512K" {
		t.Errorf("write %v, banner %q, max-cons-per-ip %d, read-limit %q", o.write, o.banner, o.maxConsPerIP, o.readLimit)
	}
	srv, _, err := configure(&o, fs, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Banner != o.banner || srv.MaxConnectionsPerIP != 7 || srv.ReadLimit != 512<<10 {
		t.Errorf("server: banner %q, per-IP %d, read limit %d", srv.Banner, srv.MaxConnectionsPerIP, srv.ReadLimit)
	}
	u, err := srv.Auth.Authenticate(t.Context(), pier.ConnInfo{}, "alice", "p#ss word")
	if err != nil || u.Perm != pier.AllPerms {
		t.Fatalf("alice with the file's password: %v, %v", u, err)
	}
	if _, err := srv.Auth.Authenticate(t.Context(), pier.ConnInfo{}, "anonymous", ""); err == nil {
		t.Error("anonymous logs in though the file names a user")
	}

	// A password in a file others can read is worth a warning.
	if err := os.Chmod(conf, 0o644); err != nil {
		t.Fatal(err)
	}
	o = options{}
	fs = newFlagSet(&o)
	if cf, err = applyConfigFile(fs, conf); err != nil {
		t.Fatal(err)
	}
	if len(cf.warnings) != 1 || !strings.Contains(cf.warnings[0], "chmod 600") {
		t.Errorf("warnings for a 0644 file with a password: %q", cf.warnings)
	}
}

// TestBadConfigFile: every mistake in the file is one line naming the file
// and line, exit status 2, nothing started.
func TestBadConfigFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, text, want string
	}{
		{"unknown setting", "port = 2121\nsize = 5\n", "bad.conf:2: unknown setting \"size\""},
		{"flag with dashes", "--port = 2121\n", "unknown setting \"--port\""},
		{"config in config", "config = other.conf\n", "unknown setting \"config\""},
		{"help in config", "help\n", "unknown setting \"help\""},
		{"twice", "port = 1\n\nport = 2\n", "bad.conf:3: port is already set on line 1"},
		{"no value", "port\n", "port needs a value"},
		{"no name", " = 5\n", "name is missing"},
		{"bad quotes", "banner = \"open\n", "bad quoted value"},
		{"bad number", "# c\nport = x\n", "bad.conf:2: port:"},
		{"bad boolean", "write = maybe\n", "bad.conf:1: write:"},
		{"checked like the flag", "# c\nport = 70000\n", "--port 70000: must be between 0 and 65535 (port, set in "},
		{"checked like the flag, and located", "range = 5-1\n", "bad.conf:1)"},
		{"bad duration", "ban-time = soon\n", "ban-time"},
		{"byte-order mark, then an error", "\uFEFFport = 21\nsize = 1\n", "bad.conf:2: unknown setting \"size\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conf := filepath.Join(dir, "bad.conf")
			writeFile(t, conf, c.text, 0o600)
			var stderr bytes.Buffer
			if code := run([]string{"--config", conf, "-d", dir}, io.Discard, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, stderr.String())
			}
			if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, c.want) {
				t.Fatalf("stderr %q: want one line containing %q", msg, c.want)
			}
		})
	}
	for _, args := range [][]string{{"--config", filepath.Join(dir, "missing.conf")}, {"-c", dir}} {
		var stderr bytes.Buffer
		if code := run(args, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "--config") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}

// TestDaemonConfigFile runs the binary with a configuration file: the
// address, user, banner and longest command line come from the file, a
// flag overrides the file, and the start-up log names the file.
func TestDaemonConfigFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	conf := filepath.Join(dir, "pier.conf")
	writeFile(t, conf, "interface = 127.0.0.1\nport = "+strconv.Itoa(port)+
		"\ndirectory = files\nusername = bob\npassword = s3cret\nbanner = from the file\ntimeout = 30\nmax-line-length = 4096\n", 0o600)
	d, startup := startDaemon(t, "--config", conf, "--banner", "from the command line")
	for _, want := range []string{"config=" + conf, "login=\"user bob\"", "directory=" + filepath.Join(dir, "files"), "timeout=30"} {
		if !strings.Contains(startup, want) {
			t.Errorf("start-up log %q lacks %q", startup, want)
		}
	}
	if strings.Contains(startup, "s3cret") {
		t.Errorf("start-up log shows the password: %q", startup)
	}
	expect := dialFTP(t, port)
	if banner := expect("", "220"); !strings.Contains(banner, "from the command line") {
		t.Errorf("banner %q: the command line must win over the file", banner)
	}
	expect("USER bob", "331")
	expect("PASS s3cret", "230")
	// Past the default 2048 bytes, within the file's 4096.
	expect("CWD "+strings.Repeat("d/", 1500), "550")
	expect("CWD "+strings.Repeat("d/", 2500), "500")
	expect("QUIT", "221")
	d.stop(t)
}

// FuzzParseConfigLine: any line gives a known flag's name with a value the
// flag accepts or refuses cleanly, nothing, or an error; never a panic, and
// never a setting the file may not hold.
func FuzzParseConfigLine(f *testing.F) {
	for _, s := range []string{"port = 21", "# c", "", "write", "banner = \"a # b\"", " = 1", "config = x", "help", "banner = \"\\xff\"", "port", "range=1-2", "\"port\" = 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var o options
		fs := newFlagSet(&o)
		name, value, err := parseConfigLine(line, fs)
		if err != nil {
			if name != "" || value != "" {
				t.Fatalf("%q: error %v with name %q, value %q", line, err, name, value)
			}
			return
		}
		if name == "" {
			if value != "" {
				t.Fatalf("%q: value %q without a name", line, value)
			}
			return
		}
		if fs.Lookup(name) == nil || notInConfig[name] {
			t.Fatalf("%q: gave setting %q", line, name)
		}
		_ = fs.Set(name, value) // may refuse the value; must not panic
	})
}

package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pierftp/pier/auth"
)

// TestReloadUnderLoad: 20 sessions upload while SIGHUP reloads a
// configuration file that adds a user, removes another, lowers a limit
// and changes a setting that needs a restart. No transfer is lost, the
// sessions go on with the rights they logged in with, the new user logs
// in, the removed one can't, the new limit holds, the restart-only
// setting is reported; then a broken file keeps the settings in force.
func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	os.Mkdir(home, 0o755)
	hash := func(pw string) string {
		h, err := auth.HashPasswordBcrypt(pw)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	alice, bob, carol := hash("alice-pw"), hash("bob-pw"), hash("carol-pw")
	users := filepath.Join(dir, "users")
	writeUsers := func(lines ...string) {
		t.Helper()
		if err := os.WriteFile(users, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeUsers("alice:"+alice+":elradfmwMT:"+home, "bob:"+bob+":elr:"+home)
	port := freePort(t)
	conf := filepath.Join(dir, "pier.conf")
	writeConf := func(lines ...string) {
		t.Helper()
		base := []string{"interface = 127.0.0.1", "port = " + strconv.Itoa(port), "users-file = users"}
		if err := os.WriteFile(conf, []byte(strings.Join(append(base, lines...), "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConf("max-login-attempts = 3", "banner = before")
	d, _ := startDaemon(t, "--config", conf)

	const sessions, size = 20, 1 << 20
	type upload struct {
		f    *ftpClient
		dc   net.Conn
		name string
		data []byte
	}
	var ups []upload
	for i := range sessions {
		f := dialClient(t, port)
		f.expect("", "220")
		f.expect("USER alice", "331")
		f.expect("PASS alice-pw", "230")
		f.expect("TYPE I", "200")
		u := upload{f: f, name: "up" + strconv.Itoa(i), data: bytes.Repeat([]byte{byte('a' + i)}, size)}
		u.dc = f.startStore(u.name)
		t.Cleanup(func() { u.dc.Close() })
		if _, err := u.dc.Write(u.data[:size/2]); err != nil {
			t.Fatal(err)
		}
		ups = append(ups, u)
	}

	writeUsers("alice:"+alice+":elradfmwMT:"+home, "carol:"+carol+":elr:"+home)
	writeConf("max-login-attempts = 1", "banner = after")
	d.cmd.Process.Signal(syscall.SIGHUP)
	restart := d.waitLog(t, "takes effect when pier restarts")
	if !strings.Contains(restart, "setting=banner") {
		t.Errorf("restart line %q", restart)
	}
	line := d.waitLog(t, "reloaded the configuration")
	if !strings.Contains(line, "users file "+users) {
		t.Errorf("reload line %q lacks the settings", line)
	}

	// The new user logs in; the removed one can't; one failure now
	// disconnects (max-login-attempts 1).
	c := dialClient(t, port)
	c.expect("", "220 before") // the banner needs a restart
	c.expect("USER carol", "331")
	c.expect("PASS carol-pw", "230")
	b := dialClient(t, port)
	b.expect("", "220")
	b.expect("USER bob", "331")
	b.expect("PASS bob-pw", "530 Authentication failed. Disconnecting.")

	// Every upload completes, with all its bytes, and its session goes
	// on as alice with her rights.
	for _, u := range ups {
		if _, err := u.dc.Write(u.data[size/2:]); err != nil {
			t.Fatalf("%s: %v", u.name, err)
		}
		u.dc.Close()
		u.f.expect("", "226")
		if got, err := os.ReadFile(filepath.Join(home, u.name)); err != nil || !bytes.Equal(got, u.data) {
			t.Errorf("%s: %d bytes on disk (%v), want %d", u.name, len(got), err, size)
		}
		u.f.expect("DELE "+u.name, "250")
	}

	// A broken file keeps the settings in force.
	writeUsers("alice:"+alice+":elradfmwMT:"+home, "bob:"+bob+":elr:"+home)
	writeConf("max-login-attempts = 3", "max-cons = lots")
	d.cmd.Process.Signal(syscall.SIGHUP)
	failed := d.waitLog(t, "reload failed; keeping the settings in force")
	if !strings.Contains(failed, "max-cons") {
		t.Errorf("failure line %q doesn't name the setting", failed)
	}
	b = dialClient(t, port)
	b.expect("", "220")
	b.expect("USER bob", "331")
	b.expect("PASS bob-pw", "530 Authentication failed. Disconnecting.")
	c.expect("NOOP", "200")
	d.stop(t)
}

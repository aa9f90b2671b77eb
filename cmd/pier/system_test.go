package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// needRoot skips a test that must run as root (to create accounts and
// act as them), except under CI=true, where it fails.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but not root: --system-users can't be tested")
		}
		t.Skip("needs root")
	}
}

// addAccount creates a machine account with a home and a password; it is
// removed when the test ends.
func addAccount(t *testing.T, name, password string, args ...string) {
	t.Helper()
	useradd := append([]string{"-m", "-s", "/bin/sh"}, args...)
	if out, err := exec.Command("useradd", append(useradd, name)...).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", "-r", "-f", name).Run() })
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd %s: %v: %s", name, err, out)
	}
}

// TestSystemUsersDaemon runs pier --system-users as an operator would and
// checks a login, an upload owned by the account, the listing's owner
// name, a refused login, the anonymous mapping, and the start-up line.
func TestSystemUsersDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	needRoot(t)
	suffix := strconv.Itoa(os.Getpid() % 100000)
	user, guest, other := "pd"+suffix+"u", "pd"+suffix+"g", "pd"+suffix+"o"
	addAccount(t, user, "Pass-1-word")
	addAccount(t, guest, "unused", "-s", "/usr/sbin/nologin")
	addAccount(t, other, "Other-2-word")
	if err := os.WriteFile("/home/"+guest+"/welcome.txt", []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	d, startup := startDaemon(t, "--system-users", "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"--anonymous-user", guest, "--rejected-users", "nosuch"+suffix+", "+other, "--user-perm", user+"= elrw")
	for _, want := range []string{`login="system accounts, except [nosuch` + suffix + ` ` + other + `], anonymous as ` + guest + `"`, `directory="each account's home (jailed)"`} {
		if !strings.Contains(startup, want) {
			t.Errorf("start-up log %q lacks %q", startup, want)
		}
	}

	c := dialClient(t, port)
	c.expect("", "220")
	c.expect("USER "+user, "331")
	c.expect("PASS Pass-1-word", "230")
	if l := d.waitLog(t, "user logged in"); !strings.Contains(l, "home=/home/"+user) {
		t.Errorf("login log %q lacks the home", l)
	}
	c.expect("PWD", `257 "/"`)
	c.expect("TYPE I", "200")
	c.store("up.txt", []byte("data\n"))
	st := statT(t, "/home/"+user+"/up.txt")
	if uid, gid := lookupIDs(t, user); st.Uid != uid || st.Gid != gid {
		t.Errorf("upload owned by %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
	}
	if list := c.list(); !strings.Contains(list, " "+user+" ") {
		t.Errorf("LIST does not name the owner %s:\n%s", user, list)
	}
	c.expect("MKD sub", "550") // --user-perm gave elrw: no m
	c.expect("QUIT", "221")

	// A rejected account gets the same 530 as a wrong password.
	for _, login := range [][2]string{{other, "Other-2-word"}, {user, "wrong"}} {
		c := dialClient(t, port)
		c.expect("", "220")
		c.expect("USER "+login[0], "331")
		c.expect("PASS "+login[1], "530 Authentication failed.")
	}

	a := dialClient(t, port)
	a.expect("", "220")
	a.expect("USER anonymous", "331")
	a.expect("PASS guest@example.com", "230")
	a.expect("TYPE I", "200")
	if got := string(a.retrieve("welcome.txt")); got != "hi\n" {
		t.Errorf("anonymous RETR: %q", got)
	}
	a.expect("MKD x", "550")
	a.expect("QUIT", "221")
	d.stop(t)
}

func statT(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

// lookupIDs returns an account's uid and gid with id(1).
func lookupIDs(t *testing.T, name string) (uint32, uint32) {
	t.Helper()
	var ids [2]uint32
	for i, flag := range []string{"-u", "-g"} {
		out, err := exec.Command("id", flag, name).Output()
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(out)), 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = uint32(n)
	}
	return ids[0], ids[1]
}

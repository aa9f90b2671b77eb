package system

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pierftp/pier"
)

// TestHostHashes checks go-crypt against the hashes this machine makes:
// it creates throwaway accounts with useradd, sets their passwords with
// chpasswd (and a bcrypt hash from libxcrypt's crypt(3) with usermod), and
// logs them in through the real account files and the real asuser.
func TestHostHashes(t *testing.T) {
	needRoot(t)
	for _, tool := range []string{"useradd", "userdel", "usermod", "chpasswd", "perl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
	}
	base := t.TempDir()
	// The accounts must be able to walk down to their homes.
	for _, dir := range []string{base, filepath.Dir(base)} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	a, err := New(Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, scheme string
	}{
		{"YESCRYPT", "$y$"},
		{"SHA512", "$6$"},
		{"SHA256", "$5$"},
		{"MD5", "$1$"},
		{"BCRYPT", "$2b$"}, // through crypt(3): chpasswd may not offer it
	}
	for i, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			name := fmt.Sprintf("pierhash%d%c", os.Getpid(), 'a'+i)
			home := filepath.Join(base, name)
			pass := "Corr3ct horse " + tt.method
			uid := addUser(t, name, home)
			if tt.method == "BCRYPT" {
				hash := runTool(t, []string{"P=" + pass, "S=$2b$05$" + bcryptSalt()}, "", "perl", "-e", `print crypt($ENV{P}, $ENV{S})`)
				runTool(t, nil, "", "usermod", "-p", hash, name)
			} else {
				runTool(t, nil, name+":"+pass+"\n", "chpasswd", "-c", tt.method)
			}
			data, err := os.ReadFile("/etc/shadow")
			if err != nil {
				t.Fatal(err)
			}
			if hash := parseShadow(data).byName[name].Password; !strings.HasPrefix(hash, tt.scheme) {
				t.Fatalf("shadow hash %.8q..., want %s", hash, tt.scheme)
			}

			u, err := a.Authenticate(context.Background(), pier.ConnInfo{}, name, pass)
			if err != nil {
				t.Fatalf("right password: %v", err)
			}
			defer u.Release()
			if u.System.UID != uid || u.System.Home != home {
				t.Errorf("system account %+v", u.System)
			}
			// The file is made as the account.
			file, err := u.FS.OpenFile(context.Background(), "made", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				t.Fatalf("create a file as %s: %v", name, err)
			}
			file.Close()
			st, err := os.Stat(filepath.Join(home, "made"))
			if err != nil {
				t.Fatal(err)
			}
			if owner := st.Sys().(*syscall.Stat_t).Uid; owner != uid {
				t.Errorf("file made by uid %d, want %d", owner, uid)
			}

			for _, wrong := range []string{"corr3ct horse " + tt.method, pass + " ", ""} {
				if _, err := a.Authenticate(context.Background(), pier.ConnInfo{}, name, wrong); err != errRefused {
					t.Errorf("wrong password %q: %v, want errRefused", wrong, err)
				}
			}

			if tt.method == "YESCRYPT" {
				// A home the account can't enter is refused at login.
				if err := os.Chown(home, 0, 0); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(home, 0o700); err != nil {
					t.Fatal(err)
				}
				if _, err := a.Authenticate(context.Background(), pier.ConnInfo{}, name, pass); err != errRefused {
					t.Errorf("home the account can't enter: %v, want errRefused", err)
				}
			}
		})
	}
}

// needRoot skips a test unless it runs as root, except under CI, which
// runs these tests as root: there it fails.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("this test needs root, and CI runs as root")
	}
	t.Skip("needs root")
}

// addUser creates a throwaway account with its home, removed when the test
// ends, and returns its UID.
func addUser(t *testing.T, name, home string) uint32 {
	t.Helper()
	runTool(t, nil, "", "useradd", "-M", "-d", home, "-s", "/bin/sh", name)
	t.Cleanup(func() {
		// -f: the account's thread may not quite have ended when its
		// login released it, and userdel refuses an account a process
		// (this one) still runs as.
		if out, err := exec.Command("userdel", "-f", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	e, ok := parsePasswd(data)[name]
	if !ok {
		t.Fatalf("useradd made no %s", name)
	}
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, int(e.UID), int(e.GID)); err != nil {
		t.Fatal(err)
	}
	return e.UID
}

// runTool runs a command with extra environment and standard input, and
// returns its output. The account tools refuse to run while another holds
// their lock (a parallel test run): then it tries again.
func runTool(t *testing.T, env []string, stdin string, name string, args ...string) string {
	t.Helper()
	for try := 0; ; try++ {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader(stdin)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err == nil {
			return string(out)
		}
		if !strings.Contains(stderr.String(), "lock") || try == 50 {
			t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// bcryptSalt returns a random bcrypt salt: 22 characters of bcrypt's
// base64, the last with its 4 unused bits zero.
func bcryptSalt() string {
	const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 22)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	b[21] = alphabet[int(b[21])%4*16]
	return string(b)
}

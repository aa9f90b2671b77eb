package pier_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJail tries to leave the served folder by name and through symlinks
// that point outside it.
func TestJail(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	outside := t.TempDir()
	const secret = "TOPSECRET"
	secretPath := filepath.Join(outside, "secret.txt")
	if err := os.WriteFile(secretPath, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(outside, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"escape":  outside,         // absolute, to a folder
		"escfile": secretPath,      // absolute, to a file
		"rel":     "../",           // relative, to the parent of the root
		"sub/up":  "../../" + "..", // relative, from deeper down
		"hop":     "escape/../..",  // through another link
	} {
		p := filepath.Join(srv.Dir, link)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, srv, "ok.txt", []byte("ok"))
	// A relative link to the secret.
	rel, err := filepath.Rel(srv.Dir, secretPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(rel, filepath.Join(srv.Dir, "relfile")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		line string
		code int
	}{
		{"RETR ../../etc/passwd", 550},
		{"RETR /../../../../../../etc/passwd", 550},
		{"RETR /etc/passwd", 550},
		{"RETR escape/secret.txt", 550},
		{"RETR escfile", 550},
		{"RETR relfile", 550},
		{"RETR rel/" + filepath.Base(outside) + "/secret.txt", 550},
		{"CWD escape", 550},
		{"CWD escape/inside", 550},
		{"CWD rel", 550},
		{"CWD sub/up", 550},
		{"CWD hop", 550},
		{"LIST escape", 550},
		{"LIST -la escape", 550},
		{"LIST escfile", 550},
		{"LIST rel", 550},
		{"NLST escape", 550},
		{"MLSD escape", 550},
		{"MLST escape", 550},
		{"MLST escfile", 550},
		{"STAT escape", 550},
		{"STAT escfile", 550},
		{"SIZE escfile", 550},
		{"SIZE escape/secret.txt", 550},
		{"MDTM escfile", 550},
		{"STOR escape/new.txt", 550},
		{"APPE escfile", 550},
		{"STOU escape/x", 550},
		{"MKD escape/newdir", 550},
		{"DELE escape/secret.txt", 550},
		{"RNFR escape/secret.txt", 550},
		{"SITE CHMOD 777 escfile", 550},
		{"SITE CHMOD 777 escape/secret.txt", 550},
		{"MFMT 20000101000000 escfile", 550},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			c := login(t, srv)
			c.Expect(t, "EPSV", 229)
			text := c.Expect(t, tt.line, tt.code)
			if strings.Contains(text, outside) || strings.Contains(text, secret) || strings.Contains(text, "root:") {
				t.Errorf("reply %q reveals what is outside", text)
			}
			c.Expect(t, "PWD", 257)
		})
	}

	t.Run("CWD dot-dot", func(t *testing.T) {
		t.Parallel()
		runSteps(t, login(t, srv), []step{
			{"CWD ../../..", 250, ""},
			{"PWD", 257, `"/" is the current directory.`},
			{"CWD sub", 250, ""},
			{"CWD ../../../..", 250, ""},
			{"PWD", 257, `"/" is the current directory.`},
		})
	})
	t.Run("RNTO through a link", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		runSteps(t, c, []step{{"RNFR ok.txt", 350, ""}, {"RNTO escape/moved.txt", 550, ""}})
	})
	// pyftpdlib shows every link's target; pier hides targets outside the
	// root, which would reveal the server's real paths.
	t.Run("listing the root shows nothing of the outside", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv)
		for _, cmd := range []string{"NLST", "MLSD", "LIST", "STAT /"} {
			var data string
			if strings.HasPrefix(cmd, "STAT") {
				data = c.Expect(t, cmd, 213)
			} else {
				data = string(c.Retrieve(t, cmd))
			}
			if strings.Contains(data, "secret.txt") || strings.Contains(data, "inside") || strings.Contains(data, outside) {
				t.Errorf("%s shows the outside folder's contents: %q", cmd, data)
			}
		}
	})

	// Nothing outside changed.
	t.Cleanup(func() {
		got, err := os.ReadFile(secretPath)
		if err != nil || string(got) != secret {
			t.Errorf("secret.txt: %q, %v", got, err)
		}
		fi, err := os.Stat(secretPath)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("secret.txt mode changed: %v", fi.Mode())
		}
		entries, _ := os.ReadDir(outside)
		if len(entries) != 2 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("outside folder now holds %q", names)
		}
	})
}

//go:build unix

// Package integration_test runs pier against real FTP clients (curl, lftp,
// Python's ftplib and rclone) through test/integration.sh.
package integration_test

import (
	"bufio"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// scriptBound is the longest the client script may run.
	scriptBound = 10 * time.Minute
	// waitDelay is how long the script may take to stop once told to.
	waitDelay = 30 * time.Second
)

func TestRealClients(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the real-client integration test in -short mode")
	}
	var missing []string
	for _, tool := range []string{"bash", "curl", "lftp", "timeout", "sha256sum", "diff"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		missing = append(missing, "/usr/bin/python3")
	}
	if len(missing) > 0 {
		msg := "real FTP clients missing: " + strings.Join(missing, ", ") +
			" (on Debian: apt-get install curl lftp python3)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI must not skip this test")
		}
		t.Skip(msg)
	}
	// Without rclone only its checks are skipped, by the script, which
	// fails them instead when CI is set.
	if _, err := exec.LookPath("rclone"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("rclone is missing (on Debian: apt-get install rclone); CI must not skip its checks")
		}
		t.Log("rclone is missing (on Debian: apt-get install rclone): its checks are skipped")
	}

	// go test runs in the package folder, test/; the module root is above.
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	consultSources(t, root)

	bin := filepath.Join(t.TempDir(), "pier")
	build := exec.Command("go", "build", "-race", "-o", bin, "./cmd/pier") // -race: catch data races under real clients too
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/pier: %v\n%s", err, out)
	}

	bound := scriptBound
	if dl, ok := t.Deadline(); ok {
		// Stop in time to report before go test's own -timeout panics.
		if left := time.Until(dl) - waitDelay - 10*time.Second; left < bound {
			bound = left
		}
		if bound <= 0 {
			t.Fatalf("the test deadline (go test -timeout) leaves no time to run test/integration.sh")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()

	cmd := exec.CommandContext(ctx, "bash", filepath.Join("test", "integration.sh"), bin)
	cmd.Dir = root
	// The script runs in a process group of its own. On time-out, SIGTERM
	// goes to the whole group: the clients and servers stop at once and the
	// script's traps clean up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = waitDelay
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw

	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			t.Log(sc.Text())
		}
		// Keep draining so the script never blocks on a long line.
		_, _ = io.Copy(io.Discard, pr)
	}()

	start := time.Now()
	err = cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	pw.Close()
	<-done
	if ctx.Err() != nil {
		t.Fatalf("test/integration.sh did not finish within %v", bound)
	}
	if err != nil {
		t.Fatalf("test/integration.sh failed after %v: %v", time.Since(start).Round(time.Second), err)
	}
}

// consultSources reads the module's sources, the script and its helpers.
// go test caches a passing result keyed on the files a test opens; the
// daemon is built and run by child processes whose reads go unseen, so
// without this a cached pass would survive changes to the server or to
// the script.
func consultSources(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".mod", ".sum", ".sh", ".py":
		default:
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(io.Discard, f)
		return err
	})
	if err != nil {
		t.Fatalf("reading the sources: %v", err)
	}
}

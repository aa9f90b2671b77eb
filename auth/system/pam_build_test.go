//go:build !pam

package system

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestPAMBuild runs the PAM tests, which need the pam build tag, cgo and
// libpam's headers, so that a plain go test ./... runs them too. It is
// left out of the tagged build, which would run it again.
func TestPAMBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the PAM tests in another go test")
	}
	if runtime.GOOS != "linux" {
		t.Skip("PAM support is for Linux")
	}
	missing := ""
	if _, err := os.Stat("/usr/include/security/pam_appl.h"); err != nil {
		missing = "libpam's headers (libpam0g-dev)"
	} else if _, err := exec.LookPath("gcc"); err != nil {
		missing = "gcc"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no %s: CI installs it", missing)
		}
		t.Skipf("no %s", missing)
	}
	// go test puts its own GOROOT/bin first in PATH: this is the go
	// running the test (runtime.GOROOT is deprecated).
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	cmd := exec.CommandContext(t.Context(), goBin, "test", "-race", "-tags", "pam", "-count=1", "-run", "PAM", "./auth/system/")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test -race -tags pam ./auth/system/: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestPAMOff checks what a pier built without PAM does.
func TestPAMOff(t *testing.T) {
	if pamBuilt {
		t.Fatal("pamBuilt in a build without the pam tag")
	}
	f := newFixture(t)
	opts := f.opts
	opts.PAMService = "ftp"
	if _, err := New(opts); !errors.Is(err, ErrNoPAM) || !strings.Contains(err.Error(), "-tags pam") {
		t.Errorf("New with PAMService: %v, want ErrNoPAM, which says how to build with PAM", err)
	}
	opts.PAMService, opts.PAMConfDir = "", "/tmp"
	if _, err := New(opts); err == nil || !strings.Contains(err.Error(), "PAMConfDir is set without PAMService") {
		t.Errorf("New with PAMConfDir alone: %v", err)
	}
	h, err := startPAMHelper(context.Background(), slog.New(slog.DiscardHandler), pamRequest{Service: "ftp", User: "root"})
	if h != nil || err != ErrNoPAM {
		t.Errorf("startPAMHelper: %v, %v, want ErrNoPAM", h, err)
	}
	if err := h.openSession(context.Background()); err == nil {
		t.Error("openSession: no error")
	}
	if err := h.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, _, err := lookupNSS("root"); err == nil || errors.Is(err, errUnknownUser) {
		t.Errorf("lookupNSS: %v, want an error other than errUnknownUser", err)
	}
}

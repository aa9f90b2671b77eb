package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/local"
)

// TestAtomicUploadsRoots: --atomic-uploads, on the command line or in a
// configuration file, opens the -d folder, or each home of a users file
// once, with local.AtomicUploads, and keeps them for the start-up clean-up;
// without it, none.
func TestAtomicUploadsRoots(t *testing.T) {
	dir := t.TempDir()
	_, cfg := configureArgs(t, "-d", dir)
	if len(cfg.uploadRoots) != 0 {
		t.Errorf("without --atomic-uploads: roots %v", cfg.uploadRoots)
	}
	srv, cfg := configureArgs(t, "-d", dir, "-w", "--atomic-uploads")
	if len(cfg.uploadRoots) != 1 || cfg.uploadRoots[0].dir != dir {
		t.Fatalf("roots %v, want %s", cfg.uploadRoots, dir)
	}
	checkAtomic(t, srv, "anonymous", "")

	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, home := range []string{a, b} {
		if err := os.Mkdir(home, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hash, err := hashPassword("pw", false)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "users"), "alice:"+hash+":elradfmwMT:a\nbob:"+hash+":elr:a/\nanonymous::elr:b\n", 0o600)
	writeFile(t, filepath.Join(dir, "pier.conf"), "users-file = users\natomic-uploads\n", 0o600)
	srv, cfg = configureArgs(t, "-c", filepath.Join(dir, "pier.conf"))
	if len(cfg.uploadRoots) != 2 || cfg.uploadRoots[0].dir != a || cfg.uploadRoots[1].dir != b {
		t.Fatalf("roots %v, want %s and %s once each", cfg.uploadRoots, a, b)
	}
	checkAtomic(t, srv, "alice", "pw")
}

// configureArgs parses args (and the -c file) and configures pier.
func configureArgs(t *testing.T, args ...string) (*pier.Server, *config) {
	t.Helper()
	var o options
	fs := newFlagSet(&o)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if o.configFile != "" {
		if _, err := applyConfigFile(fs, o.configFile); err != nil {
			t.Fatal(err)
		}
	}
	srv, cfg, err := configure(&o, fs, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return srv, cfg
}

// checkAtomic checks that user's uploads go through a temporary: the file
// that replaces new.txt can be aborted, and then no new.txt exists.
func checkAtomic(t *testing.T, srv *pier.Server, user, pass string) {
	t.Helper()
	u, err := srv.Auth.Authenticate(t.Context(), pier.ConnInfo{}, user, pass)
	if err != nil {
		t.Fatal(err)
	}
	f, err := u.FS.OpenFile(t.Context(), "new.txt", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := f.(pier.Aborter)
	if !ok {
		f.Close()
		t.Fatalf("%s: an upload is a %T, not an atomic one", user, f)
	}
	if err := a.Abort(pier.ErrTransferAborted); err != nil {
		t.Fatal(err)
	}
	if _, err := u.FS.Stat(t.Context(), "new.txt"); err == nil {
		t.Errorf("%s: an aborted upload left new.txt", user)
	}
}

// TestDaemonAtomicUploads runs pier -w --atomic-uploads: temporaries that
// an earlier run left are removed at start; a STOR whose client goes away
// half-way leaves the old file, and its temporary is removed and never
// listed; a complete STOR replaces the file.
func TestDaemonAtomicUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	old := bytes.Repeat([]byte("old "), 16<<10)
	writeFile(t, filepath.Join(dir, "data.bin"), string(old), 0o644)
	stale := []string{
		filepath.Join(dir, local.TempPrefix+"0123456789abcdef-data.bin"),
		filepath.Join(dir, "sub", local.TempPrefix+"fedcba9876543210-deep.bin"),
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range stale {
		writeFile(t, name, "partial", 0o644)
	}

	port := freePort(t)
	d, startup := startDaemon(t, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-d", dir, "-w", "--atomic-uploads")
	if !strings.Contains(startup, "atomic_uploads=true") {
		t.Errorf("start-up log %q lacks atomic_uploads=true", startup)
	}
	if l := d.waitLog(t, "removed temporaries of interrupted uploads"); !strings.Contains(l, "root="+dir+" ") || !strings.Contains(l, "removed=2") {
		t.Errorf("clean-up log %q: want root=%s removed=2", l, dir)
	}
	d.waitLog(t, "temporaries of interrupted uploads checked")
	for _, name := range stale {
		if _, err := os.Lstat(name); err == nil {
			t.Errorf("%s is still there after start", name)
		}
	}

	t.Run("interrupted", func(t *testing.T) {
		up := loginAnonymous(t, port)
		data := up.startStore("data.bin")
		half := bytes.Repeat([]byte("new!"), 8<<10)
		if _, err := data.Write(half); err != nil {
			t.Fatal(err)
		}
		tmp := waitTemp(t, dir, int64(len(half)))
		other := loginAnonymous(t, port)
		if l := other.list(); strings.Contains(l, local.TempPrefix) || !strings.Contains(l, "data.bin") {
			t.Errorf("LIST during the upload:\n%s", l)
		}
		up.c.Close() // the client goes away, its data connection still open
		waitGone(t, tmp)
		data.SetLinger(0) // a reset, not the end of the data
		data.Close()
		checkFile(t, filepath.Join(dir, "data.bin"), old)
		if l := other.list(); strings.Contains(l, local.TempPrefix) || !strings.Contains(l, "data.bin") {
			t.Errorf("LIST after the interrupted upload:\n%s", l)
		}
	})

	t.Run("complete", func(t *testing.T) {
		c := loginAnonymous(t, port)
		replacement := bytes.Repeat([]byte("NEW "), 20<<10)
		c.store("data.bin", replacement)
		checkFile(t, filepath.Join(dir, "data.bin"), replacement)
		if got := c.retrieve("data.bin"); !bytes.Equal(got, replacement) {
			t.Errorf("RETR after STOR: %d bytes, want the %d uploaded", len(got), len(replacement))
		}
		if names := temps(t, dir); len(names) != 0 {
			t.Errorf("temporaries left after a complete upload: %q", names)
		}
	})
	d.stop(t)
}

// TestDaemonAtomicUploadKilled: pier killed (SIGKILL) in the middle of an
// atomic STOR leaves the old file intact; the next start removes the
// temporary, which no listing ever shows.
func TestDaemonAtomicUploadKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	old := bytes.Repeat([]byte("old "), 16<<10)
	writeFile(t, filepath.Join(dir, "data.bin"), string(old), 0o644)
	args := func(port int) []string {
		return []string{"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-d", dir, "-w", "--atomic-uploads"}
	}

	port := freePort(t)
	d, _ := startDaemon(t, args(port)...)
	d.waitLog(t, "temporaries of interrupted uploads checked")
	up := loginAnonymous(t, port)
	data := up.startStore("data.bin")
	half := bytes.Repeat([]byte("new!"), 8<<10)
	if _, err := data.Write(half); err != nil {
		t.Fatal(err)
	}
	tmp := waitTemp(t, dir, int64(len(half)))
	d.kill(t)
	checkFile(t, filepath.Join(dir, "data.bin"), old)
	if _, err := os.Lstat(tmp); err != nil {
		t.Fatalf("the temporary of the killed upload: %v (SIGKILL leaves it)", err)
	}

	port = freePort(t)
	d, _ = startDaemon(t, args(port)...)
	if l := d.waitLog(t, "temporaries of interrupted uploads checked"); !strings.Contains(l, "removed=1") {
		t.Errorf("clean-up log %q: want removed=1", l)
	}
	if _, err := os.Lstat(tmp); err == nil {
		t.Errorf("%s is still there after the restart", tmp)
	}
	c := loginAnonymous(t, port)
	if l := c.list(); strings.Contains(l, local.TempPrefix) || !strings.Contains(l, "data.bin") {
		t.Errorf("LIST after the restart:\n%s", l)
	}
	if got := c.retrieve("data.bin"); !bytes.Equal(got, old) {
		t.Errorf("RETR after the restart: %d bytes, want the old %d", len(got), len(old))
	}
	d.stop(t)
}

// temps returns the upload temporaries in dir.
func temps(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), local.TempPrefix) {
			names = append(names, filepath.Join(dir, e.Name()))
		}
	}
	return names
}

// waitTemp waits (10 s at most) until dir holds one upload temporary of at
// least size bytes, and returns its path.
func waitTemp(t *testing.T, dir string, size int64) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if names := temps(t, dir); len(names) == 1 {
			if fi, err := os.Stat(names[0]); err == nil && fi.Size() >= size {
				return names[0]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no upload temporary of %d bytes in %s: %q", size, dir, temps(t, dir))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone waits (10 s at most) until name no longer exists.
func waitGone(t *testing.T, name string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := os.Lstat(name); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still there", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkFile checks name's content.
func checkFile(t *testing.T, name string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes (%.8q...), want %d (%.8q...)", name, len(got), got, len(want), want)
	}
}

// TestSweepHomeAtLogin checks that a home first opened at a login (a
// --db account's) has its interrupted uploads' temporaries removed, once,
// and only those old enough not to be a running upload's, here or on
// another node.
func TestSweepHomeAtLogin(t *testing.T) {
	dir := t.TempDir()
	_, cfg := configureArgs(t, "-d", dir, "-w", "--atomic-uploads")
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(home, local.TempPrefix+"0123456789abcdef-old.bin")
	live := filepath.Join(home, local.TempPrefix+"fedcba9876543210-new.bin")
	writeFile(t, stale, "cut short", 0o644)
	writeFile(t, live, "still coming", 0o644)
	old := time.Now().Add(-2 * staleUploadAge(cfg.o.timeout))
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	cfg.serving.Store(true)
	fsys, err := cfg.openRoot(home)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	for range 500 {
		if _, err := os.Stat(stale); errors.Is(err, fs.ErrNotExist) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the stale temporary is still there: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a recent temporary (maybe a running upload's) was removed: %v", err)
	}
	if len(cfg.uploadRoots) != 1 || cfg.uploadRoots[0].dir != dir {
		t.Errorf("roots for the start-up sweep %v, want only %s (not the home opened while serving)", cfg.uploadRoots, dir)
	}
	if got := staleUploadAge(0); got != 24*time.Hour {
		t.Errorf("without a timeout: %v", got)
	}
	if got := staleUploadAge(300); got != time.Hour {
		t.Errorf("with 300 s: %v", got)
	}
}

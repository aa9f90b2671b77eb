package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pierftp/pier/ftptest"
)

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// loggedServer starts a test server whose log goes to the buffer it
// returns.
func loggedServer(t *testing.T) (*ftptest.Server, *lockedBuffer) {
	t.Helper()
	log := &lockedBuffer{}
	srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		s.Logger = slog.New(slog.NewTextHandler(log, nil))
	}})
	return srv, log
}

// TestUploadsMakeNewFiles: a timed upload never replaces a file, since
// servers replace files in ways that cost differently; a file of the same
// name from an earlier workload or repetition is deleted first.
func TestUploadsMakeNewFiles(t *testing.T) {
	srv, log := loggedServer(t)
	runBench(t, benchArgs(t, srv, "-b", "stor,retr,stor-idle,retr-idle,stor-many", "--repeat", "2", "--quiet")...)

	// the server logs a STOR when it ends and a DELE when it is done;
	// ftpbench deletes before it starts the next upload of a name
	line := regexp.MustCompile(`msg=(transfer|DELE) .*?(cmd=STOR )?path=(\S+)`)
	exists := map[string]bool{}
	stors := 0
	for _, l := range strings.Split(log.String(), "\n") {
		m := line.FindStringSubmatch(l)
		switch {
		case m == nil:
		case m[1] == "DELE":
			delete(exists, m[3])
		case m[2] != "":
			stors++
			if exists[m[3]] {
				t.Errorf("%s was uploaded over an earlier upload", m[3])
			}
			exists[m[3]] = true
		}
	}
	if want := 2 * (1 + 1 + 5); stors != want { // stor, stor-idle, 5 × stor-many, twice
		t.Errorf("%d uploads in the server's log, want %d", stors, want)
	}
	if len(exists) != 0 {
		t.Errorf("left on the server: %v", exists)
	}
}

// TestRemoveBefore: the file an earlier upload made is deleted; one that a
// failed upload never made is taken as gone, not as an error.
func TestRemoveBefore(t *testing.T) {
	srv := ftptest.NewServer(t, nil)
	o, err := parseFlags(benchArgs(t, srv, "--quiet"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newBench(o, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.getMain()
	if err != nil {
		t.Fatal(err)
	}
	defer b.finish()
	if err := os.WriteFile(filepath.Join(srv.Dir, "made.dat"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.files["made.dat"], b.files["never-made.dat"] = 1, 1
	if err := b.removeBefore(c, "made.dat", "never-made.dat", "not-uploaded.dat"); err != nil {
		t.Fatalf("removeBefore: %v", err)
	}
	if len(b.files) != 0 {
		t.Errorf("still counted as uploaded: %v", b.files)
	}
	if _, err := os.Stat(filepath.Join(srv.Dir, "made.dat")); !os.IsNotExist(err) {
		t.Errorf("made.dat not deleted: %v", err)
	}
}

// TestEach: with --each, every client of stor-many and retr-many makes
// that many transfers in turn, each upload a file of its own, and the
// bytes counted are all of them.
func TestEach(t *testing.T) {
	srv, log := loggedServer(t)
	results := runBench(t, benchArgs(t, srv, "-b", "retr-many,stor-many", "-n", "3", "--each", "4", "--quiet")...)
	for _, r := range results {
		if r.Clients != 3 || r.Bytes != 12*64<<10 {
			t.Errorf("%s: %d clients, %d bytes; want 3 clients, %d bytes", r.Workload, r.Clients, r.Bytes, 12*64<<10)
		}
	}
	transfer := regexp.MustCompile(`msg=transfer .*?cmd=(STOR|RETR) .*?path=(\S+)`)
	count := map[string]int{}
	stored := map[string]bool{}
	for _, l := range strings.Split(log.String(), "\n") {
		if m := transfer.FindStringSubmatch(l); m != nil {
			count[m[1]]++
			if m[1] == "STOR" {
				stored[m[2]] = true
			}
		}
	}
	// retr-many's source, then stor-many's 12 files, each a new name
	if count["STOR"] != 13 || len(stored) != 13 || count["RETR"] != 12 {
		t.Errorf("server saw %d STOR (%d names) and %d RETR, want 13 (13) and 12", count["STOR"], len(stored), count["RETR"])
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-u", "x", "--each", "0"}, &stdout, &stderr); code != 2 {
		t.Errorf("--each 0: exit %d, want 2", code)
	}
}

package main

import (
	"bytes"
	"log/slog"
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

// TestUploadsMakeNewFiles: a timed upload never replaces a file, since
// servers replace files in ways that cost differently; a file of the same
// name from an earlier workload or repetition is deleted first.
func TestUploadsMakeNewFiles(t *testing.T) {
	var log lockedBuffer
	srv := ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		s.Logger = slog.New(slog.NewTextHandler(&log, nil))
	}})
	runBench(t, benchArgs(t, srv, "-b", "stor,stor-idle,stor-many", "--repeat", "2", "--quiet")...)

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

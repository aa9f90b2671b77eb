package pier_test

// FuzzSession feeds whole sessions of arbitrary bytes to a real server.

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierftp/pier/ftptest"
)

// panicHandler is a slog.Handler that counts error records about panics,
// which the server logs when it recovers one: a fuzz input that makes the
// server panic would otherwise look like a closed connection.
type panicHandler struct{ panics *atomic.Int64 }

func (h panicHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h panicHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		h.panics.Add(1)
	}
	return nil
}

func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h panicHandler) WithGroup(string) slog.Handler { return h }

// readWellFormedReply reads one reply and fails the test unless each of
// its lines is well formed (RFC 959 §4.2): "ddd " or "ddd-" first, and a
// multi-line reply ends with "ddd ". It returns io.EOF-like errors from
// the connection as they are.
func readWellFormedReply(t *testing.T, r *bufio.Reader) (int, error) {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 6 || !strings.HasSuffix(line, "\r\n") || line[3] != ' ' && line[3] != '-' {
		t.Fatalf("malformed reply line %q", line)
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil || code < 100 || code > 599 {
		t.Fatalf("malformed reply code in %q", line)
	}
	if line[3] == '-' {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return 0, err
			}
			if strings.HasPrefix(l, line[:3]+" ") {
				break
			}
		}
	}
	return code, nil
}

// FuzzSession drives a real session, logged in with every permission on a
// temporary folder, with arbitrary command lines. Every line gets at least
// one well-formed final reply, or the server closes the connection; the
// server never panics; nothing outside the user's root changes.
func FuzzSession(f *testing.F) {
	var panics atomic.Int64
	srv := ftptest.NewServer(f, &ftptest.Options{Configure: func(s *ftptest.Server) {
		s.Logger = slog.New(panicHandler{&panics})
		s.BanAfter = -1
		s.ConnectTimeout = 20 * time.Millisecond
		s.DataTimeout = time.Second
		s.IdleTimeout = 5 * time.Second
	}})
	canary := f.TempDir() // a sibling of srv.Dir
	const canaryText = "must not change"
	if err := os.WriteFile(filepath.Join(canary, "keep.txt"), []byte(canaryText), 0o644); err != nil {
		f.Fatal(err)
	}
	parent := filepath.Dir(srv.Dir)
	if filepath.Dir(canary) != parent {
		f.Fatalf("canary %s is not a sibling of %s", canary, srv.Dir)
	}
	f.Cleanup(func() {
		// SITE CHMOD 000 may have locked folders; let TempDir remove them.
		filepath.WalkDir(srv.Dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
	})
	if err := os.WriteFile(filepath.Join(srv.Dir, "f"), []byte("hello\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"NOOP",
		"PWD\nCWD ..\nCWD ../..\nPWD\nCDUP\nCDUP",
		"MKD ../escape\nMKD /../../escape2\nRMD ..",
		"PASV\nSTOR ../../x\nEPSV\nAPPE /../x",
		"RNFR f\nRNTO ../f\nRNFR f\nRNTO ../" + "canary/keep.txt",
		"SITE CHMOD 777 /\nSITE CHMOD 000 ..\nSITE CHMOD 4755 f",
		"PASV\nRETR f\nTYPE A\nEPSV\nLIST -la\nMLSD ..\nNLST /..",
		"USER x\nPASS y\nUSER user\nPASS secret",
		"QUIT\nNOOP",
		"REIN\nNOOP\nPWD",
		"\xff\xf4\xff\xf2ABOR\nABOR\nSTAT\nSTAT ..",
		strings.Repeat("A", 3000),
		"MFMT 20200101000000 ../canary/keep.txt\nMDTM ../../etc/passwd\nSIZE ..",
		"EPRT |1|127.0.0.1|1|\nPORT 127,0,0,1,0,1\nEPSV ALL\nPASV",
		"HELP\nFEAT\nSITE HELP\nHELP SITE CHMOD\nOPTS MLST type;size;\nMLST f",
		"RMD /\nDELE ../canary/keep.txt\nDELE ..\\canary\\keep.txt",
		"REST 3\nPASV\nRETR f\nREST 99999999999999999999",
		"STOU\nSTOU ../x\nALLO 1\nMODE S\nSTRU F\nSYST",
		"CWD \x00\nMKD a\rb\nMKD a\x00b\nCWD //\nCWD \\",
		"HOST a.example\nCLNT x\x01y\nUSER user\nHOST [::1]:21\nPASS secret\nAVBL ..\nAVBL ../canary\nHOST x",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		lines := strings.Split(string(script), "\n")
		if len(lines) > 32 {
			lines = lines[:32]
		}
		nc, err := net.DialTimeout("tcp", srv.Addr, ioDeadline)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(ioDeadline))
		r := bufio.NewReader(nc)
		if code, err := readWellFormedReply(t, r); err != nil || code != 220 {
			t.Fatalf("banner: %d %v", code, err)
		}
		io.WriteString(nc, "USER "+ftptest.User+"\r\nPASS "+ftptest.Password+"\r\n")
		if code, err := readWellFormedReply(t, r); err != nil || code != 331 {
			t.Fatalf("USER: %d %v", code, err)
		}
		if code, err := readWellFormedReply(t, r); err != nil || code != 230 {
			t.Fatalf("PASS: %d %v", code, err)
		}
	script:
		for _, line := range lines {
			if _, err := io.WriteString(nc, line+"\r\n"); err != nil {
				break // closed by the server after an earlier line
			}
			// Read replies up to a final one: a transfer sends a
			// preliminary 150 first.
			for {
				code, err := readWellFormedReply(t, r)
				var ne net.Error
				switch {
				case errors.As(err, &ne) && ne.Timeout():
					t.Fatalf("no reply to %q", line)
				case err != nil:
					break script // the server closed the connection
				case code >= 200:
					continue script
				}
			}
		}
		if n := panics.Load(); n > 0 {
			t.Fatalf("the server recovered from %d panics", n)
		}
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("something was written next to the root: %v", names)
		}
		if b, err := os.ReadFile(filepath.Join(canary, "keep.txt")); err != nil || string(b) != canaryText {
			t.Fatalf("canary changed: %q %v", b, err)
		}
		if entries, err := os.ReadDir(canary); err != nil || len(entries) != 1 {
			t.Fatalf("canary folder changed: %d entries, %v", len(entries), err)
		}
	})
}

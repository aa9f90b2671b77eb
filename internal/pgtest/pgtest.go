//go:build unix

// Package pgtest runs a throwaway PostgreSQL server for tests: a fresh
// cluster in the test's temporary folder, on a free loopback port, stopped
// when the test ends.
//
// It needs PostgreSQL's initdb and postgres binaries, looked for on PATH,
// in /usr/local/bin and in /usr/lib/postgresql/*/bin (Debian's layout).
// Without them the test is skipped, except under CI=true where it fails.
// Run as root, the cluster belongs to, and the server runs as, the
// "postgres" account (initdb refuses root).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Database is the name of the database Start creates.
const Database = "piertest"

// startTimeout bounds initdb, and the wait for the server to accept
// connections; generous, for slow CI machines.
const startTimeout = 60 * time.Second

// Server is a PostgreSQL server started by a test.
type Server struct {
	// URL connects to Database as the superuser, over TCP on 127.0.0.1.
	URL string
	// Port is the TCP port the server listens on; Restart keeps it.
	Port int

	t       testing.TB
	bin     string // the folder of initdb and postgres
	dataDir string
	cred    *syscall.Credential // nil unless the test runs as root
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
}

// Start starts a server and returns its URL; it is stopped when the test
// ends.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).URL
}

// StartServer is Start, for tests that stop and restart the server (to
// see how a client lives through an outage).
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, err := findBinaries()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtest: %v (CI needs PostgreSQL: Debian's postgresql package)", err)
		}
		t.Skipf("pgtest: %v", err)
	}
	s := &Server{t: t, bin: bin}
	root := t.TempDir()
	if os.Geteuid() == 0 {
		if s.cred, err = postgresCredential(); err != nil {
			t.Fatalf("pgtest: running as root: %v", err)
		}
		// The test's temporary folders are root's, mode 0700: postgres
		// must be able to pass through them to the cluster's folder.
		for _, dir := range []string{filepath.Dir(root), root} {
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.dataDir = filepath.Join(root, "data")
	if err := os.Mkdir(s.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if s.cred != nil {
		if err := os.Chown(s.dataDir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	initdb := s.command(ctx, "initdb", "-D", s.dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	s.Port = freePort(t)
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, Database)
	s.Restart()
	t.Cleanup(s.Stop)
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+Database); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return s
}

// Stop stops the server (SIGINT: a fast shutdown that ends the sessions)
// and waits for it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(startTimeout):
		s.cmd.Process.Kill()
		<-s.exited
		s.t.Errorf("pgtest: postgres (pid %d) did not stop on SIGINT; killed", s.cmd.Process.Pid)
	}
	s.cmd = nil
}

// Restart starts the server again, on the same data and port, and waits
// until it accepts connections. Start calls it for the first start.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("pgtest: Restart of a running server")
	}
	// -k: the Unix socket in the data folder, not /var/run/postgresql,
	// which may not exist; fsync off: a test's data need not survive a
	// crash.
	cmd := s.command(context.Background(), "postgres", "-D", s.dataDir, "-k", s.dataDir,
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-c", "fsync=off", "-c", "max_connections=50")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("pgtest: postgres: %v", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	exited := s.exited
	go func() { cmd.Wait(); close(exited) }()
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", s.Port)
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, admin)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return
		}
		select {
		case <-exited:
			s.cmd = nil
			s.t.Fatalf("pgtest: postgres exited at start: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("pgtest: postgres not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// command is a PostgreSQL program, run as postgres when the test runs as
// root.
func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dataDir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
		cmd.Env = append(os.Environ(), "HOME="+s.dataDir)
	}
	return cmd
}

// findBinaries returns the folder that holds initdb and postgres.
func findBinaries() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	dirs = append(dirs, "/usr/local/bin")
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(debian))) // the newest first (lexically: 15 before 13)
	dirs = append(dirs, debian...)
	for _, dir := range dirs {
		if isFile(filepath.Join(dir, "initdb")) && isFile(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", errors.New("no PostgreSQL binaries (initdb, postgres) on PATH, in /usr/local/bin or /usr/lib/postgresql/*/bin")
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// postgresCredential is the "postgres" account's user and group.
func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("no postgres account to run PostgreSQL as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("postgres account: uid %q, gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// freePort is a TCP port free on 127.0.0.1 a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/pierftp/pier/auth"
)

// writeUsers writes a users file with an argon2id account, a bcrypt one and
// anonymous, each with a home of its own.
func writeUsers(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, home := range []string{"alice", "bob", "pub"} {
		if err := os.Mkdir(filepath.Join(dir, home), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "pub", "readme.txt"), []byte("public\n"), 0o644)
	argon, err := auth.HashPassword("wonderland")
	if err != nil {
		t.Fatal(err)
	}
	bcrypt, err := auth.HashPasswordBcrypt("builder")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "users.txt")
	lines := "# name:hash:permissions:home\n" +
		"alice:" + argon + ":elradfmwMT:alice\n" +
		"bob:" + bcrypt + ":elr:bob\n" +
		"anonymous::elr:pub\n"
	if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func start(t *testing.T, usersFile string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, usersFile, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return ln.Addr().String()
}

func login(t *testing.T, addr, user, pass string) (*ftp.ServerConn, error) {
	t.Helper()
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Quit() })
	return c, c.Login(user, pass)
}

func TestHashedUsers(t *testing.T) {
	usersFile := writeUsers(t)
	addr := start(t, usersFile)

	alice, err := login(t, addr, "alice", "wonderland")
	if err != nil {
		t.Fatalf("alice (argon2id): %v", err)
	}
	if err := alice.Stor("notes.txt", strings.NewReader("mine\n")); err != nil {
		t.Fatalf("alice STOR: %v", err)
	}
	// alice's root is her own home.
	if _, err := os.Stat(filepath.Join(filepath.Dir(usersFile), "alice", "notes.txt")); err != nil {
		t.Fatalf("upload not in alice's home: %v", err)
	}

	if _, err := login(t, addr, "bob", "builder"); err != nil {
		t.Fatalf("bob (bcrypt): %v", err)
	}

	anon, err := login(t, addr, "anonymous", "guest@")
	if err != nil {
		t.Fatalf("anonymous: %v", err)
	}
	r, err := anon.Retr("readme.txt")
	if err != nil {
		t.Fatalf("anonymous RETR: %v", err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "public\n" {
		t.Errorf("anonymous RETR: %q", got)
	}

	// A wrong password gets 530 (after the server's anti-guessing delay).
	if _, err := login(t, addr, "alice", "rabbit"); err == nil || !strings.HasPrefix(err.Error(), "530") {
		t.Errorf("wrong password: %v, want 530", err)
	}
}

func TestBadUsersFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.txt")
	// A clear-text password where a hash belongs is refused at start-up.
	os.WriteFile(file, []byte("alice:wonderland:elr:.\n"), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), ln, file, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "users.txt:1") {
		t.Fatalf("run: %v, want an error naming users.txt:1", err)
	}
}

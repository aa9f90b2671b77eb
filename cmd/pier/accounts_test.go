package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierftp/pier"
)

func TestPasswdAndUsersFile(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runPasswd(nil, strings.NewReader("hunter2\n"), &stdout, &stderr); code != 0 {
		t.Fatalf("passwd exit %d: %s", code, stderr.String())
	}
	hash := strings.TrimSpace(stdout.String())
	if !strings.HasPrefix(hash, "$argon2id$") {
		t.Fatalf("hash %q", hash)
	}
	stdout.Reset()
	if code := runPasswd([]string{"--bcrypt"}, strings.NewReader("hunter2"), &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "$2a$") {
		t.Fatalf("bcrypt: exit %d, %q", code, stdout.String())
	}
	if code := runPasswd(nil, strings.NewReader(""), &stdout, &stderr); code != 1 {
		t.Fatalf("empty stdin: exit %d", code)
	}
	if code := runPasswd([]string{"extra"}, strings.NewReader("x\n"), &stdout, &stderr); code != 2 {
		t.Fatalf("extra argument: exit %d", code)
	}

	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte("alice:"+hash+":elradfmwMT:"+dir+"\n"), 0o600)
	var o options
	fs := newFlagSet(&o)
	if err := fs.Parse([]string{"--users-file", users}); err != nil {
		t.Fatal(err)
	}
	srv, _, err := configure(&o, fs, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := srv.Auth.Authenticate(t.Context(), pier.ConnInfo{}, "alice", "hunter2"); err != nil || u.Perm != pier.AllPerms {
		t.Fatalf("alice: %v %v", u, err)
	}
	if _, err := srv.Auth.Authenticate(t.Context(), pier.ConnInfo{}, "anonymous", ""); err == nil {
		t.Fatal("anonymous logs in though the users file has no anonymous line")
	}

	// A users file that lets anonymous write is warned about, as -w is.
	anonWrite := filepath.Join(dir, "users-anon")
	os.WriteFile(anonWrite, []byte("anonymous::elradfmwMT:"+dir+"\n"), 0o600)
	o = options{}
	fs = newFlagSet(&o)
	if err := fs.Parse([]string{"--users-file", anonWrite}); err != nil {
		t.Fatal(err)
	}
	if _, cfg, err := configure(&o, fs, io.Discard); err != nil {
		t.Fatal(err)
	} else if cfg.anonymousWrite != "elradfmwMT" {
		t.Fatalf("anonymous write from a users file: %q, want the warning's letters", cfg.anonymousWrite)
	}

	for _, args := range [][]string{{"--users-file", users, "-u", "x", "-P", "y"}, {"--users-file", users, "-w"}, {"--users-file", users, "-d", dir}, {"--users-file", filepath.Join(dir, "none")}} {
		var stderr bytes.Buffer
		if code := run(args, io.Discard, &stderr); code != 2 {
			t.Errorf("%v: exit %d (%s)", args, code, stderr.String())
		}
	}
}

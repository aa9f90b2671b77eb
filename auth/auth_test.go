package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/local"
)

func newLocal(t *testing.T) pier.FileSystem {
	t.Helper()
	fs, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestHashes(t *testing.T) {
	argon, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(argon, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("argon2id hash %q", argon)
	}
	bc, err := HashPasswordBcrypt("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{argon, bc} {
		if err := checkHash(h); err != nil {
			t.Errorf("checkHash(%q): %v", h, err)
		}
		if !VerifyPassword(h, "correct horse") {
			t.Errorf("%q: right password refused", h)
		}
		if VerifyPassword(h, "correct horsE") || VerifyPassword(h, "") {
			t.Errorf("%q: wrong password accepted", h)
		}
	}
	for _, bad := range []string{"", "plain", "$1$md5crypt$x", "$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=18$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$2b$99$xx"} {
		if checkHash(bad) == nil {
			t.Errorf("checkHash(%q) accepted", bad)
		}
		if VerifyPassword(bad, "") {
			t.Errorf("VerifyPassword(%q) accepted", bad)
		}
	}
}

func TestVirtual(t *testing.T) {
	fs := newLocal(t)
	hash, _ := HashPassword("pw2")
	v := &Virtual{}
	if err := v.AddUser("plain", Account{Password: "pw1", FS: fs, Perm: pier.AllPerms, LoginMessage: "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := v.AddUser("hashed", Account{PasswordHash: hash, FS: fs}); err != nil {
		t.Fatal(err)
	}
	if err := v.AddAnonymous(Account{FS: fs}); err != nil {
		t.Fatal(err)
	}
	errs := map[string]Account{
		"dup":     {FS: fs},
		"nofs":    {},
		"badperm": {FS: fs, Perm: "elrX"},
		"badhash": {FS: fs, PasswordHash: "nope"},
		// The anonymous account takes any password: AddUser under its
		// name would hand out a password that nothing checks.
		AnonymousName: {FS: fs, Password: "secret"},
	}
	v.AddUser("dup", Account{FS: fs})
	for name, a := range errs {
		if err := v.AddUser(name, a); err == nil {
			t.Errorf("AddUser(%q) accepted", name)
		}
	}
	ctx := context.Background()
	cases := []struct {
		user, pass string
		ok         bool
		perm       pier.Perm
	}{
		{"plain", "pw1", true, pier.AllPerms},
		{"plain", "pw2", false, ""},
		{"hashed", "pw2", true, pier.ReadPerms},
		{"hashed", "pw1", false, ""},
		{"anonymous", "anything@", true, pier.ReadPerms},
		{"anonymous", "", true, pier.ReadPerms},
		{"Anonymous", "", false, ""}, // names are case-sensitive
		{"nobody", "pw1", false, ""},
	}
	for _, c := range cases {
		u, err := v.Authenticate(ctx, pier.ConnInfo{}, c.user, c.pass)
		if c.ok != (err == nil) {
			t.Errorf("%s/%s: err %v", c.user, c.pass, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, pier.ErrAuthFailed) {
				t.Errorf("%s: error %v does not wrap ErrAuthFailed", c.user, err)
			}
			continue
		}
		if u.Name != c.user || u.Perm != c.perm || u.FS == nil {
			t.Errorf("%s: user %+v", c.user, u)
		}
	}
	v.RemoveUser("plain")
	if _, err := v.Authenticate(ctx, pier.ConnInfo{}, "plain", "pw1"); err == nil {
		t.Error("removed user still logs in")
	}
	if perm, ok := v.Anonymous(); !ok || perm != pier.ReadPerms {
		t.Errorf("Anonymous() = %q, %v", perm, ok)
	}
}

// TestVirtualDecoy: a name that does not exist costs a password hash
// check too, when some user has a hash, so the time of a failed login does
// not tell whether the name exists (docs/security.md).
func TestVirtualDecoy(t *testing.T) {
	var calls int
	old := decoyCheck
	decoyCheck = func(hash, pass string) bool { calls++; return old(hash, pass) }
	defer func() { decoyCheck = old }()
	fs := newLocal(t)
	v := &Virtual{}
	if err := v.AddUser("plain", Account{Password: "pw", FS: fs}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Authenticate(ctx, pier.ConnInfo{}, "nobody", "x"); err == nil || calls != 0 {
		t.Fatalf("plain-text users only: err %v, %d hash checks (want none: comparing is instant)", err, calls)
	}
	hash, _ := HashPassword("pw2")
	if err := v.AddUser("hashed", Account{PasswordHash: hash, FS: fs}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Authenticate(ctx, pier.ConnInfo{}, "nobody", "pw2"); err == nil || calls != 1 {
		t.Fatalf("unknown name: err %v, %d hash checks, want 1", err, calls)
	}
	if _, err := v.Authenticate(ctx, pier.ConnInfo{}, "hashed", "pw2"); err != nil || calls != 1 {
		t.Fatalf("known name: err %v, %d decoy checks, want still 1", err, calls)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "shared"), 0o755)
	hash, _ := HashPassword("s3cret")
	bc, _ := HashPasswordBcrypt("b0b")
	write := func(content string) string {
		p := filepath.Join(dir, "users")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	open := func(home string) (pier.FileSystem, error) { return local.New(home) }

	good := write("# users\n\nalice:" + hash + ":elradfmwMT:" + dir + "\nbob:" + bc + ":elr:shared\nanonymous::elr:shared\n")
	v, err := LoadFile(good, open)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if u, err := v.Authenticate(ctx, pier.ConnInfo{}, "alice", "s3cret"); err != nil || u.Perm != pier.AllPerms {
		t.Errorf("alice: %v %v", u, err)
	}
	if _, err := v.Authenticate(ctx, pier.ConnInfo{}, "bob", "b0b"); err != nil {
		t.Errorf("bob: %v", err)
	}
	if _, err := v.Authenticate(ctx, pier.ConnInfo{}, "anonymous", "x"); err != nil {
		t.Errorf("anonymous: %v", err)
	}

	bad := []struct{ content, want string }{
		{"alice:" + hash + ":elr\n", "users:1: want name"},
		{"\nalice:plaintext:elr:" + dir + "\n", "users:2: user \"alice\": "},
		{"alice:" + hash + ":elrZ:" + dir + "\n", "no such permission"},
		{"alice:" + hash + ":elr:" + filepath.Join(dir, "missing") + "\n", "users:1"},
		{"anonymous:" + hash + ":elr:" + dir + "\n", "takes no password"},
		{"alice:" + hash + ":elr:\n", "has no home"},
		{":" + hash + ":elr:" + dir + "\n", "empty user name"},
		{"alice:" + hash + ":elr:" + dir + "\nalice:" + hash + ":elr:" + dir + "\n", "already exists"},
	}
	for _, b := range bad {
		_, err := LoadFile(write(b.content), open)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q: err %v, want %q", b.content, err, b.want)
		}
	}
	if _, err := LoadFile(filepath.Join(dir, "nope"), open); err == nil {
		t.Error("missing file accepted")
	}

	// A byte-order mark (Notepad) is not part of the first name, and one
	// home written two ways is one file system.
	opened := 0
	counting := func(home string) (pier.FileSystem, error) { opened++; return local.New(home) }
	shared := filepath.Join(dir, "shared")
	v, err = LoadFile(write("\uFEFFalice:"+hash+":elr:"+shared+"/\nbob:"+bc+":elr:"+shared+"\n"), counting)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Authenticate(ctx, pier.ConnInfo{}, "alice", "s3cret"); err != nil {
		t.Errorf("alice after a byte-order mark: %v", err)
	}
	if opened != 1 {
		t.Errorf("%s/ and %s opened %d file systems, want 1", shared, shared, opened)
	}
}

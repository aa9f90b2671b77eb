package pier_test

// Per-path permission overrides across every command.

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
)

// TestOverridesEverywhere: per-path overrides hold for STOU, MFMT, SIZE,
// MDTM and custom commands too.
func TestOverridesEverywhere(t *testing.T) {
	srv := newServer(t, nil)
	mkdirs(t, srv, "ro", "incoming", "secret")
	writeFile(t, srv, "ro/keep", []byte("keep"))
	writeFile(t, srv, "secret/payroll", []byte("12345"))
	if err := srv.Users.AddUser("o", auth.Account{Password: "o", FS: srv.Root, Perm: "elr", Overrides: []pier.PermOverride{
		{Dir: "/incoming", Perm: pier.AllPerms, Recursive: true},
		{Dir: "/secret", Perm: "e", Recursive: true},
	}}); err != nil {
		t.Fatal(err)
	}
	srv.HandleCommand(pier.Command{Name: "XDEL", NeedsLogin: true, Perm: "d", Handler: func(s *pier.Session, _ *pier.Request) error { s.Reply(250, "Deleted."); return nil }})
	c := srv.Dial(t)
	c.Login(t, "o", "o")
	c.Passive(t)
	c.Expect(t, "STOU /ro/evil", 550)
	c.Passive(t)
	c.Expect(t, "STOU", 550) // in "/", read-only
	c.Expect(t, "MFMT 20000101000000 /ro/keep", 550)
	c.Expect(t, "SIZE /secret/payroll", 550)
	c.Expect(t, "MDTM /secret/payroll", 550)
	c.Expect(t, "XDEL", 550) // 'd' only under /incoming
	c.Expect(t, "CWD /incoming", 250)
	c.Expect(t, "XDEL", 250)
	c.Store(t, "STOU", []byte("ok")) // allowed here
	entries, _ := os.ReadDir(filepath.Join(srv.Dir, "ro"))
	if len(entries) != 1 {
		t.Fatalf("files appeared in /ro: %v", entries)
	}
}

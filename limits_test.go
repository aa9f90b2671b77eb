package pier_test

import (
	"io"
	"strings"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

// TestSetLimits: a running server takes new limits for new connections;
// the sessions already there go on; a bad value changes nothing.
func TestSetLimits(t *testing.T) {
	srv := newServer(t, func(s *pier.Server) { s.MaxConnections = 5 })
	if got := srv.Limits().MaxConnections; got != 5 {
		t.Fatalf("Limits().MaxConnections = %d", got)
	}
	first := login(t, srv)
	l := srv.Limits()
	l.MaxConnections = 1
	if err := srv.SetLimits(l); err != nil {
		t.Fatal(err)
	}
	c := srv.DialRaw(t)
	if text := c.ExpectReply(t, 421); !strings.Contains(text, "Too many connections") {
		t.Errorf("421 %q", text)
	}
	first.Expect(t, "NOOP", 200) // not closed by the lower limit
	if srv.MaxConnections != 5 {
		t.Error("SetLimits changed the Server's field")
	}

	bad := l
	bad.TotalReadLimit = -1
	bad.MaxConnections = 10
	if err := srv.SetLimits(bad); err == nil || !strings.Contains(err.Error(), "TotalReadLimit") {
		t.Errorf("SetLimits(negative rate) = %v", err)
	}
	if srv.Limits().MaxConnections != 1 {
		t.Error("a refused SetLimits changed the limits")
	}

	// A server-wide rate set while running applies to the next transfer,
	// and changing it again keeps transfers working (the burst never
	// shrinks under a transfer's chunks).
	l.MaxConnections = 0
	l.TotalWriteLimit = 10 << 20
	if err := srv.SetLimits(l); err != nil {
		t.Fatal(err)
	}
	writeFile(t, srv, "f.bin", pattern(200<<10))
	if got := first.Retrieve(t, "RETR f.bin"); len(got) != 200<<10 {
		t.Fatalf("RETR: %d bytes", len(got))
	}
	l.TotalWriteLimit = 64 << 10 // a smaller burst
	if err := srv.SetLimits(l); err != nil {
		t.Fatal(err)
	}
	writeFile(t, srv, "g.bin", pattern(100<<10))
	if got := first.Retrieve(t, "RETR g.bin"); len(got) != 100<<10 {
		t.Fatalf("RETR: %d bytes", len(got))
	}
}

// TestSetAuth: new logins use the new authenticator; a session logged in
// keeps its user.
func TestSetAuth(t *testing.T) {
	srv := newServer(t, nil)
	old := login(t, srv)
	users := &auth.Virtual{}
	if err := users.AddUser("carol", auth.Account{Password: "pw", FS: srv.Root, Perm: pier.ReadPerms}); err != nil {
		t.Fatal(err)
	}
	srv.SetAuth(users)
	c := srv.Dial(t)
	c.Expect(t, "USER "+ftptest.User, 331)
	c.Expect(t, "PASS "+ftptest.Password, 530)
	c.Login(t, "carol", "pw")
	c.Expect(t, "STOR x", 550) // carol may only read
	old.Store(t, "STOR y", []byte("still the old user's rights"))
	if srv.Auth != pier.Authenticator(srv.Users) {
		t.Error("SetAuth changed Server.Auth")
	}
}

// TestSetLimitsRemovesRate: removing the server-wide rate frees a
// transfer it was holding (at 64 KiB/s, 16 MiB would take minutes).
func TestSetLimitsRemovesRate(t *testing.T) {
	srv := newServer(t, func(s *pier.Server) { s.TotalWriteLimit = 64 << 10 })
	writeFile(t, srv, "big.bin", pattern(16<<20))
	c := login(t, srv)
	dc := c.Passive(t)
	c.Expect(t, "RETR big.bin", 150)
	head := make([]byte, 32<<10)
	if _, err := io.ReadFull(dc, head); err != nil {
		t.Fatal(err)
	}
	l := srv.Limits()
	l.TotalWriteLimit = 0
	if err := srv.SetLimits(l); err != nil {
		t.Fatal(err)
	}
	rest := readAll(t, dc)
	if got := len(head) + len(rest); got != 16<<20 {
		t.Fatalf("RETR: %d bytes", got)
	}
	c.ExpectReply(t, 226)
}

package pier_test

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
)

// waitFor polls cond until it holds, failing the test after ioDeadline
// (a hang guard, not a timing threshold).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(ioDeadline); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sessionOf returns the status of the session logged in as user, if any.
func sessionOf(srv *ftptest.Server, user string) (pier.SessionStatus, bool) {
	for _, st := range srv.Sessions() {
		if st.User == user {
			return st, true
		}
	}
	return pier.SessionStatus{}, false
}

// TestSessionsAndEndSession: Sessions shows who is connected, their last
// command (never PASS's argument) and their running upload's bytes;
// EndSession cuts the upload (the hooks learn ErrSessionEnded), sends
// 426 then 421, and runs Logout and Disconnect.
func TestSessionsAndEndSession(t *testing.T) {
	var mu sync.Mutex
	var events []string
	var uploadErr error
	srv := newServer(t, func(s *pier.Server) {
		s.Hooks.IncompleteFileReceived = func(_ *pier.Session, ti pier.TransferInfo) {
			mu.Lock()
			uploadErr = ti.Err
			events = append(events, "incomplete")
			mu.Unlock()
		}
		s.Hooks.Logout = func(*pier.Session) { mu.Lock(); events = append(events, "logout"); mu.Unlock() }
		s.Hooks.Disconnect = func(*pier.Session) { mu.Lock(); events = append(events, "disconnect"); mu.Unlock() }
	})
	idle := srv.Dial(t)
	idle.Expect(t, "USER anonymous", 331)
	idle.Expect(t, "PASS guest@example.com", 230)

	up := login(t, srv)
	dc := up.Passive(t)
	up.Expect(t, "STOR part.bin", 150)
	if _, err := dc.Write(pattern(3000)); err != nil {
		t.Fatal(err)
	}
	var st pier.SessionStatus
	waitFor(t, "the upload's bytes in Sessions", func() bool {
		var ok bool
		st, ok = sessionOf(srv, ftptest.User)
		return ok && st.Transfer != nil && st.Transfer.Bytes == 3000
	})
	if x := st.Transfer; x.Command != "STOR" || x.Path != "/part.bin" || !x.Upload || x.Size != -1 || x.Offset != 0 {
		t.Errorf("transfer = %+v", *x)
	}
	if st.Command != "STOR" || st.Arg != "part.bin" || st.TLS || !st.RemoteAddr.Addr().IsLoopback() || st.Since.IsZero() {
		t.Errorf("session = %+v", st)
	}
	anon, ok := sessionOf(srv, "anonymous")
	if !ok || anon.Command != "PASS" || anon.Arg != "" || anon.Transfer != nil {
		t.Errorf("idle session = %+v (found %v): PASS's argument must never show", anon, ok)
	}
	if all := srv.Sessions(); len(all) != 2 || all[0].ID >= all[1].ID {
		t.Errorf("Sessions = %+v, want both, in the order they connected", all)
	}

	if !srv.EndSession(st.ID) {
		t.Fatal("EndSession: not found")
	}
	up.ExpectReply(t, 426)
	if text := up.ExpectReply(t, 421); text != "Session ended by the administrator." {
		t.Errorf("421 %q", text)
	}
	dc.Close()
	expectClosed(t, up)
	waitFor(t, "the hooks", func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 3 })
	mu.Lock()
	if strings.Join(events, ",") != "incomplete,logout,disconnect" || !errors.Is(uploadErr, pier.ErrSessionEnded) {
		t.Errorf("events %v, upload err %v", events, uploadErr)
	}
	mu.Unlock()
	if srv.EndSession(st.ID) {
		t.Error("EndSession of an ended session: true")
	}
	// The other session goes on.
	idle.Expect(t, "NOOP", 200)
	waitFor(t, "one session left", func() bool { return len(srv.Sessions()) == 1 })
}

// TestBans: Ban refuses an address before the banner, Bans lists it,
// Unban lifts it.
func TestBans(t *testing.T) {
	srv := newServer(t, func(s *pier.Server) { s.BanAfter = -1 }) // manual bans work even so
	if len(srv.Bans()) != 0 {
		t.Fatalf("Bans = %v", srv.Bans())
	}
	lo := netip.MustParseAddr("127.0.0.1")
	b := srv.Ban(lo, time.Hour)
	if b.Prefix != netip.MustParsePrefix("127.0.0.1/32") || time.Until(b.Until) < 59*time.Minute {
		t.Errorf("Ban = %+v", b)
	}
	srv.Ban(netip.MustParseAddr("2001:db8::1"), 0)
	bans := srv.Bans()
	if len(bans) != 2 || bans[0].Prefix != netip.MustParsePrefix("2001:db8::/64") || bans[1].Prefix != b.Prefix {
		t.Errorf("Bans = %+v, want the /64 (BanTime, sooner) then 127.0.0.1", bans)
	}
	c := srv.DialRaw(t)
	if text := c.ExpectReply(t, 421); text != "Connections from your address are refused; try again later." {
		t.Errorf("421 %q: a ban by hand is not one for failed logins", text)
	}
	expectClosed(t, c)
	if !srv.Unban(lo) || srv.Unban(lo) {
		t.Error("Unban: want true once, then false")
	}
	login(t, srv).Expect(t, "NOOP", 200)
	if len(srv.Bans()) != 1 {
		t.Errorf("Bans = %v", srv.Bans())
	}
}

// TestStats counts ended and running file transfers, not listings.
func TestStats(t *testing.T) {
	srv := newServer(t, nil)
	writeFile(t, srv, "f.bin", pattern(5000))
	c := login(t, srv)
	if got := c.Retrieve(t, "RETR f.bin"); len(got) != 5000 {
		t.Fatalf("RETR: %d bytes", len(got))
	}
	c.Store(t, "STOR g.bin", pattern(700))
	c.Retrieve(t, "LIST")
	st := srv.Stats()
	if st.BytesSent != 5000 || st.BytesReceived != 700 || st.Downloads != 1 || st.Uploads != 1 || st.Sessions != 1 || st.LoggedIn != 1 {
		t.Errorf("Stats = %+v", st)
	}
	dc := c.Passive(t)
	c.Expect(t, "STOR h.bin", 150)
	dc.Write(pattern(300))
	waitFor(t, "a running upload in Stats", func() bool { return srv.Stats().BytesReceived == 1000 })
	dc.Close()
	c.ExpectReply(t, 226)
	if st := srv.Stats(); st.BytesReceived != 1000 || st.Uploads != 2 {
		t.Errorf("Stats = %+v", st)
	}
}

package admin_test

import (
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/admin"
	"github.com/pierftp/pier/ftptest"
)

const token = "s3cret-admin-token"

// TestLoopbackReadOnly: with LoopbackRead and no token, a loopback client
// reads everything without credentials, and every action gets 401 with
// WWW-Authenticate and changes nothing.
func TestLoopbackReadOnly(t *testing.T) {
	f := setup(t, func(o *admin.Options) { o.LoopbackRead = true }, nil)
	c := f.ftp.Dial(t)
	c.Login(t, ftptest.User, ftptest.Password)

	st := f.status(t, "")
	s := sessionOf(st, ftptest.User)
	if s == nil {
		t.Fatalf("status lacks the session of %s: %+v", ftptest.User, st.Sessions)
	}
	if st.CanAct || st.Who != "" {
		t.Errorf("can_act %v, who %q without credentials", st.CanAct, st.Who)
	}
	f.do(t, "GET", "/api/sessions", "", "", http.StatusOK)
	f.do(t, "GET", "/api/bans", "", "", http.StatusOK)
	// A token where none is set is a mistake, and said so.
	expectError(t, f.do(t, "GET", "/api/status", "stale", "", http.StatusUnauthorized), "no token is set")

	id := strconv.FormatUint(s.ID, 10)
	for _, a := range []struct{ method, path, body string }{
		{"DELETE", "/api/sessions/" + id, ""},
		{"POST", "/api/bans", `{"address": "192.0.2.7"}`},
		{"DELETE", "/api/bans/192.0.2.7", ""},
		{"POST", "/api/reload", ""},
	} {
		t.Run(a.method+" "+a.path, func(t *testing.T) {
			code, hdr, data := call(t, f.http.Client(), a.method, f.http.URL+a.path, "", a.body)
			if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("status %d, WWW-Authenticate %q: %s", code, hdr.Get("WWW-Authenticate"), data)
			}
			expectError(t, data, "token")
		})
	}
	c.Expect(t, "NOOP", 200) // still connected
	if bans := f.ftp.Bans(); len(bans) != 0 {
		t.Errorf("bans %v after refused actions", bans)
	}
	if !strings.Contains(f.log.String(), "outcome=\"refused: a bearer token or a client certificate is needed\"") {
		t.Errorf("the refused actions are not logged:\n%s", f.log)
	}
}

// TestTokenRequired: with a token, reading needs it too (even on
// loopback with LoopbackRead); a wrong or missing token gets 401 and
// changes nothing; the token never reaches the log.
func TestTokenRequired(t *testing.T) {
	f := setup(t, func(o *admin.Options) { o.Token, o.LoopbackRead = token, true }, nil)
	c := f.ftp.Dial(t)
	c.Login(t, ftptest.User, ftptest.Password)
	var id uint64
	waitFor(t, "the session", func() bool {
		s := sessionOf(f.status(t, token), ftptest.User)
		if s != nil {
			id = s.ID
		}
		return s != nil
	})
	path := "/api/sessions/" + strconv.FormatUint(id, 10)
	for _, tc := range []struct {
		name, method, path, auth, body string
	}{
		{"status without token", "GET", "/api/status", "", ""},
		{"status wrong token", "GET", "/api/status", "Bearer nope", ""},
		{"status wrong scheme", "GET", "/api/status", "Basic " + token, ""},
		{"end session without token", "DELETE", path, "", ""},
		{"end session wrong token", "DELETE", path, "Bearer " + token + "x", ""},
		{"ban wrong token", "POST", "/api/bans", "Bearer x", `{"address": "192.0.2.9"}`},
		{"reload wrong token", "POST", "/api/reload", "Bearer x", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, f.http.URL+tc.path, strings.NewReader(tc.body))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := f.http.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	c.Expect(t, "NOOP", 200)
	if bans := f.ftp.Bans(); len(bans) != 0 {
		t.Errorf("bans %v after refused actions", bans)
	}
	st := f.status(t, token)
	if !st.CanAct || st.Who != "token" {
		t.Errorf("can_act %v, who %q with the token", st.CanAct, st.Who)
	}
	// The page itself needs nothing.
	for _, p := range []string{"/", "/static/app.js", "/static/style.css"} {
		f.do(t, "GET", p, "", "", http.StatusOK)
	}
	f.do(t, "DELETE", path, token, "", http.StatusAccepted)
	if strings.Contains(f.log.String(), token) {
		t.Errorf("the token is in the log:\n%s", f.log)
	}
}

// TestActions: every action with the token, and its errors.
func TestActions(t *testing.T) {
	reloads := 0
	var reloadErr error
	f := setup(t, func(o *admin.Options) {
		o.Token = token
		o.Reload = func() error { reloads++; return reloadErr }
	}, func(s *ftptest.Server) { s.BanTime = time.Hour })

	t.Run("end session", func(t *testing.T) {
		c := f.ftp.Dial(t)
		c.Login(t, ftptest.User, ftptest.Password)
		s := sessionOf(f.status(t, token), ftptest.User)
		if s == nil {
			t.Fatal("no session")
		}
		f.do(t, "DELETE", "/api/sessions/"+strconv.FormatUint(s.ID, 10), token, "", http.StatusAccepted)
		if text := c.ExpectReply(t, 421); !strings.Contains(text, "administrator") {
			t.Errorf("421 %q", text)
		}
		waitFor(t, "the session to end", func() bool { return len(f.ftp.Sessions()) == 0 })
		expectError(t, f.do(t, "DELETE", "/api/sessions/"+strconv.FormatUint(s.ID, 10), token, "", http.StatusNotFound), "no session")
	})
	t.Run("end session bad id", func(t *testing.T) {
		expectError(t, f.do(t, "DELETE", "/api/sessions/abc", token, "", http.StatusBadRequest), "not a number")
	})
	t.Run("ban, list, refuse, unban", func(t *testing.T) {
		var b admin.Ban
		decode(t, f.do(t, "POST", "/api/bans", token, `{"address": "127.0.0.1", "duration": "90s"}`, http.StatusCreated), &b)
		if b.Prefix != "127.0.0.1" || time.Until(b.Until) > 90*time.Second || time.Until(b.Until) <= 0 {
			t.Errorf("ban %+v", b)
		}
		var bans []admin.Ban
		decode(t, f.do(t, "GET", "/api/bans", token, "", http.StatusOK), &bans)
		if len(bans) != 1 || bans[0].Prefix != "127.0.0.1" {
			t.Errorf("bans %+v", bans)
		}
		c := f.ftp.DialRaw(t)
		if code, _, _ := c.ReadReply(); code != 421 {
			t.Errorf("a banned client got %d, want 421", code)
		}
		f.do(t, "DELETE", "/api/bans/127.0.0.1", token, "", http.StatusOK)
		f.ftp.Dial(t) // 220 again
		expectError(t, f.do(t, "DELETE", "/api/bans/127.0.0.1", token, "", http.StatusNotFound), "not banned")
	})
	t.Run("ban IPv6 with default duration, unban by prefix", func(t *testing.T) {
		var b admin.Ban
		decode(t, f.do(t, "POST", "/api/bans", token, `{"address": "2001:db8::7"}`, http.StatusCreated), &b)
		if b.Prefix != "2001:db8::/64" || time.Until(b.Until) < 59*time.Minute {
			t.Errorf("ban %+v, want 2001:db8::/64 for the server's hour", b)
		}
		f.do(t, "DELETE", "/api/bans/2001:db8::/64", token, "", http.StatusOK)
		if len(f.ftp.Bans()) != 0 {
			t.Errorf("bans %v", f.ftp.Bans())
		}
	})
	for _, tc := range []struct{ name, body, want string }{
		{"ban bad address", `{"address": "example.com"}`, "address"},
		{"ban no address", `{}`, "address"},
		{"ban bad duration", `{"address": "192.0.2.1", "duration": "soon"}`, "duration"},
		{"ban negative duration", `{"address": "192.0.2.1", "duration": "-1h"}`, "duration"},
		{"ban unknown field", `{"address": "192.0.2.1", "for": "1h"}`, "body"},
		{"ban not JSON", `ban 192.0.2.1`, "body"},
		{"ban a wide IPv4 prefix", `{"address": "10.0.0.0/8"}`, "one IPv4 address"},
		{"ban a wide IPv6 prefix", `{"address": "2001:db8::/32"}`, "IPv6 /64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectError(t, f.do(t, "POST", "/api/bans", token, tc.body, http.StatusBadRequest), tc.want)
			if len(f.ftp.Bans()) != 0 {
				t.Errorf("bans %v", f.ftp.Bans())
			}
		})
	}
	t.Run("unban bad address", func(t *testing.T) {
		expectError(t, f.do(t, "DELETE", "/api/bans/nowhere", token, "", http.StatusBadRequest), "address")
	})
	t.Run("reload", func(t *testing.T) {
		f.do(t, "POST", "/api/reload", token, "", http.StatusOK)
		reloadErr = errors.New("users file: line 3: bad hash")
		expectError(t, f.do(t, "POST", "/api/reload", token, "", http.StatusInternalServerError), "line 3")
		reloadErr = errors.ErrUnsupported
		f.do(t, "POST", "/api/reload", token, "", http.StatusNotImplemented)
		if reloads != 3 {
			t.Errorf("Reload called %d times, want 3", reloads)
		}
	})
	t.Run("wrong method and route", func(t *testing.T) {
		code, hdr, data := call(t, f.http.Client(), "PUT", f.http.URL+"/api/bans", token, "")
		if code != http.StatusMethodNotAllowed || !strings.Contains(hdr.Get("Allow"), "POST") {
			t.Errorf("PUT /api/bans: %d, Allow %q", code, hdr.Get("Allow"))
		}
		expectError(t, data, "not allowed")
		expectError(t, f.do(t, "GET", "/api/nothing", token, "", http.StatusNotFound), "no such route")
		f.do(t, "GET", "/metrics", token, "", http.StatusNotFound) // no Metrics
	})
	t.Run("cross-origin action", func(t *testing.T) {
		req, _ := http.NewRequest("POST", f.http.URL+"/api/reload", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := f.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("status %d, want 403", resp.StatusCode)
		}
	})
	log := f.log.String()
	for _, want := range []string{`action="end session"`, `action=ban target="127.0.0.1 until`, "action=unban target=127.0.0.1 outcome=ok", `action=reload target="" outcome=ok`, "who=token", "client=127.0.0.1:"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(log, token) || t.Failed() {
		t.Errorf("log (the token must not be there):\n%s", log)
	}
}

// TestReloadUnset: without Options.Reload, POST /api/reload is 501.
func TestReloadUnset(t *testing.T) {
	f := setup(t, func(o *admin.Options) { o.Token = token }, nil)
	expectError(t, f.do(t, "POST", "/api/reload", token, "", http.StatusNotImplemented), "not available")
	if f.status(t, token).CanReload {
		t.Error("can_reload without Reload")
	}
}

// TestStatusDocument: ended transfers, complete or not, and totals show in
// the status; the sampler fills the throughput series.
func TestStatusDocument(t *testing.T) {
	f := setup(t, func(o *admin.Options) {
		o.Token = token
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector())
		o.Metrics = reg
	}, nil)
	c := f.ftp.Dial(t)
	c.Login(t, ftptest.User, ftptest.Password)
	data := []byte(strings.Repeat("pier ", 1000))
	c.Store(t, "STOR a.txt", data)
	if got := c.Retrieve(t, "RETR a.txt"); len(got) != len(data) {
		t.Fatalf("RETR: %d bytes", len(got))
	}
	var st admin.Status
	waitFor(t, "two recent transfers and a sample", func() bool {
		st = f.status(t, token)
		return len(st.Recent) == 2 && len(st.Throughput) > 0
	})
	down, up := st.Recent[0], st.Recent[1] // newest first
	if !up.Upload || up.Path != "/a.txt" || up.Bytes != int64(len(data)) || !up.Complete || up.User != ftptest.User || up.Command != "STOR" {
		t.Errorf("upload %+v", up)
	}
	if down.Upload || down.Bytes != int64(len(data)) || !down.Complete || down.Command != "RETR" {
		t.Errorf("download %+v", down)
	}
	tot := st.Totals
	if tot.Sessions != 1 || tot.LoggedIn != 1 || tot.Uploads != 1 || tot.Downloads != 1 || tot.BytesReceived != int64(len(data)) || tot.BytesSent != int64(len(data)) {
		t.Errorf("totals %+v", tot)
	}
	for _, s := range st.Throughput {
		if s.Received < 0 || s.Sent < 0 {
			t.Errorf("negative sample %+v", s)
		}
	}
	if body := f.do(t, "GET", "/metrics", token, "", http.StatusOK); !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("/metrics:\n%s", body)
	}
	f.do(t, "GET", "/metrics", "", "", http.StatusUnauthorized)
}

// TestEndSessionMidUpload: a session ended during an upload: its client
// gets 426 and then 421, the file is aborted with pier.ErrSessionEnded,
// the Logout and Disconnect hooks run, and the status shows the upload as
// incomplete.
func TestEndSessionMidUpload(t *testing.T) {
	logout, disconnect := make(chan string, 1), make(chan uint64, 1)
	f := setup(t, func(o *admin.Options) { o.Token = token }, func(s *ftptest.Server) {
		s.Hooks.Logout = func(s *pier.Session) { logout <- s.User().Name }
		s.Hooks.Disconnect = func(s *pier.Session) { disconnect <- s.ID() }
	})
	c := f.ftp.Dial(t)
	c.Login(t, "uploader", "pw")
	dc := c.Passive(t)
	c.Send(t, "STOR big.bin")
	c.ExpectReply(t, 150)
	chunk := make([]byte, 4096)
	if _, err := dc.Write(chunk); err != nil {
		t.Fatal(err)
	}
	var s *admin.Session
	waitFor(t, "the upload in the status", func() bool {
		s = sessionOf(f.status(t, token), "uploader")
		return s != nil && s.Transfer != nil && s.Transfer.Bytes > 0
	})
	if x := s.Transfer; !x.Upload || x.Path != "/big.bin" || x.Command != "STOR" || x.Size != -1 {
		t.Errorf("transfer %+v", x)
	}
	f.do(t, "DELETE", "/api/sessions/"+strconv.FormatUint(s.ID, 10), token, "", http.StatusAccepted)
	c.ExpectReply(t, 426)
	if text := c.ExpectReply(t, 421); text != "Session ended by the administrator." {
		t.Errorf("421 %q", text)
	}
	select {
	case reason := <-f.aborted:
		if !errors.Is(reason, pier.ErrSessionEnded) {
			t.Errorf("Abort(%v), want ErrSessionEnded", reason)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the upload was not aborted")
	}
	if got := <-logout; got != "uploader" {
		t.Errorf("Logout of %q", got)
	}
	if got := <-disconnect; got != s.ID {
		t.Errorf("Disconnect of %d, want %d", got, s.ID)
	}
	// The session leaves Server.Sessions only after its Disconnect hook
	// has returned (the session's end runs the hooks, then removes it):
	// wait for it, bounded.
	var st admin.Status
	waitFor(t, "the ended session to leave the status", func() bool {
		st = f.status(t, token)
		return len(st.Sessions) == 0
	})
	if len(st.Recent) != 1 || st.Recent[0].Complete || st.Recent[0].Why != pier.ErrSessionEnded.Error() || st.Recent[0].Bytes < int64(len(chunk)) {
		t.Errorf("recent %+v", st.Recent)
	}
}

// TestNew: a handler needs a server.
func TestNew(t *testing.T) {
	if _, err := admin.New(admin.Options{}); err == nil {
		t.Error("New without a Server: no error")
	}
	if _, err := admin.New(admin.Options{Server: &pier.Server{}, History: -1}); err == nil {
		t.Error("New with History -1: no error")
	}
}

// TestLoopbackReadNeedsLoopback: LoopbackRead lets in only requests that
// came in on a loopback address, for a loopback host name: not those a
// page elsewhere makes a browser send to 127.0.0.1 under its own name
// (DNS rebinding).
func TestLoopbackReadNeedsLoopback(t *testing.T) {
	h, err := admin.New(admin.Options{Server: &pier.Server{}, LoopbackRead: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		local, host string
		want        int
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080", 200},
		{"127.0.0.1:8080", "localhost:8080", 200},
		{"127.0.0.1:8080", "LOCALHOST", 200},
		{"[::1]:8080", "[::1]:8080", 200},
		{"192.0.2.1:8080", "192.0.2.1:8080", 401},
		{"[2001:db8::1]:8080", "[2001:db8::1]:8080", 401},
		{"127.0.0.1:8080", "rebound.example:8080", 401},
		{"127.0.0.1:8080", "127.0.0.1.nip.example", 401},
	} {
		t.Run(tc.local+" "+tc.host, func(t *testing.T) {
			req := httptestRequest("GET", "/api/sessions", netip.MustParseAddrPort(tc.local))
			req.Host = tc.host
			rec := newRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d", rec.Code, tc.want)
			}
		})
	}
}

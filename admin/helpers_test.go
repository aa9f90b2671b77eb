package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/admin"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

// fixture is a pier server on a loopback port with the admin handler in
// front of it, served by httptest on 127.0.0.1.
type fixture struct {
	ftp     *ftptest.Server
	handler *admin.Handler
	http    *httptest.Server
	log     *syncBuffer
	// aborted gets the reason of every Abort of the "uploader" account's
	// files.
	aborted chan error
}

// setup starts the fixture; opts shapes the handler's options (Server and
// Logger are set), configure the FTP server before it starts.
func setup(t *testing.T, opts func(*admin.Options), configure func(*ftptest.Server)) *fixture {
	t.Helper()
	f := &fixture{log: &syncBuffer{}, aborted: make(chan error, 4)}
	f.ftp = ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
		if err := s.Users.AddUser("uploader", auth.Account{Password: "pw", FS: &abortFS{FileSystem: s.Root, aborted: f.aborted}, Perm: pier.AllPerms}); err != nil {
			t.Fatal(err)
		}
		if configure != nil {
			configure(s)
		}
		o := admin.Options{Server: s.Server, Logger: slog.New(slog.NewTextHandler(f.log, nil))}
		if opts != nil {
			opts(&o)
		}
		h, err := admin.New(o)
		if err != nil {
			t.Fatal(err)
		}
		f.handler = h
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.handler.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	f.http = httptest.NewServer(f.handler)
	t.Cleanup(f.http.Close)
	return f
}

// call sends a request with an optional bearer token and JSON body and
// returns the status, the headers and the body.
func call(t *testing.T, client *http.Client, method, url, token, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, data
}

// do is call on the fixture's own client and URL, failing unless the
// status is want; it returns the body.
func (f *fixture) do(t *testing.T, method, path, token, body string, want int) []byte {
	t.Helper()
	code, _, data := call(t, f.http.Client(), method, f.http.URL+path, token, body)
	if code != want {
		t.Fatalf("%s %s: status %d %s, want %d", method, path, code, data, want)
	}
	return data
}

// status reads /api/status.
func (f *fixture) status(t *testing.T, token string) admin.Status {
	t.Helper()
	var st admin.Status
	decode(t, f.do(t, "GET", "/api/status", token, "", http.StatusOK), &st)
	return st
}

func decode(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

// expectError checks an error reply's JSON body.
func expectError(t *testing.T, data []byte, substr string) {
	t.Helper()
	var e struct{ Error string }
	decode(t, data, &e)
	if !strings.Contains(e.Error, substr) {
		t.Errorf("error %q lacks %q", e.Error, substr)
	}
}

// waitFor polls cond every 10 ms for up to 20 s (a hang guard, not a
// timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// sessionOf finds the session of a user in a status.
func sessionOf(st admin.Status, user string) *admin.Session {
	for i := range st.Sessions {
		if st.Sessions[i].User == user {
			return &st.Sessions[i]
		}
	}
	return nil
}

// syncBuffer is a log buffer the server's goroutines may write at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// abortFS hands out files that implement pier.Aborter and report each
// Abort's reason on aborted.
type abortFS struct {
	pier.FileSystem
	aborted chan error
}

func (a *abortFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	f, err := a.FileSystem.OpenFile(ctx, name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return f, err
	}
	return &abortFile{File: f, aborted: a.aborted}, nil
}

type abortFile struct {
	pier.File
	aborted chan error
}

func (f *abortFile) Abort(reason error) error {
	f.aborted <- reason
	return f.File.Close()
}

// httptestRequest is a request that came in on the local address.
func httptestRequest(method, path string, local netip.AddrPort) *http.Request {
	req := httptest.NewRequest(method, path, nil)
	ctx := context.WithValue(req.Context(), http.LocalAddrContextKey, net.TCPAddrFromAddrPort(local))
	return req.WithContext(ctx)
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

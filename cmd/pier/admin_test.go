package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pierftp/pier/internal/testpki"
)

const adminToken = "daemon-admin-token-1234"

// writeToken writes a token file with the mode.
func writeToken(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(f, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return f
}

// TestAdminFlags: the --admin flags' mistakes stop pier with one line
// naming the flag, exit status 2.
func TestAdminFlags(t *testing.T) {
	dir := t.TempDir()
	good := writeToken(t, adminToken+"\n", 0o600)
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, testpki.NewCA("admin CA").PEM(), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"every interface without a token", []string{"--admin", ":9122"}, "--admin :9122 is not a loopback address: it needs --admin-token-file or --admin-client-ca"},
		{"public address without a token", []string{"--admin", "192.0.2.1:9122"}, "needs --admin-token-file or --admin-client-ca"},
		{"a host name without a token", []string{"--admin", "example.com:9122"}, "needs --admin-token-file"},
		{"no port", []string{"--admin", "9122"}, `--admin "9122": want HOST:PORT`},
		{"bad port", []string{"--admin", "127.0.0.1:http"}, "--admin"},
		{"token without admin", []string{"--admin-token-file", good}, "--admin-token-file needs --admin"},
		{"client ca without admin", []string{"--admin-client-ca", ca}, "--admin-client-ca needs --admin"},
		{"missing token file", []string{"--admin", "127.0.0.1:0", "--admin-token-file", filepath.Join(dir, "none")}, "--admin-token-file: open"},
		{"token file others can read", []string{"--admin", "127.0.0.1:0", "--admin-token-file", writeToken(t, adminToken, 0o644)}, "others can read or change it (mode 0644): chmod 600 it"},
		{"token file the group can write", []string{"--admin", "127.0.0.1:0", "--admin-token-file", writeToken(t, adminToken, 0o620)}, "chmod 600"},
		{"empty token", []string{"--admin", "127.0.0.1:0", "--admin-token-file", writeToken(t, "  \nsecond line\n", 0o600)}, "the first line is empty"},
		{"token file a folder", []string{"--admin", "127.0.0.1:0", "--admin-token-file", dir}, "not a regular file"},
		{"client ca without a certificate", []string{"--admin", "127.0.0.1:0", "--admin-client-ca", ca}, "--admin-client-ca needs --certfile"},
		{"missing client ca", []string{"--admin", "127.0.0.1:0", "--tls-self-signed", "--admin-client-ca", filepath.Join(dir, "none.pem")}, "--admin-client-ca: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"-d", dir, "-p", "0"}, tc.args...)
			if code := run(args, &stdout, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			out := stderr.String()
			if !strings.HasPrefix(out, "pier: ") || strings.Count(out, "\n") != 1 || !strings.Contains(out, tc.want) {
				t.Errorf("stderr %q, want one line with %q", out, tc.want)
			}
		})
	}
}

// TestAdminConfigured: what configureAdmin accepts, and the token it
// reads (the first line, trimmed).
func TestAdminConfigured(t *testing.T) {
	tok := writeToken(t, "  "+adminToken+"  \nsecond line\n", 0o600)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"loopback without a token", []string{"--admin", "127.0.0.1:0"}},
		{"localhost", []string{"--admin", "localhost:0"}},
		{"ipv6 loopback", []string{"--admin", "[::1]:0"}},
		{"every interface with a token", []string{"--admin", ":0", "--admin-token-file", tok}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o options
			fs := newFlagSet(&o)
			if err := fs.Parse(append([]string{"-d", t.TempDir()}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := configure(&o, fs, io.Discard); err != nil {
				t.Fatal(err)
			}
			if o.admin.handler == nil {
				t.Fatal("no handler")
			}
		})
	}
	t.Run("config file", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "token"), []byte(adminToken), 0o600)
		conf := filepath.Join(dir, "pier.conf")
		os.WriteFile(conf, []byte("admin = 127.0.0.1:0\nadmin-token-file = token\ndirectory = .\n"), 0o600)
		var o options
		fs := newFlagSet(&o)
		if _, err := applyConfigFile(fs, conf); err != nil {
			t.Fatal(err)
		}
		if _, _, err := configure(&o, fs, io.Discard); err != nil {
			t.Fatal(err)
		}
		if o.admin.tokenFile != filepath.Join(dir, "token") || o.admin.handler == nil {
			t.Errorf("token file %q, handler %v", o.admin.tokenFile, o.admin.handler)
		}
	})
	got, err := readTokenFile(tok)
	if err != nil || got != adminToken {
		t.Errorf("readTokenFile: %q, %v; want %q", got, err, adminToken)
	}
}

// adminGet requests url with the token ("" for none) and returns the
// status and the body.
func adminCall(t *testing.T, client *http.Client, method, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// sessionID finds the first session of a user in /api/status's body.
func sessionID(t *testing.T, body, user string) string {
	t.Helper()
	var st struct {
		Sessions []struct {
			ID   uint64
			User string
		}
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status %s: %v", body, err)
	}
	for _, s := range st.Sessions {
		if s.User == user {
			return strconv.FormatUint(s.ID, 10)
		}
	}
	t.Fatalf("no session of %s in %s", user, body)
	return ""
}

// TestDaemonAdmin: pier --admin on a loopback address without a token:
// the page and /api/status are answered, actions are refused (read-only),
// and /metrics works without --metrics.
func TestDaemonAdmin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	port, aport := freePort(t), freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(aport)
	d, _ := startDaemon(t, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-d", t.TempDir(), "--admin", "127.0.0.1:"+strconv.Itoa(aport))
	if l := d.waitLog(t, "admin page listening"); !strings.Contains(l, base+"/") || !strings.Contains(l, "read_without_token=true") || !strings.Contains(l, "actions=false") {
		t.Errorf("log %q", l)
	}
	c := http.DefaultClient
	if code, body := adminCall(t, c, "GET", base+"/", ""); code != 200 || !strings.Contains(body, "<title>pier status</title>") {
		t.Errorf("GET /: %d\n%s", code, body)
	}
	ftp := loginAnonymous(t, port)
	code, body := adminCall(t, c, "GET", base+"/api/status", "")
	if code != 200 {
		t.Fatalf("GET /api/status: %d %s", code, body)
	}
	id := sessionID(t, body, "anonymous")
	if code, body := adminCall(t, c, "DELETE", base+"/api/sessions/"+id, ""); code != 401 {
		t.Errorf("DELETE without a token: %d %s", code, body)
	}
	ftp.expect("NOOP", "200")
	if code, body := adminCall(t, c, "GET", base+"/metrics", ""); code != 200 || !strings.Contains(body, "pier_sessions_logged_in 1\n") {
		t.Errorf("GET /metrics: %d\n%s", code, body)
	}
	d.stop(t)
}

// TestDaemonAdminToken: with --admin-token-file, reading and acting need
// the token; with it, a session is ended and the configuration reloaded;
// the log names the actions, never the token.
func TestDaemonAdminToken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	port, aport := freePort(t), freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(aport)
	tok := writeToken(t, adminToken+"\n", 0o600)
	d, _ := startDaemon(t, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-d", t.TempDir(), "--admin", "127.0.0.1:"+strconv.Itoa(aport), "--admin-token-file", tok)
	d.waitLog(t, "admin page listening")
	c := http.DefaultClient
	ftp := loginAnonymous(t, port)
	if code, _ := adminCall(t, c, "GET", base+"/api/status", ""); code != 401 {
		t.Errorf("GET /api/status without the token: %d", code)
	}
	if code, _ := adminCall(t, c, "GET", base+"/api/status", "wrong"); code != 401 {
		t.Errorf("GET /api/status with a wrong token: %d", code)
	}
	if code, _ := adminCall(t, c, "GET", base+"/", ""); code != 200 {
		t.Errorf("GET / without the token: %d", code)
	}
	code, body := adminCall(t, c, "GET", base+"/api/status", adminToken)
	if code != 200 {
		t.Fatalf("GET /api/status: %d %s", code, body)
	}
	id := sessionID(t, body, "anonymous")
	if code, body := adminCall(t, c, "POST", base+"/api/reload", adminToken); code != 200 {
		t.Errorf("POST /api/reload: %d %s", code, body)
	}
	if code, body := adminCall(t, c, "DELETE", base+"/api/sessions/"+id, adminToken); code != 202 {
		t.Errorf("DELETE /api/sessions/%s: %d %s", id, code, body)
	}
	ftp.expect("", "421")
	l := d.waitLog(t, `action="end session"`)
	if !strings.Contains(l, "who=token") || !strings.Contains(l, "outcome=ok") || strings.Contains(l, adminToken) {
		t.Errorf("log %q", l)
	}

	// A rotated token is in force from the next reload; a token file
	// others can read fails the reload and keeps the token.
	const rotated = "rotated-admin-token"
	os.WriteFile(tok, []byte(rotated+"\n"), 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(t, "reloaded the configuration")
	if code, _ := adminCall(t, c, "GET", base+"/api/status", adminToken); code != 401 {
		t.Errorf("the old token after the reload: %d", code)
	}
	if code, _ := adminCall(t, c, "GET", base+"/api/status", rotated); code != 200 {
		t.Errorf("the rotated token after the reload: %d", code)
	}
	os.WriteFile(tok, []byte("third\n"), 0o600)
	os.Chmod(tok, 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	if l := d.waitLog(t, "reload failed; keeping the settings in force"); !strings.Contains(l, "chmod 600") || strings.Contains(l, "third") {
		t.Errorf("failed reload %q", l)
	}
	if code, _ := adminCall(t, c, "GET", base+"/api/status", rotated); code != 200 {
		t.Errorf("the token in force after a failed reload: %d", code)
	}
	d.stop(t)
}

// TestDaemonAdminClientCert: --admin-client-ca serves HTTPS; a client
// certificate of that CA acts, none only gets the page.
func TestDaemonAdminClientCert(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	ca := testpki.NewCA("admin CA")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, ca.PEM(), 0o600)
	port, aport := freePort(t), freePort(t)
	base := "https://127.0.0.1:" + strconv.Itoa(aport)
	// An address other than loopback's would do too; this one is safe.
	d, _ := startDaemon(t, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-d", t.TempDir(), "--tls-self-signed", "--admin", "127.0.0.1:"+strconv.Itoa(aport), "--admin-client-ca", caFile)
	if l := d.waitLog(t, "admin page listening"); !strings.Contains(l, base+"/") {
		t.Errorf("log %q", l)
	}
	insecure := &tls.Config{InsecureSkipVerify: true} // the daemon's certificate is self-signed
	client := func(cfg *tls.Config) *http.Client {
		tr := &http.Transport{TLSClientConfig: cfg}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	withCert := client(testpki.ClientConfig(insecure, ca.Issue(testpki.Options{CommonName: "ops"})))
	without := client(insecure)
	if code, _ := adminCall(t, without, "GET", base+"/", ""); code != 200 {
		t.Errorf("GET / without a certificate: %d", code)
	}
	if code, _ := adminCall(t, without, "POST", base+"/api/bans", ""); code != 401 {
		t.Errorf("POST /api/bans without a certificate: %d", code)
	}
	ftp := loginAnonymous(t, port)
	code, body := adminCall(t, withCert, "GET", base+"/api/status", "")
	if code != 200 {
		t.Fatalf("GET /api/status: %d %s", code, body)
	}
	id := sessionID(t, body, "anonymous")
	if code, body := adminCall(t, withCert, "DELETE", base+"/api/sessions/"+id, ""); code != 202 {
		t.Errorf("DELETE with a certificate: %d %s", code, body)
	}
	ftp.expect("", "421")
	if l := d.waitLog(t, `action="end session"`); !strings.Contains(l, "who=cert:ops") {
		t.Errorf("log %q", l)
	}
	d.stop(t)
}

package pier_test

// Safe defaults against a hostile or careless client: passwords never
// logged, anonymous never gets SITE CHMOD.

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

// TestAnonymousNeverCHMOD: even with write permissions (pier -w),
// anonymous gets 550 for SITE CHMOD; a named user with the same letters
// may.
func TestAnonymousNeverCHMOD(t *testing.T) {
	t.Parallel()
	srv := ftptest.NewServer(t, &ftptest.Options{NoAnonymous: true})
	if err := srv.Users.AddAnonymous(auth.Account{FS: srv.Root, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, srv, "f", []byte("x"))
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	anon := loginAnon(t, srv)
	anon.Expect(t, "SITE CHMOD 777 f", 550)
	anon.Expect(t, "SITE CHMOD 600 /f", 550)
	anon.Store(t, "STOR up", []byte("anonymous may write")) // -w is in effect
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode after anonymous SITE CHMOD: %v %v", fi.Mode(), err)
	}
	login(t, srv).Expect(t, "SITE CHMOD 600 f", 200)
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode after the user's SITE CHMOD: %v %v", fi.Mode(), err)
	}
}

// TestPasswordsNeverLogged: at debug level every command is logged, but
// no password, right or wrong, reaches the log.
func TestPasswordsNeverLogged(t *testing.T) {
	t.Parallel()
	secret := func() string {
		b := make([]byte, 12)
		rand.Read(b)
		return hex.EncodeToString(b)
	}
	good, bad, anonPass := "good-"+secret(), "bad-"+secret(), "anon-"+secret()+"@example.com"
	var logBuf syncBuffer
	srv := newServer(t, func(s *pier.Server) {
		s.Logger = slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s.MaxLoginAttempts = 10
	})
	if err := srv.Users.AddUser("logtest", auth.Account{Password: good, FS: srv.Root, Perm: pier.ReadPerms}); err != nil {
		t.Fatal(err)
	}
	c := srv.Dial(t)
	runSteps(t, c, []step{
		{"USER logtest", 331, ""},
		{"PASS " + bad, 530, ""},
		{"USER logtest", 331, ""},
		{"pass " + bad + " with spaces", 530, ""},
		{"USER nosuchuser", 331, ""},
		{"Pass " + bad, 530, ""},
		{" PASS " + bad, 500, ""}, // not a command, but logged: masked too
		{"\xff\xf4PASS " + bad, 500, ""},
		{"\xff\xf4\xff\xf2PASS " + bad, 500, ""},
		{"        PASS " + bad, 500, ""},
		{"USER logtest", 331, ""},
		{"PASS " + good, 230, ""},
		{"PWD", 257, ""},
		{"USER anonymous", 331, ""},
		{"PASS " + anonPass, 230, ""},
		{"QUIT", 221, ""},
	})
	expectClosed(t, c)
	eventually(t, "the session's end logged", func() bool { return strings.Contains(logBuf.String(), "FTP session closed") })
	log := logBuf.String()
	if !strings.Contains(log, "PASS ******") {
		t.Fatalf("debug logging did not run:\n%s", log)
	}
	for _, pw := range []string{good, bad, anonPass} {
		if strings.Contains(log, pw) {
			t.Errorf("password %q found in the log:\n%s", pw, log)
		}
	}
}

// TestPassWithTabNotLogged: a PASS line the parser can't split must not
// show the password in the debug log or the reply.
func TestPassWithTabNotLogged(t *testing.T) {
	var buf syncBuffer
	srv := newServer(t, func(s *pier.Server) {
		s.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c := srv.Dial(t)
	c.Expect(t, "USER user", 331)
	code, text := c.Cmd(t, "PASS\tsup3rsecret")
	if code != 500 || strings.Contains(text, "sup3rsecret") || strings.Contains(strings.ToLower(text), "sup3rsecret") {
		t.Fatalf("reply %d %q", code, text)
	}
	c.Expect(t, "QUIT", 221)
	if strings.Contains(strings.ToLower(buf.String()), "sup3rsecret") {
		t.Fatal("password in the debug log")
	}
}

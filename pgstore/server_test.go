package pgstore_test

import (
	"bytes"
	"errors"
	"io"
	"net/textproto"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/local"
	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/internal/pgtest"
	"github.com/pierftp/pier/pgstore"
)

// serve starts a pier server whose accounts are in the database at url,
// with a writer and a reader sharing one home folder, and BanAfter 1 so
// that a single counted failure shows.
func serve(t *testing.T, url string) *ftptest.Server {
	t.Helper()
	srv, _ := serveStore(t, url)
	return srv
}

// serveStore is serve, with the Store.
func serveStore(t *testing.T, url string) (*ftptest.Server, *pgstore.Store) {
	t.Helper()
	homes := t.TempDir()
	store, err := pgstore.Open(url, pgstore.Options{
		OpenHome: func(home string) (pier.FileSystem, error) {
			fsys, err := local.New(filepath.Join(homes, home))
			if err == nil {
				t.Cleanup(func() { fsys.Close() })
			}
			return fsys, err
		},
		Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	ctx := t.Context()
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for name, perm := range map[string]pier.Perm{"writer": pier.AllPerms, "reader": pier.ReadPerms} {
		h, err := auth.HashPassword(name + "-pw")
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Add(ctx, pgstore.Account{Name: name, PasswordHash: h, Perm: perm, Home: "."}); err != nil {
			t.Fatal(err)
		}
	}
	srv := ftptest.NewServer(t, &ftptest.Options{NoAnonymous: true, Configure: func(s *ftptest.Server) {
		s.Auth = store
		s.BanAfter = 1
	}})
	return srv, store
}

// TestServerPermissions logs in through a real client and finds each
// user's letters enforced.
func TestServerPermissions(t *testing.T) {
	srv := serve(t, pgtest.Start(t))
	login := func(user string) *ftp.ServerConn {
		t.Helper()
		c, err := ftp.Dial(srv.Addr, ftp.DialWithTimeout(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Quit() })
		if err := c.Login(user, user+"-pw"); err != nil {
			t.Fatalf("login %s: %v", user, err)
		}
		return c
	}
	w := login("writer")
	if err := w.Stor("hello.txt", strings.NewReader("hi\n")); err != nil {
		t.Fatalf("writer STOR: %v", err)
	}
	r := login("reader")
	resp, err := r.Retr("hello.txt")
	if err != nil {
		t.Fatalf("reader RETR: %v", err)
	}
	got, _ := io.ReadAll(resp)
	resp.Close()
	if !bytes.Equal(got, []byte("hi\n")) {
		t.Errorf("RETR: %q", got)
	}
	err = r.Stor("nope.txt", strings.NewReader("x"))
	var pe *textproto.Error
	if !errors.As(err, &pe) || pe.Code != ftp.StatusFileUnavailable {
		t.Errorf("reader STOR: %v, want 550", err)
	}
	if c, err := ftp.Dial(srv.Addr, ftp.DialWithTimeout(10*time.Second)); err == nil {
		if err := c.Login("reader", "wrong"); err == nil || !strings.HasPrefix(err.Error(), "530") {
			t.Errorf("wrong password: %v, want 530", err)
		}
		c.Quit()
	}
}

// TestServerOutage stops PostgreSQL while pier runs: a login gets 421, not
// 530, and counts toward no ban; once PostgreSQL is back (same data, same
// port), logins work again without restarting anything.
func TestServerOutage(t *testing.T) {
	db := pgtest.StartServer(t)
	srv := serve(t, db.URL)
	c := srv.Dial(t)
	c.Login(t, "reader", "reader-pw")
	c.Expect(t, "QUIT", 221)

	db.Stop()
	c = srv.Dial(t)
	c.Expect(t, "USER reader", 331)
	c.Expect(t, "PASS reader-pw", 421)
	if bans := srv.Bans(); len(bans) != 0 {
		t.Errorf("the outage banned %v", bans)
	}

	db.Restart()
	c = srv.Dial(t)
	c.Login(t, "reader", "reader-pw")
	c.Expect(t, "QUIT", 221)

	// A wrong password does count: the check above means something.
	c = srv.Dial(t)
	c.Expect(t, "USER reader", 331)
	c.Expect(t, "PASS wrong", 530)
	if bans := srv.Bans(); len(bans) != 1 {
		t.Errorf("bans after a wrong password with BanAfter 1: %v", bans)
	}
}

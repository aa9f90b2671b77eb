package pgstore

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/mem"
	"github.com/pierftp/pier/internal/pgtest"
	"golang.org/x/crypto/bcrypt"
)

// openStore opens and migrates a Store on url, with every home an
// in-memory file system of its own.
func openStore(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(url, Options{
		OpenHome: func(home string) (pier.FileSystem, error) { return mem.New(), nil },
		Timeout:  10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// hash is a hash of password, made once per password for the package's
// tests (argon2id takes a while).
func hash(t *testing.T, password string) string {
	t.Helper()
	hashes.Lock()
	defer hashes.Unlock()
	if h, ok := hashes.m[password]; ok {
		return h
	}
	h, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	hashes.m[password] = h
	return h
}

var hashes = struct {
	sync.Mutex
	m map[string]string
}{m: make(map[string]string)}

// TestMigrate: migrating twice, and from two nodes at once, leaves one
// schema at SchemaVersion.
func TestMigrate(t *testing.T) {
	url := pgtest.Start(t)
	ctx := t.Context()
	stores := make([]*Store, 4)
	for i := range stores {
		s, err := Open(url, Options{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	versions := make([]int, len(stores))
	for i, s := range stores {
		wg.Go(func() { versions[i], errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	for i := range stores {
		if errs[i] != nil || versions[i] != SchemaVersion {
			t.Errorf("node %d: version %d, %v; want %d", i, versions[i], errs[i], SchemaVersion)
		}
	}
	if v, err := stores[0].Migrate(ctx); err != nil || v != SchemaVersion {
		t.Errorf("again: version %d, %v", v, err)
	}
	var rows, max int
	if err := stores[0].pool.QueryRow(ctx, `SELECT count(*), max(version) FROM pier_schema`).Scan(&rows, &max); err != nil {
		t.Fatal(err)
	}
	if rows != SchemaVersion || max != SchemaVersion {
		t.Errorf("pier_schema: %d rows, version %d; want %d", rows, max, SchemaVersion)
	}
}

// TestCRUD adds, reads, changes, lists and removes users.
func TestCRUD(t *testing.T) {
	s := openStore(t, pgtest.Start(t))
	ctx := t.Context()
	alice := Account{
		Name: "alice", PasswordHash: hash(t, "pw"), Perm: "elrw", Home: "/srv/alice",
		Overrides: []pier.PermOverride{{Dir: "/ro", Perm: "elr", Recursive: true}},
		ReadLimit: 1000, WriteLimit: 2000, LoginMessage: "hi alice",
	}
	if err := s.Add(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, alice); !errors.Is(err, ErrExists) {
		t.Errorf("second Add: %v, want ErrExists", err)
	}
	if err := s.Add(ctx, Account{Name: "bob", Home: "/srv/bob"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Account{
		{Name: "", Home: "/h"},
		{Name: "anonymous", Home: "/h"},
		{Name: "x", Home: ""},
		{Name: "x", Home: "/h", Perm: "elrz"},
		{Name: "x", Home: "/h", PasswordHash: "plain"},
		{Name: "x", Home: "/h", Overrides: []pier.PermOverride{{Dir: "rel", Perm: "elr"}}},
		{Name: "x", Home: "/h", ReadLimit: -1},
	} {
		if err := s.Add(ctx, bad); err == nil {
			t.Errorf("Add(%+v) took a bad account", bad)
		}
	}

	got, err := s.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != alice.PasswordHash || got.Perm != "elrw" || got.Home != "/srv/alice" ||
		len(got.Overrides) != 1 || got.Overrides[0] != alice.Overrides[0] ||
		got.ReadLimit != 1000 || got.WriteLimit != 2000 || got.LoginMessage != "hi alice" || got.Disabled ||
		got.Created.IsZero() || !got.Updated.Equal(got.Created) {
		t.Errorf("Get: %+v", got)
	}
	if bob, err := s.Get(ctx, "bob"); err != nil || bob.Perm != pier.ReadPerms {
		t.Errorf("bob: %+v, %v; want read-only by default", bob, err)
	}
	if _, err := s.Get(ctx, "carol"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(carol): %v, want ErrNotFound", err)
	}

	perm, disabled := pier.Perm("elr"), true
	if err := s.Set(ctx, "alice", Change{Perm: &perm, Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	changed, _ := s.Get(ctx, "alice")
	if changed.Perm != "elr" || !changed.Disabled || changed.Home != alice.Home || changed.PasswordHash != alice.PasswordHash ||
		changed.ReadLimit != 1000 || len(changed.Overrides) != 1 || !changed.Created.Equal(got.Created) || changed.Updated.Before(got.Updated) {
		t.Errorf("after Set: %+v", changed)
	}
	bad := pier.Perm("q")
	if err := s.Set(ctx, "alice", Change{Perm: &bad}); err == nil {
		t.Error("Set took bad letters")
	}
	if err := s.Set(ctx, "carol", Change{Perm: &perm}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Set(carol): %v, want ErrNotFound", err)
	}

	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
		t.Errorf("List: %+v, %v", list, err)
	}
	if err := s.Delete(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if list, _ := s.List(ctx); len(list) != 1 {
		t.Errorf("after Delete: %+v", list)
	}
}

// TestAuthenticate checks passwords, unknown names and disabled accounts.
func TestAuthenticate(t *testing.T) {
	s := openStore(t, pgtest.Start(t))
	ctx := t.Context()
	b, err := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bcryptHash := string(b)
	for _, a := range []Account{
		{Name: "alice", PasswordHash: hash(t, "right"), Perm: "elrw", Home: "/a", LoginMessage: "hello",
			Overrides: []pier.PermOverride{{Dir: "/in", Perm: "elrwm"}}, ReadLimit: 10, WriteLimit: 20},
		{Name: "bcrypt", PasswordHash: bcryptHash, Home: "/b"},
		{Name: "off", PasswordHash: hash(t, "right"), Home: "/c", Disabled: true},
		{Name: "nopass", Home: "/d"},
	} {
		if err := s.Add(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	var decoys atomic.Int32
	decoyCheck = func(hash, pass string) bool { decoys.Add(1); return auth.VerifyPassword(hash, pass) }
	t.Cleanup(func() { decoyCheck = auth.VerifyPassword })

	u, err := s.Authenticate(ctx, pier.ConnInfo{}, "alice", "right")
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "alice" || u.Perm != "elrw" || u.LoginMessage != "hello" || u.ReadLimit != 10 || u.WriteLimit != 20 ||
		u.FS == nil || u.PermAt("/in/x") != "elrwm" || u.Anonymous {
		t.Errorf("user: %+v", u)
	}
	u2, _ := s.Authenticate(ctx, pier.ConnInfo{}, "alice", "right")
	if u2 == nil || u2.FS != u.FS {
		t.Fatal("a second login at the same time opened the home again")
	}
	// Once both logins are released, the next one opens the home again
	// (a home replaced meanwhile is the new one).
	u.Release()
	u.Release() // twice: counted once
	if u3, _ := s.Authenticate(ctx, pier.ConnInfo{}, "alice", "right"); u3 == nil || u3.FS != u.FS {
		t.Fatal("a login while another holds the home did not share it")
	} else {
		u3.Release()
	}
	u2.Release()
	u4, _ := s.Authenticate(ctx, pier.ConnInfo{}, "alice", "right")
	if u4 == nil || u4.FS == u.FS {
		t.Fatal("the home was not opened again after its last login ended")
	}
	u4.Release()
	tests := []struct {
		name, user, pass string
		ok, decoy        bool
	}{
		{"bcrypt", "bcrypt", "right", true, false},
		{"wrong password", "alice", "wrong", false, false},
		{"unknown user", "nobody", "right", false, true},
		{"disabled", "off", "right", false, false},
		{"no password", "nopass", "", false, true},
		{"case-sensitive", "Alice", "right", false, true},
		// PostgreSQL refuses the name (SQLSTATE 22021): a failed login,
		// not an outage a client could make at will.
		{"not UTF-8", "bad\xff", "right", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := decoys.Load()
			u, err := s.Authenticate(ctx, pier.ConnInfo{}, tc.user, tc.pass)
			if tc.ok {
				if err != nil || u == nil {
					t.Fatalf("%v, want a login", err)
				}
				return
			}
			if !errors.Is(err, pier.ErrAuthFailed) {
				t.Errorf("%v, want ErrAuthFailed", err)
			}
			if got := decoys.Load() > before; got != tc.decoy {
				t.Errorf("decoy check: %v, want %v", got, tc.decoy)
			}
		})
	}
}

// TestOutage: with the database stopped, Authenticate fails within its
// timeout with an error that is not ErrAuthFailed; once the database is
// back, the same Store logs users in again.
func TestOutage(t *testing.T) {
	db := pgtest.StartServer(t)
	s := openStore(t, db.URL)
	ctx := t.Context()
	if err := s.Add(ctx, Account{Name: "alice", PasswordHash: hash(t, "pw"), Home: "/a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, pier.ConnInfo{}, "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	db.Stop()
	_, err := s.Authenticate(ctx, pier.ConnInfo{}, "alice", "pw")
	if err == nil || errors.Is(err, pier.ErrAuthFailed) {
		t.Fatalf("during the outage: %v, want an error other than ErrAuthFailed", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping during the outage succeeded")
	}
	db.Restart()
	if _, err := s.Authenticate(ctx, pier.ConnInfo{}, "alice", "pw"); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
}

// TestOpenBadURL: a URL pgx can't read fails at Open, without a network.
func TestOpenBadURL(t *testing.T) {
	if _, err := Open("postgres://[::1", Options{}); err == nil {
		t.Error("Open took a broken URL")
	}
}

// TestRestartStaleConnections: after PostgreSQL restarted, every
// connection the pool holds is dead; the first login, reservation, failed
// login and sessions query after it each succeed all the same, on new
// connections (the pool here never pings a connection before use, as
// pgx's does not for one used within the last second).
func TestRestartStaleConnections(t *testing.T) {
	db := pgtest.StartServer(t)
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := New(pool, Options{OpenHome: func(string) (pier.FileSystem, error) { return mem.New(), nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := t.Context()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, Account{Name: "alice", PasswordHash: hash(t, "pw"), Home: "/a"}); err != nil {
		t.Fatal(err)
	}
	u, err := s.Authenticate(ctx, pier.ConnInfo{}, "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Release()
	steps := []struct {
		name string
		run  func() error
	}{
		{"login", func() error {
			u, err := s.Authenticate(ctx, pier.ConnInfo{}, "alice", "pw")
			if err == nil {
				u.Release()
			}
			return err
		}},
		{"reserve", func() error { return u.Quota.Reserve(ctx, 1, 1) }},
		{"failed login", func() error {
			_, err := s.LoginFailed(ctx, netip.MustParsePrefix("192.0.2.1/32"), 5, time.Minute)
			return err
		}},
		{"live sessions", func() error { _, err := s.LiveSessions(ctx); return err }},
	}
	for _, step := range steps {
		// Fill the pool: four connections, all open when the server
		// stops.
		var conns []*pgxpool.Conn
		for range 4 {
			c, err := pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Release()
		}
		db.Stop()
		db.Restart()
		if err := step.run(); err != nil {
			t.Errorf("%s after a restart: %v", step.name, err)
		}
	}
}

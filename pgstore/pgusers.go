// Package pgstore keeps in PostgreSQL the state that many pier nodes
// share: the virtual users (a Store is a pier.Authenticator, and the
// operator's add, change, remove and list), failed logins and bans (a
// pier.BanStore), what each user stores (the pier.Quota of each login),
// and the live sessions of every node (PublishSessions, LiveSessions).
//
//	store, err := pgstore.Open("postgres://pier@db.example/pier", pgstore.Options{
//		OpenHome: func(home string) (pier.FileSystem, error) { return local.New(home) },
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer store.Close()
//	if _, err := store.Migrate(ctx); err != nil { // creates or updates the tables
//		log.Fatal(err)
//	}
//	srv := &pier.Server{Addr: ":2121", Auth: store, BanStore: store}
//	go store.PublishSessions(ctx, "node1", srv, 0)
//
// A user has the fields of a users-file line (auth.LoadFile) and more: a
// password hash (argon2id or bcrypt, see auth.HashPassword), permission
// letters, a home, per-folder permission overrides, rate limits, a login
// message and a disabled flag. Every query has a timeout (Options.Timeout);
// when the database can't be reached, Authenticate fails with an error that
// is not pier.ErrAuthFailed, so the client gets 421 and nobody is banned,
// and the pool connects again by itself when the database is back. Once a
// query of the shared state (bans, quotas, sessions) found the database
// away, the next ones fail at once for a second (wrapping ErrUnavailable)
// rather than make sessions wait; usage that could not be recorded is kept
// in memory and recorded when the database is back.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
)

// DefaultTimeout is how long a query may take when Options.Timeout is
// zero.
const DefaultTimeout = 5 * time.Second

// Options configure a Store.
type Options struct {
	// OpenHome opens a user's home (a folder, or a URL such as
	// s3://bucket/prefix) as its file system, at the user's first login;
	// users with the same home share the file system. Required for
	// Authenticate; the operator's methods don't need it.
	OpenHome func(home string) (pier.FileSystem, error)
	// Timeout bounds each query, and each connection attempt. If zero,
	// DefaultTimeout.
	Timeout time.Duration
	// Logger takes what the Store can't return to a caller: usage kept
	// during an outage and recorded later (or dropped by Close), and
	// PublishSessions' failures. If nil, slog.Default().
	Logger *slog.Logger
}

// Store is pier's shared state in a PostgreSQL database: users, bans,
// usage and live sessions. It is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool
	ownPool  bool // Close closes it
	openHome func(home string) (pier.FileSystem, error)
	timeout  time.Duration
	// decoy is a hash checked (and the answer dropped) for names that
	// don't exist, so that a failed login takes as long either way.
	decoy string

	homesMu sync.Mutex // guards homes
	homes   map[string]*homeRef

	logger  *slog.Logger
	breaker breaker // in front of the shared state's queries

	// pending is usage Adjust could not record yet, per user in order
	// (usageDelta), which flushLoop records; guarded by pendingMu, as flushing (the
	// loop was started, at the first delta queued) and closed.
	pendingMu sync.Mutex
	pending   map[string]usageDelta
	flushing  bool
	closed    bool
	flushStop chan struct{} // closed by Close
	flushDone chan struct{} // closed when flushLoop returned
	closeOnce sync.Once

	pruneMu      sync.Mutex // guards lastBanPrune and nextOpsPrune
	lastBanPrune time.Time
	nextOpsPrune time.Time // when maybePruneOps prunes the ledger next
}

var (
	_ pier.Authenticator = (*Store)(nil)
	_ pier.BanStore      = (*Store)(nil)
)

// Open returns a Store on the database at url (postgres://user:pass@host/db
// or a key=value connection string; the PG* environment variables and
// ~/.pgpass fill in what it leaves out, as for psql). It makes no
// connection: the pool connects when a query needs it, so Open succeeds
// while the database is down. Call Migrate before the first query.
func Open(url string, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > timeout {
		cfg.ConnConfig.ConnectTimeout = timeout
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s, err := New(pool, o)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownPool = true
	return s, nil
}

// New returns a Store on a pool the caller made (and closes).
func New(pool *pgxpool.Pool, o Options) (*Store, error) {
	decoy, err := auth.HashPassword("decoy, never a password")
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Store{pool: pool, openHome: o.OpenHome, timeout: timeout, decoy: decoy, homes: make(map[string]*homeRef),
		logger: logger, pending: make(map[string]usageDelta),
		flushStop: make(chan struct{}), flushDone: make(chan struct{})}, nil
}

// Close records the usage kept during an outage if it can (one attempt,
// of closeFlushTimeout at most; what it could not record is logged as
// dropped), then closes the pool Open made; a pool given to New is the
// caller's. Call it once the servers that use the Store have shut down.
func (s *Store) Close() {
	s.closeOnce.Do(func() {
		s.pendingMu.Lock()
		s.closed = true
		flushing := s.flushing
		s.pendingMu.Unlock()
		close(s.flushStop)
		if flushing {
			<-s.flushDone
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(s.timeout, closeFlushTimeout))
		defer cancel()
		for name, d := range s.flushPending(ctx, false) {
			s.logger.Error("pgstore: dropped usage it could not record", "user", name, "bytes", d.bytes, "files", d.files)
		}
		if s.ownPool {
			s.pool.Close()
		}
	})
}

// Ping checks that the database answers, within the timeout.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	return nil
}

// decoyCheck is auth.VerifyPassword; tests count its calls.
var decoyCheck = auth.VerifyPassword

// Authenticate implements pier.Authenticator. A wrong password, an unknown
// name and a disabled account wrap pier.ErrAuthFailed (the unknown name
// after a decoy hash check, the disabled account after the real one, so
// that timing tells neither apart). A database that can't be reached in
// time, or a home that can't be opened, give an error that does not: the
// client gets 421 and it counts as no failed login. The User's Quota counts
// what it stores, with or without limits (see Quota).
func (s *Store) Authenticate(ctx context.Context, c pier.ConnInfo, name, pass string) (*pier.User, error) {
	if !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		// PostgreSQL refuses such text (SQLSTATE 22021): no account has
		// this name, and asking would count as an outage (421, nothing
		// counted) that any client could make.
		decoyCheck(s.decoy, pass)
		return nil, fmt.Errorf("user %q: not UTF-8: %w", name, pier.ErrAuthFailed)
	}
	a, err := s.Get(ctx, name)
	if errors.Is(err, ErrNotFound) {
		decoyCheck(s.decoy, pass) // as long as a known name's check
		return nil, fmt.Errorf("user %q: %w", name, pier.ErrAuthFailed)
	}
	if err != nil {
		return nil, err
	}
	if a.PasswordHash == "" { // no password set: nobody logs in
		decoyCheck(s.decoy, pass)
		return nil, fmt.Errorf("user %q: no password: %w", name, pier.ErrAuthFailed)
	}
	if !auth.VerifyPassword(a.PasswordHash, pass) {
		return nil, fmt.Errorf("user %q: wrong password: %w", name, pier.ErrAuthFailed)
	}
	if a.Disabled {
		return nil, fmt.Errorf("user %q: disabled: %w", name, pier.ErrAuthFailed)
	}
	fsys, release, err := s.acquireHome(a.Home)
	if err != nil {
		return nil, fmt.Errorf("pgstore: user %q: home %q: %w", name, a.Home, err)
	}
	return &pier.User{
		Name:         a.Name,
		Perm:         a.Perm,
		FS:           fsys,
		Release:      release,
		LoginMessage: a.LoginMessage,
		Overrides:    a.Overrides,
		ReadLimit:    a.ReadLimit,
		WriteLimit:   a.WriteLimit,
		Quota:        &userQuota{s: s, name: a.Name},
	}, nil
}

// homeRef is an open home, shared by the logins that use it.
type homeRef struct {
	ready chan struct{} // closed once OpenHome returned
	fsys  pier.FileSystem
	err   error
	users int // logins holding it; guarded by Store.homesMu
}

// acquireHome returns the file system of a home for one login, and its
// release (User.Release). Logins at the same time share one; the last
// release closes it, so the next login opens the folder again (a home
// renamed or replaced meanwhile is the new one). Homes open in parallel:
// a slow one (a bucket that does not answer) holds only its own logins.
func (s *Store) acquireHome(home string) (pier.FileSystem, func(), error) {
	if s.openHome == nil {
		return nil, nil, errors.New("pgstore: no Options.OpenHome to open homes with")
	}
	s.homesMu.Lock()
	h := s.homes[home]
	opener := h == nil
	if opener {
		h = &homeRef{ready: make(chan struct{})}
		s.homes[home] = h
	}
	h.users++
	s.homesMu.Unlock()
	if opener {
		h.fsys, h.err = s.openHome(home)
		close(h.ready)
	} else {
		<-h.ready
	}
	if h.err != nil {
		s.releaseHome(home, h)
		return nil, nil, h.err
	}
	var once sync.Once
	return h.fsys, func() { once.Do(func() { s.releaseHome(home, h) }) }, nil
}

// releaseHome ends one login's use of h, closing it after the last.
func (s *Store) releaseHome(home string, h *homeRef) {
	s.homesMu.Lock()
	h.users--
	last := h.users == 0
	if last && s.homes[home] == h {
		delete(s.homes, home)
	}
	s.homesMu.Unlock()
	if c, ok := h.fsys.(io.Closer); last && ok {
		c.Close()
	}
}

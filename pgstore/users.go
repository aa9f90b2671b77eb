package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
)

// ErrNotFound is the error of Get, Set and Delete for a name no user has.
var ErrNotFound = errors.New("no such user")

// ErrExists is the error of Add for a name a user has already.
var ErrExists = errors.New("user already exists")

// Account is one user as the database keeps it.
type Account struct {
	// Name is the login name (case-sensitive).
	Name string
	// PasswordHash is an argon2id or bcrypt hash of the password
	// (auth.HashPassword); if empty, the user can't log in.
	PasswordHash string
	// Perm is the permission letters; if empty, read-only ("elr").
	Perm pier.Perm
	// Home is the user's home: a folder, or a URL such as
	// s3://bucket/prefix, as Options.OpenHome takes it.
	Home string
	// Overrides give other permissions under some folders.
	Overrides []pier.PermOverride
	// ReadLimit and WriteLimit cap the user's upload and download rates
	// in bytes per second (0: the server's per-session limits).
	ReadLimit, WriteLimit int64
	// LoginMessage overrides the 230 text.
	LoginMessage string
	// Disabled accounts can't log in (pier.ErrAuthFailed).
	Disabled bool
	// QuotaBytes and QuotaFiles limit what the user stores, in bytes and
	// in files, whatever node stored it (0: no limit); see Quota.
	QuotaBytes, QuotaFiles int64
	// UsedBytes and UsedFiles are what the user stores, as the database
	// counted it (see Usage); Add and Set ignore them.
	UsedBytes, UsedFiles int64
	// Created and Updated are set by the database; Add and Set ignore
	// them.
	Created, Updated time.Time
}

// Change is a partial update for Set: the fields that are not nil are
// changed, the others kept.
type Change struct {
	PasswordHash           *string
	Perm                   *pier.Perm
	Home                   *string
	Overrides              *[]pier.PermOverride
	ReadLimit, WriteLimit  *int64
	LoginMessage           *string
	Disabled               *bool
	QuotaBytes, QuotaFiles *int64
}

// overrideJSON is a PermOverride in the overrides column.
type overrideJSON struct {
	Dir       string `json:"dir"`
	Perm      string `json:"perm"`
	Recursive bool   `json:"recursive,omitempty"`
}

// check validates what a user's fields hold, as auth.Virtual does.
func check(name string, a *Account) error {
	if name == "" {
		return errors.New("pgstore: empty user name")
	}
	if strings.ContainsAny(name, "\r\n\x00") {
		return fmt.Errorf("pgstore: user %q: control characters in the name", name)
	}
	if name == auth.AnonymousName {
		return fmt.Errorf("pgstore: %q: anonymous access is not kept in the database", name)
	}
	if a.Home == "" {
		return fmt.Errorf("pgstore: user %q has no home", name)
	}
	if a.PasswordHash != "" {
		// A throwaway Virtual checks the hash as a users file's is.
		probe := auth.Account{PasswordHash: a.PasswordHash, FS: noFS{}, Perm: a.Perm, Overrides: a.Overrides}
		if err := new(auth.Virtual).AddUser(name, probe); err != nil {
			return fmt.Errorf("pgstore: %s", strings.TrimPrefix(err.Error(), "auth: "))
		}
	}
	if err := a.Perm.Validate(); err != nil {
		return fmt.Errorf("pgstore: user %q: %w", name, err)
	}
	for _, o := range a.Overrides {
		if err := o.Perm.Validate(); err != nil {
			return fmt.Errorf("pgstore: user %q: override %s: %w", name, o.Dir, err)
		}
		if !strings.HasPrefix(o.Dir, "/") {
			return fmt.Errorf("pgstore: user %q: override %q: want a virtual absolute path such as /incoming", name, o.Dir)
		}
	}
	if a.ReadLimit < 0 || a.WriteLimit < 0 {
		return fmt.Errorf("pgstore: user %q: negative rate limit", name)
	}
	if a.QuotaBytes < 0 || a.QuotaFiles < 0 {
		return fmt.Errorf("pgstore: user %q: negative quota", name)
	}
	return nil
}

// noFS stands for a home in check: the home is opened at login, not when
// the user is written.
type noFS struct{ pier.FileSystem }

func encodeOverrides(os []pier.PermOverride) ([]byte, error) {
	js := make([]overrideJSON, len(os))
	for i, o := range os {
		js[i] = overrideJSON{Dir: o.Dir, Perm: string(o.Perm), Recursive: o.Recursive}
	}
	return json.Marshal(js)
}

func decodeOverrides(b []byte) ([]pier.PermOverride, error) {
	var js []overrideJSON
	if err := json.Unmarshal(b, &js); err != nil {
		return nil, err
	}
	var os []pier.PermOverride
	for _, o := range js {
		os = append(os, pier.PermOverride{Dir: o.Dir, Perm: pier.Perm(o.Perm), Recursive: o.Recursive})
	}
	return os, nil
}

// Add adds a user; Created and Updated are set to now. It fails with
// ErrExists if the name is taken.
func (s *Store) Add(ctx context.Context, a Account) error {
	if a.Perm == "" {
		a.Perm = pier.ReadPerms
	}
	if err := check(a.Name, &a); err != nil {
		return err
	}
	overrides, err := encodeOverrides(a.Overrides)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err = s.pool.Exec(ctx, `INSERT INTO pier_users
		(name, password_hash, perm, home, overrides, read_limit, write_limit, login_message, disabled, quota_bytes, quota_files)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		a.Name, a.PasswordHash, string(a.Perm), a.Home, overrides, a.ReadLimit, a.WriteLimit, a.LoginMessage, a.Disabled,
		a.QuotaBytes, a.QuotaFiles)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "23505" { // unique_violation
		return fmt.Errorf("pgstore: user %q: %w", a.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("pgstore: add %q: %w", a.Name, err)
	}
	return nil
}

// columns are the columns Get and List read from accounts, in
// scanAccount's order.
const columns = `u.name, u.password_hash, u.perm, u.home, u.overrides, u.read_limit, u.write_limit, u.login_message, u.disabled,
	u.quota_bytes, u.quota_files, coalesce(g.used_bytes, 0), coalesce(g.used_files, 0), u.created_at, u.updated_at`

// accounts are the users (u) with their usage (g), for columns.
const accounts = `pier_users u LEFT JOIN pier_usage g ON g.name = u.name`

func scanAccount(row pgx.Row) (Account, error) {
	var a Account
	var perm string
	var overrides []byte
	err := row.Scan(&a.Name, &a.PasswordHash, &perm, &a.Home, &overrides, &a.ReadLimit, &a.WriteLimit, &a.LoginMessage, &a.Disabled,
		&a.QuotaBytes, &a.QuotaFiles, &a.UsedBytes, &a.UsedFiles, &a.Created, &a.Updated)
	if err != nil {
		return a, err
	}
	a.Perm = pier.Perm(perm)
	if a.Overrides, err = decodeOverrides(overrides); err != nil {
		return a, fmt.Errorf("user %q: overrides: %w", a.Name, err)
	}
	return a, nil
}

// Get returns a user, or ErrNotFound.
func (s *Store) Get(ctx context.Context, name string) (Account, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var a Account
	err := s.retryStale(ctx, func(ctx context.Context) (err error) {
		a, err = scanAccount(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM `+accounts+` WHERE u.name = $1`, name))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return a, fmt.Errorf("pgstore: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("pgstore: user %q: %w", name, err)
	}
	return a, nil
}

// List returns every user, by name.
func (s *Store) List(ctx context.Context) ([]Account, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM `+accounts+` ORDER BY u.name`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list: %w", err)
	}
	as, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Account, error) { return scanAccount(row) })
	if err != nil {
		return nil, fmt.Errorf("pgstore: list: %w", err)
	}
	return as, nil
}

// Set changes the fields of a user that c sets, and Updated; ErrNotFound
// if there is no such user. The user is read, changed and checked, and
// written back in one transaction (the row locked meanwhile), so that two
// Sets at once both take effect.
func (s *Store) Set(ctx context.Context, name string, c Change) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		a, err := scanAccount(tx.QueryRow(ctx, `SELECT `+columns+` FROM `+accounts+` WHERE u.name = $1 FOR UPDATE OF u`, name))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		c.apply(&a)
		if err := check(name, &a); err != nil {
			return err
		}
		overrides, err := encodeOverrides(a.Overrides)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE pier_users SET password_hash = $2, perm = $3, home = $4, overrides = $5,
			read_limit = $6, write_limit = $7, login_message = $8, disabled = $9, quota_bytes = $10, quota_files = $11,
			updated_at = now()
			WHERE name = $1`,
			name, a.PasswordHash, string(a.Perm), a.Home, overrides, a.ReadLimit, a.WriteLimit, a.LoginMessage, a.Disabled,
			a.QuotaBytes, a.QuotaFiles)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: set %q: %w", name, err)
	}
	return nil
}

func (c *Change) apply(a *Account) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&a.PasswordHash, c.PasswordHash)
	set(&a.Home, c.Home)
	set(&a.LoginMessage, c.LoginMessage)
	if c.Perm != nil {
		a.Perm = *c.Perm
		if a.Perm == "" {
			a.Perm = pier.ReadPerms
		}
	}
	if c.Overrides != nil {
		a.Overrides = *c.Overrides
	}
	if c.ReadLimit != nil {
		a.ReadLimit = *c.ReadLimit
	}
	if c.WriteLimit != nil {
		a.WriteLimit = *c.WriteLimit
	}
	if c.QuotaBytes != nil {
		a.QuotaBytes = *c.QuotaBytes
	}
	if c.QuotaFiles != nil {
		a.QuotaFiles = *c.QuotaFiles
	}
	if c.Disabled != nil {
		a.Disabled = *c.Disabled
	}
}

// Delete removes a user and its usage, or returns ErrNotFound. Sessions
// logged in keep going; what they store is no longer counted.
func (s *Store) Delete(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM pier_users WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("pgstore: delete %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: user %q: %w", name, ErrNotFound)
	}
	return nil
}

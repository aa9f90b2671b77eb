package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// migrationLock is the key of the advisory lock Migrate holds, so that
// nodes starting together apply each migration once. It is "pier" in
// ASCII, with room for other locks of pier's beside it.
const migrationLock int64 = 0x70696572_00000001

// migrations are the schema's steps, in order: migrations[i] takes the
// schema from version i to version i+1. Append only; never edit one that
// has shipped.
var migrations = []string{
	// 1: the users.
	`CREATE TABLE pier_users (
		name          text PRIMARY KEY CHECK (name <> ''),
		password_hash text NOT NULL DEFAULT '',
		perm          text NOT NULL DEFAULT 'elr',
		home          text NOT NULL CHECK (home <> ''),
		overrides     jsonb NOT NULL DEFAULT '[]',
		read_limit    bigint NOT NULL DEFAULT 0 CHECK (read_limit >= 0),
		write_limit   bigint NOT NULL DEFAULT 0 CHECK (write_limit >= 0),
		login_message text NOT NULL DEFAULT '',
		disabled      boolean NOT NULL DEFAULT false,
		created_at    timestamptz NOT NULL DEFAULT now(),
		updated_at    timestamptz NOT NULL DEFAULT now()
	)`,
	// 2: failed logins and bans (bans.go). until is NULL until the
	// prefix is first banned; changed_at is when until was last set
	// (a ban, or a lift: until in the past), NULL before that.
	`CREATE TABLE pier_bans (
		prefix       cidr PRIMARY KEY,
		failures     integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
		window_start timestamptz NOT NULL DEFAULT clock_timestamp(),
		until        timestamptz,
		manual       boolean NOT NULL DEFAULT false,
		changed_at   timestamptz
	);
	CREATE INDEX pier_bans_changed_at ON pier_bans (changed_at)`,
	// 3: quotas (quota.go): the limits, 0 for none, and what each user
	// stores, counted from when the row was created.
	`ALTER TABLE pier_users
		ADD COLUMN quota_bytes bigint NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
		ADD COLUMN quota_files bigint NOT NULL DEFAULT 0 CHECK (quota_files >= 0);
	CREATE TABLE pier_usage (
		name       text PRIMARY KEY REFERENCES pier_users (name) ON DELETE CASCADE ON UPDATE CASCADE,
		used_bytes bigint NOT NULL DEFAULT 0,
		used_files bigint NOT NULL DEFAULT 0,
		updated_at timestamptz NOT NULL DEFAULT now()
	)`,
	// 4: the live sessions of each node (sessions.go), and the view of
	// those of the nodes that published within the last 30 seconds.
	`CREATE TABLE pier_nodes (
		node       text PRIMARY KEY CHECK (node <> ''),
		started_at timestamptz NOT NULL DEFAULT now(),
		seen_at    timestamptz NOT NULL DEFAULT now()
	);
	CREATE TABLE pier_sessions (
		node           text NOT NULL REFERENCES pier_nodes (node) ON DELETE CASCADE ON UPDATE CASCADE,
		id             bigint NOT NULL,
		user_name      text NOT NULL DEFAULT '',
		client_addr    inet,
		client_port    integer NOT NULL DEFAULT 0,
		since          timestamptz NOT NULL,
		tls            boolean NOT NULL DEFAULT false,
		command        text NOT NULL DEFAULT '',
		command_at     timestamptz,
		transfer       text,
		transfer_bytes bigint,
		updated_at     timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (node, id)
	);
	CREATE VIEW pier_live_sessions AS
		SELECT s.node, s.id, s.user_name, s.client_addr, s.client_port, s.since, s.tls,
			s.command, s.command_at, s.transfer, s.transfer_bytes, s.updated_at
		FROM pier_sessions s JOIN pier_nodes n ON n.node = s.node
		WHERE n.seen_at > now() - interval '30 seconds'`,
	// 5: the ledger of usage operations (quota.go), so that one whose
	// answer was lost is applied at most once: an Adjust's batch is
	// recorded with it ('adjust', tried again with the same id), a
	// Reserve's only if it reserved ('reserve'); 'void' is written by a
	// node that checks a Reserve whose answer it lost, and keeps it from
	// being applied afterwards. No foreign key: an id must stay used
	// after its user is deleted. Rows are pruned after a day.
	`CREATE TABLE pier_usage_ops (
		id         uuid PRIMARY KEY,
		name       text NOT NULL,
		kind       text NOT NULL CHECK (kind IN ('adjust', 'reserve', 'void')),
		bytes      bigint NOT NULL DEFAULT 0,
		files      bigint NOT NULL DEFAULT 0,
		created_at timestamptz NOT NULL DEFAULT now()
	);
	CREATE INDEX pier_usage_ops_created_at ON pier_usage_ops (created_at)`,
}

// SchemaVersion is the schema version this package needs (and Migrate
// brings a database to).
var SchemaVersion = len(migrations)

// Migrate brings the database's schema to SchemaVersion and returns the
// version it is at. It is idempotent, and safe to run from many nodes at
// once: it works in one transaction that holds an advisory lock, so a node
// waits for another's migration and then finds nothing to do. A database
// newer than this pier (a later version's migrations) is left alone and
// its version returned.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.migrateTimeout())
	defer cancel()
	var version int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS pier_schema (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM pier_schema`).Scan(&version); err != nil {
			return err
		}
		for ; version < len(migrations); version++ {
			if _, err := tx.Exec(ctx, migrations[version]); err != nil {
				return fmt.Errorf("migration %d: %w", version+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO pier_schema (version) VALUES ($1)`, version+1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("pgstore: migrate: %w", err)
	}
	return version, nil
}

// migrateTimeout bounds a migration: longer than a query, since it may
// wait for another node's.
func (s *Store) migrateTimeout() time.Duration {
	return 6 * s.timeout
}

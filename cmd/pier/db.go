package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/pgstore"
)

// State shared in PostgreSQL (--db URL): the accounts come from the
// database's pier_users table (pgstore), which "pier user" manages; failed
// logins and bans are shared with the other nodes (Server.BanStore), each
// login's usage is counted against its quota (User.Quota, set by pgstore),
// and the node publishes its live sessions under --node-name, which "pier
// sessions" lists. At start pier migrates the schema and logs "database
// ready"; if the database can't be reached it starts anyway, with a
// warning, answers logins 421 (no failure counted, nobody banned) and keeps
// trying in the background until it can migrate, since nodes are to
// recover by themselves when the database comes back. The URL's password
// is never logged. Changing --db needs a restart; a reload keeps the
// database pier started with.

// dbEnv is the environment variable "pier user" takes the URL from when
// --db is not given. The daemon does not read it: a variable left in a
// shell must not switch a server's accounts.
const dbEnv = "PIER_DB"

// dbTimeout bounds each query and connection attempt; dbRetry is the
// pause between start-up attempts while the database is down;
// sessionsInterval is how often the node publishes its sessions.
const (
	dbTimeout        = 5 * time.Second
	dbRetry          = 5 * time.Second
	sessionsInterval = 2 * time.Second
)

// dbOptions are the flags of the database.
type dbOptions struct {
	url      string
	nodeName string
}

// addDBFlags defines --db and --node-name.
func addDBFlags(fs *pflag.FlagSet, o *options) {
	fs.StringVar(&o.db.url, "db", "", "take the accounts from the PostgreSQL database at `URL` (postgres://USER[:PASS]@HOST[:PORT]/DB; better keep the password in the config file, PGPASSWORD or ~/.pgpass), and share bans, quotas and live sessions with the other nodes that name it; manage the accounts with \"pier user\", list the sessions with \"pier sessions\"; excludes --users-file, -u/-P, --system-users, -w and -d")
	fs.StringVar(&o.db.nodeName, "node-name", "", "this node's `NAME` in the database's live sessions (default: the host name and the control address, such as ftp1/[::]:2121); each node needs its own; needs --db")
}

// dbExcludes are the flags --db leaves no meaning to.
var dbExcludes = []string{"users-file", "username", "password", "system-users", "write", "directory"}

// checkDBFlags checks --db against the other account flags, and that the
// URL can be read.
func checkDBFlags(o *options, fs *pflag.FlagSet) error {
	if fs.Changed("node-name") {
		switch {
		case o.db.url == "":
			return usagef("--node-name needs --db (it names this node in the database's live sessions)")
		case strings.TrimSpace(o.db.nodeName) == "":
			return usagef("--node-name: an empty name")
		}
	}
	if o.db.url == "" {
		if fs.Changed("db") {
			return usagef("--db: an empty URL")
		}
		return nil
	}
	for _, name := range dbExcludes {
		if fs.Changed(name) {
			return usagef("--db excludes --%s (accounts, homes and permissions come from the database)", name)
		}
	}
	if _, err := pgxpool.ParseConfig(o.db.url); err != nil {
		// pgx's message may quote the URL: say what's wrong without it.
		return usagef("--db: not a PostgreSQL connection URL (want postgres://USER@HOST[:PORT]/DB)")
	}
	return nil
}

// openedStore is the database this process opened for its accounts: a
// reload (which configures a dry run) keeps using it rather than open a
// second pool (and serveDB publishes the sessions once, through it).
var openedStore struct {
	sync.Mutex
	store *pgstore.Store
}

// configureDB makes the database the Server's authenticator and ban store:
// it opens the pool, migrates the schema (or, if the database can't be
// reached, warns and keeps trying in the background) and logs "database
// ready".
func configureDB(o *options, srv *pier.Server, cfg *config) error {
	cfg.user = "database " + redactDB(o.db.url)
	openedStore.Lock()
	defer openedStore.Unlock()
	if cfg.dryRun && openedStore.store != nil {
		// A reload: the running database.
		srv.Auth, srv.BanStore = openedStore.store, openedStore.store
		return nil
	}
	if cfg.dryRun {
		// check-config, or a reload that adds --db (which reload.go
		// refuses): checked, no pool opened, none left behind.
		return nil // checkDBFlags parsed the URL
	}
	log := cfg.logger.With("db", redactDB(o.db.url))
	store, err := pgstore.Open(o.db.url, pgstore.Options{OpenHome: cfg.openHome, Timeout: dbTimeout, Logger: log})
	if err != nil {
		return usagef("--db: %v", err)
	}
	srv.Auth, srv.BanStore = store, store
	openedStore.store = store
	if err := migrateDB(store, log); err != nil {
		log.Warn("database unreachable: starting anyway; logins get 421 until it answers, and pier keeps trying", "err", err)
		go func() {
			for migrateDB(store, log) != nil {
				time.Sleep(dbRetry)
			}
		}()
	}
	return nil
}

// serveDB publishes the server's live sessions in the database for as long
// as it serves, under --node-name or a name made of the host name and the
// control address addr; the function it returns, called once the server
// has shut down, removes them and closes the database (recording the usage
// kept during an outage, if it can). Without --db, and for a dry run, it
// does nothing.
func serveDB(srv *pier.Server, cfg *config, addr net.Addr) (stop func()) {
	openedStore.Lock()
	store := openedStore.store
	openedStore.Unlock()
	if cfg.o.db.url == "" || cfg.dryRun || store == nil {
		return func() {}
	}
	node := cfg.o.db.nodeName
	if node == "" {
		node = defaultNodeName(addr)
	}
	cfg.logger.Info("publishing the live sessions in the database", "node", node)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		store.PublishSessions(ctx, node, srv, sessionsInterval) // returns when ctx ends
	}()
	return func() {
		cancel()
		<-done
		store.Close()
	}
}

// defaultNodeName is the host name and the control address, so that
// several nodes on one machine have names of their own.
func defaultNodeName(addr net.Addr) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return host + "/" + addr.String()
}

// migrateDB migrates the schema and logs "database ready" with where it
// is and its version.
func migrateDB(store *pgstore.Store, log *slog.Logger) error {
	version, err := store.Migrate(context.Background())
	if err != nil {
		return err
	}
	log.Info("database ready", "schema_version", version)
	return nil
}

// passwordInURL finds a password in a key=value connection string.
var passwordInURL = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// redactDB is the connection URL without its passwords (password,
// sslpassword), for logs and errors.
func redactDB(url string) string {
	for _, scheme := range []string{"postgres://", "postgresql://"} {
		rest, ok := strings.CutPrefix(url, scheme)
		if !ok {
			continue
		}
		if u, err := neturl.Parse(url); err == nil {
			q := u.Query()
			for _, k := range []string{"password", "sslpassword"} {
				if q.Has(k) {
					q.Set(k, "xxxxx")
				}
			}
			u.RawQuery = q.Encode()
			return u.Redacted()
		}
		// pgx takes forms net/url refuses (several hosts, one an IPv6
		// literal): the user information is cut by hand, and whatever
		// follows the hosts loses its password settings.
		authority, tail, slash := strings.Cut(rest, "/")
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			user, _, hasPass := strings.Cut(authority[:at], ":")
			if hasPass {
				user += ":xxxxx"
			}
			authority = user + authority[at:]
		}
		if !slash {
			return scheme + authority
		}
		return scheme + authority + "/" + passwordInURL.ReplaceAllString(tail, "${1}xxxxx")
	}
	return passwordInURL.ReplaceAllString(url, "${1}xxxxx")
}

// checkHome checks a home "pier user" stores: an absolute folder (the
// servers open it, from their own working folders, maybe on other
// machines, so it is not looked for here) or s3://BUCKET/PREFIX.
func checkHome(home string) error {
	if strings.HasPrefix(home, s3HomeScheme) || filepath.IsAbs(home) {
		return nil
	}
	return fmt.Errorf("--home %s: want an absolute folder or s3://BUCKET/PREFIX", strconv.Quote(home))
}

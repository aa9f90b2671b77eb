package main

import (
	"cmp"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/pierftp/pier"
)

// configureLogging makes the logger (-D, -V, --log-format) for the Server
// and for pier's own lines.
func configureLogging(o *options, srv *pier.Server, cfg *config, w io.Writer) error {
	cfg.level = new(slog.LevelVar)
	cfg.level.Set(logLevel(o))
	logger, err := newLogger(o, cfg.level, w)
	if err != nil {
		return err
	}
	srv.Logger = logger
	cfg.logger = logger
	return nil
}

// logLevel is the level -V and -D choose.
func logLevel(o *options) slog.Level {
	switch {
	case o.debug:
		return slog.LevelDebug
	case o.verbose:
		return pier.LevelVerbose
	}
	return slog.LevelInfo
}

// newLogger makes the logger of --log-format, at level (which a reload
// changes).
func newLogger(o *options, level slog.Leveler, w io.Writer) (*slog.Logger, error) {
	hopts := &slog.HandlerOptions{Level: level, ReplaceAttr: verboseName}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, usagef("--log-format %q: must be text or json", o.logFormat)
}

// levelName is a level's name as the log writes it.
func levelName(l slog.Level) string {
	if l == pier.LevelVerbose {
		return "VERBOSE"
	}
	return l.String()
}

// verboseName writes pier.LevelVerbose as "VERBOSE" rather than slog's
// "DEBUG+2".
func verboseName(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey && len(groups) == 0 {
		if l, ok := a.Value.Any().(slog.Level); ok && l == pier.LevelVerbose {
			a.Value = slog.StringValue("VERBOSE")
		}
	}
	return a
}

// logStartup logs the warnings, then the settings pier starts with; addr
// is where it listens.
func logStartup(srv *pier.Server, cfg *config, addr net.Addr) {
	log := cfg.logger
	logStartupWarnings(cfg)
	log.Info("starting pier FTP server", startupSettings(srv, cfg, addr)...)
	// A socket systemd passed may be on one address whatever --interface.
	if ta, ok := addr.(*net.TCPAddr); ok && cfg.o.iface == "" && ta.IP.IsUnspecified() {
		log.Info("listening on all interfaces, IPv4 and IPv6", "port", ta.Port)
	}
}

// logStartupWarnings logs the configuration file's warnings, open write
// access and the --concurrency note.
func logStartupWarnings(cfg *config) {
	log := cfg.logger
	for _, w := range cfg.warnings {
		log.Warn(w)
	}
	if cfg.write && cfg.anonymous {
		log.Warn("write permission granted to anonymous users: anyone can upload, change and delete files")
	}
	if cfg.o.concurrency != "" {
		log.Info("concurrency model: every session in its own goroutine, on every core (--concurrency "+cfg.o.concurrency+" needs nothing more)", "concurrency", cfg.o.concurrency)
	}
	if cfg.anonymousWrite != "" {
		log.Warn("the users file grants anonymous users write permission: anyone can upload, change or delete files", "perm", cfg.anonymousWrite)
	}
}

// startupSettings are the attributes of the start-up line.
func startupSettings(srv *pier.Server, cfg *config, addr net.Addr) []any {
	o := cfg.o
	return append([]any{
		"version", versionString(),
		"listen", addr.String(),
		"directory", describeDirectory(cfg),
		"login", describeLogin(cfg),
		"write", describeWrite(cfg),
		"passive_ports", srv.PassivePorts.String(),
		"nat_address", describeNAT(srv),
		"nat_address_for", describeNATRules(srv),
		"proxy_protocol_from", describeProxyNetworks(srv),
		"max_cons", o.maxCons,
		"max_cons_per_ip", o.maxConsPerIP,
		"timeout", o.timeout,
		"sendfile", !srv.DisableSendfile,
		"atomic_uploads", o.atomicUploads,
		"encoding", o.encoding,
		"ban_after", o.banAfter,
		"ban_time", o.banTime.String(),
		"max_login_attempts", o.maxLoginAttempts,
		"read_limit", srv.ReadLimit,
		"write_limit", srv.WriteLimit,
		"total_read_limit", srv.TotalReadLimit,
		"total_write_limit", srv.TotalWriteLimit,
		"log_level", levelName(logLevel(o)),
		"config", cmp.Or(o.configFile, "none"),
		"pid", os.Getpid(),
	}, s3Settings(cfg)...) // s3.go
}

func describeDirectory(cfg *config) string {
	if cfg.o.system.enabled {
		if cfg.o.system.noHomeJail {
			return "the whole file system, starting in each account's home"
		}
		return "each account's home (jailed)"
	}
	if cfg.o.usersFile != "" {
		return "each account's home, from the users file"
	}
	if cfg.o.db.url != "" {
		return "each account's home, from the database"
	}
	return cfg.dir
}

func describeLogin(cfg *config) string {
	switch {
	case cfg.o.system.enabled:
		return describeSystemUsers(cfg.o)
	case cfg.o.usersFile != "":
		return "users file " + cfg.user
	case cfg.o.db.url != "":
		return cfg.user // "database URL", its password redacted
	case !cfg.anonymous:
		return "user " + cfg.user
	}
	return "anonymous"
}

func describeWrite(cfg *config) string {
	if cfg.o.system.enabled {
		return "accounts " + cfg.o.system.systemUserPerm + " (as the files' permissions allow)"
	}
	if cfg.o.usersFile != "" {
		return "per account, from the users file"
	}
	if cfg.o.db.url != "" {
		return "per account, from the database"
	}
	return strconv.FormatBool(cfg.write)
}

func describeNAT(srv *pier.Server) string {
	if srv.PublicAddr.IsValid() {
		return srv.PublicAddr.String()
	}
	return "none"
}

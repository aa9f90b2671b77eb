package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"

	"github.com/spf13/pflag"

	"github.com/pierftp/pier"
)

// Reloading without a restart (SIGHUP, and the admin API's reload): the
// command line and the configuration file are read again, checked as at
// start (a mistake keeps everything as it was, and is logged), and what
// can change while sessions run is put in force for the logins that come
// after it: the accounts (users file, -u/-P, -w, -d, the system-users
// rules) with their permissions and homes, the limits, timeouts, bans
// and rates, and the log level. Sessions logged in keep the rights and
// per-session rates they logged in with until they log in again. The
// certificate files and revocation lists are read again, and the
// transfer log reopened. Settings that need a restart (addresses, ports,
// TLS mode, file paths other than the users file...) are logged as such
// when they changed.

// reloadable are the flags whose change a reload puts in force.
var reloadable = map[string]bool{
	// Accounts.
	"users-file": true, "username": true, "password": true, "write": true, "directory": true,
	"allowed-users": true, "rejected-users": true, "min-uid": true, "any-shell": true,
	"anonymous-user": true, "no-home-jail": true, "system-user-perm": true, "user-perm": true,
	// Limits.
	"timeout": true, "max-cons": true, "max-cons-per-ip": true, "max-login-attempts": true,
	"max-hashes": true, "slow-after-errors": true, "close-after-errors": true,
	"ban-after": true, "ban-time": true,
	"read-limit": true, "write-limit": true, "total-read-limit": true, "total-write-limit": true,
	// Logging.
	"debug": true, "verbose": true,
	// Read again on every reload whatever their value.
	"config": true,
}

// reloader re-reads pier's settings for a running server.
type reloader struct {
	mu   sync.Mutex // one reload at a time
	srv  *pier.Server
	cfg  *config // the configuration pier started with
	args []string
	// started are the flags pier started with: a setting that needs a
	// restart is compared with them, so that it is reported at every
	// reload until pier restarts.
	started *pflag.FlagSet
	addr    net.Addr // the control listener's address, for the log line
}

// reload reads and applies the settings; on error nothing changed.
func (r *reloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	log := r.cfg.logger
	sdNotify("RELOADING=1")
	defer sdNotify("READY=1")
	srv2, cfg2, fs2, err := r.read()
	if err != nil {
		log.Error("reload failed; keeping the settings in force", "err", err)
		return err
	}
	if err := r.srv.SetLimits(srv2.Limits()); err != nil {
		log.Error("reload failed; keeping the settings in force", "err", err)
		return err
	}
	r.srv.SetAuth(srv2.Auth)
	r.cfg.level.Set(logLevel(cfg2.o))
	r.reloadFiles(log)
	for _, name := range r.needRestart(fs2) {
		log.Warn("setting changed; it takes effect when pier restarts", "setting", name)
	}
	logStartupWarnings(cfg2)
	cfg2.logger = log
	log.Info("reloaded the configuration", startupSettings(srv2, cfg2, r.addr)...)
	return nil
}

// read parses the command line and the configuration file again, and
// configures a Server from them without creating or starting anything.
func (r *reloader) read() (*pier.Server, *config, *pflag.FlagSet, error) {
	var o options
	fs := newFlagSet(&o)
	if code, exit := parseFlags(fs, &o, r.args, io.Discard, io.Discard); exit {
		return nil, nil, nil, fmt.Errorf("command line: exit status %d", code)
	}
	var cf *configFile
	if o.configFile != "" {
		var err error
		if cf, err = applyConfigFile(fs, o.configFile); err != nil {
			return nil, nil, nil, err
		}
	}
	srv, cfg, err := configureWith(&config{o: &o, write: o.write, stderr: io.Discard, dryRun: true}, fs, io.Discard)
	if err != nil {
		return nil, nil, nil, reloadError(err, cf)
	}
	if cf != nil {
		cfg.warnings = append(cf.warnings, cfg.warnings...)
	}
	return srv, cfg, fs, nil
}

// reloadError names the configuration file's line that set the flag a
// configure error is about, as pier does at start.
func reloadError(err error, cf *configFile) error {
	var ue *usageError
	if errors.As(err, &ue) {
		return errors.New(cf.locate(err.Error()))
	}
	return err
}

// reloadFiles reads the certificate files and revocation lists again and
// reopens the transfer log.
func (r *reloader) reloadFiles(log *slog.Logger) {
	r.cfg.xferlog.reopen(log)
	if crl := r.cfg.clientCerts.crlReloader(); crl != nil {
		crl.Reload() // OnReload logs the outcome
	}
	if r.cfg.reloader != nil {
		r.cfg.reloader.Reload() // OnReload logs the outcome
	}
}

// needRestart lists the settings of fs whose values differ from those
// pier started with and that a reload does not change.
func (r *reloader) needRestart(fs *pflag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) {
		if reloadable[f.Name] {
			return
		}
		if old := r.started.Lookup(f.Name); old != nil && old.Value.String() != f.Value.String() {
			names = append(names, f.Name)
		}
	})
	slices.Sort(names)
	return names
}

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
	if err == nil && cfg2.o.db.url != r.cfg.o.db.url {
		// The accounts would move to another database, or to none, or
		// from files to a database not migrated yet: only at a restart.
		err = errors.New("--db changed: the accounts' database changes only when pier restarts")
	}
	var token string
	if err == nil {
		token, err = r.adminToken()
	}
	if err == nil {
		err = r.srv.SetLimits(srv2.Limits())
	}
	if err != nil {
		log.Error("reload failed; keeping the settings in force", "err", err)
		return err
	}
	r.srv.SetAuth(srv2.Auth)
	r.cfg.level.Set(logLevel(cfg2.o))
	if h := r.cfg.o.admin.handler; h != nil && token != "" {
		h.SetToken(token)
	}
	r.reloadFiles(log)
	for _, name := range r.needRestart(fs2) {
		log.Warn("setting changed; it takes effect when pier restarts", "setting", name)
	}
	cfg2.logger = log
	logStartupWarnings(cfg2)
	r.keepRestartOnly(srv2, cfg2)
	log.Info("reloaded the configuration", startupSettings(srv2, cfg2, r.addr)...)
	return nil
}

// adminToken reads the --admin-token-file again ("" without one): a
// rotated token takes effect at the reload. A file that is no longer
// fit (empty, readable by others) fails the reload.
func (r *reloader) adminToken() (string, error) {
	if r.cfg.o.admin.tokenFile == "" {
		return "", nil
	}
	return readTokenFile(r.cfg.o.admin.tokenFile)
}

// keepRestartOnly puts into the reloaded settings, for the log line, the
// values in force of those that need a restart, so that the line says
// what pier does.
func (r *reloader) keepRestartOnly(srv2 *pier.Server, cfg2 *config) {
	srv2.PassivePorts, srv2.PublicAddr = r.srv.PassivePorts, r.srv.PublicAddr
	srv2.PublicAddrFor, srv2.ProxyProtocolFrom = r.srv.PublicAddrFor, r.srv.ProxyProtocolFrom
	srv2.DisableSendfile = r.srv.DisableSendfile
	cfg2.o.atomicUploads, cfg2.o.encoding = r.cfg.o.atomicUploads, r.cfg.o.encoding
	cfg2.o.configFile = r.cfg.o.configFile
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
// configure error is about, in pier check-config's form.
func reloadError(err error, cf *configFile) error {
	var ue *usageError
	if errors.As(err, &ue) && cf != nil {
		return errors.New(settingError(cf, err.Error()))
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

package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/tlscert"
)

// config is what serve needs beyond the Server.
type config struct {
	dir       string
	logger    *slog.Logger
	anonymous bool
	user      string
	write     bool
	o         *options
	// implicitAddr is the implicit-FTPS listen address, "" if off.
	implicitAddr string
	reloader     *tlscert.Reloader
	clientCerts  *clientCerts // nil without --tls-client-ca
	// metrics is the registry served at --metrics, nil if off.
	metrics *prometheus.Registry
	// warnings are logged at start (from the configuration file).
	warnings []string
	// anonymousWrite is the anonymous account's letters when the users
	// file lets it write, for the start-up warning.
	anonymousWrite string
	// uploadRoots are the folders opened with --atomic-uploads while
	// configuring; serving is set when pier starts serving, after which
	// openRoot (at a login) records none.
	uploadRoots []uploadRoot
	serving     atomic.Bool
	// xferlog is the --xferlog file, nil if off.
	xferlog *transferLog
	// s3 serves buckets: --s3-bucket, s3:// homes (s3.go).
	s3 *s3Store
	// stderr takes start-up errors after configure (a busy port).
	stderr io.Writer
	// dryRun is pier check-config's: the steps check what they would
	// create or write (the --xferlog file) without creating or writing it.
	dryRun bool
	// reload re-reads the configuration and users files and applies what
	// can change without a restart (reload.go); SIGHUP and the admin API
	// call it. Nil until serve sets it.
	reload func() error
	// level is the log level, which a reload changes.
	level *slog.LevelVar
	// args and flags are the command line and the flags pier started
	// with, for reloads.
	args  []string
	flags *pflag.FlagSet
}

// configure checks the options and turns them into a Server, and into what
// serve needs besides. A bad flag or value gives a *usageError.
func configure(o *options, fs *pflag.FlagSet, stderr io.Writer) (*pier.Server, *config, error) {
	return configureWith(&config{o: o, write: o.write, stderr: stderr}, fs, stderr)
}

// configureWith is configure with a config from the caller: check-config's
// has dryRun set.
func configureWith(cfg *config, fs *pflag.FlagSet, stderr io.Writer) (*pier.Server, *config, error) {
	o := cfg.o
	srv := &pier.Server{}
	steps := []func() error{
		func() error { return configureTLS(o, srv, cfg) },
		func() error { return configureNetwork(o, srv, cfg) },
		func() error { return configureDirectory(o, cfg) },
		func() error { return configureS3(o, fs, cfg) },
		func() error { return checkAccountFlags(o, fs) },
		func() error { return checkSystemFlags(o, fs) },
		func() error { return checkDBFlags(o, fs) },
		func() error { return configureLimits(o, srv) },
		func() error { return configureSession(o, srv) },
		func() error { return configureLogging(o, srv, cfg, stderr) },
		func() error { return configureXferlog(o, srv, cfg) },
		func() error { return configureAccounts(o, srv, cfg) },
		func() error { return configureClientCerts(o, fs, srv, cfg) },
		func() (err error) { cfg.metrics, err = configureMetrics(o.metricsAddr, srv); return err },
		func() error { return configureAdmin(o, srv, cfg) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, nil, err
		}
	}
	return srv, cfg, nil
}

// configureDirectory finds the absolute path of the served folder (-d, or
// the current folder) and checks that it is one.
func configureDirectory(o *options, cfg *config) error {
	dir := o.directory
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return fmt.Errorf("current folder: %w", err)
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return usagef("--directory %q: %v", o.directory, err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return usagef("--directory %q: no such directory", o.directory)
	}
	cfg.dir = dir
	return nil
}

// configureSession checks and sets what each session says and does: the
// banner, the encoding of names, times, zero-copy transfers; and takes
// pyftpdlib's --concurrency.
func configureSession(o *options, srv *pier.Server) error {
	switch o.concurrency {
	case "", "async", "multi-thread", "multi-proc", "pre-fork":
	default:
		return usagef("--concurrency %q: choose between async, multi-thread, multi-proc and pre-fork", o.concurrency)
	}
	if err := pier.ValidateEncoding(o.encoding); err != nil {
		return usagef("--encoding %q: unknown encoding", o.encoding)
	}
	if o.banner == "" {
		return usagef("--banner: must not be empty")
	}
	srv.Banner = o.banner
	srv.Encoding = o.encoding
	srv.UseLocalTime = o.useLocaltime
	srv.DisableSendfile = o.disableSendfile
	return nil
}

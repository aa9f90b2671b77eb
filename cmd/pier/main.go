// Command pier is a ready-to-run FTP server: with no flags it shares the
// current folder, read-only and anonymous, on port 2121 of every interface.
//
//	pier               # share this folder, read-only
//	pier -w            # let anyone upload (anonymous write; logs a warning)
//	pier -u me -P pw   # one user with a password instead of anonymous
//
// Run "pier --help" for every flag.
package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/local"
	"github.com/pierftp/pier/tlscert"
)

// version is set at build time with -ldflags "-X main.version=..."; if
// empty, the module version from the build info is used.
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed command-line flags.
type options struct {
	iface, directory, natAddress, portRange string
	port                                    int
	write, debug, showVersion, verbose      bool
	help                                    bool
	username, password                      string
	tls, tlsControlRequired                 bool
	tlsDataRequired                         bool
	tlsSelfSigned, tlsAllowNoReuse          bool
	tlsImplicitPort                         int
	certfile, keyfile                       string
	timeout                                 int
	banner, encoding, logFormat             string
	usersFile                               string
	configFile                              string
	metricsAddr                             string
	concurrency                             string
	readLimit, writeLimit                   string
	banAfter                                int
	banTime                                 time.Duration
	totalReadLimit, totalWriteLimit         string
	permitForeign, permitPrivileged         bool
	useLocaltime, disableSendfile           bool
	maxCons, maxConsPerIP, maxLoginAttempts int
}

func newFlagSet(o *options) *pflag.FlagSet {
	fs := pflag.NewFlagSet("pier", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringVarP(&o.iface, "interface", "i", "", "listen on `ADDR` (default: all interfaces, IPv4 and IPv6)")
	fs.IntVarP(&o.port, "port", "p", 2121, "control `PORT`")
	fs.BoolVarP(&o.write, "write", "w", false, "grant write permission (to anonymous too, with a warning)")
	fs.StringVarP(&o.directory, "directory", "d", "", "the folder `DIR` that is served (default: the current folder)")
	fs.StringVarP(&o.natAddress, "nat-address", "n", "", "IPv4 `ADDR` to advertise in PASV replies, for a server behind NAT (default: none)")
	fs.StringVarP(&o.portRange, "range", "r", "", "passive data ports `FROM-TO` (default: any free port)")
	fs.BoolVarP(&o.debug, "debug", "D", false, "log every command and reply (PASS masked)")
	fs.BoolVarP(&o.showVersion, "version", "v", false, "print the version and exit")
	fs.BoolVarP(&o.verbose, "verbose", "V", false, "more detailed logging: also data connections and every refused command")
	fs.StringVarP(&o.username, "username", "u", "", "a login `NAME`; needs --password; anonymous is then off (default: anonymous)")
	fs.StringVarP(&o.password, "password", "P", "", "the `PASS`word of --username")
	fs.BoolVar(&o.tls, "tls", false, "enable FTPS (AUTH TLS); needs --certfile and --keyfile, or --tls-self-signed")
	fs.StringVar(&o.certfile, "certfile", "", "PEM certificate `FILE` (chain) for --tls; reloaded when it changes and on SIGHUP")
	fs.StringVar(&o.keyfile, "keyfile", "", "PEM private key `FILE` for --tls (default: the --certfile)")
	fs.BoolVar(&o.tlsControlRequired, "tls-control-required", false, "refuse login before AUTH TLS")
	fs.BoolVar(&o.tlsDataRequired, "tls-data-required", false, "refuse data transfers without PROT P")
	fs.BoolVar(&o.tlsSelfSigned, "tls-self-signed", false, "enable FTPS with a self-signed certificate made in memory (its fingerprint is logged); for quick tries")
	fs.IntVar(&o.tlsImplicitPort, "tls-implicit-port", 0, "also listen for implicit FTPS (TLS from the first byte) on this `PORT`, conventionally 990; 0: off")
	fs.BoolVar(&o.tlsAllowNoReuse, "tls-allow-no-reuse", false, "accept protected data connections that don't resume the control connection's TLS session (stock Python ftplib); weaker")
	fs.IntVar(&o.timeout, "timeout", 300, "idle timeout of the control connection and stall timeout of transfers, in `SECONDS`; 0 disables")
	fs.StringVar(&o.banner, "banner", pier.DefaultBanner, "the 220 greeting `TEXT`")
	fs.BoolVar(&o.permitForeign, "permit-foreign-addresses", false, "allow data connections to or from other hosts than the client (FXP)")
	fs.BoolVar(&o.permitPrivileged, "permit-privileged-ports", false, "allow PORT/EPRT to ports below 1024")
	fs.StringVar(&o.encoding, "encoding", "utf-8", "encoding `NAME` of file names on the wire (an IANA name such as latin1, or Python's spelling such as latin-1 or cp1252)")
	fs.BoolVar(&o.useLocaltime, "use-localtime", false, "local times in listings and MDTM instead of GMT")
	fs.BoolVar(&o.disableSendfile, "disable-sendfile", false, "no zero-copy transfers (sendfile, splice)")
	fs.IntVar(&o.maxCons, "max-cons", 512, "most simultaneous connections (`N`); the next gets 421; 0 means no limit")
	fs.IntVar(&o.maxConsPerIP, "max-cons-per-ip", 0, "most simultaneous connections (`N`) from one address; 0 means no limit")
	fs.IntVar(&o.maxLoginAttempts, "max-login-attempts", 3, "failed logins (`N`) before disconnect")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `FORMAT`: text or json")
	fs.IntVar(&o.banAfter, "ban-after", pier.DefaultBanAfter, "ban an address after `N` failed logins across its connections within --ban-time; 0: no bans")
	fs.DurationVar(&o.banTime, "ban-time", pier.DefaultBanTime, "how long a ban lasts, and the window failures count in (`DURATION`: 90s, 15m, 1h)")
	fs.StringVar(&o.readLimit, "read-limit", "0", "most bytes per second each session may upload (`RATE`, with K/M/G suffixes: 512K, 10M); 0: no limit")
	fs.StringVar(&o.writeLimit, "write-limit", "0", "most bytes per second each session may download (`RATE`); 0: no limit")
	fs.StringVar(&o.totalReadLimit, "total-read-limit", "0", "most bytes per second all uploads together may take (`RATE`); 0: no limit")
	fs.StringVar(&o.totalWriteLimit, "total-write-limit", "0", "most bytes per second all downloads together may take (`RATE`); 0: no limit")
	fs.StringVar(&o.usersFile, "users-file", "", "read accounts from `FILE` (lines name:hash:perms:home; make hashes with \"pier passwd\") instead of -u/-P or anonymous")
	fs.StringVar(&o.concurrency, "concurrency", "", "pyftpdlib's server `MODEL` (async, multi-thread, multi-proc, pre-fork), taken so that its command lines run: pier always serves each session in its own goroutine, on every core")
	fs.StringVar(&o.metricsAddr, "metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (HOST:PORT, such as 127.0.0.1:9121; no authentication); default: off")
	fs.StringVarP(&o.configFile, "config", "c", "", "read settings from `FILE`: lines name = value, names as the long flags here; flags on the command line win")
	fs.BoolVarP(&o.help, "help", "h", false, "show this help and exit")
	return fs
}

// flagUsages lays out the flags one per line, with their value names and
// defaults.
func flagUsages(fs *pflag.FlagSet) string {
	type row struct{ left, right string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		left := "      --" + f.Name
		if f.Shorthand != "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		right := f.Usage
		if f.Value.Type() != "bool" {
			varname, usage := pflag.UnquoteUsage(f)
			left += " " + varname
			right = usage
			if f.DefValue != "" && !strings.Contains(usage, "(default") {
				right += fmt.Sprintf(" (default %s)", f.DefValue)
			}
		}
		width = max(width, len(left))
		rows = append(rows, row{left, right})
	})
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s   %s\n", width, r.left, r.right)
	}
	return b.String()
}

// usageError is a bad flag or value: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "passwd" {
		return runPasswd(args[1:], os.Stdin, stdout, stderr)
	}
	var o options
	fs := newFlagSet(&o)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "pier: %v (see pier --help)\n", err)
		return 2
	}
	if o.help {
		fmt.Fprintf(stdout, "Usage: pier [flags]\n\nStart an FTP server that shares a folder (by default: this one, read-only,\nanonymous, on port 2121).\n\nFlags:\n%s", flagUsages(fs))
		return 0
	}
	if o.showVersion {
		fmt.Fprintln(stdout, "pier", versionString())
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pier: unexpected argument %q (see pier --help)\n", fs.Arg(0))
		return 2
	}
	var cf *configFile
	if o.configFile != "" {
		var err error
		if cf, err = applyConfigFile(fs, o.configFile); err != nil {
			fmt.Fprintf(stderr, "pier: %v\n", err)
			return 2
		}
	}
	srv, cfg, err := configure(&o, fs, stderr)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "pier: %s\n", cf.locate(err.Error()))
			return 2
		}
		fmt.Fprintf(stderr, "pier: %v\n", err)
		return 1
	}
	if cf != nil {
		cfg.warnings = cf.warnings
	}
	return serve(srv, cfg)
}

// config is what serve needs beyond the Server.
type config struct {
	addr      string
	dir       string
	logger    *slog.Logger
	anonymous bool
	user      string
	write     bool
	o         *options
	// implicitAddr is the implicit-FTPS listen address, "" if off.
	implicitAddr string
	reloader     *tlscert.Reloader
	// metrics is the registry served at --metrics, nil if off.
	metrics *prometheus.Registry
	// warnings are logged at start (from the configuration file).
	warnings []string
	// anonymousWrite is the anonymous account's letters when the users
	// file lets it write, for the start-up warning.
	anonymousWrite string
}

// configureTLS checks the TLS flags and builds the TLS configuration; nil
// when FTPS is off.
func configureTLS(o *options) (*tls.Config, *tlscert.Reloader, error) {
	if o.tlsSelfSigned {
		if o.certfile != "" || o.keyfile != "" {
			return nil, nil, usagef("--tls-self-signed and --certfile/--keyfile exclude each other")
		}
		o.tls = true
	}
	if !o.tls {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"certfile", o.certfile != ""}, {"keyfile", o.keyfile != ""},
			{"tls-control-required", o.tlsControlRequired}, {"tls-data-required", o.tlsDataRequired},
			{"tls-implicit-port", o.tlsImplicitPort != 0}, {"tls-allow-no-reuse", o.tlsAllowNoReuse},
		} {
			if f.set {
				return nil, nil, usagef("--%s needs --tls", f.name)
			}
		}
		return nil, nil, nil
	}
	if o.tlsImplicitPort < 0 || o.tlsImplicitPort > 65535 {
		return nil, nil, usagef("--tls-implicit-port %d: must be between 1 and 65535", o.tlsImplicitPort)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.tlsSelfSigned {
		cert, err := tlscert.SelfSigned("localhost", "127.0.0.1", "::1")
		if err != nil {
			return nil, nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
		return cfg, nil, nil
	}
	if o.certfile == "" {
		return nil, nil, usagef("--tls needs --certfile and --keyfile (or --tls-self-signed)")
	}
	keyfile := o.keyfile
	if keyfile == "" {
		keyfile = o.certfile
	}
	r, err := tlscert.NewReloader(o.certfile, keyfile)
	if err != nil {
		return nil, nil, usagef("--certfile/--keyfile: %v", err)
	}
	cfg.GetCertificate = r.GetCertificate
	return cfg, r, nil
}

func configure(o *options, fs *pflag.FlagSet, stderr io.Writer) (*pier.Server, *config, error) {
	tlsConfig, reloader, err := configureTLS(o)
	if err != nil {
		return nil, nil, err
	}
	if o.port < 0 || o.port > 65535 {
		return nil, nil, usagef("--port %d: must be between 0 and 65535", o.port)
	}
	host := o.iface
	if host != "" {
		if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err != nil {
			if _, err := net.LookupHost(host); err != nil {
				return nil, nil, usagef("--interface %q: not an address of this machine", host)
			}
		}
	}
	addr := net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(o.port))

	dir := o.directory
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return nil, nil, fmt.Errorf("current folder: %w", err)
		}
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, nil, usagef("--directory %q: %v", o.directory, err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, nil, usagef("--directory %q: no such directory", o.directory)
	}

	if o.username == auth.AnonymousName {
		return nil, nil, usagef("--username %s: anonymous is what pier serves without --username, and it takes any password", o.username)
	}
	if fs.Changed("password") && o.username == "" {
		return nil, nil, usagef("--password needs --username")
	}
	if o.username != "" && !fs.Changed("password") {
		return nil, nil, usagef("--username needs --password")
	}

	var nat netip.Addr
	if o.natAddress != "" {
		nat, err = netip.ParseAddr(o.natAddress)
		if err != nil || !nat.Unmap().Is4() {
			return nil, nil, usagef("--nat-address %q: must be an IPv4 address", o.natAddress)
		}
		nat = nat.Unmap()
	}
	var ports pier.PortRange
	if o.portRange != "" {
		if ports, err = parseRange(o.portRange); err != nil {
			return nil, nil, usagef("--range %q: %v", o.portRange, err)
		}
	}
	if o.timeout < 0 {
		return nil, nil, usagef("--timeout %d: must be 0 or more", o.timeout)
	}
	if o.maxCons < 0 || o.maxConsPerIP < 0 {
		return nil, nil, usagef("--max-cons and --max-cons-per-ip must be 0 or more")
	}
	if o.banAfter < 0 {
		return nil, nil, usagef("--ban-after %d: must be 0 or more", o.banAfter)
	}
	if o.banTime <= 0 {
		return nil, nil, usagef("--ban-time %s: must be positive", o.banTime)
	}
	switch o.concurrency {
	case "", "async", "multi-thread", "multi-proc", "pre-fork":
	default:
		return nil, nil, usagef("--concurrency %q: choose between async, multi-thread, multi-proc and pre-fork", o.concurrency)
	}
	if o.maxLoginAttempts < 1 {
		return nil, nil, usagef("--max-login-attempts %d: must be 1 or more", o.maxLoginAttempts)
	}
	if err := pier.ValidateEncoding(o.encoding); err != nil {
		return nil, nil, usagef("--encoding %q: unknown encoding", o.encoding)
	}
	if o.banner == "" {
		return nil, nil, usagef("--banner: must not be empty")
	}
	var limits [4]int64
	for i, f := range []struct{ name, value string }{
		{"read-limit", o.readLimit}, {"write-limit", o.writeLimit},
		{"total-read-limit", o.totalReadLimit}, {"total-write-limit", o.totalWriteLimit},
	} {
		if limits[i], err = parseRate(f.value); err != nil {
			return nil, nil, usagef("--%s %q: %v", f.name, f.value, err)
		}
	}
	logger, err := newLogger(o, stderr)
	if err != nil {
		return nil, nil, err
	}

	root, err := local.New(dir)
	if err != nil {
		return nil, nil, err
	}
	perm := pier.ReadPerms
	if o.write {
		perm = pier.AllPerms
	}
	if o.usersFile != "" && (o.username != "" || fs.Changed("password") || o.write || fs.Changed("directory")) {
		return nil, nil, usagef("--users-file excludes --username, --password, --write and --directory (homes and permissions come from the file)")
	}
	users := &auth.Virtual{}
	cfg := &config{addr: addr, dir: dir, logger: logger, write: o.write, o: o, reloader: reloader}
	if o.tlsImplicitPort != 0 {
		cfg.implicitAddr = net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(o.tlsImplicitPort))
	}
	if o.usersFile != "" {
		cfg.user = o.usersFile
		users, err = auth.LoadFile(o.usersFile, func(home string) (pier.FileSystem, error) { return local.New(home) })
		if err != nil {
			return nil, nil, usagef("--users-file: %v", err)
		}
		if perm, ok := users.Anonymous(); ok && perm.Writable() {
			cfg.anonymousWrite = string(perm)
		}
	} else if o.username != "" {
		cfg.user = o.username
		err = users.AddUser(o.username, auth.Account{Password: o.password, FS: root, Perm: perm})
	} else {
		cfg.anonymous = true
		err = users.AddAnonymous(auth.Account{FS: root, Perm: perm})
	}
	if err != nil {
		return nil, nil, err
	}

	timeout := time.Duration(o.timeout) * time.Second
	if o.timeout == 0 {
		timeout = -1
	}
	maxCons := o.maxCons
	if maxCons == 0 {
		maxCons = -1
	}
	srv := &pier.Server{
		Addr:                   addr,
		Auth:                   users,
		Banner:                 o.banner,
		PassivePorts:           ports,
		PublicAddr:             nat,
		IdleTimeout:            timeout,
		DataTimeout:            timeout,
		MaxConnections:         maxCons,
		MaxConnectionsPerIP:    o.maxConsPerIP,
		MaxLoginAttempts:       o.maxLoginAttempts,
		PermitForeignAddresses: o.permitForeign,
		PermitPrivilegedPorts:  o.permitPrivileged,
		UseLocalTime:           o.useLocaltime,
		DisableSendfile:        o.disableSendfile,
		Encoding:               o.encoding,
		Logger:                 logger,
		BanAfter:               banAfter(o.banAfter),
		BanTime:                o.banTime,
		ReadLimit:              limits[0],
		WriteLimit:             limits[1],
		TotalReadLimit:         limits[2],
		TotalWriteLimit:        limits[3],
		TLSConfig:              tlsConfig,
		TLSControlRequired:     o.tlsControlRequired,
		TLSDataRequired:        o.tlsDataRequired,
		TLSAllowNoReuse:        o.tlsAllowNoReuse,
	}
	if cfg.metrics, err = configureMetrics(o.metricsAddr, srv); err != nil {
		return nil, nil, err
	}
	return srv, cfg, nil
}

// logTLS logs the FTPS settings and the certificate's fingerprint, which a
// user compares with what the client shows before trusting it.
func logTLS(log *slog.Logger, srv *pier.Server, cfg *config) {
	var cert *tls.Certificate
	source := "self-signed, in memory"
	if cfg.reloader != nil {
		cert = cfg.reloader.Certificate()
		source = cfg.o.certfile
		cfg.reloader.OnReload = func(err error) {
			if err != nil {
				log.Error("certificate reload failed; keeping the old one", "err", err)
			} else {
				log.Info("certificate reloaded", "sha256", tlscert.Fingerprint(cfg.reloader.Certificate()))
			}
		}
	} else if len(srv.TLSConfig.Certificates) > 0 {
		cert = &srv.TLSConfig.Certificates[0]
	}
	log.Info("FTPS enabled",
		"certificate", source,
		"sha256", tlscert.Fingerprint(cert),
		"control_required", srv.TLSControlRequired,
		"data_required", srv.TLSDataRequired,
		"session_reuse_required", !srv.TLSAllowNoReuse)
}

// banAfter maps the flag (0: off) to the Server field (negative: off).
func banAfter(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// parseRate parses a rate in bytes per second with an optional K, M or G
// suffix (powers of 1024): "0", "30720", "512K", "10M".
func parseRate(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "/S"), "B")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, errors.New("want bytes per second such as 30720, 512K or 10M")
	}
	return n * mult, nil
}

// parseRange parses "FROM-TO", an inclusive passive port range.
func parseRange(s string) (pier.PortRange, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return pier.PortRange{}, errors.New("expected FROM-TO")
	}
	first, err1 := strconv.Atoi(strings.TrimSpace(a))
	last, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return pier.PortRange{}, errors.New("expected FROM-TO")
	}
	if first < 1 || last > 65535 || first > 65535 || last < 1 {
		return pier.PortRange{}, errors.New("port numbers must be between 1 and 65535")
	}
	if first > last {
		return pier.PortRange{}, errors.New("FROM must not be greater than TO")
	}
	return pier.PortRange{First: uint16(first), Last: uint16(last)}, nil
}

func newLogger(o *options, w io.Writer) (*slog.Logger, error) {
	level := slog.LevelInfo
	if o.verbose {
		level = pier.LevelVerbose
	}
	if o.debug {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level, ReplaceAttr: verboseName}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, usagef("--log-format %q: must be text or json", o.logFormat)
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

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// serve listens, logs the settings, and runs until SIGINT or SIGTERM: the
// first signal shuts down gracefully (transfers finish), a second one closes
// everything at once.
func serve(srv *pier.Server, cfg *config) int {
	log := cfg.logger
	// Take the signals before anything is logged: a SIGHUP that arrives
	// right after the start-up lines must reload, not kill.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(sigs)
	defer signal.Stop(hup)
	ln, err := pier.Listen(cfg.addr)
	if err != nil {
		log.Error("can't listen", "err", err)
		return 1
	}
	// The metrics address is taken before the start-up lines, so that a
	// busy one stops pier before it says it started.
	var metricsLn net.Listener
	if cfg.metrics != nil {
		if metricsLn, err = net.Listen("tcp", cfg.o.metricsAddr); err != nil {
			log.Error("can't listen for metrics", "err", err)
			ln.Close()
			return 1
		}
	}
	who := "anonymous"
	switch {
	case cfg.o.usersFile != "":
		who = "users file " + cfg.user
	case !cfg.anonymous:
		who = "user " + cfg.user
	}
	servedDir := cfg.dir
	if cfg.o.usersFile != "" {
		servedDir = "each account's home, from the users file"
	}
	nat := "none"
	if srv.PublicAddr.IsValid() {
		nat = srv.PublicAddr.String()
	}
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
	write := strconv.FormatBool(cfg.write)
	if cfg.o.usersFile != "" {
		write = "per account, from the users file"
	}
	log.Info("starting pier FTP server",
		"version", versionString(),
		"listen", ln.Addr().String(),
		"directory", servedDir,
		"login", who,
		"write", write,
		"passive_ports", srv.PassivePorts.String(),
		"nat_address", nat,
		"max_cons", cfg.o.maxCons,
		"max_cons_per_ip", cfg.o.maxConsPerIP,
		"timeout", cfg.o.timeout,
		"sendfile", !srv.DisableSendfile,
		"encoding", cfg.o.encoding,
		"ban_after", cfg.o.banAfter,
		"ban_time", cfg.o.banTime.String(),
		"read_limit", srv.ReadLimit,
		"write_limit", srv.WriteLimit,
		"config", cmp.Or(cfg.o.configFile, "none"),
		"pid", os.Getpid(),
	)
	if cfg.o.iface == "" {
		log.Info("listening on all interfaces, IPv4 and IPv6", "port", ln.Addr().(*net.TCPAddr).Port)
	}
	nListeners := 1
	done := make(chan error, 2)
	if srv.TLSConfig != nil {
		logTLS(log, srv, cfg)
		if cfg.implicitAddr != "" {
			iln, err := pier.Listen(cfg.implicitAddr)
			if err != nil {
				log.Error("can't listen for implicit FTPS", "err", err)
				ln.Close()
				return 1
			}
			log.Info("implicit FTPS listening", "listen", iln.Addr().String())
			nListeners++
			go func() { done <- srv.ServeTLS(iln) }()
		}
	}

	if metricsLn != nil {
		defer serveMetrics(log, metricsLn, cfg.metrics)()
	}
	go func() {
		for range hup {
			if cfg.reloader == nil {
				log.Info("SIGHUP: no certificate files to reload")
				continue
			}
			log.Info("SIGHUP: reloading the certificate")
			cfg.reloader.Reload() // OnReload logs the outcome
		}
	}()
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		log.Error("server stopped", "err", err)
		srv.Close()
		return 1
	case sig := <-sigs:
		log.Info("received signal; shutting down, running transfers finish first (signal again to stop at once)", "signal", sig.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sigs
		log.Info("second signal: closing every connection now")
		cancel()
	}()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
		// Let the closed sessions log their end and run their hooks,
		// for a moment at most: this is the "at once" stop.
		wait, cancelWait := context.WithTimeout(context.Background(), 2*time.Second)
		srv.Shutdown(wait)
		cancelWait()
	}
	for range nListeners {
		<-done
	}
	log.Info("pier stopped")
	return 0
}

// runPasswd is "pier passwd": it reads a password (without echo on a
// terminal, else the first line of standard input) and prints its hash for
// a users file.
func runPasswd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("pier passwd", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	useBcrypt := fs.Bool("bcrypt", false, "print a bcrypt hash instead of argon2id")
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		fmt.Fprintf(stderr, "pier passwd: %v (see pier passwd --help)\n", err)
		return 2
	}
	if *help {
		fmt.Fprintf(stdout, "Usage: pier passwd [--bcrypt]\n\nRead a password and print its hash (argon2id by default) for a users file\nline name:HASH:perms:home.\n\n%s", flagUsages(fs))
		return 0
	}
	var pass string
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			fmt.Fprintf(stderr, "pier passwd: %v\n", err)
			return 1
		}
		pass = string(b)
	} else {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(stderr, "pier passwd: no password on standard input")
			return 1
		}
		pass = strings.TrimRight(line, "\r\n")
	}
	if pass == "" {
		fmt.Fprintln(stderr, "pier passwd: empty password")
		return 1
	}
	hash, err := auth.HashPassword(pass)
	if *useBcrypt {
		hash, err = auth.HashPasswordBcrypt(pass)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pier passwd: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, hash)
	return 0
}

package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pierftp/pier"
)

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
	xferlog                                 string
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
	atomicUploads                           bool
	maxCons, maxConsPerIP, maxLoginAttempts int
	maxHashes                               int
	slowAfterErrors, closeAfterErrors       int
	maxLineLength                           int
	natAddressFor, proxyProtocolFrom        []string
	system                                  systemOptions
	s3                                      s3Options
	clientCert                              clientCertOptions
	admin                                   adminOptions
	db                                      dbOptions
}

// helpHeader comes before the flags in pier --help.
const helpHeader = `Usage: pier [flags]

Start an FTP server that shares a folder (by default: this one, read-only,
anonymous, on port 2121).

Flags:
`

// newFlagSet defines pier's flags, in the order --help lists them.
func newFlagSet(o *options) *pflag.FlagSet {
	fs := pflag.NewFlagSet("pier", pflag.ContinueOnError)
	fs.SortFlags = false
	addBasicFlags(fs, o)
	addTLSFlags(fs, o)
	addClientCertFlags(fs, o)
	addSessionFlags(fs, o)
	addServerFlags(fs, o)
	addSetupFlags(fs, o)
	addSystemFlags(fs, o)
	addS3Flags(fs, o)
	addAdminFlags(fs, o)
	addDBFlags(fs, o) // db.go
	return fs
}

// addBasicFlags defines the flags pyftpdlib's command line has, with the
// same short names.
func addBasicFlags(fs *pflag.FlagSet, o *options) {
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
}

// addTLSFlags defines the FTPS flags.
func addTLSFlags(fs *pflag.FlagSet, o *options) {
	fs.BoolVar(&o.tls, "tls", false, "enable FTPS (AUTH TLS); needs --certfile and --keyfile, or --tls-self-signed")
	fs.StringVar(&o.certfile, "certfile", "", "PEM certificate `FILE` (chain) for --tls; reloaded when it changes and on SIGHUP")
	fs.StringVar(&o.keyfile, "keyfile", "", "PEM private key `FILE` for --tls (default: the --certfile)")
	fs.BoolVar(&o.tlsControlRequired, "tls-control-required", false, "refuse login before AUTH TLS")
	fs.BoolVar(&o.tlsDataRequired, "tls-data-required", false, "refuse data transfers without PROT P")
	fs.BoolVar(&o.tlsSelfSigned, "tls-self-signed", false, "enable FTPS with a self-signed certificate made in memory (its fingerprint is logged); for quick tries")
	fs.IntVar(&o.tlsImplicitPort, "tls-implicit-port", 0, "also listen for implicit FTPS (TLS from the first byte) on this `PORT`, conventionally 990; 0: off")
	fs.BoolVar(&o.tlsAllowNoReuse, "tls-allow-no-reuse", false, "accept protected data connections that resume no TLS session of the same user from the same address (stock Python ftplib, curl limited to TLS 1.2); weaker")
}

// addSessionFlags defines the flags that shape what a session does.
func addSessionFlags(fs *pflag.FlagSet, o *options) {
	fs.IntVar(&o.timeout, "timeout", 300, "idle timeout of the control connection and stall timeout of transfers, in `SECONDS`; 0 disables")
	fs.IntVar(&o.maxLineLength, "max-line-length", pier.DefaultMaxLineLength, "longest command line, in `BYTES` (64 to 1048576); a longer one gets 500; raise it for longer paths")
	fs.StringVar(&o.banner, "banner", pier.DefaultBanner, "the 220 greeting `TEXT`")
	fs.BoolVar(&o.permitForeign, "permit-foreign-addresses", false, "allow data connections to or from other hosts than the client (FXP)")
	fs.BoolVar(&o.permitPrivileged, "permit-privileged-ports", false, "allow PORT/EPRT to ports below 1024")
	fs.StringSliceVar(&o.natAddressFor, "nat-address-for", nil, "`CIDR=ADDR`: advertise the IPv4 ADDR in PASV replies to clients of that network (the most specific wins; --nat-address for the others); repeatable, or comma-separated")
	fs.StringSliceVar(&o.proxyProtocolFrom, "proxy-protocol-from", nil, "accept, and require, PROXY protocol v1/v2 headers (HAProxy, load balancers) from these networks only (`CIDR[,CIDR...]`); the header's client is then the session's address; default: none")
	fs.StringVar(&o.encoding, "encoding", "utf-8", "encoding `NAME` of file names on the wire (an IANA name such as latin1, or Python's spelling such as latin-1 or cp1252)")
	fs.BoolVar(&o.useLocaltime, "use-localtime", false, "local times in listings and MDTM instead of GMT")
	fs.BoolVar(&o.disableSendfile, "disable-sendfile", false, "no zero-copy transfers (sendfile, splice)")
	fs.BoolVar(&o.atomicUploads, "atomic-uploads", false, "STOR writes to a hidden temporary and renames it over the file only when complete (after an fsync): an interrupted upload leaves the old file; APPE, STOR after REST and STOU still write in place; temporaries a crash left are removed at start")
}

// addServerFlags defines the server-wide limits and the log format.
func addServerFlags(fs *pflag.FlagSet, o *options) {
	fs.IntVar(&o.maxCons, "max-cons", 512, "most simultaneous connections (`N`); the next gets 421; 0 means no limit")
	fs.IntVar(&o.maxConsPerIP, "max-cons-per-ip", 0, "most simultaneous connections (`N`) from one address; 0 means no limit")
	fs.IntVar(&o.maxLoginAttempts, "max-login-attempts", 3, "failed logins (`N`) before disconnect")
	fs.IntVar(&o.maxHashes, "max-hashes", pier.DefaultMaxHashes, "most file hashes (`N`: HASH, XCRC, XMD5, XSHA1, XSHA256, XSHA512) computed at once; the next gets 450; 0 means no limit")
	fs.IntVar(&o.slowAfterErrors, "slow-after-errors", pier.DefaultSlowAfterErrors, "after `N` refused commands in a row, a session waits before each next one (10 ms, doubling up to 1 s); 0: never")
	fs.IntVar(&o.closeAfterErrors, "close-after-errors", pier.DefaultCloseAfterErrors, "after `N` refused commands in a row, a session gets 421 and is closed; 0: never")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `FORMAT`: text or json")
	fs.StringVar(&o.xferlog, "xferlog", "", "append a line per file transfer, complete or not, to `FILE` in the xferlog format (wu-ftpd, ProFTPD, vsftpd); reopened on SIGUSR1 or SIGHUP (logrotate); never holds a transfer: written from a queue, lines that don't fit are dropped and counted in a warning; default: off")
	fs.IntVar(&o.banAfter, "ban-after", pier.DefaultBanAfter, "ban an address after `N` failed logins across its connections within --ban-time; 0: no bans")
	fs.DurationVar(&o.banTime, "ban-time", pier.DefaultBanTime, "how long a ban lasts, and the window failures count in (`DURATION`: 90s, 15m, 1h)")
	fs.StringVar(&o.readLimit, "read-limit", "0", "most bytes per second each session may upload (`RATE`, with K/M/G suffixes: 512K, 10M); 0: no limit")
	fs.StringVar(&o.writeLimit, "write-limit", "0", "most bytes per second each session may download (`RATE`); 0: no limit")
	fs.StringVar(&o.totalReadLimit, "total-read-limit", "0", "most bytes per second all uploads together may take (`RATE`); 0: no limit")
	fs.StringVar(&o.totalWriteLimit, "total-write-limit", "0", "most bytes per second all downloads together may take (`RATE`); 0: no limit")
}

// addSetupFlags defines the flags for accounts, metrics, the configuration
// file and help.
func addSetupFlags(fs *pflag.FlagSet, o *options) {
	fs.StringVar(&o.usersFile, "users-file", "", "read accounts from `FILE` (lines name:hash:perms:home; make hashes with \"pier passwd\") instead of -u/-P or anonymous")
	fs.StringVar(&o.concurrency, "concurrency", "", "pyftpdlib's server `MODEL` (async, multi-thread, multi-proc, pre-fork), taken so that its command lines run: pier always serves each session in its own goroutine, on every core")
	fs.StringVar(&o.metricsAddr, "metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (HOST:PORT, such as 127.0.0.1:9121; no authentication); default: off")
	fs.StringVarP(&o.configFile, "config", "c", "", "read settings from `FILE`: lines name = value, names as the long flags here; flags on the command line win")
	fs.BoolVarP(&o.help, "help", "h", false, "show this help and exit")
}

// parseFlags parses args into o and handles --help, --version and flag
// errors; exit reports that run is over, with status code.
func parseFlags(fs *pflag.FlagSet, o *options, args []string, stdout, stderr io.Writer) (code int, exit bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	switch err := fs.Parse(args); {
	case err != nil:
		fmt.Fprintf(stderr, "pier: %v (see pier --help)\n", err)
		return 2, true
	case o.help:
		fmt.Fprintf(stdout, "%s%s", helpHeader, flagUsages(fs))
		return 0, true
	case o.showVersion:
		fmt.Fprintln(stdout, "pier", versionString())
		return 0, true
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "pier: unexpected argument %q (see pier --help)\n", fs.Arg(0))
		return 2, true
	}
	return 0, false
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
			if f.DefValue != "" && f.DefValue != "[]" && !strings.Contains(usage, "(default") {
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

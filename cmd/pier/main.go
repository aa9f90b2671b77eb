// Command pier is a ready-to-run FTP server: with no flags it shares the
// current folder, read-only and anonymous, on port 2121 of every interface.
//
//	pier               # share this folder, read-only
//	pier -w            # let anyone upload (anonymous write; logs a warning)
//	pier -u me -P pw   # one user with a password instead of anonymous
//
// Run "pier --help" for every flag.
//
// The package is laid out by concern: flags.go (the flags and --help),
// configfile.go (-c FILE), configure.go (options to a *pier.Server, with
// network.go, limits.go, tls.go and accounts.go for its parts), logging.go,
// serve.go (listeners, signals, shutdown), metrics.go and passwd.go
// ("pier passwd").
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=..."; if
// empty, the module version from the build info is used.
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command: it returns the exit status (2 for a usage
// error, 1 for any other failure).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "passwd" {
		return runPasswd(args[1:], os.Stdin, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "user" {
		return runUser(args[1:], os.Stdin, stdout, stderr) // user.go
	}
	if len(args) > 0 && args[0] == "sessions" {
		return runSessions(args[1:], stdout, stderr) // sessions.go
	}
	if len(args) > 0 && args[0] == "check-config" {
		return runCheckConfig(args[1:], stdout, stderr)
	}
	var o options
	fs := newFlagSet(&o)
	if code, exit := parseFlags(fs, &o, args, stdout, stderr); exit {
		return code
	}
	var cf *configFile
	if o.configFile != "" {
		var err error
		if cf, err = applyConfigFile(fs, o.configFile); err != nil {
			fmt.Fprintf(stderr, "pier: %v\n", err)
			return 2
		}
	}
	// The log's lines go out in batches (logwriter.go); everything else
	// run prints to stderr goes through the same writer, so that it keeps
	// its place among them, and all of it is written before pier exits.
	lw := newLogWriter(stderr, logFlushDelay)
	defer lw.Close()
	srv, cfg, err := configure(&o, fs, lw)
	if err != nil {
		return configureFailed(err, cf, lw)
	}
	if cf != nil {
		cfg.warnings = append(cf.warnings, cfg.warnings...)
	}
	cfg.args, cfg.flags = args, fs
	return serve(srv, cfg)
}

// configureFailed prints configure's error and returns the exit status: 2
// for a usage error (with the line of the configuration file that set the
// flag, if one did), 1 for anything else.
func configureFailed(err error, cf *configFile, stderr io.Writer) int {
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "pier: %s\n", cf.locate(err.Error()))
		return 2
	}
	fmt.Fprintf(stderr, "pier: %v\n", err)
	return 1
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

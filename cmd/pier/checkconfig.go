package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// checkConfigUsage is pier check-config's help.
const checkConfigUsage = `Usage: pier check-config FILE

Check a configuration file (pier --config FILE) as pier would at start:
its syntax, and every value (addresses, ports, the served folder, users
file, certificates, the --xferlog folder). Prints "FILE: OK" and exits 0,
or prints the first mistake as "FILE:LINE: message" and exits 2. It
creates, writes and listens on nothing.
`

// runCheckConfig is "pier check-config FILE". It runs configure as the
// daemon does, with the config's dryRun set, so that nothing is created
// (the --xferlog file) and nothing is started; it returns the exit status.
func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 1 && (args[0] == "-h" || args[0] == "--help"):
		fmt.Fprint(stdout, checkConfigUsage)
		return 0
	case len(args) != 1 || args[0] == "":
		fmt.Fprint(stderr, checkConfigUsage)
		return 2
	}
	file := args[0]
	var o options
	flags := newFlagSet(&o)
	o.configFile = file
	cf, err := applyConfigFile(flags, file)
	if err != nil {
		fmt.Fprintln(stderr, fileError(file, err.Error()))
		return 2
	}
	_, cfg, err := configureWith(&config{o: &o, write: o.write, stderr: io.Discard, dryRun: true}, flags, io.Discard)
	if err != nil {
		fmt.Fprintln(stderr, settingError(cf, err.Error()))
		return 2
	}
	for _, w := range append(cf.warnings, cfg.warnings...) {
		fmt.Fprintf(stderr, "%s: warning: %s\n", file, w)
	}
	fmt.Fprintf(stdout, "%s: OK\n", file)
	return 0
}

// fileError puts an error of applyConfigFile in check-config's form: those
// about a line already start with "FILE:LINE: "; those about the whole
// file ("--config: open FILE: no such file or directory") get "FILE: ".
func fileError(file, msg string) string {
	if strings.HasPrefix(msg, file+":") {
		return msg
	}
	if rest, ok := strings.CutPrefix(msg, "--config: "); ok {
		return file + ": " + rest
	}
	if _, rest, ok := strings.Cut(msg, `": `); ok && strings.HasPrefix(msg, "--config ") {
		return file + ": " + rest
	}
	return file + ": " + msg
}

// settingError puts configure's error in check-config's form,
// "FILE:LINE: message", with the line that set the first flag the message
// names (as configFile.locate finds it); "FILE: message" if no line of the
// file set one (a default that doesn't work here, such as the current
// folder).
func settingError(cf *configFile, msg string) string {
	for _, m := range flagName.FindAllStringSubmatch(msg, -1) {
		if line, ok := cf.applied[m[1]]; ok {
			return fmt.Sprintf("%s:%d: %s", cf.path, line, msg)
		}
	}
	return cf.path + ": " + msg
}

// checkXferlogDryRun checks, for check-config, what opening the --xferlog file
// would: that it is a file pier may append to or, if it doesn't exist
// yet, that its folder exists and pier may create files in it; without
// creating or opening anything.
func checkXferlogDryRun(path string) error {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return usagef("--xferlog %q: is a directory", path)
	case err == nil:
		if err := canWrite(path); err != nil {
			return usagef("--xferlog %q: %v", path, &fs.PathError{Op: "open", Path: path, Err: err})
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return usagef("--xferlog %q: %v", path, err)
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // as open would say it: "open FILE: no such file or directory"
		}
		return usagef("--xferlog %q: %v", path, &fs.PathError{Op: "open", Path: path, Err: err})
	} else if !st.IsDir() {
		return usagef("--xferlog %q: %s is not a directory", path, dir)
	}
	if err := canWrite(dir); err != nil {
		return usagef("--xferlog %q: can't create it in %s: %v", path, dir, err)
	}
	return nil
}

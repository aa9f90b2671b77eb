package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// A configuration file (--config FILE) holds the same settings as the
// flags, one a line, by the flag's long name:
//
//	# pier.conf
//	port = 21
//	directory = /srv/ftp
//	write = true
//	banner = "Welcome to ftp.example.org"
//
// A line that starts with # is a comment; # elsewhere is part of the
// value. A value may be written in double quotes, with Go's escapes (to
// keep spaces at its ends, or to write \n). A flag on the command line
// wins over the same setting in the file. A relative path in directory,
// certfile, keyfile or users-file is relative to the file's folder (~ is
// not expanded). The file is read at start, and again at each reload
// (reload.go).

// maxConfigSize bounds what --config reads: a configuration file is a few
// hundred bytes; anything near this is the wrong file.
const maxConfigSize = 1 << 20

// notInConfig are the flags a configuration file cannot set.
var notInConfig = map[string]bool{"config": true, "help": true, "version": true}

// pathSettings are the settings whose relative values are taken relative
// to the configuration file's folder.
var pathSettings = map[string]bool{"directory": true, "certfile": true, "keyfile": true, "users-file": true, "tls-client-ca": true, "tls-client-crl": true, "xferlog": true, "admin-token-file": true, "admin-client-ca": true}

// configFile is what applyConfigFile read: the settings it applied, by
// flag name, with their line numbers, and warnings to log once logging is
// set up.
type configFile struct {
	path     string
	applied  map[string]int
	warnings []string
}

// applyConfigFile sets, from the configuration file at path, every flag of
// fs that the command line did not set. Errors name the file and line.
func applyConfigFile(fs *pflag.FlagSet, path string) (*configFile, error) {
	data, perm, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	cf := &configFile{path: path, applied: map[string]int{}}
	seen, err := cf.apply(fs, data)
	if err != nil {
		return nil, err
	}
	_, password := seen["password"]
	if _, ok := seen["db"]; ok {
		if f := fs.Lookup("db"); f != nil && redactDB(f.Value.String()) != f.Value.String() {
			password = true // a URL with its password
		}
	}
	if password && perm&0o044 != 0 {
		cf.warnings = append(cf.warnings, fmt.Sprintf("%s holds a password and others can read it (mode %04o): chmod 600 it", path, perm))
	}
	return cf, nil
}

// readConfigFile reads the configuration file, which must be a regular
// file of at most maxConfigSize bytes, and returns its content, without a
// byte-order mark, and its permission bits.
func readConfigFile(path string) ([]byte, os.FileMode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, usagef("--config: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, usagef("--config: %v", err)
	}
	if !st.Mode().IsRegular() {
		return nil, 0, usagef("--config %q: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, 0, usagef("--config: %v", err)
	}
	if len(data) > maxConfigSize {
		return nil, 0, usagef("--config %q: larger than %d bytes", path, maxConfigSize)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF")) // a byte-order mark, from some editors
	return data, st.Mode().Perm(), nil
}

// apply sets the flags from the file's lines, and returns the line each
// setting is on.
func (cf *configFile) apply(fs *pflag.FlagSet, data []byte) (seen map[string]int, err error) {
	fromCLI := map[string]bool{}
	fs.Visit(func(fl *pflag.Flag) { fromCLI[fl.Name] = true })
	seen = map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxConfigSize)
	for n := 1; sc.Scan(); n++ {
		name, value, err := parseConfigLine(sc.Text(), fs)
		if err != nil {
			return nil, usagef("%s:%d: %v", cf.path, n, err)
		}
		if name == "" {
			continue
		}
		if first, ok := seen[name]; ok {
			return nil, usagef("%s:%d: %s is already set on line %d", cf.path, n, name, first)
		}
		seen[name] = n
		if !fromCLI[name] {
			if err := cf.set(fs, n, name, value); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, usagef("--config %q: %v", cf.path, err)
	}
	return seen, nil
}

// set sets one flag from line n of the file; a relative path is taken
// relative to the file's folder.
func (cf *configFile) set(fs *pflag.FlagSet, n int, name, value string) error {
	if pathSettings[name] && value != "" && !filepath.IsAbs(value) {
		value = filepath.Join(filepath.Dir(cf.path), value)
	}
	if err := fs.Set(name, value); err != nil {
		return usagef("%s:%d: %s: %v", cf.path, n, name, err)
	}
	cf.applied[name] = n
	return nil
}

// flagName finds the first --name in a usage error's message.
var flagName = regexp.MustCompile(`--([a-z][a-z0-9-]*)`)

// locate adds to an error about flags the place in the file where the
// first flag it names was set, if it was set there.
func (cf *configFile) locate(msg string) string {
	if cf == nil {
		return msg
	}
	for _, m := range flagName.FindAllStringSubmatch(msg, -1) {
		if line, ok := cf.applied[m[1]]; ok {
			return fmt.Sprintf("%s (%s, set in %s:%d)", msg, m[1], cf.path, line)
		}
	}
	return msg
}

// parseConfigLine splits one line into a flag name and its value. A blank
// line or a comment gives "". A boolean setting may stand alone (write
// means write = true).
func parseConfigLine(line string, fs *pflag.FlagSet) (name, value string, err error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", "", nil
	}
	name, value, hasValue := strings.Cut(line, "=")
	name = strings.TrimSpace(name)
	value = strings.TrimSpace(value)
	fl := fs.Lookup(name)
	switch {
	case name == "":
		return "", "", errors.New("a setting's name is missing before =")
	case fl == nil || notInConfig[name]:
		return "", "", fmt.Errorf("unknown setting %q (settings are the long flag names of pier --help, without --)", name)
	case !hasValue && fl.Value.Type() == "bool":
		return name, "true", nil
	case !hasValue:
		return "", "", fmt.Errorf("%s needs a value: %s = VALUE", name, name)
	}
	if strings.HasPrefix(value, `"`) {
		u, err := strconv.Unquote(value)
		if err != nil {
			return "", "", fmt.Errorf("%s: bad quoted value %s", name, value)
		}
		value = u
	}
	return name, value, nil
}

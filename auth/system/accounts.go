package system

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// The account databases are read in pure Go, without cgo or os/user, so
// that the binary stays static and a login never goes through NSS modules
// that may block. Only the files count: accounts from LDAP or NIS are not
// seen. A line that does not parse is skipped, as glibc's parsers do, so
// a broken line costs at most its own account.

// passwdEntry is one line of the passwd file, passwd(5):
// name:password:uid:gid:gecos:home:shell.
type passwdEntry struct {
	Name     string
	Password string // "x": the hash is in the shadow file
	UID, GID uint32
	Gecos    string
	Home     string
	Shell    string
}

// passwdDB is the passwd file by user name. The first line with a name
// wins, as with getpwnam(3).
type passwdDB map[string]passwdEntry

// parsePasswd parses a passwd file, skipping the lines that are malformed.
func parsePasswd(data []byte) passwdDB {
	db := make(passwdDB)
	for line := range entryLines(data) {
		f := strings.Split(line, ":")
		if len(f) != 7 || f[0] == "" {
			continue
		}
		uid, ok1 := parseID(f[2])
		gid, ok2 := parseID(f[3])
		if !ok1 || !ok2 {
			continue
		}
		if _, dup := db[f[0]]; dup {
			continue
		}
		db[f[0]] = passwdEntry{Name: f[0], Password: f[1], UID: uid, GID: gid, Gecos: f[4], Home: f[5], Shell: f[6]}
	}
	return db
}

// groupDB is the group file, group(5) (name:password:gid:members), as the
// groups each user name is listed in.
type groupDB struct {
	memberOf map[string][]uint32 // in file order, without duplicates
}

// parseGroup parses a group file, skipping the lines that are malformed.
func parseGroup(data []byte) groupDB {
	db := groupDB{memberOf: make(map[string][]uint32)}
	for line := range entryLines(data) {
		f := strings.Split(line, ":")
		if len(f) != 4 || f[0] == "" {
			continue
		}
		gid, ok := parseID(f[2])
		if !ok {
			continue
		}
		if f[3] == "" {
			continue
		}
		for _, member := range strings.Split(f[3], ",") {
			if member == "" || slices.Contains(db.memberOf[member], gid) {
				continue
			}
			db.memberOf[member] = append(db.memberOf[member], gid)
		}
	}
	return db
}

// groupsOf returns the groups of a user: its primary group first, then
// every group that lists its name as a member, each once.
func (db groupDB) groupsOf(name string, primary uint32) []uint32 {
	groups := []uint32{primary}
	for _, gid := range db.memberOf[name] {
		if gid != primary {
			groups = append(groups, gid)
		}
	}
	return groups
}

// shellsDB is the set of valid login shells, shells(5).
type shellsDB map[string]bool

// parseShells parses a shells file. As getusershell(3), it keeps only the
// lines that start with a "/", so comments and blank lines go.
func parseShells(data []byte) shellsDB {
	db := make(shellsDB)
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "/") {
			db[line] = true
		}
	}
	return db
}

// valid reports whether shell is a valid login shell. An empty shell field
// means /bin/sh, as login(1) reads it.
func (db shellsDB) valid(shell string) bool {
	if shell == "" {
		shell = "/bin/sh"
	}
	return db[shell]
}

// entryLines yields the lines of an account file without their line
// ends, leaving out blank lines, comments and the "+" and "-" lines of NIS
// compat mode, which name no local account.
func entryLines(data []byte) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for line := range strings.Lines(string(data)) {
			line = strings.TrimSuffix(line, "\n")
			if line == "" || strings.ContainsAny(line[:1], "#+-") {
				continue
			}
			if !yield(line) {
				return
			}
		}
	}
}

// parseID parses a user or group id. (uid_t)-1 is not one: chown(2) and
// setresuid(2) read it as "leave unchanged".
func parseID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == math.MaxUint32 {
		return 0, false
	}
	return uint32(n), true
}

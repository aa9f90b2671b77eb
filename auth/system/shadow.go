package system

import (
	"strconv"
	"strings"
	"time"
)

// shadowEntry is one line of the shadow file, shadow(5):
// name:password:lastchg:min:max:warn:inactive:expire:reserved. The day
// fields count days since 1970-01-01 (UTC); unset is -1.
type shadowEntry struct {
	Name     string
	Password string // the hash; "!" or "*" in front: locked
	// LastChange is the day of the last password change; 0 means the
	// password must be changed at the next login.
	LastChange int64
	// Min and Warn are the minimum password age and the warning period;
	// they say nothing about whether a login may happen.
	Min, Warn int64
	// Max is the maximum password age: after LastChange+Max the password
	// has expired.
	Max int64
	// Inactive is how many days after the password expired it is still
	// accepted (with a forced change); after that the account is inactive.
	Inactive int64
	// Expire is the day from which the account is disabled.
	Expire int64
}

// shadowDB is the shadow file by user name; the first line with a name
// wins, as with getspnam(3).
type shadowDB struct {
	byName map[string]shadowEntry
	// decoy is a hash from the file that the decoder reads, checked for
	// names that have none, so that they take as long as a real check
	// with the hashes this machine makes; "" if the file has none.
	decoy string
}

// parseShadow parses a shadow file, skipping the lines that are
// malformed. A line with only a name and a password is kept, as glibc's
// parser does, with no ageing.
func parseShadow(data []byte) shadowDB {
	db := shadowDB{byName: make(map[string]shadowEntry)}
	for line := range entryLines(data) {
		e, ok := parseShadowLine(line)
		if !ok {
			continue
		}
		if _, dup := db.byName[e.Name]; dup {
			continue
		}
		db.byName[e.Name] = e
		if db.decoy == "" && !locked(e.Password) {
			if _, err := decoder.Decode(e.Password); err == nil {
				db.decoy = e.Password
			}
		}
	}
	return db
}

// parseShadowLine parses one line of the shadow file.
func parseShadowLine(line string) (shadowEntry, bool) {
	f := strings.Split(line, ":")
	if f[0] == "" || (len(f) != 2 && len(f) != 9) {
		return shadowEntry{}, false
	}
	e := shadowEntry{Name: f[0], Password: f[1], LastChange: -1, Min: -1, Max: -1, Warn: -1, Inactive: -1, Expire: -1}
	if len(f) == 2 {
		return e, true
	}
	for i, field := range []*int64{&e.LastChange, &e.Min, &e.Max, &e.Warn, &e.Inactive, &e.Expire} {
		n, ok := parseDays(f[2+i])
		if !ok {
			return shadowEntry{}, false
		}
		*field = n
	}
	return e, true
}

// parseDays parses a day field: empty or -1 is unset (-1). Any other
// negative number, or one that does not fit 32 bits, makes the line
// malformed, so that an account with a field pier can't read can't log in
// rather than escape the rule.
func parseDays(s string) (int64, bool) {
	if s == "" {
		return -1, true
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < -1 {
		return 0, false
	}
	return n, true
}

// refusal says why the entry's account may not log in on day today, or
// returns "" if it may. It follows pam_unix's account check, except that a
// password that must be changed refuses the login instead of asking for
// a new one: FTP has no way to change it (vsftpd through PAM does the
// same).
func (e shadowEntry) refusal(today int64) string {
	switch {
	case e.Expire >= 0 && today >= e.Expire:
		// pam_unix reads 0 as expired too (shadow(5) says not to use it).
		return "account expired"
	case e.LastChange == 0:
		return "password must be changed"
	case e.LastChange > 0 && e.Max >= 0 && today > e.LastChange+e.Max:
		if e.Inactive >= 0 && today > e.LastChange+e.Max+e.Inactive {
			return "password expired and account inactive"
		}
		return "password expired"
	}
	return ""
}

// dayOf returns the day of t as the shadow file counts: days since
// 1970-01-01 UTC.
func dayOf(t time.Time) int64 {
	s := t.Unix()
	day := s / 86400
	if s%86400 < 0 {
		day--
	}
	return day
}

// locked reports whether a password field locks its account: "!" (passwd
// -l, usermod -L, "!!" from useradd) or "*" in front.
func locked(hash string) bool {
	return strings.HasPrefix(hash, "!") || strings.HasPrefix(hash, "*")
}

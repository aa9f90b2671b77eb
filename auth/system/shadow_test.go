package system

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseShadow(t *testing.T) {
	db := parseShadow([]byte(strings.Join([]string{
		"root:*:20228:0:99999:7:::",
		"alice:" + hashSHA512 + ":20000:0:99999:7:::",
		"alice:other:1:::::::", // a duplicate: the first wins
		"bob:" + hashMD5,       // name and password only
		"carol:!:20000::::::5", // the reserved field is not read
		"minus:x:-1:-1:-1:-1:-1:-1:",
		"negative:x:20000:-2::::::",
		"words:x:yesterday:::::::",
		"eight:x:20000:0:99999:7::",
		"ten:x:20000:0:99999:7::::",
		"huge:x:99999999999:::::::",
		":x:20000:::::::",
	}, "\n")))
	want := map[string]shadowEntry{
		"root":  {Name: "root", Password: "*", LastChange: 20228, Min: 0, Max: 99999, Warn: 7, Inactive: -1, Expire: -1},
		"alice": {Name: "alice", Password: hashSHA512, LastChange: 20000, Min: 0, Max: 99999, Warn: 7, Inactive: -1, Expire: -1},
		"bob":   {Name: "bob", Password: hashMD5, LastChange: -1, Min: -1, Max: -1, Warn: -1, Inactive: -1, Expire: -1},
		"carol": {Name: "carol", Password: "!", LastChange: 20000, Min: -1, Max: -1, Warn: -1, Inactive: -1, Expire: -1},
		"minus": {Name: "minus", Password: "x", LastChange: -1, Min: -1, Max: -1, Warn: -1, Inactive: -1, Expire: -1},
	}
	if len(db.byName) != len(want) {
		t.Errorf("got %d entries %v, want %d", len(db.byName), db.byName, len(want))
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			if got, ok := db.byName[name]; !ok || got != w {
				t.Errorf("got %+v (found %v), want %+v", got, ok, w)
			}
		})
	}
	if db.decoy != hashSHA512 {
		t.Errorf("decoy %q, want alice's hash (the first the decoder reads)", db.decoy)
	}
	if parseShadow([]byte("root:*:1::::::\nx:!"+hashSHA512+":1::::::\n")).decoy != "" {
		t.Error("a locked hash became the decoy")
	}
}

func TestShadowRefusal(t *testing.T) {
	const today = 20000
	entry := func(lastChange, max, inactive, expire int64) shadowEntry {
		return shadowEntry{LastChange: lastChange, Min: 0, Max: max, Warn: 7, Inactive: inactive, Expire: expire}
	}
	tests := []struct {
		name string
		e    shadowEntry
		want string
	}{
		{"no ageing", entry(-1, -1, -1, -1), ""},
		{"recent password", entry(today-10, 99999, -1, -1), ""},
		{"expires tomorrow", entry(today-10, -1, -1, today+1), ""},
		{"expires today", entry(today-10, -1, -1, today), "account expired"},
		{"expired yesterday", entry(today-10, -1, -1, today-1), "account expired"},
		{"expire 0, as pam_unix", entry(today-10, -1, -1, 0), "account expired"},
		{"must change", entry(0, 99999, -1, -1), "password must be changed"},
		{"must change, no max", entry(0, -1, -1, -1), "password must be changed"},
		{"last day of the password", entry(today-90, 90, -1, -1), ""},
		{"password expired", entry(today-91, 90, -1, -1), "password expired"},
		{"password expired, in the inactive period", entry(today-91, 90, 5, -1), "password expired"},
		{"last inactive day", entry(today-95, 90, 5, -1), "password expired"},
		{"account inactive", entry(today-96, 90, 5, -1), "password expired and account inactive"},
		{"max unset", entry(today-100000, -1, 5, -1), ""},
		{"max 0", entry(today-1, 0, -1, -1), "password expired"},
		{"changed in the future", entry(today+10, 1, -1, -1), ""},
		{"expiry first", entry(0, -1, -1, today), "account expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.refusal(today); got != tt.want {
				t.Errorf("refusal(%d) of %+v = %q, want %q", today, tt.e, got, tt.want)
			}
		})
	}
}

func TestDayOf(t *testing.T) {
	tests := []struct {
		t    time.Time
		want int64
	}{
		{time.Unix(0, 0), 0},
		{time.Unix(86399, 0), 0},
		{time.Unix(86400, 0), 1},
		{time.Unix(-1, 0), -1},
		{time.Date(2024, 10, 4, 23, 59, 0, 0, time.FixedZone("UTC-5", -5*3600)), 20001}, // already the 5th in UTC
	}
	for _, tt := range tests {
		if got := dayOf(tt.t); got != tt.want {
			t.Errorf("dayOf(%v) = %d, want %d", tt.t, got, tt.want)
		}
	}
}

func TestLocked(t *testing.T) {
	for hash, want := range map[string]bool{"!": true, "!!": true, "*": true, "!" + hashSHA512: true, "*LK*": true, hashSHA512: false, "": false} {
		if got := locked(hash); got != want {
			t.Errorf("locked(%q) = %v, want %v", hash, got, want)
		}
	}
}

// formatShadow writes an entry back as a shadow line.
func formatShadow(e shadowEntry) string {
	day := func(n int64) string {
		if n < 0 {
			return ""
		}
		return fmt.Sprint(n)
	}
	return strings.Join([]string{e.Name, e.Password, day(e.LastChange), day(e.Min), day(e.Max), day(e.Warn), day(e.Inactive), day(e.Expire), ""}, ":")
}

func FuzzParseShadow(f *testing.F) {
	f.Add([]byte("root:*:20228:0:99999:7:::\nalice:$6$rounds=1000$salt$hash:20000:0:99999:7:::\n"))
	f.Add([]byte("a:b\nc:d:-1:-1:-1:-1:-1:-1:\ne:f:-2::::::\n:::::::::\n"))
	f.Add([]byte("a:" + hashYescrypt + ":0::::::\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		db := parseShadow(data)
		for name, e := range db.byName {
			if name != e.Name || name == "" {
				t.Fatalf("entry %+v under name %q", e, name)
			}
			for _, n := range []int64{e.LastChange, e.Min, e.Max, e.Warn, e.Inactive, e.Expire} {
				if n < -1 {
					t.Fatalf("entry %+v: a day below -1", e)
				}
			}
			line := formatShadow(e)
			if again := parseShadow([]byte(line)).byName[name]; again != e {
				t.Fatalf("%q parses to %+v, want %+v", line, again, e)
			}
			if reason := e.refusal(20000); reason != "" && !strings.Contains(reason, "expired") && !strings.Contains(reason, "changed") {
				t.Fatalf("refusal of %+v: %q", e, reason)
			}
		}
	})
}

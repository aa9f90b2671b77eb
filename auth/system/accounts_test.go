package system

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParsePasswd(t *testing.T) {
	db := parsePasswd([]byte(strings.Join([]string{
		"root:x:0:0:root:/root:/bin/bash",
		"alice:x:1000:1000:Alice A,,,:/home/alice:/bin/bash",
		"alice:x:1500:1500::/home/other:/bin/sh", // a duplicate: the first wins
		"# a comment",
		"",
		"+nisuser::::::",
		"-nisuser2::::::",
		"short:x:1001:1001::/home/short",         // 6 fields
		"long:x:1002:1002::/home/long:/bin/sh:x", // 8 fields
		":x:1003:1003::/home/noname:/bin/sh",     // no name
		"baduid:x:abc:1004::/home/b:/bin/sh",
		"negative:x:-1:1005::/home/n:/bin/sh",
		"minus1:x:4294967295:1006::/home/m:/bin/sh", // (uid_t)-1
		"big:x:4294967296:1007::/home/big:/bin/sh",
		"plus:x:+5:1008::/home/plus:/bin/sh",
		"nogid:x:1009::::/bin/sh",
		"emptyshell:*:1010:1010:::",
		"last:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin", // no final newline
	}, "\n")))
	want := map[string]passwdEntry{
		"root":       {Name: "root", Password: "x", UID: 0, GID: 0, Gecos: "root", Home: "/root", Shell: "/bin/bash"},
		"alice":      {Name: "alice", Password: "x", UID: 1000, GID: 1000, Gecos: "Alice A,,,", Home: "/home/alice", Shell: "/bin/bash"},
		"emptyshell": {Name: "emptyshell", Password: "*", UID: 1010, GID: 1010},
		"last":       {Name: "last", Password: "x", UID: 65534, GID: 65534, Gecos: "nobody", Home: "/nonexistent", Shell: "/usr/sbin/nologin"},
	}
	if len(db) != len(want) {
		t.Errorf("got %d entries %v, want %d", len(db), db, len(want))
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			if got, ok := db[name]; !ok || got != w {
				t.Errorf("got %+v (found %v), want %+v", got, ok, w)
			}
		})
	}
}

func TestParseGroup(t *testing.T) {
	db := parseGroup([]byte(strings.Join([]string{
		"root:x:0:",
		"alice:x:1000:",
		"devs:x:2000:alice,bob",
		"www-data:x:33:alice",
		"again:x:2000:alice", // gid 2000 again: once in alice's list
		"twice:x:2001:alice,alice",
		"trailing:x:2002:bob,",
		"bad:x:abc:alice",
		"short:x:2003",
		":x:2004:alice",
		"# comment:x:2005:alice",
	}, "\n")))
	tests := []struct {
		name    string
		primary uint32
		want    []uint32
	}{
		{"alice", 1000, []uint32{1000, 2000, 33, 2001}},
		{"alice", 33, []uint32{33, 2000, 2001}}, // the primary once, first
		{"bob", 1001, []uint32{1001, 2000, 2002}},
		{"carol", 1002, []uint32{1002}},
		{"", 5, []uint32{5}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.name, tt.primary), func(t *testing.T) {
			if got := db.groupsOf(tt.name, tt.primary); !slices.Equal(got, tt.want) {
				t.Errorf("groupsOf = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseShells(t *testing.T) {
	db := parseShells([]byte("# /etc/shells: valid login shells\n/bin/sh\n  /bin/bash  \n\nbin/relative\n/usr/bin/zsh # not a comment\n/bin/dash"))
	tests := []struct {
		shell string
		want  bool
	}{
		{"/bin/sh", true},
		{"/bin/bash", true},
		{"/bin/dash", true},
		{"", true}, // login(1): /bin/sh
		{"bin/relative", false},
		{"/usr/sbin/nologin", false},
		{"/usr/bin/zsh", false},
		{"# /etc/shells: valid login shells", false},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			if got := db.valid(tt.shell); got != tt.want {
				t.Errorf("valid(%q) = %v, want %v", tt.shell, got, tt.want)
			}
		})
	}
	if parseShells(nil).valid("") {
		t.Error("an empty shells file lets in the empty shell")
	}
}

// formatPasswd writes an entry back as a passwd line.
func formatPasswd(e passwdEntry) string {
	return fmt.Sprintf("%s:%s:%d:%d:%s:%s:%s", e.Name, e.Password, e.UID, e.GID, e.Gecos, e.Home, e.Shell)
}

func FuzzParsePasswd(f *testing.F) {
	f.Add([]byte("root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n"))
	f.Add([]byte("a:b:1:2:c:d:e\n:::::::\n+::::::\n#x:x:1:1:::\n"))
	f.Add([]byte("x:x:4294967295:0:::\r\ny:y:01:02:::\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		db := parsePasswd(data)
		for name, e := range db {
			if name != e.Name || name == "" {
				t.Fatalf("entry %+v under name %q", e, name)
			}
			line := formatPasswd(e)
			if strings.Count(line, ":") != 6 || strings.Contains(line, "\n") {
				t.Fatalf("entry %+v holds a separator", e)
			}
			if again := parsePasswd([]byte(line)); again[name] != e {
				t.Fatalf("%q parses to %+v, want %+v", line, again[name], e)
			}
		}
	})
}

func FuzzParseGroup(f *testing.F) {
	f.Add([]byte("devs:x:2000:alice,bob\nwww:x:33:alice\n"), "alice", uint32(1000))
	f.Add([]byte("a:x:1:,,a,,\n:x:2:a\nb:x:-1:a\n"), "a", uint32(1))
	f.Fuzz(func(t *testing.T, data []byte, name string, primary uint32) {
		groups := parseGroup(data).groupsOf(name, primary)
		if len(groups) == 0 || groups[0] != primary {
			t.Fatalf("groupsOf(%q, %d) = %v: the primary group is not first", name, primary, groups)
		}
		seen := make(map[uint32]bool)
		for _, g := range groups {
			if seen[g] {
				t.Fatalf("groupsOf(%q, %d) = %v: %d twice", name, primary, groups, g)
			}
			seen[g] = true
		}
	})
}

func FuzzParseShells(f *testing.F) {
	f.Add([]byte("# comment\n/bin/sh\n/bin/bash\n"))
	f.Add([]byte(" /bin/sh \r\n\n/"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for shell := range parseShells(data) {
			if !strings.HasPrefix(shell, "/") || strings.TrimSpace(shell) != shell {
				t.Fatalf("shell %q kept", shell)
			}
		}
	})
}

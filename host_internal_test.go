package pier

import (
	"strings"
	"testing"
)

func TestParseHostArg(t *testing.T) {
	for _, tt := range []struct {
		arg, name string
		addr      bool
	}{
		{"ftp.example.com", "ftp.example.com", false},
		{"FTP.Example.COM", "ftp.example.com", false},
		{"xn--e1afmkfd.com", "xn--e1afmkfd.com", false},
		{"a", "a", false},
		{"1a-b.c2", "1a-b.c2", false},
		{"192.0.2.1", "192.0.2.1", true},
		{"[2001:DB8::C000:201]", "[2001:db8::c000:201]", true},
		{"[::192.0.2.1]", "[::c000:201]", true},
		{"1.2.3", "1.2.3", false}, // not an address: a name, which no host has
		{"", "", false},
		{"a:21", "", false},
		{"[::1]:21", "", false},
		{"2001:db8::1", "", false},
		{"[192.0.2.1]", "", false},
		{"[fe80::1%lo]", "", false},
		{"a.-b", "", false},
		{"a-.b", "", false},
		{"a.", "", false},
		{"é.example", "", false},
		{strings.Repeat("a", 63), strings.Repeat("a", 63), false},
		{strings.Repeat("a", 64), "", false},
	} {
		got, ok := parseHostArg(tt.arg)
		if ok != (tt.name != "") || got.name != tt.name || got.addr.IsValid() != tt.addr {
			t.Errorf("parseHostArg(%q) = %+v, %v; want %q (address: %v)", tt.arg, got, ok, tt.name, tt.addr)
		}
	}
}

// FuzzParseHostArg: what HOST accepts is a lower-case name or address that
// parses again to itself, and never carries a port.
func FuzzParseHostArg(f *testing.F) {
	for _, seed := range []string{"ftp.example.com", "192.0.2.1", "[2001:db8::1]", "[::1]:21", "a..b", "xn--e1afmkfd.com", "A-B.C"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		h, ok := parseHostArg(arg)
		if !ok {
			return
		}
		if h.name != strings.ToLower(h.name) || len(h.name) > 253+2 {
			t.Fatalf("%q: name %q", arg, h.name)
		}
		if strings.Contains(strings.Trim(h.name, "[]"), "]") || !h.addr.IsValid() && strings.ContainsAny(h.name, ":[]") {
			t.Fatalf("%q: name %q", arg, h.name)
		}
		again, ok := parseHostArg(h.name)
		if !ok || again != h {
			t.Fatalf("%q: %q parses to %+v, %v", arg, h.name, again, ok)
		}
	})
}

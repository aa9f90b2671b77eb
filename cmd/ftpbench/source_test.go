package main

import (
	"io"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestSourcePicker: the addresses of a prefix in turn, without its first
// and last where it has four or more, wrapping around.
func TestSourcePicker(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		want   []string // the first picks, in order
	}{
		{"127.5.0.0/30", []string{"127.5.0.1", "127.5.0.2", "127.5.0.1"}},
		{"127.5.0.8/29", []string{"127.5.0.9", "127.5.0.10", "127.5.0.11", "127.5.0.12", "127.5.0.13", "127.5.0.14", "127.5.0.9"}},
		{"127.5.0.4/31", []string{"127.5.0.4", "127.5.0.5", "127.5.0.4"}},
		{"127.5.0.7", []string{"127.5.0.7", "127.5.0.7"}},
		{"127.5.0.250/23", []string{"127.5.0.1"}}, // masked to 127.5.0.0/23
		{"fd00::/126", []string{"fd00::1", "fd00::2", "fd00::1"}},
		{"::ffff:127.5.0.0/126", []string{"127.5.0.1", "127.5.0.2", "127.5.0.1"}}, // IPv4 in IPv6's form
	} {
		p, err := parseSource(tc.prefix)
		if err != nil {
			t.Fatalf("%s: %v", tc.prefix, err)
		}
		s := newSourcePicker(p)
		for i, w := range tc.want {
			if got := s.pick().IP.String(); got != w {
				t.Errorf("%s: pick %d = %s, want %s", tc.prefix, i, got, w)
			}
		}
	}

	// a /23 crosses a byte: its 256th address, and its last usable one
	s := newSourcePicker(netip.MustParsePrefix("127.5.0.0/23"))
	var last string
	for i := range 510 {
		got := s.pick().IP.String()
		if i == 255 && got != "127.5.1.0" {
			t.Errorf("pick 255 = %s, want 127.5.1.0", got)
		}
		last = got
	}
	if last != "127.5.1.254" {
		t.Errorf("pick 509 = %s, want 127.5.1.254", last)
	}
	if got := s.pick().IP.String(); got != "127.5.0.1" {
		t.Errorf("pick 510 = %s, want 127.5.0.1 (wrapped)", got)
	}

	// a large prefix: at most maxSources addresses
	s = newSourcePicker(netip.MustParsePrefix("127.0.0.0/8"))
	if s.n != maxSources {
		t.Errorf("/8: %d addresses, want %d", s.n, maxSources)
	}
}

func TestSourceFlag(t *testing.T) {
	for _, bad := range []string{"127.0.0.0/33", "nonsense", "127.0.0.1/x"} {
		if _, err := parseFlags([]string{"-u", "a", "-p", "b", "--source", bad}, io.Discard); err == nil || !strings.Contains(err.Error(), "--source") {
			t.Errorf("--source %s: error %v, want one naming --source", bad, err)
		}
	}
	o, err := parseFlags([]string{"-u", "a", "-p", "b", "--source", "::1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newBench(o, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "family") {
		t.Errorf("IPv6 source for 127.0.0.1: %v, want an error about the family", err)
	}
	// TEST-NET-1 (RFC 5737) is no machine's own address
	o, err = parseFlags([]string{"-u", "a", "-p", "b", "--source", "192.0.2.0/24"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newBench(o, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not an address of this machine") {
		t.Errorf("--source 192.0.2.0/24: %v, want an error naming the address as not the machine's", err)
	}
}

// TestSource: with --source, the server sees the clients come from the
// prefix's addresses, and transfers work (their data connections come
// from their control connection's address, which the server requires).
func TestSource(t *testing.T) {
	srv, log := loggedServer(t)
	results := runBench(t, benchArgs(t, srv, "-b", "logins,retr-many,stor-many", "-n", "8", "--source", "127.77.0.0/29", "--quiet")...)
	for _, r := range results {
		if r.Errors != 0 {
			t.Errorf("%s: %d errors", r.Workload, r.Errors)
		}
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`remote=(\d+\.\d+\.\d+\.\d+):\d+`).FindAllStringSubmatch(log.String(), -1) {
		seen[m[1]] = true
	}
	var got []string
	for a := range seen {
		got = append(got, a)
	}
	sort.Strings(got)
	want := "127.77.0.1 127.77.0.2 127.77.0.3 127.77.0.4 127.77.0.5 127.77.0.6"
	if strings.Join(got, " ") != want {
		t.Errorf("the server saw clients from %v, want %s", got, want)
	}
}

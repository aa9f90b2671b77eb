package main

import (
	"testing"
)

func TestParseRate(t *testing.T) {
	cases := map[string]int64{"0": 0, "30720": 30720, "512K": 512 << 10, "10M": 10 << 20, "1g": 1 << 30, "2MB/s": 2 << 20, " 7 ": 7}
	for in, want := range cases {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1.5M", "K", "99999999999G"} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) accepted", bad)
		}
	}
}

func TestParseRange(t *testing.T) {
	cases := []struct {
		in          string
		first, last uint16
		ok          bool
	}{
		{"60000-61000", 60000, 61000, true},
		{"5000-5000", 5000, 5000, true},
		{"1-65535", 1, 65535, true},
		{"0-10", 0, 0, false},
		{"10-", 0, 0, false},
		{"-10", 0, 0, false},
		{"a-b", 0, 0, false},
		{"100", 0, 0, false},
		{"200-100", 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			r, err := parseRange(c.in)
			if (err == nil) != c.ok || r.First != c.first || r.Last != c.last {
				t.Fatalf("parseRange(%q) = %v, %v", c.in, r, err)
			}
		})
	}
}

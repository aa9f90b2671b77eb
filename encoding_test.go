package pier_test

// Wire encodings other than UTF-8 (--encoding).

import (
	"strings"
	"sync"
	"testing"

	"github.com/pierftp/pier"
)

// TestEncodingConcurrent: a stateful wire encoding shared by sessions must
// not race (run with -race).
func TestEncodingConcurrent(t *testing.T) {
	srv := newServer(t, func(s *pier.Server) { s.Encoding = "ISO-2022-JP" })
	writeFile(t, srv, "日本語.txt", []byte("x"))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := login(t, srv)
			for range 5 {
				c.Retrieve(t, "NLST")
			}
		})
	}
	wg.Wait()
}

// TestEncodingNames: the spellings pyftpdlib's --encoding takes (Python's)
// are accepted; encodings that don't keep ASCII as it is are not.
func TestEncodingNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"latin1", "latin-1", "iso8859-1", "ISO_8859_1", "cp1252", "windows-1252", "ascii", "us-ascii", "mac-roman", "cp437", "iso8859_15", "latin-2", "latin9", "cp932", "u8", "shift_jis", "UTF-8", "utf8"} {
		if err := pier.ValidateEncoding(name); err != nil {
			t.Errorf("ValidateEncoding(%q): %v", name, err)
		}
	}
	for _, name := range []string{"utf-16", "UTF-16LE", "utf-32", "no-such", "cp", "cpx"} {
		if err := pier.ValidateEncoding(name); err == nil {
			t.Errorf("ValidateEncoding(%q) accepted", name)
		}
	}
}

// TestEncodingUnencodable: with a one-byte encoding, a name it can't hold
// is shown with '?', not the character set's control byte SUB (0x1A);
// OPTS UTF8 OFF agrees that UTF-8 is off.
func TestEncodingUnencodable(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(s *pier.Server) { s.Encoding = "latin1" })
	writeFile(t, srv, "日本é.txt", []byte("x"))
	c := login(t, srv)
	got := string(c.Retrieve(t, "NLST"))
	if !strings.Contains(got, "??\xe9.txt") || strings.Contains(got, "\x1a") {
		t.Errorf("NLST: %q, want ??\\xe9.txt (é in latin1)", got)
	}
	c.Expect(t, "OPTS UTF8 OFF", 200)
	c.Expect(t, "OPTS UTF8 ON", 504)
	u := login(t, newServer(t, nil))
	u.Expect(t, "OPTS UTF8 OFF", 504)
}

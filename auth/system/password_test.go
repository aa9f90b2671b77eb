package system

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Hashes of "secret" made by libxcrypt's crypt(3) on Debian 12 (perl -e
// 'print crypt("secret", $salt)'), so that these tests check go-crypt
// against the C library even when not run as root.
const (
	hashYescrypt = "$y$j9T$Q1xm0cK7bNwE3uVzTgHkP.$2SwM0HfG8JbDuXVbllS5s7ez5WA1VLWoLbAZeSe79f5"
	hashSHA512   = "$6$rounds=1000$Zx8Kq2LmNp4Rs6Tu$7c.MRBkS3onsEBPiGYBp08hJdbHJvVtPNO3cnsQBi.OEbn9XpqOUsYo20p7ogO.73QxUsyRx2vOMIQrF4jU5V/"
	hashSHA256   = "$5$rounds=1000$Ab3Cd5Ef7Gh9Ij1K$mZHwS8zUULfVqH896tcplN6cpPERWRv3G4NNU/7mDu1"
	hashBcrypt   = "$2b$04$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW"
	hashMD5      = "$1$Xy7Zw3Vq$MTcDR5p2AEzzbo7DI7hCX1"
)

func TestMatchSchemes(t *testing.T) {
	for _, hash := range []string{
		hashYescrypt, hashSHA512, hashSHA256, hashBcrypt, hashMD5,
		"$2a$" + strings.TrimPrefix(hashBcrypt, "$2b$"),
		"$2y$" + strings.TrimPrefix(hashBcrypt, "$2b$"),
	} {
		t.Run(scheme(hash), func(t *testing.T) {
			d, reason := decode(hash)
			if d == nil {
				t.Fatalf("decode: %s", reason)
			}
			for pass, want := range map[string]bool{"secret": true, "Secret": false, "secret ": false, "": false} {
				ok, err := match(context.Background(), d, pass)
				if err != nil || ok != want {
					t.Errorf("match(%q) = %v, %v; want %v", pass, ok, err, want)
				}
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		hash, reason string
	}{
		{"", "empty password field"},
		{"!", "password locked"},
		{"!!", "password locked"},
		{"*", "password locked"},
		{"!" + hashSHA512, "password locked"},
		{"abCDefGHijKLm", `unsupported or malformed password hash (scheme "")`}, // DES
		{"$2x$" + strings.TrimPrefix(hashBcrypt, "$2b$"), `(scheme "$2x$")`},
		{"$plaintext$secret", `(scheme "$plaintext$")`},
		{"$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", `(scheme "$argon2id$")`},
		{"$6$", `(scheme "$6$")`},
		{"$y$j9T$salt", `(scheme "$y$")`},
		{"$1$abc", `(scheme "$1$")`},
		{"$2b$04$short", `(scheme "$2b$")`},
	}
	for _, tt := range tests {
		t.Run(tt.hash, func(t *testing.T) {
			d, reason := decode(tt.hash)
			if d != nil || !strings.Contains(reason, tt.reason) {
				t.Errorf("decode = %v, %q; want nil, %q", d, reason, tt.reason)
			}
		})
	}
}

func TestFallbackDecoy(t *testing.T) {
	if _, err := decoder.Decode(fallbackDecoy); err != nil {
		t.Fatalf("fallback decoy: %v", err)
	}
	for _, decoy := range []string{"", "garbage", hashMD5} {
		if err := decoyMatch(context.Background(), decoy, "secret"); err != nil {
			t.Errorf("decoyMatch(%q): %v", decoy, err)
		}
	}
}

func TestMatchWaitsForSlot(t *testing.T) {
	// Take every slot: a check must wait, and give up when ctx ends.
	for range cap(hashSlots) {
		hashSlots <- struct{}{}
	}
	defer func() {
		for range cap(hashSlots) {
			<-hashSlots
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, _ := decode(hashMD5)
	if _, err := match(ctx, d, "secret"); !errors.Is(err, context.Canceled) {
		t.Errorf("match with every slot taken: %v, want context.Canceled", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, h := range []string{hashYescrypt, hashSHA512, hashSHA256, hashBcrypt, hashMD5, "$6$$", "$y$$$", "$2b$$"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, hash string) {
		if d, reason := decode(hash); (d == nil) == (reason == "") {
			t.Fatalf("decode(%q) = %v, %q", hash, d, reason)
		}
	})
}

package system

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/go-crypt/crypt"
	"github.com/go-crypt/crypt/algorithm"
	"github.com/go-crypt/crypt/algorithm/bcrypt"
	"github.com/go-crypt/crypt/algorithm/md5crypt"
	"github.com/go-crypt/crypt/algorithm/scrypt"
	"github.com/go-crypt/crypt/algorithm/shacrypt"
)

// decoder reads the crypt(3) hashes a shadow file holds: yescrypt ($y$,
// Debian's default since 11), sha512-crypt ($6$), sha256-crypt ($5$),
// bcrypt ($2b$, $2a$, $2y$) and md5-crypt ($1$). Nothing else: no
// plaintext, and not the broken $2x$ bcrypt. DES crypt (13 characters,
// no "$") is not read either, so its accounts can't log in.
var decoder = newDecoder()

func newDecoder() *crypt.Decoder {
	d := crypt.NewDecoder()
	bcryptStandard := bcrypt.DecodeVariant(bcrypt.VariantStandard)
	for _, err := range []error{
		scrypt.RegisterDecoderYescrypt(d),
		shacrypt.RegisterDecoder(d),
		md5crypt.RegisterDecoderCommon(d),
		d.RegisterDecodeFunc(bcrypt.AlgIdentifier, bcryptStandard),
		d.RegisterDecodeFunc(bcrypt.AlgIdentifierVerA, bcryptStandard),
		d.RegisterDecodeFunc(bcrypt.AlgIdentifierVerY, bcryptStandard),
	} {
		if err != nil {
			panic("system: password decoder: " + err.Error()) // a programming error
		}
	}
	return d
}

// fallbackDecoy is checked for names without a hash when the shadow file
// has no hash to use (a yescrypt hash as Debian makes them, of a password
// nobody knows).
const fallbackDecoy = "$y$j9T$Hq7cXbN2uYw.fE1kPzR/s0$OE7wP0sE9CEp92G/HfxwZc/SlRY1xBdqwgqa/JfIi5D"

// hashSlots bounds how many password hashes are checked at once, as in
// package auth: a yescrypt check takes 16 MiB with Debian's settings, and
// a login storm must not take the machine's memory.
var hashSlots = make(chan struct{}, 2*runtime.GOMAXPROCS(0))

// decode reads a password field. It returns a reason for the log if the
// field can't be checked: empty, locked or in no format the decoder reads.
func decode(hash string) (algorithm.Digest, string) {
	switch {
	case hash == "":
		return nil, "empty password field"
	case locked(hash):
		return nil, "password locked"
	}
	d, err := decoder.Decode(hash)
	if err != nil {
		// The scheme only: the rest of the hash has no business in a log.
		return nil, fmt.Sprintf("unsupported or malformed password hash (scheme %q)", scheme(hash))
	}
	return d, ""
}

// scheme returns the "$id$" that starts a crypt(3) hash, or "" if it has
// none.
func scheme(hash string) string {
	if !strings.HasPrefix(hash, "$") {
		return ""
	}
	if i := strings.IndexByte(hash[1:], '$'); i >= 0 && i < 16 {
		return hash[:i+2]
	}
	return ""
}

// match reports whether pass matches the digest, waiting for a free hash
// slot first. It fails only if ctx ends while it waits.
func match(ctx context.Context, d algorithm.Digest, pass string) (bool, error) {
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("system: wait to check a password: %w", ctx.Err())
	}
	defer func() { <-hashSlots }()
	ok, err := d.MatchAdvanced(pass)
	return ok && err == nil, nil
}

// decoyMatch checks pass against the decoy hash and drops the result, so
// that a name without a hash to check (unknown, locked, or with a hash
// pier can't read) takes as long to refuse as a wrong password. It fails
// only if ctx ends while it waits.
func decoyMatch(ctx context.Context, decoy, pass string) error {
	d, err := decoder.Decode(decoy)
	if err != nil {
		d, _ = decoder.Decode(fallbackDecoy)
	}
	_, err = match(ctx, d, pass)
	return err
}

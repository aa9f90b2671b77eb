package pier

import (
	"fmt"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/ianaindex"
)

// wireCodec converts file names between the wire's character set and the
// server's (UTF-8). For UTF-8, the default (RFC 2640), names pass through as
// raw bytes both ways: a name that is not valid UTF-8 on disk is listed as
// is, and a client that sends the same bytes back reaches the same file.
type wireCodec struct {
	name string
	utf8 bool
	// enc makes an encoder or decoder per call: they keep state and are
	// not safe for concurrent use, and every session shares the codec.
	enc encoding.Encoding
}

func newWireCodec(name string) (*wireCodec, error) {
	switch strings.ToLower(strings.ReplaceAll(name, "_", "-")) {
	case "", "utf-8", "utf8":
		return &wireCodec{name: "utf-8", utf8: true}, nil
	}
	e, err := ianaindex.IANA.Encoding(name)
	if err != nil || e == nil {
		return nil, fmt.Errorf("pier: unknown encoding %q", name)
	}
	return &wireCodec{name: name, enc: e}, nil
}

// ValidateEncoding reports whether name is an encoding Server.Encoding
// accepts.
func ValidateEncoding(name string) error {
	_, err := newWireCodec(name)
	return err
}

// decode turns a line from the wire into UTF-8.
func (c *wireCodec) decode(s string) string {
	if c == nil || c.utf8 {
		return s
	}
	if isASCII(s) {
		return s
	}
	out, err := c.enc.NewDecoder().String(s)
	if err != nil {
		return s
	}
	return out
}

// encode turns UTF-8 text into the wire's character set; characters it
// lacks become '?'.
func (c *wireCodec) encode(s string) string {
	if c == nil || c.utf8 || isASCII(s) {
		return s
	}
	out, err := encoding.ReplaceUnsupported(c.enc.NewEncoder()).String(s)
	if err != nil {
		return s
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

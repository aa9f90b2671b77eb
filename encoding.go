package pier

import (
	"fmt"
	"strings"
	"unicode/utf8"

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
	case "", "utf-8", "utf8", "u8", "utf":
		return &wireCodec{name: "utf-8", utf8: true}, nil
	}
	e, err := ianaindex.IANA.Encoding(name)
	if err != nil || e == nil {
		if e, err = ianaindex.IANA.Encoding(ianaName(name)); err != nil || e == nil {
			return nil, fmt.Errorf("pier: unknown encoding %q", name)
		}
	}
	// Commands and replies are ASCII: an encoding that writes them
	// otherwise (UTF-16, EBCDIC) can't carry FTP.
	const probe = "USER anonymous\r\n"
	if out, err := e.NewEncoder().String(probe); err != nil || out != probe {
		return nil, fmt.Errorf("pier: encoding %q does not keep ASCII as it is, which FTP's commands need", name)
	}
	return &wireCodec{name: name, enc: e}, nil
}

// ianaName maps the spellings Python (and so pyftpdlib's --encoding) takes
// to IANA names: latin-1, iso8859_1, cp1252, cp437, ascii, mac-roman.
func ianaName(name string) string {
	n := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(name), "_", "-"))
	switch n {
	case "latin-1", "l1", "iso8859-1", "8859":
		return "ISO-8859-1"
	case "ascii", "646":
		return "US-ASCII"
	case "mac-roman", "macroman":
		return "macintosh"
	case "latin9", "latin-9", "l9":
		return "ISO-8859-15"
	case "cp932", "ms932", "mskanji":
		return "Shift_JIS" // x/text's Shift_JIS is WHATWG's, which is Windows-31J
	}
	if rest, ok := strings.CutPrefix(n, "iso8859-"); ok {
		return "ISO-8859-" + rest
	}
	if rest, ok := strings.CutPrefix(n, "latin-"); ok {
		return "latin" + rest
	}
	if num, ok := strings.CutPrefix(n, "cp"); ok && num != "" && strings.Trim(num, "0123456789") == "" {
		if len(num) == 4 && num[0] == '1' { // cp1250..cp1258
			return "windows-" + num
		}
		return "IBM" + num
	}
	return n
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
// lacks become '?' (not the character set's own substitute, such as
// ASCII's SUB, 0x1A, a control byte).
func (c *wireCodec) encode(s string) string {
	if c == nil || c.utf8 || isASCII(s) {
		return s
	}
	enc := c.enc.NewEncoder()
	if out, err := enc.String(s); err == nil {
		return out
	}
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf {
			b.WriteRune(r)
			continue
		}
		enc.Reset()
		if out, err := enc.String(string(r)); err == nil && r != utf8.RuneError {
			b.WriteString(out)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

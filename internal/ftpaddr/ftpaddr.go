// Package ftpaddr parses and formats the arguments of the FTP commands that
// set up data connections: PORT and PASV (RFC 959 §4.1.2) and their
// protocol-independent successors EPRT and EPSV (RFC 2428).
//
// Parsers are strict on purpose: the address and port in these arguments
// decide where the server opens a TCP connection, so anything that is not
// exactly what the RFCs describe is rejected rather than guessed at.
package ftpaddr

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrSyntax is returned (possibly wrapped) when an argument is malformed.
// Servers usually answer it with reply 501 (RFC 959 §4.2).
var ErrSyntax = errors.New("invalid argument")

// ErrFamily is returned (possibly wrapped) when an EPRT or EPSV argument is
// well formed but names a network protocol other than 1 (IPv4) or 2 (IPv6).
// RFC 2428 §2 and §3 ask the server to answer it with reply 522.
var ErrFamily = errors.New("unsupported network protocol")

// EPSVMode is the argument of an EPSV command (RFC 2428 §3).
type EPSVMode int

// The EPSV argument forms.
const (
	// EPSVAny is a plain "EPSV": the server picks the protocol of the
	// control connection.
	EPSVAny EPSVMode = iota
	// EPSVAll is "EPSV ALL": from now on the client uses only EPSV, and the
	// server must refuse PORT, PASV and EPRT (RFC 2428 §4).
	EPSVAll
	// EPSVIPv4 is "EPSV 1": the client asks for an IPv4 data connection.
	EPSVIPv4
	// EPSVIPv6 is "EPSV 2": the client asks for an IPv6 data connection.
	EPSVIPv6
)

// String returns the argument text that selects m, or "" for EPSVAny.
func (m EPSVMode) String() string {
	switch m {
	case EPSVAny:
		return ""
	case EPSVAll:
		return "ALL"
	case EPSVIPv4:
		return "1"
	case EPSVIPv6:
		return "2"
	}
	return "EPSVMode(" + strconv.Itoa(int(m)) + ")"
}

// trimSpaces removes surrounding ASCII spaces only. The command reader may
// leave a trailing space after the argument; other whitespace is not
// something a conforming client sends, so it stays and fails to parse.
func trimSpaces(s string) string {
	return strings.Trim(s, " ")
}

// parseDec parses a non-empty string of at most maxDigits ASCII digits.
// It exists because strconv.Atoi accepts signs ("+1"), which no FTP address
// argument allows, and because the digit limit keeps overflow impossible.
func parseDec(s string, maxDigits int) (int, bool) {
	if len(s) == 0 || len(s) > maxDigits {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// isDigits reports whether s is a non-empty string of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParsePORT parses the argument of a PORT command, "h1,h2,h3,h4,p1,p2"
// (RFC 959 §4.1.2): six comma-separated decimal numbers of one to three
// digits, each 0..255, giving an IPv4 address and the port p1*256+p2.
// Surrounding spaces are ignored; signs, inner spaces and empty fields are
// not allowed. Every error wraps ErrSyntax.
//
// Port 0 is returned as parsed: whether to refuse it (and privileged ports,
// or addresses other than the client's, to stop FTP bounce attacks, RFC 2577
// §3) is the caller's policy.
func ParsePORT(arg string) (netip.AddrPort, error) {
	s := trimSpaces(arg)
	var v [6]byte
	for i := range v {
		field := s
		if i < len(v)-1 {
			comma := strings.IndexByte(s, ',')
			if comma < 0 {
				return netip.AddrPort{}, fmt.Errorf("PORT %q: want 6 fields: %w", arg, ErrSyntax)
			}
			field, s = s[:comma], s[comma+1:]
		}
		n, ok := parseDec(field, 3)
		if !ok || n > 255 {
			return netip.AddrPort{}, fmt.Errorf("PORT %q: bad field %q: %w", arg, field, ErrSyntax)
		}
		v[i] = byte(n)
	}
	addr := netip.AddrFrom4([4]byte{v[0], v[1], v[2], v[3]})
	return netip.AddrPortFrom(addr, uint16(v[4])<<8|uint16(v[5])), nil
}

// ParseEPRT parses the argument of an EPRT command (RFC 2428 §2),
// "<d><net-prt><d><net-addr><d><tcp-port><d>", for example
// "|1|132.235.1.2|6275|" or "|2|1080::8:800:200C:417A|5282|".
//
// The delimiter <d> is the first character; it must be printable ASCII
// (33..126, as RFC 2428 §2 says) and, so that it cannot be confused with
// the fields, not a digit. Exactly three fields must follow, closed by the
// delimiter, with nothing after it (surrounding spaces of the whole argument
// are ignored). net-prt "1" needs a dotted-quad IPv4 address, "2" an IPv6
// address (an IPv4-mapped one is returned as is, not unmapped); IPv6 zones
// ("%eth0") are refused since a zone is meaningless to the server. The port
// is decimal, 1..65535.
//
// A well-formed net-prt other than 1 or 2 returns an error wrapping
// ErrFamily (reply 522); every other error wraps ErrSyntax.
func ParseEPRT(arg string) (netip.AddrPort, error) {
	s := trimSpaces(arg)
	if len(s) < 2 {
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: %w", arg, ErrSyntax)
	}
	d := s[0]
	if d < 33 || d > 126 || (d >= '0' && d <= '9') {
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: bad delimiter: %w", arg, ErrSyntax)
	}
	if s[len(s)-1] != d {
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: missing final delimiter: %w", arg, ErrSyntax)
	}
	body := s[1 : len(s)-1]
	i := strings.IndexByte(body, d)
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: want 3 fields: %w", arg, ErrSyntax)
	}
	af, rest := body[:i], body[i+1:]
	j := strings.IndexByte(rest, d)
	if j < 0 {
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: want 3 fields: %w", arg, ErrSyntax)
	}
	host, port := rest[:j], rest[j+1:]
	if strings.IndexByte(port, d) >= 0 {
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: want 3 fields: %w", arg, ErrSyntax)
	}

	// The family is checked before the address so that a client probing
	// for a protocol we lack gets 522 and learns what we support
	// (RFC 2428 §2), whatever it put in the address field.
	var want6 bool
	switch af {
	case "1":
	case "2":
		want6 = true
	default:
		if isDigits(af) {
			return netip.AddrPort{}, fmt.Errorf("EPRT %q: network protocol %s: %w", arg, af, ErrFamily)
		}
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: bad network protocol: %w", arg, ErrSyntax)
	}

	addr, err := netip.ParseAddr(host)
	if err != nil || addr.Zone() != "" || (want6 && !addr.Is6()) || (!want6 && !addr.Is4()) {
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: bad address %q: %w", arg, host, ErrSyntax)
	}
	p, ok := parseDec(port, 5)
	if !ok || p < 1 || p > 65535 {
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: bad port %q: %w", arg, port, ErrSyntax)
	}
	return netip.AddrPortFrom(addr, uint16(p)), nil
}

// ParseEPSV parses the argument of an EPSV command (RFC 2428 §3): empty
// (EPSVAny), "ALL" in any case (EPSVAll), "1" (EPSVIPv4) or "2" (EPSVIPv6).
// Surrounding spaces are ignored. Any other decimal number returns an error
// wrapping ErrFamily (reply 522); anything else wraps ErrSyntax.
func ParseEPSV(arg string) (mode EPSVMode, err error) {
	s := trimSpaces(arg)
	switch {
	case s == "":
		return EPSVAny, nil
	case strings.EqualFold(s, "ALL"):
		return EPSVAll, nil
	case s == "1":
		return EPSVIPv4, nil
	case s == "2":
		return EPSVIPv6, nil
	case isDigits(s):
		return EPSVAny, fmt.Errorf("EPSV %q: network protocol %s: %w", arg, s, ErrFamily)
	}
	return EPSVAny, fmt.Errorf("EPSV %q: %w", arg, ErrSyntax)
}

// FormatPASV formats a for the 227 reply to PASV, "h1,h2,h3,h4,p1,p2"
// (RFC 959 §4.1.2), without the surrounding parentheses and text the
// caller adds. An IPv4-mapped IPv6 address is unmapped first, because a
// dual-stack listener reports IPv4 peers that way. PASV cannot express a
// real IPv6 address, so that returns an error wrapping ErrFamily: the
// client has to use EPSV instead (RFC 2428 §3).
func FormatPASV(a netip.AddrPort) (string, error) {
	addr := a.Addr().Unmap()
	if !addr.Is4() {
		return "", fmt.Errorf("PASV cannot carry address %v: %w", a.Addr(), ErrFamily)
	}
	ip := addr.As4()
	port := a.Port()
	b := make([]byte, 0, len("255,255,255,255,255,255"))
	for _, n := range [6]byte{ip[0], ip[1], ip[2], ip[3], byte(port >> 8), byte(port)} {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(n), 10)
	}
	return string(b), nil
}

// FormatEPSV formats port for the 229 reply to EPSV, "(|||port|)"
// (RFC 2428 §3): the network address is left out because the client must
// reuse the address of the control connection.
func FormatEPSV(port uint16) string {
	b := make([]byte, 0, len("(|||65535|)"))
	b = append(b, "(|||"...)
	b = strconv.AppendUint(b, uint64(port), 10)
	b = append(b, "|)"...)
	return string(b)
}

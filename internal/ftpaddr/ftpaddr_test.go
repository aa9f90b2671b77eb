package ftpaddr

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestParsePORT(t *testing.T) {
	tests := []struct {
		name string
		arg  string
		want string // netip.AddrPort text; "" means ErrSyntax
	}{
		{"basic", "192,168,1,2,4,1", "192.168.1.2:1025"},
		{"zeros", "0,0,0,0,0,0", "0.0.0.0:0"},
		{"max", "255,255,255,255,255,255", "255.255.255.255:65535"},
		{"leading zeros", "010,001,000,001,000,021", "10.1.0.1:21"},
		{"surrounding spaces", "  127,0,0,1,200,10 ", "127.0.0.1:51210"},
		{"empty", "", ""},
		{"spaces only", "   ", ""},
		{"five fields", "1,2,3,4,5", ""},
		{"seven fields", "1,2,3,4,5,6,7", ""},
		{"trailing comma", "1,2,3,4,5,6,", ""},
		{"leading comma", ",1,2,3,4,5,6", ""},
		{"empty field", "1,2,,4,5,6", ""},
		{"over 255", "256,2,3,4,5,6", ""},
		{"port byte over 255", "1,2,3,4,5,300", ""},
		{"four digits", "0001,2,3,4,5,6", ""},
		{"plus sign", "+1,2,3,4,5,6", ""},
		{"minus sign", "1,2,3,4,-5,6", ""},
		{"inner space", "1, 2,3,4,5,6", ""},
		{"tab", "1,2,3,4,5,6\t", ""},
		{"hex", "0x1,2,3,4,5,6", ""},
		{"letters", "a,b,c,d,e,f", ""},
		{"dots", "1.2.3.4,5,6", ""},
		{"non-ascii digit", "1,2,3,4,5,٣", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePORT(tt.arg)
			if tt.want == "" {
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("ParsePORT(%q) = %v, %v; want ErrSyntax", tt.arg, got, err)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ParsePORT(%q) = %v, %v; want %s", tt.arg, got, err, tt.want)
			}
		})
	}
}

func TestParseEPRT(t *testing.T) {
	tests := []struct {
		name    string
		arg     string
		want    string // netip.AddrPort text when wantErr is nil
		wantErr error
	}{
		{"rfc ipv4", "|1|132.235.1.2|6275|", "132.235.1.2:6275", nil},
		{"rfc ipv6", "|2|1080::8:800:200C:417A|5282|", "[1080::8:800:200c:417a]:5282", nil},
		{"other delimiter", "!1!10.0.0.1!21!", "10.0.0.1:21", nil},
		{"space around", " |1|10.0.0.1|21| ", "10.0.0.1:21", nil},
		{"mapped kept", "|2|::ffff:10.0.0.1|21|", "[::ffff:10.0.0.1]:21", nil},
		{"loopback6", "|2|::1|65535|", "[::1]:65535", nil},
		{"port leading zeros", "|1|1.2.3.4|00021|", "1.2.3.4:21", nil},
		{"family 3", "|3|1.2.3.4|21|", "", ErrFamily},
		{"family 0", "|0|1.2.3.4|21|", "", ErrFamily},
		{"family 01", "|01|1.2.3.4|21|", "", ErrFamily},
		{"family before address", "|7|garbage|x|", "", ErrFamily},
		{"family letters", "|x|1.2.3.4|21|", "", ErrSyntax},
		{"family empty", "||1.2.3.4|21|", "", ErrSyntax},
		{"empty", "", "", ErrSyntax},
		{"delimiter only", "|", "", ErrSyntax},
		{"two delimiters", "||", "", ErrSyntax},
		{"digit delimiter", "515.6.7.8555215", "", ErrSyntax},
		{"space delimiter", "x 1 1.2.3.4 21 ", "", ErrSyntax},
		{"control delimiter", "\x011\x011.2.3.4\x0121\x01", "", ErrSyntax},
		{"del delimiter", "\x7f1\x7f1.2.3.4\x7f21\x7f", "", ErrSyntax},
		{"non-ascii delimiter", "\xc3|1|1.2.3.4|21|\xc3", "", ErrSyntax},
		{"missing final", "|1|1.2.3.4|21", "", ErrSyntax},
		{"trailing junk", "|1|1.2.3.4|21|x", "", ErrSyntax},
		{"extra field", "|1|1.2.3.4|21|22|", "", ErrSyntax},
		{"two fields", "|1|1.2.3.4|", "", ErrSyntax},
		{"ipv6 for family 1", "|1|::1|21|", "", ErrSyntax},
		{"ipv4 for family 2", "|2|1.2.3.4|21|", "", ErrSyntax},
		{"zone", "|2|fe80::1%eth0|21|", "", ErrSyntax},
		{"bad ipv4", "|1|1.2.3|21|", "", ErrSyntax},
		{"ipv4 leading zero", "|1|01.2.3.4|21|", "", ErrSyntax},
		{"hostname", "|1|localhost|21|", "", ErrSyntax},
		{"port 0", "|1|1.2.3.4|0|", "", ErrSyntax},
		{"port too big", "|1|1.2.3.4|65536|", "", ErrSyntax},
		{"port sign", "|1|1.2.3.4|+21|", "", ErrSyntax},
		{"port empty", "|1|1.2.3.4||", "", ErrSyntax},
		{"port six digits", "|1|1.2.3.4|000021|", "", ErrSyntax},
		{"colon delimiter splits ipv6", ":2:::1:21:", "", ErrSyntax},
		{"dot delimiter splits ipv4", ".1.1.2.3.4.21.", "", ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEPRT(tt.arg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseEPRT(%q) = %v, %v; want %v", tt.arg, got, err, tt.wantErr)
				}
				if tt.wantErr == ErrFamily && errors.Is(err, ErrSyntax) {
					t.Fatalf("ParseEPRT(%q) error %v is both ErrFamily and ErrSyntax", tt.arg, err)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ParseEPRT(%q) = %v, %v; want %s", tt.arg, got, err, tt.want)
			}
		})
	}
}

func TestParseEPSV(t *testing.T) {
	tests := []struct {
		name    string
		arg     string
		want    EPSVMode
		wantErr error
	}{
		{"empty", "", EPSVAny, nil},
		{"space", " ", EPSVAny, nil},
		{"ALL", "ALL", EPSVAll, nil},
		{"all", "all", EPSVAll, nil},
		{"aLl spaced", " aLl ", EPSVAll, nil},
		{"ipv4", "1", EPSVIPv4, nil},
		{"ipv6", "2", EPSVIPv6, nil},
		{"family 3", "3", 0, ErrFamily},
		{"family 01", "01", 0, ErrFamily},
		{"family huge", "99999999999999999999999", 0, ErrFamily},
		{"words", "ALL 1", 0, ErrSyntax},
		{"alls", "ALLS", 0, ErrSyntax},
		{"negative", "-1", 0, ErrSyntax},
		{"pipe form", "|1|", 0, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEPSV(tt.arg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseEPSV(%q) = %v, %v; want %v", tt.arg, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseEPSV(%q) = %v, %v; want %v", tt.arg, got, err, tt.want)
			}
		})
	}
}

func TestEPSVModeString(t *testing.T) {
	tests := []struct {
		mode EPSVMode
		want string
	}{
		{EPSVAny, ""},
		{EPSVAll, "ALL"},
		{EPSVIPv4, "1"},
		{EPSVIPv6, "2"},
		{EPSVMode(9), "EPSVMode(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.mode.String(); got != tt.want {
				t.Fatalf("String() = %q; want %q", got, tt.want)
			}
			if tt.mode > EPSVIPv6 {
				return
			}
			if m, err := ParseEPSV(tt.want); err != nil || m != tt.mode {
				t.Fatalf("ParseEPSV(String()) = %v, %v; want %v", m, err, tt.mode)
			}
		})
	}
}

func TestFormatPASV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{"ipv4", "192.168.1.2:1025", "192,168,1,2,4,1", false},
		{"zero", "0.0.0.0:0", "0,0,0,0,0,0", false},
		{"max", "255.255.255.255:65535", "255,255,255,255,255,255", false},
		{"mapped", "[::ffff:10.0.0.1]:21", "10,0,0,1,0,21", false},
		{"ipv6", "[::1]:21", "", true},
		{"ipv6 global", "[2001:db8::1]:2121", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FormatPASV(netip.MustParseAddrPort(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrFamily) {
					t.Fatalf("FormatPASV(%s) = %q, %v; want ErrFamily", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("FormatPASV(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			// What we announce must be what a client's PORT-style parser reads.
			back, err := ParsePORT(got)
			in := netip.MustParseAddrPort(tt.in)
			if want := netip.AddrPortFrom(in.Addr().Unmap(), in.Port()); err != nil || back != want {
				t.Fatalf("ParsePORT(%q) = %v, %v", got, back, err)
			}
		})
	}
}

func TestFormatEPSV(t *testing.T) {
	tests := []struct {
		port uint16
		want string
	}{
		{0, "(|||0|)"},
		{21, "(|||21|)"},
		{6446, "(|||6446|)"},
		{65535, "(|||65535|)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := FormatEPSV(tt.port); got != tt.want {
				t.Fatalf("FormatEPSV(%d) = %q; want %q", tt.port, got, tt.want)
			}
		})
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	if errors.Is(ErrFamily, ErrSyntax) || errors.Is(ErrSyntax, ErrFamily) {
		t.Fatal("ErrFamily and ErrSyntax must be distinguishable: they map to 522 and 501")
	}
}

func FuzzParsePORT(f *testing.F) {
	for _, s := range []string{
		"192,168,1,2,4,1", "0,0,0,0,0,0", "255,255,255,255,255,255",
		" 1,2,3,4,5,6 ", "1,2,3,4,5", "1,2,3,4,5,6,7", "256,0,0,0,0,0",
		"1,,3,4,5,6", "+1,2,3,4,5,6", "0001,2,3,4,5,6", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		ap, err := ParsePORT(arg)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParsePORT(%q) error %v does not wrap ErrSyntax", arg, err)
			}
			return
		}
		if !ap.Addr().Is4() {
			t.Fatalf("ParsePORT(%q) = %v: not IPv4", arg, ap)
		}
		// A valid argument has only digits and commas once trimmed.
		if strings.Trim(strings.Trim(arg, " "), "0123456789,") != "" {
			t.Fatalf("ParsePORT(%q) accepted stray characters", arg)
		}
		// Formatting and parsing again must give the same address.
		s, err := FormatPASV(ap)
		if err != nil {
			t.Fatalf("FormatPASV(%v): %v", ap, err)
		}
		back, err := ParsePORT(s)
		if err != nil || back != ap {
			t.Fatalf("round trip %q -> %v -> %q -> %v, %v", arg, ap, s, back, err)
		}
	})
}

func FuzzParseEPRT(f *testing.F) {
	for _, s := range []string{
		"|1|132.235.1.2|6275|", "|2|1080::8:800:200C:417A|5282|",
		"!1!10.0.0.1!21!", "|2|::ffff:10.0.0.1|21|", "|3|1.2.3.4|21|",
		"|2|fe80::1%eth0|21|", "|1|1.2.3.4|0|", "|1|1.2.3.4|21|x", "",
		"|1|1.2.3.4|65536|", "5|1|1.2.3.4|21|5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		ap, err := ParseEPRT(arg)
		if err != nil {
			if errors.Is(err, ErrSyntax) == errors.Is(err, ErrFamily) {
				t.Fatalf("ParseEPRT(%q) error %v must wrap exactly one of ErrSyntax, ErrFamily", arg, err)
			}
			return
		}
		if ap.Port() == 0 || ap.Addr().Zone() != "" || !ap.Addr().IsValid() {
			t.Fatalf("ParseEPRT(%q) = %v: invalid result", arg, ap)
		}
		af := "1"
		if ap.Addr().Is6() {
			af = "2"
		}
		// Re-encoding the parsed values canonically must parse to the same
		// result. "|" rather than the client's delimiter, which may be a hex
		// letter that the canonical address text contains.
		again := "|" + af + "|" + ap.Addr().String() + "|" + strconv.Itoa(int(ap.Port())) + "|"
		back, err := ParseEPRT(again)
		if err != nil || back != ap {
			t.Fatalf("round trip %q -> %v -> %q -> %v, %v", arg, ap, again, back, err)
		}
	})
}

func FuzzParseEPSV(f *testing.F) {
	for _, s := range []string{"", "ALL", "all", "1", "2", "3", " 2 ", "ALL 1", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		m, err := ParseEPSV(arg)
		if err != nil {
			if errors.Is(err, ErrSyntax) == errors.Is(err, ErrFamily) {
				t.Fatalf("ParseEPSV(%q) error %v must wrap exactly one of ErrSyntax, ErrFamily", arg, err)
			}
			return
		}
		back, err := ParseEPSV(m.String())
		if err != nil || back != m {
			t.Fatalf("ParseEPSV(%q) = %v, but ParseEPSV(%q) = %v, %v", arg, m, m.String(), back, err)
		}
	})
}

func FuzzFormatPASV(f *testing.F) {
	f.Add([]byte{192, 168, 1, 2}, uint16(1025))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1}, uint16(21))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(21))
	f.Fuzz(func(t *testing.T, ip []byte, port uint16) {
		addr, ok := netip.AddrFromSlice(ip)
		if !ok {
			return
		}
		ap := netip.AddrPortFrom(addr, port)
		s, err := FormatPASV(ap)
		if !addr.Unmap().Is4() {
			if !errors.Is(err, ErrFamily) {
				t.Fatalf("FormatPASV(%v) = %q, %v; want ErrFamily", ap, s, err)
			}
			return
		}
		back, err := ParsePORT(s)
		if want := netip.AddrPortFrom(addr.Unmap(), port); err != nil || back != want {
			t.Fatalf("FormatPASV(%v) = %q, parsed back as %v, %v", ap, s, back, err)
		}
	})
}

package main

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
)

// parseSource parses --source: a prefix such as 127.1.0.0/16, or one
// address.
func parseSource(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("--source: %w", err)
		}
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("--source: %w", err)
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		// ::ffff:a.b.c.d/n is IPv4's a.b.c.d/(n-96)
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// maxSources bounds the addresses of a --source prefix that are used.
const maxSources = 1 << 16

// sourcePicker hands out the local addresses of a prefix in turn, for the
// clients' control connections. A prefix of four addresses or more loses
// its first and last (network and broadcast, in IPv4's terms); at most
// maxSources addresses are used.
type sourcePicker struct {
	base netip.Addr
	n    uint64
	next atomic.Uint64
}

func newSourcePicker(p netip.Prefix) *sourcePicker {
	hostBits := p.Addr().BitLen() - p.Bits()
	n := uint64(maxSources)
	if hostBits < 16 {
		n = 1 << hostBits
	}
	base := p.Addr()
	if hostBits >= 2 {
		base = base.Next()
		if hostBits <= 16 {
			n -= 2
		}
	}
	return &sourcePicker{base: base, n: n}
}

// pick returns the next address, as the local address of a dial.
func (s *sourcePicker) pick() *net.TCPAddr {
	return &net.TCPAddr{IP: addOffset(s.base, (s.next.Add(1)-1)%s.n).AsSlice()}
}

// addOffset returns the address off places after a (off < 2^64; the
// caller keeps it inside a prefix).
func addOffset(a netip.Addr, off uint64) netip.Addr {
	b := a.As16()
	for i := 15; i >= 0 && off > 0; i-- {
		sum := uint64(b[i]) + off&0xff
		b[i] = byte(sum)
		off = off>>8 + sum>>8
	}
	r := netip.AddrFrom16(b)
	if a.Is4() {
		r = r.Unmap()
	}
	return r
}

package main

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pierftp/pier"
)

// configureNetwork checks and sets the listen addresses and what data
// connections may use: passive ports, the NAT address, foreign hosts and
// privileged ports.
func configureNetwork(o *options, srv *pier.Server, cfg *config) error {
	host, err := listenHost(o)
	if err != nil {
		return err
	}
	srv.Addr = net.JoinHostPort(host, strconv.Itoa(o.port))
	if o.tlsImplicitPort != 0 {
		cfg.implicitAddr = net.JoinHostPort(host, strconv.Itoa(o.tlsImplicitPort))
	}
	if srv.PublicAddr, err = natAddress(o.natAddress); err != nil {
		return err
	}
	if srv.PublicAddrFor, err = natRules(o.natAddressFor); err != nil {
		return err
	}
	if srv.ProxyProtocolFrom, err = proxyNetworks(o.proxyProtocolFrom); err != nil {
		return err
	}
	if o.portRange != "" {
		if srv.PassivePorts, err = parseRange(o.portRange); err != nil {
			return usagef("--range %q: %v", o.portRange, err)
		}
	}
	srv.PermitForeignAddresses = o.permitForeign
	srv.PermitPrivilegedPorts = o.permitPrivileged
	return nil
}

// listenHost checks --port and --interface and returns the host part of
// the listen address: "" for every interface.
func listenHost(o *options) (string, error) {
	if o.port < 0 || o.port > 65535 {
		return "", usagef("--port %d: must be between 0 and 65535", o.port)
	}
	host := strings.Trim(o.iface, "[]")
	if o.iface != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			if _, err := net.LookupHost(o.iface); err != nil {
				return "", usagef("--interface %q: not an address of this machine", o.iface)
			}
		}
	}
	return host, nil
}

// natAddress parses --nat-address: an IPv4 address, or "" for none.
func natAddress(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	nat, err := netip.ParseAddr(s)
	if err != nil || !nat.Unmap().Is4() {
		return netip.Addr{}, usagef("--nat-address %q: must be an IPv4 address", s)
	}
	return nat.Unmap(), nil
}

// natRules parses --nat-address-for: CIDR=ADDR, the PASV address for the
// clients of a network.
func natRules(list []string) ([]pier.NATRule, error) {
	var rules []pier.NATRule
	for _, v := range list {
		v = strings.TrimSpace(v)
		network, addr, ok := strings.Cut(v, "=")
		if !ok {
			return nil, usagef("--nat-address-for %q: expected CIDR=ADDR", v)
		}
		prefix, err := parseNetwork(network)
		if err != nil {
			return nil, usagef("--nat-address-for %q: %q is not a network (CIDR such as 10.0.0.0/8)", v, network)
		}
		nat, err := netip.ParseAddr(strings.TrimSpace(addr))
		if err != nil || !nat.Unmap().Is4() {
			return nil, usagef("--nat-address-for %q: %q must be an IPv4 address", v, addr)
		}
		rules = append(rules, pier.NATRule{Prefix: prefix, Addr: nat.Unmap()})
	}
	return rules, nil
}

// proxyNetworks parses --proxy-protocol-from: the networks of the proxies
// that send PROXY protocol headers.
func proxyNetworks(list []string) ([]netip.Prefix, error) {
	var nets []netip.Prefix
	for _, v := range list {
		p, err := parseNetwork(v)
		if err != nil {
			return nil, usagef("--proxy-protocol-from %q: not a network (CIDR such as 10.0.0.0/8)", v)
		}
		nets = append(nets, p)
	}
	return nets, nil
}

// parseNetwork parses a CIDR network; a bare address is the network of
// that one address. IPv4-mapped IPv6 networks are taken as IPv4, as
// clients' addresses are.
func parseNetwork(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, errors.New("IPv4-mapped network shorter than /96")
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// describeNATRules and describeProxyNetworks are for the start-up line.
func describeNATRules(srv *pier.Server) string {
	if len(srv.PublicAddrFor) == 0 {
		return "none"
	}
	rules := make([]string, len(srv.PublicAddrFor))
	for i, r := range srv.PublicAddrFor {
		rules[i] = r.Prefix.String() + "=" + r.Addr.String()
	}
	return strings.Join(rules, ",")
}

func describeProxyNetworks(srv *pier.Server) string {
	if len(srv.ProxyProtocolFrom) == 0 {
		return "none"
	}
	nets := make([]string, len(srv.ProxyProtocolFrom))
	for i, p := range srv.ProxyProtocolFrom {
		nets[i] = p.String()
	}
	return strings.Join(nets, ",")
}

// parseRange parses "FROM-TO", an inclusive passive port range.
func parseRange(s string) (pier.PortRange, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return pier.PortRange{}, errors.New("expected FROM-TO")
	}
	first, err1 := strconv.Atoi(strings.TrimSpace(a))
	last, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return pier.PortRange{}, errors.New("expected FROM-TO")
	}
	if first < 1 || last > 65535 || first > 65535 || last < 1 {
		return pier.PortRange{}, errors.New("port numbers must be between 1 and 65535")
	}
	if first > last {
		return pier.PortRange{}, errors.New("FROM must not be greater than TO")
	}
	return pier.PortRange{First: uint16(first), Last: uint16(last)}, nil
}

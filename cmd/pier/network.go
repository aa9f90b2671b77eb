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

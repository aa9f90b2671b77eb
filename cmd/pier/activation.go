package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// Socket activation: systemd (a .socket unit, or systemd-socket-activate)
// opens the listening sockets and passes them to pier as file descriptors
// 3, 4, ..., following sd_listen_fds(3): LISTEN_PID is the process they
// are for, LISTEN_FDS how many there are, LISTEN_FDNAMES their names
// (FileDescriptorName= in the .socket unit), colon-separated. Reading the
// variables here keeps pier free of a systemd library.

// listenFDsStart is the first file descriptor sd_listen_fds(3) passes.
const listenFDsStart = 3

// implicitSocketNames are the socket names served as implicit FTPS (like
// --tls-implicit-port); any other name serves plain FTP.
var implicitSocketNames = map[string]bool{"implicit": true, "ftps": true}

// fromSystemd takes the sockets systemd passed, if pier was
// socket-activated, into ls, and reports whether it was: then
// --interface, --port and --tls-implicit-port are not used for listening,
// which it logs. The passive address still follows each control
// connection's local address (or --nat-address), as without activation.
//
// The LISTEN_* variables are unset in any case, so that no child process
// takes the sockets for its own. Each descriptor is duplicated with
// close-on-exec by net.FileListener and the original is closed at once, so
// none is inherited by a child either.
func (ls *listeners) fromSystemd(cfg *config) (bool, error) {
	pid, fds, names := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(v)
	}
	if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() || fds == "" {
		return false, nil // not for us (sd_listen_fds does the same)
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return false, fmt.Errorf("socket activation: LISTEN_FDS=%q: not a number", fds)
	}
	if n == 0 {
		return false, nil
	}
	socks, err := activatedSockets(n, names)
	if err == nil {
		err = ls.take(socks, cfg)
	}
	if err != nil {
		for _, s := range socks {
			s.ln.Close()
		}
		return false, err
	}
	desc := make([]string, len(socks))
	for i, s := range socks {
		desc[i] = s.name + "=" + s.ln.Addr().String()
	}
	cfg.logger.Info("socket activation: serving the sockets systemd passed; --interface, --port and --tls-implicit-port are not used for listening",
		"sockets", strings.Join(desc, " "))
	return true, nil
}

// activatedSocket is one listener systemd passed, with its name.
type activatedSocket struct {
	name string
	ln   net.Listener
}

// activatedSockets turns descriptors 3 to 3+n-1 into listeners, named from
// names (colon-separated; "unknown", as systemd says, where missing). It
// closes every descriptor, whether it could use it or not; on an error it
// returns the listeners made so far, for the caller to close.
func activatedSockets(n int, names string) ([]activatedSocket, error) {
	nameList := strings.Split(names, ":")
	var socks []activatedSocket
	var first error
	for i := range n {
		name := "unknown"
		if i < len(nameList) && nameList[i] != "" {
			name = nameList[i]
		}
		f := os.NewFile(uintptr(listenFDsStart+i), name)
		if first != nil {
			f.Close()
			continue
		}
		ln, err := net.FileListener(f) // a close-on-exec duplicate
		f.Close()
		switch {
		case err != nil:
			first = fmt.Errorf("socket activation: descriptor %d (%s): %v", listenFDsStart+i, name, err)
		case !isTCP(ln):
			ln.Close()
			first = fmt.Errorf("socket activation: descriptor %d (%s) is not a TCP listening socket (ListenStream= with a port or an address and port)", listenFDsStart+i, name)
		default:
			socks = append(socks, activatedSocket{name, ln})
		}
	}
	return socks, first
}

func isTCP(ln net.Listener) bool {
	_, ok := ln.(*net.TCPListener)
	return ok
}

// take sorts the sockets into ls: one for plain FTP (any name but those
// of implicitSocketNames), at most one for implicit FTPS, which needs
// --tls.
func (ls *listeners) take(socks []activatedSocket, cfg *config) error {
	var plain, implicit []string
	for _, s := range socks {
		if implicitSocketNames[s.name] {
			implicit = append(implicit, s.name)
			ls.implicit = s.ln
		} else {
			plain = append(plain, s.name)
			ls.control = s.ln
		}
	}
	switch {
	case len(plain) == 0:
		return errors.New("socket activation: no socket for plain FTP: name it ftp (FileDescriptorName=ftp); implicit and ftps name implicit FTPS sockets")
	case len(plain) > 1:
		return fmt.Errorf("socket activation: %d sockets for plain FTP (%s); pier serves one (one ListenStream=PORT is dual-stack, IPv4 and IPv6)", len(plain), strings.Join(plain, ", "))
	case len(implicit) > 1:
		return fmt.Errorf("socket activation: %d sockets for implicit FTPS (%s); pier serves one", len(implicit), strings.Join(implicit, ", "))
	case len(implicit) == 1 && !cfg.o.tls:
		return fmt.Errorf("socket activation: socket %s is for implicit FTPS, which needs --tls (with --certfile and --keyfile)", implicit[0])
	}
	return nil
}

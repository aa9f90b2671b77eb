package main

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Readiness notification: systemd's sd_notify(3) protocol, for
// Type=notify units. pier sends READY=1 once it listens and has logged
// its start-up lines, STOPPING=1 when a shutdown begins, and WATCHDOG=1
// every WATCHDOG_USEC/2 when the unit has WatchdogSec=. Outside systemd
// (no NOTIFY_SOCKET) every call does nothing.

// sdNotify sends state, one or more newline-separated VAR=VALUE
// assignments such as "READY=1" or "RELOADING=1", to the service manager
// over the datagram socket named by NOTIFY_SOCKET (an abstract socket if
// the name starts with '@'). Without NOTIFY_SOCKET it does nothing and
// returns nil. It is safe for concurrent use.
func sdNotify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	if name[0] != '/' && name[0] != '@' {
		return errors.New("sd_notify: NOTIFY_SOCKET " + strconv.Quote(name) + ": only file system and abstract (@) socket names are supported")
	}
	// On Linux a leading '@' names an abstract socket: the net package
	// turns it into the leading NUL byte the kernel expects.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

// notifyReady tells the service manager that pier is ready, with status
// as the STATUS= line systemctl status shows, and starts the watchdog
// pings if the unit asks for them; stop ends the pings.
func notifyReady(log *slog.Logger, status string) (stop func()) {
	if err := sdNotify("READY=1\nSTATUS=" + status); err != nil {
		log.Warn("can't tell systemd that pier is ready (NOTIFY_SOCKET)", "err", err)
	}
	interval, ok := watchdogInterval()
	if !ok {
		return func() {}
	}
	log.Info("systemd watchdog enabled", "ping_every", interval.String())
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		warned := false
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if err := sdNotify("WATCHDOG=1"); err != nil && !warned {
					log.Warn("can't ping the systemd watchdog (NOTIFY_SOCKET)", "err", err)
					warned = true
				}
			}
		}
	}()
	return func() { close(done) }
}

// notifyStopping tells the service manager that pier is shutting down.
func notifyStopping(log *slog.Logger) {
	if err := sdNotify("STOPPING=1\nSTATUS=shutting down: running transfers finish first"); err != nil {
		log.Warn("can't tell systemd that pier is stopping (NOTIFY_SOCKET)", "err", err)
	}
}

// watchdogInterval is half of WATCHDOG_USEC, as sd_watchdog_enabled(3)
// advises, if it is set for this process (WATCHDOG_PID, when set, is
// ours).
func watchdogInterval() (time.Duration, bool) {
	if p := os.Getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(os.Getpid()) {
		return 0, false
	}
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 || os.Getenv("NOTIFY_SOCKET") == "" {
		return 0, false
	}
	return max(time.Duration(usec)*time.Microsecond/2, time.Millisecond), true
}

// readyStatus is the STATUS= line sent with READY=1: where pier listens.
func readyStatus(ls *listeners) string {
	var b strings.Builder
	b.WriteString("serving FTP on " + ls.control.Addr().String())
	if ls.implicit != nil {
		b.WriteString(", implicit FTPS on " + ls.implicit.Addr().String())
	}
	return b.String()
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pierftp/pier"
)

// serve listens, logs the settings, and runs until SIGINT or SIGTERM: the
// first signal shuts down gracefully (transfers finish), a second one closes
// everything at once. It returns the exit status.
func serve(srv *pier.Server, cfg *config) int {
	log := cfg.logger
	// Take the signals before anything is logged: a SIGHUP that arrives
	// right after the start-up lines must reload, not kill.
	sigs, hup, stopSignals := notifySignals()
	defer stopSignals()
	defer cfg.xferlog.watch(log)()
	start := time.Now() // before any upload of this run
	ls, err := listen(srv, cfg)
	if err != nil {
		fmt.Fprintf(cfg.stderr, "pier: %v\n", err)
		return 1
	}
	adminLn, ok := listenAdmin(cfg) // admin.go
	if !ok {
		return 1
	}
	logStartup(srv, cfg, ls.control.Addr())
	if f, ok := cfg.stderr.(interface{ Flush() }); ok {
		f.Flush() // the start-up lines are out before READY=1 (logwriter.go)
	}
	cfg.serving.Store(true)
	if len(cfg.uploadRoots) > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go removeStaleUploads(ctx, log, cfg.uploadRoots, start)
	}
	done := make(chan error, 2)
	implicit := startImplicitTLS(srv, cfg, ls.implicit, done)
	if ls.metrics != nil {
		defer serveMetrics(log, ls.metrics, cfg.metrics)()
	}
	// --db: the live sessions published; at the end the database is
	// closed, after the admin API stopped (db.go).
	defer serveDB(srv, cfg, ls.control.Addr())()
	r := &reloader{srv: srv, cfg: cfg, args: cfg.args, started: cfg.flags, addr: ls.control.Addr()}
	cfg.reload = r.reload
	go reloadOnHangUp(log, hup, cfg.reload)
	defer serveAdmin(log, adminLn, cfg)() // after cfg.reload is set
	go func() { done <- srv.Serve(ls.control) }()
	defer notifyReady(log, readyStatus(ls))() // systemd: notify.go
	if !waitForSignal(log, srv, sigs, done) {
		return 1
	}
	notifyStopping(log)
	shutdown(log, srv, sigs)
	for range 1 + implicit {
		<-done
	}
	log.Info("pier stopped")
	return 0
}

// notifySignals starts taking SIGINT and SIGTERM (sigs), and SIGHUP (hup),
// until stop.
func notifySignals() (sigs, hup chan os.Signal, stop func()) {
	sigs = make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	hup = make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return sigs, hup, func() { signal.Stop(sigs); signal.Stop(hup) }
}

// listeners are the sockets pier serves on; implicit and metrics are nil
// when off.
type listeners struct{ control, implicit, metrics net.Listener }

// listen takes the control address and, with --tls-implicit-port and
// --metrics, theirs; all before the start-up lines, so that a busy one
// stops pier before it says it started, with a one-line error (as every
// other start-up error) that names the address and the flag that set it.
func listen(srv *pier.Server, cfg *config) (*listeners, error) {
	ls := &listeners{}
	activated, err := ls.fromSystemd(cfg) // socket activation: activation.go
	if err != nil {
		return nil, err
	}
	if !activated {
		if ls.control, err = pier.Listen(srv.Addr); err != nil {
			return nil, listenError("", srv.Addr, "--interface, --port", err)
		}
	}
	if cfg.implicitAddr != "" && !activated {
		if ls.implicit, err = pier.Listen(cfg.implicitAddr); err != nil {
			ls.control.Close()
			return nil, listenError(" for implicit FTPS", cfg.implicitAddr, "--tls-implicit-port", err)
		}
	}
	if cfg.metrics != nil {
		if ls.metrics, err = net.Listen("tcp", cfg.o.metricsAddr); err != nil {
			ls.control.Close()
			if ls.implicit != nil {
				ls.implicit.Close()
			}
			return nil, listenError(" for metrics", cfg.o.metricsAddr, "--metrics", err)
		}
	}
	return ls, nil
}

// listenError says why pier can't listen on addr ("address already in
// use"), without the layers of context the net package adds.
func listenError(what, addr, flags string, err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		err = se.Err
	}
	return fmt.Errorf("can't listen%s on %s (%s): %v", what, addr, flags, err)
}

// reloadOnHangUp reloads the configuration on each SIGHUP (reload.go).
func reloadOnHangUp(log *slog.Logger, hup <-chan os.Signal, reload func() error) {
	for range hup {
		log.Info("SIGHUP: reloading the configuration")
		reload() // it logs the outcome
	}
}

// waitForSignal waits for SIGINT or SIGTERM (true), or for a listener to
// fail (false, after closing the server).
func waitForSignal(log *slog.Logger, srv *pier.Server, sigs <-chan os.Signal, done <-chan error) bool {
	select {
	case err := <-done:
		log.Error("server stopped", "err", err)
		srv.Close()
		return false
	case sig := <-sigs:
		log.Info("received signal; shutting down, running transfers finish first (signal again to stop at once)", "signal", sig.String())
		return true
	}
}

// shutdown stops the server gracefully, or at once when a second signal
// comes.
func shutdown(log *slog.Logger, srv *pier.Server, sigs <-chan os.Signal) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-sigs
		log.Info("second signal: closing every connection now")
		cancel()
	}()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
		// Let the closed sessions log their end and run their hooks,
		// for a moment at most: this is the "at once" stop.
		wait, cancelWait := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancelWait()
		srv.Shutdown(wait)
	}
}

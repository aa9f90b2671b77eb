package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/tlscert"
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
	start := time.Now() // before any upload of this run
	ln, metricsLn, err := listen(srv, cfg)
	if err != nil {
		return 1
	}
	logStartup(srv, cfg, ln.Addr())
	if len(cfg.uploadRoots) > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go removeStaleUploads(ctx, log, cfg.uploadRoots, start)
	}
	done := make(chan error, 2)
	implicit, err := startImplicitTLS(srv, cfg, done)
	if err != nil {
		ln.Close()
		return 1
	}
	if metricsLn != nil {
		defer serveMetrics(log, metricsLn, cfg.metrics)()
	}
	go reloadOnHangUp(log, hup, cfg.reloader)
	go func() { done <- srv.Serve(ln) }()
	if !waitForSignal(log, srv, sigs, done) {
		return 1
	}
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

// listen takes the control address and, with --metrics, the metrics
// address; both before the start-up lines, so that a busy one stops pier
// before it says it started. Failures are logged.
func listen(srv *pier.Server, cfg *config) (ln, metricsLn net.Listener, err error) {
	if ln, err = pier.Listen(srv.Addr); err != nil {
		cfg.logger.Error("can't listen", "err", err)
		return nil, nil, err
	}
	if cfg.metrics == nil {
		return ln, nil, nil
	}
	if metricsLn, err = net.Listen("tcp", cfg.o.metricsAddr); err != nil {
		cfg.logger.Error("can't listen for metrics", "err", err)
		ln.Close()
		return nil, nil, err
	}
	return ln, metricsLn, nil
}

// reloadOnHangUp reloads the certificate files on each SIGHUP.
func reloadOnHangUp(log *slog.Logger, hup <-chan os.Signal, r *tlscert.Reloader) {
	for range hup {
		if r == nil {
			log.Info("SIGHUP: no certificate files to reload")
			continue
		}
		log.Info("SIGHUP: reloading the certificate")
		r.Reload() // OnReload logs the outcome
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

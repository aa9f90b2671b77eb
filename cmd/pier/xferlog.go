package main

import (
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/xferlog"
)

// transferLog is the --xferlog file.
type transferLog struct {
	path      string
	w         *xferlog.Writer
	reopening atomic.Bool // a Reopen runs (reopenOn)
}

// configureXferlog opens the --xferlog file, if any, and makes srv write
// a line to it per file transfer. The lines are written by the Writer's
// goroutine: a slow disk never holds a transfer (lines that don't fit its
// queue are dropped, and counted in a warning).
func configureXferlog(o *options, srv *pier.Server, cfg *config) error {
	if o.xferlog == "" {
		return nil
	}
	if cfg.dryRun {
		return checkXferlogDryRun(o.xferlog) // pier check-config: checkconfig.go
	}
	w, err := xferlog.Open(o.xferlog, &xferlog.Options{Logger: cfg.logger})
	if err != nil {
		return usagef("--xferlog %q: %v", o.xferlog, err)
	}
	w.Install(srv)
	cfg.xferlog = &transferLog{path: o.xferlog, w: w}
	return nil
}

// watch reopens the file on each SIGUSR1, logrotate's usual postrotate
// signal for transfer logs (a reload, on SIGHUP, does it too), until
// stop. stop then writes the queued lines, for a few seconds at most, and
// closes the file: serve calls it once the sessions have ended. Without
// --xferlog (a nil transferLog) SIGUSR1 is taken all the same, so that a
// logrotate script aimed at every pier never kills one.
func (l *transferLog) watch(log *slog.Logger) (stop func()) {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range usr1 {
			if l == nil {
				log.Info("SIGUSR1: no transfer log (--xferlog) to reopen")
				continue
			}
			l.reopenOn(log, "SIGUSR1")
		}
	}()
	return func() {
		signal.Stop(usr1)
		close(usr1) // Stop guarantees no more sends
		<-done
		if l == nil {
			return
		}
		if err := l.w.Close(); err != nil {
			log.Error("transfer log: lines lost at exit", "file", l.path, "err", err)
		}
	}
}

// reopen opens the file again on a reload (SIGHUP, or the admin API's;
// reload.go). A nil transferLog does nothing.
func (l *transferLog) reopen(log *slog.Logger) {
	if l == nil {
		return
	}
	l.reopenOn(log, "reload")
}

// reopenOn asks for the file to be opened again, for why (a signal's
// name, or "reload"), and returns at once: logrotate renamed it, the next
// lines go to a new file. The Writer's goroutine reopens it after the
// lines queued before (none is lost), which may take long on a stalled
// disk: neither a signal's goroutine nor a reload waits for it, and
// requests made while one is pending are that one.
func (l *transferLog) reopenOn(log *slog.Logger, why string) {
	if !l.reopening.CompareAndSwap(false, true) {
		log.Warn(why+": a reopen of the transfer log is still pending (is its disk slow?)", "file", l.path)
		return
	}
	go func() {
		err := l.w.Reopen()
		// Done before it is logged: a request that follows the log line
		// (logrotate's next signal, a reload) is a new one, not "pending".
		l.reopening.Store(false)
		if err != nil {
			log.Error(why+": can't reopen the transfer log; still writing to the old file", "file", l.path, "err", err)
			return
		}
		log.Info(why+": reopened the transfer log", "file", l.path)
	}()
}

package main

import (
	"log/slog"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/xferlog"
)

// transferLog is the --xferlog file.
type transferLog struct {
	path string
	w    *xferlog.Writer
}

// configureXferlog opens the --xferlog file, if any, and makes srv write
// a line to it per file transfer.
func configureXferlog(o *options, srv *pier.Server, cfg *config) error {
	if o.xferlog == "" {
		return nil
	}
	w, err := xferlog.Open(o.xferlog)
	if err != nil {
		return usagef("--xferlog %q: %v", o.xferlog, err)
	}
	w.Install(srv)
	cfg.xferlog = &transferLog{path: o.xferlog, w: w}
	return nil
}

// reopen opens the file again after a SIGHUP: logrotate's usual
// postrotate renames the file and sends one. A nil transferLog does
// nothing.
func (l *transferLog) reopen(log *slog.Logger) {
	if l == nil {
		return
	}
	if err := l.w.Reopen(); err != nil {
		log.Error("SIGHUP: can't reopen the transfer log; still writing to the old file", "file", l.path, "err", err)
		return
	}
	log.Info("SIGHUP: reopened the transfer log", "file", l.path)
}

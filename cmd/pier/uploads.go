package main

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/pierftp/pier/fsys/local"
)

// uploadRoot is a local folder opened with --atomic-uploads, whose
// leftover temporaries are removed at start.
type uploadRoot struct {
	dir string
	fs  *local.FS
}

// openRoot opens the local folder dir for accounts: with --atomic-uploads,
// with local.AtomicUploads, and remembered for removeStaleUploads.
func (cfg *config) openRoot(dir string) (*local.FS, error) {
	if !cfg.o.atomicUploads {
		return local.New(dir)
	}
	fsys, err := local.New(dir, local.AtomicUploads())
	if err != nil {
		return nil, err
	}
	// The roots opened while configuring are swept at start; a home
	// opened at a login (--db, on a session's goroutine) is swept then,
	// once per run (sweepHome).
	if !cfg.serving.Load() {
		cfg.uploadRoots = append(cfg.uploadRoots, uploadRoot{dir, fsys})
	} else {
		cfg.sweepHome(dir, fsys)
	}
	return fsys, nil
}

// sweptHomes are the homes sweepHome swept (or is sweeping) in this run.
var sweptHomes sync.Map

// sweepHome removes, in the background and once per run, the temporaries
// of interrupted uploads in a home first opened at a login (a --db
// account's, on a folder other nodes may share): only those not modified
// for staleUploadAge, so that an upload still running, here or on another
// node, which writes to its temporary as data comes, is never touched.
func (cfg *config) sweepHome(dir string, fsys *local.FS) {
	if _, done := sweptHomes.LoadOrStore(dir, true); done {
		return
	}
	age := staleUploadAge(cfg.o.timeout)
	log := cfg.logger
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		n, err := fsys.RemoveStaleUploads(ctx, age)
		if n > 0 {
			log.Info("removed temporaries of interrupted uploads", "root", dir, "removed", n, "older_than", age.String())
		}
		if err != nil && !errors.Is(err, fs.ErrClosed) {
			log.Warn("can't remove every temporary of interrupted uploads", "root", dir, "removed", n, "err", err)
		}
	}()
}

// staleUploadAge is how long a temporary must have gone unmodified to be
// an interrupted upload's, with the data timeout of timeout seconds (0:
// none): twice the timeout, and at least an hour; a day without one.
func staleUploadAge(timeout int) time.Duration {
	if timeout <= 0 {
		return 24 * time.Hour
	}
	return max(2*time.Duration(timeout)*time.Second, time.Hour)
}

// removeStaleUploads removes, one root after the other, the temporaries
// that uploads of earlier runs left behind (a crash or a kill cut them
// short), and logs how many. Those are all the temporaries not modified
// since start, taken just before pier listened: an upload of this run only
// ever writes to its temporary after it, so the walk, which can take a
// while on a large tree, never removes a live one (olderThan 0 could).
func removeStaleUploads(ctx context.Context, log *slog.Logger, roots []uploadRoot, start time.Time) {
	total := 0
	for _, r := range roots {
		n, err := r.fs.RemoveStaleUploads(ctx, time.Since(start))
		total += n
		if ctx.Err() != nil {
			return // pier is stopping
		}
		if n > 0 {
			log.Info("removed temporaries of interrupted uploads", "root", r.dir, "removed", n)
		}
		if err != nil {
			log.Warn("can't remove every temporary of interrupted uploads", "root", r.dir, "removed", n, "err", err)
		}
	}
	log.Info("temporaries of interrupted uploads checked", "roots", len(roots), "removed", total)
}

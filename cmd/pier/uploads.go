package main

import (
	"context"
	"log/slog"
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
	// Only the roots opened while configuring are swept at start: homes
	// opened at a login (--db, on sessions' goroutines) are not recorded.
	if !cfg.serving.Load() {
		cfg.uploadRoots = append(cfg.uploadRoots, uploadRoot{dir, fsys})
	}
	return fsys, nil
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

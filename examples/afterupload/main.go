// Command afterupload is an FTP server that runs a slow job after each
// upload (here, it writes a SHA-256 checksum next to the file, as
// "name.sha256" in sha256sum's format) without holding up any client.
//
// Hooks run on the session that fired them: a slow hook would delay that
// client's next reply. So the FileReceived hook only queues the job; a few
// workers do it in the background, and the server waits for them when it
// stops.
//
//	go run ./examples/afterupload -dir /srv/ftp
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/local"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2121", "address to listen on")
	dir := flag.String("dir", ".", "folder to serve")
	workers := flag.Int("workers", 2, "checksums computed at once")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := pier.Listen(*addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, ln, *dir, *workers, writeChecksum, slog.Default()); err != nil {
		log.Fatal(err)
	}
}

// upload is a job: a file that was just received.
type upload struct {
	fsys  pier.FileSystem // the uploader's file system
	name  string          // the file's name in fsys
	vpath string          // its virtual path, for logs
	log   *slog.Logger    // the uploader's session logger
}

// run serves dir, calling process (writeChecksum; tests slow it down) on
// each uploaded file from a pool of workers.
func run(ctx context.Context, ln net.Listener, dir string, workers int, process func(upload) error, logger *slog.Logger) error {
	root, err := local.New(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	users := &auth.Virtual{}
	if err := users.AddUser("user", auth.Account{Password: "12345", FS: root, Perm: pier.AllPerms}); err != nil {
		return err
	}

	// Uploads wait here for a worker. When the queue is full, the hook
	// blocks its own session (and only it) until there is room: back
	// pressure on whoever uploads faster than the workers keep up.
	queue := make(chan upload, 64)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for u := range queue {
				if err := process(u); err != nil {
					u.log.Warn("checksum failed", "path", u.vpath, "err", err)
				}
			}
		})
	}

	srv := &pier.Server{
		Auth: users,
		Hooks: pier.Hooks{
			FileReceived: func(s *pier.Session, t pier.TransferInfo) {
				if strings.HasSuffix(t.Path, ".sha256") {
					return
				}
				// Take what the job needs from the session now: the
				// session may have moved on (or ended) when it runs.
				_, name := s.Resolve(t.Path)
				queue <- upload{fsys: s.User().FS, name: name, vpath: t.Path, log: s.Logger()}
			},
		},
		Logger: logger,
	}
	err = srv.ServeContext(ctx, ln, 10*time.Second)
	// No hook runs after Shutdown: finish the queued jobs, then return.
	close(queue)
	wg.Wait()
	return err
}

// writeChecksum writes the SHA-256 of the file as "name.sha256", reading
// and writing through the user's FileSystem so that it works on any
// back-end and stays inside the user's root.
func writeChecksum(u upload) error {
	f, err := u.fsys.OpenFile(context.Background(), u.name, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return err
	}
	out, err := u.fsys.OpenFile(context.Background(), u.name+".sha256", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), path.Base(u.name))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		u.log.Info("checksum written", "path", u.vpath+".sha256")
	}
	return err
}

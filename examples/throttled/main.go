// Command throttled is an FTP server whose sessions upload and download at
// most 30 KiB/s each (pyftpdlib's throttled_ftpd.py).
//
//	go run ./examples/throttled -dir /srv/ftp
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/local"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2121", "address to listen on")
	dir := flag.String("dir", ".", "folder to serve")
	limit := flag.Int64("limit", 30<<10, "upload and download rate of each session, in bytes per second")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := pier.Listen(*addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, ln, *dir, *limit, slog.Default()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, ln net.Listener, dir string, limit int64, logger *slog.Logger) error {
	root, err := local.New(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	users := &auth.Virtual{}
	if err := users.AddUser("user", auth.Account{Password: "12345", FS: root, Perm: pier.AllPerms}); err != nil {
		return err
	}
	// A user of its own may get other rates with auth.Account's ReadLimit
	// and WriteLimit; TotalReadLimit and TotalWriteLimit would cap the
	// whole server instead.
	srv := &pier.Server{
		Auth:       users,
		ReadLimit:  limit, // uploads: bytes read from the client
		WriteLimit: limit, // downloads: bytes written to the client
		Logger:     logger,
	}
	return srv.ServeContext(ctx, ln, 10*time.Second)
}

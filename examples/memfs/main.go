// Command memfs is an FTP server whose files live in memory: nothing
// touches the disk, and everything is gone when it stops. Handy for tests,
// demos and throw-away drop boxes.
//
//	go run ./examples/memfs
//	curl ftp://127.0.0.1:2121/pub/readme.txt
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
	"github.com/pierftp/pier/fsys/mem"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2121", "address to listen on")
	flag.Parse()

	fsys := mem.New()
	if err := fsys.WriteFile("pub/readme.txt", []byte("This file lives in memory.\n")); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := pier.Listen(*addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, ln, fsys, slog.Default()); err != nil {
		log.Fatal(err)
	}
}

// run serves fsys: in full to "user", read-only to anonymous users. Both
// see the same files, so what one uploads the other can download.
func run(ctx context.Context, ln net.Listener, fsys *mem.FS, logger *slog.Logger) error {
	users := &auth.Virtual{}
	if err := users.AddUser("user", auth.Account{Password: "12345", FS: fsys, Perm: pier.AllPerms}); err != nil {
		return err
	}
	if err := users.AddAnonymous(auth.Account{FS: fsys, Perm: pier.ReadPerms}); err != nil {
		return err
	}
	srv := &pier.Server{Auth: users, Logger: logger}
	return srv.ServeContext(ctx, ln, 10*time.Second)
}

// Command basic is the smallest useful FTP server: one user with full
// access to a folder and anonymous users who may only read it (pyftpdlib's
// basic_ftpd.py).
//
//	go run ./examples/basic -dir /srv/ftp -user alice -pass s3cret
//	curl ftp://127.0.0.1:2121/
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
	user := flag.String("user", "user", "login name with full access")
	pass := flag.String("pass", "12345", "its password")
	flag.Parse()

	// Stop gracefully on Ctrl-C or SIGTERM: running transfers finish.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := pier.Listen(*addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, ln, *dir, *user, *pass, slog.Default()); err != nil {
		log.Fatal(err)
	}
}

// run serves dir on ln until ctx ends.
func run(ctx context.Context, ln net.Listener, dir, user, pass string, logger *slog.Logger) error {
	root, err := local.New(dir) // an os.Root jail: nothing outside dir is reachable
	if err != nil {
		return err
	}
	defer root.Close()

	users := &auth.Virtual{}
	if err := users.AddUser(user, auth.Account{Password: pass, FS: root, Perm: pier.AllPerms}); err != nil {
		return err
	}
	if err := users.AddAnonymous(auth.Account{FS: root, Perm: pier.ReadPerms}); err != nil {
		return err
	}

	srv := &pier.Server{
		Auth:                users,
		Banner:              "pier based ftpd ready.",
		MaxConnections:      256,
		MaxConnectionsPerIP: 5,
		Logger:              logger,
	}
	logger.Info("serving", "addr", ln.Addr().String(), "dir", dir)
	return srv.ServeContext(ctx, ln, 10*time.Second)
}

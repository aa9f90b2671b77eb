// Command hashed is an FTP server whose accounts come from a users file
// that holds password hashes, never passwords. Each line is
//
//	name:hash:permissions:home
//
// with an argon2id (or bcrypt) hash as printed by "pier passwd", pyftpdlib's
// permission letters, and a home folder (relative to the file's folder):
//
//	alice:$argon2id$v=19$m=19456,t=2,p=1$...:elradfmwMT:alice
//	anonymous::elr:pub
//
// Run it with:
//
//	go run ./examples/hashed -users users.txt
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
	usersFile := flag.String("users", "users.txt", "users file")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := pier.Listen(*addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, ln, *usersFile, slog.Default()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, ln net.Listener, usersFile string, logger *slog.Logger) error {
	// LoadFile calls newFS once per home folder; keep the roots to close
	// them when the server stops.
	var roots []*local.FS
	defer func() {
		for _, r := range roots {
			r.Close()
		}
	}()
	newFS := func(home string) (pier.FileSystem, error) {
		r, err := local.New(home)
		if err != nil {
			return nil, err
		}
		roots = append(roots, r)
		return r, nil
	}
	users, err := auth.LoadFile(usersFile, newFS)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &pier.Server{Auth: users, Logger: logger}
	return srv.ServeContext(ctx, ln, 10*time.Second)
}

// Command objstore is an FTP server over an object store, the worked
// example of a back-end with S3's semantics: a flat map of keys to
// immutable objects, where nothing can be written in place, renamed, or
// seen half-written. The store here is in memory (store.go), but each of
// its methods is one request to a real store, and the FileSystem over it
// (objfs.go, files.go) is what a back-end for a real bucket must be under
// pier's contract:
//
//   - uploads are buffered and committed in Close, discarded in Abort, so
//     an aborted, cut or refused upload never replaces an object;
//   - a download at a REST offset is a ranged GET (pier.OpenAtFS);
//   - REST+STOR and APPE start the new object from the old one's first
//     bytes (a server-side copy), with no Seek;
//   - folders are "name/" marker objects or common prefixes of keys, and
//     listings are read page by page;
//   - rename is a copy and a delete (not atomic), for files only;
//   - every call honours its context;
//   - a quota is a *pier.ReplyError{Code: 552} from Write.
//
// Run it and fetch the file it starts with, in a folder that exists only
// as the prefix of its key:
//
//	go run ./examples/objstore -quota 10485760
//	curl ftp://user:12345@127.0.0.1:2121/pub/readme.txt
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
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2121", "address to listen on")
	quota := flag.Int64("quota", 100<<20, "bytes the user may store (0: no limit)")
	flag.Parse()

	store := NewStore()
	// No "pub/" marker: pub is a folder only because a key starts with
	// "pub/", as when another client wrote the key.
	err := store.Put(context.Background(), "pub/readme.txt", []byte("This object lives in an in-memory object store.\n"), PutOptions{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := pier.Listen(*addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, ln, NewFS(store, *quota), slog.Default()); err != nil {
		log.Fatal(err)
	}
}

// run serves fsys to "user" (password "12345") with every permission,
// until ctx ends.
func run(ctx context.Context, ln net.Listener, fsys pier.FileSystem, logger *slog.Logger) error {
	users := &auth.Virtual{}
	if err := users.AddUser("user", auth.Account{Password: "12345", FS: fsys, Perm: pier.AllPerms}); err != nil {
		return err
	}
	srv := &pier.Server{Auth: users, Logger: logger}
	return srv.ServeContext(ctx, ln, 10*time.Second)
}

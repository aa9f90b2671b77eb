// Command sitecmd is an FTP server with a custom SITE sub-command, SITE
// RMTREE, which removes a folder and everything in it in one command
// instead of one DELE or RMD per entry.
//
//	go run ./examples/sitecmd -dir /srv/ftp
//	ftp> quote SITE RMTREE old-backups
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path"
	"syscall"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/local"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2121", "address to listen on")
	dir := flag.String("dir", ".", "folder to serve")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := pier.Listen(*addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, ln, *dir, slog.Default()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, ln net.Listener, dir string, logger *slog.Logger) error {
	root, err := local.New(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	users := &auth.Virtual{}
	err = users.AddUser("user", auth.Account{
		Password: "12345", FS: root, Perm: pier.AllPerms,
		// Nothing may be deleted under /archive, by RMTREE either.
		Overrides: []pier.PermOverride{{Dir: "/archive", Perm: pier.ReadPerms + "w", Recursive: true}},
	})
	if err != nil {
		return err
	}
	if err := users.AddAnonymous(auth.Account{FS: root, Perm: pier.ReadPerms}); err != nil {
		return err
	}
	srv := &pier.Server{Auth: users, Logger: logger}
	err = srv.HandleSite(pier.Command{
		Name: "RMTREE",
		Help: "Syntax: SITE RMTREE <SP> path (remove a folder and its contents).",
		// The server checks these before the handler runs, as for its own
		// commands: 501 without an argument, 530 before login, 550 for a
		// user without 'd' at the path the argument names (overrides
		// included), 550 for a path that does not exist (Stat looks it
		// up, without following a symlink: a link to a folder is not a
		// folder to empty).
		NeedsLogin: true,
		Perm:       "d",
		Path:       pier.PathArg,
		Stat:       true,
		Arg:        pier.ArgRequired,
		Handler:    siteRMTREE,
	})
	if err != nil {
		return err
	}
	return srv.ServeContext(ctx, ln, 10*time.Second)
}

// siteRMTREE removes the folder arg names and its contents.
func siteRMTREE(s *pier.Session, r *pier.Request) error {
	if r.Path == "/" {
		return &pier.ReplyError{Code: 550, Message: "Can't remove the root folder."}
	}
	if !r.Info.IsDir() {
		return &pier.ReplyError{Code: 550, Message: "Not a directory."}
	}
	if err := removeTree(r.Context(), s, s.User().FS, r.Path, r.Name); err != nil {
		s.Logger().Info("SITE RMTREE failed", "path", r.Path, "err", err)
		return err // the server's usual mapping: 550 for fs.ErrPermission...
	}
	s.Logger().Info("SITE RMTREE", "path", r.Path)
	s.Reply(250, "Folder tree removed.")
	return nil
}

// removeTree empties the folder name (virtual path vpath) depth first,
// through the user's FileSystem, and removes it. Going through the
// FileSystem keeps it inside the user's root and works on any back-end;
// the per-path permission is checked on every entry, so an override
// deeper down stops the removal there.
func removeTree(ctx context.Context, s *pier.Session, fsys pier.FileSystem, vpath, name string) error {
	if !s.Allowed(pier.PermDelete, vpath) {
		return fmt.Errorf("rmtree %s: %w", vpath, fs.ErrPermission)
	}
	entries, err := readDir(ctx, fsys, name)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err // ABOR, QUIT, or the client has gone
		}
		child, childV := path.Join(name, e.Name()), path.Join(vpath, e.Name())
		if e.IsDir() {
			err = removeTree(ctx, s, fsys, childV, child)
		} else if !s.Allowed(pier.PermDelete, childV) {
			err = fmt.Errorf("rmtree %s: %w", childV, fs.ErrPermission)
		} else {
			err = fsys.Remove(ctx, child)
		}
		if err != nil {
			return err
		}
	}
	return fsys.Remove(ctx, name)
}

// readDir reads a whole folder before anything in it is removed: removing
// entries while a listing is open is undefined on many back-ends.
func readDir(ctx context.Context, fsys pier.FileSystem, name string) ([]fs.DirEntry, error) {
	d, err := fsys.OpenDir(ctx, name)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var all []fs.DirEntry
	for {
		batch, err := d.ReadDir(256)
		all = append(all, batch...)
		if errors.Is(err, io.EOF) {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

package system

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/asuser"
	"github.com/pierftp/pier/fsys/local"
)

// startFS starts a thread that has taken the identity, opens the account's
// file system on it with open, and returns the file system and the func
// that stops the thread. Tests that don't run as root replace it.
var startFS = func(id asuser.Identity, open func() (pier.FileSystem, error)) (pier.FileSystem, func(), error) {
	th, err := asuser.Start(id)
	if err != nil {
		return nil, nil, err
	}
	fsys, err := asuser.NewFS(th, open)
	if err != nil {
		th.Stop()
		return nil, nil, err
	}
	return fsys, th.Stop, nil
}

// login opens the account's file system as the account and returns the
// logged-in user. root is Options.Root: "" jails the user in the home
// folder, "/" shows the whole file system and starts in the home folder.
// session, if not nil, is the login's session with the system, which the
// user's release closes last; if login fails, the caller closes it.
func (a *Authenticator) login(ctx context.Context, c pier.ConnInfo, name string, acct *account, s UserSettings, root string, anonymous bool, session io.Closer) (*pier.User, error) {
	if reason := homeRefusal(acct.Home); reason != "" {
		return nil, a.refuse(ctx, c, slog.LevelWarn, name, reason)
	}
	groups := acct.groups
	if groups == nil {
		groupDB, err := a.groups.load()
		if err != nil {
			return nil, err
		}
		groups = groupDB.groupsOf(acct.Name, acct.GID)
	}
	home := filepath.Clean(acct.Home)
	fsRoot, startDir := home, ""
	if root == "/" {
		fsRoot, startDir = "/", filepath.ToSlash(home)
	}
	// Every system call on the account's thread, listings' fstatat
	// calls included: other threads have the process's identity.
	opts := []local.Option{local.SingleThread()}
	if a.opts.AtomicUploads {
		opts = append(opts, local.AtomicUploads())
	}
	open := func() (pier.FileSystem, error) {
		// Resolving "." in the home folder needs search permission on
		// it, so a home the account can't enter fails here, on its
		// thread, rather than at the first command.
		if _, err := os.Stat(home + "/."); err != nil {
			return nil, err
		}
		fsys, err := local.New(fsRoot, opts...)
		if err != nil {
			return nil, err
		}
		return fsys, nil
	}
	id := asuser.Identity{UID: acct.UID, GID: acct.GID, Groups: slices.Clone(groups)}
	fsys, stop, err := startFS(id, open)
	if err != nil {
		reason := fmt.Sprintf("open the home folder as UID %d: %v", acct.UID, err)
		return nil, a.refuse(ctx, c, slog.LevelWarn, name, reason)
	}
	h := &held{fs: fsys, stop: stop, session: session}
	return &pier.User{
		Name:         name,
		Perm:         s.Perm,
		Anonymous:    anonymous,
		FS:           fsys,
		LoginMessage: s.LoginMessage,
		QuitMessage:  s.QuitMessage,
		Overrides:    s.Overrides,
		Release:      h.release,
		System: &pier.SystemAccount{
			UID:    acct.UID,
			GID:    acct.GID,
			Groups: groups,
			Home:   home,
			Shell:  acct.Shell,
		},
		StartDir: startDir,
	}, nil
}

// held is what a successful login holds; the server releases it once,
// when the login ends.
type held struct {
	fs   pier.FileSystem
	stop func() // ends the account's thread
	// session is the login's session with the system (its PAM helper,
	// which holds the PAM session), closed last; nil if there is none.
	session io.Closer
}

// release closes the file system, stops the account's thread, then closes
// the session.
func (h *held) release() {
	if c, ok := h.fs.(io.Closer); ok {
		c.Close()
	}
	h.stop()
	if h.session != nil {
		h.session.Close()
	}
}

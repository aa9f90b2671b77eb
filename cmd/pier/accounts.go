package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
)

// checkAccountFlags checks that the flags choosing the accounts go
// together: -u with -P, and --users-file alone.
func checkAccountFlags(o *options, fs *pflag.FlagSet) error {
	switch {
	case o.username == auth.AnonymousName:
		return usagef("--username %s: anonymous is what pier serves without --username, and it takes any password", o.username)
	case fs.Changed("password") && o.username == "":
		return usagef("--password needs --username")
	case o.username != "" && !fs.Changed("password"):
		return usagef("--username needs --password")
	case o.usersFile != "" && (o.username != "" || fs.Changed("password") || o.write || fs.Changed("directory")):
		return usagef("--users-file excludes --username, --password, --write and --directory (homes and permissions come from the file)")
	}
	return nil
}

// configureAccounts sets the Server's accounts: those of --users-file, the
// -u user, or anonymous.
func configureAccounts(o *options, srv *pier.Server, cfg *config) error {
	if o.db.url != "" {
		return configureDB(o, srv, cfg) // db.go
	}
	if o.system.enabled {
		a, err := systemAuthenticator(o, cfg)
		if err != nil {
			return err
		}
		srv.Auth = a
		return nil
	}
	var users *auth.Virtual
	var err error
	if o.usersFile != "" {
		users, err = usersFromFile(o, cfg)
	} else {
		users, err = singleAccount(o, cfg)
	}
	if err != nil {
		return err
	}
	srv.Auth = users
	return nil
}

// singleAccount serves the folder to one account: the -u user, or
// anonymous; -w lets it write.
func singleAccount(o *options, cfg *config) (*auth.Virtual, error) {
	root, err := cfg.openHome(cfg.dir) // a folder, or s3://BUCKET/PREFIX
	if err != nil {
		return nil, err
	}
	account := auth.Account{FS: root, Perm: pier.ReadPerms}
	if o.write {
		account.Perm = pier.AllPerms
	}
	users := &auth.Virtual{}
	if o.username != "" {
		cfg.user = o.username
		account.Password = o.password
		if o.clientCert.caFile != "" {
			account.Cert = auth.CertAndPassword // clientcert.go
		}
		err = users.AddUser(o.username, account)
	} else {
		cfg.anonymous = true
		err = users.AddAnonymous(account)
	}
	return users, err
}

// usersFromFile loads the accounts of --users-file, each with a local
// folder as its home.
func usersFromFile(o *options, cfg *config) (*auth.Virtual, error) {
	cfg.user = o.usersFile
	users, err := auth.LoadFile(o.usersFile, func(home string) (pier.FileSystem, error) {
		fsys, err := cfg.openHome(home) // s3.go
		if err != nil {
			return nil, err
		}
		return fsys, nil
	})
	var unreachable *s3Error
	if errors.As(err, &unreachable) {
		return nil, fmt.Errorf("--users-file: %w", err) // exit status 1: the store, not the file
	}
	if err != nil {
		return nil, usagef("--users-file: %v", err)
	}
	if perm, ok := users.Anonymous(); ok && perm.Writable() {
		cfg.anonymousWrite = string(perm)
	}
	return users, nil
}

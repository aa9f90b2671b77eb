// Package pier is an FTP server library: RFC 959 with the extensions that
// clients use (RFC 2389 FEAT/OPTS, RFC 2428 EPRT/EPSV and IPv6, RFC 3659
// MLST/MLSD/SIZE/MDTM/REST, RFC 2640 UTF-8, MFMT, SITE CHMOD, HASH and the
// older XCRC/XMD5/XSHA1/XSHA256/XSHA512 file hashes), virtual users
// with pyftpdlib's permission letters, and safe defaults: every path stays
// inside the user's root, FTP bounce is refused, logins are rate-limited.
//
// A working server, sharing /srv/ftp read-only with anonymous users and in
// full with one user:
//
//	root, err := local.New("/srv/ftp")
//	if err != nil {
//		log.Fatal(err)
//	}
//	users := &auth.Virtual{}
//	users.AddAnonymous(auth.Account{FS: root, Perm: pier.ReadPerms})
//	users.AddUser("alice", auth.Account{Password: "s3cret", FS: root, Perm: pier.AllPerms})
//	srv := &pier.Server{Addr: ":2121", Auth: users}
//	log.Fatal(srv.ListenAndServe())
//
// A Server's exported fields are its configuration, and each zero value is
// a safe default. Authentication (Authenticator) and storage (FileSystem)
// are small interfaces; package auth and package fsys/local hold the
// ready-made implementations, and package ftptest starts servers for tests.
//
// Logging goes through log/slog: sessions, logins and transfers at Info;
// data connections and refused commands at LevelVerbose; every command and
// reply at Debug, with passwords masked.
package pier

import "log/slog"

// LevelVerbose is the log level, between Debug and Info, of details an
// operator may want when tracking a problem: data connections and every
// command that was refused.
const LevelVerbose = slog.Level(-2)

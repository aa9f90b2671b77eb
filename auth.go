package pier

import (
	"context"
	"crypto/x509"
	"errors"
	"net/netip"
	"path"
	"strings"
)

// Permission letters, as in pyftpdlib. Read letters: e, l, r. Write letters:
// a, d, f, m, w, M, T.
const (
	PermCWD    = 'e' // CWD, XCWD, CDUP, XCUP
	PermList   = 'l' // LIST, NLST, MLSD, MLST, STAT with a path, SIZE, MDTM
	PermRead   = 'r' // RETR
	PermAppend = 'a' // APPE
	PermDelete = 'd' // DELE, RMD, XRMD
	PermRename = 'f' // RNFR, RNTO
	PermMkdir  = 'm' // MKD, XMKD
	PermWrite  = 'w' // STOR, STOU
	PermChmod  = 'M' // SITE CHMOD
	PermMtime  = 'T' // MFMT
)

// Common permission sets.
const (
	ReadPerms  Perm = "elr"
	WritePerms Perm = "adfmwMT"
	AllPerms   Perm = ReadPerms + WritePerms
)

// Perm is a set of pyftpdlib permission letters, such as "elr" for read-only
// access or "elradfmwMT" for everything.
type Perm string

// Has reports whether p grants the permission letter.
func (p Perm) Has(letter byte) bool { return strings.IndexByte(string(p), letter) >= 0 }

// Validate returns an error if p holds a letter that is not one of
// "elradfmwMT".
func (p Perm) Validate() error {
	for i := 0; i < len(p); i++ {
		if !AllPerms.Has(p[i]) {
			return errors.New("no such permission " + strconvQuoteByte(p[i]))
		}
	}
	return nil
}

// Writable reports whether p grants any write letter.
func (p Perm) Writable() bool { return strings.ContainsAny(string(p), string(WritePerms)) }

func strconvQuoteByte(b byte) string { return "'" + string(rune(b)) + "'" }

// User is a logged-in account: what an Authenticator returns on success.
type User struct {
	// Name is the login name.
	Name string
	// Perm is the set of permission letters the user has.
	Perm Perm
	// Anonymous marks a guest account: it never gets SITE CHMOD, whatever
	// its letters. auth.Virtual sets it for "anonymous".
	Anonymous bool
	// FS is the user's file system; its root is the user's home.
	FS FileSystem
	// LoginMessage is sent in the 230 reply. If empty, "Login successful.".
	LoginMessage string
	// QuitMessage is sent in the 221 reply. If empty, "Goodbye.".
	QuitMessage string
	// Overrides give other permissions under some folders (pyftpdlib's
	// override_perm). The deepest matching override wins; elsewhere Perm
	// applies.
	Overrides []PermOverride
	// ReadLimit and WriteLimit, if positive, cap this user's upload
	// (read from the client) and download (written to the client) rates
	// in bytes per second, instead of the server's per-session limits.
	ReadLimit, WriteLimit int64
	// Release, if not nil, frees what this login holds (a file system
	// opened for it, a PAM session, a helper process). The server calls it
	// exactly once, when the login ends: QUIT, REIN, a new USER, the
	// connection closing, or the server shutting down; after the Logout
	// hook, and once no transfer or command of the login runs any more.
	// A User shared by many logins leaves it nil.
	Release func()
	// System is the machine account of a system user (auth/system), nil for others.
	System *SystemAccount
	// StartDir is the virtual folder the session starts in; "/" if empty.
	StartDir string

	// Quota, if set, counts and limits what the user stores (see Quota):
	// uploads past it fail with 552. Uploads of a user with a Quota are
	// copied through a buffer (no splice).
	Quota Quota
}

// PermOverride sets the permissions under one folder.
type PermOverride struct {
	// Dir is the folder's virtual absolute path, such as "/incoming".
	Dir string
	// Perm is the permission letters there.
	Perm Perm
	// Recursive applies Perm to the whole subtree; otherwise to the folder
	// itself and the entries directly in it.
	Recursive bool
}

// PermAt returns the permissions that apply at a virtual absolute path.
func (u *User) PermAt(vpath string) Perm {
	perm, best := u.Perm, -1
	for _, o := range u.Overrides {
		dir := path.Clean("/" + o.Dir)
		match := vpath == dir ||
			(o.Recursive && (dir == "/" || strings.HasPrefix(vpath, dir+"/"))) ||
			(!o.Recursive && path.Dir(vpath) == dir)
		if match && len(dir) > best {
			perm, best = o.Perm, len(dir)
		}
	}
	return perm
}

// HasAll reports whether p grants every letter of q.
func (p Perm) HasAll(q Perm) bool {
	for i := 0; i < len(q); i++ {
		if !p.Has(q[i]) {
			return false
		}
	}
	return true
}

// ConnInfo describes the control connection an authentication request comes
// from, so that an Authenticator can allow-list or rate-limit addresses.
type ConnInfo struct {
	// ID is the session's number, unique within the server.
	ID uint64
	// RemoteAddr is the client's address (IPv4-mapped addresses unmapped).
	RemoteAddr netip.AddrPort
	// LocalAddr is the server's address of the connection.
	LocalAddr netip.AddrPort
	// ClientCert is the client's TLS certificate on the control
	// connection, found valid at USER against Server.TLSClientCerts (its
	// chain, dates, use and revocation); nil if it sent none, or client
	// certificates are off. A certificate that is not valid is refused
	// before any Authenticator is asked.
	ClientCert *x509.Certificate
}

// Authenticator checks a user name and password. It is called concurrently
// from many sessions.
type Authenticator interface {
	// Authenticate returns the user for a valid name and password, or an
	// error. ErrAuthFailed (or one wrapping it) means bad credentials:
	// the client gets 530, and the failure counts toward
	// Server.MaxLoginAttempts and Server.BanAfter. Any other error means
	// the check could not be made (a database or PAM outage): it is
	// logged, the client gets 421 and is disconnected, and nobody is
	// banned for it. Error texts are never shown to the client.
	//
	// ctx ends when the session does (the client quits or drops, or the
	// server closes): an authenticator that waits on a network should
	// return then.
	Authenticate(ctx context.Context, c ConnInfo, user, pass string) (*User, error)
}

// AuthenticatorFunc adapts a function to the Authenticator interface.
type AuthenticatorFunc func(ctx context.Context, c ConnInfo, user, pass string) (*User, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, c ConnInfo, user, pass string) (*User, error) {
	return f(ctx, c, user, pass)
}

// ErrAuthFailed is the error an Authenticator returns for a wrong name or
// password.
var ErrAuthFailed = errors.New("authentication failed")

// Package system is a pier.Authenticator that logs in the machine's own
// accounts, as pyftpdlib's UnixAuthorizer does, with vsftpd's safe
// defaults: root and system accounts (UID below 1000) are refused, the
// login shell must be listed in /etc/shells, an expired account or
// password is refused, and each user is jailed in their home folder. The
// user's files are read and written as that user (package fsys/asuser),
// so the server must run as root.
//
//	users, err := system.New(system.Options{})
//	if err != nil {
//		log.Fatal(err)
//	}
//	srv := &pier.Server{Addr: ":21", Auth: users}
//	log.Fatal(srv.ListenAndServe())
//
// Unless PAM is used (see below), accounts are read from /etc/passwd,
// /etc/shadow and /etc/group in pure Go (no cgo, no NSS: accounts from
// LDAP or NIS are not seen), and read again whenever those files change.
// Passwords are checked against the crypt(3) hashes of the shadow file:
// yescrypt, sha512-crypt, sha256-crypt, bcrypt and md5-crypt.
//
// Every refusal gives the client the same error, wrapping
// pier.ErrAuthFailed, and is logged with its reason; the password is
// checked before anything else about the account, so a client learns
// nothing about an account it has not got the password of. (With PAM,
// the allowed and rejected lists, which are about the name, not the
// account, are checked first.)
//
// # PAM
//
// With Options.PAMService, PAM checks the passwords and the accounts
// instead (its auth and account steps), and opens a PAM session for each
// login (setcred and its session step), closed when the login ends;
// accounts are looked up through NSS (getpwnam(3)), so those of LDAP or
// sssd log in too. This needs a pier built on Linux with cgo and the pam
// build tag, and libpam's headers (Debian's libpam0g-dev):
//
//	go build -tags pam ./cmd/pier
//
// PAM's modules change the state of the process they run in: glibc
// applies a module's setuid or setgroups to every thread, including the
// threads that act as other users (package fsys/asuser), and resource
// limits, keyrings and the audit login uid belong to the whole process.
// So, as sshd and vsftpd do, each PAM login runs PAM in a helper process
// of its own, which holds the PAM session for as long as the login
// lasts, and closes it when the login ends, or when the server dies.
//
// The helper is the program itself, started again from /proc/self/exe
// with PIER_PAM_HELPER=1 in its environment: this package's init
// function then runs the helper, on its standard input and output, and
// exits before main. A program that embeds this package and builds with
// -tags pam needs nothing more; but its packages' init functions run in
// each helper too, so they should have no side effects, and the program
// must not be installed setuid (anyone could run it as a helper).
package system

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
)

// Options configures an Authenticator. The zero value is the safe default
// described on each field.
type Options struct {
	// PasswdFile, ShadowFile, GroupFile and ShellsFile are the account
	// files. If empty, /etc/passwd, /etc/shadow, /etc/group and
	// /etc/shells.
	PasswdFile, ShadowFile, GroupFile, ShellsFile string

	// AllowedUsers, if not empty, lists the only login names that may log
	// in (pyftpdlib's allowed_users). RejectedUsers lists names that may
	// not (rejected_users). Setting both is an error. Neither applies to
	// the anonymous login, which AnonymousUser alone enables.
	AllowedUsers, RejectedUsers []string

	// AnyShell lets in accounts whose login shell is not listed in the
	// shells file, such as /usr/sbin/nologin. By default they are
	// refused (pyftpdlib's require_valid_shell, vsftpd's check_shell).
	AnyShell bool

	// AllowRoot lets root (UID 0) log in, whatever MinUID. By default it
	// is refused.
	AllowRoot bool

	// MinUID is the lowest UID that may log in, to keep out the system
	// accounts (daemon, www-data, ...). If zero, 1000; if negative, any
	// UID (root still needs AllowRoot).
	MinUID int

	// Root is what a user's file system shows. If empty, the user's home
	// folder: they are jailed in it. If "/", the whole file system, and
	// the session starts in the home folder. Other values are an error.
	Root string

	// Perm is the permission letters of every user without their own in
	// Users. If empty, all of them (pier.AllPerms): the account's own
	// file permissions still decide what it may do.
	Perm pier.Perm

	// Users holds the settings of some users, by login name. The anonymous
	// login's entry is "anonymous" (auth.AnonymousName); its permissions
	// are AnonymousPerm, so its Perm must be empty.
	Users map[string]UserSettings

	// AnonymousUser, if not empty, enables the anonymous login: the name
	// "anonymous", with any password (RFC 1635), logs in as this machine
	// account (typically "ftp" or "nobody"), jailed in its home folder
	// whatever Root. That account needs neither a valid shell nor a UID
	// of at least MinUID, but it must exist and must not be root; New
	// fails otherwise. Its shadow expiry date is honoured.
	AnonymousUser string

	// AnonymousPerm is the anonymous login's permission letters. If
	// empty, read-only (pier.ReadPerms).
	AnonymousPerm pier.Perm

	// AtomicUploads makes uploads that replace a file atomic (see
	// local.AtomicUploads).
	AtomicUploads bool

	// Logger gets one line per refused login, with the user name and the
	// reason. If nil, slog.Default().
	Logger *slog.Logger

	// Now tells the day for the shadow file's expiry dates. If nil,
	// time.Now.
	Now func() time.Time

	// PAMService, if not empty, is the PAM service (its stack in
	// /etc/pam.d/PAMService, such as "login"; New fails if the file is
	// missing, as PAM would use "other" instead) that checks passwords and
	// accounts instead of the shadow file: its auth and account steps,
	// then, once pier's own rules let the account in, setcred and its
	// session step, the session closed when the login ends. Accounts are
	// then found through NSS. The shadow file's dates are left to PAM;
	// pier's other rules still apply: AllowedUsers and RejectedUsers,
	// checked before PAM is asked (they are about the name the client
	// gave, not the account), and, once PAM let the account in, root,
	// MinUID, the shell and the home folder (checked once the session is
	// open, so that pam_mkhomedir may make it). A PAM outage (a module that
	// fails, a service file that can't be read) makes Authenticate fail
	// with an error that does not wrap pier.ErrAuthFailed. The anonymous
	// login does not go through PAM. Each login runs PAM in a helper
	// process (see the package doc). New fails with an error wrapping
	// ErrNoPAM in a pier built without PAM.
	PAMService string

	// PAMConfDir is the folder PAMService's file is read from. If empty,
	// the system's (/etc/pam.d). It is for tests; setting it without
	// PAMService is an error.
	PAMConfDir string
}

// UserSettings is one user's settings (see Options.Users).
type UserSettings struct {
	// Perm is the user's permission letters. If empty, Options.Perm.
	Perm pier.Perm
	// Overrides give other permissions under some folders, named by
	// virtual absolute paths (pyftpdlib's override_perm).
	Overrides []pier.PermOverride
	// LoginMessage and QuitMessage override the 230 and 221 texts.
	LoginMessage, QuitMessage string
}

// Authenticator logs in the machine's accounts; New makes one. It is safe
// for concurrent use.
type Authenticator struct {
	opts              Options // defaults filled in
	allowed, rejected map[string]bool
	minUID            int64 // -1: no threshold
	log               *slog.Logger
	now               func() time.Time
	passwd            *watched[passwdDB]
	shadow            *watched[shadowDB]
	groups            *watched[groupDB]
	shells            *watched[shellsDB]
}

var _ pier.Authenticator = (*Authenticator)(nil)

// New returns an Authenticator with the options. It fails if the options
// contradict each other (AllowedUsers and RejectedUsers both set, an
// unknown permission letter, a Root other than "" or "/", PAMConfDir
// without PAMService), if PAMService is set in a pier built without PAM
// (the error wraps ErrNoPAM), if an account file can't be read (the
// shadow file needs root), if PAMService has no service file, or if
// AnonymousUser is not an account other than root with a home folder.
func New(opts Options) (*Authenticator, error) {
	if len(opts.AllowedUsers) > 0 && len(opts.RejectedUsers) > 0 {
		return nil, errors.New("system: AllowedUsers and RejectedUsers are both set: use one")
	}
	switch {
	case opts.PAMService == "" && opts.PAMConfDir != "":
		return nil, errors.New("system: PAMConfDir is set without PAMService")
	case opts.PAMService == "":
	case !pamBuilt:
		return nil, fmt.Errorf("system: PAMService %q: %w", opts.PAMService, ErrNoPAM)
	case strings.ContainsAny(opts.PAMService, "/\x00") || opts.PAMService == "." || opts.PAMService == "..":
		return nil, fmt.Errorf("system: PAMService %q: want a service name, such as login", opts.PAMService)
	default:
		// Linux-PAM falls back to the service "other" for a name it has
		// no file for, which on Debian lets every account in: a typo
		// would silently drop the rules of the file meant.
		dir := cmp.Or(opts.PAMConfDir, "/etc/pam.d")
		if _, err := os.Stat(filepath.Join(dir, opts.PAMService)); err != nil {
			return nil, fmt.Errorf("system: PAMService %q: no service file %s (PAM would use its \"other\" service instead)", opts.PAMService, filepath.Join(dir, opts.PAMService))
		}
	}
	if opts.Root != "" && opts.Root != "/" {
		return nil, fmt.Errorf("system: Root %q: want \"\" (each user's home) or \"/\"", opts.Root)
	}
	if opts.Perm == "" {
		opts.Perm = pier.AllPerms
	}
	if opts.AnonymousPerm == "" {
		opts.AnonymousPerm = pier.ReadPerms
	}
	if err := opts.Perm.Validate(); err != nil {
		return nil, fmt.Errorf("system: Perm: %w", err)
	}
	if err := opts.AnonymousPerm.Validate(); err != nil {
		return nil, fmt.Errorf("system: AnonymousPerm: %w", err)
	}
	opts.Users = maps.Clone(opts.Users)
	for name, s := range opts.Users {
		if err := s.validate(); err != nil {
			return nil, fmt.Errorf("system: user %q: %w", name, err)
		}
		if name == auth.AnonymousName && s.Perm != "" {
			return nil, fmt.Errorf("system: user %q: set the anonymous login's permissions with AnonymousPerm", name)
		}
		s.Overrides = slices.Clone(s.Overrides)
		opts.Users[name] = s
	}
	a := &Authenticator{
		allowed:  setOf(opts.AllowedUsers),
		rejected: setOf(opts.RejectedUsers),
		minUID:   int64(opts.MinUID),
		log:      opts.Logger,
		now:      opts.Now,
		passwd:   newWatched(orDefault(opts.PasswdFile, "/etc/passwd"), parsePasswd),
		shadow:   newWatched(orDefault(opts.ShadowFile, "/etc/shadow"), parseShadow),
		groups:   newWatched(orDefault(opts.GroupFile, "/etc/group"), parseGroup),
		shells:   newWatched(orDefault(opts.ShellsFile, "/etc/shells"), parseShells),
	}
	switch {
	case opts.MinUID == 0:
		a.minUID = 1000
	case opts.MinUID < 0:
		a.minUID = -1
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.opts = opts
	if err := a.loadAll(); err != nil {
		return nil, err
	}
	if opts.AnonymousUser != "" {
		pw, err := a.passwd.load()
		if err != nil {
			return nil, err
		}
		e, ok := pw[opts.AnonymousUser]
		if !ok {
			return nil, fmt.Errorf("system: AnonymousUser %q: no such account in %s", opts.AnonymousUser, a.passwd.path)
		}
		if e.UID == 0 {
			return nil, fmt.Errorf("system: AnonymousUser %q: is root", opts.AnonymousUser)
		}
		if reason := homeRefusal(e.Home); reason != "" {
			// Every anonymous login would fail, and count toward bans.
			return nil, fmt.Errorf("system: AnonymousUser %q: %s", opts.AnonymousUser, reason)
		}
	}
	return a, nil
}

// loadAll reads the four account files, so that New fails on one it can't
// read rather than every login later.
func (a *Authenticator) loadAll() error {
	for _, load := range []func() error{
		func() error { _, err := a.passwd.load(); return err },
		func() error { _, err := a.shadow.load(); return err },
		func() error { _, err := a.groups.load(); return err },
		func() error { _, err := a.shells.load(); return err },
	} {
		if err := load(); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the permission letters and override folders.
func (s UserSettings) validate() error {
	if err := s.Perm.Validate(); err != nil {
		return err
	}
	for _, o := range s.Overrides {
		if err := o.Perm.Validate(); err != nil {
			return fmt.Errorf("override %s: %w", o.Dir, err)
		}
		if !strings.HasPrefix(o.Dir, "/") {
			return fmt.Errorf("override %q: want a virtual absolute path such as /incoming", o.Dir)
		}
	}
	return nil
}

func setOf(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

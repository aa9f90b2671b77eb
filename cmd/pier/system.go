package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth/system"
)

// systemOptions are the flags of --system-users.
type systemOptions struct {
	enabled        bool
	allowed        []string
	rejected       []string
	minUID         int
	anyShell       bool
	anonymousUser  string
	noHomeJail     bool
	pamService     string
	userPerm       map[string]string
	systemUserPerm string
}

// addSystemFlags defines the flags for the machine's own accounts.
func addSystemFlags(fs *pflag.FlagSet, o *options) {
	s := &o.system
	fs.BoolVar(&s.enabled, "system-users", false, "log in the machine's own accounts with their passwords (the shadow file; PAM with --pam-service), each in its home, touching files as itself (Linux, run as root); excludes -u, --users-file and -d")
	fs.StringSliceVar(&s.allowed, "allowed-users", nil, "with --system-users, only these login `NAMES` (comma-separated) may log in")
	fs.StringSliceVar(&s.rejected, "rejected-users", nil, "with --system-users, these login `NAMES` (comma-separated) may not log in")
	fs.IntVar(&s.minUID, "min-uid", 1000, "with --system-users, accounts with a user id below `UID` are refused (0: none are; root always is)")
	fs.BoolVar(&s.anyShell, "any-shell", false, "with --system-users, let in accounts whose login shell is not in /etc/shells (such as nologin)")
	fs.StringVar(&s.anonymousUser, "anonymous-user", "", "with --system-users, let anonymous in (any password) as this machine `ACCOUNT`, in its home, read-only unless -w; default: no anonymous")
	fs.BoolVar(&s.noHomeJail, "no-home-jail", false, "with --system-users, show accounts the whole file system (starting in their home; the kernel's permissions still apply) instead of jailing each in its home")
	fs.StringVar(&s.systemUserPerm, "system-user-perm", string(pier.AllPerms), "with --system-users, the permission `LETTERS` of every account (pyftpdlib's: elradfmwMT)")
	fs.StringToStringVar(&s.userPerm, "user-perm", nil, "with --system-users, other permission letters for some accounts: `NAME=LETTERS`,... (such as alice=elr)")
	fs.StringVar(&s.pamService, "pam-service", "", "with --system-users, check passwords and accounts through this PAM `SERVICE` (/etc/pam.d/SERVICE, such as login; pier refuses to start if the file is missing) instead of the shadow file; needs a pier built with -tags pam")
}

// systemOnlyFlags are the flags that mean nothing without --system-users.
var systemOnlyFlags = []string{"allowed-users", "rejected-users", "min-uid", "any-shell", "anonymous-user", "no-home-jail", "system-user-perm", "user-perm", "pam-service"}

// checkSystemFlags checks the --system-users flags against each other and
// the others.
func checkSystemFlags(o *options, fs *pflag.FlagSet) error {
	s := &o.system
	if !s.enabled {
		for _, name := range systemOnlyFlags {
			if fs.Changed(name) {
				return usagef("--%s needs --system-users", name)
			}
		}
		return nil
	}
	for _, name := range []string{"username", "password", "users-file", "directory"} {
		if fs.Changed(name) {
			return usagef("--system-users excludes --%s (accounts and homes come from the machine)", name)
		}
	}
	var err error
	if s.allowed, err = cleanNames(fs, "allowed-users", s.allowed); err != nil {
		return err
	}
	if s.rejected, err = cleanNames(fs, "rejected-users", s.rejected); err != nil {
		return err
	}
	if s.userPerm, err = cleanUserPerm(fs, s.userPerm); err != nil {
		return err
	}
	switch {
	case len(s.allowed) > 0 && len(s.rejected) > 0:
		return usagef("--allowed-users and --rejected-users: use one")
	case o.write && s.anonymousUser == "":
		return usagef("--write with --system-users: accounts may write already (--system-user-perm); -w is for --anonymous-user")
	case s.minUID < 0:
		return usagef("--min-uid %d: must be 0 or more", s.minUID)
	case runtime.GOOS != "linux":
		return usagef("--system-users: only on Linux (pier acts as each account with per-thread credentials)")
	case os.Geteuid() != 0:
		return usagef("--system-users: pier must run as root to read /etc/shadow and act as each account")
	}
	if err := pier.Perm(s.systemUserPerm).Validate(); err != nil {
		return usagef("--system-user-perm %q: %v (letters of elradfmwMT)", s.systemUserPerm, err)
	}
	for name, perm := range s.userPerm {
		if err := pier.Perm(perm).Validate(); err != nil {
			return usagef("--user-perm %s=%s: %v (letters of elradfmwMT)", name, perm, err)
		}
		if name == "anonymous" {
			return usagef("--user-perm anonymous=%s: anonymous is read-only, or everything with -w", perm)
		}
	}
	return nil
}

// cleanNames trims the names of a list flag, and refuses an empty list
// or an empty name: a list meant to restrict must not restrict nothing
// because of a space or an unset shell variable.
func cleanNames(fs *pflag.FlagSet, flag string, names []string) ([]string, error) {
	if !fs.Changed(flag) {
		return nil, nil
	}
	if len(names) == 0 {
		return nil, usagef("--%s: an empty list (name at least one account)", flag)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			return nil, usagef("--%s %q: an empty name", flag, strings.Join(names, ","))
		}
		out = append(out, n)
	}
	return out, nil
}

// cleanUserPerm trims the names and letters of --user-perm and refuses
// empty ones.
func cleanUserPerm(fs *pflag.FlagSet, in map[string]string) (map[string]string, error) {
	if !fs.Changed("user-perm") {
		return nil, nil
	}
	if len(in) == 0 {
		return nil, usagef("--user-perm: an empty list (give NAME=LETTERS)")
	}
	out := make(map[string]string, len(in))
	for name, perm := range in {
		name, perm = strings.TrimSpace(name), strings.TrimSpace(perm)
		if name == "" || perm == "" {
			return nil, usagef("--user-perm %s=%s: want NAME=LETTERS, both not empty", name, perm)
		}
		out[name] = perm
	}
	return out, nil
}

// unknownAccounts returns the names of the list flags that are not
// accounts of the machine now, for a warning at start (they may be
// added later, so it is not an error).
func unknownAccounts(s *systemOptions) []string {
	var names []string
	names = append(names, s.allowed...)
	names = append(names, s.rejected...)
	for n := range s.userPerm {
		names = append(names, n)
	}
	var unknown []string
	for _, n := range names {
		if _, err := user.Lookup(n); err != nil {
			unknown = append(unknown, n)
		}
	}
	sort.Strings(unknown)
	return slices.Compact(unknown)
}

// systemAuthenticator makes the authenticator of --system-users.
func systemAuthenticator(o *options, cfg *config) (pier.Authenticator, error) {
	s := &o.system
	opts := system.Options{
		AllowedUsers:  s.allowed,
		RejectedUsers: s.rejected,
		MinUID:        s.minUID,
		AnyShell:      s.anyShell,
		AnonymousUser: s.anonymousUser,
		Perm:          pier.Perm(s.systemUserPerm),
		AtomicUploads: o.atomicUploads,
		PAMService:    s.pamService,
		Logger:        cfg.logger,
	}
	if s.minUID == 0 {
		opts.MinUID = -1 // the flag's 0 is "no threshold"; the library's is "the default"
	}
	if s.noHomeJail {
		opts.Root = "/"
	}
	if o.write {
		opts.AnonymousPerm = pier.AllPerms
	}
	if len(s.userPerm) > 0 {
		opts.Users = make(map[string]system.UserSettings, len(s.userPerm))
		for name, perm := range s.userPerm {
			opts.Users[name] = system.UserSettings{Perm: pier.Perm(perm)}
		}
	}
	a, err := system.New(opts)
	if errors.Is(err, system.ErrNoPAM) {
		return nil, usagef("--pam-service %s: %v", s.pamService, system.ErrNoPAM)
	}
	if err != nil {
		return nil, usagef("--system-users: %v", err)
	}
	cfg.anonymous = s.anonymousUser != ""
	if unknown := unknownAccounts(s); len(unknown) > 0 {
		cfg.warnings = append(cfg.warnings, fmt.Sprintf("--allowed-users, --rejected-users or --user-perm name no account of this machine (yet): %s", strings.Join(unknown, ", ")))
	}
	return a, nil
}

// describeSystemUsers is the start-up line's "login" for --system-users.
func describeSystemUsers(o *options) string {
	s := &o.system
	d := "system accounts"
	if s.pamService != "" {
		d += " (PAM service " + s.pamService + ")"
	}
	switch {
	case len(s.allowed) > 0:
		names := slices.Clone(s.allowed)
		sort.Strings(names)
		d += fmt.Sprintf(", only %v", names)
	case len(s.rejected) > 0:
		d += fmt.Sprintf(", except %v", s.rejected)
	}
	if s.anonymousUser != "" {
		d += ", anonymous as " + s.anonymousUser
	}
	return d
}

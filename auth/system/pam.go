//go:build pam && cgo && linux

package system

/*
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/msteinert/pam/v2"
)

// pamBuilt reports whether this pier was built with PAM support.
const pamBuilt = true

// The PAM calls below run only in a PAM helper process (pam_helper.go),
// never in the server: the modules of a service's stack change process
// state (credentials through glibc, which applies setuid and setgroups to
// every thread, including those of package asuser; resource limits;
// keyrings; the audit login uid), and in the helper that state is the
// login's own. lookupNSS is read-only and runs in the server.

// pamTx is a PAM transaction whose user was authenticated and whose
// account is valid. It may open a session, and must be closed. It is not
// safe for concurrent use: a PAM handle is not.
type pamTx struct {
	t       *pam.Transaction // nil once ended
	cred    bool             // pam_setcred(PAM_ESTABLISH_CRED) succeeded
	session bool             // pam_open_session succeeded
}

// pamRefusals are the PAM errors that refuse a login, as opposed to those
// that say PAM could not decide.
var pamRefusals = []pam.Error{
	pam.ErrAuth,
	pam.ErrUserUnknown,
	pam.ErrMaxtries,
	pam.ErrCredInsufficient,
	pam.ErrAcctExpired,
	pam.ErrNewAuthtokReqd,
	pam.ErrAuthtokExpired,
	pam.ErrPermDenied,
}

// pamAuthenticate asks PAM whether name may log in with pass: it starts a
// transaction for service, with its configuration read from confDir (if
// empty, the system's: /etc/pam.d), sets PAM_RHOST to rhost (if not
// empty) and PAM_TTY to "ftp" as vsftpd does, then calls
// pam_authenticate and pam_acct_mgmt, both with
// PAM_DISALLOW_NULL_AUTHTOK. The conversation answers password prompts
// with pass and echoed prompts with name, and ignores messages. It
// blocks as long as the modules do (pam_unix waits about 2 s before it
// refuses).
//
// A login PAM refuses returns an error wrapping errPAMRefused and the
// pam.Error, with the step and PAM's reason; so does a module that
// changes PAM_USER, as the server would log in the name asked, not the
// one PAM checked. Any other failure (a module or service that can't be
// read, a directory service out of reach) is an outage, an error that
// does not wrap errPAMRefused. On success the caller owns the
// transaction and must Close it.
func pamAuthenticate(service, confDir, name, pass, rhost string) (*pamTx, error) {
	// C strings end at a NUL: PAM would check a name or password cut
	// short there.
	switch {
	case name == "":
		return nil, fmt.Errorf("%w: empty user name", errPAMRefused)
	case strings.ContainsRune(name, 0):
		return nil, fmt.Errorf("%w: NUL in the user name", errPAMRefused)
	case strings.ContainsRune(pass, 0):
		return nil, fmt.Errorf("%w: NUL in the password", errPAMRefused)
	}
	conv := pam.ConversationFunc(func(style pam.Style, msg string) (string, error) {
		switch style {
		case pam.PromptEchoOff:
			return pass, nil
		case pam.PromptEchoOn:
			return name, nil
		}
		return "", nil
	})
	var t *pam.Transaction
	var err error
	if confDir == "" {
		t, err = pam.Start(service, name, conv)
	} else {
		t, err = pam.StartConfDir(service, name, conv, confDir)
	}
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	tx := &pamTx{t: t}
	steps := []struct {
		name string
		run  func() error
	}{
		{"PAM_RHOST", func() error {
			if rhost == "" {
				return nil
			}
			return t.SetItem(pam.Rhost, rhost)
		}},
		{"PAM_TTY", func() error { return t.SetItem(pam.Tty, "ftp") }},
		{"authentication", func() error { return t.Authenticate(pam.DisallowNullAuthtok) }},
		{"account management", func() error { return t.AcctMgmt(pam.DisallowNullAuthtok) }},
	}
	for _, step := range steps {
		err := step.run()
		if err == nil {
			continue
		}
		tx.Close()
		var code pam.Error
		if errors.As(err, &code) && slices.Contains(pamRefusals, code) {
			return nil, fmt.Errorf("%w: %s: %w", errPAMRefused, step.name, err)
		}
		return nil, fmt.Errorf("%s: %w", step.name, err)
	}
	user, err := t.GetItem(pam.User)
	switch {
	case err != nil:
		tx.Close()
		return nil, fmt.Errorf("PAM_USER: %w", err)
	case user != name:
		tx.Close()
		return nil, fmt.Errorf("%w: a module changed the user name to %q, which pier does not support", errPAMRefused, user)
	}
	return tx, nil
}

// OpenSession establishes the user's credentials (pam_setcred with
// PAM_ESTABLISH_CRED) and opens a PAM session (pam_open_session). Any
// error is an outage; Close undoes what was done. It fails if the
// transaction is closed or a session is already open.
func (tx *pamTx) OpenSession() error {
	switch {
	case tx.t == nil:
		return errors.New("PAM: open session: transaction closed")
	case tx.session:
		return errors.New("PAM: open session: already open")
	}
	if !tx.cred {
		if err := tx.t.SetCred(pam.EstablishCred); err != nil {
			return fmt.Errorf("PAM: establish credentials: %w", err)
		}
		tx.cred = true
	}
	if err := tx.t.OpenSession(0); err != nil {
		return fmt.Errorf("PAM: open session: %w", err)
	}
	tx.session = true
	return nil
}

// Close closes the session if one is open (pam_close_session), deletes
// the credentials if they were established (pam_setcred with
// PAM_DELETE_CRED), and ends the transaction (pam_end), going on after
// an error, and returns the errors. It may be called in any state and
// more than once; after the first call it does nothing.
func (tx *pamTx) Close() error {
	if tx.t == nil {
		return nil
	}
	var errs []error
	if tx.session {
		if err := tx.t.CloseSession(0); err != nil {
			errs = append(errs, fmt.Errorf("PAM: close session: %w", err))
		}
		tx.session = false
	}
	if tx.cred {
		if err := tx.t.SetCred(pam.DeleteCred); err != nil {
			errs = append(errs, fmt.Errorf("PAM: delete credentials: %w", err))
		}
		tx.cred = false
	}
	if err := tx.t.End(); err != nil {
		errs = append(errs, fmt.Errorf("PAM: end: %w", err))
	}
	tx.t = nil
	return errors.Join(errs...)
}

// lookupNSS looks an account up through NSS, as getpwnam(3) does, so
// that accounts from LDAP, NIS or sssd are seen, not only those of
// /etc/passwd. It returns the passwd entry, every field filled in from
// getpwnam_r(3) (os/user has neither the shell nor the whole GECOS
// field), and the account's groups from getgrouplist(3) through os/user:
// the primary group first, then the supplementary ones, each once. A
// name NSS does not know returns errUnknownUser; an NSS failure returns
// another error.
func lookupNSS(name string) (passwdEntry, []uint32, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return passwdEntry{}, nil, errUnknownUser
	}
	e, err := getpwnam(name)
	if err != nil {
		return passwdEntry{}, nil, err
	}
	u := &user.User{Username: e.Name, Uid: strconv.FormatUint(uint64(e.UID), 10), Gid: strconv.FormatUint(uint64(e.GID), 10)}
	ids, err := u.GroupIds()
	if err != nil {
		return passwdEntry{}, nil, fmt.Errorf("groups of %s: %w", name, err)
	}
	groups := []uint32{e.GID}
	for _, id := range ids {
		gid, ok := parseID(id)
		if !ok {
			return passwdEntry{}, nil, fmt.Errorf("groups of %s: bad group id %q", name, id)
		}
		if !slices.Contains(groups, gid) {
			groups = append(groups, gid)
		}
	}
	return e, groups, nil
}

// maxPasswdBuffer bounds the buffer getpwnam tries for one entry.
const maxPasswdBuffer = 1 << 20

// getpwnam returns name's passwd entry from getpwnam_r(3), or
// errUnknownUser.
func getpwnam(name string) (passwdEntry, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	for size := C.size_t(1024); ; size *= 2 {
		// In C memory: the struct's pointers point into it.
		buf := C.malloc(size)
		var pwd C.struct_passwd
		var result *C.struct_passwd
		rc := C.getpwnam_r(cname, &pwd, (*C.char)(buf), size, &result)
		var e passwdEntry
		if rc == 0 && result != nil {
			e = passwdEntry{
				Name:     C.GoString(pwd.pw_name),
				Password: C.GoString(pwd.pw_passwd),
				UID:      uint32(pwd.pw_uid),
				GID:      uint32(pwd.pw_gid),
				Gecos:    C.GoString(pwd.pw_gecos),
				Home:     C.GoString(pwd.pw_dir),
				Shell:    C.GoString(pwd.pw_shell),
			}
		}
		C.free(buf)
		switch {
		case rc == C.ERANGE && size < maxPasswdBuffer:
			continue
		case rc != 0:
			return passwdEntry{}, fmt.Errorf("getpwnam_r %s: %w", name, syscall.Errno(rc))
		case result == nil:
			return passwdEntry{}, errUnknownUser
		}
		return e, nil
	}
}

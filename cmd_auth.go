package pier

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"
)

// RFC 959 §4.1.1 and RFC 2577 §4-5: every USER gets 331, so names can't be
// probed; a failed PASS is delayed, and too many close the connection.
// With TLS client certificates (tlsclient.go) USER may settle a login at
// once: 230, or a 530 about the certificate, counted as a failed PASS.

func (s *session) cmdUSER(r *Request) error {
	arg := r.Arg
	if !s.tlsLoginAllowed() {
		return nil
	}
	flushed := s.user != nil
	if flushed {
		s.endLogin(true)
		s.flushAccount()
	}
	// A TLS client certificate may settle the login here (tlsclient.go).
	if done, err := s.certLogin(r.Context(), arg); done {
		return err
	}
	s.userName = arg
	if flushed {
		s.reply(331, "Previous account information was flushed, send password.")
		return nil
	}
	s.reply(331, "Username ok, send password.")
	return nil
}

func (s *session) cmdPASS(r *Request) error {
	arg := r.Arg
	if !s.tlsLoginAllowed() {
		return nil
	}
	if s.user != nil {
		s.reply(503, "User already authenticated.")
		return nil
	}
	if s.userName == "" {
		s.reply(503, "Login with USER first.")
		return nil
	}
	name := s.userName
	s.userName = ""
	// A ban that came while this connection was open (its failures, or
	// other connections') ends it too: it must not keep guessing.
	if why := s.srv.banned(s.remote.Addr(), time.Now()); why != "" {
		s.reply(421, why)
		s.quit.Store(true)
		return nil
	}
	var u *User
	err := ErrAuthFailed
	ctx := r.Context()
	if a := s.authenticator(); a != nil { // the virtual host's
		u, err = a.Authenticate(ctx, s.connInfo(), name, arg)
	}
	if err == nil && (u == nil || u.FS == nil) {
		if u != nil && u.Release != nil {
			u.Release()
		}
		err = errors.New("authenticator returned no user or no file system")
	}
	if err != nil && !errors.Is(err, ErrAuthFailed) && ctx.Err() != nil {
		return ctx.Err() // QUIT, or the session ended, before the check could answer
	}
	if err != nil && !errors.Is(err, ErrAuthFailed) {
		// The check could not be made (a database or PAM outage): the
		// password may be right, so it counts for nothing and bans
		// nobody; the client may try again later.
		s.logger().Error("authentication error: login refused with 421", "user", name, "err", err)
		s.reply(421, "Service not available: can't check logins now; try again later.")
		s.quit.Store(true)
		return nil
	}
	if errors.Is(err, ErrCertRequired) {
		s.failLogin(ctx, name, s.certRequiredText())
		return nil
	}
	if err != nil {
		s.failLogin(ctx, name, "Authentication failed.")
		return nil
	}
	s.completeLogin(ctx, u, "Login successful.")
	return nil
}

// failLogin refuses a login: it counts the failure (MaxLoginAttempts,
// BanAfter), waits LoginFailDelay, and replies 530 with text, closing the
// connection after the last attempt allowed.
func (s *session) failLogin(ctx context.Context, name, text string) {
	s.loginAttempts++
	s.logger().Warn("failed login", "user", name, "attempt", s.loginAttempts)
	// Counted here, and with the other servers (BanStore): either may
	// ban.
	here := s.srv.loginFailed(s.remote.Addr(), time.Now())
	shared := s.srv.sharedLoginFailed(ctx, s.remote.Addr())
	if here || shared {
		_, d := s.srv.banLimits()
		s.logger().Warn("address banned after repeated failed logins", "addr", banKey(s.remote.Addr()).String(), "for", d.String(), "shared", shared)
	}
	if d := durationOr(s.srv.lim().LoginFailDelay, DefaultLoginFailDelay); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return
		}
	}
	if max := s.srv.lim().MaxLoginAttempts; max >= 0 && s.loginAttempts >= cmp.Or(max, DefaultMaxLoginAttempts) {
		s.reply(530, text+" Disconnecting.")
		s.quit.Store(true)
	} else {
		s.reply(530, text)
	}
	if h := s.srv.Hooks.LoginFailed; h != nil {
		h(s.pub, name)
	}
}

// completeLogin starts the session of user u, and replies 230 with u's
// login message, or text.
func (s *session) completeLogin(ctx context.Context, u *User, text string) {
	// Neither count is reset by a success: a guesser who can log in to
	// some account (anonymous, their own) would otherwise interleave
	// successes with guesses without end. Failures leave the ban window
	// after BanTime.
	s.user = u
	s.setView(func(v *sessionView) { v.user = u.Name })
	s.tlsLoggedIn(u)
	s.sessionLimits(u)
	s.cwd = "/"
	s.cwd = s.startDir(ctx, u)
	s.reply(230, cmp.Or(u.LoginMessage, text))
	s.log.Store(s.logger().With("user", u.Name))
	attrs := certAttrs(s.clientCert)
	if a := u.System; a != nil {
		attrs = append(attrs, "uid", a.UID, "gid", a.GID, "home", a.Home)
	}
	s.logger().Info("user logged in", attrs...)
	if h := s.srv.Hooks.Login; h != nil {
		h(s.pub)
	}
}

// startDir returns the folder a login starts in: u.StartDir if it is a
// folder the user can see, else "/".
func (s *session) startDir(ctx context.Context, u *User) string {
	if u.StartDir == "" {
		return "/"
	}
	vpath, name := s.resolve(u.StartDir)
	if fi, err := u.FS.Stat(ctx, name); err != nil || !fi.IsDir() {
		s.logger().Warn("start folder not found: starting at /", "user", u.Name, "dir", vpath, "err", err)
		return "/"
	}
	return vpath
}

// quitConnectGrace is how long QUIT waits for the data connection of a
// transfer that has none yet.
const quitConnectGrace = 2 * time.Second

func (s *session) cmdQUIT(*Request) error {
	// A command still running (its file system or authenticator slow to
	// answer) is cancelled; not one whose transfer runs already (its
	// middleware acts after next): it shares the transfer's context, and
	// ends with the transfer.
	if s.taskRunning() && s.currentTransfer() == nil && !s.cancelTask(ErrSessionClosed) {
		s.reply(221, "Goodbye.")
		s.quit.Store(true)
		return nil
	}
	// RFC 959 §4.1.1: "If file transfer is in progress, the connection
	// will remain open for result response and the server will then
	// close it." A transfer that moves data finishes first, as
	// pyftpdlib's does, and its final reply (226, 426) comes before the
	// 221, in the order of the commands (pyftpdlib sends the 221 first).
	// No command after QUIT is read. A transfer still waiting for its
	// data connection gets a moment for it (the client may have connected
	// just before QUIT, and the connection wait in the accept queue),
	// then ends, rather than after the whole ConnectTimeout.
	if t := s.currentTransfer(); t != nil {
		wait := s.srv.connectTimeout()
		if wait <= 0 || wait > quitConnectGrace {
			wait = quitConnectGrace
		}
		grace := time.NewTimer(wait)
		select {
		case <-t.connected:
		case <-t.done:
		case <-grace.C:
			if t.abortUnconnected(fmt.Errorf("%w: QUIT before the data connection opened", ErrConnectionLost)) {
				<-t.done
				s.reply(425, "Can't open data connection.")
			}
		}
		grace.Stop()
	}
	s.waitTransfer()
	if s.taskRunning() {
		s.cancelTask(ErrSessionClosed) // the transfer's command, ending with it
	}
	msg := "Goodbye."
	if s.user != nil {
		msg = cmp.Or(s.user.QuitMessage, msg)
	}
	// The reply first, as pyftpdlib does: the login ends (Logout hook,
	// User.Release) when the session does, without holding the client.
	s.reply(221, msg)
	s.quit.Store(true)
	return nil
}

func (s *session) cmdREIN(*Request) error {
	s.endLogin(true)
	s.flushAccount()
	s.resetHost() // RFC 7151 §3.2.1; a new USER keeps the host
	// RFC 959 §5.4: REIN replies 220 (pyftpdlib sends 230, which means
	// "logged in" and makes clients such as jlaffaye/ftp's Logout fail).
	s.reply(220, "Ready for new user.")
	return nil
}

// endLogin is the one release point of a login: it runs the Logout hook,
// then User.Release, exactly once per login, on QUIT, REIN, a new USER,
// the connection's end and the server's shutdown. No command or transfer
// of the login runs any more when it is called. It logs "user logged out"
// if logIt; at the session's end, the line that says it closed (with the
// user's name) says it instead, one line fewer for every session.
func (s *session) endLogin(logIt bool) {
	u := s.user
	if u == nil {
		return
	}
	if logIt {
		s.logger().Info("user logged out")
	}
	defer func() {
		s.user = nil
		s.setView(func(v *sessionView) { v.user = "" })
		if u.Release != nil {
			u.Release()
		}
	}()
	if h := s.srv.Hooks.Logout; h != nil {
		h(s.pub) // Session.User is still the user who leaves
	}
}

// flushAccount resets the session to its state right after the banner
// (RFC 959 REIN), including OPTS MLST and EPSV ALL, which pyftpdlib keeps.
func (s *session) flushAccount() {
	s.user = nil
	s.setView(func(v *sessionView) { v.user = "" })
	s.userName = "" // loginAttempts stays: it counts for the whole connection
	s.cwd = "/"
	s.binary = false
	s.restOffset = 0
	s.renameFrom = ""
	s.epsvAll = false
	s.facts = defaultFacts
	s.hashAlgo = nil // draft-bryan-ftpext-hash-02 §3.2: until REIN
	// REIN keeps the control connection's protection (RFC 4217 §13) but
	// resets PBSZ and PROT; implicit FTPS starts protected.
	s.tls.pbsz, s.tls.prot = s.implicitTLS, 0
	if s.implicitTLS {
		s.tls.prot = 'P'
	}
	s.closeDataSetup()
	s.log.Store(s.baseLogger())
}

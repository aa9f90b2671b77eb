package pier

import (
	"cmp"
	"errors"
	"time"
)

// RFC 959 §4.1.1 and RFC 2577 §4-5: every USER gets 331, so names can't be
// probed; a failed PASS is delayed, and too many close the connection.

func (s *session) cmdUSER(arg string) {
	if !s.tlsLoginAllowed() {
		return
	}
	if s.user != nil {
		s.logout()
		s.flushAccount()
		s.userName = arg
		s.reply(331, "Previous account information was flushed, send password.")
		return
	}
	s.userName = arg
	s.reply(331, "Username ok, send password.")
}

func (s *session) cmdPASS(arg string) {
	if !s.tlsLoginAllowed() {
		return
	}
	if s.user != nil {
		s.reply(503, "User already authenticated.")
		return
	}
	if s.userName == "" {
		s.reply(503, "Login with USER first.")
		return
	}
	name := s.userName
	s.userName = ""
	// A ban that came while this connection was open (its failures, or
	// other connections') ends it too: it must not keep guessing.
	if s.srv.banned(s.remote.Addr(), time.Now()) {
		s.reply(421, "Too many failed logins from your address; try again later.")
		s.quit = true
		return
	}
	var u *User
	err := ErrAuthFailed
	if s.srv.Auth != nil {
		u, err = s.srv.Auth.Authenticate(s.ctx, s.connInfo(), name, arg)
	}
	if err == nil && (u == nil || u.FS == nil) {
		err = errors.New("authenticator returned no user or no file system")
	}
	if err != nil {
		s.loginAttempts++
		if !errors.Is(err, ErrAuthFailed) {
			s.log.Error("authentication error", "user", name, "err", err)
		}
		s.log.Warn("failed login", "user", name, "attempt", s.loginAttempts)
		if s.srv.loginFailed(s.remote.Addr(), time.Now()) {
			_, d := s.srv.banLimits()
			s.log.Warn("address banned after repeated failed logins", "addr", banKey(s.remote.Addr()).String(), "for", d.String())
		}
		if d := durationOr(s.srv.LoginFailDelay, DefaultLoginFailDelay); d > 0 {
			select {
			case <-time.After(d):
			case <-s.ctx.Done():
				return
			}
		}
		max := cmp.Or(s.srv.MaxLoginAttempts, DefaultMaxLoginAttempts)
		if s.loginAttempts >= max {
			s.reply(530, "Authentication failed. Disconnecting.")
			s.quit = true
			if h := s.srv.Hooks.LoginFailed; h != nil {
				h(s.pub, name)
			}
			return
		}
		s.reply(530, "Authentication failed.")
		if h := s.srv.Hooks.LoginFailed; h != nil {
			h(s.pub, name)
		}
		return
	}
	// Neither count is reset by a success: a guesser who can log in to
	// some account (anonymous, their own) would otherwise interleave
	// successes with guesses without end. Failures leave the ban window
	// after BanTime.
	s.user = u
	s.sessionLimits(u)
	s.cwd = "/"
	s.reply(230, cmp.Or(u.LoginMessage, "Login successful."))
	s.log = s.log.With("user", u.Name)
	s.log.Info("user logged in")
	if h := s.srv.Hooks.Login; h != nil {
		h(s.pub)
	}
}

// quitConnectGrace is how long QUIT waits for the data connection of a
// transfer that has none yet.
const quitConnectGrace = 2 * time.Second

func (s *session) cmdQUIT(string) {
	// A transfer that moves data finishes first, as pyftpdlib does. One
	// still waiting for its data connection gets a moment for it (the
	// client may have connected just before QUIT, and the connection
	// wait in the accept queue), then ends, rather than after the whole
	// ConnectTimeout.
	if t := s.currentTransfer(); t != nil {
		wait := durationOr(s.srv.ConnectTimeout, DefaultConnectTimeout)
		if wait <= 0 || wait > quitConnectGrace {
			wait = quitConnectGrace
		}
		grace := time.NewTimer(wait)
		select {
		case <-t.connected:
		case <-t.done:
		case <-grace.C:
			if t.abortUnconnected() {
				<-t.done
				s.reply(425, "Can't open data connection.")
			}
		}
		grace.Stop()
	}
	s.waitTransfer()
	msg := "Goodbye."
	if s.user != nil {
		msg = cmp.Or(s.user.QuitMessage, msg)
	}
	// The reply first, as pyftpdlib does: the log line and the Logout
	// hook need not hold the client up.
	s.reply(221, msg)
	s.logout()
	s.quit = true
}

func (s *session) cmdREIN(string) {
	s.logout()
	s.flushAccount()
	// RFC 959 §5.4: REIN replies 220 (pyftpdlib sends 230, which means
	// "logged in" and makes clients such as jlaffaye/ftp's Logout fail).
	s.reply(220, "Ready for new user.")
}

func (s *session) logout() {
	if s.user != nil {
		s.log.Info("user logged out")
		if h := s.srv.Hooks.Logout; h != nil {
			h(s.pub)
		}
	}
}

// flushAccount resets the session to its state right after the banner
// (RFC 959 REIN), including OPTS MLST and EPSV ALL, which pyftpdlib keeps.
func (s *session) flushAccount() {
	s.user = nil
	s.userName = "" // loginAttempts stays: it counts for the whole connection
	s.cwd = "/"
	s.binary = false
	s.restOffset = 0
	s.renameFrom = ""
	s.epsvAll = false
	s.facts = defaultFacts
	// REIN keeps the control connection's protection (RFC 4217 §13) but
	// resets PBSZ and PROT; implicit FTPS starts protected.
	s.tls.pbsz, s.tls.prot = s.implicitTLS, 0
	if s.implicitTLS {
		s.tls.prot = 'P'
	}
	s.closeDataSetup()
	s.log = s.srv.logger().With("session", s.id, "remote", s.remote.String())
}

package pier

import (
	"context"
	"strings"
	"unicode/utf8"
)

// cmdHOST chooses the session's virtual host (RFC 7151; host.go). The
// pipeline has checked that there is an argument.
func (s *session) cmdHOST(r *Request) error {
	// RFC 7151 §3: HOST after the user is authenticated is a bad
	// sequence. After USER, too: that name was given to the host before.
	switch {
	case s.user != nil:
		s.reply(503, "HOST must come before login.")
		return nil
	case s.userName != "":
		s.reply(503, "HOST must come before USER.")
		return nil
	}
	arg, ok := parseHostArg(r.Arg)
	if !ok {
		// RFC 7151 §3.1: a name or an address literal, never a port.
		s.reply(501, "Invalid host name: a name or an address, without a port.")
		return nil
	}
	var h *Host
	switch {
	case arg.addr.IsValid():
		// An address is the one the client connected to (RFC 7151 §3.1:
		// 504 otherwise); it names the default host.
		if arg.addr.Unmap() != s.local.Addr().WithZone("") {
			s.reply(504, "Unknown host: not the address of this connection.")
			return nil
		}
	case len(s.srv.hosts) > 0:
		if h = s.srv.hosts[arg.name]; h == nil {
			s.reply(504, "Unknown host.")
			return nil
		}
	}
	// Without virtual hosts, any name is the default host's.
	if s.tls.active && (h != s.tls.host || s.tls.sni != "" && arg.name != s.tls.sni) {
		// The certificate was chosen in the handshake (RFC 7151 §4).
		if s.tls.sni != "" {
			// RFC 7151 §3.2.2: HOST must match the TLS server name.
			s.reply(504, "Unknown host: not the TLS server name (SNI) of this connection.")
		} else {
			s.reply(503, "Send HOST before AUTH TLS, or name the host in TLS SNI.")
		}
		return nil
	}
	s.setHost(h, arg.name)
	// Not at Info: a client could repeat HOST without end. The login's
	// line, and every line after HOST, carries host=.
	s.logger().Log(context.Background(), LevelVerbose, "virtual host chosen")
	// RFC 7151 §3: the reply to HOST is the time for the host's welcome.
	s.reply(220, s.banner())
	return nil
}

// cmdCLNT records what software the client is, for the log and the hooks
// (Session.Client). It works at any time, before login too.
func (s *session) cmdCLNT(r *Request) error {
	text := clientName(r.Arg)
	if text != s.clientName {
		if s.clientName == "" {
			s.logger().Info("client software", "clnt", text)
		} else {
			// Once at Info is enough: a client that keeps changing its
			// name must not fill the log.
			s.logger().Log(context.Background(), LevelVerbose, "client software", "clnt", text)
		}
		s.clientName = text
		s.setView(func(v *sessionView) { v.client = text })
	}
	s.reply(200, "Noted.")
	return nil
}

// clientName bounds a CLNT text: at most maxClientName bytes, cut at a
// character's start, control characters replaced by '?'.
func clientName(text string) string {
	text = strings.TrimSpace(text)
	if len(text) > maxClientName {
		cut := maxClientName
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(text, "?"))
}

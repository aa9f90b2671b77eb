package pier

import "strings"

// cmdAUTH upgrades the control connection (RFC 4217 §4). "SSL" is the alias
// old clients still send; "TLS-C" and "TLS-P" are draft names some send.
func (s *session) cmdAUTH(r *Request) error {
	arg := r.Arg
	if s.srv.TLSConfig == nil {
		s.reply(502, "TLS is not configured on this server.")
		return nil
	}
	mech := strings.ToUpper(strings.TrimSpace(arg))
	switch mech {
	case "TLS", "SSL", "TLS-C", "TLS-P":
	default:
		s.reply(504, "Unrecognized encryption type (use TLS or SSL).")
		return nil
	}
	if s.tls.active {
		s.reply(503, "Already using TLS.")
		return nil
	}
	// Bytes already buffered after the AUTH line were sent in clear text
	// before the handshake: a man in the middle may have injected them
	// (the STARTTLS command injection flaw). Refuse rather than run them.
	if s.r.Buffered() > 0 {
		s.logger().Warn("clear-text data pipelined after AUTH; closing")
		s.reply(503, "Pipelining after AUTH is not allowed.")
		s.quit.Store(true)
		return nil
	}
	s.reply(234, "AUTH "+mech+" successful.")
	if err := s.startControlTLS(); err != nil {
		s.logger().Warn("TLS handshake failed", "err", err)
		s.quit.Store(true)
		return nil
	}
	if mech == "SSL" || mech == "TLS-P" {
		// RFC 4217 §15 (history): AUTH SSL implied protected data.
		s.tls.pbsz, s.tls.prot = true, 'P'
	}
	return nil
}

// cmdPBSZ: RFC 4217 §8. The buffer size is meaningless for TLS; 0 is the
// only answer.
func (s *session) cmdPBSZ(*Request) error {
	if !s.tls.active {
		s.reply(503, "PBSZ not allowed on insecure control connection.")
		return nil
	}
	s.tls.pbsz = true
	s.reply(200, "PBSZ=0")
	return nil
}

// cmdPROT: RFC 4217 §9 and RFC 2228: C (clear) and P (private) only.
func (s *session) cmdPROT(r *Request) error {
	arg := r.Arg
	if !s.tls.active {
		s.reply(503, "PROT not allowed on insecure control connection.")
		return nil
	}
	if !s.tls.pbsz {
		s.reply(503, "You must issue the PBSZ command prior to PROT.")
		return nil
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "C":
		if s.srv.TLSDataRequired {
			s.reply(534, "Clear data connections are not allowed by policy.")
			return nil
		}
		s.tls.prot = 'C'
		s.reply(200, "Protection set to Clear.")
	case "P":
		s.tls.prot = 'P'
		s.reply(200, "Protection set to Private.")
	case "S", "E":
		s.reply(536, "PROT "+strings.ToUpper(arg)+" unsupported (use C or P).")
	default:
		s.reply(504, "Unrecognized PROT type (use C or P).")
	}
	return nil
}

// cmdCCC would return the control connection to clear text (RFC 4217
// §12.3); pier refuses it, which the RFC allows, because a clear control
// connection after login gives nothing but risk.
func (s *session) cmdCCC(*Request) error {
	if !s.tls.active {
		s.reply(533, "CCC refused: the control connection is not protected.")
		return nil
	}
	s.reply(533, "CCC refused: the control connection stays protected.")
	return nil
}

// tlsLoginAllowed enforces TLSControlRequired for USER and PASS.
func (s *session) tlsLoginAllowed() bool {
	if s.srv.TLSControlRequired && !s.tls.active {
		s.reply(530, "TLS required on the control connection: use AUTH TLS first.")
		return false
	}
	return true
}

// tlsDataAllowed enforces TLSDataRequired when a data connection is set up.
func (s *session) tlsDataAllowed() bool {
	if s.srv.TLSDataRequired && s.tls.prot != 'P' {
		s.reply(521, "Data connections must be protected: use PROT P.")
		return false
	}
	return true
}

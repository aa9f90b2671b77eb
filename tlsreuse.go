package pier

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Data-connection session reuse (vsftpd's require_ssl_reuse). A protected
// data connection must resume a TLS session that this server issued to a
// control connection of the same client; a third party racing the client
// to the passive port can't, so it can neither read nor inject the data.
//
// Clients differ in which session they offer. lftp, and curl running one
// transfer after another on one control connection, resume their own
// control connection's session. rclone and other goftp-style clients keep
// one session cache for all their connections, and curl's parallel mode
// (--parallel) one for all its transfers, each on control connections of
// its own: a data connection may offer the session that another of their
// control connections got. vsftpd and proftpd refuse those transfers
// (bench/ftps.sh's curl probe shows it).
// Hence:
//
//   - One set of session-ticket keys serves the whole Server
//     (tlsSessions.ticketKeys): a ticket any control connection got can be
//     decrypted on any data connection. A new key encrypts every
//     ticketKeyRotation; each decrypts for ticketKeyLifetime.
//   - Every ticket records whom it was issued to: the control connection's
//     client address and session id (WrapSession, in SessionState.Extra).
//   - A data connection resumes a ticket (UnwrapSession) only if it comes
//     from the ticket's address, and the ticket is its own control
//     connection's, or that of another control connection of this server
//     logged in as the same user from that address, live or ended less
//     than ticketKeyLifetime ago. A session of the same user has the same
//     rights, so taking over its data connection gains nothing.
//   - Tickets are issued at AUTH TLS, before USER and PASS, and a client
//     with a shared cache may offer one of a control connection it has
//     just opened and not yet logged in. Such a data connection waits,
//     before any data moves, until that control connection logs in (or
//     ends), at most the handshake time (awaitTicketOwner).
//   - Control connections never resume: each does a full handshake, so its
//     tickets are bound to it from the start.
const (
	ticketKeyRotation = time.Hour
	ticketKeyLifetime = 24 * time.Hour
	// maxEndedTLSSessions bounds the ended control connections remembered
	// for their tickets; the oldest is forgotten first.
	maxEndedTLSSessions = 4096
)

// tlsSessions is a Server's shared session-ticket keys and the control
// connections its tickets were issued to. The zero value is ready.
type tlsSessions struct {
	now func() time.Time // tests; nil: time.Now

	mu     sync.Mutex
	keys   []ticketKey             // newest, the one that encrypts, first
	owners map[uint64]*ticketOwner // by session id: control connections that started TLS
	ended  []uint64                // ended sessions still in owners, oldest first
}

type ticketKey struct {
	key     [32]byte
	created time.Time
}

// ticketOwner is a control connection that tickets were issued to.
type ticketOwner struct {
	ip      netip.Addr
	user    string        // its last login; "" before any
	ended   time.Time     // zero while it lives
	settled chan struct{} // closed at its first login or its end
}

// settle closes o.settled once; tlsSessions.mu must be held.
func (o *ticketOwner) settle() {
	select {
	case <-o.settled:
	default:
		close(o.settled)
	}
}

func (r *tlsSessions) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// ticketKeys returns the keys for a handshake, the newest first: it makes
// a new key when the newest is ticketKeyRotation old and drops keys older
// than ticketKeyLifetime. pin, unless zero, is kept at the end: a session
// keeps the key of its control connection's tickets while it lives, for
// clients that offer that first ticket on every data connection (lftp).
func (r *tlsSessions) ticketKeys(pin [32]byte) [][32]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock()
	if len(r.keys) == 0 || now.Sub(r.keys[0].created) >= ticketKeyRotation {
		var k ticketKey
		rand.Read(k.key[:]) // never fails (crypto/rand, Go 1.24)
		k.created = now
		r.keys = slices.Insert(r.keys, 0, k)
	}
	r.keys = slices.DeleteFunc(r.keys, func(k ticketKey) bool {
		return now.Sub(k.created) >= ticketKeyLifetime
	})
	keys := make([][32]byte, 0, len(r.keys)+1)
	for _, k := range r.keys {
		keys = append(keys, k.key)
	}
	if pin != ([32]byte{}) && !slices.Contains(keys, pin) {
		keys = append(keys, pin)
	}
	return keys
}

// register records a control connection that starts TLS.
func (r *tlsSessions) register(id uint64, ip netip.Addr, user string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.owners == nil {
		r.owners = make(map[uint64]*ticketOwner)
	}
	if _, ok := r.owners[id]; !ok {
		o := &ticketOwner{ip: ip, user: user, settled: make(chan struct{})}
		if user != "" {
			o.settle()
		}
		r.owners[id] = o
	}
}

// loggedIn records a control connection's login; it does nothing for one
// that has not started TLS.
func (r *tlsSessions) loggedIn(id uint64, user string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o, ok := r.owners[id]; ok {
		o.user = user
		o.settle()
	}
}

// end records that a control connection has closed: its tickets stay
// good for other sessions of its user until they expire, or until
// maxEndedTLSSessions later ones have ended.
func (r *tlsSessions) end(id uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.owners[id]
	if !ok || !o.ended.IsZero() {
		return
	}
	now := r.clock()
	o.ended = now
	o.settle()
	r.ended = append(r.ended, id)
	for len(r.ended) > 0 {
		first := r.owners[r.ended[0]]
		if len(r.ended) <= maxEndedTLSSessions && now.Sub(first.ended) < ticketKeyLifetime {
			break
		}
		delete(r.owners, r.ended[0])
		r.ended = r.ended[1:]
	}
}

// owner returns the control connection session id, if it is live or its
// tickets may still be in use.
func (r *tlsSessions) owner(id uint64) (ticketOwner, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.owners[id]
	if !ok || !o.ended.IsZero() && r.clock().Sub(o.ended) >= ticketKeyLifetime {
		return ticketOwner{}, false
	}
	return *o, true
}

// ticketBinding is what a ticket records about the control connection it
// was issued to, in an entry of SessionState.Extra: bindingTag, the
// session id (8 bytes, big-endian), the client address (4 or 16 bytes).
type ticketBinding struct {
	session uint64
	ip      netip.Addr
}

const bindingTag = "pier-ftp-ticket-owner\x00"

func (b ticketBinding) extra() []byte {
	e := append([]byte(bindingTag), make([]byte, 8)...)
	binary.BigEndian.PutUint64(e[len(bindingTag):], b.session)
	return append(e, b.ip.AsSlice()...)
}

func isBinding(e []byte) bool { return bytes.HasPrefix(e, []byte(bindingTag)) }

// bindingOf returns the binding a ticket carries.
func bindingOf(ss *tls.SessionState) (ticketBinding, bool) {
	for _, e := range ss.Extra {
		if !isBinding(e) || len(e) < len(bindingTag)+8 {
			continue
		}
		e = e[len(bindingTag):]
		ip, ok := netip.AddrFromSlice(e[8:])
		if !ok {
			return ticketBinding{}, false
		}
		return ticketBinding{session: binary.BigEndian.Uint64(e), ip: ip}, true
	}
	return ticketBinding{}, false
}

// reuseCheck is one data connection's handshake: who may resume a
// session on it, and afterwards why none was resumed.
type reuseCheck struct {
	peer netip.Addr // the data connection's client address, without zone
	user string     // the session's login when the transfer began
	// set during the handshake:
	offered   bool   // the client offered a session (ticket or PSK)
	noTickets bool   // a TLS 1.2 ClientHello without the session_ticket extension
	refusal   string // why the last session offered was refused
	owner     uint64 // the control connection of the session accepted
	// pending: the session accepted is of a control connection that has
	// not logged in yet (awaitTicketOwner).
	pending bool
}

// reason says why the handshake resumed no session.
func (c *reuseCheck) reason(cs tls.ConnectionState) string {
	switch {
	case c.refusal != "":
		return c.refusal
	case c.offered:
		return "the session offered is of another TLS version or cipher suite"
	case cs.Version == tls.VersionTLS12 && c.noTickets:
		// Go's TLS server resumes TLS 1.2 by tickets only; curl (OpenSSL)
		// offers only session IDs in TLS 1.2.
		return "a TLS 1.2 client without session tickets (like curl --tls-max 1.2) can't resume: it needs TLS 1.3 (or the server TLSAllowNoReuse, --tls-allow-no-reuse)"
	default:
		return "no TLS session offered"
	}
}

// extSessionTicket is the TLS session_ticket extension (RFC 5077).
const extSessionTicket = 35

// handshakeConfig returns the configuration of one TLS handshake of the
// session: base (the session's copy of Server.TLSConfig) with the server's
// ticket keys, and pin, and tickets bound to this control connection; and
// the key that encrypts its tickets. check is nil for the control
// connection, which never resumes; for a data connection it decides which
// sessions may be resumed and records why none was.
func (s *session) handshakeConfig(base *tls.Config, pin [32]byte, check *reuseCheck) (*tls.Config, [32]byte) {
	keys := s.srv.tlsSessions.ticketKeys(pin)
	cfg := base.Clone()
	s.bindTickets(cfg, keys, check)
	s.srv.requestClientCert(cfg)
	next := cfg.GetConfigForClient
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		if check != nil {
			check.noTickets = !slices.Contains(h.Extensions, extSessionTicket)
		}
		if next == nil {
			return nil, nil
		}
		// The application's configuration for this client replaces ours
		// for the handshake: it gets the same keys and binding.
		c, err := next(h)
		if c == nil || err != nil {
			return c, err
		}
		c = c.Clone()
		s.bindTickets(c, keys, check)
		s.srv.requestClientCert(c)
		return c, nil
	}
	return cfg, keys[0]
}

// bindTickets makes cfg encrypt tickets with keys, bound to this control
// connection, and resume on a data connection only what check allows.
func (s *session) bindTickets(cfg *tls.Config, keys [][32]byte, check *reuseCheck) {
	cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS12)
	cfg.SessionTicketsDisabled = false
	cfg.SetSessionTicketKeys(keys)
	wrap, unwrap := cfg.WrapSession, cfg.UnwrapSession // the application's, if any
	own := ticketBinding{session: s.id, ip: s.remote.Addr().WithZone("")}
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		ss.Extra = append(slices.DeleteFunc(ss.Extra, isBinding), own.extra())
		if wrap != nil {
			return wrap(cs, ss)
		}
		return cfg.EncryptTicket(cs, ss)
	}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		if check == nil || len(identity) == 0 { // TLS 1.2 asks even without a ticket
			return nil, nil
		}
		check.offered, check.pending = true, false // TLS 1.3: one call per identity offered
		var ss *tls.SessionState
		var err error
		if unwrap != nil {
			ss, err = unwrap(identity, cs)
		} else {
			ss, err = cfg.DecryptTicket(identity, cs)
		}
		if err != nil || ss == nil {
			check.refusal = "an unknown or expired session ticket"
			return nil, err
		}
		if check.refusal = s.refuseResumption(ss, check); check.refusal != "" {
			return nil, nil
		}
		b, _ := bindingOf(ss)
		check.owner = b.session
		return ss, nil
	}
}

// refuseResumption says why a data connection may not resume the session
// ss, or returns "" if it may.
func (s *session) refuseResumption(ss *tls.SessionState, check *reuseCheck) string {
	b, ok := bindingOf(ss)
	switch {
	case !ok:
		return "a session ticket not bound to a control connection"
	case b.ip != check.peer:
		return "the session of a control connection from another address (" + b.ip.String() + ")"
	case b.session == s.id:
		return ""
	}
	o, ok := s.srv.tlsSessions.owner(b.session)
	switch {
	case !ok:
		return fmt.Sprintf("the session of control connection %d, ended too long ago", b.session)
	case o.user == "" && o.ended.IsZero():
		check.pending = true // decided by awaitTicketOwner
		return ""
	}
	return notSameUser(b.session, o, check.user)
}

// notSameUser says why the session of control connection id, described
// by o, may not be resumed by a data connection of user; "" if it may.
func notSameUser(id uint64, o ticketOwner, user string) string {
	if o.user == "" || o.user != user {
		return fmt.Sprintf("the session of control connection %d, not logged in as the same user", id)
	}
	return ""
}

// awaitTicketOwner decides on a data connection that resumed the session
// of a control connection that had not logged in yet: it waits until that
// one logs in or ends, at most the handshake time, then says why the data
// connection is refused, or returns "" if it is accepted. Nothing has
// been sent on it yet.
func (s *session) awaitTicketOwner(t *transfer, check *reuseCheck) string {
	id := check.owner
	o, ok := s.srv.tlsSessions.owner(id)
	if !ok {
		return fmt.Sprintf("the session of control connection %d, ended too long ago", id)
	}
	s.logger().Log(s.ctx, LevelVerbose, "data connection waits for the login of the control connection whose TLS session it resumed", "owner", id)
	timer := time.NewTimer(s.srv.handshakeTimeout())
	defer timer.Stop()
	select {
	case <-o.settled:
	case <-timer.C:
		return fmt.Sprintf("the session of control connection %d, which did not log in in time", id)
	case <-t.ctx.Done():
		return "the transfer ended while waiting for the login of control connection " + strconv.FormatUint(id, 10)
	}
	if o, ok = s.srv.tlsSessions.owner(id); !ok {
		return fmt.Sprintf("the session of control connection %d, ended too long ago", id)
	}
	return notSameUser(id, o, check.user)
}

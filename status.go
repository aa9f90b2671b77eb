package pier

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"
)

// What an operator sees of a running server (status pages, admin APIs):
// the sessions, their current command and transfer, the bans, and totals.
// Every method here is safe to call from any goroutine while the server
// runs, and returns copies.

// SessionStatus is a snapshot of one session.
type SessionStatus struct {
	ID         uint64
	RemoteAddr netip.AddrPort
	LocalAddr  netip.AddrPort
	Since      time.Time // when the connection was accepted
	// User is the logged-in user's name, "" before login.
	User string
	// Host is the virtual host's name (HOST or TLS SNI), "" if none.
	Host string
	// Client is what CLNT said, "" if nothing.
	Client string
	// TLS: the control connection is protected.
	TLS bool
	// Command is the last command received ("RETR", "SITE CHMOD"), "" if
	// none; Arg its argument, "" for PASS, ACCT and ADAT (never shown);
	// CommandAt when it arrived.
	Command   string
	Arg       string
	CommandAt time.Time
	// Transfer is the running transfer, nil if none (nor once its final
	// reply is on its way, though its file hooks may still run).
	Transfer *TransferStatus
}

// TransferStatus is a snapshot of a running transfer.
type TransferStatus struct {
	Command string // RETR, STOR, APPE, STOU, LIST, NLST, MLSD
	Path    string // virtual path
	Upload  bool
	Start   time.Time
	// Offset is where the transfer started in the file (REST).
	Offset int64
	// Bytes is what moved so far on the data connection.
	Bytes int64
	// Size is the number of bytes the transfer will move when complete,
	// -1 if unknown (uploads, listings).
	Size int64
}

// BanStatus is one address (an IPv6 /64) refused until Until.
type BanStatus struct {
	Prefix netip.Prefix
	Until  time.Time
}

// Stats are the server's totals since it started.
type Stats struct {
	// Sessions is the number of control connections now; LoggedIn those
	// of them that are logged in.
	Sessions, LoggedIn int
	// BytesReceived and BytesSent are the file bytes moved (uploads,
	// downloads) by ended transfers and by the running ones so far;
	// listings are not counted.
	BytesReceived, BytesSent int64
	// Uploads and Downloads count the ended file transfers, complete or
	// not.
	Uploads, Downloads int64
}

// ErrSessionEnded is the cause a transfer and the session's context end
// with when Server.EndSession ends the session.
var ErrSessionEnded = errors.New("session ended by the administrator")

// sessionView is what a session shows of itself to other goroutines;
// guarded by viewMu.
type sessionView struct {
	user, host, client string
	tls                bool
	cmd, arg           string
	cmdAt              time.Time
}

// setView changes the session's view under its lock.
func (s *session) setView(f func(v *sessionView)) {
	s.viewMu.Lock()
	f(&s.view)
	s.viewMu.Unlock()
}

// secretArgs are the commands whose argument is never shown.
var secretArgs = map[string]bool{"PASS": true, "ACCT": true, "ADAT": true}

// maxShownArg bounds the argument a status shows.
const maxShownArg = 256

// noteCommand records the command that just arrived, for Sessions.
func (s *session) noteCommand(name, arg string) {
	if secretArgs[name] {
		arg = ""
	}
	if len(arg) > maxShownArg {
		arg = arg[:maxShownArg]
	}
	now := time.Now()
	s.setView(func(v *sessionView) { v.cmd, v.arg, v.cmdAt = name, arg, now })
}

func (s *session) status() SessionStatus {
	s.viewMu.Lock()
	v := s.view
	s.viewMu.Unlock()
	st := SessionStatus{ID: s.id, RemoteAddr: s.remote, LocalAddr: s.local, Since: s.since,
		User: v.user, Host: v.host, Client: v.client, TLS: v.tls,
		Command: v.cmd, Arg: v.arg, CommandAt: v.cmdAt}
	if t := s.runningTransfer(); t != nil {
		st.Transfer = &TransferStatus{Command: t.cmd, Path: t.path, Upload: t.upload, Start: t.start,
			Offset: t.offset, Bytes: t.bytes.Load(), Size: t.size}
	}
	return st
}

// Sessions returns a snapshot of the sessions connected now, in the order
// they connected.
func (s *Server) Sessions() []SessionStatus {
	s.mu.Lock()
	all := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	out := make([]SessionStatus, 0, len(all))
	for _, sess := range all {
		out = append(out, sess.status())
	}
	slices.SortFunc(out, func(a, b SessionStatus) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// EndSession ends the session with that ID as Close does for the whole
// server: a running transfer is cut (its client gets 426, its file system
// learns ErrSessionEnded, so an upload ends as any aborted one), a running
// command is cancelled, then the client gets "421 Session ended by the
// administrator." and the connection closes; the Logout and Disconnect
// hooks run. It returns false if no such session is connected. It does not
// wait for the session to end.
func (s *Server) EndSession(id uint64) bool {
	s.mu.Lock()
	var found *session
	for sess := range s.sessions {
		if sess.id == id {
			found = sess
			break
		}
	}
	s.mu.Unlock()
	if found == nil {
		return false
	}
	go found.closeWith(ErrSessionEnded, "Session ended by the administrator.")
	return true
}

// Bans returns the addresses banned now (see BanAfter), soonest expiry
// first.
func (s *Server) Bans() []BanStatus {
	now := time.Now()
	s.bans.mu.Lock()
	var out []BanStatus
	for p, e := range s.bans.entries {
		if now.Before(e.until) {
			out = append(out, BanStatus{Prefix: p, Until: e.until})
		}
	}
	s.bans.mu.Unlock()
	slices.SortFunc(out, func(a, b BanStatus) int {
		return cmp.Or(a.Until.Compare(b.Until), a.Prefix.Addr().Compare(b.Prefix.Addr()))
	})
	return out
}

// Ban refuses new connections from a (its IPv6 /64) for d, or for BanTime
// if d is zero or less, even where bans are disabled (BanAfter < 0).
// Sessions already connected from a go on (EndSession ends them). With a
// BanStore, the other servers learn of it: Ban waits for the store, up to
// 5 s (an error reaching it is logged: the ban holds here). It returns the
// ban.
func (s *Server) Ban(a netip.Addr, d time.Duration) BanStatus {
	if d <= 0 {
		_, d = s.banLimits()
	}
	key := banKey(a)
	now := time.Now()
	s.bans.mu.Lock()
	if s.bans.entries == nil {
		s.bans.entries = make(map[netip.Prefix]*banEntry)
	}
	e := s.bans.entries[key]
	if e == nil {
		e = &banEntry{first: now}
		s.bans.entries[key] = e
	}
	e.until = now.Add(d)
	e.failures, e.first = 0, now
	e.manual = true
	e.bannedAt = now
	b := BanStatus{Prefix: key, Until: e.until}
	s.bans.mu.Unlock()
	s.shareBan(func(ctx context.Context, st BanStore) error { return st.Ban(ctx, key, b.Until) }, "ban", key)
	return b
}

// Unban lifts the ban of a (its IPv6 /64) and forgets its failed logins,
// here and, with a BanStore, on the other servers (waiting for the store
// as Ban does). It returns false if a was not banned here.
func (s *Server) Unban(a netip.Addr) bool {
	key := banKey(a)
	now := time.Now()
	s.bans.mu.Lock()
	e := s.bans.entries[key]
	delete(s.bans.entries, key)
	s.bans.mu.Unlock()
	s.shareBan(func(ctx context.Context, st BanStore) error { return st.Unban(ctx, key) }, "unban", key)
	return e != nil && now.Before(e.until)
}

// Stats returns the server's totals.
func (s *Server) Stats() Stats {
	st := Stats{
		BytesReceived: s.totals.received.Load(),
		BytesSent:     s.totals.sent.Load(),
		Uploads:       s.totals.uploads.Load(),
		Downloads:     s.totals.downloads.Load(),
	}
	s.mu.Lock()
	all := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	st.Sessions = len(all)
	for _, sess := range all {
		sess.viewMu.Lock()
		if sess.view.user != "" {
			st.LoggedIn++
		}
		sess.viewMu.Unlock()
		// The totals were read first: a transfer that ends meanwhile
		// is missed until the next call, never counted twice.
		sess.xferMu.Lock()
		if t := sess.xfer; t != nil && t.isFile && !t.counted {
			if t.upload {
				st.BytesReceived += t.bytes.Load()
			} else {
				st.BytesSent += t.bytes.Load()
			}
		}
		sess.xferMu.Unlock()
	}
	return st
}

// serverTotals are Stats' counters of ended transfers.
type serverTotals struct {
	received, sent     atomic.Int64
	uploads, downloads atomic.Int64
}

// countEnded adds an ended transfer to the totals, once; the caller holds
// the session's xferMu, under which Stats leaves out the running bytes of
// a transfer already counted, so that it never counts one twice.
func (s *Server) countEnded(t *transfer) {
	if !t.isFile || t.counted {
		return
	}
	t.counted = true
	if t.upload {
		s.totals.received.Add(t.bytes.Load())
		s.totals.uploads.Add(1)
	} else {
		s.totals.sent.Add(t.bytes.Load())
		s.totals.downloads.Add(1)
	}
}

package pier

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Limits are the settings a running server can change (SetLimits): a
// daemon's configuration reload, an admin's tightening during an attack.
// Each field means what the Server field of the same name means, zero
// and negative values included.
type Limits struct {
	IdleTimeout, DataTimeout, ConnectTimeout time.Duration
	MaxConnections, MaxConnectionsPerIP      int
	MaxLoginAttempts                         int
	LoginFailDelay                           time.Duration
	BanAfter                                 int
	BanTime                                  time.Duration
	SlowAfterErrors, CloseAfterErrors        int
	ReadLimit, WriteLimit                    int64
	TotalReadLimit, TotalWriteLimit          int64
	MaxHashes                                int
}

// fieldLimits are the limits the Server's fields give.
func (s *Server) fieldLimits() *Limits {
	return &Limits{
		IdleTimeout: s.IdleTimeout, DataTimeout: s.DataTimeout, ConnectTimeout: s.ConnectTimeout,
		MaxConnections: s.MaxConnections, MaxConnectionsPerIP: s.MaxConnectionsPerIP,
		MaxLoginAttempts: s.MaxLoginAttempts, LoginFailDelay: s.LoginFailDelay,
		BanAfter: s.BanAfter, BanTime: s.BanTime,
		SlowAfterErrors: s.SlowAfterErrors, CloseAfterErrors: s.CloseAfterErrors,
		ReadLimit: s.ReadLimit, WriteLimit: s.WriteLimit,
		TotalReadLimit: s.TotalReadLimit, TotalWriteLimit: s.TotalWriteLimit,
		MaxHashes: s.MaxHashes,
	}
}

// lim returns the limits in force: the last SetLimits', else the
// fields'.
func (s *Server) lim() *Limits {
	if l := s.limits.Load(); l != nil {
		return l
	}
	return s.fieldLimits()
}

// Limits returns the limits in force.
func (s *Server) Limits() Limits { return *s.lim() }

// check refuses the values that mean nothing.
func (l *Limits) check() []string {
	var bad []string
	if l.BanTime < 0 {
		bad = append(bad, fmt.Sprintf("BanTime %v (negative)", l.BanTime))
	}
	for _, v := range []struct {
		name string
		v    int64
	}{{"ReadLimit", l.ReadLimit}, {"WriteLimit", l.WriteLimit}, {"TotalReadLimit", l.TotalReadLimit}, {"TotalWriteLimit", l.TotalWriteLimit}} {
		if v.v < 0 {
			bad = append(bad, fmt.Sprintf("%s %d (negative)", v.name, v.v))
		}
	}
	return bad
}

// SetLimits puts l in force, in place of the Server's fields of the same
// names (which it does not change), for the sessions that connect and log
// in from now on. Sessions already logged in keep their own upload and
// download rates (ReadLimit, WriteLimit: set at login) and their count of
// failed logins; everything else applies to them at their next command,
// wait or transfer: timeouts, the server-wide rates (a changed or
// removed one at once, also for running transfers; one that was off
// applies to the transfers that start after it), the connection limits (sessions over a
// lowered limit are not closed), the ban settings and MaxHashes. It
// refuses the values Serve refuses, changing nothing.
func (s *Server) SetLimits(l Limits) error {
	if bad := l.check(); len(bad) > 0 {
		return errors.New("pier: bad limits: " + strings.Join(bad, "; "))
	}
	s.limitsMu.Lock()
	defer s.limitsMu.Unlock()
	s.totalRead.Store(retune(s.totalRead.Load(), l.TotalReadLimit))
	s.totalWrite.Store(retune(s.totalWrite.Load(), l.TotalWriteLimit))
	s.limits.Store(&l)
	return nil
}

// retune returns the server-wide limiter for a new limit: nil for none;
// the running one re-tuned, so that transfers holding it follow (to no
// limit at all when the new one is none); or a new one. A running limiter's burst never shrinks: a transfer sized its
// chunks by it (smallestBurst), and a wait for more than the burst fails.
func retune(old *rate.Limiter, limit int64) *rate.Limiter {
	if limit <= 0 {
		if old != nil {
			old.SetLimit(rate.Inf) // frees the transfers that hold it
		}
		return nil
	}
	n := newLimiter(limit)
	if old == nil {
		return n
	}
	old.SetLimit(n.Limit())
	old.SetBurst(max(old.Burst(), n.Burst()))
	return old
}

// SetAuth replaces the Authenticator of the default host (Server.Auth,
// which it does not change) for the logins that start from now on;
// sessions logged in keep their users. Virtual hosts keep their own.
func (s *Server) SetAuth(a Authenticator) {
	s.auth.Store(&a)
}

// defaultAuth is the default host's Authenticator: SetAuth's, else Auth.
func (s *Server) defaultAuth() Authenticator {
	if p := s.auth.Load(); p != nil {
		return *p
	}
	return s.Auth
}

package pier

import (
	"context"
	"net/netip"
	"time"
)

// Bans shared through a BanStore (shared.go): failed logins and bans by
// hand go to the store as they happen, and each server applies the
// store's changes every BanSyncInterval, so that a ban made on one node
// is in force on all.

// banStoreTimeout bounds each call to a BanStore.
const banStoreTimeout = 5 * time.Second

// banClockSkew is how far this server's clock may be from its BanStore's
// for lifts to work (applyBanChanges).
const banClockSkew = time.Minute

// shareBan runs call on the BanStore, if there is one, logging an error.
func (s *Server) shareBan(call func(context.Context, BanStore) error, op string, p netip.Prefix) {
	st := s.BanStore
	if st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), banStoreTimeout)
	defer cancel()
	if err := call(ctx, st); err != nil {
		s.logger().Warn("can't share a ban with the other servers: it holds on this one only", "op", op, "addr", p.String(), "err", err)
	}
}

// sharedLoginFailed tells the BanStore of a failed login from a, and bans
// a here when the store says the failures of all the servers reached
// the limit. It returns whether it did.
func (s *Server) sharedLoginFailed(ctx context.Context, a netip.Addr) bool {
	st := s.BanStore
	after, d := s.banLimits()
	if st == nil || after < 0 {
		return false
	}
	key := banKey(a)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), banStoreTimeout)
	defer cancel()
	until, err := st.LoginFailed(ctx, key, after, d)
	if err != nil {
		s.logRepeats.warn(s.logger(), "ban store: login failed", "can't count a failed login with the other servers: counted on this one only", "addr", key.String(), "err", err)
		return false
	}
	now := time.Now()
	if !until.After(now) {
		return false
	}
	// The ban began window before its end, on the store's clock: a lift
	// the store makes later is later on that clock too.
	return s.applyBanChanges([]BanChange{{Prefix: key, Until: until, At: until.Add(-d)}}, now) > 0
}

// startBanSync starts the goroutine that applies the BanStore's changes,
// once, if there is a store; stopBanSync (Shutdown, Close) ends it.
func (s *Server) startBanSync() {
	if s.BanStore == nil {
		return
	}
	s.banSyncOnce.Do(func() {
		s.mu.Lock()
		if s.banSyncStop == nil {
			s.banSyncStop = make(chan struct{})
		}
		stop := s.banSyncStop
		s.mu.Unlock()
		go s.syncBans(s.BanStore, stop)
	})
}

func (s *Server) stopBanSync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.banSyncStop == nil {
		s.banSyncStop = make(chan struct{})
	}
	select {
	case <-s.banSyncStop:
	default:
		close(s.banSyncStop)
	}
}

// syncBans asks st for changes every BanSyncInterval until stop closes.
func (s *Server) syncBans(st BanStore, stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	tick := time.NewTicker(BanSyncInterval)
	defer tick.Stop()
	cursor := ""
	for {
		cctx, ccancel := context.WithTimeout(ctx, banStoreTimeout)
		changes, next, err := st.Changes(cctx, cursor)
		ccancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.logRepeats.warn(s.logger(), "ban store: changes", "can't read the other servers' bans; retrying", "err", err)
		default:
			cursor = next
			if n := s.applyBanChanges(changes, time.Now()); n > 0 {
				s.logger().Debug("bans from the other servers applied", "changes", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// applyBanChanges puts changes in force here; it returns how many
// changed something. A change older than what this server knows of the
// address (a ban made here since) is ignored; so are bans that have ended.
func (s *Server) applyBanChanges(changes []BanChange, now time.Time) int {
	_, d := s.banLimits()
	applied := 0
	s.bans.mu.Lock()
	defer s.bans.mu.Unlock()
	for _, c := range changes {
		if !c.Prefix.IsValid() {
			continue
		}
		key := banKey(c.Prefix.Addr())
		e := s.bans.entries[key]
		lift := !c.Until.After(c.At)
		switch {
		case lift:
			// The lift's time is the store's clock, a ban's here may be
			// this server's: a ban up to banClockSkew after the lift is
			// taken for one before it, so that a clock ahead of the
			// store's does not keep a lifted ban.
			if e != nil && !e.bannedAt.After(c.At.Add(banClockSkew)) {
				delete(s.bans.entries, key)
				applied++
			}
			continue
		case !c.Until.After(now):
			continue // over already
		case e != nil && (e.bannedAt.After(c.At) || e.until.Equal(c.Until) && e.manual == c.Manual):
			continue // newer here, or known
		}
		if e == nil {
			if s.bans.entries == nil {
				s.bans.entries = make(map[netip.Prefix]*banEntry)
			}
			if len(s.bans.entries) >= maxBanEntries {
				s.bans.sweep(now, d)
				if len(s.bans.entries) >= maxBanEntries {
					continue
				}
			}
			e = &banEntry{first: now}
			s.bans.entries[key] = e
		}
		e.until, e.manual, e.bannedAt = c.Until, c.Manual, c.At
		e.failures, e.first = 0, now
		applied++
	}
	return applied
}

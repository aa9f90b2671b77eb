// Command antiflood is an FTP server that limits each client address to a
// few connections and bans, for an hour, an address whose session sends
// more commands per second than a person or a sane client would
// (pyftpdlib's anti_flood_ftpd.py).
//
//	go run ./examples/antiflood -dir /srv/ftp
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/local"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2121", "address to listen on")
	dir := flag.String("dir", ".", "folder to serve")
	perIP := flag.Int("max-cons-per-ip", 5, "most simultaneous connections from one address")
	perSecond := flag.Int("cmds-per-second", 300, "commands a session may send per second before its address is banned")
	banFor := flag.Duration("ban", time.Hour, "how long a flooding address stays banned")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := pier.Listen(*addr)
	if err != nil {
		log.Fatal(err)
	}
	guard := newFloodGuard(*perSecond, *banFor)
	if err := run(ctx, ln, *dir, *perIP, guard, slog.Default()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, ln net.Listener, dir string, perIP int, guard *floodGuard, logger *slog.Logger) error {
	root, err := local.New(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	users := &auth.Virtual{}
	if err := users.AddAnonymous(auth.Account{FS: root, Perm: pier.ReadPerms}); err != nil {
		return err
	}
	srv := &pier.Server{
		Auth: users,
		// The server itself answers the connection over the limit with 421
		// before any hook runs.
		MaxConnectionsPerIP: perIP,
		Hooks: pier.Hooks{
			Connect:    guard.connect,
			Disconnect: guard.disconnect,
		},
		Middleware: []pier.Middleware{guard.middleware},
		Logger:     logger,
	}
	return srv.ServeContext(ctx, ln, 10*time.Second)
}

// floodGuard counts each session's commands with a token bucket and bans
// the address of a session that empties it.
type floodGuard struct {
	perSecond int
	banFor    time.Duration

	mu       sync.Mutex               // guards the maps: hooks of all sessions run concurrently
	banned   map[netip.Addr]time.Time // address → end of its ban
	sessions map[uint64]*rate.Limiter // session ID → its command bucket
}

func newFloodGuard(perSecond int, banFor time.Duration) *floodGuard {
	return &floodGuard{
		perSecond: perSecond,
		banFor:    banFor,
		banned:    make(map[netip.Addr]time.Time),
		sessions:  make(map[uint64]*rate.Limiter),
	}
}

// bannedUntil returns the end of ip's ban, or the zero time.
func (g *floodGuard) bannedUntil(ip netip.Addr) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.banned[ip]
	if ok && time.Now().After(until) {
		delete(g.banned, ip)
		return time.Time{}
	}
	return until
}

// connect refuses banned addresses: a *pier.Refusal chooses the reply
// ("421 You are banned for ...") sent before the server closes the
// connection.
func (g *floodGuard) connect(s *pier.Session) error {
	if until := g.bannedUntil(s.RemoteAddr().Addr()); !until.IsZero() {
		return &pier.Refusal{Text: bannedText(until)}
	}
	g.mu.Lock()
	// The burst is one second's worth: a client may send perSecond
	// commands at once, then perSecond a second.
	g.sessions[s.ID()] = rate.NewLimiter(rate.Limit(g.perSecond), g.perSecond)
	g.mu.Unlock()
	return nil
}

func (g *floodGuard) disconnect(s *pier.Session) {
	g.mu.Lock()
	delete(g.sessions, s.ID())
	g.mu.Unlock()
}

// middleware bans the address of a session that sends commands too fast,
// like pyftpdlib's anti_flood demo: it says so and closes the connection;
// the Connect hook keeps the address out from then on. Other sessions
// from a freshly banned address are closed at their next command.
func (g *floodGuard) middleware(s *pier.Session, r *pier.Request, next func() error) error {
	ip := s.RemoteAddr().Addr()
	if until := g.bannedUntil(ip); !until.IsZero() {
		s.Reply(421, bannedText(until))
		s.Close()
		return nil
	}
	g.mu.Lock()
	bucket := g.sessions[s.ID()]
	g.mu.Unlock()
	if bucket != nil && !bucket.Allow() {
		until := time.Now().Add(g.banFor)
		g.mu.Lock()
		g.banned[ip] = until
		g.mu.Unlock()
		s.Logger().Warn("flood: address banned", "for", g.banFor)
		s.Reply(421, bannedText(until))
		s.Close()
		return nil
	}
	return next()
}

// bannedText is the reply text for a banned client.
func bannedText(until time.Time) string {
	return fmt.Sprintf("You are banned for %s.", time.Until(until).Round(time.Second))
}

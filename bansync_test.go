package pier_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/ftptest"
)

// memBans is a BanStore in memory that several servers share, as the
// nodes of a cluster share pgstore's table: it counts the failed logins
// of all of them, and keeps a log of the changes for Changes.
type memBans struct {
	mu       sync.Mutex
	failures map[netip.Prefix]int
	log      []pier.BanChange
	down     bool
	calls    int
}

var errBansDown = errors.New("ban store unreachable")

func (m *memBans) LoginFailed(ctx context.Context, p netip.Prefix, after int, window time.Duration) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.down {
		return time.Time{}, errBansDown
	}
	if m.failures == nil {
		m.failures = make(map[netip.Prefix]int)
	}
	m.failures[p]++
	if m.failures[p] < after {
		return time.Time{}, nil
	}
	m.failures[p] = 0
	now := time.Now()
	m.log = append(m.log, pier.BanChange{Prefix: p, Until: now.Add(window), At: now})
	return now.Add(window), nil
}

func (m *memBans) Ban(ctx context.Context, p netip.Prefix, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errBansDown
	}
	m.log = append(m.log, pier.BanChange{Prefix: p, Until: until, Manual: true, At: time.Now()})
	return nil
}

func (m *memBans) Unban(ctx context.Context, p netip.Prefix) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errBansDown
	}
	delete(m.failures, p)
	now := time.Now()
	m.log = append(m.log, pier.BanChange{Prefix: p, Until: now, At: now})
	return nil
}

// Changes: the cursor is how many entries of the log were given.
func (m *memBans) Changes(ctx context.Context, cursor string) ([]pier.BanChange, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, cursor, errBansDown
	}
	from, _ := strconv.Atoi(cursor)
	// Give the last change again each time: a store may repeat itself.
	from = max(from-1, 0)
	return append([]pier.BanChange(nil), m.log[from:]...), strconv.Itoa(len(m.log)), nil
}

// clusterOf starts n servers sharing one BanStore.
func clusterOf(t *testing.T, n int, bans pier.BanStore, banAfter int) []*ftptest.Server {
	t.Helper()
	var nodes []*ftptest.Server
	for range n {
		nodes = append(nodes, ftptest.NewServer(t, &ftptest.Options{Configure: func(s *ftptest.Server) {
			s.BanAfter = banAfter
			s.MaxLoginAttempts = 100
			s.BanStore = bans
		}}))
	}
	return nodes
}

// greeting connects to addr and returns the first reply's line.
func greeting(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("greeting of %s: %v", addr, err)
	}
	return line
}

// waitGreeting polls addr (bounded) until its greeting is want.
func waitGreeting(t *testing.T, addr, want string) {
	t.Helper()
	var got string
	for range 100 {
		if got = greeting(t, addr); got == want {
			return
		}
		time.Sleep(pier.BanSyncInterval / 5)
	}
	t.Fatalf("%s greets %q, want %q", addr, got, want)
}

func failLogins(t *testing.T, node *ftptest.Server, n int) {
	t.Helper()
	c := node.Dial(t)
	for range n {
		c.Expect(t, "USER "+ftptest.User, 331)
		c.Expect(t, "PASS wrong", 530)
	}
	c.Close()
}

const (
	bannedFailures = "421 Too many failed logins from your address; try again later.\r\n"
	bannedByHand   = "421 Connections from your address are refused; try again later.\r\n"
)

// TestBanStoreSharesBans checks that failed logins on several servers of
// one BanStore count together, and that bans made on one (failures, by
// hand) and lifted on another are in force on all.
func TestBanStoreSharesBans(t *testing.T) {
	bans := &memBans{}
	nodes := clusterOf(t, 3, bans, 4)
	a, b, c := nodes[0], nodes[1], nodes[2]
	ok := greeting(t, c.Addr)
	if ok[:4] != "220 " {
		t.Fatalf("greeting %q", ok)
	}
	// 2 + 1 failures: under the limit of 4 on each server, and together.
	failLogins(t, a, 2)
	failLogins(t, b, 1)
	if got := greeting(t, c.Addr); got != ok {
		t.Fatalf("banned after 3 failures of 4: %q", got)
	}
	// The fourth, on b: the store bans; b at once, a and c within a
	// sync.
	failLogins(t, b, 1)
	if got := greeting(t, b.Addr); got != bannedFailures {
		t.Errorf("b, where the fourth failure was: %q", got)
	}
	waitGreeting(t, c.Addr, bannedFailures)
	waitGreeting(t, a.Addr, bannedFailures)
	if len(c.Bans()) != 1 {
		t.Errorf("c's bans: %v", c.Bans())
	}

	// Lifted on c: lifted everywhere.
	if !c.Unban(netip.MustParseAddr("127.0.0.1")) {
		t.Error("Unban on c: not banned there")
	}
	waitGreeting(t, a.Addr, ok)
	waitGreeting(t, b.Addr, ok)

	// A ban by hand on a: refused on b with its own text.
	a.Ban(netip.MustParseAddr("127.0.0.1"), time.Hour)
	waitGreeting(t, b.Addr, bannedByHand)
	waitGreeting(t, c.Addr, bannedByHand)
	b.Unban(netip.MustParseAddr("127.0.0.1"))
	waitGreeting(t, a.Addr, ok)
	waitGreeting(t, c.Addr, ok)
}

// TestBanStoreDown checks that a BanStore that can't be reached leaves
// each server its own bans, and that a server picks the store's bans up
// when it answers again.
func TestBanStoreDown(t *testing.T) {
	bans := &memBans{down: true}
	nodes := clusterOf(t, 2, bans, 3)
	a, b := nodes[0], nodes[1]
	ok := greeting(t, b.Addr)
	failLogins(t, a, 3)
	if got := greeting(t, a.Addr); got != bannedFailures {
		t.Errorf("a, after 3 failures with the store down: %q", got)
	}
	if got := greeting(t, b.Addr); got != ok {
		t.Errorf("b, with the store down: %q", got)
	}
	bans.mu.Lock()
	calls := bans.calls
	bans.down = false
	bans.mu.Unlock()
	if calls != 3 {
		t.Errorf("the store was asked of %d failed logins, want 3", calls)
	}
	if err := bans.Ban(context.Background(), netip.MustParsePrefix("127.0.0.1/32"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	waitGreeting(t, b.Addr, bannedByHand)
}

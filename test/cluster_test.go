//go:build unix

package integration_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestCluster runs three pier nodes behind HAProxy, sharing users, bans,
// quotas and live sessions through a throwaway PostgreSQL and files
// through one folder, with the configuration docs/scale-out.md shows, and
// drives them with a Go client, curl and lftp. It needs
// haproxy, PostgreSQL, curl and lftp: without them it is skipped, except
// under CI=true where it fails. Every process it starts is its own child,
// stopped by its PID; every address is on loopback. Run it alone with
//
//	CI=true go test -race -run Cluster ./test/
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the cluster test in -short mode")
	}
	c := startCluster(t)
	t.Run("SpreadAndClientAddress", c.testSpread)
	t.Run("SharedFiles", c.testSharedFiles)
	t.Run("FTPS", c.testFTPS)
	t.Run("SharedBan", c.testSharedBan)
	t.Run("SharedQuota", c.testSharedQuota)
	t.Run("SessionsTable", c.testSessionsTable)
	t.Run("DatabaseOutage", c.testDatabaseOutage)
	t.Run("NodeKilled", c.testNodeKilled)
}

// The client addresses: each test has its own, so that the nodes' logs
// tell whose session is whose.
const (
	client5   = "127.0.0.5" // the Go client of the spread and the kill
	banned6   = "127.0.0.6" // fails logins to be banned
	outsider9 = "127.0.0.9" // logs in while the database is down
)

// testSpread: logins spread over the three nodes, and each node knows the
// client by its own address (127.0.0.5), for the session and its data
// connections, never by HAProxy's; data connections go through the
// balancer's passive frontends to the node of the session.
func (c *cluster) testSpread(t *testing.T) {
	c.waitSessions(t, [3]int{})
	before := c.passiveConnections(t)
	var perNode [3]int
	var clients []*goClient
	for i := range 6 {
		g := c.loginGo(t, client5, alice, goOptions{pasv: i%2 == 1})
		clients = append(clients, g)
		perNode[c.node(t, g)]++
	}
	for i, k := range perNode {
		if k == 0 {
			t.Errorf("node%d got none of 6 logins held open at once (per node: %v)", i+1, perNode)
		}
	}
	for _, g := range clients {
		if _, err := g.List("/"); err != nil {
			t.Fatalf("LIST from %s: %v", g.remote, err)
		}
	}
	after := c.passiveConnections(t)
	for i, n := range c.nodes {
		if got := after[i] - before[i]; got != perNode[i] {
			t.Errorf("%s: %d data connections through its passive frontend, want %d (one LIST per session)", n.name, got, perNode[i])
		}
		var mine int
		for _, s := range n.sessions(t) {
			host, _, _ := net.SplitHostPort(s.RemoteAddr)
			switch {
			case host == balancerIP:
				t.Errorf("%s: a session from the balancer's address: %+v", n.name, s)
			case host == client5 && s.User == alice.name:
				mine++
			}
		}
		if mine != perNode[i] {
			t.Errorf("%s: its admin API shows %d sessions of %s from %s, want %d", n.name, mine, alice.name, client5, perNode[i])
		}
		// count counts the logins and data connections from client5 in
		// the node's log, and checks no line names the balancer as the
		// client.
		count := func(check bool) (loggedIn, data int) {
			for _, l := range n.logs.since(clients[0].mark[i]) {
				switch {
				case strings.Contains(l, `msg="user logged in"`) && hasRemote(l, client5+":"):
					loggedIn++
				case strings.Contains(l, `msg="passive data connection"`) && strings.Contains(l, " peer="+client5+":"):
					data++
				}
				for _, f := range strings.Fields(l) {
					if check && (strings.HasPrefix(f, "remote="+balancerIP+":") || strings.HasPrefix(f, "peer="+balancerIP+":")) {
						t.Errorf("%s logged the balancer's address as a client's: %s", n.name, l)
					}
				}
			}
			return loggedIn, data
		}
		// pier writes its log in batches (a line up to 5 ms after it was
		// logged), which the test reads through a pipe: the lines of the
		// last logins and LISTs may not be here yet. Wait (bounded) for
		// them, then count.
		eventually(t, startBound, n.name+" logs the logins and data connections from "+client5, func() bool {
			l, d := count(false)
			return l >= perNode[i] && d >= perNode[i]
		})
		loggedIn, data := count(true)
		if loggedIn != perNode[i] || data != perNode[i] {
			t.Errorf("%s logged %d logins and %d data connections from %s, want %d each", n.name, loggedIn, data, client5, perNode[i])
		}
		// Since it started: HAProxy's health checks (one a second, each
		// a PROXY v2 LOCAL header) stay out of the log at -V, and nothing
		// went wrong.
		for _, l := range n.logs.since(0) {
			if strings.Contains(l, "health check") || strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
				t.Errorf("%s: %s", n.name, l)
			}
		}
	}
}

// testSharedFiles: a file stored through one node is listed and fetched
// through another, by each client (the Go client, curl, lftp), in PASV and
// EPSV; two uploads to one name on two nodes at once don't mix.
func (c *cluster) testSharedFiles(t *testing.T) {
	dir := t.TempDir()
	c.waitSessions(t, [3]int{})

	// The Go client stores a file (EPSV) and stays logged in: leastconn
	// sends the next logins to the other nodes.
	g := c.loginGo(t, "127.0.0.21", alice, goOptions{})
	stored := c.node(t, g)
	data1 := pattern("shared-1", 300<<10)
	if err := g.Stor("shared-1.bin", bytes.NewReader(data1)); err != nil {
		t.Fatalf("STOR through node%d: %v", stored+1, err)
	}
	c.waitSessions(t, held(stored))
	mark := c.mark()
	if list := c.curl(t, "127.0.0.22", "--disable-epsv", "URL/"); !strings.Contains(list, "shared-1.bin") {
		t.Errorf("curl's listing (PASV) lacks shared-1.bin:\n%s", list)
	}
	got := filepath.Join(dir, "shared-1.bin")
	c.curl(t, "127.0.0.22", "--disable-epsv", "-o", got, "URL/shared-1.bin")
	sameFile(t, got, data1)
	for _, n := range c.nodesOf(t, mark, "127.0.0.22:", 2) {
		if n == stored {
			t.Errorf("curl was served by node%d, which stored the file: want another while the storing session is open", n+1)
		}
	}
	g.Quit()

	// curl stores (EPSV); lftp lists and fetches (PASV) through another
	// node, and the Go client (PASV) too.
	data2 := pattern("shared-2", 200<<10)
	up := filepath.Join(dir, "up-2.bin")
	writeFile(t, up, data2)
	mark = c.mark()
	c.curl(t, "127.0.0.23", "-T", up, "URL/shared-2.bin")
	stored = c.nodeOf(t, mark, "127.0.0.23:")
	hold := c.occupy(t, stored)
	c.waitSessions(t, held(stored))
	mark = c.mark()
	got = filepath.Join(dir, "shared-2.bin")
	out := c.lftp(t, "127.0.0.24", "set ftp:ssl-allow no; set ftp:passive-mode yes; set ftp:prefer-epsv no",
		"cls -1; get shared-2.bin -o "+got)
	if !strings.Contains(out, "shared-2.bin") {
		t.Errorf("lftp's listing lacks shared-2.bin:\n%s", out)
	}
	sameFile(t, got, data2)
	if n := c.nodeOf(t, mark, "127.0.0.24:"); n == stored {
		t.Errorf("lftp was served by node%d, which stored the file", n+1)
	}
	g2 := c.loginGo(t, "127.0.0.25", alice, goOptions{pasv: true})
	if b, err := retr(g2, "shared-2.bin"); err != nil || !bytes.Equal(b, data2) {
		t.Errorf("Go RETR (PASV) of curl's upload: %d bytes, %v", len(b), err)
	}
	hold.Quit()
	g2.Quit()
	c.waitSessions(t, [3]int{})

	// Two uploads to one name on two nodes at once: the upload lock is
	// each node's own, so both run; atomic-uploads keeps each whole, and
	// the last to finish wins.
	a := c.loginGo(t, "127.0.0.26", alice, goOptions{})
	b := c.loginGo(t, "127.0.0.27", alice, goOptions{})
	if na, nb := c.node(t, a), c.node(t, b); na == nb {
		t.Fatalf("two sessions held at once on node%d: leastconn should have split them", na+1)
	}
	both := make(chan struct{})
	var started sync.WaitGroup
	started.Add(2)
	dataA, dataB := pattern("same-A", 1<<20), pattern("same-B", 1<<20)
	errs := make(chan error, 2)
	for _, u := range []struct {
		g    *goClient
		data []byte
	}{{a, dataA}, {b, dataB}} {
		go func() {
			r := &gatedReader{data: u.data, hold: 64 << 10, gate: both, reached: started.Done}
			errs <- u.g.Stor("same.bin", r)
		}()
	}
	started.Wait()
	close(both)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("STOR same.bin: %v", err)
		}
	}
	final, err := os.ReadFile(filepath.Join(c.shared, alice.name, "same.bin"))
	if err != nil || !bytes.Equal(final, dataA) && !bytes.Equal(final, dataB) {
		t.Errorf("same.bin after two uploads on two nodes: %d bytes (%v), neither upload whole", len(final), err)
	}
}

// testFTPS: FTPS through the balancer, with PROT P and the TLS session
// reuse the nodes require on data connections (the default), in EPSV and
// PASV, by the Go client, curl and lftp.
func (c *cluster) testFTPS(t *testing.T) {
	dir := t.TempDir()
	c.waitSessions(t, [3]int{})
	before := c.passiveConnections(t)
	a := c.loginGo(t, "127.0.0.31", alice, goOptions{tls: true})
	na := c.node(t, a)
	data1 := pattern("tls-1", 500<<10)
	if err := a.Stor("tls-1.bin", bytes.NewReader(data1)); err != nil {
		t.Fatalf("FTPS STOR (EPSV) through node%d: %v", na+1, err)
	}
	b := c.loginGo(t, "127.0.0.32", alice, goOptions{tls: true, pasv: true})
	if nb := c.node(t, b); nb == na {
		t.Errorf("two FTPS sessions held at once on node%d", na+1)
	}
	if got, err := retr(b, "tls-1.bin"); err != nil || !bytes.Equal(got, data1) {
		t.Errorf("FTPS RETR (PASV) on another node: %d bytes, %v", len(got), err)
	}
	for _, n := range c.nodes {
		for _, s := range n.sessions(t) {
			if s.User == alice.name && !s.TLS {
				t.Errorf("%s: a session without TLS: %+v", n.name, s)
			}
		}
	}
	a.Quit()
	b.Quit()

	// A client that does not resume the control connection's TLS session
	// on its data connection is refused: the nodes require it (the
	// default), and it works above only because the data connection
	// reached the node of the session.
	fresh := c.loginGo(t, "127.0.0.35", alice, goOptions{tls: true, noReuse: true})
	if _, err := retr(fresh, "tls-1.bin"); ftpCode(err) != 522 {
		t.Errorf("RETR without TLS session reuse: %v, want 522", err)
	}
	fresh.Quit()

	// curl: --ssl-reqd (AUTH TLS, PROT P), the certificate checked.
	data2 := pattern("tls-2", 200<<10)
	up := filepath.Join(dir, "tls-2.bin")
	writeFile(t, up, data2)
	tlsArgs := []string{"--ssl-reqd", "--cacert", c.certFile}
	c.curl(t, "127.0.0.33", append(tlsArgs, "-T", up, "URL/tls-2.bin")...)
	got := filepath.Join(dir, "tls-1.curl")
	c.curl(t, "127.0.0.33", append(tlsArgs, "--disable-epsv", "-o", got, "URL/tls-1.bin")...)
	sameFile(t, got, data1)

	// lftp: ftp:ssl-force, ssl-protect-data, the certificate and its
	// address checked.
	got = filepath.Join(dir, "tls-2.lftp")
	c.lftp(t, "127.0.0.34", "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set ssl:ca-file "+c.certFile+"; set ssl:check-hostname yes",
		"get tls-2.bin -o "+got)
	sameFile(t, got, data2)

	after := c.passiveConnections(t)
	total := 0
	for i := range after {
		total += after[i] - before[i]
	}
	// Go: STOR, RETR; curl: STOR, RETR; lftp: RETR (and maybe a listing).
	if total < 5 {
		t.Errorf("%d data connections through the passive frontends, want at least 5", total)
	}
}

// testSharedBan: failed logins from 127.0.0.6 on node1 ban it there, and
// on node2 and node3 within a bounded poll; through the balancer it is
// refused whatever node it reaches. Lifted on node3 (admin API), it is
// lifted on all.
func (c *cluster) testSharedBan(t *testing.T) {
	node1 := net.JoinHostPort(c.nodes[0].ip, strconv.Itoa(c.port))
	node3 := net.JoinHostPort(c.nodes[2].ip, strconv.Itoa(c.port))
	// Directly to node1: 127.0.0.6 is not the balancer, so the node sees
	// it as it is. As many connections at once as ban-after (10), one
	// failed login each: the failures count across connections.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if reply := failLogin(t, banned6, node1); !strings.HasPrefix(reply, "530") && !strings.HasPrefix(reply, "421") {
				t.Errorf("a wrong password on node1: %q, want 530 (or 421 once banned)", reply)
			}
		})
	}
	wg.Wait()
	if reply := rawReply(t, banned6, node1); !strings.HasPrefix(reply, "421") {
		t.Fatalf("node1 after 10 failed logins from %s: %q, want 421", banned6, reply)
	}
	// The other nodes learn it from the database.
	for _, n := range c.nodes[1:] {
		addr := net.JoinHostPort(n.ip, strconv.Itoa(c.port))
		eventually(t, startBound, n.name+" refuses "+banned6, func() bool {
			return strings.HasPrefix(rawReply(t, banned6, addr), "421")
		})
	}
	// Through the balancer, whichever node it reaches refuses it: the
	// PROXY header names the real client.
	for range 3 {
		if reply := rawReply(t, banned6, c.front); !strings.HasPrefix(reply, "421") {
			t.Errorf("through the balancer, %s got %q, want 421", banned6, reply)
		}
	}
	// Others are not refused.
	if err := c.loginDirect(t, "127.0.0.7", node3); err != nil {
		t.Errorf("another address on node3: %v", err)
	}
	// Lifted through node3's admin API, the ban is lifted on every node.
	c.nodes[2].adminAPI(t, "DELETE", "/api/bans/"+banned6, http.StatusOK)
	for _, n := range c.nodes {
		addr := net.JoinHostPort(n.ip, strconv.Itoa(c.port))
		eventually(t, startBound, n.name+" lets "+banned6+" in again", func() bool {
			return strings.HasPrefix(rawReply(t, banned6, addr), "220")
		})
	}
}

// testSharedQuota: a quota set with "pier user set --quota-bytes" holds
// across nodes: uploads through different nodes add up, and the one that
// goes past gets 552.
func (c *cluster) testSharedQuota(t *testing.T) {
	c.pierUser(t, "", "set", quotaUser.name, "--quota-bytes", "1000000")
	c.waitSessions(t, [3]int{})
	// Three sessions held at once: one on each node.
	var gs []*goClient
	seen := map[int]bool{}
	for i := range 3 {
		g := c.loginGo(t, fmt.Sprintf("127.0.0.5%d", i+1), quotaUser, goOptions{})
		seen[c.node(t, g)] = true
		gs = append(gs, g)
	}
	if len(seen) != 3 {
		t.Fatalf("three sessions held at once on %d nodes", len(seen))
	}
	data := pattern("quota", 400_000)
	for i, g := range gs[:2] {
		if err := g.Stor(fmt.Sprintf("q%d.bin", i), bytes.NewReader(data)); err != nil {
			t.Fatalf("upload %d (%d bytes of 1000000 used before it): %v", i+1, i*len(data), err)
		}
	}
	err := gs[2].Stor("q2.bin", bytes.NewReader(data))
	if ftpCode(err) != 552 {
		t.Fatalf("the upload past the quota, on a third node: %v, want 552", err)
	}
	// Freed room is free on every node.
	if err := gs[0].Delete("q0.bin"); err != nil {
		t.Fatal(err)
	}
	if err := gs[2].Stor("q2.bin", bytes.NewReader(data)); err != nil {
		t.Errorf("upload after a DELE on another node: %v", err)
	}
}

// testSessionsTable: "pier sessions" lists the sessions of every node,
// under its node-name, with the client's own address.
func (c *cluster) testSessionsTable(t *testing.T) {
	c.waitSessions(t, [3]int{})
	want := map[string]string{} // node name: the client address of its session
	for i := range 3 {
		from := fmt.Sprintf("127.0.0.6%d", i+1)
		g := c.loginGo(t, from, alice, goOptions{})
		want[c.nodes[c.node(t, g)].name] = from
	}
	if len(want) != 3 {
		t.Fatalf("three sessions held at once on %d nodes", len(want))
	}
	// What pier sessions --json tells of each session.
	type listedSession struct {
		Node   string `json:"node"`
		User   string `json:"user"`
		Client string `json:"client"`
	}
	var listed []listedSession
	// The nodes publish their sessions every few seconds.
	eventually(t, startBound, "pier sessions lists a session of each node", func() bool {
		out := c.pierDB(t, "", "sessions", "--json")
		if err := json.Unmarshal([]byte(out), &listed); err != nil {
			t.Fatalf("pier sessions --json: %v\n%s", err, out)
		}
		found := 0
		for node, from := range want {
			if slices.ContainsFunc(listed, func(l listedSession) bool {
				return l.Node == node && l.User == alice.name && strings.HasPrefix(l.Client, from+":")
			}) {
				found++
			}
		}
		return found == len(want)
	})
	for _, l := range listed {
		if strings.HasPrefix(l.Client, balancerIP+":") {
			t.Errorf("pier sessions shows the balancer's address as a client's: %+v", l)
		}
	}
}

// testDatabaseOutage: with PostgreSQL stopped, new logins get 421 (not
// 530), more of them than ban-after ban nobody, and sessions logged in
// keep working, uploads included (a quota's usage is queued); once it is
// back, logins work again on every node and the usage is recorded.
func (c *cluster) testDatabaseOutage(t *testing.T) {
	g := c.loginGo(t, "127.0.0.41", alice, goOptions{})
	data := pattern("outage", 100<<10)
	if err := g.Stor("before-outage.bin", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	q := c.loginGo(t, "127.0.0.42", quotaUser, goOptions{})
	usedBefore := c.usedBytes(t, quotaUser)
	c.db.Stop()
	restarted := false
	defer func() {
		if !restarted {
			c.db.Restart()
		}
	}()
	mark := c.mark()
	for i := range 12 { // more than ban-after (10)
		o, err := c.dialGo(t, outsider9, goOptions{})
		if err != nil {
			t.Fatalf("connection %d during the outage: %v (banned?)", i+1, err)
		}
		if err := o.Login(alice.name, alice.password); ftpCode(err) != 421 {
			t.Errorf("login %d through the balancer during the outage: %v, want 421", i+1, err)
		}
		o.Quit()
	}
	// The balancer spread those over the nodes: more than ban-after on
	// one node too.
	node1 := net.JoinHostPort(c.nodes[0].ip, strconv.Itoa(c.port))
	for i := range 11 {
		// A ban would refuse the connection: 421 instead of the banner.
		if err := c.loginDirect(t, outsider9, node1); err == nil || !strings.HasPrefix(err.Error(), "PASS ") || !strings.Contains(err.Error(), `"421 `) {
			t.Errorf("login %d on node1 during the outage: %v, want 421 to PASS", i+1, err)
		}
	}
	// The session logged in before keeps working.
	if _, err := g.List("/"); err != nil {
		t.Errorf("LIST during the outage: %v", err)
	}
	if got, err := retr(g, "before-outage.bin"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("RETR during the outage: %d bytes, %v", len(got), err)
	}
	if err := g.Stor("during-outage.bin", bytes.NewReader(data)); err != nil {
		t.Errorf("STOR during the outage: %v", err)
	}
	// An upload of a user with a quota goes on unchecked; its usage is
	// kept on the node, and recorded when the database is back.
	if err := q.Stor("during-outage.bin", bytes.NewReader(data)); err != nil {
		t.Errorf("STOR of %s (quota) during the outage: %v", quotaUser.name, err)
	}
	for i, n := range c.nodes {
		for _, l := range n.logs.since(mark[i]) {
			if strings.Contains(l, `msg="connection refused`) || strings.Contains(l, `msg="failed login"`) || strings.Contains(l, "banned") {
				t.Errorf("%s during the outage: %s", n.name, l)
			}
		}
	}

	c.db.Restart()
	restarted = true
	eventually(t, startBound, "a login through the balancer after the outage", func() bool {
		o, err := c.dialGo(t, outsider9, goOptions{})
		if err != nil {
			return false
		}
		defer o.Quit()
		return o.Login(alice.name, alice.password) == nil
	})
	// Every node, directly: recovered, and 127.0.0.9 banned by none.
	for _, n := range c.nodes {
		addr := net.JoinHostPort(n.ip, strconv.Itoa(c.port))
		eventually(t, startBound, n.name+" logs in after the outage", func() bool {
			return c.loginDirect(t, outsider9, addr) == nil
		})
	}
	if got, err := retr(g, "during-outage.bin"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("RETR of the upload made during the outage: %d bytes, %v", len(got), err)
	}
	want := usedBefore + int64(len(data))
	eventually(t, startBound, fmt.Sprintf("%s's usage recorded after the outage (%d bytes)", quotaUser.name, want), func() bool {
		return c.usedBytes(t, quotaUser) == want
	})
}

// usedBytes is what the database counts u stores (pier user list).
func (c *cluster) usedBytes(t *testing.T, u testUser) int64 {
	t.Helper()
	var users []struct {
		Name      string `json:"name"`
		UsedBytes int64  `json:"used_bytes"`
	}
	out := c.pierUser(t, "", "list", "--json")
	if err := json.Unmarshal([]byte(out), &users); err != nil {
		t.Fatalf("pier user list --json: %v\n%s", err, out)
	}
	for _, x := range users {
		if x.Name == u.name {
			return x.UsedBytes
		}
	}
	t.Fatalf("pier user list --json has no %s:\n%s", u.name, out)
	return 0
}

// testNodeKilled: node1 is killed with SIGKILL in the middle of 20
// uploads. Every upload that got its 226 is in the shared folder, whole;
// no interrupted one left a partial file under its name; the uploads on
// the other nodes go on. HAProxy's health check takes node1 out and new
// logins all succeed on the other two; started again, it takes logins.
func (c *cluster) testNodeKilled(t *testing.T) {
	const uploads = 20
	home := filepath.Join(c.shared, alice.name)
	type upload struct {
		g    *goClient
		node int
		name string
		data []byte
		gate chan struct{}
		err  error
	}
	ups := make([]*upload, uploads)
	c.waitSessions(t, [3]int{})
	// 20 sessions held at once: leastconn puts about a third on each node.
	for i := range ups {
		g := c.loginGo(t, client5, alice, goOptions{pasv: i%2 == 1})
		ups[i] = &upload{g: g, node: c.node(t, g), name: fmt.Sprintf("kill-%02d.bin", i),
			data: pattern(fmt.Sprintf("kill-%02d", i), 4<<20+i*1000), gate: make(chan struct{})}
	}
	var onNode1 []*upload
	for _, u := range ups {
		if u.node == 0 {
			onNode1 = append(onNode1, u)
		}
	}
	if len(onNode1) < 2 {
		t.Fatalf("%d of %d uploads on node1, want at least 2", len(onNode1), uploads)
	}
	// Every upload sends 256 KiB, then waits at its gate.
	var reached, done sync.WaitGroup
	reached.Add(uploads)
	for _, u := range ups {
		done.Go(func() {
			r := &gatedReader{data: u.data, hold: 256 << 10, gate: u.gate, reached: reached.Done}
			u.err = u.g.Stor(u.name, r)
		})
	}
	reached.Wait()
	eventually(t, startBound, "20 uploads in progress on the nodes", func() bool {
		n := 0
		for _, nd := range c.nodes {
			for _, s := range nd.sessions(t) {
				if s.Transfer != nil && s.Transfer.Upload {
					n++
				}
			}
		}
		return n == uploads
	})
	// Half of node1's uploads finish before the kill: acknowledged, they
	// must survive it. The others are cut in the middle; the other nodes'
	// run on through the kill.
	early, late := onNode1[:len(onNode1)/2], onNode1[len(onNode1)/2:]
	for _, u := range early {
		close(u.gate)
	}
	eventually(t, startBound, "node1's early uploads end", func() bool {
		n := 0
		for _, s := range c.nodes[0].sessions(t) {
			if s.Transfer != nil {
				n++
			}
		}
		return n == len(late)
	})
	for _, u := range ups {
		if u.node != 0 {
			close(u.gate)
		}
	}
	c.nodes[0].kill()
	for _, u := range late {
		close(u.gate)
	}
	done.Wait()

	for _, u := range ups {
		path := filepath.Join(home, u.name)
		got, err := os.ReadFile(path)
		switch {
		case slices.Contains(late, u):
			if u.err == nil {
				t.Errorf("%s, cut on node1 by the kill, got its 226", u.name)
			}
			// atomic-uploads: nothing under its name, whole or not.
			if err == nil {
				t.Errorf("%s, cut by the kill, left %d bytes under its name", u.name, len(got))
			}
		case u.err != nil:
			t.Errorf("%s on node%d: %v", u.name, u.node+1, u.err)
		case err != nil || !bytes.Equal(got, u.data):
			t.Errorf("%s got its 226 on node%d but the shared folder has %d bytes (%v), want %d", u.name, u.node+1, len(got), err, len(u.data))
		}
	}
	temps, _ := filepath.Glob(filepath.Join(home, ".pier-upload-*"))
	t.Logf("node1 had %d uploads (%d finished before the kill); %d temporaries left", len(onNode1), len(early), len(temps))
	for _, u := range ups {
		u.g.Quit()
	}

	// The health check takes node1 out; new logins all succeed, on the
	// other two.
	c.waitServerState(t, "node1", "DOWN")
	var after []*goClient
	for range 6 {
		g := c.loginGo(t, client5, alice, goOptions{})
		if n := c.node(t, g); n == 0 {
			t.Errorf("a login went to node1 after HAProxy took it out")
		}
		if _, err := g.List("/"); err != nil {
			t.Errorf("LIST after node1's death: %v", err)
		}
		after = append(after, g)
	}
	for _, g := range after {
		g.Quit()
	}

	// Started again, node1 is back in: of three logins held at once, it
	// gets one.
	mark := c.nodes[0].logs.len()
	c.nodes[0].start(t, c.bin, c.cleanup)
	c.nodes[0].waitLog(t, mark, "starting pier")
	c.waitServerState(t, "node1", "UP")
	c.waitSessions(t, [3]int{})
	var back [3]int
	for range 3 {
		back[c.node(t, c.loginGo(t, client5, alice, goOptions{}))]++
	}
	if back[0] != 1 {
		t.Errorf("after node1 came back, three logins held at once went %v, want one on each node", back)
	}
}

// occupy holds a session open on node n (leastconn then sends new logins
// elsewhere), opening sessions until one lands there and closing the
// others.
func (c *cluster) occupy(t *testing.T, n int) *goClient {
	t.Helper()
	for range 6 {
		c.waitSessions(t, [3]int{})
		g := c.loginGo(t, "127.0.0.20", alice, goOptions{})
		if c.node(t, g) == n {
			return g
		}
		g.Quit()
	}
	t.Fatalf("no login of six reached node%d", n+1)
	return nil
}

// loginDirect logs in as alice from the address from to the node at addr,
// bypassing the balancer; it returns the error of the connection or the
// login.
func (c *cluster) loginDirect(t *testing.T, from, addr string) error {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	reply := func(cmd string) (string, error) {
		if cmd != "" {
			if _, err := io.WriteString(conn, cmd+"\r\n"); err != nil {
				return "", err
			}
		}
		buf := make([]byte, 512)
		n, err := conn.Read(buf)
		return string(buf[:n]), err
	}
	for _, step := range []struct{ cmd, code string }{{"", "220"}, {"USER " + alice.name, "331"}, {"PASS " + alice.password, "230"}} {
		r, err := reply(step.cmd)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(r, step.code) {
			return fmt.Errorf("%s: %q", cmp.Or(step.cmd, "connect"), r)
		}
	}
	return nil
}

// waitSessions waits until HAProxy counts want[i] sessions on node i+1
// (its scur): sessions closed a moment ago are gone, and leastconn's next
// choice is known.
func (c *cluster) waitSessions(t *testing.T, want [3]int) {
	t.Helper()
	eventually(t, startBound, fmt.Sprintf("HAProxy counts %v sessions on the nodes", want), func() bool {
		for i, n := range c.nodes {
			if v, err := c.readStat("pier", n.name, "scur"); err != nil || v != strconv.Itoa(want[i]) {
				return false
			}
		}
		return true
	})
}

// held is the sessions count with one on node n: what waitSessions
// wants while one session is held there.
func held(n int) [3]int {
	var w [3]int
	w[n] = 1
	return w
}

// passiveConnections returns how many connections each node's passive
// frontend has taken (HAProxy's stot).
func (c *cluster) passiveConnections(t *testing.T) [3]int {
	t.Helper()
	var counts [3]int
	for i, n := range c.nodes {
		v := c.stat(t, "ftp-passive-"+n.name, "FRONTEND", "stot")
		counts[i], _ = strconv.Atoi(v)
	}
	return counts
}

// sameFile fails the test unless the file at path holds want.
func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes (%v), want %d", path, len(got), err, len(want))
	}
}

// gatedReader gives data, stopping after hold bytes until gate closes
// (calling reached, once, when it stops there): an upload held in the
// middle.
type gatedReader struct {
	data    []byte
	at      int
	hold    int
	gate    <-chan struct{}
	reached func()
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if r.at == r.hold && r.reached != nil {
		r.reached()
		r.reached = nil
		<-r.gate
	}
	if r.at >= len(r.data) {
		return 0, io.EOF
	}
	end := len(r.data)
	if r.at < r.hold {
		end = r.hold
	}
	n := copy(p, r.data[r.at:end])
	r.at += n
	return n, nil
}

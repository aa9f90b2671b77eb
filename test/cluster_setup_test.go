//go:build unix

package integration_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pierftp/pier/internal/freeport"
	"github.com/pierftp/pier/internal/pgtest"
	"github.com/pierftp/pier/internal/testpki"
	"github.com/pierftp/pier/tlscert"
)

// The cluster TestCluster runs: HAProxy on balancerIP in front of three
// pier nodes, configured by the files docs/scale-out.md shows, with
// addresses, ports, paths and the database URL replaced by the test's.

const (
	haproxyBin = "/usr/sbin/haproxy"
	balancerIP = "127.0.0.10"
	// scaleOutDoc is the page whose configuration files the test runs.
	scaleOutDoc = "../docs/scale-out.md"
	// passivePerNode is the size of each node's passive range.
	passivePerNode = 40
	// startBound bounds each wait for a process to come up or a state to
	// be reached; generous, for a slow CI machine running -race binaries.
	startBound = 60 * time.Second
	// ioTimeout bounds each client operation.
	ioTimeout = 30 * time.Second
)

var nodeIPs = [3]string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}

// docAddr maps the addresses of docs/scale-out.md to the test's.
var docAddr = map[string]string{
	"203.0.113.10": balancerIP, // the balancer, towards clients
	"10.0.0.10":    balancerIP, // the balancer, towards the nodes
	"10.0.0.11":    nodeIPs[0],
	"10.0.0.12":    nodeIPs[1],
	"10.0.0.13":    nodeIPs[2],
}

// docRanges are the nodes' passive ranges in docs/scale-out.md.
var docRanges = [3]string{"50000-50099", "50100-50199", "50200-50299"}

const (
	docDB       = "postgres://pier@10.0.0.20/pier"
	docCertFile = "/etc/pier/ftp.example.org.crt"
	docKeyFile  = "/etc/pier/ftp.example.org.key"
	docSocket   = "/run/haproxy/admin.sock"
	docPort     = "21"
)

// cluster is what TestCluster started.
type cluster struct {
	bin      string // the pier binary
	db       *pgtest.Server
	dbURL    string
	shared   string // the shared folder that holds the homes
	certFile string // the nodes' certificate (PEM), which clients trust
	front    string // the balancer's control address
	port     int    // the control port of the balancer and of every node
	socket   string // HAProxy's stats socket
	nodes    [3]*node
	// haproxyExited is closed if HAProxy exits.
	haproxyExited <-chan struct{}
	// cleanup is the whole test's t.Cleanup, for a node started again
	// in a subtest.
	cleanup func(func())
}

// node is one pier node.
type node struct {
	name   string
	ip     string
	conf   string // its configuration file
	admin  string // its --admin address
	first  int    // its passive range
	last   int
	args   []string
	logs   nodeLog
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// nodeLog is a node's log, every line of every run, kept for the test to
// search.
type nodeLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *nodeLog) add(line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

// since returns the lines from index mark on.
func (l *nodeLog) since(mark int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines[min(mark, len(l.lines)):])
}

func (l *nodeLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// logMark is where each node's log stood at a moment.
type logMark [3]int

func (c *cluster) mark() logMark {
	var m logMark
	for i, n := range c.nodes {
		m[i] = n.logs.len()
	}
	return m
}

// requireTools skips the test (fails it under CI=true) without HAProxy,
// curl or lftp; pgtest does the same for PostgreSQL.
func requireTools(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := os.Stat(haproxyBin); err != nil {
		missing = append(missing, haproxyBin)
	}
	for _, tool := range []string{"curl", "lftp"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "the cluster test needs " + strings.Join(missing, ", ") + " (on Debian: apt-get install haproxy curl lftp)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI must not skip it")
	}
	t.Skip(msg)
}

// buildPier builds cmd/pier, with -race as the integration test does, into
// a temporary folder.
func buildPier(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	consultSources(t, root)
	bin := filepath.Join(t.TempDir(), "pier")
	build := exec.Command("go", "build", "-race", "-o", bin, "./cmd/pier")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/pier: %v\n%s", err, out)
	}
	return bin
}

// startCluster starts PostgreSQL, the three nodes and HAProxy, and makes
// the users.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	requireTools(t)
	db := pgtest.StartServer(t) // first: it skips the test without PostgreSQL
	c := &cluster{bin: buildPier(t), db: db, dbURL: db.URL, cleanup: t.Cleanup}
	dir := t.TempDir()
	// PostgreSQL may run as another account (pgtest, as root); pier runs
	// as the test, and so needs nothing more.
	c.shared = filepath.Join(dir, "srv-ftp")
	for _, u := range testUsers {
		if err := os.MkdirAll(filepath.Join(c.shared, u.name), 0o755); err != nil {
			t.Fatal(err)
		}
		c.pierUser(t, u.password+"\n", "add", u.name, "--home", filepath.Join(c.shared, u.name), "--perm", "elradfmwMT")
	}

	// One certificate for every node: clients connect to the balancer.
	cert, err := tlscert.SelfSigned(balancerIP, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	c.certFile = filepath.Join(dir, "cert.pem")
	keyFile := filepath.Join(dir, "key.pem")
	writeFile(t, c.certFile, testpki.CertPEM(cert.Leaf))
	writeFile(t, keyFile, testpki.KeyPEM(cert))

	ips := append([]string{balancerIP}, nodeIPs[:]...)
	c.port, _ = freeport.Range(t, 1, ips...)
	first, _ := freeport.Range(t, 3*passivePerNode, ips...)
	c.front = net.JoinHostPort(balancerIP, strconv.Itoa(c.port))
	c.socket = filepath.Join(dir, "haproxy.sock")

	tokenFile := filepath.Join(dir, "admin-token")
	writeFile(t, tokenFile, []byte(adminToken+"\n"))

	blocks := docBlocks(t)
	sub := []string{docDB, c.dbURL, docCertFile, c.certFile, docKeyFile, keyFile, docSocket, c.socket}
	for i := range c.nodes {
		lo := first + i*passivePerNode
		sub = append(sub, docRanges[i], fmt.Sprintf("%d-%d", lo, lo+passivePerNode-1))
	}
	port := strconv.Itoa(c.port)
	for doc, ip := range docAddr {
		sub = append(sub, doc+":"+docPort, ip+":"+port)
	}
	sub = append(sub, "port = "+docPort, "port = "+port)
	for doc, ip := range docAddr {
		sub = append(sub, doc, ip)
	}

	for i := range c.nodes {
		name := fmt.Sprintf("node%d", i+1)
		text := blocks["node1"]
		if i > 0 {
			text = overrideSettings(t, text, blocks[name])
		}
		n := &node{name: name, ip: nodeIPs[i], first: first + i*passivePerNode}
		n.last = n.first + passivePerNode - 1
		n.conf = filepath.Join(dir, name+".conf")
		writeFile(t, n.conf, []byte(substitute(t, name, text, sub)))
		adminPort, _ := freeport.Range(t, 1, n.ip)
		n.admin = net.JoinHostPort(n.ip, strconv.Itoa(adminPort))
		// The settings the page can't give: three nodes share this
		// machine's 127.0.0.1:9122; a token lets the test act through
		// the admin API; -V logs the data connections.
		n.args = []string{"-c", n.conf, "--admin", n.admin, "--admin-token-file", tokenFile, "-V"}
		c.nodes[i] = n
	}
	for _, n := range c.nodes {
		c.checkConfig(t, n)
	}
	for _, n := range c.nodes {
		n.start(t, c.bin, c.cleanup)
	}
	// Registered after the nodes' own cleanups, this runs before them.
	t.Cleanup(func() { c.checkNodeLogs(t) })
	for _, n := range c.nodes {
		n.waitLog(t, 0, "database ready")
		n.waitLog(t, 0, "starting pier")
	}
	c.haproxyExited = startHAProxy(t, filepath.Join(dir, "haproxy.cfg"), substitute(t, "haproxy.cfg", blocks["haproxy.cfg"], sub))
	c.waitHAProxy(t)
	return c
}

// testUser is an account TestCluster makes with "pier user add".
type testUser struct{ name, password string }

var (
	alice     = testUser{"alice", "alice-secret"}
	quotaUser = testUser{"quinn", "quinn-secret"}
	testUsers = []testUser{alice, quotaUser}
)

// pierUser runs "pier user ARGS" against the test's database (PIER_DB),
// with stdin, and returns its output; it must succeed.
func (c *cluster) pierUser(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return c.pierDB(t, stdin, append([]string{"user"}, args...)...)
}

// pierDB runs "pier ARGS" against the test's database (PIER_DB), with
// stdin, and returns its standard output; it must succeed.
func (c *cluster) pierDB(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := c.command(args...)
	cmd.Env = append(cmd.Env, "PIER_DB="+c.dbURL)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pier %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

// command is the pier binary with args. It is built with -race, whose
// runtime waits a second at exit by default: not for these.
func (c *cluster) command(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(os.Environ(), "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	return cmd
}

// checkConfig runs "pier check-config" on a node's file.
func (c *cluster) checkConfig(t *testing.T, n *node) {
	t.Helper()
	out, err := c.command("check-config", n.conf).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Fatalf("pier check-config %s: %v\n%s", n.name, err, out)
	}
}

// docBlocks returns the blocks of docs/scale-out.md marked
// "<!-- cluster_test: NAME -->", by name.
func docBlocks(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(scaleOutDoc)
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]string{}
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		name, ok := strings.CutPrefix(lines[i], "<!-- cluster_test: ")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(name, " -->")
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			t.Fatalf("%s:%d: the block %q does not follow its marker", scaleOutDoc, i+1, name)
		}
		var b strings.Builder
		j := i + 2
		for ; j < len(lines) && !strings.HasPrefix(lines[j], "```"); j++ {
			b.WriteString(lines[j] + "\n")
		}
		if j == len(lines) {
			t.Fatalf("%s:%d: the block %q does not end", scaleOutDoc, i+1, name)
		}
		blocks[name] = b.String()
		i = j
	}
	for _, want := range []string{"haproxy.cfg", "node1", "node2", "node3"} {
		if blocks[want] == "" {
			t.Fatalf("%s has no block marked %q", scaleOutDoc, want)
		}
	}
	return blocks
}

// overrideSettings returns base with the settings of changes (name =
// value lines) in place of its own.
func overrideSettings(t *testing.T, base, changes string) string {
	t.Helper()
	lines := strings.Split(base, "\n")
	for _, ch := range strings.Split(strings.TrimSpace(changes), "\n") {
		key, _, ok := strings.Cut(ch, "=")
		if !ok {
			t.Fatalf("%s: %q is not a setting", scaleOutDoc, ch)
		}
		key = strings.TrimSpace(key)
		found := false
		for i, l := range lines {
			if k, _, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == key {
				lines[i], found = ch, true
			}
		}
		if !found {
			t.Fatalf("%s: node1's file has no %q to change", scaleOutDoc, key)
		}
	}
	return strings.Join(lines, "\n")
}

// substitute applies the pairs (from, to) of sub to text, in order; a pair
// whose from is not in text is skipped, but a documentation address left
// over fails the test: the page has changed in a way the test can't map.
func substitute(t *testing.T, what, text string, sub []string) string {
	t.Helper()
	for i := 0; i < len(sub); i += 2 {
		text = strings.ReplaceAll(text, sub[i], sub[i+1])
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue // a comment: it may name the files' places
		}
		for _, left := range []string{"203.0.113.", "10.0.0.", "/etc/", "/run/"} {
			if strings.Contains(line, left) {
				t.Fatalf("%s: the line %q of %s holds %q, which the test does not map", scaleOutDoc, line, what, left)
			}
		}
		if strings.HasSuffix(line, "= "+docPort) || strings.HasSuffix(line, ":"+docPort) {
			t.Fatalf("%s: the line %q of %s has the port %s, which the test does not map", scaleOutDoc, line, what, docPort)
		}
	}
	return text
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// start runs the node's pier; it is killed, by its PID, at cleanup (the
// whole test's, even for a start in a subtest).
func (n *node) start(t *testing.T, bin string, cleanup func(func())) {
	t.Helper()
	cmd := exec.Command(bin, n.args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			n.logs.add(sc.Text())
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(exited)
	}()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
	cleanup(n.kill)
}

// kill sends SIGKILL to the node's process, the test's own child, and
// waits for it to exit.
func (n *node) kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// waitLog waits for a line containing substr from index mark of the
// node's log on, and returns it.
func (n *node) waitLog(t *testing.T, mark int, substr string) string {
	t.Helper()
	var found string
	eventually(t, startBound, n.name+" logs "+strconv.Quote(substr), func() bool {
		for _, l := range n.logs.since(mark) {
			if strings.Contains(l, substr) {
				found = l
				return true
			}
		}
		n.mu.Lock()
		exited := n.exited
		n.mu.Unlock()
		select {
		case <-exited:
			t.Fatalf("%s exited; its log:\n%s", n.name, strings.Join(n.logs.since(0), "\n"))
		default:
		}
		return false
	})
	return found
}

// checkNodeLogs stops the nodes and fails the test if one reported a data
// race (the binaries are built with -race; killed, they exit with no
// status to tell). If the test failed, it shows the end of each log.
func (c *cluster) checkNodeLogs(t *testing.T) {
	for _, n := range c.nodes {
		n.kill()
		lines := n.logs.since(0)
		if slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "WARNING: DATA RACE") }) {
			t.Errorf("%s reported a data race:\n%s", n.name, strings.Join(lines, "\n"))
		} else if t.Failed() {
			t.Logf("the last lines of %s's log:\n%s", n.name, strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	}
}

// adminSession is what the admin API tells of a session.
type adminSession struct {
	ID         uint64 `json:"id"`
	User       string `json:"user"`
	RemoteAddr string `json:"remote_addr"`
	TLS        bool   `json:"tls"`
	Transfer   *struct {
		Command string `json:"command"`
		Upload  bool   `json:"upload"`
	} `json:"transfer"`
}

// adminToken is the nodes' admin API token.
const adminToken = "cluster-test-token"

// sessions reads the node's live sessions from its admin API.
func (n *node) sessions(t *testing.T) []adminSession {
	t.Helper()
	var ss []adminSession
	if body := n.adminAPI(t, "GET", "/api/sessions", http.StatusOK); json.Unmarshal(body, &ss) != nil {
		t.Fatalf("%s admin API: not a list of sessions:\n%s", n.name, body)
	}
	return ss
}

// adminAPI makes a request to the node's admin API, which must answer
// with the status want, and returns the body.
func (n *node) adminAPI(t *testing.T, method, path string, want int) []byte {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	client := http.Client{Timeout: ioTimeout}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s admin API: %v", n.name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s admin API %s %s: %s, want %d\n%s", n.name, method, path, resp.Status, want, body)
	}
	return body
}

// startHAProxy runs haproxy with the configuration cfg in the foreground,
// as the test's own process, and kills it (by its PID) when the test ends.
// The channel it returns is closed if haproxy exits.
func startHAProxy(t *testing.T, path, cfg string) <-chan struct{} {
	t.Helper()
	writeFile(t, path, []byte(cfg))
	if out, err := exec.Command(haproxyBin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, cfg)
	}
	var out bytes.Buffer
	cmd := exec.Command(haproxyBin, "-f", path, "-db")
	cmd.Stdout, cmd.Stderr = &syncWriter{w: &out}, &syncWriter{w: &out}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill() // our own child, by its PID
		<-exited
		if t.Failed() {
			t.Logf("haproxy configuration:\n%s\nhaproxy output:\n%s", cfg, out.String())
		}
	})
	return exited
}

// syncWriter serialises the writes of a process's stdout and stderr.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// waitHAProxy waits until HAProxy sees every node up.
func (c *cluster) waitHAProxy(t *testing.T) {
	t.Helper()
	for _, n := range c.nodes {
		c.waitServerState(t, n.name, "UP")
	}
}

// waitServerState waits until HAProxy's stats show the control backend's
// server name in state (UP, DOWN).
func (c *cluster) waitServerState(t *testing.T, name, state string) {
	t.Helper()
	eventually(t, startBound, "HAProxy sees "+name+" "+state, func() bool {
		select {
		case <-c.haproxyExited:
			t.Fatal("haproxy exited")
		default:
		}
		return c.serverState(name) == state
	})
}

// serverState returns the status HAProxy's stats give the server name of
// the backend pier: "UP", "DOWN", or while it changes "UP 1/2" and the
// like ("" if the stats can't be read).
func (c *cluster) serverState(name string) string {
	v, _ := c.readStat("pier", name, "status")
	return v
}

// stat returns the column of HAProxy's stats for the proxy and server
// (FRONTEND, BACKEND, or a server's name).
func (c *cluster) stat(t *testing.T, proxy, server, column string) string {
	t.Helper()
	v, err := c.readStat(proxy, server, column)
	if err != nil {
		t.Fatalf("HAProxy stats: %v", err)
	}
	return v
}

func (c *cluster) readStat(proxy, server, column string) (string, error) {
	conn, err := net.DialTimeout("unix", c.socket, ioTimeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := conn.Write([]byte("show stat\n")); err != nil {
		return "", err
	}
	data, err := io.ReadAll(conn)
	if err != nil {
		return "", err
	}
	text := strings.TrimPrefix(string(data), "# ")
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 2 {
		return "", fmt.Errorf("show stat: %v\n%s", err, data)
	}
	col := slices.Index(rows[0], column)
	if col < 0 {
		return "", fmt.Errorf("show stat has no column %q", column)
	}
	for _, row := range rows[1:] {
		if len(row) > col && row[0] == proxy && row[1] == server {
			return row[col], nil
		}
	}
	return "", fmt.Errorf("show stat has no row %s/%s", proxy, server)
}

// eventually polls cond every 20 ms until it holds, failing the test if it
// does not within bound.
func eventually(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

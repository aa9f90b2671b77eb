//go:build unix

package integration_test

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

// The clients of TestCluster: github.com/jlaffaye/ftp in the test, curl and
// lftp as commands. Every client binds the loopback address it is given,
// so that the nodes' logs tell which node served it, and show that they
// saw the client's own address, not the balancer's.

// goClient is a jlaffaye/ftp connection through the balancer.
type goClient struct {
	*ftp.ServerConn
	// remote is how the nodes' logs name the client: "IP:PORT" of its
	// control connection, or "IP:" where the port can't be known (FTPS:
	// jlaffaye/ftp takes no dial function then).
	remote string
	mark   logMark // the logs before it connected
}

// goOptions shape a goClient.
type goOptions struct {
	pasv bool // PASV (and its address) rather than EPSV
	tls  bool // explicit FTPS: AUTH TLS, PBSZ 0, PROT P
	// noReuse: no TLS session cache, so that data connections resume
	// nothing.
	noReuse bool
}

// dialGo connects a Go client from the address from to the balancer; it
// is closed when the test ends. It does not log in.
func (c *cluster) dialGo(t *testing.T, from string, o goOptions) (*goClient, error) {
	t.Helper()
	g := &goClient{mark: c.mark(), remote: from + ":"}
	opts := []ftp.DialOption{ftp.DialWithTimeout(ioTimeout)}
	if o.pasv {
		// Trust the PASV address: the test checks that it is the
		// balancer's (-n), not the node's.
		opts = append(opts, ftp.DialWithDisabledEPSV(true), ftp.DialWithTrustPasvIP(true))
	}
	dialer := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	if o.tls {
		// jlaffaye/ftp takes the TLS session of the control connection
		// from the cache for each data connection: the resumption the
		// nodes require.
		cfg := &tls.Config{RootCAs: c.certPool(t), ServerName: balancerIP, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		if o.noReuse {
			cfg.ClientSessionCache = nil
		}
		opts = append(opts, ftp.DialWithExplicitTLS(cfg), ftp.DialWithDialer(dialer))
	} else {
		var once sync.Once
		opts = append(opts, ftp.DialWithDialFunc(func(network, addr string) (net.Conn, error) {
			conn, err := dialer.Dial(network, addr)
			if err == nil {
				once.Do(func() { g.remote = conn.LocalAddr().String() }) // the control connection
			}
			return conn, err
		}))
	}
	sc, err := ftp.Dial(c.front, opts...)
	if err != nil {
		return nil, err
	}
	g.ServerConn = sc
	t.Cleanup(func() { sc.Quit() })
	return g, nil
}

// loginGo is dialGo and a login as u, which must succeed.
func (c *cluster) loginGo(t *testing.T, from string, u testUser, o goOptions) *goClient {
	t.Helper()
	g, err := c.dialGo(t, from, o)
	if err != nil {
		t.Fatalf("connect from %s: %v", from, err)
	}
	if err := g.Login(u.name, u.password); err != nil {
		t.Fatalf("login of %s from %s: %v", u.name, from, err)
	}
	return g
}

// node returns the index of the node that serves g.
func (c *cluster) node(t *testing.T, g *goClient) int {
	t.Helper()
	return c.nodeOf(t, g.mark, g.remote)
}

// nodeOf returns the index of the node whose log, from mark on, has a
// session opened for the client remote ("IP:PORT", or "IP:" for any port);
// exactly one must have.
func (c *cluster) nodeOf(t *testing.T, mark logMark, remote string) int {
	t.Helper()
	nodes := c.nodesOf(t, mark, remote, 1)
	if len(nodes) != 1 {
		t.Fatalf("sessions of %s opened on nodes %v, want one", remote, nodes)
	}
	return nodes[0]
}

// nodesOf waits until the logs from mark on show at least n sessions
// opened for the client remote ("IP:PORT" or "IP:"), and returns the
// index of the node of each (in no particular order).
func (c *cluster) nodesOf(t *testing.T, mark logMark, remote string, n int) []int {
	t.Helper()
	var nodes []int
	eventually(t, startBound, fmt.Sprintf("%d session(s) of %s in the nodes' logs", n, remote), func() bool {
		nodes = nodes[:0]
		for i, nd := range c.nodes {
			for _, l := range nd.logs.since(mark[i]) {
				if strings.Contains(l, `msg="FTP session opened"`) && hasRemote(l, remote) {
					nodes = append(nodes, i)
				}
			}
		}
		return len(nodes) >= n
	})
	return nodes
}

// hasRemote reports whether the log line names the client remote ("IP:PORT"
// or "IP:") as the session's address.
func hasRemote(line, remote string) bool {
	for _, f := range strings.Fields(line) {
		if a, ok := strings.CutPrefix(f, "remote="); ok {
			if strings.HasSuffix(remote, ":") {
				return strings.HasPrefix(a, remote)
			}
			return a == remote
		}
	}
	return false
}

// certPool holds the nodes' certificate.
func (c *cluster) certPool(t *testing.T) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(c.certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in " + c.certFile)
	}
	return pool
}

// retr fetches name through g.
func retr(g *goClient, name string) ([]byte, error) {
	r, err := g.Retr(name)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return data, err
}

// ftpCode is the reply code of a jlaffaye/ftp error (0 if none).
func ftpCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// curl runs curl from the address from, against the balancer, with args
// (a URL path in them is relative to the balancer: written "URL/path").
func (c *cluster) curl(t *testing.T, from string, args ...string) string {
	t.Helper()
	url := "ftp://" + alice.name + ":" + alice.password + "@" + c.front
	full := []string{"-sS", "--max-time", "60", "--interface", from}
	for _, a := range args {
		full = append(full, strings.ReplaceAll(a, "URL", url))
	}
	out, err := exec.Command("curl", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// lftp runs the lftp commands script from the address from, logged in as
// alice through the balancer, with the settings set first.
func (c *cluster) lftp(t *testing.T, from, settings, script string) string {
	t.Helper()
	full := "set net:max-retries 1; set net:timeout 20; set net:reconnect-interval-base 1; set cmd:fail-exit yes; " +
		"set net:socket-bind-ipv4 " + from + "; " + settings + "; " +
		"open -u " + alice.name + "," + alice.password + " ftp://" + c.front + "; " + script
	out, err := exec.Command("lftp", "-c", full).CombinedOutput()
	if err != nil {
		t.Fatalf("lftp -c %q: %v\n%s", full, err, out)
	}
	return string(out)
}

// rawReply connects from the address from to addr (a node or the
// balancer) and returns the first reply line.
func rawReply(t *testing.T, from, addr string) string {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connect from %s to %s: %v", from, addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ioTimeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "(no reply: " + err.Error() + ")"
	}
	return strings.TrimSpace(line)
}

// failLogin connects from the address from to addr and logs in as alice
// with a wrong password; it returns the reply to PASS (or to the
// connection, if that is not a 220).
func failLogin(t *testing.T, from, addr string) string {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Errorf("connect from %s to %s: %v", from, addr, err)
		return ""
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ioTimeout))
	tp := textproto.NewConn(conn)
	if _, msg, err := tp.ReadResponse(220); err != nil {
		return msg + " " + err.Error()
	}
	for _, cmd := range []string{"USER " + alice.name, "PASS wrong-" + alice.password} {
		if err := tp.PrintfLine("%s", cmd); err != nil {
			return err.Error()
		}
		code, msg, err := tp.ReadResponse(0)
		if err != nil && code == 0 {
			return err.Error()
		}
		if strings.HasPrefix(cmd, "PASS") || code != 331 {
			return fmt.Sprintf("%d %s", code, msg)
		}
	}
	return ""
}

// pattern is n bytes of data that tell uploads apart: a stream of
// pseudo-random bytes seeded by seed.
func pattern(seed string, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8(sha256.Sum256([]byte(seed))).Read(b)
	return b
}

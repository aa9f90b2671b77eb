package pier_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

var tlsVersions = []struct {
	name string
	ver  uint16
}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}

// ticketCache is a tls.ClientSessionCache that remembers the last session
// stored and the sessions handed out, and lets a test plant a session: how
// a client that shares one cache between its connections (rclone, goftp)
// comes to offer one control connection's session on another's data
// connection.
type ticketCache struct {
	mu       sync.Mutex
	sessions map[string]*tls.ClientSessionState
	last     *tls.ClientSessionState   // the last session stored
	given    []*tls.ClientSessionState // what Get returned
}

func newTicketCache() *ticketCache {
	return &ticketCache{sessions: make(map[string]*tls.ClientSessionState)}
}

func (c *ticketCache) Get(key string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[key]
	if ok {
		c.given = append(c.given, s)
	}
	return s, ok
}

func (c *ticketCache) Put(key string, s *tls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s == nil {
		delete(c.sessions, key)
		return
	}
	c.sessions[key] = s
	c.last = s
}

// stored returns the last session stored.
func (c *ticketCache) stored(t *testing.T) *tls.ClientSessionState {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		t.Fatal("the server gave the control connection no TLS session")
	}
	return c.last
}

// plant makes s, or nothing if s is nil, the only session in the cache.
func (c *ticketCache) plant(s *tls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.sessions)
	c.given = nil
	if s != nil {
		c.sessions["localhost"] = s // the client configuration's ServerName
	}
}

// gave reports whether Get returned s since it was planted.
func (c *ticketCache) gave(s *tls.ClientSessionState) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.given, s)
}

// goFTPS dials srv with jlaffaye/ftp over explicit FTPS from the address
// from, with cfg (and so its session cache).
func goFTPS(t *testing.T, srv *ftptest.Server, cfg *tls.Config, from string) *ftp.ServerConn {
	t.Helper()
	d := net.Dialer{Timeout: ioDeadline, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := ftp.Dial(srv.Addr, ftp.DialWithExplicitTLS(cfg), ftp.DialWithDialer(d))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Quit() })
	return c
}

// controlSession opens a control connection from the address from, logs
// in as user (not at all if user is ""), and returns the TLS session the
// server gave it; with quit, the connection is closed first.
func controlSession(t *testing.T, srv *ftptest.Server, cfg *tls.Config, from, user, pass string, quit bool) *tls.ClientSessionState {
	t.Helper()
	cache := newTicketCache()
	cfg = cfg.Clone()
	cfg.ClientSessionCache = cache
	c := goFTPS(t, srv, cfg, from)
	// Any reply read after the handshake brings TLS 1.3's tickets in.
	if user != "" {
		if err := c.Login(user, pass); err != nil {
			t.Fatal(err)
		}
	} else if err := c.NoOp(); err != nil {
		t.Fatal(err)
	}
	if quit {
		if err := c.Quit(); err != nil {
			t.Fatal(err)
		}
	}
	return cache.stored(t)
}

// reuseServer starts an FTPS server with a second user, "other", that
// logs to logs.
func reuseServer(t *testing.T, logs *syncBuffer, configure func(*ftptest.Server)) (*ftptest.Server, *tls.Config) {
	t.Helper()
	return tlsServer(t, func(s *ftptest.Server) {
		if err := s.Users.AddUser("other", auth.Account{Password: "other-secret", FS: s.Root, Perm: pier.AllPerms}); err != nil {
			t.Fatal(err)
		}
		s.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: pier.LevelVerbose}))
		if configure != nil {
			configure(s)
		}
	})
}

// lastRefusal returns the server's last log line about a refused data
// connection.
func lastRefusal(logs *syncBuffer) string {
	lines := linesWith(logs, "refused a protected data connection")
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}

// expectRefused reads the 522 of a transfer whose data connection dc
// did not resume an acceptable session, and checks the log says why.
func expectRefused(t *testing.T, c *ftptest.Conn, dc net.Conn, logs *syncBuffer, why string) {
	t.Helper()
	dc.SetReadDeadline(time.Now().Add(ioDeadline))
	io.Copy(io.Discard, dc) // drive the handshake; the server then cuts the connection
	c.ExpectReply(t, 522)
	if got := lastRefusal(logs); !strings.Contains(got, why) {
		t.Fatalf("the log does not say %q:\n%s", why, logs.String())
	}
}

// tlsShapes are the ways an application may give its TLS configuration;
// the binding must hold in each.
var tlsShapes = []struct {
	name  string
	shape func(*tls.Config) *tls.Config
}{
	{"Certificates", func(c *tls.Config) *tls.Config { return c }},
	{"GetConfigForClient", func(c *tls.Config) *tls.Config {
		return &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return c, nil }}
	}},
	{"WrapSession and UnwrapSession", func(c *tls.Config) *tls.Config {
		// The application's own tickets, with its own keys and its own
		// Extra, which must survive pier's binding.
		isApp := func(e []byte) bool { return string(e) == "app" }
		app := c.Clone()
		app.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
			ss.Extra = append(ss.Extra, []byte("app"))
			return c.EncryptTicket(cs, ss)
		}
		app.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
			ss, err := c.DecryptTicket(identity, cs)
			if ss == nil || !slices.ContainsFunc(ss.Extra, isApp) {
				return nil, err
			}
			return ss, nil
		}
		return app
	}},
}

// TestFTPSReuseBinding: a data connection resumes the session of its own
// control connection (TestFTPSTransfersResumeSession) or of another
// control connection of the same user from the same address; any other
// session, or none, is refused with 522. Each case plants the session of
// another control connection in the client's cache, so the data
// connection offers exactly that one, as a client sharing one cache
// between its connections does, or as a thief on the passive port that
// holds a session of its own would.
func TestFTPSReuseBinding(t *testing.T) {
	for _, v := range tlsVersions {
		for _, shape := range tlsShapes {
			t.Run(v.name+"/"+shape.name, func(t *testing.T) {
				testReuseBinding(t, v.ver, shape.shape)
			})
		}
	}
}

func testReuseBinding(t *testing.T, version uint16, shape func(*tls.Config) *tls.Config) {
	var logs syncBuffer
	srv, cfg := reuseServer(t, &logs, func(s *ftptest.Server) { s.TLSConfig = shape(s.TLSConfig) })
	cfg.MinVersion, cfg.MaxVersion = version, version
	for _, tt := range []struct {
		name    string
		session func(t *testing.T) *tls.ClientSessionState // nil: none
		why     string                                     // "": accepted; else in the log of the refusal
	}{
		{"another control connection of the same user", func(t *testing.T) *tls.ClientSessionState {
			return controlSession(t, srv, cfg, "127.0.0.1", ftptest.User, ftptest.Password, false)
		}, ""},
		{"a closed control connection of the same user", func(t *testing.T) *tls.ClientSessionState {
			return controlSession(t, srv, cfg, "127.0.0.1", ftptest.User, ftptest.Password, true)
		}, ""},
		{"no session: a fresh handshake", func(*testing.T) *tls.ClientSessionState { return nil }, "no TLS session offered"},
		{"a control connection of another user", func(t *testing.T) *tls.ClientSessionState {
			return controlSession(t, srv, cfg, "127.0.0.1", "other", "other-secret", false)
		}, "not logged in as the same user"},
		{"an anonymous control connection", func(t *testing.T) *tls.ClientSessionState {
			return controlSession(t, srv, cfg, "127.0.0.1", "anonymous", "guest@example.com", false)
		}, "not logged in as the same user"},
		{"a control connection that closed without logging in", func(t *testing.T) *tls.ClientSessionState {
			return controlSession(t, srv, cfg, "127.0.0.1", "", "", true)
		}, "not logged in as the same user"},
		{"the same user from another address", func(t *testing.T) *tls.ClientSessionState {
			return controlSession(t, srv, cfg, "127.0.0.2", ftptest.User, ftptest.Password, false)
		}, "from another address (127.0.0.2)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cache := newTicketCache()
			own := cfg.Clone()
			own.ClientSessionCache = cache
			c := srv.Dial(t)
			secureLogin(t, c, own)
			planted := tt.session(t)
			cache.plant(planted)
			c.DataTLS = own
			dc := c.Passive(t)
			c.Send(t, "NLST")
			c.ExpectReply(t, 150)
			if tt.why != "" {
				expectRefused(t, c, dc, &logs, tt.why)
			} else {
				readAll(t, dc)
				c.ExpectReply(t, 226)
				if !dc.(*tls.Conn).ConnectionState().DidResume {
					t.Fatal("the data connection did not resume a session")
				}
			}
			if planted != nil && !cache.gave(planted) {
				t.Fatal("the data connection did not offer the planted session")
			}
			// The refusal ends only that transfer.
			cache.plant(nil)
			c.Expect(t, "NOOP", 200)
		})
	}
}

// TestFTPSReuseFromAnotherAddress: with PermitForeignAddresses the data
// connection may come from another address, but it can't resume a
// session issued to a control connection from 127.0.0.1 even if it holds
// one.
func TestFTPSReuseFromAnotherAddress(t *testing.T) {
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			var logs syncBuffer
			srv, cfg := reuseServer(t, &logs, func(s *ftptest.Server) { s.PermitForeignAddresses = true })
			cfg.MinVersion, cfg.MaxVersion = v.ver, v.ver
			c := srv.Dial(t)
			secureLogin(t, c, cfg)
			c.Expect(t, "NOOP", 200) // TLS 1.3: the control connection's ticket is in the cache
			port := parseEPSV(t, c.Expect(t, "EPSV", 229))
			raw := dial(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), netip.MustParseAddr("127.0.0.2"))
			dc := tls.Client(raw, cfg)
			c.Send(t, "NLST")
			c.ExpectReply(t, 150)
			expectRefused(t, c, dc, &logs, "from another address (127.0.0.1)")
			// From the client's own address the same session is accepted.
			c.DataTLS = cfg
			c.Retrieve(t, "NLST")
		})
	}
}

// TestFTPSTLS12WithoutTickets: a TLS 1.2 client that does not use session
// tickets (curl with --tls-max 1.2: OpenSSL there offers session IDs, which
// Go's TLS server does not resume) can't resume, and the log says why.
func TestFTPSTLS12WithoutTickets(t *testing.T) {
	var logs syncBuffer
	srv, cfg := reuseServer(t, &logs, nil)
	cfg.MaxVersion = tls.VersionTLS12
	cfg.SessionTicketsDisabled = true
	c := srv.Dial(t)
	secureLogin(t, c, cfg)
	c.DataTLS = cfg
	dc := c.Passive(t)
	c.Send(t, "NLST")
	c.ExpectReply(t, 150)
	expectRefused(t, c, dc, &logs, "TLS 1.2 client without session tickets")
}

// TestFTPSGoClient: jlaffaye/ftp over explicit FTPS with a session cache,
// its data connections resuming the control connection's session.
func TestFTPSGoClient(t *testing.T) {
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			var logs syncBuffer
			srv, cfg := reuseServer(t, &logs, nil)
			cfg.MinVersion, cfg.MaxVersion = v.ver, v.ver
			c := goFTPS(t, srv, cfg, "127.0.0.1")
			if err := c.Login(ftptest.User, ftptest.Password); err != nil {
				t.Fatal(err)
			}
			goRoundTrip(t, c, "go.bin")
		})
	}
}

// goRoundTrip stores, lists and retrieves a file with c.
func goRoundTrip(t *testing.T, c *ftp.ServerConn, name string) {
	t.Helper()
	data := pattern(300000)
	if err := c.Stor(name, bytes.NewReader(data)); err != nil {
		t.Fatalf("STOR: %v", err)
	}
	names, err := c.NameList("")
	if err != nil || !slices.Contains(names, name) {
		t.Fatalf("NLST: %q %v", names, err)
	}
	r, err := c.Retr(name)
	if err != nil {
		t.Fatalf("RETR: %v", err)
	}
	got, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("RETR: %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
}

// TestFTPSSharedSessionCache: two jlaffaye/ftp clients share one session
// cache, as rclone's connection pool does, and the second one's data
// connections offer the first one's session. Accepted for the same user;
// refused for another user on the same address.
func TestFTPSSharedSessionCache(t *testing.T) {
	for _, v := range tlsVersions {
		for _, tt := range []struct {
			firstUser, firstPass string
			ok                   bool
		}{
			{ftptest.User, ftptest.Password, true},
			{"other", "other-secret", false},
		} {
			t.Run(v.name+"/first logged in as "+tt.firstUser, func(t *testing.T) {
				var logs syncBuffer
				srv, cfg := reuseServer(t, &logs, nil)
				cfg.MinVersion, cfg.MaxVersion = v.ver, v.ver
				cache := newTicketCache()
				cfg.ClientSessionCache = cache
				first := goFTPS(t, srv, cfg, "127.0.0.1")
				if err := first.Login(tt.firstUser, tt.firstPass); err != nil {
					t.Fatal(err)
				}
				firstSession := cache.stored(t)
				second := goFTPS(t, srv, cfg, "127.0.0.1")
				if err := second.Login(ftptest.User, ftptest.Password); err != nil {
					t.Fatal(err)
				}
				if cache.stored(t) == firstSession {
					t.Fatal("the second control connection got no session of its own")
				}
				cache.plant(firstSession)
				if tt.ok {
					goRoundTrip(t, second, "shared.bin")
				} else {
					_, err := second.NameList("")
					if err == nil || !strings.Contains(err.Error(), "522") {
						t.Fatalf("NLST: %v, want a 522", err)
					}
					if got := lastRefusal(&logs); !strings.Contains(got, "not logged in as the same user") {
						t.Fatalf("the log does not say why:\n%s", logs.String())
					}
				}
				if !cache.gave(firstSession) {
					t.Fatal("the second client's data connection did not offer the first client's session")
				}
			})
		}
	}
}

// TestFTPSControlNeverResumes: a control connection does a full handshake
// even when it offers a session of this server (one of the same client's
// earlier control connections), so its own tickets are bound to it from
// the start.
func TestFTPSControlNeverResumes(t *testing.T) {
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			var logs syncBuffer
			srv, cfg := reuseServer(t, &logs, nil)
			cfg.MinVersion, cfg.MaxVersion = v.ver, v.ver
			cache := newTicketCache()
			cfg.ClientSessionCache = cache
			first := srv.Dial(t)
			secureLogin(t, first, cfg)
			first.Expect(t, "NOOP", 200)
			firstSession := cache.stored(t)
			second := srv.Dial(t)
			second.AuthTLS(t, cfg)
			if !cache.gave(firstSession) {
				t.Fatal("the second control connection did not offer the first one's session")
			}
			if second.Conn.(*tls.Conn).ConnectionState().DidResume {
				t.Fatal("a control connection resumed a session")
			}
		})
	}
}

// TestFTPSReuseOwnerLoggingIn: a client that shares its session cache may
// offer, on a data connection, the session of a control connection it has
// just opened and not yet logged in (tickets come with AUTH TLS). The data
// connection waits, with nothing sent on it, until that control connection
// logs in: accepted if as the same user, else refused, as it is if that
// connection ends without logging in.
func TestFTPSReuseOwnerLoggingIn(t *testing.T) {
	for _, v := range tlsVersions {
		for _, tt := range []struct {
			name   string
			settle func(t *testing.T, owner *ftptest.Conn)
			why    string // "": accepted
		}{
			{"logs in as the same user", func(t *testing.T, owner *ftptest.Conn) {
				owner.Login(t, ftptest.User, ftptest.Password)
			}, ""},
			{"logs in as another user", func(t *testing.T, owner *ftptest.Conn) {
				owner.Login(t, "other", "other-secret")
			}, "not logged in as the same user"},
			{"quits", func(t *testing.T, owner *ftptest.Conn) {
				owner.Expect(t, "QUIT", 221)
			}, "not logged in as the same user"},
		} {
			t.Run(v.name+"/"+tt.name, func(t *testing.T) {
				var logs syncBuffer
				srv, cfg := reuseServer(t, &logs, nil)
				cfg.MinVersion, cfg.MaxVersion = v.ver, v.ver
				ownerCache := newTicketCache()
				ownerCfg := cfg.Clone()
				ownerCfg.ClientSessionCache = ownerCache
				owner := srv.Dial(t)
				owner.AuthTLS(t, ownerCfg)
				owner.Expect(t, "NOOP", 200) // TLS 1.3: the ticket comes after the handshake

				cache := newTicketCache()
				own := cfg.Clone()
				own.ClientSessionCache = cache
				c := srv.Dial(t)
				secureLogin(t, c, own)
				cache.plant(ownerCache.stored(t))
				c.DataTLS = own
				dc := c.Passive(t)
				c.Send(t, "NLST")
				c.ExpectReply(t, 150)
				read := make(chan error, 1)
				go func() {
					dc.SetReadDeadline(time.Now().Add(ioDeadline))
					_, err := io.Copy(io.Discard, dc)
					read <- err
				}()
				// The server holds the data connection until the owner's
				// login: wait until it says so (bounded), then settle it.
				for end := time.Now().Add(ioDeadline); !strings.Contains(logs.String(), "waits for the login"); {
					if time.Now().After(end) {
						t.Fatalf("the server did not wait for the owner's login:\n%s", logs.String())
					}
					time.Sleep(time.Millisecond)
				}
				tt.settle(t, owner)
				err := <-read
				if tt.why == "" {
					c.ExpectReply(t, 226)
					if err != nil {
						t.Fatalf("data: %v", err)
					}
					return
				}
				c.ExpectReply(t, 522)
				if got := lastRefusal(&logs); !strings.Contains(got, tt.why) {
					t.Fatalf("the log does not say %q:\n%s", tt.why, logs.String())
				}
			})
		}
	}
}

package pier_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/local"
	"github.com/pierftp/pier/ftptest"
)

// Tests that no upload destroys data it did not replace, that two uploads
// never write one file at once, and that what the client sent before ABOR
// reaches the file whatever the timing.

// keepData is the content of the file the uploads below must leave alone.
var keepData = []byte("precious content that no failed upload may truncate\n")

// expectKept checks that the file "keep" still holds keepData and that the
// back-end never opened a file (an upload opens its file at its first
// byte only).
func expectKept(t *testing.T, srv *ftptest.Server, ofs *outcomeFS) {
	t.Helper()
	if got := readFile(t, srv, "keep"); !bytes.Equal(got, keepData) {
		t.Errorf("keep holds %q, want %q", got, keepData)
	}
	select {
	case f := <-ofs.opened:
		t.Errorf("the back-end opened %s (flag %#x) for an upload that sent nothing", f.name, f.flag)
	default:
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// TestUploadThatNeverStartsKeepsFile: a STOR whose data never flows
// (the data connection never opens, can't be made, or is aborted or cut
// before the first byte) leaves the existing file byte for byte intact.
func TestUploadThatNeverStartsKeepsFile(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, configure func(*pier.Server)) (*ftptest.Server, *outcomeFS, *ftptest.Conn) {
		t.Helper()
		srv, ofs, _ := outcomeSetup(t, configure, nil)
		writeFile(t, srv, "keep", keepData)
		return srv, ofs, outcomeLogin(t, srv)
	}

	t.Run("PASV never connected, ABOR", func(t *testing.T) {
		t.Parallel()
		srv, ofs, c := setup(t, nil)
		c.Expect(t, "PASV", 227)
		c.Send(t, "STOR keep")
		expectPrelim(t, c)
		c.Send(t, "ABOR")
		c.ExpectReply(t, 426)
		c.ExpectReply(t, 226)
		c.Expect(t, "NOOP", 200)
		expectKept(t, srv, ofs)
	})

	t.Run("PASV never connected, QUIT", func(t *testing.T) {
		t.Parallel()
		srv, ofs, c := setup(t, func(s *pier.Server) { s.ConnectTimeout = time.Minute })
		c.Expect(t, "PASV", 227)
		c.Send(t, "STOR keep")
		expectPrelim(t, c)
		c.Send(t, "QUIT")
		c.ExpectReply(t, 425)
		c.ExpectReply(t, 221)
		expectClosed(t, c)
		expectKept(t, srv, ofs)
	})

	t.Run("PASV never connected, ConnectTimeout", func(t *testing.T) {
		t.Parallel()
		srv, ofs, c := setup(t, func(s *pier.Server) { s.ConnectTimeout = 100 * time.Millisecond })
		c.Expect(t, "PASV", 227)
		c.Send(t, "STOR keep")
		expectPrelim(t, c)
		c.ExpectReply(t, 425)
		c.Expect(t, "NOOP", 200)
		expectKept(t, srv, ofs)
	})

	for _, active := range []string{"EPRT", "PORT"} {
		t.Run(active+" to a closed port", func(t *testing.T) {
			t.Parallel()
			srv, ofs, c := setup(t, nil)
			port := closedPort(t)
			if active == "EPRT" {
				c.Expect(t, "EPRT |1|127.0.0.1|"+strconv.Itoa(port)+"|", 200)
			} else {
				c.Expect(t, "PORT 127,0,0,1,"+strconv.Itoa(port>>8)+","+strconv.Itoa(port&0xff), 200)
			}
			c.Send(t, "STOR keep")
			expectPrelim(t, c)
			c.ExpectReply(t, 425)
			c.Expect(t, "NOOP", 200)
			expectKept(t, srv, ofs)
		})
	}

	t.Run("connected, ABOR before a byte", func(t *testing.T) {
		t.Parallel()
		srv, ofs, c := setup(t, nil)
		dc := c.Passive(t)
		c.Send(t, "STOR keep")
		expectPrelim(t, c)
		c.Send(t, "ABOR")
		c.ExpectReply(t, 426)
		c.ExpectReply(t, 226)
		// The server ends the data connection with a reset, or a clean
		// close if it never accepted it: not a byte either way.
		dc.SetReadDeadline(time.Now().Add(ioDeadline))
		if n, _ := io.Copy(io.Discard, dc); n != 0 {
			t.Errorf("got %d bytes on an upload's data connection", n)
		}
		c.Expect(t, "NOOP", 200)
		expectKept(t, srv, ofs)
	})

	t.Run("connected, reset before a byte", func(t *testing.T) {
		t.Parallel()
		srv, ofs, c := setup(t, func(s *pier.Server) { s.ConnectTimeout = 500 * time.Millisecond })
		dc := c.Passive(t)
		c.Send(t, "STOR keep")
		expectPrelim(t, c)
		resetConn(dc)
		// 426 once the server has read the reset; 425 if the kernel
		// dropped the connection from the accept queue first.
		if code, text, err := c.ReadReply(); err != nil || (code != 426 && code != 425) {
			t.Fatalf("got %d %q (%v), want 426 or 425", code, text, err)
		}
		c.Expect(t, "NOOP", 200)
		expectKept(t, srv, ofs)
	})

	t.Run("FTPS data handshake fails", func(t *testing.T) {
		t.Parallel()
		serverCfg, clientCfg := tlsPair(t)
		srv, ofs, _ := outcomeSetup(t, func(s *pier.Server) {
			s.TLSConfig = serverCfg
			s.TLSDataRequired = true
		}, nil)
		writeFile(t, srv, "keep", keepData)
		c := srv.Dial(t)
		c.AuthTLS(t, clientCfg)
		c.Expect(t, "PBSZ 0", 200)
		c.Expect(t, "PROT P", 200)
		c.Login(t, outcomeUser, outcomePass)
		dc := c.Passive(t) // plain TCP: no TLS handshake from the client
		c.Send(t, "STOR keep")
		expectPrelim(t, c)
		dc.SetWriteDeadline(time.Now().Add(ioDeadline))
		dc.Write([]byte("not a TLS ClientHello, but upload bytes\r\n"))
		dc.Close()
		c.ExpectReply(t, 522)
		c.Expect(t, "NOOP", 200)
		expectKept(t, srv, ofs)
		// The same upload over TLS replaces it.
		c.DataTLS = clientCfg.Clone()
		c.Store(t, "STOR keep", []byte("new"))
		if got := readFile(t, srv, "keep"); string(got) != "new" {
			t.Errorf("keep holds %q after a complete upload over TLS", got)
		}
	})
}

// TestUploadLockOneName: while an upload to a name runs, another STOR or
// APPE to it (from another session) gets 450, so the file ends as the
// first upload's bytes, never a mix; once the first upload has ended,
// completed or not, the name is free again.
func TestUploadLockOneName(t *testing.T) {
	t.Parallel()
	srv, ofs, _ := outcomeSetup(t, nil, nil)
	a := outcomeLogin(t, srv)
	b := outcomeLogin(t, srv)
	dataA, dataB := pattern(512<<10), bytes.Repeat([]byte("B"), 300<<10)

	// expectBusy checks that b's STOR and APPE to name get 450.
	expectBusy := func(t *testing.T, name string) {
		t.Helper()
		b.Expect(t, "EPSV", 229)
		b.Expect(t, "STOR "+name, 450)
		b.Expect(t, "APPE "+name, 450)
		b.Expect(t, "ABOR", 225) // drops the unused passive set-up
	}

	t.Run("second upload refused while the first runs", func(t *testing.T) {
		dc := a.Passive(t)
		a.Send(t, "STOR shared")
		expectPrelim(t, a)
		dc.SetWriteDeadline(time.Now().Add(ioDeadline))
		if _, err := dc.Write(dataA[:256<<10]); err != nil {
			t.Fatal(err)
		}
		ofs.waitOpened(t).waitFirstWrite(t)
		expectBusy(t, "shared")
		if _, err := dc.Write(dataA[256<<10:]); err != nil {
			t.Fatal(err)
		}
		dc.Close()
		a.ExpectReply(t, 226)
		if got := readFile(t, srv, "shared"); !bytes.Equal(got, dataA) {
			t.Fatalf("shared holds %d bytes, not the first upload's %d", len(got), len(dataA))
		}
		// Free again.
		b.Store(t, "STOR shared", dataB)
		ofs.waitOpened(t)
		if got := readFile(t, srv, "shared"); !bytes.Equal(got, dataB) {
			t.Fatalf("shared holds %d bytes after the second upload, want %d", len(got), len(dataB))
		}
	})

	t.Run("free after an aborted upload", func(t *testing.T) {
		dc := a.Passive(t)
		a.Send(t, "STOR shared")
		expectPrelim(t, a)
		dc.SetWriteDeadline(time.Now().Add(ioDeadline))
		if _, err := dc.Write(dataA[:64<<10]); err != nil {
			t.Fatal(err)
		}
		ofs.waitOpened(t).waitFirstWrite(t)
		expectBusy(t, "shared")
		a.Send(t, "ABOR")
		a.ExpectReply(t, 426)
		a.ExpectReply(t, 226)
		b.Store(t, "STOR shared", dataB)
		ofs.waitOpened(t)
		if got := readFile(t, srv, "shared"); !bytes.Equal(got, dataB) {
			t.Fatalf("shared holds %d bytes, want %d", len(got), len(dataB))
		}
	})

	t.Run("free after an upload whose data connection never opened", func(t *testing.T) {
		a.Expect(t, "EPSV", 229)
		a.Send(t, "STOR shared")
		expectPrelim(t, a)
		expectBusy(t, "shared")
		a.Send(t, "ABOR")
		a.ExpectReply(t, 426)
		a.ExpectReply(t, 226)
		b.Store(t, "APPE shared", []byte("+"))
		ofs.waitOpened(t)
		if got := readFile(t, srv, "shared"); !bytes.Equal(got, append(dataB[:len(dataB):len(dataB)], '+')) {
			t.Fatalf("shared holds %d bytes, want %d", len(got), len(dataB)+1)
		}
	})

	t.Run("free after the uploading session dropped", func(t *testing.T) {
		c := outcomeLogin(t, srv)
		dc := c.Passive(t)
		c.Send(t, "STOR shared")
		expectPrelim(t, c)
		dc.SetWriteDeadline(time.Now().Add(ioDeadline))
		if _, err := dc.Write(dataA[:64<<10]); err != nil {
			t.Fatal(err)
		}
		f := ofs.waitOpened(t)
		f.waitFirstWrite(t)
		expectBusy(t, "shared")
		c.Close()
		f.expectAbortedOnce(t)
		// The name is freed right after the file has ended, on the
		// dropped session's goroutine: retry 450 for a bounded time.
		deadline := time.Now().Add(ioDeadline)
		for {
			b.Expect(t, "EPSV", 229)
			code, text := b.Cmd(t, "STOR shared")
			if code == 450 && time.Now().Before(deadline) {
				b.Expect(t, "ABOR", 225)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if code != 150 {
				t.Fatalf("STOR after the uploader dropped: %d %q", code, text)
			}
			break
		}
		b.Expect(t, "ABOR", 426)
		b.ExpectReply(t, 226)
	})
}

// TestABORAfterPauseKeepsWhatWasSent: bytes that come while the server's
// read waits (with the receive low-water mark raised on Linux, they don't
// wake it) still reach the back-end when ABOR stops the upload. The pauses
// only give the server's read time to wait; the test holds for any.
func TestABORAfterPauseKeepsWhatWasSent(t *testing.T) {
	t.Parallel()
	srv, ofs, _ := outcomeSetup(t, nil, nil)
	c := outcomeLogin(t, srv)
	data := pattern(60 << 10)
	for i := range 3 {
		dc := c.Passive(t)
		c.Send(t, "STOR slow")
		expectPrelim(t, c)
		dc.SetWriteDeadline(time.Now().Add(ioDeadline))
		if _, err := dc.Write(data[:10<<10]); err != nil {
			t.Fatal(err)
		}
		f := ofs.waitOpened(t)
		f.waitFirstWrite(t)
		time.Sleep(20 * time.Millisecond)
		if _, err := dc.Write(data[10<<10:]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		c.Send(t, "ABOR")
		c.ExpectReply(t, 426)
		c.ExpectReply(t, 226)
		if got := readFile(t, srv, "slow"); !bytes.Equal(got, data) {
			t.Fatalf("round %d: the file holds %d bytes, want all %d sent before ABOR", i, len(got), len(data))
		}
		if reason := f.expectAbortedOnce(t); !errors.Is(reason, pier.ErrTransferAborted) {
			t.Fatalf("round %d: Abort(%v), want ErrTransferAborted", i, reason)
		}
		dc.Close()
	}
}

// TestABORKeepsWhatWasSent: the bytes a client sent before ABOR all reach
// the back-end, whatever the timing of ABOR against the server's reads:
// 20 rounds, each must store all 100 KiB.
func TestABORKeepsWhatWasSent(t *testing.T) {
	t.Parallel()
	const rounds, size = 20, 100 << 10
	for _, tc := range []struct {
		name      string
		wrapped   bool // through outcomeFS (copy path), else srv.Root (*os.File: splice)
		closeData bool // the client closes the data connection before ABOR
	}{
		{"copy, data open", true, false},
		{"copy, data closed", true, true},
		{"splice, data open", false, false},
		{"splice, data closed", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, ofs, _ := outcomeSetup(t, nil, nil)
			var c *ftptest.Conn
			if tc.wrapped {
				c = outcomeLogin(t, srv)
			} else {
				c = login(t, srv)
			}
			data := pattern(size)
			for i := range rounds {
				name := "up" + strconv.Itoa(i)
				dc := c.Passive(t)
				c.Send(t, "STOR "+name)
				expectPrelim(t, c)
				dc.SetWriteDeadline(time.Now().Add(ioDeadline))
				if _, err := dc.Write(data); err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
				if tc.closeData {
					dc.Close()
				}
				c.Send(t, "ABOR")
				code, text, err := c.ReadReply()
				switch {
				case err != nil:
					t.Fatalf("round %d: ABOR: %v", i, err)
				case code == 426:
					c.ExpectReply(t, 226)
				case code == 226 && tc.closeData:
					// The upload completed before ABOR came.
					c.ExpectReply(t, 225)
				default:
					t.Fatalf("round %d: ABOR: got %d %q", i, code, text)
				}
				if got := readFile(t, srv, name); !bytes.Equal(got, data) {
					t.Fatalf("round %d: the file holds %d bytes, want all %d sent before ABOR", i, len(got), len(data))
				}
				if tc.wrapped {
					f := ofs.waitOpened(t)
					f.waitEnded(t)
					if n := f.written.Load(); n != size {
						t.Fatalf("round %d: the back-end's Writes got %d bytes, want %d", i, n, size)
					}
				}
				dc.Close()
			}
		})
	}
}

// TestUploadLockAcrossFileSystems: two logins with file systems of their
// own on one folder (a local.FS opened per login, as User.Release's
// example does) still share the lock on a name: local.FS's UploadKey is
// the real path.
func TestUploadLockAcrossFileSystems(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	for _, name := range []string{"one", "two"} {
		root, err := local.New(srv.Dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { root.Close() })
		if err := srv.Users.AddUser(name, auth.Account{Password: "pw", FS: root, Perm: pier.AllPerms}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := srv.Dial(t), srv.Dial(t)
	a.Login(t, "one", "pw")
	b.Login(t, "two", "pw")
	dc := a.Passive(t)
	a.Send(t, "STOR same")
	expectPrelim(t, a)
	dc.SetWriteDeadline(time.Now().Add(ioDeadline))
	if _, err := dc.Write([]byte("first")); err != nil {
		t.Fatal(err)
	}
	b.Expect(t, "EPSV", 229)
	b.Expect(t, "STOR same", 450)
	b.Expect(t, "ABOR", 225)
	dc.Close()
	a.ExpectReply(t, 226)
	b.Store(t, "STOR same", []byte("second"))
	if got := readFile(t, srv, "same"); string(got) != "second" {
		t.Fatalf("same holds %q", got)
	}
}

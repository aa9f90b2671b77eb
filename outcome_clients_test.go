package pier_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/pierftp/pier/ftptest"
)

// Real clients must see a cut download as a failure, never as a whole
// (short) file: pier ends the data connection with a reset and replies 426.

// ctrlProxy relays one control connection between a client and the server,
// so that a test can slip a command (ABOR) into it while the client waits
// for its download. Data connections go straight to the server: the
// client connects to the port of EPSV's reply on the proxy's address,
// which is the server's.
type ctrlProxy struct {
	ln   net.Listener
	mu   sync.Mutex // serializes writes to up
	up   net.Conn   // to the server, once the client has connected
	upOK chan struct{}
}

func startCtrlProxy(t *testing.T, server string) *ctrlProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &ctrlProxy{ln: ln, upOK: make(chan struct{})}
	var wg sync.WaitGroup
	var conns []net.Conn
	var connsMu sync.Mutex
	track := func(c net.Conn) {
		connsMu.Lock()
		conns = append(conns, c)
		connsMu.Unlock()
	}
	t.Cleanup(func() {
		ln.Close()
		connsMu.Lock()
		for _, c := range conns {
			c.Close()
		}
		connsMu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		down, err := ln.Accept()
		if err != nil {
			return
		}
		track(down)
		up, err := net.DialTimeout("tcp", server, ioDeadline)
		if err != nil {
			down.Close()
			return
		}
		track(up)
		p.up = up
		close(p.upOK)
		wg.Add(2)
		go func() { // server to client
			defer wg.Done()
			io.Copy(down, up)
			down.Close()
		}()
		go func() { // client to server
			defer wg.Done()
			buf := make([]byte, 4096)
			for {
				n, err := down.Read(buf)
				if n > 0 {
					p.mu.Lock()
					_, werr := up.Write(buf[:n])
					p.mu.Unlock()
					if werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			up.Close()
		}()
	}()
	return p
}

// addr is where the client connects.
func (p *ctrlProxy) addr() string { return p.ln.Addr().String() }

// inject sends a command line to the server as if the client had.
func (p *ctrlProxy) inject(t *testing.T, line string) {
	t.Helper()
	select {
	case <-p.upOK:
	case <-time.After(ioDeadline):
		t.Fatal("the client never connected to the proxy")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up.SetWriteDeadline(time.Now().Add(ioDeadline))
	if _, err := io.WriteString(p.up, line+"\r\n"); err != nil {
		t.Fatalf("inject %q: %v", line, err)
	}
}

// cutDownloadSetup starts a server whose outcomeUser downloads "big"
// (size bytes), whose reads block after the first MiB until the test
// releases them, behind a control connection proxy.
func cutDownloadSetup(t *testing.T, size int) (*ftptest.Server, *outcomeFS, *ctrlProxy) {
	t.Helper()
	srv, ofs, _ := outcomeSetup(t, nil, func(o *outcomeFS) { o.blockAt = 1 << 20 })
	writeFile(t, srv, "big", pattern(size))
	return srv, ofs, startCtrlProxy(t, srv.Addr)
}

// cut ends the download in progress: with ABOR on the control connection,
// or with Server.Close.
func cut(t *testing.T, how string, srv *ftptest.Server, p *ctrlProxy) {
	t.Helper()
	switch how {
	case "ABOR":
		p.inject(t, "ABOR")
	case "Close":
		srv.Close()
	default:
		t.Fatalf("unknown cut %q", how)
	}
}

// TestCutDownloadIsAnErrorForClients: a download cut by ABOR or by
// Server.Close (what ServeContext does when Shutdown's deadline passes) is
// an error for github.com/jlaffaye/ftp (reading the data fails, rather
// than ending in a clean EOF after a short file) and for curl (a non-zero
// exit status).
func TestCutDownloadIsAnErrorForClients(t *testing.T) {
	t.Parallel()
	const size = 4 << 20
	for _, how := range []string{"ABOR", "Close"} {
		t.Run("jlaffaye/"+how, func(t *testing.T) {
			t.Parallel()
			srv, ofs, p := cutDownloadSetup(t, size)
			c, err := ftp.Dial(p.addr(), ftp.DialWithTimeout(ioDeadline))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Quit()
			if err := c.Login(outcomeUser, outcomePass); err != nil {
				t.Fatal(err)
			}
			resp, err := c.Retr("big")
			if err != nil {
				t.Fatal(err)
			}
			resp.SetDeadline(time.Now().Add(ioDeadline))
			type result struct {
				n   int64
				err error
			}
			done := make(chan result, 1)
			go func() {
				n, err := io.Copy(io.Discard, resp)
				done <- result{n, err}
			}()
			ofs.waitBlocked(t)
			cut(t, how, srv, p)
			var r result
			select {
			case r = <-done:
			case <-time.After(ioDeadline):
				t.Fatal("reading the cut download did not end")
			}
			if r.err == nil {
				t.Errorf("reading the download ended cleanly after %d of %d bytes; want an error", r.n, size)
			}
			if r.n >= size {
				t.Errorf("read %d bytes, the whole file, despite the cut", r.n)
			}
			if err := resp.Close(); err == nil {
				t.Error("Response.Close reported success for a cut download")
			}
		})

		t.Run("curl/"+how, func(t *testing.T) {
			t.Parallel()
			curl, err := exec.LookPath("curl")
			if err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatal("curl is missing")
				}
				t.Skip("curl is missing")
			}
			srv, ofs, p := cutDownloadSetup(t, size)
			ctx, cancel := context.WithTimeout(context.Background(), 3*ioDeadline)
			defer cancel()
			out := filepath.Join(t.TempDir(), "big")
			_, port, _ := net.SplitHostPort(p.addr())
			cmd := exec.CommandContext(ctx, curl, "--silent", "--show-error",
				"--user", outcomeUser+":"+outcomePass, "--output", out,
				"ftp://127.0.0.1:"+port+"/big")
			var stderr bytes.Buffer // read after Wait only
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			select {
			case <-ofs.blocked:
			case err := <-waited:
				t.Fatalf("curl ended before the download was under way: %v; %s", err, stderr.String())
			case <-time.After(ioDeadline):
				t.Fatal("the download never got under way")
			}
			cut(t, how, srv, p)
			err = <-waited
			if ctx.Err() != nil {
				t.Fatalf("curl did not end: %v", err)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				fi, _ := os.Stat(out)
				got := int64(-1)
				if fi != nil {
					got = fi.Size()
				}
				t.Fatalf("curl: %v (exit status 0) after %d of %d bytes; want a failure. stderr: %s", err, got, size, stderr.String())
			}
			t.Logf("curl exit status %s: %s", strconv.Itoa(ee.ExitCode()), stderr.String())
		})
	}
}

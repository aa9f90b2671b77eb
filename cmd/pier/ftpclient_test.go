package main

import (
	"bufio"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ftpClient is a raw FTP control connection to a daemon, for tests that
// need to see single replies or to cut a transfer short. Every wait is
// bounded by the connection's deadline.
type ftpClient struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

// clientDeadline bounds everything a test's FTP connection does.
const clientDeadline = 20 * time.Second

// dialClient connects to 127.0.0.1:port; the connection is closed when
// the test ends.
func dialClient(t *testing.T, port int) *ftpClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(clientDeadline))
	return &ftpClient{t: t, c: c, r: bufio.NewReader(c)}
}

// loginAnonymous connects to 127.0.0.1:port, logs in as anonymous and
// switches to binary mode.
func loginAnonymous(t *testing.T, port int) *ftpClient {
	t.Helper()
	f := dialClient(t, port)
	f.expect("", "220")
	f.expect("USER anonymous", "331")
	f.expect("PASS guest@", "230")
	f.expect("TYPE I", "200")
	return f
}

// expect sends a line ("" sends nothing) and reads the final line of its
// reply, failing the test unless it starts with code.
func (f *ftpClient) expect(send, code string) string {
	f.t.Helper()
	if send != "" {
		io.WriteString(f.c, send+"\r\n")
	}
	for {
		l, err := f.r.ReadString('\n')
		if err != nil {
			f.t.Fatalf("%q: %v", send, err)
		}
		if len(l) >= 4 && l[3] == ' ' {
			if !strings.HasPrefix(l, code) {
				f.t.Fatalf("%q: got %q, want %s", send, l, code)
			}
			return l
		}
	}
}

var epsvPort = regexp.MustCompile(`\(\|\|\|(\d+)\|\)`)

// passive sends EPSV and opens the data connection.
func (f *ftpClient) passive() *net.TCPConn {
	f.t.Helper()
	reply := f.expect("EPSV", "229")
	m := epsvPort.FindStringSubmatch(reply)
	if m == nil {
		f.t.Fatalf("EPSV reply %q", reply)
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+m[1], 5*time.Second)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(clientDeadline))
	return c.(*net.TCPConn)
}

// list returns the LIST of the current folder.
func (f *ftpClient) list() string {
	f.t.Helper()
	return string(f.receive("LIST"))
}

// retrieve downloads a file with RETR.
func (f *ftpClient) retrieve(name string) []byte {
	f.t.Helper()
	return f.receive("RETR " + name)
}

// receive runs a transfer command that sends data, and returns the data.
func (f *ftpClient) receive(cmd string) []byte {
	f.t.Helper()
	d := f.passive()
	f.expect(cmd, "150")
	data, err := io.ReadAll(d)
	if err != nil {
		f.t.Fatalf("%s: %v", cmd, err)
	}
	d.Close()
	f.expect("", "226")
	return data
}

// store uploads data with STOR, completely.
func (f *ftpClient) store(name string, data []byte) {
	f.t.Helper()
	d := f.startStore(name)
	if _, err := d.Write(data); err != nil {
		f.t.Fatalf("STOR %s: %v", name, err)
	}
	d.Close()
	f.expect("", "226")
}

// startStore sends STOR and returns the open data connection, for the
// test to write to.
func (f *ftpClient) startStore(name string) *net.TCPConn {
	f.t.Helper()
	d := f.passive()
	f.expect("STOR "+name, "150")
	return d
}

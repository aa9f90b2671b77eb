package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// replyError is an unexpected reply to a command.
type replyError struct {
	cmd  string
	code int
	text string
}

func (e *replyError) Error() string {
	return fmt.Sprintf("%s: got %d %s", e.cmd, e.code, e.text)
}

// client is one control connection, with the little of FTP the benchmark
// needs: RFC 959 plus EPSV (falling back to PASV) and RFC 4217 explicit
// TLS.
type client struct {
	b   *bench
	nc  net.Conn // the control connection, TLS after AUTH TLS
	r   *bufio.Reader
	tls *tls.Config // this client's TLS configuration: its own session cache, shared with its data connections
	// pasv is set once the server refused EPSV.
	pasv bool
	// ready is set once PBSZ, PROT and TYPE I were sent.
	ready bool
}

// dial connects, reads the greeting and, with --tls, secures the control
// connection. It does not log in.
func (b *bench) dial() (*client, error) {
	d := net.Dialer{Timeout: b.o.timeout}
	if b.src != nil {
		d.LocalAddr = b.src.pick()
	}
	nc, err := d.Dial("tcp", b.addr)
	if err != nil {
		return nil, err
	}
	c := &client{b: b, nc: nc, r: bufio.NewReader(nc)}
	code, text, err := c.reply()
	if err == nil && code != 220 {
		err = &replyError{"greeting", code, text}
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if b.o.tls {
		if _, err := c.expect("AUTH TLS", 234); err != nil {
			nc.Close()
			return nil, err
		}
		c.tls = b.tlsBase.Clone()
		c.tls.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		tc := tls.Client(nc, c.tls)
		tc.SetDeadline(time.Now().Add(b.o.timeout))
		if err := tc.Handshake(); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		c.nc = tc
		c.r = bufio.NewReader(tc)
	}
	return c, nil
}

// login sends USER and PASS.
func (c *client) login() error {
	code, text, err := c.cmd("USER " + c.b.o.user)
	if err != nil {
		return err
	}
	if code == 331 || code == 332 {
		code, text, err = c.cmd("PASS " + c.b.o.pass)
		if err != nil {
			return err
		}
	}
	if code != 230 && code != 202 {
		return &replyError{"login", code, text}
	}
	return nil
}

// prepare sends what a transfer needs once: PBSZ 0 and PROT P with --tls,
// then TYPE I. On a client already prepared it sends NOOP, to check that the
// connection still works.
func (c *client) prepare() error {
	if c.ready {
		_, err := c.expect("NOOP", 200)
		return err
	}
	if c.tls != nil {
		if _, err := c.expect("PBSZ 0", 200); err != nil {
			return err
		}
		if _, err := c.expect("PROT P", 200); err != nil {
			return err
		}
	}
	if _, err := c.expect("TYPE I", 200); err != nil {
		return err
	}
	c.ready = true
	return nil
}

// close closes the control connection without QUIT.
func (c *client) close() {
	if c != nil && c.nc != nil {
		c.nc.Close()
	}
}

// quit sends QUIT, waits for the 221 and closes.
func (c *client) quit() error {
	_, err := c.expect("QUIT", 221)
	c.close()
	return err
}

// send writes one command line.
func (c *client) send(line string) error {
	c.nc.SetWriteDeadline(time.Now().Add(c.b.o.timeout))
	if _, err := io.WriteString(c.nc, line+"\r\n"); err != nil {
		return fmt.Errorf("%s: %w", verb(line), err)
	}
	return nil
}

// verb is a command line without its argument, so errors don't show
// passwords.
func verb(line string) string {
	if i := strings.IndexByte(line, ' '); i > 0 && strings.EqualFold(line[:i], "PASS") {
		return "PASS"
	}
	return line
}

// reply reads one reply, single- or multi-line (RFC 959 §4.2).
func (c *client) reply() (int, string, error) {
	c.nc.SetReadDeadline(time.Now().Add(c.b.o.timeout))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if len(line) < 3 {
		return 0, line, fmt.Errorf("malformed reply %q", line)
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil || code < 100 || code > 599 {
		return 0, line, fmt.Errorf("malformed reply %q", line)
	}
	if len(line) == 3 || line[3] != '-' {
		return code, strings.TrimPrefix(line[3:], " "), nil
	}
	text := []string{line[4:]}
	end := line[:3] + " "
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			return code, strings.Join(text, "\n"), err
		}
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, end) || l == line[:3] {
			text = append(text, strings.TrimPrefix(l[3:], " "))
			return code, strings.Join(text, "\n"), nil
		}
		text = append(text, l)
	}
}

// cmd sends a command and reads its reply.
func (c *client) cmd(line string) (int, string, error) {
	if err := c.send(line); err != nil {
		return 0, "", err
	}
	code, text, err := c.reply()
	if err != nil {
		return code, text, fmt.Errorf("%s: %w", verb(line), err)
	}
	return code, text, nil
}

// expect sends a command and fails unless the reply has one of the codes.
func (c *client) expect(line string, codes ...int) (string, error) {
	code, text, err := c.cmd(line)
	if err != nil {
		return text, err
	}
	for _, want := range codes {
		if code == want {
			return text, nil
		}
	}
	return text, &replyError{verb(line), code, text}
}

var pasvRE = regexp.MustCompile(`(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)`)

// openData asks for a passive data port (EPSV, or PASV once EPSV got a 5xx)
// and connects to it, always at the control connection's address.
func (c *client) openData() (net.Conn, error) {
	port := 0
	if !c.pasv {
		code, text, err := c.cmd("EPSV")
		if err != nil {
			return nil, err
		}
		switch {
		case code == 229:
			port, err = parseEPSV(text)
			if err != nil {
				return nil, err
			}
		case code >= 500:
			c.pasv = true
		default:
			return nil, &replyError{"EPSV", code, text}
		}
	}
	if c.pasv {
		text, err := c.expect("PASV", 227)
		if err != nil {
			return nil, err
		}
		m := pasvRE.FindStringSubmatch(text)
		if m == nil {
			return nil, fmt.Errorf("PASV: malformed reply %q", text)
		}
		hi, _ := strconv.Atoi(m[5])
		lo, _ := strconv.Atoi(m[6])
		port = hi<<8 | lo
	}
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("passive port %d out of range", port)
	}
	d := net.Dialer{Timeout: c.b.o.timeout}
	if c.b.src != nil {
		// from the control connection's address, as servers expect
		if la, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
			d.LocalAddr = &net.TCPAddr{IP: la.IP, Zone: la.Zone}
		}
	}
	dc, err := d.Dial("tcp", net.JoinHostPort(c.b.ip.String(), strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("data connection: %w", err)
	}
	return dc, nil
}

// parseEPSV extracts the port of a 229 reply: "... (|||port|)".
func parseEPSV(text string) (int, error) {
	i := strings.IndexByte(text, '(')
	j := strings.LastIndexByte(text, ')')
	if i < 0 || j < i+5 {
		return 0, fmt.Errorf("EPSV: malformed reply %q", text)
	}
	in := text[i+1 : j]
	parts := strings.Split(in, in[:1])
	if len(parts) != 5 {
		return 0, fmt.Errorf("EPSV: malformed reply %q", text)
	}
	port, err := strconv.Atoi(parts[3])
	if err != nil {
		return 0, fmt.Errorf("EPSV: malformed reply %q", text)
	}
	return port, nil
}

// startTransfer opens a data connection, sends cmd and waits for its
// preliminary 1xx reply. With --tls it then runs the data connection's TLS
// handshake (resuming the control connection's session).
func (c *client) startTransfer(cmd string) (net.Conn, error) {
	if !c.ready {
		if err := c.prepare(); err != nil {
			return nil, err
		}
	}
	dc, err := c.openData()
	if err != nil {
		return nil, err
	}
	code, text, err := c.cmd(cmd)
	if err == nil && code/100 != 1 {
		err = &replyError{cmd, code, text}
	}
	if err != nil {
		dc.Close()
		return nil, err
	}
	if c.tls != nil {
		tc := tls.Client(dc, c.tls)
		tc.SetDeadline(time.Now().Add(c.b.o.timeout))
		if err := tc.Handshake(); err != nil {
			dc.Close()
			c.reply() // the server's verdict on the failed transfer, if any
			return nil, fmt.Errorf("%s: data TLS handshake: %w", cmd, err)
		}
		dc = tc
	}
	return dc, nil
}

// endTransfer reads the final reply of a transfer: 226 or 250.
func (c *client) endTransfer(cmd string) error {
	code, text, err := c.reply()
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if code != 226 && code != 250 {
		return &replyError{cmd, code, text}
	}
	return nil
}

// stall refreshes a data connection's deadline at most once a second, so
// that --timeout bounds a stall, not a whole transfer.
type stall struct {
	conn    net.Conn
	timeout time.Duration
	last    time.Time
}

func (s *stall) touch() {
	if now := time.Now(); now.Sub(s.last) > time.Second {
		s.conn.SetDeadline(now.Add(s.timeout))
		s.last = now
	}
}

// fill writes size bytes to dc, repeating buf, returning the count written;
// drain's counterpart.
func fill(dc net.Conn, size int64, buf []byte, timeout time.Duration) (int64, error) {
	st := stall{conn: dc, timeout: timeout}
	var n int64
	for n < size {
		st.touch()
		m, err := dc.Write(buf[:min(int64(len(buf)), size-n)])
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// drain reads a data connection to its end into buf, returning the count.
func drain(dc net.Conn, buf []byte, timeout time.Duration) (int64, error) {
	st := stall{conn: dc, timeout: timeout}
	var n int64
	for {
		st.touch()
		m, err := dc.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// retr downloads name into buf, discarding it, and fails unless exactly
// want bytes came (want < 0: any count).
func (c *client) retr(name string, want int64, buf []byte) (int64, error) {
	cmd := "RETR " + name
	dc, err := c.startTransfer(cmd)
	if err != nil {
		return 0, err
	}
	n, err := drain(dc, buf, c.b.o.timeout)
	dc.Close()
	if err != nil {
		c.reply()
		return n, fmt.Errorf("%s: after %d bytes: %w", cmd, n, err)
	}
	if err := c.endTransfer(cmd); err != nil {
		return n, err
	}
	if want >= 0 && n != want {
		return n, fmt.Errorf("%s: got %d bytes, want %d", cmd, n, want)
	}
	return n, nil
}

// stor uploads size bytes, repeating buf, as name.
func (c *client) stor(name string, size int64, buf []byte) error {
	cmd := "STOR " + name
	dc, err := c.startTransfer(cmd)
	if err != nil {
		return err
	}
	if n, err := fill(dc, size, buf, c.b.o.timeout); err != nil {
		dc.Close()
		c.reply()
		return fmt.Errorf("%s: after %d bytes: %w", cmd, n, err)
	}
	if err := dc.Close(); err != nil {
		c.reply()
		return fmt.Errorf("%s: closing the data connection: %w", cmd, err)
	}
	return c.endTransfer(cmd)
}

// listing runs a listing command (LIST, MLSD, NLST) and calls fn with each
// line. A 450 or 550 reply to NLST (an empty folder, for some servers) is
// returned as a *replyError.
func (c *client) listing(cmd string, fn func(line string)) error {
	dc, err := c.startTransfer(cmd)
	if err != nil {
		return err
	}
	st := stall{conn: dc, timeout: c.b.o.timeout}
	br := bufio.NewReaderSize(dc, 64<<10)
	for {
		st.touch()
		line, err := br.ReadString('\n')
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			fn(line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			dc.Close()
			c.reply()
			return fmt.Errorf("%s: %w", cmd, err)
		}
	}
	dc.Close()
	return c.endTransfer(cmd)
}

// retryable tells whether a failed connect or login is worth another
// attempt: anything but a permanent (5xx) reply, for instance a refused or
// reset connection, one closed before the greeting, or a 421.
func retryable(err error) bool {
	var re *replyError
	if errors.As(err, &re) {
		return re.code < 500
	}
	return err != nil
}

package pier

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// TestAcquire: no more than limit slots are taken at once, and a freed one
// goes to the next taker.
func TestAcquire(t *testing.T) {
	var n atomic.Int32
	const limit = 4
	for i := range limit {
		if !acquire(&n, limit) {
			t.Fatalf("slot %d refused", i+1)
		}
	}
	if acquire(&n, limit) {
		t.Fatalf("slot %d given, over the limit of %d", limit+1, limit)
	}
	n.Add(-1)
	if !acquire(&n, limit) {
		t.Fatal("a freed slot was not given to the next taker")
	}
	if got := n.Load(); got != limit {
		t.Errorf("count %d, want %d", got, limit)
	}
}

// loopbackPair is both ends of a TCP connection on 127.0.0.1, closed when
// the test ends.
func loopbackPair(t *testing.T) (server *net.TCPConn, client net.Conn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return server, client
}

// TestSpliceLimit: the limit follows Linux's pipe budget, at least one.
func TestSpliceLimit(t *testing.T) {
	if limit := spliceLimit(); limit < 1 {
		t.Fatalf("spliceLimit() = %d", limit)
	}
}

// failingWriter accepts ok bytes, then fails; short makes it report one
// byte less than it was given, without an error.
type failingWriter struct {
	ok    int
	short bool
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.short {
		return len(p) - 1, nil
	}
	if len(p) > w.ok {
		return 0, errors.New("disk full")
	}
	w.ok -= len(p)
	return len(p), nil
}

// TestReceiveCopy: an upload that copies (no splice) arrives whole whether
// the client sends more than a buffer a read or less, counts its bytes,
// and tells the file's errors from the connection's.
func TestReceiveCopy(t *testing.T) {
	data := make([]byte, 3<<20+5)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	send := func(t *testing.T, conn net.Conn, chunk int) {
		t.Helper()
		go func() {
			defer conn.Close()
			for b := data; len(b) > 0; {
				n := min(chunk, len(b))
				if _, err := conn.Write(b[:n]); err != nil {
					return
				}
				b = b[n:]
			}
		}()
	}
	for _, chunk := range []int{1 << 20, 4 << 10} { // reads fill the buffer, or never do
		server, client := net.Pipe()
		send(t, client, chunk)
		tr := &transfer{}
		var got bytes.Buffer
		if err := receiveCopy(&got, &meteredReader{conn: server, t: tr, timeout: time.Minute}); err != nil {
			t.Fatalf("chunks of %d: %v", chunk, err)
		}
		if !bytes.Equal(got.Bytes(), data) {
			t.Errorf("chunks of %d: received %d bytes, not the %d sent", chunk, got.Len(), len(data))
		}
		if n := tr.bytes.Load(); n != int64(len(data)) {
			t.Errorf("chunks of %d: counted %d bytes, want %d", chunk, n, len(data))
		}
		server.Close()
	}

	for _, w := range []*failingWriter{{ok: 1 << 20}, {short: true}} {
		server, client := net.Pipe()
		send(t, client, 64<<10)
		err := receiveCopy(w, &meteredReader{conn: server, t: &transfer{}, timeout: time.Minute})
		var fe *fileError
		if !errors.As(err, &fe) {
			t.Errorf("writer %+v: error %v, want a *fileError", *w, err)
		}
		if w.short && !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("short writer: error %v, want io.ErrShortWrite", err)
		}
		server.Close()
	}

	// a client that stops sending: the stall deadline ends the upload with
	// the connection's timeout, not a file error
	server, client := net.Pipe()
	defer client.Close()
	defer server.Close()
	err := receiveCopy(io.Discard, &meteredReader{conn: server, t: &transfer{}, timeout: 50 * time.Millisecond})
	var fe *fileError
	if !errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &fe) {
		t.Errorf("stalled client: error %v, want the deadline's", err)
	}
}

// TestRenewAfter: the stall deadline is renewed often enough to keep the
// timeout within an eighth of what was set, and at most once a second.
func TestRenewAfter(t *testing.T) {
	for _, tc := range []struct{ timeout, want time.Duration }{
		{80 * time.Millisecond, 10 * time.Millisecond},
		{8 * time.Second, time.Second},
		{5 * time.Minute, time.Second},
	} {
		if got := renewAfter(tc.timeout); got != tc.want {
			t.Errorf("renewAfter(%v) = %v, want %v", tc.timeout, got, tc.want)
		}
	}
}

// scriptedConn is a net.Conn whose reads return the chunks of script in
// turn, then err; it counts the deadlines set on it.
type scriptedConn struct {
	net.Conn // nil: only the methods below are called
	script   [][]byte
	err      error
	reads    int
	deadline int
}

func (c *scriptedConn) Read(p []byte) (int, error) {
	c.reads++
	if len(c.script) == 0 {
		return 0, c.err
	}
	n := copy(p, c.script[0])
	c.script = c.script[1:]
	if len(c.script) == 0 && c.err != io.EOF {
		return n, c.err // the last chunk comes with the error
	}
	return n, nil
}

func (c *scriptedConn) SetReadDeadline(time.Time) error { c.deadline++; return nil }

// TestMeteredReaderDeadline: the stall deadline is set on the first read
// and not again within renewAfter; data that comes with a connection error
// is kept, and the error is the connection's.
func TestMeteredReaderDeadline(t *testing.T) {
	chunks := make([][]byte, 1000)
	for i := range chunks {
		chunks[i] = []byte{byte(i)}
	}
	c := &scriptedConn{script: chunks, err: io.EOF}
	var got bytes.Buffer
	if err := receiveCopy(&got, &meteredReader{conn: c, t: &transfer{}, timeout: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if got.Len() != len(chunks) {
		t.Errorf("received %d bytes, want %d", got.Len(), len(chunks))
	}
	if c.deadline != 1 {
		t.Errorf("deadline set %d times in %d reads, want once", c.deadline, c.reads)
	}

	reset := errors.New("connection reset")
	c = &scriptedConn{script: [][]byte{[]byte("abc"), []byte("de")}, err: reset}
	got.Reset()
	err := receiveCopy(&got, &meteredReader{conn: c, t: &transfer{}, timeout: time.Hour})
	var fe *fileError
	if !errors.Is(err, reset) || errors.As(err, &fe) {
		t.Errorf("error %v, want the connection's", err)
	}
	if got.String() != "abcde" {
		t.Errorf("received %q, want the data read with the error too", got.String())
	}
}

// TestZeroCopy: a step cut by its deadline while data still moves is not
// the end of the transfer; steps that move nothing for the data timeout
// are; other errors end it at once.
func TestZeroCopy(t *testing.T) {
	deadline := &net.OpError{Op: "write", Err: os.ErrDeadlineExceeded}
	const timeout = 40 * time.Millisecond
	setDeadline := func(time.Time) error { return nil }

	// a slow client: every step is cut by its deadline after moving a
	// little, for longer than the whole timeout
	tr := &transfer{}
	steps := 0
	start := time.Now()
	err := zeroCopy(tr, timeout, setDeadline, func(size int64) (int64, error) {
		steps++
		if time.Since(start) < 3*timeout {
			time.Sleep(renewAfter(timeout))
			return 10, deadline
		}
		return 5, nil // less than size: the end
	})
	if err != nil {
		t.Fatalf("slow but moving transfer: %v", err)
	}
	if want := int64(10*(steps-1) + 5); tr.bytes.Load() != want {
		t.Errorf("counted %d bytes, want %d", tr.bytes.Load(), want)
	}

	// a stalled client: nothing moves
	steps = 0
	err = zeroCopy(&transfer{}, timeout, setDeadline, func(size int64) (int64, error) {
		steps++
		time.Sleep(renewAfter(timeout))
		return 0, deadline
	})
	if !isTimeout(err) {
		t.Errorf("stalled transfer: error %v, want a timeout", err)
	}
	if steps < 2 {
		t.Errorf("stalled transfer gave up after %d step(s), before the timeout", steps)
	}

	// a reset connection ends the transfer at once
	reset := &net.OpError{Op: "write", Err: errors.New("connection reset by peer")}
	steps = 0
	err = zeroCopy(&transfer{}, timeout, setDeadline, func(size int64) (int64, error) {
		steps++
		return 10, reset
	})
	if !errors.Is(err, reset) || steps != 1 {
		t.Errorf("reset: error %v after %d steps, want the reset after 1", err, steps)
	}
}

// TestSendfileStepResumes: a step that fails puts the file back where the
// data sent ends, so the next step sends what the failed one did not, even
// when Go fell back from sendfile to reading the file into a buffer (it
// does when the deadline has passed before sendfile starts).
func TestSendfileStepResumes(t *testing.T) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 13 / 7)
	}
	name := t.TempDir() + "/f"
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const rest = 100 // as after REST 100
	if _, err := f.Seek(rest, io.SeekStart); err != nil {
		t.Fatal(err)
	}

	tc, client := loopbackPair(t)
	received := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(client)
		received <- b
	}()

	step, err := sendfileStep(tc, f)
	if err != nil {
		t.Fatal(err)
	}
	tc.SetWriteDeadline(time.Now().Add(-time.Second))
	sent, err := step(int64(len(data)))
	if !isTimeout(err) {
		t.Fatalf("step past its deadline: %d bytes, error %v; want a timeout", sent, err)
	}
	if off, _ := f.Seek(0, io.SeekCurrent); off != rest+sent {
		t.Errorf("after the failed step the file is at %d, want %d (%d sent)", off, rest+sent, sent)
	}
	tc.SetWriteDeadline(time.Time{})
	n, err := step(int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	tc.Close()
	got := <-received
	if sent+n != int64(len(data)-rest) || !bytes.Equal(got, data[rest:]) {
		t.Errorf("received %d bytes (steps sent %d and %d), want the %d after offset %d", len(got), sent, n, len(data)-rest, rest)
	}
}

package pier

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// countingConn records the writes that reach it.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
	data   bytes.Buffer
	closed bool
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.data.Write(p)
}

func (c *countingConn) Close() error { c.closed = true; return nil }

func TestBatchConnGathersWritesOfOneBatch(t *testing.T) {
	cc := &countingConn{}
	bc := &batchConn{Conn: cc}
	bc.Write([]byte("handshake")) // outside a batch: straight through
	if cc.writes != 1 {
		t.Fatalf("a write outside a batch made %d writes, want 1", cc.writes)
	}
	rec := bytes.Repeat([]byte{'r'}, 16<<10+22)
	bc.begin()
	for range 4 {
		if n, err := bc.Write(rec); n != len(rec) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if cc.writes != 1 {
		t.Fatalf("records reached the socket during the batch: %d writes", cc.writes)
	}
	if err := bc.end(); err != nil {
		t.Fatal(err)
	}
	if cc.writes != 2 || cc.data.Len() != len("handshake")+4*len(rec) {
		t.Fatalf("after the batch: %d writes, %d bytes; want 2 writes, %d bytes", cc.writes, cc.data.Len(), len("handshake")+4*len(rec))
	}
	// More than the buffer holds: written in parts, in order.
	bc.begin()
	for range 6 {
		bc.Write(rec)
	}
	bc.end()
	if want := len("handshake") + 10*len(rec); cc.data.Len() != want {
		t.Fatalf("%d bytes written, want %d", cc.data.Len(), want)
	}
	// A close_notify written during a batch is not lost by Close.
	bc.begin()
	bc.Write([]byte("alert"))
	bc.Close()
	if !cc.closed || !bytes.HasSuffix(cc.data.Bytes(), []byte("alert")) {
		t.Fatalf("Close during a batch: closed %v, data ends with %q", cc.closed, cc.data.Bytes()[cc.data.Len()-5:])
	}
}

func TestBatchConnReadAhead(t *testing.T) {
	server, client := net.Pipe()
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	go func() {
		client.Write(data)
		client.Close()
	}()
	bc := &batchConn{Conn: server}
	bc.readAhead()
	var got bytes.Buffer
	p := make([]byte, 5000) // crypto/tls asks for little at a time
	for {
		n, err := bc.Read(p)
		got.Write(p[:n])
		if err != nil {
			break
		}
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read %d bytes, not the %d sent", got.Len(), len(data))
	}
}

// writeCounter counts the writes of an upload to its file.
type writeCounter struct {
	bytes.Buffer
	writes int
}

func (w *writeCounter) Write(p []byte) (int, error) { w.writes++; return w.Buffer.Write(p) }

func TestReceiveCopyGathersRecords(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 4<<20)
	for _, records := range []bool{false, true} {
		server, client := net.Pipe()
		go func() { // one TLS record a read
			defer client.Close()
			for b := data; len(b) > 0; b = b[16<<10:] {
				if _, err := client.Write(b[:16<<10]); err != nil {
					return
				}
			}
		}()
		var got writeCounter
		err := receiveCopy(&got, &meteredReader{conn: server, t: &transfer{}, timeout: time.Minute, records: records})
		server.Close()
		if err != nil || !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("records %v: %v, received %d bytes of %d", records, err, got.Len(), len(data))
		}
		reads := len(data) / (16 << 10)
		if records && got.writes > reads/8 {
			t.Errorf("records gathered: %d file writes for %d reads, want at most %d", got.writes, reads, reads/8)
		}
		if !records && got.writes != reads {
			t.Errorf("plain: %d file writes for %d reads", got.writes, reads)
		}
	}
}

// failingConn returns its data one record at a time, then err.
type failingConn struct {
	net.Conn
	data []byte
	err  error
}

func (c *failingConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, c.err
	}
	n := copy(p, c.data[:min(len(c.data), 16<<10)])
	c.data = c.data[n:]
	return n, nil
}
func (c *failingConn) SetReadDeadline(time.Time) error { return nil }

// TestReceiveCopyKeepsRecordsBeforeAFailure: records gathered for one file
// write reach the file when the connection fails before the buffer is full
// (a reset, a cut data connection): the failure is reported, and what came
// before it is not dropped with the buffer.
func TestReceiveCopyKeepsRecordsBeforeAFailure(t *testing.T) {
	data := bytes.Repeat([]byte("y"), 3*(16<<10)+100) // under one 128 KiB buffer
	reset := errors.New("connection reset by peer")
	var got writeCounter
	err := receiveCopy(&got, &meteredReader{conn: &failingConn{data: data, err: reset}, t: &transfer{}, timeout: time.Minute, records: true})
	if !errors.Is(err, reset) {
		t.Errorf("receiveCopy = %v, want the connection's error", err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Errorf("the file got %d bytes of the %d that came before the failure", got.Len(), len(data))
	}
}

//go:build linux

package pier

import (
	"bytes"
	"net"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server *net.TCPConn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn), client
}

// TestUploadLowat: an upload's low-water mark is raised, and a client that
// sends less than it within the data timeout, but keeps sending, is slow,
// not stalled: the mark goes back to one byte and every byte arrives.
func TestUploadLowat(t *testing.T) {
	const timeout = 300 * time.Millisecond
	server, client := tcpPair(t)
	r := &meteredReader{conn: server, t: &transfer{}, timeout: timeout, tcp: server}
	r.raiseLowat()
	if !r.lowat {
		t.Fatal("raiseLowat did not raise the mark")
	}
	if got := sockopt(t, server, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT); got != uploadLowat {
		t.Fatalf("SO_RCVLOWAT = %d, want %d", got, uploadLowat)
	}
	var sent []byte
	for i := range 18 { // a byte every sixth of the timeout, for three timeouts
		sent = append(sent, 'a'+byte(i))
	}
	go func() {
		for _, b := range sent {
			client.Write([]byte{b})
			time.Sleep(timeout / 6)
		}
		client.Close()
	}()
	var got bytes.Buffer
	if err := receiveCopy(&got, r); err != nil {
		t.Fatalf("trickling client: %v after %q", err, got.String())
	}
	if got.String() != string(sent) {
		t.Errorf("received %q, want %q", got.String(), sent)
	}
	if r.lowat {
		t.Error("the mark is still raised after a read timed out with bytes queued")
	}
	if got := sockopt(t, server, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT); got != 1 {
		t.Errorf("SO_RCVLOWAT = %d after the slow read, want 1", got)
	}
}

// TestUploadLowatStall: a client that sends a few bytes and then nothing
// is still found stalled, with its bytes kept.
func TestUploadLowatStall(t *testing.T) {
	server, client := tcpPair(t)
	r := &meteredReader{conn: server, t: &transfer{}, timeout: 100 * time.Millisecond, tcp: server}
	r.raiseLowat()
	if _, err := client.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	err := receiveCopy(&got, r)
	if !isTimeout(err) {
		t.Errorf("stalled client: error %v, want a timeout", err)
	}
	if got.String() != "abc" {
		t.Errorf("received %q before the stall, want %q", got.String(), "abc")
	}
	if n := r.t.bytes.Load(); n != 3 {
		t.Errorf("counted %d bytes, want 3", n)
	}
}

// TestUploadLowatEOF: a small upload whose client closes at once ends at
// once; the mark does not hold back the end of the data.
func TestUploadLowatEOF(t *testing.T) {
	server, client := tcpPair(t)
	r := &meteredReader{conn: server, t: &transfer{}, timeout: time.Minute, tcp: server}
	r.raiseLowat()
	client.Write([]byte("small file"))
	client.Close()
	var got bytes.Buffer
	if err := receiveCopy(&got, r); err != nil {
		t.Fatal(err)
	}
	if got.String() != "small file" {
		t.Errorf("received %q", got.String())
	}
	if !r.lowat {
		t.Error("the mark was lowered though no read timed out")
	}
}

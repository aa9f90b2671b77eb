//go:build linux

package pier

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// wantLowat is the mark Linux keeps for uploadLowat: at most half of
// tcp_rmem's largest receive buffer.
func wantLowat(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_rmem")
	if err != nil {
		return uploadLowat
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return uploadLowat
	}
	maxBuf, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatalf("tcp_rmem %q: %v", b, err)
	}
	return min(uploadLowat, maxBuf/2)
}

// raised returns a meteredReader for server with its low-water mark
// raised, skipping on kernels where uploads do without it.
func raised(t *testing.T, server *net.TCPConn, timeout time.Duration) *meteredReader {
	t.Helper()
	if !lowatSupported() {
		t.Skip("kernel older than 5.11: uploads do without the low-water mark")
	}
	r := &meteredReader{conn: server, t: &transfer{}, timeout: timeout, tcp: server}
	r.raiseLowat()
	if !r.lowat {
		t.Fatal("raiseLowat did not raise the mark")
	}
	if got, want := sockopt(t, server, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT), wantLowat(t); got != want {
		t.Fatalf("SO_RCVLOWAT = %d, want %d", got, want)
	}
	return r
}

// TestUploadLowat: a client that sends less than the mark within the data
// timeout, but keeps sending, is slow, not stalled: every byte arrives.
func TestUploadLowat(t *testing.T) {
	const timeout = 600 * time.Millisecond
	server, client := loopbackPair(t)
	r := raised(t, server, timeout)
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
}

// TestUploadLowatProgress: bytes below the mark are read within a wait
// (lowatWait), not held until the mark or the timeout: STAT counts them,
// and they are in the file.
func TestUploadLowatProgress(t *testing.T) {
	const timeout = time.Minute // lowatWait: a second
	server, client := loopbackPair(t)
	r := raised(t, server, timeout)
	done := make(chan error, 1)
	var got bytes.Buffer
	go func() { done <- receiveCopy(&got, r) }()
	// A first byte, read at once or after a wait; the reader then waits on
	// the mark, and the next bytes come while it does.
	if _, err := client.Write([]byte(">")); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); r.t.bytes.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 10*r.lowatWait() {
			t.Fatal("the first byte was not read within ten waits")
		}
	}
	if _, err := client.Write([]byte("below the mark")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * r.lowatWait())
	if n := r.t.bytes.Load(); n != int64(len(">below the mark")) {
		t.Errorf("after three waits, %d bytes counted, want %d", n, len(">below the mark"))
	}
	client.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got.String() != ">below the mark" {
		t.Errorf("received %q", got.String())
	}
}

// TestUploadLowatStall: a client that sends a few bytes and then nothing
// is found stalled, no sooner than the timeout after its last byte, with
// its bytes kept.
func TestUploadLowatStall(t *testing.T) {
	const timeout = 300 * time.Millisecond
	server, client := loopbackPair(t)
	r := raised(t, server, timeout)
	if _, err := client.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	last := time.Now()
	var got bytes.Buffer
	err := receiveCopy(&got, r)
	if !isTimeout(err) {
		t.Errorf("stalled client: error %v, want a timeout", err)
	}
	if waited := time.Since(last); waited < timeout {
		t.Errorf("stall found %v after the last byte, before the timeout of %v", waited, timeout)
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
	server, client := loopbackPair(t)
	r := raised(t, server, time.Hour) // a hang fails the test by its own timeout
	client.Write([]byte("small file"))
	client.Close()
	var got bytes.Buffer
	if err := receiveCopy(&got, r); err != nil {
		t.Fatal(err)
	}
	if got.String() != "small file" {
		t.Errorf("received %q", got.String())
	}
}

// TestKernelAtLeast: kernel releases as distributions spell them.
func TestKernelAtLeast(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"6.18.44-fc-v669", true},
		{"5.11.0", true},
		{"5.15.0-91-generic", true},
		{"10.0", true},
		{"5.10.0-23-amd64", false},
		{"4.14.355-275.572.amzn2.x86_64", false},
		{"3.10.0-1160.el7.x86_64", false},
		{"5.11-rc1", true},
		{"5", false},
		{"", false},
		{"x.y", false},
	} {
		if got := kernelAtLeast(tc.release, 5, 11); got != tc.want {
			t.Errorf("kernelAtLeast(%q, 5, 11) = %v, want %v", tc.release, got, tc.want)
		}
	}
}

// TestUploadLowatTinyTimeout: with a data timeout far shorter than a look
// at the queue takes, a wait that ends with bytes queued still reads them;
// it does not spin on deadlines that pass before the read starts.
func TestUploadLowatTinyTimeout(t *testing.T) {
	server, client := loopbackPair(t)
	r := raised(t, server, time.Nanosecond)
	if _, err := client.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		if q, err := queued(server); err != nil || q == 3 {
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatal("the bytes never reached the receive queue")
		}
	}
	// A wait that has just ended: the deadline passed, the bytes wait below
	// the mark, the last data came now.
	now := time.Now()
	server.SetReadDeadline(now.Add(-time.Second))
	r.renewed, r.lastData = now, now
	done := make(chan string, 1)
	go func() {
		buf := make([]byte, 16)
		n, err := r.Read(buf)
		done <- fmt.Sprintf("%q %v", buf[:n], err)
	}()
	select {
	case got := <-done:
		if got != `"abc" <nil>` {
			t.Errorf("Read = %s, want the queued bytes", got)
		}
	case <-time.After(10 * time.Second):
		server.Close() // ends the loop, so the test can end
		<-done
		t.Fatal("the read did not return: the waits spin")
	}
}

package pier

import (
	"net"
	"sync/atomic"
	"testing"
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

// TestSendfileSlot: downloads to a loopback peer take a slot and give it
// back; with zeroCopyLoopback (the test suite's setting) they take none.
func TestSendfileSlot(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := c.(*net.TCPConn)

	s := &session{srv: &Server{}}
	before := slots.loopbackSendfiles.Load()
	if !s.sendfileSlot(tc) {
		t.Skip("every loopback sendfile slot is in use by another test")
	}
	if got := slots.loopbackSendfiles.Load(); got != before+1 {
		t.Errorf("a loopback download took %d slots, want 1", got-before)
	}
	s.sendfileDone(tc)
	if got := slots.loopbackSendfiles.Load(); got != before {
		t.Errorf("%d slots still held after the download ended", got-before)
	}

	SetZeroCopyLoopback(s.srv, true)
	for range 2 * loopbackSendfileMax {
		if !s.sendfileSlot(tc) {
			t.Fatal("sendfile refused with zeroCopyLoopback")
		}
	}
	if got := slots.loopbackSendfiles.Load(); got != before {
		t.Errorf("zeroCopyLoopback downloads took %d slots, want none", got-before)
	}
}

// TestSpliceLimit: the limit follows Linux's pipe budget, at least one.
func TestSpliceLimit(t *testing.T) {
	if limit := spliceLimit(); limit < 1 {
		t.Fatalf("spliceLimit() = %d", limit)
	}
}

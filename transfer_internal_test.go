package pier

import (
	"net"
	"testing"
)

// TestLoopbackSendfileLimit: at most loopbackSendfileMax downloads to
// loopback peers use sendfile at once; a slot frees when one ends.
func TestLoopbackSendfileLimit(t *testing.T) {
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
	for i := range loopbackSendfileMax {
		if !s.zeroCopyTo(tc) {
			t.Fatalf("download %d refused sendfile", i+1)
		}
	}
	if s.zeroCopyTo(tc) {
		t.Fatalf("download %d got sendfile, over the limit of %d", loopbackSendfileMax+1, loopbackSendfileMax)
	}
	s.srv.zeroCopyDone(tc)
	if !s.zeroCopyTo(tc) {
		t.Fatal("a freed slot was not given to the next download")
	}
	for range loopbackSendfileMax {
		s.srv.zeroCopyDone(tc)
	}
	if n := s.srv.loopbackSendfiles.Load(); n != 0 {
		t.Errorf("%d slots still held after every download ended", n)
	}

	SetZeroCopyLoopback(s.srv, true) // the test suite's setting: no limit
	for range 2 * loopbackSendfileMax {
		if !s.zeroCopyTo(tc) {
			t.Fatal("sendfile refused with zeroCopyLoopback")
		}
	}
}

// TestSpliceLimit: no more than spliceLimit uploads splice at once.
func TestSpliceLimit(t *testing.T) {
	srv := &Server{}
	limit := spliceLimit()
	if limit < 1 {
		t.Fatalf("spliceLimit() = %d", limit)
	}
	if limit > 1<<16 {
		t.Skip("no pipe limit on this machine")
	}
	for i := range limit {
		if !srv.spliceSlot() {
			t.Fatalf("upload %d refused a splice slot", i+1)
		}
	}
	if srv.spliceSlot() {
		t.Fatalf("upload %d spliced, over the limit of %d", limit+1, limit)
	}
	srv.splices.Add(-1)
	if !srv.spliceSlot() {
		t.Fatal("a freed slot was not given to the next upload")
	}
}

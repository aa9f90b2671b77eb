package pier

import (
	"crypto/tls"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// manualClock is a clock the test moves by hand.
type manualClock struct{ t time.Time }

func (c *manualClock) now() time.Time { return c.t }

func TestTicketKeysRotate(t *testing.T) {
	clock := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := &tlsSessions{now: clock.now}
	first := r.ticketKeys([32]byte{})
	if len(first) != 1 {
		t.Fatalf("first call: %d keys, want 1", len(first))
	}
	if again := r.ticketKeys([32]byte{}); !slices.Equal(again, first) {
		t.Fatal("the key changed before its rotation time")
	}
	clock.t = clock.t.Add(ticketKeyRotation)
	second := r.ticketKeys([32]byte{})
	if len(second) != 2 || second[1] != first[0] || second[0] == first[0] {
		t.Fatalf("after one rotation: want a new key first and the old one second, got %d keys", len(second))
	}
	// Every key decrypts for ticketKeyLifetime, then is dropped.
	clock.t = clock.t.Add(ticketKeyLifetime - ticketKeyRotation)
	keys := r.ticketKeys([32]byte{})
	if slices.Contains(keys, first[0]) {
		t.Fatal("a key older than ticketKeyLifetime is still in use")
	}
	if !slices.Contains(keys, second[0]) {
		t.Fatal("a key younger than ticketKeyLifetime was dropped")
	}
	// A session's pinned key stays, after the others.
	keys = r.ticketKeys(first[0])
	if keys[len(keys)-1] != first[0] || slices.Index(keys, first[0]) != len(keys)-1 {
		t.Fatal("the pinned key is not kept last")
	}
	if n := len(r.ticketKeys([32]byte{})); n > int(ticketKeyLifetime/ticketKeyRotation)+1 {
		t.Fatalf("%d keys kept", n)
	}
}

func TestTicketOwners(t *testing.T) {
	clock := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := &tlsSessions{now: clock.now}
	ip := netip.MustParseAddr("192.0.2.1")
	r.loggedIn(1, "alice") // never registered: no TLS, nothing recorded
	if _, ok := r.owner(1); ok {
		t.Fatal("a session that never started TLS is known")
	}
	r.register(1, ip, "")
	if o, ok := r.owner(1); !ok || o.user != "" || o.ip != ip {
		t.Fatalf("registered: %+v %v", o, ok)
	}
	r.loggedIn(1, "alice")
	r.end(1)
	clock.t = clock.t.Add(ticketKeyLifetime - time.Second)
	if o, ok := r.owner(1); !ok || o.user != "alice" {
		t.Fatalf("an ended session within the ticket lifetime: %+v %v", o, ok)
	}
	clock.t = clock.t.Add(time.Second)
	if _, ok := r.owner(1); ok {
		t.Fatal("an ended session is known after the ticket lifetime")
	}
	r.register(2, ip, "bob") // an ending prunes what has expired
	r.end(2)
	if _, ok := r.owners[1]; ok || len(r.ended) != 1 {
		t.Fatalf("expired session still held: %d ended", len(r.ended))
	}

	// The ended sessions are capped; the oldest go first. Live ones stay.
	r.register(3, ip, "carol")
	for id := uint64(10); id < 10+maxEndedTLSSessions+5; id++ {
		r.register(id, ip, "dave")
		r.end(id)
	}
	if len(r.ended) != maxEndedTLSSessions || len(r.owners) != maxEndedTLSSessions+1 {
		t.Fatalf("%d ended and %d known sessions, want %d and %d", len(r.ended), len(r.owners), maxEndedTLSSessions, maxEndedTLSSessions+1)
	}
	if _, ok := r.owner(2); ok {
		t.Fatal("the oldest ended session was kept over the cap")
	}
	if _, ok := r.owner(3); !ok {
		t.Fatal("a live session was dropped")
	}
	if _, ok := r.owner(10 + maxEndedTLSSessions + 4); !ok {
		t.Fatal("the newest ended session was dropped")
	}
}

func TestTicketBinding(t *testing.T) {
	for _, ip := range []string{"127.0.0.1", "2001:db8::7"} {
		b := ticketBinding{session: 1<<40 + 3, ip: netip.MustParseAddr(ip)}
		ss := &tls.SessionState{Extra: [][]byte{[]byte("the application's"), ticketBinding{session: 9, ip: b.ip}.extra()}}
		// Re-wrapping replaces the binding and keeps the rest.
		ss.Extra = append(slices.DeleteFunc(ss.Extra, isBinding), b.extra())
		if len(ss.Extra) != 2 || string(ss.Extra[0]) != "the application's" {
			t.Fatalf("Extra after re-binding: %q", ss.Extra)
		}
		if got, ok := bindingOf(ss); !ok || got != b {
			t.Fatalf("bindingOf: %+v %v, want %+v", got, ok, b)
		}
	}
	if _, ok := bindingOf(&tls.SessionState{Extra: [][]byte{[]byte(bindingTag + "short")}}); ok {
		t.Fatal("a truncated binding was accepted")
	}
}

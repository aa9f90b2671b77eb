package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestRange(t *testing.T) {
	ips := []string{"127.0.0.1", "127.0.0.2"}
	first, last := Range(t, 5, ips...)
	if last-first != 4 {
		t.Fatalf("range %d-%d, want 5 ports", first, last)
	}
	for p := first; p <= last; p++ {
		for _, ip := range ips {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
			if err != nil {
				t.Fatalf("port %s:%d of the range is not free: %v", ip, p, err)
			}
			ln.Close()
		}
	}
}

// Package freeport finds loopback TCP ports that are free, for tests that
// start programs (HAProxy, pier nodes) which must be told their ports
// before they listen.
package freeport

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// Range finds n consecutive ports free on every one of ips and returns
// the first and the last. The ports are free when it looks; a program
// started right after may still lose one to another, a race tests accept.
// It fails the test if 100 tries find none.
func Range(t testing.TB, n int, ips ...string) (first, last int) {
	t.Helper()
	for range 100 {
		first := 20000 + rand.IntN(30000)
		ok := true
		var lns []net.Listener
		for p := first; p < first+n && ok; p++ {
			for _, ip := range ips {
				ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
				if err != nil {
					ok = false
					break
				}
				lns = append(lns, ln)
			}
		}
		for _, ln := range lns {
			ln.Close()
		}
		if ok {
			return first, first + n - 1
		}
	}
	t.Fatalf("freeport: no %d free ports in a row on %v", n, ips)
	return 0, 0
}

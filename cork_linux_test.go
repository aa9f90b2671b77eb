package pier

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

func corked(t *testing.T, tc *net.TCPConn) bool {
	t.Helper()
	var v int
	err := control(tc, func(fd int) (err error) {
		v, err = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_CORK)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v != 0
}

// TestCorkData: a download's or a listing's data connection is corked
// while its data moves and uncorked by the function corkData returns; an
// upload's, a throttled session's and a connection that isn't plain TCP
// are left alone.
func TestCorkData(t *testing.T) {
	for _, tc := range []struct {
		name      string
		kind      xferKind
		throttled bool
		tls       bool
		want      bool
	}{
		{"download", xferDownload, false, false, true},
		{"listing", xferListing, false, false, true},
		{"upload", xferUpload, false, false, false},
		{"throttled download", xferDownload, true, false, false},
		{"TLS download", xferDownload, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{srv: &Server{}}
			if tc.throttled {
				s.writeLimiter = newLimiter(1 << 20)
			}
			server, _ := loopbackPair(t)
			job := &transferJob{kind: tc.kind}
			if tc.tls {
				job.protect = &dataTLS{}
			}
			uncork := s.corkData(server, job)
			if got := corked(t, server); got != tc.want {
				t.Errorf("corked during the transfer: %v, want %v", got, tc.want)
			}
			uncork()
			if corked(t, server) {
				t.Error("still corked after uncork")
			}
		})
	}
	t.Run("not TCP", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		s := &session{srv: &Server{}}
		s.corkData(a, &transferJob{kind: xferDownload})()
	})
}

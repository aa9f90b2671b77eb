package pier

import (
	"context"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func tcpOption(t *testing.T, tc *net.TCPConn, opt int) int {
	t.Helper()
	var v int
	err := control(tc, func(fd int) (err error) {
		v, err = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, opt)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func corked(t *testing.T, tc *net.TCPConn) bool {
	t.Helper()
	return tcpOption(t, tc, unix.TCP_CORK) != 0
}

// needLargeSegments skips a test that needs loopback's segments to be
// shaped where they are not (a loopback with a small MTU), and fails if
// the segment size can't be read.
func needLargeSegments(t *testing.T) {
	t.Helper()
	server, _ := loopbackPair(t)
	mss, err := segmentSize(server)
	if err != nil {
		t.Fatalf("segment size: %v", err)
	}
	if mss < shapeMinSegment {
		t.Skipf("loopback's segments here are %d bytes, under shapeMinSegment", mss)
	}
}

// smallSegmentConn is the server's end of a loopback connection with the
// segments of an Ethernet path: the listener's TCP_MAXSEG, which the
// accepted connection inherits, is 1400 bytes.
func smallSegmentConn(t *testing.T) *net.TCPConn {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, 1400)
		}); err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	server := acceptOne(t, ln)
	if mss, err := segmentSize(server); err != nil || mss > 1400 {
		t.Fatalf("segment size %d (%v), want at most 1400", mss, err)
	}
	return server
}

// TestShapeData: a download's or a listing's data connection on a path of
// large segments (loopback's) is corked and has its unsent data held to
// sendLowat while its data moves, and is uncorked by the function
// shapeData returns; one on a path of network-sized segments, an
// upload's, a throttled transfer's, a TLS one's and a connection that
// isn't TCP are left alone.
func TestShapeData(t *testing.T) {
	needLargeSegments(t)
	for _, tc := range []struct {
		name      string
		kind      xferKind
		throttled bool
		tls       bool
		small     bool
		want      bool
	}{
		{"download", xferDownload, false, false, false, true},
		{"listing", xferListing, false, false, false, true},
		{"download, network-sized segments", xferDownload, false, false, true, false},
		{"listing, network-sized segments", xferListing, false, false, true, false},
		{"upload", xferUpload, false, false, false, false},
		{"throttled download", xferDownload, true, false, false, false},
		{"TLS download", xferDownload, false, true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{srv: &Server{}}
			server, _ := loopbackPair(t)
			if tc.small {
				server = smallSegmentConn(t)
			}
			job := &transferJob{kind: tc.kind}
			if tc.tls {
				job.protect = &dataTLS{}
			}
			wantLowat := tcpOption(t, server, unix.TCP_NOTSENT_LOWAT) // the system's
			release := s.shapeData(server, job, tc.throttled)
			if got := corked(t, server); got != tc.want {
				t.Errorf("corked during the transfer: %v, want %v", got, tc.want)
			}
			if tc.want {
				wantLowat = sendLowat
			}
			if got := tcpOption(t, server, unix.TCP_NOTSENT_LOWAT); got != wantLowat {
				t.Errorf("TCP_NOTSENT_LOWAT %d, want %d", got, wantLowat)
			}
			release()
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
		release := s.shapeData(a, &transferJob{kind: xferDownload}, false)
		if release == nil {
			t.Fatal("no release function")
		}
		release()
	})
}

// TestShapeThrottled: the transfer runner shapes a download only when
// throttle left its connection as it was: not under a session's or the
// server's download limit, but under an upload-only limit.
func TestShapeThrottled(t *testing.T) {
	needLargeSegments(t)
	for _, tc := range []struct {
		name      string
		set       func(*session)
		throttled bool
	}{
		{"no limit", func(*session) {}, false},
		{"session download limit", func(s *session) { s.writeLimiter = newLimiter(1 << 20) }, true},
		{"server download limit", func(s *session) { s.srv.totalWrite.Store(newLimiter(1 << 20)) }, true},
		{"upload limits only", func(s *session) {
			s.readLimiter = newLimiter(1 << 20)
			s.srv.totalRead.Store(newLimiter(1 << 20))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{srv: &Server{}}
			tc.set(s)
			server, _ := loopbackPair(t)
			data := s.throttle(context.Background(), server, false)
			if got := data != net.Conn(server); got != tc.throttled {
				t.Fatalf("throttled: %v, want %v", got, tc.throttled)
			}
			release := s.shapeData(server, &transferJob{kind: xferDownload}, data != net.Conn(server))
			defer release()
			if got := corked(t, server); got == tc.throttled {
				t.Errorf("corked: %v with throttled %v", got, tc.throttled)
			}
			if got := tcpOption(t, server, unix.TCP_NOTSENT_LOWAT) == sendLowat; got == tc.throttled {
				t.Errorf("unsent data held to sendLowat: %v with throttled %v", got, tc.throttled)
			}
		})
	}
}

package s3http

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// body is a request body that records how it was read: by its WriteTo
// (in one Write of all it has), how many bytes, or by Read.
type body struct {
	r       *bytes.Reader
	writeTo int   // WriteTo calls that wrote something
	viaWTo  int64 // bytes WriteTo wrote
	reads   int
}

func (b *body) Read(p []byte) (int, error) { b.reads++; return b.r.Read(p) }
func (b *body) Close() error               { return nil }
func (b *body) WriteTo(w io.Writer) (int64, error) {
	n, err := b.r.WriteTo(w)
	if n > 0 {
		b.writeTo++
		b.viaWTo += n
	}
	return n, err
}

func payload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return p
}

// TestClientWritesBodyWhole: a PUT through WholeBodyClient reaches the
// server whole, and its body was written by its WriteTo, not read in
// pieces; through the SDK's default client it is read.
func TestClientWritesBodyWhole(t *testing.T) {
	want := payload(3<<20 + 17)
	got := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("server: %v", err)
		}
		got <- b
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name  string
		whole bool
	}{{"whole", true}, {"default", false}} {
		t.Run(tc.name, func(t *testing.T) {
			var c interface {
				Do(*http.Request) (*http.Response, error)
			} = awshttp.NewBuildableClient()
			if tc.whole {
				c = WholeBodyClient(nil)
			}
			b := &body{r: bytes.NewReader(want)}
			req, err := http.NewRequest(http.MethodPut, srv.URL+"/bucket/key", b)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = int64(len(want))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if g := <-got; !bytes.Equal(g, want) {
				t.Fatalf("server got %d bytes, want the %d sent", len(g), len(want))
			}
			if tc.whole && (b.writeTo != 1 || b.viaWTo != int64(len(want)) || b.reads != 0) {
				t.Fatalf("body written by %d WriteTo calls (%d bytes) and %d Read calls, want one WriteTo of all", b.writeTo, b.viaWTo, b.reads)
			}
			if !tc.whole && b.reads == 0 {
				t.Fatalf("the default client did not read the body: the test no longer tells the two apart")
			}
		})
	}
}

// TestWholeBodyClientOtherClient: a client that is no BuildableClient is
// left as it is.
func TestWholeBodyClientOtherClient(t *testing.T) {
	c := &http.Client{}
	if got := WholeBodyClient(c); got != c {
		t.Fatalf("WholeBodyClient(%T) = %v, want it unchanged", c, got)
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// TestReadFromLimit: bodyConn.ReadFrom sends no more than the limit, and
// leaves the LimitedReader as reading it would have (N counts down), for
// bodies longer, exactly as long and shorter than their limit, and for a
// reader without WriteTo.
func TestReadFromLimit(t *testing.T) {
	data := payload(1 << 20)
	for _, tc := range []struct {
		name   string
		src    io.Reader
		limit  int64
		sent   int64
		viaWTo bool
	}{
		{"exact", nil, 1 << 20, 1 << 20, true},
		{"longer than its limit", nil, 1000, 1000, true},
		{"shorter than its limit", nil, 2 << 20, 1 << 20, true},
		{"no WriteTo", struct{ io.Reader }{bytes.NewReader(data)}, 1 << 19, 1 << 19, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tcpPair(t)
			src := tc.src
			var bd *body
			if src == nil {
				bd = &body{r: bytes.NewReader(data)}
				src = bd
			}
			lr := &io.LimitedReader{R: src, N: tc.limit}
			n, err := (&bodyConn{TCPConn: a}).ReadFrom(lr)
			if err != nil || n != tc.sent {
				t.Fatalf("ReadFrom = %d, %v; want %d, nil", n, err, tc.sent)
			}
			if lr.N != tc.limit-tc.sent {
				t.Fatalf("LimitedReader.N = %d after, want %d", lr.N, tc.limit-tc.sent)
			}
			if bd != nil && (bd.writeTo != 1) != !tc.viaWTo {
				t.Fatalf("WriteTo called %d times", bd.writeTo)
			}
			a.CloseWrite()
			got, err := io.ReadAll(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data[:tc.sent]) {
				t.Fatalf("peer got %d bytes, want the first %d", len(got), tc.sent)
			}
		})
	}
}

package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/internal/s3test"
)

// getGate is an HTTP client that holds the GETs a download makes after
// its first (they have If-Match) until release is closed or their
// context ends.
type getGate struct {
	next    aws.HTTPClient
	release chan struct{}
	once    sync.Once

	mu   sync.Mutex // guards held
	held int
}

func newGetGate() *getGate {
	return &getGate{next: awshttp.NewBuildableClient(), release: make(chan struct{})}
}

func (g *getGate) client(srv *s3test.Server) *awss3.Client {
	return awss3.New(srv.Client.Options(), func(o *awss3.Options) { o.HTTPClient = g })
}

func (g *getGate) open() { g.once.Do(func() { close(g.release) }) }

func (g *getGate) heldNow() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

func (g *getGate) Do(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet || r.Header.Get("If-Match") == "" {
		return g.next.Do(r)
	}
	g.mu.Lock()
	g.held++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.held--
		g.mu.Unlock()
	}()
	select {
	case <-g.release:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return g.next.Do(r)
}

// putObject writes data to key directly.
func putObject(t testing.TB, srv *s3test.Server, key string, data []byte) {
	t.Helper()
	_, err := srv.Client.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: &key, Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))})
	if err != nil {
		t.Fatal(err)
	}
}

// openDownload opens name for reading from offset.
func openDownload(t *testing.T, ctx context.Context, fsys *FS, name string, offset int64) *download {
	t.Helper()
	f, err := fsys.OpenFileAt(ctx, name, os.O_RDONLY, 0, offset)
	if err != nil {
		t.Fatal(err)
	}
	return f.(*download)
}

// readAll reads d to its end in 64 KiB reads, as pier's copy loop does.
func readAll(d *download) ([]byte, error) {
	var out bytes.Buffer
	p := make([]byte, 64<<10)
	for {
		n, err := d.Read(p)
		out.Write(p[:n])
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
	}
}

// readN reads exactly n bytes of d, in 64 KiB reads at most.
func readN(t *testing.T, d *download, n int) []byte {
	t.Helper()
	out := make([]byte, n)
	for got := 0; got < n; {
		m, err := d.Read(out[got:min(n, got+64<<10)])
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", got, err)
		}
		got += m
	}
	return out
}

// checkAheadFree checks that no download holds a buffer of b.
func checkAheadFree(t *testing.T, b *Buffers) {
	t.Helper()
	checkBuffersFree(t, b)
	if n := b.ahead.Load(); n != 0 {
		t.Errorf("downloads hold %d buffers", n)
	}
}

// TestReadAhead: downloads of an object of several parts, from the
// start and from REST offsets, read the parts after the first ahead
// (unless too little is left), and return the object's bytes exactly;
// Close gives every buffer back.
func TestReadAhead(t *testing.T) {
	srv := s3test.Start(t)
	bufs := NewBuffers(16)
	fsys := New(srv.Client, srv.Bucket, Options{Prefix: "ra", PartSize: MinPartSize, Buffers: bufs})
	fsys.readAheadMin = MinPartSize // read ahead with a whole part left, not eight
	const size = 5*MinPartSize + MinPartSize/2 + 3
	data := randomBytes(size)
	putObject(t, srv, "ra/big", data)
	tests := []struct {
		name   string
		offset int64
		ahead  bool // parts read ahead
	}{
		{"from the start", 0, true},
		{"inside the first part", 3<<20 + 7, true},
		{"at a part boundary", MinPartSize, true},
		{"inside the last whole part", 4*MinPartSize + 1, false},
		{"in the last part", size - 100, false},
		{"at the end", size, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openDownload(t, t.Context(), fsys, "big", tt.offset)
			got, err := readAll(d)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data[tt.offset:]) {
				t.Errorf("read %d bytes, not the %d after offset %d", len(got), size-tt.offset, tt.offset)
			}
			if (d.fetched > 0) != tt.ahead {
				t.Errorf("%d parts read ahead; want some: %v", d.fetched, tt.ahead)
			}
			if err := d.Close(); err != nil {
				t.Error(err)
			}
			checkAheadFree(t, bufs)
		})
	}
	t.Run("under eight parts left", func(t *testing.T) {
		fsys := New(srv.Client, srv.Bucket, Options{Prefix: "ra", PartSize: MinPartSize, Buffers: bufs})
		d := openDownload(t, t.Context(), fsys, "big", 0)
		got, err := readAll(d)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes (%v), want the object's %d", len(got), err, len(data))
		}
		if d.fetched != 0 {
			t.Errorf("%d parts read ahead with 4.5 parts left after the first", d.fetched)
		}
		d.Close()
		checkAheadFree(t, bufs)
	})
}

// TestReadAheadWindow: a download reads one part ahead, and one more each
// time Read has to wait for one (the gate holds each part until Read
// waits for it), up to readAheadParts; a client slower than the store
// (Read never waits) keeps it at one.
func TestReadAheadWindow(t *testing.T) {
	srv := s3test.Start(t)
	data := randomBytes(8 * MinPartSize)
	putObject(t, srv, "win/big", data)

	t.Run("store slower", func(t *testing.T) {
		gate := newGetGate()
		bufs := NewBuffers(16)
		fsys := New(gate.client(srv), srv.Bucket, Options{Prefix: "win", PartSize: MinPartSize, Buffers: bufs})
		fsys.readAheadMin = MinPartSize // read ahead with a whole part left, not eight
		d := openDownload(t, t.Context(), fsys, "big", 0)
		first := -1
		d.onWait = func() {
			if first < 0 {
				first = len(d.ahead)
			}
			// Let the parts through from the first wait on.
			gate.open()
		}
		got, err := readAll(d)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes (%v), want the object's %d", len(got), err, len(data))
		}
		if d.window < 2 {
			t.Errorf("window %d after Read waited; want 2 or more", d.window)
		}
		if first != 1 {
			t.Errorf("%d parts read ahead at the first wait; want 1", first)
		}
		d.Close()
		checkAheadFree(t, bufs)
	})

	t.Run("client slower", func(t *testing.T) {
		bufs := NewBuffers(16)
		fsys := New(srv.Client, srv.Bucket, Options{Prefix: "win", PartSize: MinPartSize, Buffers: bufs})
		fsys.readAheadMin = MinPartSize // read ahead with a whole part left, not eight
		d := openDownload(t, t.Context(), fsys, "big", 0)
		d.onWait = func() { t.Error("Read waited for a part") }
		var got bytes.Buffer
		p := make([]byte, 64<<10)
		for {
			// The slow client: every part ahead is there before the
			// next Read.
			for _, pt := range d.ahead {
				<-pt.done
			}
			if d.cur == nil && d.body == nil && len(d.ahead) > 0 && d.ahead[0].err != nil {
				t.Fatal(d.ahead[0].err)
			}
			if held := len(bufs.slots); held > 2 {
				t.Fatalf("%d buffers held; want 2 at most", held)
			}
			n, err := d.Read(p)
			got.Write(p[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got.Bytes(), data) {
			t.Errorf("read %d bytes, not the object's %d", got.Len(), len(data))
		}
		if d.window != 1 {
			t.Errorf("window %d; want 1", d.window)
		}
		d.Close()
		checkAheadFree(t, bufs)
	})
}

// TestReadAheadNoBuffers: a download that gets no buffer (the downloads'
// half of the cap is none, or other downloads hold it) streams the
// object, in one GET or several, and holds nothing.
func TestReadAheadNoBuffers(t *testing.T) {
	srv := s3test.Start(t)
	data := randomBytes(9 * MinPartSize)
	putObject(t, srv, "nb/big", data)
	t.Run("cap of one", func(t *testing.T) {
		bufs := NewBuffers(1)
		fsys := New(srv.Client, srv.Bucket, Options{Prefix: "nb", PartSize: MinPartSize, Buffers: bufs})
		fsys.readAheadMin = MinPartSize // read ahead with a whole part left, not eight
		d := openDownload(t, t.Context(), fsys, "big", 0)
		got, err := readAll(d)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes (%v), want the object's %d", len(got), err, len(data))
		}
		if d.fetched != 0 {
			t.Errorf("%d parts read ahead with no buffer for downloads", d.fetched)
		}
		d.Close()
		checkAheadFree(t, bufs)
	})
	t.Run("taken by others", func(t *testing.T) {
		bufs := NewBuffers(4)
		fsys := New(srv.Client, srv.Bucket, Options{Prefix: "nb", PartSize: MinPartSize, Buffers: bufs})
		fsys.readAheadMin = MinPartSize // read ahead with a whole part left, not eight
		d := openDownload(t, t.Context(), fsys, "big", 0)
		first := readN(t, d, 64<<10)
		if d.fetched != 1 {
			t.Fatalf("%d parts read ahead; want 1", d.fetched)
		}
		// Other downloads now hold the downloads' half of the cap:
		// once its part is read, the download streams again, a few
		// parts at a time.
		bufs.ahead.Add(2)
		rest, err := readAll(d)
		if err != nil || !bytes.Equal(append(first, rest...), data) {
			t.Fatalf("read %d bytes (%v), want the object's %d", len(first)+len(rest), err, len(data))
		}
		if d.fetched != 1 {
			t.Errorf("%d parts read ahead with no buffer free; want the first only", d.fetched)
		}
		d.Close()
		bufs.ahead.Add(-2)
		checkAheadFree(t, bufs)
	})
}

// TestReadAheadReplaced: an object replaced while its download reads
// parts ahead fails the download with 451 (If-Match), never mixing the
// two objects.
func TestReadAheadReplaced(t *testing.T) {
	srv := s3test.Start(t)
	old := randomBytes(4 * MinPartSize)
	putObject(t, srv, "rp/f", old)
	gate := newGetGate()
	bufs := NewBuffers(16)
	fsys := New(gate.client(srv), srv.Bucket, Options{Prefix: "rp", PartSize: MinPartSize, Buffers: bufs})
	fsys.readAheadMin = MinPartSize // read ahead with a whole part left, not eight
	d := openDownload(t, t.Context(), fsys, "f", 0)
	first := readN(t, d, 64<<10) // the first part ahead is asked for, and held
	putObject(t, srv, "rp/f", bytes.Repeat([]byte("n"), len(old)))
	gate.open()
	rest, err := readAll(d)
	var re *pier.ReplyError
	if !errors.As(err, &re) || re.Code != 451 {
		t.Errorf("reading a replaced object: %v; want a 451 reply", err)
	}
	if got := append(first, rest...); !bytes.Equal(got, old[:len(got)]) {
		t.Error("the download returned bytes of the new object")
	}
	d.Close()
	checkAheadFree(t, bufs)
}

// TestReadAheadCancel: Close, or the end of the transfer's context
// (ABOR), while parts are in flight cancels them and gives their
// buffers back; Read then fails.
func TestReadAheadCancel(t *testing.T) {
	srv := s3test.Start(t)
	data := randomBytes(4 * MinPartSize)
	putObject(t, srv, "cn/f", data)
	for _, how := range []string{"close", "cancel"} {
		t.Run(how, func(t *testing.T) {
			gate := newGetGate() // never opened: the parts stay in flight
			bufs := NewBuffers(16)
			fsys := New(gate.client(srv), srv.Bucket, Options{Prefix: "cn", PartSize: MinPartSize, Buffers: bufs})
			fsys.readAheadMin = MinPartSize // read ahead with a whole part left, not eight
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			d := openDownload(t, ctx, fsys, "f", 0)
			readN(t, d, MinPartSize) // the stream, up to the first part ahead
			if len(d.ahead) == 0 {
				t.Fatal("no part read ahead")
			}
			if how == "cancel" {
				d.onWait = cancel // ABOR while Read waits for the part
				if _, err := d.Read(make([]byte, 64<<10)); !errors.Is(err, context.Canceled) {
					t.Errorf("Read after ABOR: %v; want context.Canceled", err)
				}
			}
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if n := gate.heldNow(); n != 0 {
				t.Errorf("%d GETs still held after Close", n)
			}
			if _, err := d.Read(make([]byte, 10)); !errors.Is(err, os.ErrClosed) {
				t.Errorf("Read after Close: %v; want os.ErrClosed", err)
			}
			checkAheadFree(t, bufs)
		})
	}
}

// TestBuffersAhead: the downloads hold half the cap at most; the
// uploads still get the other half.
func TestBuffersAhead(t *testing.T) {
	b := NewBuffers(4)
	var ahead [][]byte
	for {
		buf, ok := b.tryAhead(1024)
		if !ok {
			break
		}
		ahead = append(ahead, buf)
	}
	if len(ahead) != 2 {
		t.Fatalf("downloads took %d of 4 buffers; want 2", len(ahead))
	}
	for range 2 {
		if _, ok := b.tryGet(1024); !ok {
			t.Fatal("an upload got no buffer beside the downloads' half")
		}
	}
	for _, buf := range ahead {
		b.putAhead(buf)
	}
	if n := b.ahead.Load(); n != 0 || len(b.slots) != 2 {
		t.Errorf("after the downloads: %d held by downloads, %d in all; want 0 and 2", n, len(b.slots))
	}
	if _, ok := NewBuffers(1).tryAhead(1024); ok {
		t.Error("a download took the only buffer of a cap of one")
	}
}

// throttled reads r at rate bytes a second at most.
type throttled struct {
	r     io.ReadCloser
	rate  float64
	start time.Time
	n     int64
}

func (t *throttled) Read(p []byte) (int, error) {
	if t.start.IsZero() {
		t.start = time.Now()
	}
	n, err := t.r.Read(p[:min(len(p), 256<<10)])
	t.n += int64(n)
	if wait := time.Duration(float64(t.n)/t.rate*float64(time.Second)) - time.Since(t.start); wait > 0 {
		time.Sleep(wait)
	}
	return n, err
}

func (t *throttled) Close() error { return t.r.Close() }

// BenchmarkReadAheadSlowStore downloads a 128 MiB object from a store
// that serves each response at 50 MB/s at most, as S3 serves one stream
// far slower than a client's link: with parts read ahead (each its own
// GET) and as one stream.
func BenchmarkReadAheadSlowStore(b *testing.B) {
	srv := s3test.Start(b)
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		b.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(r *http.Response) error {
		r.Body = &throttled{r: r.Body, rate: 50e6}
		return nil
	}
	hs := httptest.NewServer(rp)
	b.Cleanup(hs.Close)
	client := s3test.NewClient(hs.URL, srv.AccessKey, srv.SecretKey)
	const size = 128 << 20
	data := randomBytes(size)
	putObject(b, srv, "slow/big", data)
	for _, tc := range []struct {
		name  string
		ahead bool
	}{{"one stream", false}, {"parts read ahead", true}} {
		b.Run(tc.name, func(b *testing.B) {
			fsys := New(client, srv.Bucket, Options{Prefix: "slow", Buffers: NewBuffers(32)})
			if !tc.ahead {
				fsys.readAheadMin = size
			}
			b.SetBytes(size)
			for b.Loop() {
				f, err := fsys.OpenFile(b.Context(), "big", os.O_RDONLY, 0)
				if err != nil {
					b.Fatal(err)
				}
				got, err := readAll(f.(*download))
				if err != nil || len(got) != size {
					b.Fatalf("read %d bytes, %v", len(got), err)
				}
				f.Close()
			}
		})
	}
}

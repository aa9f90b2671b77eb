package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/internal/s3test"
)

// partGate is an HTTP client that holds UploadPart requests: until
// openAt of them are held at once (then it lets every one through), or,
// with openAt 0, until the request's context ends. fail, if set, answers
// the parts it picks with 403 AccessDenied.
type partGate struct {
	next   aws.HTTPClient
	openAt int
	fail   func(*http.Request) bool

	mu       sync.Mutex // guards the fields below
	held     int
	open     chan struct{}
	opened   bool
	fallback int // requests let through only by the fallback below
}

func newPartGate(openAt int) *partGate {
	return &partGate{next: awshttp.NewBuildableClient(), openAt: openAt, open: make(chan struct{})}
}

// client returns a client of srv through the gate.
func (g *partGate) client(srv *s3test.Server) *awss3.Client {
	return awss3.New(srv.Client.Options(), func(o *awss3.Options) { o.HTTPClient = g })
}

func (g *partGate) Do(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPut || !r.URL.Query().Has("partNumber") || r.Header.Get("X-Amz-Copy-Source") != "" {
		return g.next.Do(r)
	}
	if g.fail != nil && g.fail(r) {
		body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`
		return &http.Response{
			StatusCode: http.StatusForbidden, Status: "403 Forbidden", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"Content-Type": {"application/xml"}},
			Body:    io.NopCloser(strings.NewReader(body)),
			Request: r,
		}, nil
	}
	g.mu.Lock()
	g.held++
	if g.openAt > 0 && g.held >= g.openAt && !g.opened {
		close(g.open)
		g.opened = true
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.held--
		g.mu.Unlock()
	}()
	select {
	case <-g.open:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	case <-time.After(2 * time.Minute):
		// Not a threshold: only so that an upload that never has
		// enough parts in flight fails the test rather than hangs it.
		g.mu.Lock()
		g.fallback++
		g.mu.Unlock()
	}
	return g.next.Do(r)
}

// openUpload opens name for a new upload.
func openUpload(t *testing.T, ctx context.Context, fsys *FS, name string) *upload {
	t.Helper()
	f, err := fsys.OpenFile(ctx, name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return f.(*upload)
}

// writeAll writes data in 64 KiB writes, as an FTP data connection does.
func writeAll(u *upload, data []byte) error {
	for len(data) > 0 {
		n := min(len(data), 64<<10)
		if _, err := u.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// checkBuffersFree checks that every buffer of b was given back.
func checkBuffersFree(t *testing.T, b *Buffers) {
	t.Helper()
	if n := len(b.slots); n != 0 {
		t.Errorf("%d part buffers still taken", n)
	}
}

// TestPartsInFlight: with buffers to spare, an upload has more than two
// parts in flight (the gate lets none through until three are sent at
// once), and the object is byte for byte what was written, its parts in
// order.
func TestPartsInFlight(t *testing.T) {
	srv := s3test.Start(t)
	gate := newPartGate(3)
	bufs := NewBuffers(16)
	fsys := New(gate.client(srv), srv.Bucket, Options{Prefix: "pf", PartSize: MinPartSize, Buffers: bufs})
	data := randomBytes(40 << 20) // 8 parts
	u := openUpload(t, t.Context(), fsys, "big")
	if err := writeAll(u, data); err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if u.peak <= 2 || u.peak > maxPartsInFlight {
		t.Errorf("at most %d parts in flight at once; want 3 to %d", u.peak, maxPartsInFlight)
	}
	if gate.fallback != 0 {
		t.Errorf("%d parts were not sent 3 at once", gate.fallback)
	}
	if got := readObject(t, srv, "pf/big"); string(got) != string(data) {
		t.Errorf("read back %d bytes, not the %d written", len(got), len(data))
	}
	if n := pendingUploads(t, srv); n != 0 {
		t.Errorf("%d multipart uploads pending", n)
	}
	checkBuffersFree(t, bufs)
}

// TestPartsInFlightFewBuffers: with a cap of two buffers in all, an
// upload has at most two parts in flight (then none filling), and it
// completes, alone or beside another one, reusing its sent parts'
// buffers.
func TestPartsInFlightFewBuffers(t *testing.T) {
	srv := s3test.Start(t)
	bufs := NewBuffers(2)
	fsys := New(srv.Client, srv.Bucket, Options{Prefix: "few", PartSize: MinPartSize, Buffers: bufs})
	data := randomBytes(40 << 20)
	for _, uploads := range []int{1, 2} {
		var wg sync.WaitGroup
		us := make([]*upload, uploads)
		for i := range us {
			us[i] = openUpload(t, t.Context(), fsys, "f"+string(rune('0'+i)))
			wg.Go(func() {
				if err := writeAll(us[i], data); err != nil {
					t.Error(err)
				}
				if err := us[i].Close(); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i, u := range us {
			if u.peak > 2 {
				t.Errorf("%d uploads: %d parts in flight at once with 2 buffers in all", uploads, u.peak)
			}
			if got := readObject(t, srv, "few/"+u.name); string(got) != string(data) {
				t.Errorf("%d uploads: upload %d read back %d bytes, not the %d written", uploads, i, len(got), len(data))
			}
		}
		checkBuffersFree(t, bufs)
	}
	if n := pendingUploads(t, srv); n != 0 {
		t.Errorf("%d multipart uploads pending", n)
	}
}

// TestAbortPartsInFlight: Abort of an upload with several parts in
// flight (held by the gate until their context ends) waits for them (a
// short while here), cancels them, waits for them again, and aborts the
// multipart upload: nothing is left, and its buffers are free. The end
// of the transfer's context before Abort doesn't cancel them. A part
// that fails fails the upload, which is aborted too.
func TestAbortPartsInFlight(t *testing.T) {
	srv := s3test.Start(t)
	data := randomBytes(20 << 20) // 3 parts sent, the 4th filled
	for _, cancelFirst := range []bool{false, true} {
		gate := newPartGate(0)
		bufs := NewBuffers(16)
		fsys := New(gate.client(srv), srv.Bucket, Options{Prefix: "ab", PartSize: MinPartSize, Buffers: bufs})
		fsys.settleWait = 10 * time.Millisecond // not a threshold: the gate never lets the parts through
		ctx, cancel := context.WithCancel(t.Context())
		u := openUpload(t, ctx, fsys, "new")
		if err := writeAll(u, data); err != nil {
			t.Fatal(err)
		}
		if u.inflight != 3 {
			t.Errorf("%d parts in flight, want 3", u.inflight)
		}
		if cancelFirst {
			cancel()
		}
		if err := u.Abort(pier.ErrTransferAborted); err != nil {
			t.Errorf("Abort: %v", err)
		}
		cancel()
		if gate.fallback != 0 {
			t.Errorf("Abort left %d parts in flight", gate.fallback)
		}
		if n := pendingUploads(t, srv); n != 0 {
			t.Errorf("%d multipart uploads pending", n)
		}
		if _, err := srv.Client.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: &srv.Bucket, Key: aws.String("ab/new")}); err == nil {
			t.Error("ab/new exists after Abort")
		}
		checkBuffersFree(t, bufs)
	}

	t.Run("failed part", func(t *testing.T) {
		gate := newPartGate(1)
		gate.fail = func(r *http.Request) bool { return r.URL.Query().Get("partNumber") == "2" }
		bufs := NewBuffers(16)
		fsys := New(gate.client(srv), srv.Bucket, Options{Prefix: "fail", PartSize: MinPartSize, Buffers: bufs})
		u := openUpload(t, t.Context(), fsys, "new")
		werr := writeAll(u, randomBytes(40<<20))
		var cerr error
		if werr != nil {
			u.Abort(werr)
		} else {
			cerr = u.Close()
		}
		if werr == nil && cerr == nil {
			t.Error("the upload succeeded with a failed part")
		}
		if n := pendingUploads(t, srv); n != 0 {
			t.Errorf("%d multipart uploads pending", n)
		}
		if _, err := srv.Client.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: &srv.Bucket, Key: aws.String("fail/new")}); err == nil {
			t.Error("fail/new exists after a failed part")
		}
		checkBuffersFree(t, bufs)
	})
}

// requestCounter is an HTTP client that counts the requests that start
// a multipart upload and the single PutObjects.
type requestCounter struct {
	next aws.HTTPClient

	mu            sync.Mutex // guards the counts
	creates, puts int
}

func (c *requestCounter) Do(r *http.Request) (*http.Response, error) {
	q := r.URL.Query()
	c.mu.Lock()
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		c.creates++
	case r.Method == http.MethodPut && !q.Has("partNumber") && r.Header.Get("X-Amz-Copy-Source") == "":
		c.puts++
	}
	c.mu.Unlock()
	return c.next.Do(r)
}

// TestSinglePutTwoParts: an upload of up to two parts is one PutObject
// when a second buffer is free as the first fills; a multipart upload
// when none is, or when it is larger. Either way the object is what was
// written, and an upload aborted while its first part is held back
// leaves nothing.
func TestSinglePutTwoParts(t *testing.T) {
	srv := s3test.Start(t)
	tests := []struct {
		name    string
		size    int
		buffers int
		single  bool
	}{
		{"one part", MinPartSize / 2, 4, true},
		{"one and a half parts", MinPartSize * 3 / 2, 4, true},
		{"two parts", 2 * MinPartSize, 4, true},
		{"two parts and a byte", 2*MinPartSize + 1, 4, false},
		{"four parts", 4 * MinPartSize, 4, false},
		{"one and a half parts, one buffer", MinPartSize * 3 / 2, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &requestCounter{next: awshttp.NewBuildableClient()}
			client := awss3.New(srv.Client.Options(), func(o *awss3.Options) { o.HTTPClient = rc })
			bufs := NewBuffers(tt.buffers)
			fsys := New(client, srv.Bucket, Options{Prefix: "sp", PartSize: MinPartSize, Buffers: bufs})
			data := randomBytes(tt.size)
			u := openUpload(t, t.Context(), fsys, "f")
			if err := writeAll(u, data); err != nil {
				t.Fatal(err)
			}
			if err := u.Close(); err != nil {
				t.Fatal(err)
			}
			if single := rc.puts == 1 && rc.creates == 0; single != tt.single {
				t.Errorf("%d PutObject, %d multipart uploads; want a single PutObject: %v", rc.puts, rc.creates, tt.single)
			}
			if got := readObject(t, srv, "sp/f"); !bytes.Equal(got, data) {
				t.Errorf("read back %d bytes, not the %d written", len(got), len(data))
			}
			checkBuffersFree(t, bufs)
		})
	}
	t.Run("aborted", func(t *testing.T) {
		bufs := NewBuffers(4)
		fsys := New(srv.Client, srv.Bucket, Options{Prefix: "spa", PartSize: MinPartSize, Buffers: bufs})
		u := openUpload(t, t.Context(), fsys, "f")
		if err := writeAll(u, randomBytes(MinPartSize*3/2)); err != nil {
			t.Fatal(err)
		}
		if u.head == nil {
			t.Fatal("the first part is not held back")
		}
		if err := u.Abort(pier.ErrTransferAborted); err != nil {
			t.Fatal(err)
		}
		checkMissingKey(t, srv, "spa/f")
		if n := pendingUploads(t, srv); n != 0 {
			t.Errorf("%d multipart uploads pending", n)
		}
		checkBuffersFree(t, bufs)
	})
}

// checkMissingKey checks that key is not an object.
func checkMissingKey(t *testing.T, srv *s3test.Server, key string) {
	t.Helper()
	if _, err := srv.Client.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: &srv.Bucket, Key: &key}); err == nil {
		t.Errorf("%s exists", key)
	}
}

// TestTwoReader: the body of a single PutObject of two buffers reads,
// seeks and writes itself as the two one after the other.
func TestTwoReader(t *testing.T) {
	a, b := []byte("hello, "), []byte("world")
	r := newTwoReader(a, b)
	got, err := io.ReadAll(iotest.OneByteReader(r))
	if err != nil || string(got) != "hello, world" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	for _, off := range []int64{0, 3, 7, 9, 12} {
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		if _, err := r.WriteTo(&sb); err != nil || sb.String() != "hello, world"[off:] {
			t.Errorf("after Seek(%d): WriteTo wrote %q, %v", off, sb.String(), err)
		}
	}
	if n, err := r.Seek(-2, io.SeekEnd); n != 10 || err != nil {
		t.Errorf("Seek(-2, end) = %d, %v", n, err)
	}
	if _, err := r.Seek(-20, io.SeekCurrent); err == nil {
		t.Error("Seek before the start succeeded")
	}
}

// scribbler gives data in reads of varying sizes (some short, some
// filling p) and, as io.Reader allows, writes garbage over the rest of p;
// after failAt bytes (if > 0), it fails with errScribble.
type scribbler struct {
	data   []byte
	reads  int
	given  int
	failAt int
}

var errScribble = errors.New("the data connection failed")

func (s *scribbler) Read(p []byte) (int, error) {
	s.reads++
	if s.failAt > 0 && s.given >= s.failAt {
		return 0, errScribble
	}
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(s.data), []int{1, 100 << 10, 300 << 10, 7 << 20}[s.reads%4])
	if s.failAt > 0 {
		n = min(n, s.failAt-s.given)
	}
	copy(p, s.data[:n])
	for i := n; i < len(p); i++ {
		p[i] = 0xEE
	}
	s.data = s.data[n:]
	s.given += n
	return n, nil
}

// TestReceiveFrom: an upload that reads the data connection itself
// (pier.Receiver) stores exactly what it read, in one PUT or in parts,
// after Writes or alone, with the same requests as Writes make (one
// PutObject for up to two parts, on a part's boundary too); over an old
// object's kept tail too, though the reader writes garbage beyond what
// it returns; a reader's error comes back as it was, and Abort then
// leaves nothing; a failed part is the upload's error, not the reader's.
func TestReceiveFrom(t *testing.T) {
	srv := s3test.Start(t)
	bufs := NewBuffers(8)
	rc := &requestCounter{next: awshttp.NewBuildableClient()}
	client := awss3.New(srv.Client.Options(), func(o *awss3.Options) { o.HTTPClient = rc })
	fsys := New(client, srv.Bucket, Options{Prefix: "rf", PartSize: MinPartSize, Buffers: bufs})
	for _, tc := range []struct {
		name   string
		size   int
		first  int  // bytes Written before ReceiveFrom
		single bool // one PutObject
	}{
		{"empty", 0, 0, true},
		{"small", 1000, 0, true},
		{"one part exactly", MinPartSize, 0, true},
		{"one part and a half after a Write", MinPartSize*3/2 + 5, 64 << 10, true},
		{"two parts exactly", 2 * MinPartSize, 0, true},
		{"two parts and a byte", 2*MinPartSize + 1, 0, false},
		{"many parts", 4*MinPartSize + 12345, 0, false},
		{"four parts exactly", 4 * MinPartSize, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc.mu.Lock()
			rc.puts, rc.creates = 0, 0
			rc.mu.Unlock()
			data := randomBytes(tc.size)
			u := openUpload(t, t.Context(), fsys, "f")
			if err := writeAll(u, data[:tc.first]); err != nil {
				t.Fatal(err)
			}
			n, err := u.ReceiveFrom(&scribbler{data: data[tc.first:]})
			if err != nil || n != int64(tc.size-tc.first) {
				t.Fatalf("ReceiveFrom = %d, %v; want %d, nil", n, err, tc.size-tc.first)
			}
			if err := u.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readObject(t, srv, "rf/f"); !bytes.Equal(got, data) {
				t.Errorf("read back %d bytes, not the %d received", len(got), len(data))
			}
			rc.mu.Lock()
			single := rc.puts == 1 && rc.creates == 0
			rc.mu.Unlock()
			if single != tc.single {
				t.Errorf("%d PutObject, %d multipart uploads; want a single PutObject: %v", rc.puts, rc.creates, tc.single)
			}
			checkBuffersFree(t, bufs)
		})
	}
	for _, over := range []int{800 << 10, 5 << 20} { // less than the old object, more
		t.Run(fmt.Sprintf("kept tail, %d bytes over it", over), func(t *testing.T) {
			old := randomBytes(3 << 20)
			putObject(t, srv, "rf/tail", old)
			f, err := fsys.OpenFile(t.Context(), "tail", os.O_WRONLY, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			data := randomBytes(over)
			if _, err := f.(*upload).ReceiveFrom(&scribbler{data: data}); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			want := bytes.Clone(data)
			if len(data) < len(old) {
				want = append(want, old[len(data):]...)
			}
			if got := readObject(t, srv, "rf/tail"); !bytes.Equal(got, want) {
				t.Errorf("read back %d bytes, want %d: the new bytes, then what is left of the old object", len(got), len(want))
			}
			checkBuffersFree(t, bufs)
		})
	}
	t.Run("a part fails", func(t *testing.T) {
		gate := newPartGate(1)
		gate.fail = func(*http.Request) bool { return true }
		fsys := New(gate.client(srv), srv.Bucket, Options{Prefix: "rf", PartSize: MinPartSize, Buffers: bufs})
		u := openUpload(t, t.Context(), fsys, "partfails")
		_, err := u.ReceiveFrom(&scribbler{data: randomBytes(8 * MinPartSize)})
		if err == nil || err == errScribble || err != u.err {
			t.Fatalf("ReceiveFrom = %v; want the upload's own error (%v)", err, u.err)
		}
		if err := u.Abort(err); err != nil {
			t.Fatal(err)
		}
		checkMissingKey(t, srv, "rf/partfails")
		if n := pendingUploads(t, srv); n != 0 {
			t.Errorf("%d multipart uploads pending", n)
		}
		checkBuffersFree(t, bufs)
	})
	t.Run("reader fails", func(t *testing.T) {
		u := openUpload(t, t.Context(), fsys, "failed")
		data := randomBytes(3 * MinPartSize)
		n, err := u.ReceiveFrom(&scribbler{data: data, failAt: 2*MinPartSize + 1})
		if err != errScribble || n != 2*MinPartSize+1 {
			t.Fatalf("ReceiveFrom = %d, %v; want %d, the reader's own error", n, err, 2*MinPartSize+1)
		}
		if err := u.Abort(pier.ErrConnectionLost); err != nil {
			t.Fatal(err)
		}
		checkMissingKey(t, srv, "rf/failed")
		if n := pendingUploads(t, srv); n != 0 {
			t.Errorf("%d multipart uploads pending", n)
		}
		checkBuffersFree(t, bufs)
	})
}

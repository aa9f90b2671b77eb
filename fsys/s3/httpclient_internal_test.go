package s3

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// countingBody is a request body that counts the Read calls it takes.
type countingBody struct {
	r     *bytes.Reader
	reads int
}

func (b *countingBody) Read(p []byte) (int, error) { b.reads++; return b.r.Read(p) }
func (b *countingBody) Close() error               { return nil }

func testPayload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return p
}

// TestHTTPClient: a PUT through HTTPClient reaches the server
// whole, its body read in pieces of bodyChunk; through the SDK's default
// client, of 32 KiB. A body longer than its length is refused by
// net/http in both, not cut.
func TestHTTPClient(t *testing.T) {
	want := testPayload(3<<20 + 17)
	var mu sync.Mutex
	bodies := map[string][]byte{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies[r.URL.Path] = b
		mu.Unlock()
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		client interface {
			Do(*http.Request) (*http.Response, error)
		}
		maxReads int
	}{
		{"whole", HTTPClient(nil).(*awshttp.BuildableClient), len(want)/bodyChunk + 3},
		{"default", awshttp.NewBuildableClient(), 1 << 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &countingBody{r: bytes.NewReader(want)}
			req, err := http.NewRequest(http.MethodPut, srv.URL+"/bucket/key", b)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = int64(len(want))
			resp, err := tc.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			mu.Lock()
			g := bodies["/bucket/key"]
			mu.Unlock()
			if !bytes.Equal(g, want) {
				t.Fatalf("server got %d bytes, want the %d sent", len(g), len(want))
			}
			if b.reads > tc.maxReads {
				t.Errorf("body read in %d calls, want at most %d", b.reads, tc.maxReads)
			}
			if tc.name == "default" && b.reads <= len(want)/bodyChunk+3 {
				t.Errorf("the default client read the body in %d calls: the test no longer tells the two apart", b.reads)
			}

			// One byte more than its length: an error for the caller.
			long := &countingBody{r: bytes.NewReader(want)}
			req, _ = http.NewRequest(http.MethodPut, srv.URL+"/bucket/long", long)
			req.ContentLength = int64(len(want) - 1)
			if resp, err := tc.client.Do(req); err == nil {
				resp.Body.Close()
				t.Fatal("a body longer than its length: no error")
			}
		})
	}
}

// TestHTTPClientOtherClient: a client that is no BuildableClient is
// left as it is.
func TestHTTPClientOtherClient(t *testing.T) {
	c := &http.Client{}
	if got := HTTPClient(c); got != c {
		t.Fatalf("HTTPClient(%T) = %v, want it unchanged", c, got)
	}
}

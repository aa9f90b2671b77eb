package s3

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
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

// TestHTTPClientEarlyReply: a store that answers a PutObject with an
// error before reading its body, and then neither reads nor hangs up,
// gets the error to the caller; the request does not wait for the store
// to hang up (it did when the body was written in one WriteTo, which
// holds the SDK's body lock while the SDK wants to close the body).
func TestHTTPClientEarlyReply(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	release := make(chan struct{})
	defer close(release)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.(*net.TCPConn).SetReadBuffer(64 << 10)
				br := bufio.NewReader(c)
				for {
					if l, err := br.ReadString('\n'); err != nil || l == "\r\n" {
						break
					}
				}
				x := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`
				io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: "+strconv.Itoa(len(x))+"\r\n\r\n"+x)
				<-release // neither read nor hang up until the test ends
			}()
		}
	}()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), HTTPClient: HTTPClient(nil)}
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.BaseEndpoint = aws.String("http://" + ln.Addr().String())
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	// The deadline only keeps a regression from hanging the test.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const size = 64 << 20 // far more than the socket buffers hold
	_, err = client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("k"),
		Body: bytes.NewReader(make([]byte, size)), ContentLength: aws.Int64(size)})
	if code, status := errorCode(err); status != 403 || ctx.Err() != nil {
		t.Fatalf("PutObject = %v (code %q, status %d), want the store's 403 before the deadline", err, code, status)
	}
}

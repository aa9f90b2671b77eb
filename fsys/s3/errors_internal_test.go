package s3

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/internal/s3test"
)

// sdkError is the error the SDK returns for an S3 error reply.
func sdkError(status int, code string) error {
	resp := &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}}
	var cause error = &smithy.GenericAPIError{Code: code, Message: "test"}
	if code == "" {
		cause = errors.New("http error")
	}
	return &smithy.OperationError{
		ServiceID:     "S3",
		OperationName: "HeadObject",
		Err:           &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{Response: resp, Err: cause}, RequestID: "req"},
	}
}

// unreachable is the error the SDK returns for a request it could not
// send.
func unreachable(cause error) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: "HeadObject",
		Err: &smithyhttp.RequestSendError{Err: cause}}
}

// TestUnreachableStore: a store nobody listens on gets 451 (after the
// SDK's retries), not a 550 that says the file is wrong.
func TestUnreachableStore(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	ln.Close() // nobody listens there now
	fsys := New(s3test.NewClient(endpoint, "AK", "SK"), "bucket", Options{})
	_, err = fsys.Stat(t.Context(), "a.txt")
	var re *pier.ReplyError
	if !errors.As(err, &re) || re.Code != 451 || re.Message != unreachableMessage {
		t.Fatalf("Stat on an unreachable store: %v", err)
	}
}

func TestMapErr(t *testing.T) {
	quota := fmt.Errorf("failed to get rate limit token, %w", ratelimit.QuotaExceededError{Available: 0, Requested: 5})
	own := &pier.ReplyError{Code: 552, Message: "mine"}
	for _, tc := range []struct {
		desc string
		err  error
		code int   // the *pier.ReplyError's, or 0 for none
		is   error // what errors.Is must find
	}{
		{desc: "SlowDown 503", err: sdkError(503, "SlowDown"), code: 451},
		{desc: "SlowDown after the retries", err: &retry.MaxAttemptsError{Attempt: 3, Err: sdkError(503, "SlowDown")}, code: 451},
		{desc: "retry quota exhausted", err: errors.Join(sdkError(503, "SlowDown"), quota), code: 451},
		{desc: "InternalError 500", err: sdkError(500, "InternalError"), code: 451},
		{desc: "502 without a body (HEAD)", err: sdkError(502, ""), code: 451},
		{desc: "504", err: sdkError(504, ""), code: 451},
		{desc: "429", err: sdkError(429, "TooManyRequests"), code: 451},
		{desc: "a throttling code with 400", err: sdkError(400, "RequestLimitExceeded"), code: 451},
		{desc: "connection refused", err: unreachable(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), code: 451},
		{desc: "connection reset", err: unreachable(fmt.Errorf("read: %w", syscall.ECONNRESET)), code: 451},
		{desc: "NoSuchKey", err: sdkError(404, "NoSuchKey"), is: fs.ErrNotExist},
		{desc: "404 without a body (HEAD)", err: sdkError(404, ""), is: fs.ErrNotExist},
		{desc: "AccessDenied", err: sdkError(403, "AccessDenied"), is: fs.ErrPermission},
		{desc: "PreconditionFailed", err: sdkError(412, "PreconditionFailed"), is: fs.ErrExist},
		{desc: "other 4xx", err: sdkError(400, "InvalidArgument")},
		{desc: "cancelled", err: fmt.Errorf("op: %w", context.Canceled), is: context.Canceled},
		{desc: "a reply already", err: own, code: 552, is: own},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			err := mapErr("stat", "a/b", tc.err)
			var re *pier.ReplyError
			switch ok := errors.As(err, &re); {
			case tc.code == 0 && ok:
				t.Errorf("mapErr = %v, a reply %d; want none", err, re.Code)
			case tc.code != 0 && !ok:
				t.Errorf("mapErr = %v, no reply; want %d", err, tc.code)
			case ok && re.Code != tc.code:
				t.Errorf("mapErr = %v, reply %d; want %d", err, re.Code, tc.code)
			}
			if want := busyMessage; tc.code == 451 {
				if strings.HasPrefix(tc.desc, "connection") {
					want = unreachableMessage
				}
				if re.Message != want {
					t.Errorf("reply text %q, want %q", re.Message, want)
				}
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("mapErr = %v: the SDK's error is lost", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("mapErr = %v, want errors.Is %v", err, tc.is)
			}
		})
	}
}

// faultProxy stands between an S3 client and versitygw: the requests
// that its fault function picks get an S3 error reply, the others go on
// to versitygw.
type faultProxy struct {
	srv *s3test.Server
	url string

	mu     sync.Mutex // guards the fields below
	fault  func(*http.Request) (status int, code string)
	faults int // requests answered with a fault
}

// startFaultProxy starts a proxy to srv on a loopback port.
func startFaultProxy(t *testing.T, srv *s3test.Server) *faultProxy {
	t.Helper()
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{srv: srv}
	// The Host header stays the proxy's, which the client signed.
	rp := httputil.NewSingleHostReverseProxy(target)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		var status int
		var code string
		if p.fault != nil {
			status, code = p.fault(r)
		}
		if status != 0 {
			p.faults++
		}
		p.mu.Unlock()
		if status == 0 {
			rp.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected</Message><RequestId>test</RequestId></Error>`, code)
		}
	}))
	t.Cleanup(hs.Close)
	p.url = hs.URL
	return p
}

// newClient returns a client through the proxy with the SDK's standard
// retryer (3 attempts), with back-offs of a few milliseconds so that the
// test doesn't wait seconds. Its retry quota (500 tokens, 5 a throttled
// retry, 14 another) is its own.
func (p *faultProxy) newClient() *awss3.Client {
	return awss3.New(s3test.NewClient(p.url, p.srv.AccessKey, p.srv.SecretKey).Options(), func(o *awss3.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.NewExponentialJitterBackoff(5 * time.Millisecond)
		})
	})
}

// setFault sets which requests fail (nil: none) and resets the count.
func (p *faultProxy) setFault(fn func(*http.Request) (int, string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault, p.faults = fn, 0
}

// count returns how many requests got a fault since setFault.
func (p *faultProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

// TestBusyReplies: a store that answers 503 SlowDown (or 500) to every
// request gets, after the SDK's standard retries (3 attempts), a 451 in
// every command, not a 550; when it recovers, the same commands work.
func TestBusyReplies(t *testing.T) {
	srv := s3test.Start(t)
	proxy := startFaultProxy(t, srv)
	ctx := t.Context()
	for _, key := range []string{"a.txt", "sub/b.txt"} {
		if _, err := srv.Client.PutObject(ctx, &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: &key, Body: strings.NewReader("hello")}); err != nil {
			t.Fatal(err)
		}
	}
	faults := []struct {
		status int
		code   string
	}{{503, "SlowDown"}, {500, "InternalError"}}
	// A user per fault, each with a client (and retry quota) of its own.
	ftpSrv := ftptest.NewServer(t, &ftptest.Options{NoAnonymous: true, Configure: func(s *ftptest.Server) {
		for _, f := range faults {
			fsys := New(proxy.newClient(), srv.Bucket, Options{})
			if err := s.Users.AddUser(fmt.Sprint("s3-", f.status), auth.Account{Password: "pw", FS: fsys, Perm: pier.AllPerms}); err != nil {
				t.Fatal(err)
			}
		}
	}})
	var c *ftptest.Conn
	for _, fault := range faults {
		c = ftpSrv.Dial(t)
		c.Login(t, fmt.Sprint("s3-", fault.status), "pw")
		c.Expect(t, "TYPE I", 200)
		for _, cmd := range []string{"SIZE a.txt", "MDTM a.txt", "DELE a.txt", "MKD new", "RMD sub", "RNFR a.txt", "CWD sub", "MLST a.txt"} {
			t.Run(fmt.Sprint(fault.status, " ", cmd), func(t *testing.T) {
				proxy.setFault(func(*http.Request) (int, string) { return fault.status, fault.code })
				text := c.Expect(t, cmd, 451)
				if !strings.Contains(text, "busy") {
					t.Errorf("%s: %q, want the storage busy", cmd, text)
				}
				// The first request was tried 3 times (the standard
				// retryer's policy), and the command stopped there.
				if n := proxy.count(); n != 3 {
					t.Errorf("%s: %d requests failed, want 3 (one request, retried twice)", cmd, n)
				}
			})
		}
		t.Run(fmt.Sprint(fault.status, " transfers"), func(t *testing.T) {
			proxy.setFault(func(*http.Request) (int, string) { return fault.status, fault.code })
			// Each fails before its 150: the listing's first page (the
			// root needs no look-up, OpenDir reads the page before it
			// returns), RETR's GET, STOR's look-up and LIST sub's
			// (listings, see StatUpload and StatDir).
			for _, cmd := range []string{"LIST", "MLSD", "NLST", "RETR a.txt", "STOR c.txt", "LIST sub"} {
				dc := c.Passive(t)
				c.Expect(t, cmd, 451)
				dc.Close()
			}
		})
	}
	proxy.setFault(nil)
	c.Expect(t, "SIZE a.txt", 213)
	if got := string(c.Retrieve(t, "RETR a.txt")); got != "hello" {
		t.Errorf("RETR after the store recovered: %q", got)
	}
	c.Expect(t, "DELE a.txt", 250)
}

// TestBusyUpload: a part upload that keeps failing with 503 fails STOR
// with 451, and the multipart upload is aborted.
func TestBusyUpload(t *testing.T) {
	srv := s3test.Start(t)
	proxy := startFaultProxy(t, srv)
	fsys := New(proxy.newClient(), srv.Bucket, Options{PartSize: MinPartSize})
	ftpSrv := ftptest.NewServer(t, &ftptest.Options{NoAnonymous: true, Configure: func(s *ftptest.Server) {
		if err := s.Users.AddUser("s3", auth.Account{Password: "pw", FS: fsys, Perm: pier.AllPerms}); err != nil {
			t.Fatal(err)
		}
	}})
	proxy.setFault(func(r *http.Request) (int, string) {
		if r.Method == http.MethodPut && r.URL.Query().Has("partNumber") {
			return 503, "SlowDown"
		}
		return 0, ""
	})
	c := ftpSrv.Dial(t)
	c.Login(t, "s3", "pw")
	c.Expect(t, "TYPE I", 200)
	dc := c.Passive(t)
	c.Send(t, "STOR big.bin")
	c.ExpectReply(t, 150)
	// The server stops reading when the part fails: the write may fail.
	// (The deadline only keeps a bug from hanging the test.)
	dc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	dc.Write(make([]byte, 3*MinPartSize))
	dc.Close()
	c.ExpectReply(t, 451)
	if proxy.count() < 3 {
		t.Errorf("%d part requests failed, want the 3 attempts of one", proxy.count())
	}
	uploads, err := srv.Client.ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: &srv.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(uploads.Uploads) != 0 {
		t.Errorf("%d multipart uploads left pending", len(uploads.Uploads))
	}
}

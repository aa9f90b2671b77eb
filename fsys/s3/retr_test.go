package s3_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/pierftp/pier/fsys/s3"
	"github.com/pierftp/pier/internal/s3test"
)

// opLog records the S3 operations a client makes.
type opLog struct {
	mu  sync.Mutex
	ops []string
}

// take returns the operations since the last take.
func (l *opLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ops := l.ops
	l.ops = nil
	return ops
}

// countingClient is a copy of client that records its operations in l.
func countingClient(client *awss3.Client, l *opLog) *awss3.Client {
	return awss3.New(client.Options(), func(o *awss3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("opLog",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					l.mu.Lock()
					l.ops = append(l.ops, awsmiddleware.GetOperationName(ctx))
					l.mu.Unlock()
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	})
}

// TestFTPRetrOneRequest: a RETR, with or without REST, is one GetObject:
// the GET describes the object (the 150's size) as a HEAD would. What is
// not a file there, or a REST offset at or past the end, gets the replies
// a disk gives, after a look-up (at the end, a GET and a HEAD), as does a
// RETR that can't start (no PASV).
func TestFTPRetrOneRequest(t *testing.T) {
	srv := s3test.Start(t)
	var log opLog
	fsys := s3.New(countingClient(srv.Client, &log), srv.Bucket, s3.Options{PartSize: s3.MinPartSize})
	data := randomData(1000)
	for key, body := range map[string][]byte{"f.bin": data, "dir/x": []byte("x"), "empty": nil} {
		if _, err := srv.Client.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String(key),
			Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))}); err != nil {
			t.Fatal(err)
		}
	}
	c := serveS3(t, fsys, nil).Dial(t)
	c.Login(t, "s3", "pw")
	c.Expect(t, "TYPE I", 200)
	// Without PASV or PORT, as on a disk: what is not there first, then
	// the missing set-up.
	c.Expect(t, "RETR nothing.bin", 550)
	c.Expect(t, "RETR f.bin", 425)

	// retr sends cmds (REST, RETR) and returns the 150's text and the bytes.
	retr := func(cmds ...string) (string, []byte) {
		t.Helper()
		log.take()
		dc := c.Passive(t)
		for _, cmd := range cmds[:len(cmds)-1] {
			c.Expect(t, cmd, 350)
		}
		log.take() // EPSV and REST ask the store nothing; kept apart all the same
		c.Send(t, cmds[len(cmds)-1])
		text := c.ExpectReply(t, 150)
		dc.SetReadDeadline(time.Now().Add(ioDeadline))
		got, err := io.ReadAll(dc)
		if err != nil {
			t.Fatal(err)
		}
		c.ExpectReply(t, 226)
		if ops := log.take(); !slices.Equal(ops, []string{"GetObject"}) {
			t.Errorf("%q: the store was asked %q, want one GetObject", cmds, ops)
		}
		return text, got
	}
	if text, got := retr("RETR f.bin"); !bytes.Equal(got, data) || !strings.Contains(text, "(1000 bytes)") {
		t.Errorf("RETR: 150 %q and %d bytes, want (1000 bytes) and the object", text, len(got))
	}
	if text, got := retr("REST 100", "RETR f.bin"); !bytes.Equal(got, data[100:]) || !strings.Contains(text, "(900 bytes)") {
		t.Errorf("REST+RETR: 150 %q and %d bytes, want (900 bytes) and the object's tail", text, len(got))
	}
	if text, got := retr("RETR empty"); len(got) != 0 || !strings.Contains(text, "(0 bytes)") {
		t.Errorf("RETR of an empty object: 150 %q and %d bytes", text, len(got))
	}

	// REST at the end: nothing to send, after a HEAD; past it, 554.
	dc := c.Passive(t)
	c.Expect(t, "REST 1000", 350)
	log.take()
	c.Send(t, "RETR f.bin")
	if text := c.ExpectReply(t, 150); !strings.Contains(text, "(0 bytes)") {
		t.Errorf("RETR at the end: 150 %q", text)
	}
	dc.SetReadDeadline(time.Now().Add(ioDeadline))
	if got, err := io.ReadAll(dc); err != nil || len(got) != 0 {
		t.Errorf("RETR at the end: %d bytes, %v", len(got), err)
	}
	c.ExpectReply(t, 226)
	if ops := log.take(); !slices.Equal(ops, []string{"GetObject", "HeadObject"}) {
		t.Errorf("RETR at the end: the store was asked %q, want a GetObject (416) and a HeadObject", ops)
	}
	// refused sends cmd after a passive set-up, and returns the reply's
	// text, which must have code.
	refused := func(cmd string, code int) string {
		t.Helper()
		dc := c.Passive(t)
		defer dc.Close()
		return c.Expect(t, cmd, code)
	}
	c.Expect(t, "REST 1001", 350)
	if text := refused("RETR f.bin", 554); text != "REST position (1001) > file size (1000)." {
		t.Errorf("RETR past the end: 554 %q", text)
	}
	if text := refused("RETR dir", 550); text != "Is a directory." {
		t.Errorf("RETR of a folder: 550 %q", text)
	}
	refused("RETR nothing.bin", 550)
	refused("RETR f.bin/x", 550)
	c.Expect(t, "NOOP", 200)
}

// Package s3http holds what fsys/s3 does to the AWS SDK's HTTP client,
// shared with the tests' client (internal/s3test).
package s3http

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// WholeBodyClient returns c, the HTTP client of an SDK configuration
// (aws.Config.HTTPClient: nil for the SDK's default, or the
// *awshttp.BuildableClient config.LoadDefaultConfig makes), changed in one
// way: over plain http, a request's body goes to the connection from its
// buffer in one write, as the body's WriteTo makes it, rather than
// through net/http's copy of 32 KiB at a time. A client of another type
// is returned as it is. fsys/s3.WholeBodyClient is this.
//
// net/http hands a request body to its connection as an io.LimitedReader
// (the body limited to its Content-Length), which hides the body's
// WriteTo: a *net.TCPConn then copies the bytes through a 32 KiB buffer,
// a system call each, 320 for a 10 MiB PutObject. The connections this
// client dials take the body's WriteTo instead, limited to the same
// length. Over https the request is written to the TLS connection, which
// this leaves alone.
func WholeBodyClient(c aws.HTTPClient) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	bc, ok := c.(*awshttp.BuildableClient)
	if !ok {
		return c
	}
	return bc.WithTransportOptions(func(t *http.Transport) {
		dial := t.DialContext
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if tc, ok := conn.(*net.TCPConn); ok && err == nil {
				return &bodyConn{TCPConn: tc}, nil
			}
			return conn, err
		}
	})
}

// bodyConn is a dialled connection whose ReadFrom writes a request body
// with the body's own WriteTo.
type bodyConn struct {
	*net.TCPConn
}

// ReadFrom writes what r has: a body (an *io.LimitedReader over an
// io.WriterTo) in as few writes as the body's WriteTo makes, no more than
// the limit; anything else as *net.TCPConn does.
func (c *bodyConn) ReadFrom(r io.Reader) (int64, error) {
	lr, ok := r.(*io.LimitedReader)
	if !ok {
		return c.TCPConn.ReadFrom(r)
	}
	wt, ok := lr.R.(io.WriterTo)
	if !ok {
		return c.TCPConn.ReadFrom(r)
	}
	lw := &limitedWriter{w: c.TCPConn, left: lr.N}
	n, err := wt.WriteTo(lw)
	lr.N -= n
	if lw.full {
		// The body is longer than its limit: the rest stays unread, as
		// the LimitedReader would have left it (net/http then reports
		// the length's mismatch itself).
		err = nil
	}
	return n, err
}

// limitedWriter writes no more than left bytes to w; full says that it
// was offered more.
type limitedWriter struct {
	w    io.Writer
	left int64
	full bool
}

// errFull ends a WriteTo that offers more than the limit.
var errFull = errors.New("s3http: request body longer than its length")

func (l *limitedWriter) Write(p []byte) (int, error) {
	over := int64(len(p)) > l.left
	if over {
		p = p[:l.left]
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	if err == nil && over {
		l.full = true
		err = errFull
	}
	return n, err
}

package s3

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// HTTPClient returns c, the HTTP client of an SDK configuration
// (aws.Config.HTTPClient: nil for the SDK's default, or the
// *awshttp.BuildableClient config.LoadDefaultConfig makes), changed in one
// way: over plain http, a request's body goes to the connection in writes
// of bodyChunk (256 KiB) rather than net/http's 32 KiB: 40 system calls
// for a 10 MiB part instead of 320. pier's daemon uses it:
//
//	cfg.HTTPClient = s3.HTTPClient(cfg.HTTPClient)
//	client := awss3.NewFromConfig(cfg, ...)
//
// A client of another type is returned as it is. Over https nothing
// changes (the body goes to the TLS connection), nor where the SDK
// replaces the dialer or wraps the connections itself: with a defaults
// mode other than legacy (AWS_DEFAULTS_MODE), or a read timeout.
//
// net/http writes a body as io.Copy(conn, io.LimitReader(body, length)):
// a *net.TCPConn copies it through a 32 KiB buffer. The connections this
// client dials copy it through a larger one, read as net/http reads it (a
// Read at a time, so the SDK can close the body meanwhile).
func HTTPClient(c aws.HTTPClient) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	bc, ok := c.(*awshttp.BuildableClient)
	if !ok {
		return c
	}
	return bc.WithTransportOptions(func(t *http.Transport) {
		dial := t.DialContext
		//lint:ignore SA1019 a transport's own Dial, deprecated or not, is still its dialer
		if d := t.Dial; dial == nil && d != nil {
			dial = func(_ context.Context, network, addr string) (net.Conn, error) { return d(network, addr) }
		}
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

// bodyChunk is the most bodyConn writes at once.
const bodyChunk = 256 << 10

// bodyBufs holds bodyConn's buffers: one per request body being written.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, bodyChunk); return &b }}

// bodyConn is a dialled connection whose ReadFrom copies through a buffer
// of bodyChunk.
type bodyConn struct {
	*net.TCPConn
}

// ReadFrom copies r to the connection until r ends; a file, as
// *net.TCPConn sends it (sendfile).
func (c *bodyConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if _, ok := lr.R.(*os.File); ok {
			return c.TCPConn.ReadFrom(r)
		}
	}
	bp := bodyBufs.Get().(*[]byte)
	defer bodyBufs.Put(bp)
	// The connection's own writer, not c: io.CopyBuffer would call
	// ReadFrom again.
	return io.CopyBuffer(writerOnly{c.TCPConn}, readerOnly{r}, *bp)
}

// writerOnly and readerOnly hide ReaderFrom and WriterTo from
// io.CopyBuffer, so that it uses the buffer.
type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }

package pier_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
)

// receiverFS wraps a FileSystem; the files it opens for writing hide the
// *os.File beneath and implement pier.Receiver, as back-ends that keep
// an upload in buffers of their own do (fsys/s3): ReceiveFrom reads the
// data connection itself, or, with failAt, fails with an error of its
// own after failAt bytes. ended gets each upload's outcome (nil for
// Close, the reason for Abort).
type receiverFS struct {
	pier.FileSystem
	failAt   int64
	stopAt   int64 // > 0: ReceiveFrom returns nil after so many bytes
	receives atomic.Int32
	ended    chan error
}

func (r *receiverFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	f, err := r.FileSystem.OpenFile(ctx, name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return f, err
	}
	return &receiverFile{f: f, fsys: r}, nil
}

type receiverFile struct {
	f    pier.File
	fsys *receiverFS
}

var errBackendWrite = errors.New("back-end write failed")

func (f *receiverFile) Read(p []byte) (int, error)  { return f.f.Read(p) }
func (f *receiverFile) Write(p []byte) (int, error) { return f.f.Write(p) }
func (f *receiverFile) Close() error                { f.fsys.ended <- nil; return f.f.Close() }
func (f *receiverFile) Abort(reason error) error    { f.fsys.ended <- reason; return f.f.Close() }

// ReceiveFrom copies r to the file; its buffer is garbage beyond what
// each Read returns, as a part buffer's would be.
func (f *receiverFile) ReceiveFrom(r io.Reader) (int64, error) {
	f.fsys.receives.Add(1)
	buf := bytes.Repeat([]byte{0xEE}, 1<<20)
	var total int64
	for {
		if f.fsys.stopAt > 0 && total >= f.fsys.stopAt {
			return total, nil // a bug: pier must not take this as the end
		}
		n, err := r.Read(buf)
		if f.fsys.failAt > 0 && total+int64(n) > f.fsys.failAt {
			return total, errBackendWrite
		}
		if _, werr := f.f.Write(buf[:n]); werr != nil {
			return total, werr
		}
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// TestStoreReceiver: a binary upload to a file that implements
// pier.Receiver goes through ReceiveFrom and lands exactly, over plain
// TCP and over TLS; TYPE A doesn't use it (the line ends are converted);
// an error of ReceiveFrom's own is the file's (451, the upload aborted
// with it), and a client that resets the data connection is a lost
// connection (426, aborted with ErrConnectionLost), not a file error; a
// ReceiveFrom that stops early without an error fails the upload (451);
// an upload under a quota doesn't use it.
func TestStoreReceiver(t *testing.T) {
	srv, cfg := tlsServer(t, nil)
	rfs := &receiverFS{FileSystem: srv.Root, ended: make(chan error, 10)}
	if err := srv.Users.AddUser("rt", auth.Account{Password: "rt-pw", FS: rfs, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef\n"), 3<<20/17)
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(srv.Dir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ended := func(want error) {
		t.Helper()
		if got := <-rfs.ended; !errors.Is(got, want) || (want == nil) != (got == nil) {
			t.Errorf("the upload ended with %v; want %v", got, want)
		}
	}
	c := srv.Dial(t)
	c.Login(t, "rt", "rt-pw")

	c.Store(t, "STOR plain", big)
	ended(nil)
	if !bytes.Equal(read("plain"), big) {
		t.Error("STOR: the file is not what was sent")
	}
	if n := rfs.receives.Load(); n != 1 {
		t.Errorf("ReceiveFrom called %d times; want 1", n)
	}

	c.Expect(t, "TYPE A", 200)
	c.Store(t, "STOR text", []byte(strings.ReplaceAll(string(big), "\n", "\r\n")))
	ended(nil)
	if !bytes.Equal(read("text"), big) {
		t.Error("STOR in TYPE A: the file is not the text with LF line ends")
	}
	if n := rfs.receives.Load(); n != 1 {
		t.Errorf("ReceiveFrom called in TYPE A (%d calls)", n)
	}
	c.Expect(t, "TYPE I", 200)

	rfs.failAt = 1 << 20
	dc := c.Passive(t)
	c.Expect(t, "STOR failed", 150)
	dc.Write(big) // the server may stop reading first
	dc.Close()
	c.ExpectReply(t, 451)
	ended(errBackendWrite)
	rfs.failAt = 0

	dc = c.Passive(t)
	c.Expect(t, "STOR cut", 150)
	if _, err := dc.Write(big[:1<<20]); err != nil {
		t.Fatal(err)
	}
	resetConn(dc)
	c.ExpectReply(t, 426)
	ended(pier.ErrConnectionLost)
	c.Expect(t, "NOOP", 200)

	// A ReceiveFrom that returns nil before the end of the data fails
	// the upload: the rest is not in the file.
	rfs.stopAt = 1 << 20
	dc = c.Passive(t)
	c.Expect(t, "STOR stopped", 150)
	dc.Write(big) // the server may stop reading first
	dc.Close()
	c.ExpectReply(t, 451)
	if got := <-rfs.ended; got == nil || errors.Is(got, pier.ErrConnectionLost) {
		t.Errorf("an upload whose ReceiveFrom stopped early ended with %v; want the file's failure", got)
	}
	rfs.stopAt = 0

	// Under a quota, each Write is counted: no ReceiveFrom.
	q := &memQuota{maxBytes: 1 << 20}
	if err := srv.Users.AddUser("rq", auth.Account{Password: "rq-pw", FS: rfs, Perm: pier.AllPerms, Quota: q}); err != nil {
		t.Fatal(err)
	}
	qc := srv.Dial(t)
	qc.Login(t, "rq", "rq-pw")
	qc.Store(t, "STOR small", big[:1000])
	ended(nil)
	dc = qc.Passive(t)
	qc.Expect(t, "STOR large", 150)
	dc.Write(big) // the server may stop reading first
	dc.Close()
	qc.ExpectReply(t, 552)
	<-rfs.ended
	if n := rfs.receives.Load(); n != 4 {
		t.Errorf("ReceiveFrom called %d times in all; want 4 (none under the quota)", n)
	}

	s := srv.Dial(t)
	s.AuthTLS(t, cfg)
	s.Expect(t, "PBSZ 0", 200)
	s.Expect(t, "PROT P", 200)
	s.Login(t, "rt", "rt-pw")
	s.DataTLS = cfg
	s.Store(t, "STOR secret", big)
	ended(nil)
	if !bytes.Equal(read("secret"), big) {
		t.Error("STOR over TLS: the file is not what was sent")
	}
	if n := rfs.receives.Load(); n != 5 {
		t.Errorf("ReceiveFrom called %d times in all; want 5", n)
	}
}

// TestStoreReceiverLimits: a throttled upload goes through ReceiveFrom
// too and lands exactly; one that stalls ends with the data timeout
// (426, aborted with ErrDataTimeout), not as the file's failure.
func TestStoreReceiverLimits(t *testing.T) {
	srv := newServer(t, func(s *pier.Server) {
		s.DataTimeout = 500 * time.Millisecond
		s.ReadLimit = 1 << 20
	})
	rfs := &receiverFS{FileSystem: srv.Root, ended: make(chan error, 10)}
	if err := srv.Users.AddUser("rt", auth.Account{Password: "rt-pw", FS: rfs, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	c := srv.Dial(t)
	c.Login(t, "rt", "rt-pw")
	data := pattern(600 << 10)
	c.Store(t, "STOR slow", data)
	if got := <-rfs.ended; got != nil {
		t.Errorf("the throttled upload ended with %v", got)
	}
	if got, err := os.ReadFile(srv.Dir + "/slow"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the throttled upload stored %d bytes (%v), not the %d sent", len(got), err, len(data))
	}
	if n := rfs.receives.Load(); n != 1 {
		t.Errorf("ReceiveFrom called %d times; want 1", n)
	}

	dc := c.Passive(t)
	c.Expect(t, "STOR stalled", 150)
	if _, err := dc.Write(data[:300<<10]); err != nil {
		t.Fatal(err)
	}
	c.ExpectReply(t, 426) // and no more bytes: the data timeout
	dc.Close()
	if got := <-rfs.ended; !errors.Is(got, pier.ErrDataTimeout) {
		t.Errorf("the stalled upload ended with %v; want ErrDataTimeout", got)
	}
	if n := rfs.receives.Load(); n != 2 {
		t.Errorf("ReceiveFrom called %d times; want 2", n)
	}
	c.Expect(t, "NOOP", 200)
}

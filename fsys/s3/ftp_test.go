package s3_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jlaffaye/ftp"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/s3"
	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/internal/s3test"
	"github.com/pierftp/pier/tlscert"
)

// ioDeadline bounds the client's blocking calls, so that a bug fails the
// test instead of hanging it. It is not a performance threshold.
const ioDeadline = 30 * time.Second

// replyCode returns the FTP reply code of a jlaffaye/ftp error, or 0.
func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// serveS3 starts a pier.Server whose user "s3" (password "pw", every
// permission) is served by fsys, with FTPS if tlsCfg is not nil.
func serveS3(t *testing.T, fsys *s3.FS, tlsCfg *tls.Config) *ftptest.Server {
	t.Helper()
	return ftptest.NewServer(t, &ftptest.Options{NoAnonymous: true, Configure: func(s *ftptest.Server) {
		s.TLSConfig = tlsCfg
		if err := s.Users.AddUser("s3", auth.Account{Password: "pw", FS: fsys, Perm: pier.AllPerms}); err != nil {
			t.Fatal(err)
		}
	}})
}

// TestFTPAbort: ABOR during a multipart STOR leaves no object and no
// pending multipart upload, and the session goes on.
func TestFTPAbort(t *testing.T) {
	srv := s3test.Start(t)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{PartSize: s3.MinPartSize})
	ftpSrv := serveS3(t, fsys, nil)
	c := ftpSrv.Dial(t)
	c.Login(t, "s3", "pw")
	c.Expect(t, "TYPE I", 200)
	dc := c.Passive(t)
	c.Send(t, "STOR big.bin")
	c.ExpectReply(t, 150)
	// Written once the server took most of it: parts are on their way.
	if _, err := dc.Write(randomData(24 * 1024 * 1024)); err != nil {
		t.Fatal(err)
	}
	c.Send(t, "ABOR")
	c.ExpectReply(t, 426)
	c.ExpectReply(t, 226)
	c.Expect(t, "NOOP", 200)
	checkMissing(t, srv, "big.bin")
	checkNoUploads(t, srv)
}

// TestFTPRetrieveCut: a download that reads parts ahead (and so goes
// out through pier.Sender) and whose client resets the data connection
// midway ends with 426; the session goes on, and the same object then
// downloads whole and byte-exact, and so does one over TLS (what pier
// writes there goes through crypto/tls in pieces).
func TestFTPRetrieveCut(t *testing.T) {
	srv := s3test.Start(t)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{PartSize: s3.MinPartSize, Buffers: s3.NewBuffers(8)})
	data := randomData(10 * s3.MinPartSize) // past the 8 parts left that reading ahead needs
	if _, err := srv.Client.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String("big.bin"),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}); err != nil {
		t.Fatal(err)
	}
	cert, err := tlscert.SelfSigned("localhost")
	if err != nil {
		t.Fatal(err)
	}
	ftpSrv := serveS3(t, fsys, &tls.Config{Certificates: []tls.Certificate{cert}})
	c := ftpSrv.Dial(t)
	c.Login(t, "s3", "pw")
	c.Expect(t, "TYPE I", 200)
	dc := c.Passive(t)
	c.Send(t, "RETR big.bin")
	c.ExpectReply(t, 150)
	dc.SetReadDeadline(time.Now().Add(ioDeadline))
	if _, err := io.ReadFull(dc, make([]byte, 3*s3.MinPartSize/2)); err != nil {
		t.Fatal(err)
	}
	if tc, ok := dc.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0) // a reset, not a clean end of file
	}
	dc.Close()
	c.ExpectReply(t, 426)
	c.Expect(t, "NOOP", 200)
	if got := c.Retrieve(t, "RETR big.bin"); !bytes.Equal(got, data) {
		t.Errorf("RETR after a cut one: %d bytes, not the object's %d", len(got), len(data))
	}

	// ServerName: the key of the session cache, for the data connections
	// to resume the control connection's session.
	cfg := &tls.Config{ServerName: "localhost", InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	tc := ftpSrv.Dial(t)
	tc.AuthTLS(t, cfg)
	tc.Login(t, "s3", "pw")
	tc.Expect(t, "PBSZ 0", 200)
	tc.Expect(t, "PROT P", 200)
	tc.Expect(t, "TYPE I", 200)
	tc.DataTLS = cfg
	if got := tc.Retrieve(t, "RETR big.bin"); !bytes.Equal(got, data) {
		t.Errorf("RETR over TLS: %d bytes, not the object's %d", len(got), len(data))
	}
}

// TestFTP serves a bucket with a real pier.Server and drives it with
// jlaffaye/ftp.
func TestFTP(t *testing.T) {
	srv := s3test.Start(t)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "ftp", PartSize: s3.MinPartSize})
	ftpSrv := serveS3(t, fsys, nil)
	c, err := ftp.Dial(ftpSrv.Addr, ftp.DialWithTimeout(ioDeadline))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("s3", "pw"); err != nil {
		t.Fatal(err)
	}
	retr := func(name string, offset uint64) []byte {
		t.Helper()
		r, err := c.RetrFrom(name, offset)
		if err != nil {
			t.Fatalf("RETR %s at %d: %v", name, offset, err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("RETR %s: %v", name, err)
		}
		return b
	}

	if err := c.MakeDir("/up"); err != nil {
		t.Fatalf("MKD: %v", err)
	}
	data := randomData(7*1024*1024 + 11) // two parts
	if err := c.Stor("/up/data.bin", bytes.NewReader(data)); err != nil {
		t.Fatalf("STOR: %v", err)
	}
	obj, err := srv.Client.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: &srv.Bucket, Key: aws.String("ftp/up/data.bin")})
	if err != nil || aws.ToInt64(obj.ContentLength) != int64(len(data)) {
		t.Fatalf("the object after STOR: %v, %v", obj, err)
	}
	checkNoUploads(t, srv)
	if got := retr("/up/data.bin", 0); !bytes.Equal(got, data) {
		t.Errorf("RETR: %d bytes, not the %d stored", len(got), len(data))
	}
	if got := retr("/up/data.bin", 6*1024*1024); !bytes.Equal(got, data[6*1024*1024:]) {
		t.Errorf("REST+RETR: %d bytes, not the object's tail", len(got))
	}
	if size, err := c.FileSize("/up/data.bin"); err != nil || size != int64(len(data)) {
		t.Errorf("SIZE = %d, %v", size, err)
	}

	// APPE and REST+STOR.
	if err := c.Stor("/up/small.txt", bytes.NewReader([]byte("hello"))); err != nil {
		t.Fatalf("STOR: %v", err)
	}
	if err := c.Append("/up/small.txt", bytes.NewReader([]byte(" world"))); err != nil {
		t.Fatalf("APPE: %v", err)
	}
	if got := string(retr("/up/small.txt", 0)); got != "hello world" {
		t.Errorf("after APPE: %q", got)
	}
	if err := c.StorFrom("/up/small.txt", bytes.NewReader([]byte("W0rld!")), 6); err != nil {
		t.Fatalf("REST+STOR: %v", err)
	}
	if got := string(retr("/up/small.txt", 0)); got != "hello W0rld!" {
		t.Errorf("after REST+STOR: %q", got)
	}

	entries, err := c.List("/up")
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
		if e.Time.IsZero() {
			t.Errorf("LIST: %s has no time", e.Name)
		}
	}
	if !slices.Equal(names, []string{"data.bin", "small.txt"}) {
		t.Errorf("LIST /up = %q", names)
	}

	// RNFR/RNTO of a file; of a folder, refused.
	if err := c.Rename("/up/small.txt", "/up/renamed.txt"); err != nil {
		t.Fatalf("RNFR/RNTO: %v", err)
	}
	if got := string(retr("/up/renamed.txt", 0)); got != "hello W0rld!" {
		t.Errorf("after rename: %q", got)
	}
	if _, err := c.FileSize("/up/small.txt"); replyCode(err) != 550 {
		t.Errorf("SIZE of the old name: %v, want 550", err)
	}
	if err := c.Rename("/up", "/down"); replyCode(err) != 550 {
		t.Errorf("RNTO of a folder: %v, want 550", err)
	}

	// RMD refuses a folder with files; DELE, then RMD.
	if err := c.RemoveDir("/up"); replyCode(err) != 550 {
		t.Errorf("RMD of a full folder: %v, want 550", err)
	}
	for _, name := range []string{"/up/data.bin", "/up/renamed.txt"} {
		if err := c.Delete(name); err != nil {
			t.Errorf("DELE %s: %v", name, err)
		}
	}
	if err := c.RemoveDir("/up"); err != nil {
		t.Errorf("RMD: %v", err)
	}
	list, err := srv.Client.ListObjectsV2(context.Background(), &awss3.ListObjectsV2Input{Bucket: &srv.Bucket, Prefix: aws.String("ftp/")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list.Contents {
		t.Errorf("%q left in the bucket", aws.ToString(o.Key))
	}
}

// TestFTPMFMT: MFMT stores the time in the object's metadata; MDTM and
// MLST report it, the object's bytes, content type and other metadata
// stay, and a rename keeps it. LIST shows the object's LastModified.
func TestFTPMFMT(t *testing.T) {
	srv := s3test.Start(t)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "ftp"})
	ftpSrv := serveS3(t, fsys, nil)
	ctx := t.Context()
	data := randomData(100_000)
	_, err := srv.Client.PutObject(ctx, &awss3.PutObjectInput{
		Bucket:      &srv.Bucket,
		Key:         aws.String("ftp/doc.txt"),
		Body:        bytes.NewReader(data),
		ContentType: aws.String("text/plain; charset=utf-8"),
		Metadata:    map[string]string{"owner": "alice"},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := ftpSrv.Dial(t)
	c.Login(t, "s3", "pw")
	c.Expect(t, "TYPE I", 200)
	if got := c.Expect(t, "MFMT 20200102030405 doc.txt", 213); got != "Modify=20200102030405; /doc.txt." {
		t.Errorf("MFMT reply %q", got)
	}
	if got := c.Expect(t, "MDTM doc.txt", 213); got != "20200102030405" {
		t.Errorf("MDTM after MFMT: %q", got)
	}
	if got := c.Expect(t, "MLST doc.txt", 250); !strings.Contains(got, "modify=20200102030405;") {
		t.Errorf("MLST after MFMT: %q", got)
	}
	head, err := srv.Client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &srv.Bucket, Key: aws.String("ftp/doc.txt")})
	if err != nil {
		t.Fatal(err)
	}
	if got := head.Metadata["mtime"]; got != "1577934245" {
		t.Errorf("x-amz-meta-mtime = %q, want 1577934245", got)
	}
	if head.Metadata["owner"] != "alice" || aws.ToString(head.ContentType) != "text/plain; charset=utf-8" {
		t.Errorf("after MFMT: metadata %v, content type %q; want the old ones kept", head.Metadata, aws.ToString(head.ContentType))
	}
	if got := c.Retrieve(t, "RETR doc.txt"); !bytes.Equal(got, data) {
		t.Errorf("after MFMT, RETR gives %d bytes, not the object's", len(got))
	}
	// LIST shows LastModified, the time of the copy MFMT made.
	if l := string(c.Retrieve(t, "LIST")); strings.Contains(l, "2020") {
		t.Errorf("LIST shows the MFMT time: %q", l)
	}
	// A second MFMT replaces the time; a rename keeps it.
	c.Expect(t, "MFMT 19991231235959 doc.txt", 213)
	c.Expect(t, "RNFR doc.txt", 350)
	c.Expect(t, "RNTO moved.txt", 250)
	if got := c.Expect(t, "MDTM moved.txt", 213); got != "19991231235959" {
		t.Errorf("MDTM after RNTO: %q", got)
	}
	// Folders have no time of their own.
	c.Expect(t, "MKD dir", 257)
	c.Expect(t, "MFMT 20200102030405 dir", 550)
	c.Expect(t, "MFMT 20200102030405 missing", 550)
}

// TestFTPWaitsForBuffer: with every part buffer taken, a STOR gets its
// 150 only once one is free, so that its client doesn't send while
// there is nowhere to put the bytes; then it completes. ABOR ends such a
// wait, and so does a client that goes away, and neither keeps a
// buffer.
func TestFTPWaitsForBuffer(t *testing.T) {
	srv := s3test.Start(t)
	bufs := s3.NewBuffers(1)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{PartSize: s3.MinPartSize, Buffers: bufs})
	ftpSrv := serveS3(t, fsys, nil)
	login := func() *ftptest.Conn {
		c := ftpSrv.Dial(t)
		c.Login(t, "s3", "pw")
		c.Expect(t, "TYPE I", 200)
		return c
	}
	write := func(dc io.Writer, data []byte) {
		t.Helper()
		if _, err := dc.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	// holder takes the only buffer with an upload it keeps open.
	holder := login()
	hdc := holder.Passive(t)
	holder.Send(t, "STOR a.bin")
	holder.ExpectReply(t, 150)
	dataA := randomData(3 * s3.MinPartSize / 2)
	write(hdc, dataA[:1000])

	waiter := login()
	wdc := waiter.Passive(t)
	waiter.Send(t, "STOR b.bin")
	replies := make(chan int, 1)
	go func() {
		code, _, err := waiter.ReadReply()
		if err != nil {
			code = -1
		}
		replies <- code
	}()
	// A window to see a wrong early reply in, not a performance
	// threshold: a slow machine can only hide the bug, never fail here.
	select {
	case code := <-replies:
		t.Fatalf("STOR with no part buffer free: reply %d while the other upload holds it, want none yet", code)
	case <-time.After(300 * time.Millisecond):
	}
	write(hdc, dataA[1000:])
	hdc.Close()
	holder.ExpectReply(t, 226)
	if code := <-replies; code != 150 {
		t.Fatalf("STOR once the buffer is free: %d, want 150", code)
	}
	dataB := randomData(1 << 20)
	write(wdc, dataB)
	wdc.Close()
	waiter.ExpectReply(t, 226)
	if got := load(t, fsys, "a.bin", 0); !bytes.Equal(got, dataA) {
		t.Errorf("a.bin: %d bytes, not the %d sent", len(got), len(dataA))
	}
	if got := load(t, fsys, "b.bin", 0); !bytes.Equal(got, dataB) {
		t.Errorf("b.bin: %d bytes, not the %d sent", len(got), len(dataB))
	}

	// ABOR, and a client that goes, while waiting for the buffer.
	hdc = holder.Passive(t)
	holder.Send(t, "STOR c.bin")
	holder.ExpectReply(t, 150)
	write(hdc, []byte("c"))
	waiter.Passive(t)
	waiter.Send(t, "STOR d.bin")
	waitForWaiters(t, bufs, 1) // its open waits for the buffer
	waiter.Send(t, "ABOR")
	// The STOR ends before its 150, as any command ABOR cancels; then
	// ABOR's own reply, with no transfer to abort.
	waiter.ExpectReply(t, 451)
	waiter.ExpectReply(t, 225)
	waiter.Expect(t, "NOOP", 200)
	gone := login()
	gone.Passive(t)
	gone.Send(t, "STOR e.bin")
	waitForWaiters(t, bufs, 1)
	gone.Close()
	waitForWaiters(t, bufs, 0) // the session's end ended the wait
	hdc.Close()
	holder.ExpectReply(t, 226)
	// One buffer in all: had a wait kept it, this would never start.
	holder.Store(t, "STOR f.bin", []byte("f"))
	for _, name := range []string{"d.bin", "e.bin"} {
		checkMissing(t, srv, name)
	}
	checkNoUploads(t, srv)
}

// waitForWaiters waits until n transfers wait for a buffer of b, for up
// to ioDeadline (a bound on a bug, not a performance threshold).
func waitForWaiters(t *testing.T, b *s3.Buffers, n int) {
	t.Helper()
	deadline := time.Now().Add(ioDeadline)
	for b.Waiting() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d transfers wait for a buffer, want %d", b.Waiting(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/textproto"
	"slices"
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

// TestFTPAbort: ABOR during a multipart STOR leaves no object and no
// pending multipart upload, and the session goes on.
func TestFTPAbort(t *testing.T) {
	srv := s3test.Start(t)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{PartSize: s3.MinPartSize})
	ftpSrv := ftptest.NewServer(t, &ftptest.Options{NoAnonymous: true, Configure: func(s *ftptest.Server) {
		if err := s.Users.AddUser("s3", auth.Account{Password: "pw", FS: fsys, Perm: pier.AllPerms}); err != nil {
			t.Fatal(err)
		}
	}})
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

// TestFTP serves a bucket with a real pier.Server and drives it with
// jlaffaye/ftp.
func TestFTP(t *testing.T) {
	srv := s3test.Start(t)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "ftp", PartSize: s3.MinPartSize})
	ftpSrv := ftptest.NewServer(t, &ftptest.Options{NoAnonymous: true, Configure: func(s *ftptest.Server) {
		if err := s.Users.AddUser("s3", auth.Account{Password: "pw", FS: fsys, Perm: pier.AllPerms}); err != nil {
			t.Fatal(err)
		}
	}})
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

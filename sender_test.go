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

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
)

// senderFS wraps a FileSystem; the files it opens for reading hide the
// *os.File beneath and implement pier.Sender, as back-ends that hold the
// bytes in memory do (fsys/s3): SendTo gives the whole rest of the file
// to one Write, or, with failAt, fails with a read error after failAt
// bytes. With upper, they are instead an *os.File embedded with a Read
// of their own that upper-cases what it reads (and so an io.WriterTo,
// os.File's, that pier must not use).
type senderFS struct {
	pier.FileSystem
	failAt int
	upper  bool
	sends  atomic.Int32
}

func (s *senderFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	f, err := s.FileSystem.OpenFile(ctx, name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		return f, err
	}
	if s.upper {
		return upperFile{f.(*os.File)}, nil
	}
	return &senderFile{f: f, fsys: s}, nil
}

// upperFile is an *os.File whose reads are upper-cased.
type upperFile struct{ *os.File }

func (u upperFile) Read(p []byte) (int, error) {
	n, err := u.File.Read(p)
	copy(p[:n], bytes.ToUpper(p[:n]))
	return n, err
}

type senderFile struct {
	f    pier.File
	fsys *senderFS
}

func (f *senderFile) Read(p []byte) (int, error)  { return f.f.Read(p) }
func (f *senderFile) Write(p []byte) (int, error) { return f.f.Write(p) }
func (f *senderFile) Close() error                { return f.f.Close() }

var errBackend = errors.New("back-end read failed")

func (f *senderFile) SendTo(w io.Writer) (int64, error) {
	f.fsys.sends.Add(1)
	all, err := io.ReadAll(f.f)
	if err != nil {
		return 0, err
	}
	if f.fsys.failAt > 0 {
		n, err := w.Write(all[:f.fsys.failAt])
		if err != nil {
			return int64(n), err
		}
		return int64(n), errBackend
	}
	n, err := w.Write(all)
	return int64(n), err
}

// TestRetrieveSender: a download from a file that implements pier.Sender
// goes through it (pier writes what it is given in pieces, renewing its
// deadlines) and reaches the client exactly; TYPE A does not use it (the
// line ends must be converted); a read error inside SendTo is the
// file's (451), not the connection's. A File that embeds an *os.File
// with a Read of its own is read with that Read, not os.File's WriteTo.
func TestRetrieveSender(t *testing.T) {
	srv := newServer(t, nil)
	wfs := &senderFS{FileSystem: srv.Root}
	if err := srv.Users.AddUser("wt", auth.Account{Password: "wt-pw", FS: wfs, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef\n"), 3<<20/17)
	if err := os.WriteFile(srv.Dir+"/big", big, 0o644); err != nil {
		t.Fatal(err)
	}
	c := srv.Dial(t)
	c.Login(t, "wt", "wt-pw")
	c.Expect(t, "TYPE I", 200)

	if got := c.Retrieve(t, "RETR big"); !bytes.Equal(got, big) {
		t.Errorf("RETR: %d bytes, not the file's %d", len(got), len(big))
	}
	if n := wfs.sends.Load(); n != 1 {
		t.Errorf("SendTo called %d times; want 1", n)
	}

	c.Expect(t, "TYPE A", 200)
	want := strings.ReplaceAll(string(big), "\n", "\r\n")
	if got := c.Retrieve(t, "RETR big"); string(got) != want {
		t.Errorf("RETR in TYPE A: %d bytes, want %d with CRLF line ends", len(got), len(want))
	}
	if n := wfs.sends.Load(); n != 1 {
		t.Errorf("SendTo called in TYPE A (%d calls)", n)
	}
	c.Expect(t, "TYPE I", 200)

	wfs.failAt = 1 << 20
	dc := c.Passive(t)
	c.Send(t, "RETR big")
	c.ExpectReply(t, 150)
	got, _ := io.ReadAll(dc)
	dc.Close()
	// A failed transfer's connection is reset: the client gets a part
	// of what was written before the error, no more.
	if len(got) > wfs.failAt || !bytes.HasPrefix(big, got) {
		t.Errorf("failed RETR: client got %d bytes, not a prefix of the %d written before the error", len(got), wfs.failAt)
	}
	c.ExpectReply(t, 451)
	c.Expect(t, "NOOP", 200)

	wfs.failAt, wfs.upper = 0, true
	if got := c.Retrieve(t, "RETR big"); !bytes.Equal(got, bytes.ToUpper(big)) {
		t.Errorf("RETR of an embedded *os.File with its own Read: %d bytes, not the %d it reads", len(got), len(big))
	}
}

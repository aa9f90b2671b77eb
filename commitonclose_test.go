package pier_test

import (
	"bytes"
	"context"
	"io/fs"
	"strconv"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
)

// commitFS is an outcomeFS that says its uploads commit on Close
// (pier.CommitOnCloseFS) when commits is set, and refuses to open the
// name "refused".
type commitFS struct {
	*outcomeFS
	commits bool
}

func (f commitFS) CommitsOnClose() bool { return f.commits }

func (f commitFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	if name == "refused" {
		return nil, &pier.ReplyError{Code: 452, Message: "No room for this upload."}
	}
	return f.outcomeFS.OpenFile(ctx, name, flag, perm)
}

func commitSetup(t *testing.T, commits bool) (*ftptest.Server, *outcomeFS, *ftptest.Conn) {
	t.Helper()
	srv := newServer(t, nil)
	ofs := newOutcomeFS(srv.Root)
	t.Cleanup(ofs.unblock)
	if err := srv.Users.AddUser(outcomeUser, auth.Account{Password: outcomePass, FS: commitFS{ofs, commits}, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	c := outcomeLogin(t, srv)
	c.Expect(t, "TYPE I", 200)
	return srv, ofs, c
}

// openedYet returns the file the back-end has opened, or nil if none.
func openedYet(ofs *outcomeFS) *outcomeFile {
	select {
	case f := <-ofs.opened:
		return f
	default:
		return nil
	}
}

// TestCommitOnCloseOpensBefore150: on a file system whose uploads commit
// on Close, STOR and APPE open the file before the 150 (on any other, at
// the first byte); an open that fails is the reply, with no 150; and an
// upload so opened that never gets a byte is ended with Abort.
func TestCommitOnCloseOpensBefore150(t *testing.T) {
	t.Parallel()
	for _, commits := range []bool{true, false} {
		for _, cmd := range []string{"STOR", "APPE"} {
			t.Run(cmd+" commits "+strconv.FormatBool(commits), func(t *testing.T) {
				t.Parallel()
				srv, ofs, c := commitSetup(t, commits)
				dc := c.Passive(t)
				c.Send(t, cmd+" up.bin")
				expectPrelim(t, c)
				f := openedYet(ofs)
				if commits != (f != nil) {
					t.Fatalf("at the 150, opened %v; want %v", f != nil, commits)
				}
				data := []byte("the upload's bytes")
				if _, err := dc.Write(data); err != nil {
					t.Fatal(err)
				}
				dc.Close()
				c.ExpectReply(t, 226)
				if f == nil {
					f = ofs.waitOpened(t)
				}
				f.expectClosedOnce(t)
				if got := readFile(t, srv, "up.bin"); !bytes.Equal(got, data) {
					t.Errorf("up.bin holds %q, want %q", got, data)
				}
			})
		}
	}

	t.Run("open refused", func(t *testing.T) {
		t.Parallel()
		_, ofs, c := commitSetup(t, true)
		c.Passive(t)
		c.Send(t, "STOR refused")
		c.ExpectReply(t, 452)
		c.Expect(t, "NOOP", 200)
		if f := openedYet(ofs); f != nil {
			t.Errorf("opened %s", f.name)
		}
	})

	t.Run("data connection refused", func(t *testing.T) {
		t.Parallel()
		_, ofs, c := commitSetup(t, true)
		c.Expect(t, "EPRT |1|127.0.0.1|"+strconv.Itoa(closedPort(t))+"|", 200)
		c.Send(t, "STOR up.bin")
		expectPrelim(t, c)
		c.ExpectReply(t, 425)
		c.Expect(t, "NOOP", 200)
		ofs.waitOpened(t).expectAbortedOnce(t)
	})

	t.Run("ABOR before a byte", func(t *testing.T) {
		t.Parallel()
		_, ofs, c := commitSetup(t, true)
		c.Passive(t)
		c.Send(t, "STOR up.bin")
		expectPrelim(t, c)
		f := openedYet(ofs)
		if f == nil {
			t.Fatal("not opened at the 150")
		}
		c.Send(t, "ABOR")
		c.ExpectReply(t, 426)
		c.ExpectReply(t, 226)
		c.Expect(t, "NOOP", 200)
		f.expectAbortedOnce(t)
	})

	t.Run("empty upload", func(t *testing.T) {
		t.Parallel()
		srv, ofs, c := commitSetup(t, true)
		dc := c.Passive(t)
		c.Send(t, "STOR empty")
		expectPrelim(t, c)
		dc.Close()
		c.ExpectReply(t, 226)
		ofs.waitOpened(t).expectClosedOnce(t)
		if got := readFile(t, srv, "empty"); len(got) != 0 {
			t.Errorf("empty holds %d bytes", len(got))
		}
	})
}

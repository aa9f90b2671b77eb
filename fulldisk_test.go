package pier_test

// A full disk during an upload.

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
)

// enospc is what a full disk says.
var enospc = &fs.PathError{Op: "write", Path: "file", Err: syscall.ENOSPC}

// fullDiskFS wraps a FileSystem so that every file opened for writing
// takes room bytes, then fails with ENOSPC.
type fullDiskFS struct {
	pier.FileSystem
	room int
}

func (f *fullDiskFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	file, err := f.FileSystem.OpenFile(ctx, name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return file, err
	}
	return &fullFile{File: file, room: f.room}, nil
}

type fullFile struct {
	pier.File
	room int
}

func (f *fullFile) Write(p []byte) (int, error) {
	if len(p) <= f.room {
		n, err := f.File.Write(p)
		f.room -= n
		return n, err
	}
	n, _ := f.File.Write(p[:f.room])
	f.room -= n
	return n, enospc
}

// TestFullDisk: an upload that fills the disk gets 452 (RFC 959:
// insufficient storage), the session goes on, and what was written stays.
func TestFullDisk(t *testing.T) {
	noGC(t)
	const room = 100_000
	srv := newServer(t, nil)
	if err := srv.Users.AddUser("full", auth.Account{Password: "pw", FS: &fullDiskFS{srv.Root, room}, Perm: pier.AllPerms}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, typ string
		data      []byte
	}{
		{"binary", "TYPE I", pattern(1 << 20)},
		{"ASCII", "TYPE A", bytes.Repeat([]byte("a line of text\n"), 70_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countResources(t)
			c := srv.Dial(t)
			c.Login(t, "full", "pw")
			c.Expect(t, tt.typ, 200)
			dc := c.Passive(t)
			c.Send(t, "STOR big-"+tt.name)
			expectPrelim(t, c)
			go func() {
				// The server stops reading at the full disk: the write
				// fails then, as it should.
				dc.SetWriteDeadline(time.Now().Add(ioDeadline))
				dc.Write(tt.data)
				dc.Close()
			}()
			if text := c.ExpectReply(t, 452); !strings.Contains(text, "Insufficient storage") {
				t.Errorf("452 text %q", text)
			}
			c.Expect(t, "NOOP", 200)
			got := readFile(t, srv, "big-"+tt.name)
			if len(got) != room || !bytes.Equal(got, tt.data[:room]) {
				t.Errorf("partial file: %d bytes, want the first %d", len(got), room)
			}
			// Room for a small file: the session still works.
			c.Store(t, "STOR small", []byte("small\n"))
			c.Close()
			expectNoLeak(t, before)
		})
	}
}

package pier_test

// STAT and MLST of a single path over the control connection.

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
)

// TestMLSTRootPerm: the root's perm fact leaves out d and f: it can't be
// removed or renamed (RFC 3659 §7.5.5: the fact says what will be allowed).
func TestMLSTRootPerm(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	mkdirs(t, srv, "sub")
	c := login(t, srv)
	text := c.Expect(t, "MLST /", 250)
	if !strings.Contains(text, "perm=celmp;") {
		t.Errorf("MLST /: %q, want perm=celmp", text)
	}
	c.Expect(t, "RMD /", 550)
	c.Expect(t, "RNFR /", 550)
	// A folder below the root keeps them.
	if text := c.Expect(t, "MLST /sub", 250); !strings.Contains(text, "perm=cdeflmp;") {
		t.Errorf("MLST /sub: %q, want perm=cdeflmp", text)
	}
	listing := string(c.Retrieve(t, "MLSD /"))
	for _, line := range strings.Split(listing, "\r\n") {
		if strings.Contains(line, "type=cdir") && !strings.Contains(line, "perm=celmp;") {
			t.Errorf("MLSD / cdir: %q, want perm=celmp", line)
		}
	}
}

// failDirFS fails OpenDir: a folder that can't be read.
type failDirFS struct{ pier.FileSystem }

func (failDirFS) OpenDir(context.Context, string) (pier.DirReader, error) {
	return nil, fs.ErrPermission
}

// TestSTATUnreadableFolder: STAT of a folder that can't be opened gets the
// error's reply, not an empty 213.
func TestSTATUnreadableFolder(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	mkdirs(t, srv, "locked")
	if err := srv.Users.AddUser("fd", auth.Account{Password: "p", FS: failDirFS{srv.Root}}); err != nil {
		t.Fatal(err)
	}
	c := srv.Dial(t)
	c.Login(t, "fd", "p")
	c.Expect(t, "STAT locked", 550)
	c.Expect(t, "NOOP", 200)
}

// TestSTATGlob: STAT takes glob characters literally (a name may hold
// them); when no such name exists, the reply says that globbing is not
// supported, in pyftpdlib's words.
func TestSTATGlob(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	writeFile(t, srv, "a.txt", []byte("x"))
	writeFile(t, srv, "photo [1].jpg", []byte("x"))
	c := login(t, srv)
	runSteps(t, c, []step{
		{"STAT *", 550, "Globbing not supported."},
		{"STAT *.txt", 550, "Globbing not supported."},
		{"STAT a.tx?", 550, "Globbing not supported."},
		{"STAT [ab].txt", 550, "Globbing not supported."},
		{"STAT -l *.txt", 550, "Globbing not supported."},
		{"STAT nope", 550, "No such file or directory."},
		{"STAT a.txt", 213, ""},
		{"STAT photo [1].jpg", 213, ""},
	})
	// LIST and NLST take them literally too, with the usual 550.
	c.Expect(t, "EPSV", 229)
	if text := c.Expect(t, "NLST *.txt", 550); text != "No such file or directory." {
		t.Errorf("NLST *.txt: %q", text)
	}
}

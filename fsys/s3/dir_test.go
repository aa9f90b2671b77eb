package s3_test

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/pierftp/pier/fsys/s3"
	"github.com/pierftp/pier/internal/s3test"
)

// TestFTPDirRequests: CWD, MLSD and LIST look their path up with one
// listing (pier.DirStatFS), not a HEAD that a folder fails and then a
// listing; what is no folder gets the replies a disk gives.
func TestFTPDirRequests(t *testing.T) {
	srv := s3test.Start(t)
	var log opLog
	fsys := s3.New(countingClient(srv.Client, &log), srv.Bucket, s3.Options{})
	putKeys(t, srv, map[string]string{
		"sub/":     "",        // a folder with its marker
		"sub/f":    "in sub",  //
		"imp/k":    "k",       // a folder without one
		"file":     "a file",  //
		"sub2/":    "",        // a folder ...
		"sub2.txt": "sibling", // ... with a key between sub2 and sub2/
	})
	c := serveS3(t, fsys, nil).Dial(t)
	c.Login(t, "s3", "pw")
	list := "ListObjectsV2"
	cwd := func(arg string, code int, want []string) string {
		t.Helper()
		log.take()
		text := c.Expect(t, "CWD "+arg, code)
		if ops := log.take(); want != nil && !slices.Equal(ops, want) {
			t.Errorf("CWD %s: the store was asked %q, want %q", arg, ops, want)
		}
		return text
	}
	cwd("/sub", 250, []string{list})
	cwd("/imp", 250, []string{list})
	cwd("/", 250, []string{})
	if text := cwd("/file", 550, []string{list}); text != "Not a directory." {
		t.Errorf("CWD onto a file: 550 %q", text)
	}
	if text := cwd("/nothing", 550, []string{list}); text != "No such file or directory." {
		t.Errorf("CWD into nothing: 550 %q", text)
	}
	if text := cwd("/file/x", 550, []string{list, "HeadObject"}); text != "Not a directory." {
		t.Errorf("CWD below a file: 550 %q", text)
	}
	// sub2.txt sorts between sub2 and sub2/ on S3: a second listing
	// there; versitygw lists the folder's keys at its name's place.
	log.take()
	c.Expect(t, "CWD /sub2", 250)
	if ops := log.take(); len(ops) < 1 || len(ops) > 2 || slices.Contains(ops, "HeadObject") {
		t.Errorf("CWD /sub2: the store was asked %q, want one or two listings", ops)
	}
	for _, up := range []string{"CDUP", "XCUP"} {
		c.Expect(t, "CWD /sub", 250)
		log.take()
		c.Expect(t, up, 250)
		if ops := log.take(); len(ops) != 0 {
			t.Errorf("%s to the root: the store was asked %q", up, ops)
		}
	}
	c.Expect(t, "CWD /sub/..", 250)

	// The look-ups of the pipeline and of OpenDir, then the listing:
	// three listings (there were two HEADs and five requests).
	c.Expect(t, "TYPE I", 200)
	for _, cmd := range []string{"MLSD /sub", "LIST /sub", "NLST /sub"} {
		log.take()
		got := string(c.Retrieve(t, cmd))
		if !strings.Contains(got, "f") {
			t.Errorf("%s: %q", cmd, got)
		}
		if ops := log.take(); !slices.Equal(ops, []string{list, list, list}) {
			t.Errorf("%s: the store was asked %q, want three listings", cmd, ops)
		}
	}
	// LIST of nothing: one listing, and the reply a disk gives.
	dc := c.Passive(t)
	log.take()
	c.Expect(t, "LIST /nothing", 550)
	dc.Close()
	if ops := log.take(); !slices.Equal(ops, []string{list}) {
		t.Errorf("LIST of nothing: the store was asked %q, want one listing", ops)
	}
	// LIST of a file shows it, with the time MFMT stored: a listing,
	// then the listing's own HEAD.
	c.Expect(t, "MFMT 20200102030405 /file", 213)
	log.take()
	if got := string(c.Retrieve(t, "LIST /file")); !strings.Contains(got, " file") || !strings.Contains(got, " 6 ") || !strings.Contains(got, "Jan 02  2020") {
		t.Errorf("LIST of a file: %q", got)
	}
	if ops := log.take(); !slices.Equal(ops, []string{list, "HeadObject"}) {
		t.Errorf("LIST of a file: the store was asked %q, want a listing and a HEAD", ops)
	}
	c.Expect(t, "NOOP", 200)
}

// TestStatDir: StatDir says what Stat does of each kind of name (a
// file's time may differ: the listing's).
func TestStatDir(t *testing.T) {
	srv := s3test.Start(t)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "home"})
	putKeys(t, srv, map[string]string{
		"home/f":      "data",
		"home/d/":     "",
		"home/d/x":    "data",
		"home/imp/y":  "data",
		"home/f2":     "data",
		"home/f2-sib": "data",
		"home/h/":     "",
		"home/h.txt":  "data",
		"other":       "data",
	})
	ctx := t.Context()
	for _, name := range []string{".", "f", "f2", "d", "imp", "h", "d/x", "missing", "d/missing", "f/x", "f/x/y", "other"} {
		fi, err := fsys.StatDir(ctx, name)
		st, serr := fsys.Stat(ctx, name)
		switch {
		case (err == nil) != (serr == nil):
			t.Errorf("StatDir(%q): %v; Stat: %v", name, err, serr)
		case err != nil:
			for _, e := range []error{fs.ErrNotExist, errNotDir} {
				if errors.Is(err, e) != errors.Is(serr, e) {
					t.Errorf("StatDir(%q): %v; Stat: %v", name, err, serr)
				}
			}
		case fi.Name() != st.Name() || fi.IsDir() != st.IsDir() || fi.Size() != st.Size() || fi.Mode() != st.Mode() ||
			(fi.IsDir() && !fi.ModTime().Equal(st.ModTime())):
			t.Errorf("StatDir(%q) = %s dir %v size %d mode %v; Stat: %s dir %v size %d mode %v", name,
				fi.Name(), fi.IsDir(), fi.Size(), fi.Mode(), st.Name(), st.IsDir(), st.Size(), st.Mode())
		}
	}
}

// errNotDir is syscall.ENOTDIR, for errors.Is.
var errNotDir error = syscall.ENOTDIR

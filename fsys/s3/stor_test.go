package s3_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier/fsys/s3"
	"github.com/pierftp/pier/internal/s3test"
)

// TestFTPStorRequests: before its 150, a STOR looks its name (and a new
// file's folder) up with a listing each (pier.UploadStatFS), not a HEAD
// and a listing for each: a new file at the top is one request and a PUT,
// one in a folder two. Where another key sorts between "name" and
// "name/", the look-up is Stat's. What can't be written to gets the
// replies a disk gives, and what was written is what was sent.
func TestFTPStorRequests(t *testing.T) {
	srv := s3test.Start(t)
	var log opLog
	fsys := s3.New(countingClient(srv.Client, &log), srv.Bucket, s3.Options{PartSize: s3.MinPartSize})
	putKeys(t, srv, map[string]string{
		"sub/":         "",        // a folder with its marker
		"implicit/k":   "k",       // a folder without one
		"near.bin.tmp": "tmp",     // sorts between near.bin and near.bin/
		"IMG_10.jpg":   "img",     // sorts after IMG_1/
		"file":         "a file",  // no folder
		"sub2/":        "",        // a folder ...
		"sub2.txt":     "sibling", // ... with a key between sub2 and sub2/
	})
	c := serveS3(t, fsys, nil).Dial(t)
	c.Login(t, "s3", "pw")
	c.Expect(t, "TYPE I", 200)

	// stor uploads body to name with cmd and returns the store's
	// operations for it.
	stor := func(cmd, name string, body []byte) []string {
		t.Helper()
		dc := c.Passive(t)
		log.take()
		c.Send(t, cmd+" "+name)
		c.ExpectReply(t, 150)
		dc.SetWriteDeadline(time.Now().Add(ioDeadline))
		if _, err := dc.Write(body); err != nil {
			t.Fatal(err)
		}
		dc.Close()
		c.ExpectReply(t, 226)
		return log.take()
	}
	get := func(key string) []byte {
		t.Helper()
		out, err := srv.Client.GetObject(t.Context(), &awss3.GetObjectInput{Bucket: &srv.Bucket, Key: aws.String(key)})
		if err != nil {
			t.Fatalf("GetObject %s: %v", key, err)
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	list, put := "ListObjectsV2", "PutObject"
	for _, tc := range []struct {
		cmd, name string
		want      []string
	}{
		{"STOR", "new.bin", []string{list, put}},
		{"STOR", "new.bin", []string{list, put}}, // replaced
		{"STOR", "sub/new", []string{list, list, put}},
		{"STOR", "implicit/new", []string{list, list, put}},
		{"STOR", "IMG_1", []string{list, put}},
		// A key between near.bin and near.bin/: a listing of near.bin/.
		{"STOR", "near.bin", []string{list, list, put}},
		// sub2: one listing of sub2 on versitygw, whose order puts the
		// folder's keys at its name's place; two on S3, where sub2.txt
		// comes first.
		{"STOR", "sub2/new", nil},
	} {
		body := randomData(1000)
		ops := stor(tc.cmd, tc.name, body)
		if tc.want == nil {
			if n := len(ops); n < 3 || n > 4 || slices.Contains(ops[:n-1], "HeadObject") || ops[n-1] != put {
				t.Errorf("%s %s: the store was asked %q, want two or three listings and a PutObject", tc.cmd, tc.name, ops)
			}
		} else if !slices.Equal(ops, tc.want) {
			t.Errorf("%s %s: the store was asked %q, want %q", tc.cmd, tc.name, ops, tc.want)
		}
		if got := get(tc.name); !bytes.Equal(got, body) {
			t.Errorf("%s %s: the object holds %d bytes, not the %d sent", tc.cmd, tc.name, len(got), len(body))
		}
	}
	// APPE of a new file: its open looks the name up again (an append
	// takes no earlier answer), so only the result is checked.
	body := randomData(1000)
	stor("APPE", "sub/appended", body)
	if got := get("sub/appended"); !bytes.Equal(got, body) {
		t.Errorf("APPE: the object holds %d bytes, not the %d sent", len(got), len(body))
	}
	for key, want := range map[string]string{"near.bin.tmp": "tmp", "IMG_10.jpg": "img", "sub2.txt": "sibling"} {
		if got := get(key); string(got) != want {
			t.Errorf("%s holds %q", key, got)
		}
	}

	// refused sends cmd after a passive set-up and returns the reply's
	// text, which must have code.
	refused := func(cmd string, code int) string {
		t.Helper()
		dc := c.Passive(t)
		defer dc.Close()
		return c.Expect(t, cmd, code)
	}
	for cmd, want := range map[string]string{
		"STOR sub":          "Is a directory.",
		"STOR sub2":         "Is a directory.",
		"STOR implicit":     "Is a directory.",
		"STOR nothing/new":  "No such file or directory.",
		"STOR file/new":     "Not a directory.",
		"STOR file/x/new":   "Not a directory.",
		"APPE nothing/new":  "No such file or directory.",
		"STOR sub/new/deep": "Not a directory.",
	} {
		if text := refused(cmd, 550); text != want {
			t.Errorf("%s: 550 %q, want %q", cmd, text, want)
		}
	}
	for _, key := range []string{"nothing/new", "file/new", "sub/new/deep", "sub", "implicit"} {
		if _, err := srv.Client.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: &srv.Bucket, Key: aws.String(key)}); err == nil {
			t.Errorf("a refused STOR made %s", key)
		}
	}
	c.Expect(t, "NOOP", 200)
}

// TestStatUpload: what StatUpload says of each kind of name, against
// Stat.
func TestStatUpload(t *testing.T) {
	srv := s3test.Start(t)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "home"})
	putKeys(t, srv, map[string]string{
		"home/f":      "data",
		"home/d/":     "",
		"home/d/x":    "data",
		"home/imp/y":  "data",
		"home/f2":     "data",
		"home/f2-sib": "data",
		"home/g-sib":  "data",
		"home/h/":     "",
		"home/h.txt":  "data",
		"home/i2":     "data",
		"other":       "data",
	})
	ctx := t.Context()
	for _, tc := range []struct {
		name     string
		dir      bool
		exists   bool
		folderOK bool
	}{
		{name: "f", exists: true},
		{name: "f2", exists: true},  // before f2-sib
		{name: "g", folderOK: true}, // g-sib sorts between g and g/
		{name: "h", exists: true, dir: true},
		{name: "i", folderOK: true}, // i2 sorts after i/
		{name: "d", exists: true, dir: true},
		{name: "imp", exists: true, dir: true},
		{name: "new", folderOK: true},
		{name: "d/new", folderOK: true},
		{name: "imp/new", folderOK: true},
		{name: "nothing/new"},
		{name: "f/new"},
		{name: "d/x/new"},
	} {
		fi, folderOK, err := fsys.StatUpload(ctx, tc.name)
		st, serr := fsys.Stat(ctx, tc.name)
		switch {
		case tc.exists && err != nil:
			t.Errorf("StatUpload(%q): %v", tc.name, err)
		case tc.exists:
			if fi.IsDir() != tc.dir || fi.Name() != st.Name() || fi.IsDir() != st.IsDir() || fi.Size() != st.Size() {
				t.Errorf("StatUpload(%q) = %s dir %v size %d; Stat: %s dir %v size %d", tc.name,
					fi.Name(), fi.IsDir(), fi.Size(), st.Name(), st.IsDir(), st.Size())
			}
		case err == nil || serr == nil:
			t.Errorf("StatUpload(%q) = %v, Stat %v; want both to fail", tc.name, err, serr)
		case !errors.Is(err, fs.ErrNotExist):
			t.Errorf("StatUpload(%q): %v, want fs.ErrNotExist", tc.name, err)
		}
		if folderOK != tc.folderOK {
			t.Errorf("StatUpload(%q): folderOK %v, want %v", tc.name, folderOK, tc.folderOK)
		}
	}
}

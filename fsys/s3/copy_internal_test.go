package s3

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/internal/s3test"
)

func TestMtimeFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1577934245", time.Unix(1577934245, 0), true},
		{" 1577934245 ", time.Unix(1577934245, 0), true},
		{"1577934245.5", time.Unix(1577934245, 500_000_000), true},
		{"1577934245.123456789", time.Unix(1577934245, 123456789), true},
		{"1577934245.1234567891", time.Unix(1577934245, 123456789), true},
		{"-86400", time.Unix(-86400, 0), true},
		{"2020-01-02T03:04:05Z", time.Unix(1577934245, 0), true},
		{"2020-01-02T04:04:05.25+01:00", time.Unix(1577934245, 250_000_000), true},
		{"1577934245.x", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"", time.Time{}, false},
	} {
		got, ok := parseMtime(tc.in)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseMtime(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	for _, tm := range []time.Time{time.Unix(1577934245, 0), time.Unix(1577934245, 120_000_000), time.Unix(-1, 1)} {
		s := formatMtime(tm)
		if got, ok := parseMtime(s); !ok || !got.Equal(tm) {
			t.Errorf("formatMtime(%v) = %q, read back as %v", tm, s, got)
		}
	}
	if got := formatMtime(time.Unix(1577934245, 120_000_000)); got != "1577934245.12" {
		t.Errorf("formatMtime = %q, want 1577934245.12", got)
	}
}

// randomBytes returns n reproducible bytes.
func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 11))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// readObject reads key whole.
func readObject(t *testing.T, srv *s3test.Server, key string) []byte {
	t.Helper()
	out, err := srv.Client.GetObject(t.Context(), &awss3.GetObjectInput{Bucket: &srv.Bucket, Key: &key})
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pendingUploads counts the multipart uploads not completed nor aborted.
func pendingUploads(t *testing.T, srv *s3test.Server) int {
	t.Helper()
	out, err := srv.Client.ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: &srv.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// TestMultipartCopy renames, and sets the time of, objects over the copy
// threshold (made 5 MiB here, for MaxCopySize): they are copied in parts
// of 5 MiB (CopyPartSize), byte for byte, with their metadata, and no
// multipart upload is left pending, even when a part fails.
func TestMultipartCopy(t *testing.T) {
	srv := s3test.Start(t)
	proxy := startFaultProxy(t, srv)
	fsys := New(proxy.newClient(), srv.Bucket, Options{Prefix: "mc"})
	fsys.copyThreshold, fsys.copyPartSize = MinPartSize, MinPartSize
	ctx := t.Context()
	data := randomBytes(11*MinPartSize/2 + 7) // 2 parts: 5 MiB, 0.5 MiB + 7
	_, err := srv.Client.PutObject(ctx, &awss3.PutObjectInput{
		Bucket:      &srv.Bucket,
		Key:         aws.String("mc/big.bin"),
		Body:        bytes.NewReader(data),
		ContentType: aws.String("application/x-test"),
		Metadata:    map[string]string{"owner": "alice"},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkObject := func(key string) {
		t.Helper()
		if got := readObject(t, srv, key); !bytes.Equal(got, data) {
			t.Errorf("%s holds %d bytes, not the %d copied", key, len(got), len(data))
		}
		head, err := srv.Client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &srv.Bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(head.ContentType) != "application/x-test" || head.Metadata["owner"] != "alice" {
			t.Errorf("%s: content type %q, metadata %v; want the source's", key, aws.ToString(head.ContentType), head.Metadata)
		}
		if n := pendingUploads(t, srv); n != 0 {
			t.Errorf("%d multipart uploads left pending", n)
		}
	}

	t.Run("rename", func(t *testing.T) {
		if err := fsys.Rename(ctx, "big.bin", "renamed.bin"); err != nil {
			t.Fatal(err)
		}
		checkObject("mc/renamed.bin")
		if _, err := fsys.Stat(ctx, "big.bin"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the old name: Stat = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("chtimes", func(t *testing.T) {
		mtime := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
		if err := fsys.Chtimes(ctx, "renamed.bin", mtime, mtime); err != nil {
			t.Fatal(err)
		}
		checkObject("mc/renamed.bin")
		if fi, err := fsys.Stat(ctx, "renamed.bin"); err != nil || !fi.ModTime().Equal(mtime) {
			t.Errorf("Stat after Chtimes = %v, %v; want the time %v", fi, err, mtime)
		}
	})
	t.Run("failed part", func(t *testing.T) {
		proxy.setFault(func(r *http.Request) (int, string) {
			if r.Header.Get("X-Amz-Copy-Source-Range") != "" && r.URL.Query().Get("partNumber") == "2" {
				return 400, "InvalidRequest"
			}
			return 0, ""
		})
		defer proxy.setFault(nil)
		if err := fsys.Rename(ctx, "renamed.bin", "never.bin"); err == nil {
			t.Fatal("Rename succeeded with a failing part")
		}
		if proxy.count() == 0 {
			t.Fatal("no part failed")
		}
		if _, err := srv.Client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &srv.Bucket, Key: aws.String("mc/never.bin")}); err == nil {
			t.Error("the failed copy left an object")
		}
		checkObject("mc/renamed.bin")
	})
	t.Run("busy part", func(t *testing.T) {
		proxy.setFault(func(r *http.Request) (int, string) {
			if r.Header.Get("X-Amz-Copy-Source-Range") != "" {
				return 503, "SlowDown"
			}
			return 0, ""
		})
		defer proxy.setFault(nil)
		err := fsys.Rename(ctx, "renamed.bin", "never.bin")
		var re *pier.ReplyError
		if !errors.As(err, &re) || re.Code != 451 {
			t.Fatalf("Rename with a busy store = %v, want a 451 reply", err)
		}
		checkObject("mc/renamed.bin")
	})
	// Below the threshold: one CopyObject.
	small := strings.Repeat("s", 1000)
	if _, err := srv.Client.PutObject(ctx, &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String("mc/small"), Body: strings.NewReader(small)}); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Rename(ctx, "small", "small2"); err != nil {
		t.Fatal(err)
	}
	if got := string(readObject(t, srv, "mc/small2")); got != small {
		t.Errorf("small copy: %d bytes", len(got))
	}
}

// TestRenameFolderFailure: a folder's rename that fails while copying
// leaves the folder whole (and the copies made so far); one that fails
// while deleting leaves the new folder whole and the old keys not yet
// deleted. No object is lost either way.
func TestRenameFolderFailure(t *testing.T) {
	srv := s3test.Start(t)
	proxy := startFaultProxy(t, srv)
	fsys := New(proxy.newClient(), srv.Bucket, Options{FolderRenameMax: 10})
	ctx := t.Context()
	names := []string{"a", "b", "c", "d/e"}
	for _, name := range names {
		if _, err := srv.Client.PutObject(ctx, &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String("dir/" + name), Body: strings.NewReader(name)}); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(key string) bool {
		_, err := srv.Client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &srv.Bucket, Key: &key})
		return err == nil
	}

	proxy.setFault(func(r *http.Request) (int, string) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Copy-Source"), "/dir/c") {
			return 400, "InvalidRequest"
		}
		return 0, ""
	})
	if err := fsys.Rename(ctx, "dir", "new"); err == nil {
		t.Fatal("Rename succeeded with a failing copy")
	}
	for _, name := range names {
		if !exists("dir/" + name) {
			t.Errorf("after a failed copy, dir/%s is gone", name)
		}
	}
	if exists("new/c") {
		t.Error("new/c exists")
	}

	proxy.setFault(func(r *http.Request) (int, string) {
		if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/dir/b") {
			return 400, "InvalidRequest"
		}
		return 0, ""
	})
	if err := fsys.Rename(ctx, "dir", "new2"); err == nil {
		t.Fatal("Rename succeeded with a failing delete")
	}
	proxy.setFault(nil)
	for _, name := range names {
		if got := string(readObject(t, srv, "new2/"+name)); got != name {
			t.Errorf("new2/%s holds %q", name, got)
		}
	}
	if !exists("dir/b") {
		t.Error("dir/b, whose delete failed, is gone")
	}
}

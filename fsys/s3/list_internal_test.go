package s3

import (
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/internal/s3test"
)

// TestListingPages lists a folder of 2,500 files and 3 folders (one of
// them with a marker), more than two pages of S3's 1,000, and pages of
// 100: the listing is complete, in order, without the folder's own
// marker, and holds no more than a page at a time.
func TestListingPages(t *testing.T) {
	srv := s3test.Start(t)
	const files = 2500
	keys := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for key := range keys {
				body := "x"
				if strings.HasSuffix(key, "/") {
					body = "" // a folder marker
				}
				_, err := srv.Client.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: &key, Body: strings.NewReader(body)})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	var want []string
	for i := range files {
		name := fmt.Sprintf("k%04d", i)
		want = append(want, name)
		keys <- "big/" + name
	}
	for _, key := range []string{"big/", "big/dirA/", "big/dirA/x", "big/k0500x/y", "big/zdir/z"} {
		keys <- key
	}
	close(keys)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	want = append(want, "dirA/", "k0500x/", "zdir/")
	slices.SortFunc(want, func(a, b string) int { return strings.Compare(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/")) })

	for _, tc := range []struct {
		pageSize int
		info     bool // through ReadDirInfo
	}{{100, false}, {0, true}, {0, false}} {
		t.Run(fmt.Sprintf("page %d, ReadDirInfo %v", tc.pageSize, tc.info), func(t *testing.T) {
			fsys := New(srv.Client, srv.Bucket, Options{PageSize: tc.pageSize})
			d, err := fsys.OpenDir(t.Context(), "big")
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			l := d.(*lister)
			var got []string
			add := func(fi fs.FileInfo) {
				name := fi.Name()
				if fi.IsDir() {
					name += "/"
					if fi.ModTime().IsZero() {
						t.Errorf("%s: no time", name)
					}
				}
				got = append(got, name)
				if len(l.page) > int(fsys.pageSize) {
					t.Fatalf("the listing holds %d entries, more than a page of %d", len(l.page), fsys.pageSize)
				}
			}
			if tc.info {
				err = d.(pier.DirInfoReader).ReadDirInfo(func(fi fs.FileInfo) error { add(fi); return nil })
			} else {
				for {
					batch, err := d.ReadDir(64)
					for _, e := range batch {
						fi, _ := e.Info()
						add(fi)
					}
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if least := (len(want) + int(fsys.pageSize) - 1) / int(fsys.pageSize); l.pages < least {
				t.Errorf("listed in %d requests, want at least %d", l.pages, least)
			}
			if !slices.Equal(got, want) {
				t.Errorf("listed %d entries, want %d", len(got), len(want))
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Errorf("entry %d is %q, want %q", i, got[i], want[i])
						break
					}
				}
			}
		})
	}
	// The listing's folder exists through its keys: Stat takes one
	// key, not the listing.
	fsys := New(srv.Client, srv.Bucket, Options{})
	if fi, err := fsys.Stat(t.Context(), "big"); err != nil || !fi.IsDir() {
		t.Errorf("Stat(big) = %v, %v", fi, err)
	}
}

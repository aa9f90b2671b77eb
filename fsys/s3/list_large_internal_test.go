package s3

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/ftptest"
	"github.com/pierftp/pier/internal/s3test"
)

// TestLargeListing puts 20,000 small objects in one folder (in about 30
// seconds on two cores, with -race) and lists them through a pier server (MLSD, LIST, NLST over a data
// connection): every entry comes, in order, and the listing never holds
// more than a page of entries (FS.pageHigh), however many keys.
func TestLargeListing(t *testing.T) {
	if testing.Short() {
		t.Skip("puts 20,000 objects")
	}
	const n = 20_000
	srv := s3test.Start(t)
	putObjects(t, srv, 16, func(yield func(string) bool) {
		for i := range n {
			if !yield(fmt.Sprintf("many/k%05d", i)) {
				return
			}
		}
	})
	const pageSize = 500
	fsys := New(srv.Client, srv.Bucket, Options{PageSize: pageSize})
	ftpSrv := ftptest.NewServer(t, &ftptest.Options{NoAnonymous: true, Configure: func(s *ftptest.Server) {
		if err := s.Users.AddUser("s3", auth.Account{Password: "pw", FS: fsys, Perm: pier.AllPerms}); err != nil {
			t.Fatal(err)
		}
	}})
	c := ftpSrv.Dial(t)
	c.Login(t, "s3", "pw")
	for _, cmd := range []string{"MLSD many", "LIST many", "NLST many"} {
		t.Run(cmd, func(t *testing.T) {
			fsys.pageHigh.Store(0)
			var names []string
			for line := range strings.SplitSeq(string(bytes.TrimSuffix(c.Retrieve(t, cmd), []byte("\r\n"))), "\r\n") {
				if strings.Contains(line, "type=cdir") || strings.Contains(line, "type=pdir") {
					continue
				}
				names = append(names, line[strings.LastIndexByte(line, ' ')+1:])
			}
			if len(names) != n {
				t.Fatalf("%d entries, want %d", len(names), n)
			}
			for i, name := range names {
				if want := fmt.Sprintf("k%05d", i); name != want {
					t.Fatalf("entry %d is %q, want %q", i, name, want)
				}
			}
			if high := fsys.pageHigh.Load(); high == 0 || high > pageSize {
				t.Errorf("the listing held up to %d entries at once, want 1 to %d (a page)", high, pageSize)
			}
		})
	}
}

// putObjects puts an object "x" at each key, workers at a time.
func putObjects(t *testing.T, srv *s3test.Server, workers int, keys func(func(string) bool)) {
	t.Helper()
	ch := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for key := range ch {
				_, err := srv.Client.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: &key, Body: strings.NewReader("x")})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	for key := range keys {
		ch <- key
	}
	close(ch)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

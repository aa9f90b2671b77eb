package s3

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier/internal/s3test"
)

// lookupCounter is an HTTP client that counts the requests of look-ups:
// HEAD, and GET of a bucket listing.
type lookupCounter struct {
	next aws.HTTPClient
	mu   sync.Mutex
	n    int
}

func (c *lookupCounter) Do(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodHead || (r.Method == http.MethodGet && r.URL.Query().Has("list-type")) {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
	return c.next.Do(r)
}

// take returns the count and resets it.
func (c *lookupCounter) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = 0
	return n
}

// TestRecentLookups: an upload that replaces its object, opened right
// after Stat of its name and folder (as pier's STOR does), looks neither
// up again; any other open, an old answer, or a change made through the
// FS since, and it does; what it then finds is what is there.
func TestRecentLookups(t *testing.T) {
	srv := s3test.Start(t)
	counter := &lookupCounter{next: awshttp.NewBuildableClient()}
	client := awss3.New(srv.Client.Options(), func(o *awss3.Options) { o.HTTPClient = counter })
	fsys := New(client, srv.Bucket, Options{Prefix: "recent"})
	ctx := t.Context()
	const trunc = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if err := fsys.Mkdir(ctx, "sub", 0o755); err != nil {
		t.Fatal(err)
	}
	// upload writes name through a handle opened with flag, and returns
	// the look-ups the open made.
	upload := func(t *testing.T, name string, flag int) (int, error) {
		t.Helper()
		counter.take()
		f, err := fsys.OpenFile(ctx, name, flag, 0o644)
		n := counter.take()
		if err != nil {
			return n, err
		}
		if _, err := f.Write([]byte("data of " + name)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return n, nil
	}
	stat := func(names ...string) {
		for _, n := range names {
			fsys.Stat(ctx, n)
		}
	}

	t.Run("after Stat", func(t *testing.T) {
		stat("sub/new", "sub")
		if n, err := upload(t, "sub/new", trunc); err != nil || n != 0 {
			t.Errorf("open after Stat: %d look-ups (%v); want none", n, err)
		}
		stat("sub/new", "sub") // now a file
		if n, err := upload(t, "sub/new", trunc); err != nil || n != 0 {
			t.Errorf("open over a file after Stat: %d look-ups (%v); want none", n, err)
		}
		got, err := srv.Client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &srv.Bucket, Key: aws.String("recent/sub/new")})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(got.Body)
		got.Body.Close()
		if b.String() != "data of sub/new" {
			t.Errorf("object holds %q", b.String())
		}
	})
	t.Run("one answer, one open", func(t *testing.T) {
		stat("sub/once", "sub")
		upload(t, "sub/once", trunc)
		if n, err := upload(t, "sub/once", trunc); err != nil || n == 0 {
			t.Errorf("second open: %d look-ups (%v); want its own", n, err)
		}
	})
	t.Run("without Stat", func(t *testing.T) {
		if n, err := upload(t, "sub/nostat", trunc); err != nil || n == 0 {
			t.Errorf("open: %d look-ups (%v); want its own", n, err)
		}
	})
	t.Run("old answer", func(t *testing.T) {
		stat("sub/old", "sub")
		fsys.recent.mu.Lock()
		for name, e := range fsys.recent.m {
			e.at = e.at.Add(-recentFor)
			fsys.recent.m[name] = e
		}
		fsys.recent.mu.Unlock()
		if n, err := upload(t, "sub/old", trunc); err != nil || n == 0 {
			t.Errorf("open: %d look-ups (%v); want its own", n, err)
		}
	})
	t.Run("changed since", func(t *testing.T) {
		stat("dir") // missing
		if err := fsys.Mkdir(ctx, "dir", 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := upload(t, "dir", trunc); !errors.Is(err, syscall.EISDIR) {
			t.Errorf("open of a folder made after Stat: %v; want EISDIR", err)
		}
		stat("gone/x", "gone")
		if err := fsys.Mkdir(ctx, "gone", 0o755); err != nil {
			t.Fatal(err)
		}
		stat("gone/x", "gone")
		if err := fsys.Remove(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		if _, err := upload(t, "gone/x", trunc); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("open in a folder removed after Stat: %v; want ErrNotExist", err)
		}
	})
	t.Run("not for STOU or APPE", func(t *testing.T) {
		stat("sub/excl")
		putObject(t, srv, "recent/sub/excl", []byte("made by another client"))
		if n, err := upload(t, "sub/excl", os.O_WRONLY|os.O_CREATE|os.O_EXCL); !errors.Is(err, fs.ErrExist) || n == 0 {
			t.Errorf("exclusive open: %d look-ups, %v; want its own, and ErrExist", n, err)
		}
		stat("sub/excl")
		if n, err := upload(t, "sub/excl", os.O_WRONLY|os.O_CREATE|os.O_APPEND); err != nil || n == 0 {
			t.Errorf("append: %d look-ups (%v); want its own", n, err)
		}
	})
	t.Run("looked up while a change was made", func(t *testing.T) {
		// A Stat whose look-up began before a change and whose answer
		// comes after its forget: not kept.
		var r recentLookups
		gen := r.generation()
		r.forget()
		r.put("x", folder, nil, gen)
		if _, _, ok := r.take("x"); ok {
			t.Error("an answer from before a change was kept")
		}
		r.put("x", folder, nil, r.generation())
		if _, _, ok := r.take("x"); !ok {
			t.Error("an answer from after the change was not kept")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		var r recentLookups
		for i := range 3 * recentMax {
			r.put(string(rune('a'+i%26))+time.Duration(i).String(), missing, nil, 0)
		}
		if n := len(r.m); n > recentMax {
			t.Errorf("%d answers held; want %d at most", n, recentMax)
		}
	})
}

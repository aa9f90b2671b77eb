package s3

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier/internal/s3test"
)

// holdList is an HTTP client that, once armed, holds the response of the
// listing of race/gone/ until release is closed.
type holdList struct {
	next    aws.HTTPClient
	mu      sync.Mutex
	armed   bool
	got     chan struct{} // closed once the held response is in hand
	release chan struct{}
}

func (h *holdList) Do(r *http.Request) (*http.Response, error) {
	resp, err := h.next.Do(r)
	h.mu.Lock()
	hold := h.armed && r.Method == http.MethodGet && r.URL.Query().Get("prefix") == "race/gone/"
	if hold {
		h.armed = false
	}
	h.mu.Unlock()
	if hold {
		close(h.got)
		<-h.release
	}
	return resp, err
}

// TestRecentLookupsRace: a Stat whose look-up was answered before a
// change made through the same FS, and which would store its answer after
// that change's forget, does not keep it: the folder "gone" is removed
// while another session's Stat("gone") is in flight, and the upload into
// gone/x then fails with ErrNotExist, as it does without the answers,
// rather than make the removed folder exist again.
func TestRecentLookupsRace(t *testing.T) {
	srv := s3test.Start(t)
	h := &holdList{next: awshttp.NewBuildableClient(), got: make(chan struct{}), release: make(chan struct{})}
	client := awss3.New(srv.Client.Options(), func(o *awss3.Options) { o.HTTPClient = h })
	fsys := New(client, srv.Bucket, Options{Prefix: "race"})
	ctx := t.Context()
	if err := fsys.Mkdir(ctx, "gone", 0o755); err != nil {
		t.Fatal(err)
	}
	h.armed = true
	done := make(chan struct{})
	go func() { // session A: STOR gone/x, its parentDir Stat
		defer close(done)
		fsys.Stat(ctx, "gone")
	}()
	<-h.got // A's listing saw the folder
	// session B: RMD gone, completes (and forgets) while A's answer is in flight
	if err := fsys.Remove(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	close(h.release)
	<-done
	f, err := fsys.OpenFile(ctx, "gone/x", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err == nil {
		f.Write([]byte("x"))
		err = f.Close()
		t.Errorf("upload into a folder removed through this FS succeeded (close: %v); want ErrNotExist", err)
		return
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open: %v; want ErrNotExist", err)
	}
}

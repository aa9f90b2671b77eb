package s3

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/internal/s3test"
)

// cannedStore is an S3 endpoint for what versitygw can't hold or doesn't
// do: an object and a folder of one name, a listing page cut short
// before its first key, a store that ignores the prefix, one that refuses
// prefixes not ending in "/" (as S3 Express directory buckets do). Its
// bucket's keys are listed in the order given.
type cannedStore struct {
	keys []string
	// cut: prefixes whose listing is an empty page marked truncated;
	// ignore: prefixes whose listing starts at the bucket's first key.
	cut, ignore []string
	// slashOnly refuses listings whose prefix doesn't end in "/".
	slashOnly bool
	// failStatus and failCode, if set, answer every listing.
	failStatus int
	failCode   string
	mu         sync.Mutex
	asked      []string
}

func (c *cannedStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/bucket/")
	w.Header().Set("Content-Type", "application/xml")
	if r.Method == http.MethodHead {
		c.note("HEAD " + key)
		if slices.Contains(c.keys, key) {
			w.Header().Set("Content-Length", "3")
			w.Header().Set("Last-Modified", "Fri, 02 Jan 2026 03:04:05 GMT")
			return
		}
		w.WriteHeader(http.StatusNotFound)
		return
	}
	prefix := r.URL.Query().Get("prefix")
	c.note("LIST " + prefix)
	if c.failStatus != 0 {
		w.WriteHeader(c.failStatus)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>canned</Message></Error>`, c.failCode)
		return
	}
	if c.slashOnly && !strings.HasSuffix(prefix, "/") {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>prefix must end in /</Message></Error>`)
		return
	}
	var first string
	truncated := slices.Contains(c.cut, prefix)
	if !truncated {
		for _, k := range c.keys {
			if strings.HasPrefix(k, prefix) || slices.Contains(c.ignore, prefix) {
				first = k
				break
			}
		}
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><Prefix>%s</Prefix><MaxKeys>1</MaxKeys><IsTruncated>%v</IsTruncated>`, prefix, truncated)
	if first != "" {
		fmt.Fprintf(w, `<KeyCount>1</KeyCount><Contents><Key>%s</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>"x"</ETag><Size>3</Size></Contents>`, first)
	}
	fmt.Fprint(w, `</ListBucketResult>`)
}

func (c *cannedStore) note(s string) {
	c.mu.Lock()
	c.asked = append(c.asked, s)
	c.mu.Unlock()
}

// take returns the requests since the last take.
func (c *cannedStore) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.asked
	c.asked = nil
	return a
}

// TestStatUploadCanned: StatUpload's answers, and the requests it makes,
// where the store's listing is unusual.
func TestStatUploadCanned(t *testing.T) {
	for _, tc := range []struct {
		what   string
		store  *cannedStore
		name   string
		kind   kind // what StatUpload finds
		folder bool // folderOK
		asked  []string
	}{
		{"an object and a folder of one name: the object", &cannedStore{keys: []string{"a", "a/x"}},
			"a", file, false, []string{"LIST a"}},
		{"a key after name/", &cannedStore{keys: []string{"n2"}},
			"n", missing, true, []string{"LIST n"}},
		{"a key between name and name/, and a folder", &cannedStore{keys: []string{"n.txt", "n/", "n/x"}},
			"n", folder, false, []string{"LIST n", "LIST n/"}},
		{"a key between name and name/, no folder", &cannedStore{keys: []string{"n.txt"}},
			"n", missing, true, []string{"LIST n", "LIST n/"}},
		{"a page cut short: Stat's look-up", &cannedStore{keys: []string{"d/"}, cut: []string{"d/new"}},
			"d/new", missing, false, []string{"LIST d/new", "HEAD d/new", "LIST d/new/", "HEAD d"}},
		{"a store that ignores the prefix: Stat's look-up", &cannedStore{keys: []string{"zz"}, ignore: []string{"new"}},
			"new", missing, false, []string{"LIST new", "HEAD new", "LIST new/"}},
		{"a listing refused: Stat's look-up", &cannedStore{keys: []string{"f"}, slashOnly: true},
			"f", file, false, []string{"LIST f", "HEAD f"}},
		{"the folder's listing cut short: pier asks Stat", &cannedStore{keys: []string{"d/"}, cut: []string{"d"}},
			"d/new", missing, false, []string{"LIST d/new", "LIST d"}},
		{"a new file in a folder", &cannedStore{keys: []string{"d/", "d/x"}},
			"d/new", missing, true, []string{"LIST d/new", "LIST d"}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			hs := httptest.NewServer(tc.store)
			t.Cleanup(hs.Close)
			fsys := New(s3test.NewClient(hs.URL, "ak", "sk"), "bucket", Options{})
			fi, folderOK, err := fsys.StatUpload(t.Context(), tc.name)
			switch tc.kind {
			case missing:
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("StatUpload: %v, %v; want fs.ErrNotExist", fi, err)
				}
			case file, folder:
				if err != nil || fi.IsDir() != (tc.kind == folder) {
					t.Errorf("StatUpload: %v, %v; want kind %d", fi, err, tc.kind)
				}
			}
			if folderOK != tc.folder {
				t.Errorf("folderOK %v, want %v", folderOK, tc.folder)
			}
			if got := tc.store.take(); !slices.Equal(got, tc.asked) {
				t.Errorf("asked %q, want %q", got, tc.asked)
			}
		})
	}
}

// TestStatDirCanned: StatDir's answers, and its requests, where the
// store's listing is unusual.
func TestStatDirCanned(t *testing.T) {
	for _, tc := range []struct {
		what  string
		store *cannedStore
		name  string
		dir   bool
		err   error
		asked []string
	}{
		{"an object and a folder of one name: the object", &cannedStore{keys: []string{"a", "a/x"}},
			"a", false, nil, []string{"LIST a"}},
		{"a key between name and name/, and a folder", &cannedStore{keys: []string{"n.txt", "n/x"}},
			"n", true, nil, []string{"LIST n", "LIST n/"}},
		{"nothing below a file", &cannedStore{keys: []string{"f"}},
			"f/x/y", false, syscall.ENOTDIR, []string{"LIST f/x/y", "HEAD f"}},
		{"a listing refused: Stat's look-up", &cannedStore{keys: []string{"d/x"}, slashOnly: true},
			"d", true, nil, []string{"LIST d", "HEAD d", "LIST d/"}},
		{"a page cut short: Stat's look-up", &cannedStore{keys: []string{"d/x"}, cut: []string{"d"}},
			"d", true, nil, []string{"LIST d", "HEAD d", "LIST d/"}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			hs := httptest.NewServer(tc.store)
			t.Cleanup(hs.Close)
			fsys := New(s3test.NewClient(hs.URL, "ak", "sk"), "bucket", Options{})
			fi, err := fsys.StatDir(t.Context(), tc.name)
			switch {
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Errorf("StatDir: %v, %v; want %v", fi, err, tc.err)
				}
			case err != nil || fi.IsDir() != tc.dir:
				t.Errorf("StatDir: %v, %v; want a folder: %v", fi, err, tc.dir)
			}
			if got := tc.store.take(); !slices.Equal(got, tc.asked) {
				t.Errorf("asked %q, want %q", got, tc.asked)
			}
		})
	}
}

// TestProbeRefusal: a store that refuses a probe's listing is asked as
// Stat asks from then on; one that is busy (a retryable 400, a 503) is
// not asked again after the SDK's retries.
func TestProbeRefusal(t *testing.T) {
	store := &cannedStore{keys: []string{"d/x"}, slashOnly: true}
	hs := httptest.NewServer(store)
	t.Cleanup(hs.Close)
	fsys := New(s3test.NewClient(hs.URL, "ak", "sk"), "bucket", Options{})
	for i, want := range [][]string{{"LIST d", "HEAD d", "LIST d/"}, {"HEAD d", "LIST d/"}} {
		if fi, err := fsys.StatDir(t.Context(), "d"); err != nil || !fi.IsDir() {
			t.Fatalf("StatDir %d: %v, %v", i, fi, err)
		}
		if got := store.take(); !slices.Equal(got, want) {
			t.Errorf("StatDir %d: asked %q, want %q", i, got, want)
		}
	}
	if _, _, err := fsys.StatUpload(t.Context(), "d/new"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("StatUpload after the refusal: %v", err)
	}
	if got := store.take(); slices.Contains(got, "LIST d/new") {
		t.Errorf("StatUpload after the refusal probed again: %q", got)
	}

	for _, busy := range []struct {
		status int
		code   string
	}{{400, "RequestTimeout"}, {503, "SlowDown"}} {
		store := &cannedStore{failStatus: busy.status, failCode: busy.code}
		hs := httptest.NewServer(store)
		t.Cleanup(hs.Close)
		fsys := New(s3test.NewClient(hs.URL, "ak", "sk"), "bucket", Options{})
		_, err := fsys.StatDir(t.Context(), "d")
		var re *pier.ReplyError
		if !errors.As(err, &re) || re.Code != 451 {
			t.Errorf("%d %s: StatDir: %v, want a 451", busy.status, busy.code, err)
		}
		for _, r := range store.take() {
			if r != "LIST d" {
				t.Errorf("%d %s: asked %q besides the listing's attempts", busy.status, busy.code, r)
			}
		}
		if fsys.noProbe.Load() {
			t.Errorf("%d %s: taken for a refusal", busy.status, busy.code)
		}
	}
}

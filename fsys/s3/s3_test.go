package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/s3"
	"github.com/pierftp/pier/internal/s3test"
)

const mib = 1 << 20

// randomData returns n reproducible, incompressible bytes.
// putKeys writes each key with its body, straight to the store.
func putKeys(t *testing.T, srv *s3test.Server, keys map[string]string) {
	t.Helper()
	for key, body := range keys {
		if _, err := srv.Client.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String(key),
			Body: strings.NewReader(body), ContentLength: aws.Int64(int64(len(body)))}); err != nil {
			t.Fatal(err)
		}
	}
}

func randomData(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// store uploads data to name as STOR does, in writes of odd sizes.
func store(t *testing.T, fsys *s3.FS, name string, data []byte) {
	t.Helper()
	f, err := fsys.OpenFile(t.Context(), name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	writeChunks(t, f, data)
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// writeChunks writes data in chunks of 100,003 bytes, as a data
// connection would hand them over.
func writeChunks(t *testing.T, f pier.File, data []byte) {
	t.Helper()
	for len(data) > 0 {
		n := min(len(data), 100_003)
		if w, err := f.Write(data[:n]); err != nil || w != n {
			t.Fatalf("Write = %d, %v", w, err)
		}
		data = data[n:]
	}
}

// load reads name whole, from offset.
func load(t *testing.T, fsys *s3.FS, name string, offset int64) []byte {
	t.Helper()
	f, err := fsys.OpenFileAt(t.Context(), name, os.O_RDONLY, 0, offset)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkNoUploads checks that no multipart upload is pending in the bucket.
func checkNoUploads(t *testing.T, srv *s3test.Server) {
	t.Helper()
	out, err := srv.Client.ListMultipartUploads(context.Background(), &awss3.ListMultipartUploadsInput{Bucket: &srv.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range out.Uploads {
		t.Errorf("multipart upload of %q left pending", aws.ToString(u.Key))
	}
}

// checkMissing checks that key is not an object.
func checkMissing(t *testing.T, srv *s3test.Server, key string) {
	t.Helper()
	_, err := srv.Client.HeadObject(context.Background(), &awss3.HeadObjectInput{Bucket: &srv.Bucket, Key: &key})
	if err == nil {
		t.Errorf("%q exists", key)
	}
}

func TestMultipartRoundTrip(t *testing.T) {
	srv := s3test.Start(t)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "mp", PartSize: s3.MinPartSize, Buffers: s3.NewBuffers(4)})
	data := randomData(12 * mib)
	store(t, fsys, "big.bin", data)
	checkNoUploads(t, srv)

	fi, err := fsys.Stat(t.Context(), "big.bin")
	if err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("Stat = %v, %v; want size %d", fi, err, len(data))
	}
	// Ranged reads, within the first part, across parts, at the end.
	for _, off := range []int64{0, 1, 5*mib - 1, 7*mib + 3, int64(len(data)) - 1, int64(len(data))} {
		t.Run(fmt.Sprint("at ", off), func(t *testing.T) {
			if got := load(t, fsys, "big.bin", off); !bytes.Equal(got, data[off:]) {
				t.Errorf("read %d bytes from %d; not the object's %d", len(got), off, len(data)-int(off))
			}
		})
	}
	// Exactly one part: a single PutObject; one more byte: two parts.
	for _, n := range []int{s3.MinPartSize, s3.MinPartSize + 1} {
		store(t, fsys, "edge", data[:n])
		if got := load(t, fsys, "edge", 0); !bytes.Equal(got, data[:n]) {
			t.Errorf("%d bytes: read back %d bytes, not the same", n, len(got))
		}
	}
	checkNoUploads(t, srv)
}

func TestAbort(t *testing.T) {
	srv := s3test.Start(t)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "ab", PartSize: s3.MinPartSize})
	store(t, fsys, "old", []byte("old content"))
	for _, tc := range []struct {
		desc     string
		name     string
		size     int
		cancel   bool // the open context ends before Abort
		wantData string
	}{
		{desc: "small new", name: "new1", size: 1000},
		{desc: "multipart new", name: "new2", size: 12 * mib},
		{desc: "multipart new, context cancelled", name: "new3", size: 12 * mib, cancel: true},
		{desc: "multipart over old", name: "old", size: 11 * mib, wantData: "old content"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			f, err := fsys.OpenFile(ctx, tc.name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			writeChunks(t, f, randomData(tc.size))
			if tc.cancel {
				cancel()
			}
			if err := f.(pier.Aborter).Abort(pier.ErrTransferAborted); err != nil {
				t.Errorf("Abort: %v", err)
			}
			checkNoUploads(t, srv)
			if tc.wantData == "" {
				checkMissing(t, srv, "ab/"+tc.name)
			} else if got := load(t, fsys, tc.name, 0); string(got) != tc.wantData {
				t.Errorf("after Abort, %s holds %d bytes, want %q", tc.name, len(got), tc.wantData)
			}
		})
	}
	// A cancelled context fails the next Write, and Close then commits
	// nothing.
	t.Run("Close after cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		f, err := fsys.OpenFile(ctx, "new4", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		writeChunks(t, f, randomData(6*mib))
		cancel()
		_, werr := f.Write(randomData(6 * mib))
		cerr := f.Close()
		if werr == nil && cerr == nil {
			t.Error("Write and Close succeeded after the context ended")
		}
		if !errors.Is(cerr, context.Canceled) {
			t.Errorf("Close = %v, want context.Canceled", cerr)
		}
		checkMissing(t, srv, "ab/new4")
		checkNoUploads(t, srv)
	})
}

// TestBuffers checks the cap on part buffers: an upload takes its first
// when it is opened, and its open waits for one as long as its context
// lets it; an upload that can't get a second buffer still completes,
// reusing its first.
func TestBuffers(t *testing.T) {
	srv := s3test.Start(t)
	bufs := s3.NewBuffers(1)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "buf", PartSize: s3.MinPartSize, Buffers: bufs})
	first, err := fsys.OpenFile(t.Context(), "first", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	// The only buffer is the first upload's: the second's open waits
	// until its context ends, and leaves nothing behind.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		f, err := fsys.OpenFile(ctx, "second", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if f != nil {
			err = errors.Join(errors.New("a file opened with no buffer free"), err)
			f.Close()
		}
		done <- err
	}()
	waitForWaiters(t, bufs, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("open waiting for a buffer = %v, want context.Canceled", err)
	}
	// A multipart upload with one buffer in all.
	data := randomData(17 * mib)
	writeChunks(t, first, data)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if got := load(t, fsys, "first", 0); !bytes.Equal(got, append([]byte("x"), data...)) {
		t.Errorf("read back %d bytes, not what was written", len(got))
	}
	// The buffer is free again.
	store(t, fsys, "third", []byte("z"))
	checkNoUploads(t, srv)
}

// TestKeepHead checks APPE and REST+STOR on objects large enough for
// their head to be copied server-side (UploadPartCopy), and small ones.
func TestKeepHead(t *testing.T) {
	srv := s3test.Start(t)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "head", PartSize: s3.MinPartSize})
	old := randomData(6 * mib)
	more := []byte("appended bytes")
	for _, tc := range []struct {
		desc   string
		old    []byte
		offset int64 // REST, or -1 for APPE
	}{
		{desc: "APPE large", old: old, offset: -1},
		{desc: "APPE small", old: old[:1000], offset: -1},
		{desc: "REST+STOR large", old: old, offset: 5*mib + 17},
		{desc: "REST+STOR small", old: old, offset: 17},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			store(t, fsys, "f", tc.old)
			var f pier.File
			var err error
			want := append(bytes.Clone(tc.old), more...)
			if tc.offset < 0 {
				f, err = fsys.OpenFile(t.Context(), "f", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			} else {
				f, err = fsys.OpenFileAt(t.Context(), "f", os.O_WRONLY, 0o644, tc.offset)
				want = append(bytes.Clone(tc.old[:tc.offset]), more...)
			}
			if err != nil {
				t.Fatal(err)
			}
			writeChunks(t, f, more)
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if got := load(t, fsys, "f", 0); !bytes.Equal(got, want) {
				t.Errorf("read back %d bytes, want %d", len(got), len(want))
			}
			checkNoUploads(t, srv)
		})
	}
	t.Run("keep tail of a large object", func(t *testing.T) {
		store(t, fsys, "f", old)
		_, err := fsys.OpenFile(t.Context(), "f", os.O_WRONLY, 0o644)
		if !errors.Is(err, pier.ErrNotSupported) {
			t.Errorf("OpenFile(O_WRONLY) of %d bytes = %v, want pier.ErrNotSupported", len(old), err)
		}
	})
}

func TestFolders(t *testing.T) {
	srv := s3test.Start(t)
	// Keys another client wrote: folders that are only prefixes.
	for _, key := range []string{"p/implicit/a.txt", "p/implicit/deeper/b.txt"} {
		if _, err := srv.Client.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "p"})
	ctx := t.Context()
	fi, err := fsys.Stat(ctx, "implicit")
	if err != nil || !fi.IsDir() || fi.ModTime().IsZero() {
		t.Errorf("Stat(implicit) = %v, %v; want a folder with a time", fi, err)
	}
	d, err := fsys.OpenDir(ctx, "implicit")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil || len(entries) != 2 || entries[0].Name() != "a.txt" || entries[1].Name() != "deeper" || !entries[1].IsDir() {
		t.Errorf("ReadDir = %v, %v; want a.txt, deeper/", entries, err)
	}
	if info, _ := entries[1].Info(); info == nil || info.ModTime().IsZero() {
		t.Errorf("a folder of the listing has no time")
	}
	// RMD refuses a folder with keys under it.
	if err := fsys.Remove(ctx, "implicit"); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("Remove(implicit) = %v, want ENOTEMPTY", err)
	}
	// Removing the last key keeps the folder, with a marker.
	if err := fsys.Remove(ctx, "implicit/deeper/b.txt"); err != nil {
		t.Fatal(err)
	}
	if fi, err := fsys.Stat(ctx, "implicit/deeper"); err != nil || !fi.IsDir() {
		t.Errorf("after its last file went: Stat(implicit/deeper) = %v, %v", fi, err)
	}
	if err := fsys.Remove(ctx, "implicit/deeper"); err != nil {
		t.Errorf("Remove of the empty folder: %v", err)
	}
	if _, err := fsys.Stat(ctx, "implicit/deeper"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of the removed folder: %v, want fs.ErrNotExist", err)
	}
	// Rename of a folder is refused.
	if err := fsys.Rename(ctx, "implicit", "moved"); !errors.Is(err, pier.ErrNotSupported) {
		t.Errorf("Rename of a folder = %v, want pier.ErrNotSupported", err)
	}
}

func TestErrors(t *testing.T) {
	srv := s3test.Start(t)
	ctx := t.Context()
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{})
	if _, err := fsys.Stat(ctx, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(missing) = %v, want fs.ErrNotExist", err)
	}
	// Wrong credentials: 403.
	bad := s3.New(s3test.NewClient(srv.Endpoint, srv.AccessKey, "wrong"), srv.Bucket, s3.Options{})
	// The root needs no look-up; OpenDir reads the first page.
	if d, err := bad.OpenDir(ctx, "."); !errors.Is(err, fs.ErrPermission) {
		if err == nil {
			d.Close()
		}
		t.Errorf("listing with wrong credentials = %v, want fs.ErrPermission", err)
	}
	if _, err := bad.Stat(ctx, "x"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Stat with wrong credentials = %v, want fs.ErrPermission", err)
	}
	// STOU: a key taken between the open and Close is not replaced.
	stou := s3.New(srv.Client, srv.Bucket, s3.Options{PartSize: s3.MinPartSize})
	for _, size := range []int{4, 6 * mib} {
		f, err := stou.OpenFile(ctx, "unique", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		writeChunks(t, f, randomData(size))
		if _, err := srv.Client.PutObject(ctx, &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String("unique"), Body: strings.NewReader("theirs")}); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); !errors.Is(err, fs.ErrExist) {
			t.Errorf("%d bytes: Close of STOU over a new object = %v, want fs.ErrExist", size, err)
		}
		if got := load(t, fsys, "unique", 0); string(got) != "theirs" {
			t.Errorf("%d bytes: unique holds %q, want %q", size, got, "theirs")
		}
		if err := fsys.Remove(ctx, "unique"); err != nil {
			t.Fatal(err)
		}
	}
	checkNoUploads(t, srv)
	// An ended context ends the request.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := fsys.Stat(cctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestConcurrentUploads runs uploads that share two part buffers.
func TestConcurrentUploads(t *testing.T) {
	srv := s3test.Start(t)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "cc", PartSize: s3.MinPartSize, Buffers: s3.NewBuffers(2)})
	data := randomData(11 * mib)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			f, err := fsys.OpenFile(t.Context(), fmt.Sprint("f", i), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := f.Write(data); err != nil {
				t.Error(err)
			}
			if err := f.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range 4 {
		if got := load(t, fsys, fmt.Sprint("f", i), 0); !bytes.Equal(got, data) {
			t.Errorf("f%d: read back %d bytes, not what was written", i, len(got))
		}
	}
	checkNoUploads(t, srv)
}

// TestRenameNames renames files whose names need escaping in
// x-amz-copy-source.
func TestRenameNames(t *testing.T) {
	srv := s3test.Start(t)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "names"})
	for _, name := range []string{"a b.txt", "plus+sign", "amp&eq=?#%", "été ☃.txt"} {
		t.Run(name, func(t *testing.T) {
			store(t, fsys, name, []byte(name))
			if err := fsys.Rename(t.Context(), name, "new "+name); err != nil {
				t.Fatal(err)
			}
			if got := load(t, fsys, "new "+name, 0); string(got) != name {
				t.Errorf("renamed file holds %q", got)
			}
			if _, err := fsys.Stat(t.Context(), name); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("old name: Stat = %v, want fs.ErrNotExist", err)
			}
		})
	}
}

// TestRenameFolder: with Options.FolderRenameMax, a folder of at most that
// many objects (nested ones and its marker included) is moved whole, byte
// for byte; a larger one is refused and left as it was.
func TestRenameFolder(t *testing.T) {
	srv := s3test.Start(t)
	ctx := t.Context()
	files := map[string][]byte{
		"a.txt":         []byte("a"),
		"sub/b.bin":     randomData(100_000),
		"sub/deep/c":    []byte("c"),
		"sub/deep/e f+": []byte("needs escaping"),
	}
	const max = 6 // the files, and the markers of dir and dir/sub
	put := func(key string, body []byte) {
		t.Helper()
		if _, err := srv.Client.PutObject(ctx, &awss3.PutObjectInput{Bucket: &srv.Bucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	// parent/ exists only through its keys: the rename must not make it
	// vanish.
	for name, body := range files {
		put("rf/parent/dir/"+name, body)
	}
	put("rf/parent/dir/", nil)
	put("rf/parent/dir/sub/", nil)
	put("rf/parent/other/", nil)
	fsys := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "rf", FolderRenameMax: max})

	if err := fsys.Rename(ctx, "parent/dir", "parent/other"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Rename onto a folder = %v, want fs.ErrExist", err)
	}
	if err := fsys.Rename(ctx, "parent/dir", "parent/dir/sub/x"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Rename into itself = %v, want EINVAL", err)
	}
	if err := fsys.Rename(ctx, "parent/dir", "nowhere/dir"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rename into a missing folder = %v, want fs.ErrNotExist", err)
	}
	if err := fsys.Rename(ctx, "parent/dir", "moved"); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if got := load(t, fsys, "moved/"+name, 0); !bytes.Equal(got, body) {
			t.Errorf("moved/%s holds %d bytes, want %d", name, len(got), len(body))
		}
	}
	for _, name := range []string{"moved", "moved/sub", "parent"} {
		if fi, err := fsys.Stat(ctx, name); err != nil || !fi.IsDir() {
			t.Errorf("Stat(%s) = %v, %v; want a folder", name, fi, err)
		}
	}
	keys := listKeys(t, srv, "rf/")
	for _, key := range keys {
		if strings.HasPrefix(key, "rf/parent/dir") {
			t.Errorf("%q left behind", key)
		}
	}
	if want := len(files) + 2 + 2; len(keys) != want { // + the moved markers, parent/ and other/
		t.Errorf("keys after the rename: %q, want %d", keys, want)
	}

	// One object too many: refused, nothing moved.
	put("rf/moved/sub/deep/one-more", []byte("x"))
	before := listKeys(t, srv, "rf/")
	err := fsys.Rename(ctx, "moved", "again")
	var re *pier.ReplyError
	if !errors.As(err, &re) || re.Code != 550 || !strings.Contains(re.Message, "more than 6 objects") {
		t.Errorf("Rename of a folder of %d objects = %v, want a 550 reply", max+1, err)
	}
	if after := listKeys(t, srv, "rf/"); !slices.Equal(after, before) {
		t.Errorf("a refused rename changed the keys: %q, then %q", before, after)
	}
	// Without FolderRenameMax, folders aren't renamed.
	if err := s3.New(srv.Client, srv.Bucket, s3.Options{Prefix: "rf"}).Rename(ctx, "parent", "p2"); !errors.Is(err, pier.ErrNotSupported) {
		t.Errorf("Rename without FolderRenameMax = %v, want pier.ErrNotSupported", err)
	}
}

// listKeys lists every key under prefix.
func listKeys(t *testing.T, srv *s3test.Server, prefix string) []string {
	t.Helper()
	var keys []string
	p := awss3.NewListObjectsV2Paginator(srv.Client, &awss3.ListObjectsV2Input{Bucket: &srv.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

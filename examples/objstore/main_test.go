package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/fsys/fstest"
	"github.com/pierftp/pier/ftptest"
)

func TestConformance(t *testing.T) {
	for _, quota := range []int64{0, 1 << 30} {
		t.Run(fmt.Sprint("quota=", quota), func(t *testing.T) {
			fstest.TestFileSystem(t, func(*testing.T) pier.FileSystem { return NewFS(NewStore(), quota) }, fstest.CommitOnClose)
		})
	}
}

func start(t *testing.T, fsys pier.FileSystem) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, fsys, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return ln.Addr().String()
}

func put(t *testing.T, s *Store, key, data string) {
	t.Helper()
	if err := s.Put(t.Context(), key, []byte(data), PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// get returns an object's content, or "(none)".
func get(t *testing.T, s *Store, key string) string {
	t.Helper()
	data, _, err := s.Get(t.Context(), key, 0)
	if errors.Is(err, ErrNoSuchKey) {
		return "(none)"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func keys(s *Store) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.keys)
}

func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

func TestFTP(t *testing.T) {
	store := NewStore()
	// Folders that exist only as prefixes of keys, as another client
	// would leave them.
	put(t, store, "archive/2024/report.txt", "annual report\n")
	for i := range 250 {
		put(t, store, fmt.Sprintf("many/k%03d", i), "x")
	}
	addr := start(t, NewFS(store, 0))
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("user", "12345"); err != nil {
		t.Fatal(err)
	}

	data := bytes.Repeat([]byte("0123456789abcdef"), 8192)
	if err := c.MakeDir("/up"); err != nil {
		t.Fatalf("MKD: %v", err)
	}
	if err := c.Stor("/up/data.bin", bytes.NewReader(data)); err != nil {
		t.Fatalf("STOR: %v", err)
	}
	if got := get(t, store, "up/data.bin"); got != string(data) {
		t.Fatalf("up/data.bin holds %d bytes, want %d", len(got), len(data))
	}

	list := func(dir string) []string {
		t.Helper()
		entries, err := c.List(dir)
		if err != nil {
			t.Fatalf("LIST %s: %v", dir, err)
		}
		var names []string
		for _, e := range entries {
			name := e.Name
			if e.Type == ftp.EntryTypeFolder {
				name += "/"
			}
			names = append(names, name)
		}
		slices.Sort(names)
		return names
	}
	if got := list("/"); !slices.Equal(got, []string{"archive/", "many/", "up/"}) {
		t.Errorf("LIST /: %q", got)
	}
	if got := list("/archive"); !slices.Equal(got, []string{"2024/"}) {
		t.Errorf("LIST /archive: %q", got)
	}
	if got := list("/many"); len(got) != 250 || got[0] != "k000" || got[249] != "k249" {
		t.Errorf("LIST /many: %d entries", len(got))
	}
	if err := c.ChangeDir("/archive/2024"); err != nil {
		t.Fatalf("CWD into a prefix: %v", err)
	}
	if got := list(""); !slices.Equal(got, []string{"report.txt"}) {
		t.Errorf("LIST in /archive/2024: %q", got)
	}

	retr := func(name string, offset uint64) string {
		t.Helper()
		r, err := c.RetrFrom(name, offset)
		if err != nil {
			t.Fatalf("RETR %s at %d: %v", name, offset, err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("RETR %s: %v", name, err)
		}
		return string(b)
	}
	if got := retr("/up/data.bin", 0); got != string(data) {
		t.Errorf("RETR: %d bytes", len(got))
	}
	if got := retr("/up/data.bin", 12345); got != string(data[12345:]) {
		t.Errorf("REST 12345 + RETR: %d bytes, want %d", len(got), len(data)-12345)
	}

	// A client that stored the first part resumes with REST+STOR.
	if err := c.Stor("/up/resumed.bin", bytes.NewReader(data[:40000])); err != nil {
		t.Fatal(err)
	}
	if err := c.StorFrom("/up/resumed.bin", bytes.NewReader(data[40000:]), 40000); err != nil {
		t.Fatalf("REST+STOR: %v", err)
	}
	if got := retr("/up/resumed.bin", 0); got != string(data) {
		t.Errorf("after REST+STOR: %d bytes, want the whole %d", len(got), len(data))
	}

	if err := c.Rename("/up/resumed.bin", "/up/moved.bin"); err != nil {
		t.Errorf("rename a file: %v", err)
	}
	if err := c.Rename("/archive", "/old"); replyCode(err) != 550 {
		t.Errorf("rename a folder: %v, want 550", err)
	}
	if err := c.RemoveDir("/archive/2024"); replyCode(err) != 550 {
		t.Errorf("RMD of a folder with keys: %v, want 550", err)
	}
	// Deleting its last key leaves the folder (a marker is written).
	if err := c.Delete("/archive/2024/report.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangeDir("/archive/2024"); err != nil {
		t.Errorf("CWD after DELE of the last file: %v", err)
	}
	if err := c.RemoveDir("/archive/2024"); err != nil {
		t.Errorf("RMD of an empty folder: %v", err)
	}
}

// ending is how pier ended an upload it opened.
type ending struct {
	name   string
	reason error // nil: Close
}

// recFS records the uploads pier opens and how it ends them.
type recFS struct {
	*FS
	opened chan string
	ends   chan ending
}

func newRecFS(store *Store, quota int64) *recFS {
	return &recFS{FS: NewFS(store, quota), opened: make(chan string, 100), ends: make(chan ending, 100)}
}

func (r *recFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (pier.File, error) {
	f, err := r.FS.OpenFile(ctx, name, flag, perm)
	return r.wrap(name, flag, f, err)
}

func (r *recFS) OpenFileAt(ctx context.Context, name string, flag int, perm fs.FileMode, offset int64) (pier.File, error) {
	f, err := r.FS.OpenFileAt(ctx, name, flag, perm, offset)
	return r.wrap(name, flag, f, err)
}

func (r *recFS) wrap(name string, flag int, f pier.File, err error) (pier.File, error) {
	if err != nil || flag&os.O_WRONLY == 0 {
		return f, err
	}
	r.opened <- name
	return &recFile{File: f, name: name, ends: r.ends}, nil
}

type recFile struct {
	pier.File
	name string
	ends chan<- ending
}

func (f *recFile) Close() error {
	err := f.File.Close()
	f.ends <- ending{f.name, nil}
	return err
}

func (f *recFile) Abort(reason error) error {
	err := f.File.(pier.Aborter).Abort(reason)
	f.ends <- ending{f.name, reason}
	return err
}

func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
	}
	panic("unreachable")
}

// startUpload sends STOR name and some bytes, and waits until pier has
// opened the file. It returns the data connection, still open.
func startUpload(t *testing.T, c *ftptest.Conn, fsys *recFS, name string) net.Conn {
	t.Helper()
	dc := c.Passive(t)
	c.Send(t, "STOR "+name)
	c.ExpectReply(t, 150)
	if _, err := dc.Write([]byte("the new, incomplete content")); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, fsys.opened); got != name {
		t.Fatalf("opened %q, want %q", got, name)
	}
	return dc
}

func login(t *testing.T, addr string) *ftptest.Conn {
	t.Helper()
	c := ftptest.Dial(t, addr)
	c.Login(t, "user", "12345")
	return c
}

func TestAbortKeepsOldObject(t *testing.T) {
	store := NewStore()
	put(t, store, "doc.txt", "old content")
	fsys := newRecFS(store, 0)
	c := login(t, start(t, fsys))
	startUpload(t, c, fsys, "doc.txt")
	c.Expect(t, "ABOR", 426)
	c.ExpectReply(t, 226)
	if e := receive(t, fsys.ends); !errors.Is(e.reason, pier.ErrTransferAborted) {
		t.Errorf("upload ended with %v, want Abort(ErrTransferAborted)", e.reason)
	}
	if got := get(t, store, "doc.txt"); got != "old content" {
		t.Errorf("doc.txt holds %q after ABOR", got)
	}
	if got := keys(store); !slices.Equal(got, []string{"doc.txt"}) {
		t.Errorf("keys after ABOR: %q", got)
	}
}

func TestDroppedSessionLeavesNothing(t *testing.T) {
	store := NewStore()
	fsys := newRecFS(store, 0)
	c := login(t, start(t, fsys))
	startUpload(t, c, fsys, "new.bin")
	c.Close() // the control connection, mid-upload
	if e := receive(t, fsys.ends); !errors.Is(e.reason, pier.ErrSessionClosed) {
		t.Errorf("upload ended with %v, want Abort(ErrSessionClosed)", e.reason)
	}
	if got := keys(store); len(got) != 0 {
		t.Errorf("keys after a dropped session: %q", got)
	}
}

func TestQuota(t *testing.T) {
	store := NewStore()
	put(t, store, "seed", string(make([]byte, 600)))
	fsys := newRecFS(store, 1000)
	c := login(t, start(t, fsys))

	dc := c.Passive(t)
	c.Send(t, "STOR big.bin")
	c.ExpectReply(t, 150)
	dc.Write(make([]byte, 2000)) // the server may cut the connection first
	dc.Close()
	if text := c.ExpectReply(t, 552); text != "Quota exceeded." {
		t.Errorf("552 %q, want %q", text, "Quota exceeded.")
	}
	if e := receive(t, fsys.ends); !errors.Is(e.reason, syscall.EDQUOT) {
		t.Errorf("upload ended with %v, want Abort(the quota error)", e.reason)
	}
	if got := keys(store); !slices.Equal(got, []string{"seed"}) {
		t.Errorf("keys after 552: %q", got)
	}
	// What fits still goes.
	c.Store(t, "STOR small.bin", make([]byte, 400))
	if e := receive(t, fsys.ends); e.reason != nil {
		t.Errorf("small upload ended with %v", e.reason)
	}
	if got := store.Usage(); got != 1000 {
		t.Errorf("usage %d, want 1000", got)
	}
}

func TestConcurrentUploadsToOneKey(t *testing.T) {
	store := NewStore()
	fsys := newRecFS(store, 0)
	addr := start(t, fsys)
	a, b := login(t, addr), login(t, addr)
	dc := startUpload(t, a, fsys, "same.bin")
	b.Passive(t)
	if code, text := b.Cmd(t, "STOR same.bin"); code != 450 {
		t.Fatalf("second STOR: %d %q, want 450", code, text)
	}
	dc.Close()
	a.ExpectReply(t, 226)
	if got := get(t, store, "same.bin"); got != "the new, incomplete content" {
		t.Errorf("same.bin holds %q", got)
	}
	b.Store(t, "STOR same.bin", []byte("second"))
	if got := get(t, store, "same.bin"); got != "second" {
		t.Errorf("same.bin holds %q after the second upload", got)
	}
}

func TestContext(t *testing.T) {
	store := NewStore()
	put(t, store, "k", "0123456789")
	fsys := NewFS(store, 0)
	ctx, cancel := context.WithCancel(t.Context())
	r, err := fsys.OpenFileAt(ctx, "k", os.O_RDONLY, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	w, err := fsys.OpenFile(ctx, "k", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "45" {
		t.Fatalf("ranged read: %q, %v", buf, err)
	}
	cancel()
	if _, err := r.Read(buf); !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel: %v", err)
	}
	if _, err := w.Write(buf); !errors.Is(err, context.Canceled) {
		t.Errorf("Write after cancel: %v", err)
	}
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Errorf("Close after cancel: %v", err)
	}
	if got := get(t, store, "k"); got != "0123456789" {
		t.Errorf("k holds %q", got)
	}
	if _, err := fsys.Stat(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat after cancel: %v", err)
	}
	r.Close()
}

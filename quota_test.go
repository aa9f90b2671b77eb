package pier_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/auth"
	"github.com/pierftp/pier/fsys/local"
	"github.com/pierftp/pier/ftptest"
)

// memQuota is a Quota in memory, as a single server's embedder might keep
// one; down makes Reserve fail as a store that can't be reached does.
type memQuota struct {
	mu                 sync.Mutex
	maxBytes, maxFiles int64
	bytes, files       int64
	down               bool
	reserves, refusals int
}

func (q *memQuota) Reserve(ctx context.Context, b, f int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reserves++
	if q.down {
		return errors.New("quota store unreachable")
	}
	if q.maxBytes > 0 && q.bytes+b > q.maxBytes || q.maxFiles > 0 && q.files+f > q.maxFiles {
		q.refusals++
		return fmt.Errorf("memQuota: %w", pier.ErrQuotaExceeded)
	}
	q.bytes += b
	q.files += f
	return nil
}

func (q *memQuota) Adjust(ctx context.Context, b, f int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bytes += b
	q.files += f
	return nil
}

func (q *memQuota) usage() (int64, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes, q.files
}

// diskUsage is the bytes and files under dir.
func diskUsage(t *testing.T, dir string) (bytes, files int64) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		bytes += fi.Size()
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bytes, files
}

// quotaServer is a test server whose user "q" has quota q on its own
// folder.
func quotaServer(t *testing.T, q *memQuota) (*ftptest.Server, string) {
	t.Helper()
	srv := ftptest.NewServer(t, nil)
	dir := filepath.Join(srv.Dir, "q")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fsys, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	if err := srv.Users.AddUser("q", auth.Account{Password: "pw", FS: fsys, Perm: pier.AllPerms, Quota: q}); err != nil {
		t.Fatal(err)
	}
	return srv, dir
}

// checkUsage fails the test unless the quota's count is what is on disk.
func checkUsage(t *testing.T, step string, q *memQuota, dir string) {
	t.Helper()
	gotB, gotF := q.usage()
	wantB, wantF := diskUsage(t, dir)
	if gotB != wantB || gotF != wantF {
		t.Fatalf("after %s: quota counts %d bytes in %d files; the disk holds %d bytes in %d files", step, gotB, gotF, wantB, wantF)
	}
}

// storeRefused sends an upload that the quota stops: it wants code, and
// returns whether the 150 came first.
func storeRefused(t *testing.T, c *ftptest.Conn, cmd string, data []byte, code int) (started bool) {
	t.Helper()
	dc := c.Passive(t)
	c.Send(t, cmd)
	got, text, err := c.ReadReply()
	if err != nil {
		t.Fatal(err)
	}
	if got == 150 {
		started = true
		dc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		dc.Write(data) // the server may cut it: the reply says what happened
		dc.Close()
		got, text, err = c.ReadReply()
		if err != nil {
			t.Fatal(err)
		}
	}
	if got != code {
		t.Fatalf("%s: got %d %q, want %d", cmd, got, text, code)
	}
	if code == 552 && text != "Quota exceeded." {
		t.Errorf("%s: 552 text %q", cmd, text)
	}
	return started
}

// TestQuotaFollowsEveryCommand checks that the quota counts what each
// command that adds or removes file bytes does, exactly as the disk ends
// up, and refuses with 552 before the 150 (full already) and during the
// transfer (going past it).
func TestQuotaFollowsEveryCommand(t *testing.T) {
	q := &memQuota{maxBytes: 10_000, maxFiles: 5}
	srv, dir := quotaServer(t, q)
	c := srv.Dial(t)
	c.Login(t, "q", "pw")
	kb := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }

	c.Store(t, "STOR a", kb(3000))
	checkUsage(t, "STOR a", q, dir)
	c.Store(t, "STOR b", kb(3000))
	checkUsage(t, "STOR b", q, dir)
	c.Store(t, "STOR a", kb(3000))
	checkUsage(t, "STOR a again", q, dir)
	// 6000 used of 10000: b rewritten with 4500 bytes needs room for
	// 1500 more, not 4500 (which would not fit).
	c.Store(t, "STOR b", kb(4500))
	checkUsage(t, "STOR b, bigger", q, dir)
	c.Store(t, "APPE b", kb(1000))
	checkUsage(t, "APPE b", q, dir)
	c.Expect(t, "REST 2000", 350)
	c.Store(t, "STOR b", kb(1500)) // inside b's 5500 bytes: no growth
	checkUsage(t, "REST+STOR b", q, dir)
	c.Expect(t, "REST 5000", 350)
	c.Store(t, "APPE b", kb(1000)) // grows b to 6000
	checkUsage(t, "REST+APPE b", q, dir)
	c.Store(t, "STOU u", kb(500))
	checkUsage(t, "STOU", q, dir)
	c.Store(t, "STOR c", kb(100))
	checkUsage(t, "STOR c", q, dir)
	c.Expect(t, "RNFR c", 350)
	c.Expect(t, "RNTO a", 250) // replaces a's 3000 bytes
	checkUsage(t, "RNTO over a", q, dir)
	c.Expect(t, "DELE a", 250)
	checkUsage(t, "DELE a", q, dir)

	// Past the quota during the transfer: 552 after the 150; what was
	// written stays (no atomic uploads) and is counted.
	if !storeRefused(t, c, "STOR big", kb(20_000), 552) {
		t.Error("STOR past the quota was refused before the 150; want during the transfer")
	}
	checkUsage(t, "STOR past the quota", q, dir)

	// Full: refused before the 150.
	used, _ := q.usage()
	c.Store(t, "APPE big", kb(int(10_000-used)))
	checkUsage(t, "filling up", q, dir)
	if storeRefused(t, c, "STOR d", kb(10), 552) {
		t.Error("STOR with the quota full got a 150; want 552 at once")
	}
	checkUsage(t, "STOR refused", q, dir)
	c.Store(t, "STOR big", kb(10)) // a rewrite, smaller: allowed at the limit
	checkUsage(t, "a rewrite at the limit", q, dir)
	c.Expect(t, "DELE big", 250)
	checkUsage(t, "DELE big", q, dir)

	// The files limit: 5.
	for i := 0; ; i++ {
		_, files := q.usage()
		if files == 5 {
			break
		}
		c.Store(t, fmt.Sprintf("STOR f%d", i), kb(1))
	}
	if storeRefused(t, c, "STOR one-too-many", kb(1), 552) {
		t.Error("a sixth file got a 150; want 552 at once")
	}
	c.Store(t, "STOR f0", kb(2)) // an existing file may still be written
	checkUsage(t, "files limit", q, dir)
}

// TestQuotaConcurrentUploads runs uploads from several sessions past a
// quota: what is stored never exceeds it, and the count is the disk's.
func TestQuotaConcurrentUploads(t *testing.T) {
	q := &memQuota{maxBytes: 3 << 20}
	srv, dir := quotaServer(t, q)
	data := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16) // 300 KiB
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 4 {
		wg.Go(func() {
			c := srv.Dial(t)
			c.Login(t, "q", "pw")
			for j := range 4 {
				dc := c.Passive(t)
				c.Send(t, fmt.Sprintf("STOR s%d-%d", i, j))
				code, _, err := c.ReadReply()
				if err != nil {
					t.Error(err)
					return
				}
				if code == 150 {
					dc.SetWriteDeadline(time.Now().Add(10 * time.Second))
					dc.Write(data)
					dc.Close()
					code, _, err = c.ReadReply()
					if err != nil {
						t.Error(err)
						return
					}
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	checkUsage(t, "concurrent uploads", q, dir)
	if b, _ := diskUsage(t, dir); b > q.maxBytes {
		t.Errorf("the disk holds %d bytes, past the quota of %d", b, q.maxBytes)
	}
	if codes[226] == 0 || codes[552] == 0 {
		t.Errorf("replies %v: want some 226 and some 552 (16 × 300 KiB against 3 MiB)", codes)
	}
	for code := range codes {
		if code != 226 && code != 552 {
			t.Errorf("replies %v: unexpected %d", codes, code)
		}
	}
}

// TestQuotaStoreDown checks that a Quota that can't be reached (a
// database outage) lets logged-in users go on uploading, and that what
// they stored is still counted.
func TestQuotaStoreDown(t *testing.T) {
	q := &memQuota{maxBytes: 1 << 20, down: true}
	srv, dir := quotaServer(t, q)
	c := srv.Dial(t)
	c.Login(t, "q", "pw")
	c.Store(t, "STOR a", bytes.Repeat([]byte("y"), 100_000))
	c.Store(t, "APPE a", bytes.Repeat([]byte("y"), 100_000))
	checkUsage(t, "uploads while the quota store is down", q, dir)
	q.mu.Lock()
	q.down = false
	q.mu.Unlock()
	c.Store(t, "STOR b", []byte("z"))
	checkUsage(t, "after the store came back", q, dir)
}

// TestQuotaAbortedUpload checks the count after ABOR in the middle of an
// upload, and after a client that vanished.
func TestQuotaAbortedUpload(t *testing.T) {
	q := &memQuota{maxBytes: 100 << 20}
	srv, dir := quotaServer(t, q)
	c := srv.Dial(t)
	c.Login(t, "q", "pw")
	dc := c.Passive(t)
	c.Send(t, "STOR partial")
	c.ExpectReply(t, 150)
	if _, err := dc.Write(bytes.Repeat([]byte("p"), 3<<20)); err != nil {
		t.Fatal(err)
	}
	c.Send(t, "ABOR")
	for {
		code, text, err := c.ReadReply()
		if err != nil {
			t.Fatal(err)
		}
		if code == 226 || code == 225 {
			break
		}
		if code != 426 {
			t.Fatalf("ABOR: %d %q", code, text)
		}
	}
	dc.Close()
	checkUsage(t, "ABOR", q, dir)

	c2 := srv.Dial(t)
	c2.Login(t, "q", "pw")
	dc2 := c2.Passive(t)
	c2.Send(t, "STOR gone")
	c2.ExpectReply(t, 150)
	dc2.Write(bytes.Repeat([]byte("g"), 1<<20))
	c2.Close()
	dc2.Close()
	// The session ends on its own: wait for it, then compare.
	deadline := time.Now().Add(20 * time.Second)
	for len(srv.Sessions()) > 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	checkUsage(t, "a client gone mid-upload", q, dir)
}

// TestQuotaRenameAndDeleteDuringUpload checks that another session's
// RNFR/RNTO of a file being uploaded does not take it out of the count
// (the upload settles by what it wrote, not by its name), and that DELE
// of it waits for the upload (450).
func TestQuotaRenameAndDeleteDuringUpload(t *testing.T) {
	q := &memQuota{maxBytes: 100 << 20}
	srv, dir := quotaServer(t, q)
	a := srv.Dial(t)
	a.Login(t, "q", "pw")
	b := srv.Dial(t)
	b.Login(t, "q", "pw")
	dc := a.Passive(t)
	a.Send(t, "STOR big")
	a.ExpectReply(t, 150)
	chunk := bytes.Repeat([]byte("b"), 1<<20)
	if _, err := dc.Write(chunk); err != nil {
		t.Fatal(err)
	}
	// The upload's file is open once its first bytes arrived.
	for range 200 {
		if _, err := os.Stat(filepath.Join(dir, "big")); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if text := b.Expect(t, "DELE big", 450); text != "File busy: an upload to this name is in progress." {
		t.Errorf("DELE during the upload: %q", text)
	}
	b.Expect(t, "RNFR big", 350)
	b.Expect(t, "RNTO moved", 250)
	if _, err := dc.Write(chunk); err != nil {
		t.Fatal(err)
	}
	dc.Close()
	a.ExpectReply(t, 226)
	checkUsage(t, "a rename during the upload", q, dir)
	if b, _ := q.usage(); b != 2<<20 {
		t.Errorf("counted %d bytes, want the 2 MiB written", b)
	}
}

// TestQuotaRefusedDataConnection checks that an upload whose data
// connection can't be made (a closed EPRT port) counts nothing, and gives
// back the room and the file it reserved.
func TestQuotaRefusedDataConnection(t *testing.T) {
	q := &memQuota{maxBytes: 1000, maxFiles: 1}
	srv, dir := quotaServer(t, q)
	c := srv.Dial(t)
	c.Login(t, "q", "pw")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nobody listens there now
	c.Expect(t, fmt.Sprintf("EPRT |1|127.0.0.1|%d|", port), 200)
	c.Send(t, "STOR never")
	c.ExpectReply(t, 150)
	c.ExpectReply(t, 425)
	checkUsage(t, "a refused data connection", q, dir)
	if b, f := q.usage(); b != 0 || f != 0 {
		t.Errorf("usage %d bytes, %d files after nothing was stored", b, f)
	}
	// The file reserved was given back: the one file allowed still fits.
	c.Store(t, "STOR one", []byte("1"))
}

package admin_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/pierftp/pier/admin"
	"github.com/pierftp/pier/ftptest"
)

// chromium is the browser the page is tested in.
const chromium = "/usr/bin/chromium"

// pageView is what the page shows, read from its DOM.
type pageView struct {
	LoginShown  bool              `json:"loginShown"`
	State       string            `json:"state"`
	Users       []string          `json:"users"`
	Bytes       map[string]string `json:"bytes"` // user → data-bytes of the running transfer
	Bars        int               `json:"bars"`
	Bans        []string          `json:"bans"`
	Recent      int               `json:"recent"`
	ChartPoints []int             `json:"chartPoints"` // per line
	Totals      string            `json:"totals"`
}

// readPage is the script that reads a pageView.
const readPage = `(() => {
	const rows = [...document.querySelectorAll("#sessions tbody tr")];
	const bytes = {};
	for (const r of rows) {
		const b = r.querySelector(".bytes");
		if (b) bytes[r.dataset.user] = b.dataset.bytes;
	}
	return {
		loginShown: !document.getElementById("login").hidden,
		state: document.getElementById("state").textContent,
		users: rows.map((r) => r.dataset.user),
		bytes,
		bars: document.querySelectorAll("#sessions .bar").length,
		bans: [...document.querySelectorAll("#bans tbody tr")].map((r) => r.dataset.ban),
		recent: document.querySelectorAll("#recent tbody tr").length,
		chartPoints: [...document.querySelectorAll("#chart polyline")].map((p) => p.getAttribute("points").split(" ").filter((x) => x).length),
		totals: document.getElementById("totals").innerText,
	};
})()`

// TestBrowser loads the page in headless Chromium while one client
// uploads slowly, one downloads slowly and one sits idle: the page asks
// for the token, then shows the sessions by user name, the upload's bytes
// growing, a ban after failed logins, the ended transfers, and no session
// once they all end; its Lift and End buttons lift the ban and end the
// idle session. It saves screenshots (desktop and phone widths) in
// $PIER_TEST_ARTIFACTS, or in a temporary folder.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: install the chromium package", chromium)
		}
		t.Skipf("%s is missing (install chromium to run this test)", chromium)
	}
	f := setup(t, func(o *admin.Options) { o.Token = token }, func(s *ftptest.Server) {
		s.BanAfter, s.BanTime = 2, time.Hour
	})
	big := make([]byte, 64<<20)
	for i := range big {
		big[i] = byte(i)
	}
	if err := os.WriteFile(filepath.Join(f.ftp.Dir, "video.mkv"), big, 0o644); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(f.ftp.Dir, "readme.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	idle := f.ftp.Dial(t)
	idle.Login(t, "anonymous", "guest@")
	idle.Retrieve(t, "RETR readme.txt") // a complete transfer for the list
	stopUpload := slowUpload(t, f)
	stopDownload := slowDownload(t, f)

	ctx, cancel, pageErrors := browser(t)
	defer cancel()
	read := func() pageView {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[pageView](readPage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return v
	}
	waitPage := func(what string, cond func(pageView) bool) pageView {
		t.Helper()
		var v pageView
		for range 600 { // 60 s: a hang guard
			if v = read(); cond(v) {
				return v
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("the page never showed %s; it shows %+v", what, v)
		return v
	}

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(f.http.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitPage("the token form", func(v pageView) bool { return v.LoginShown })
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#token-form button[type=submit]")),
	); err != nil {
		t.Fatal(err)
	}
	v := waitPage("the three sessions", func(v pageView) bool {
		return !v.LoginShown && hasAll(v.Users, "anonymous", "uploader", ftptest.User) && v.Bytes["uploader"] != "" && v.Bars > 0
	})
	first := v.Bytes["uploader"]
	waitPage("the upload's bytes grow", func(v pageView) bool { return greater(v.Bytes["uploader"], first) })

	// Two failed logins ban 127.0.0.1; the sessions already there go on.
	bad := f.ftp.Dial(t)
	bad.Expect(t, "USER "+ftptest.User, 331)
	bad.Expect(t, "PASS wrong", 530)
	bad.Expect(t, "USER "+ftptest.User, 331)
	if code, _ := bad.Cmd(t, "PASS wrong"); code != 530 && code != 421 {
		t.Errorf("second failed login: %d", code)
	}
	waitPage("the ban", func(v pageView) bool { return hasAll(v.Bans, "127.0.0.1") })
	waitPage("the throughput chart's lines", func(v pageView) bool {
		return len(v.ChartPoints) == 2 && v.ChartPoints[0] >= 5 && v.ChartPoints[1] >= 5
	})

	dir := os.Getenv("PIER_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, filepath.Join(dir, "status-page.png"))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	narrow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if !narrow {
		t.Error("the page is wider than a phone's screen")
	}
	screenshot(t, ctx, filepath.Join(dir, "status-page-phone.png"))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}

	// The page's buttons: lift the ban, end the idle session. A button
	// stays the same element across redraws, so that a click between a
	// press and a release is not lost.
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(window.liftButton = document.querySelector('#bans tr[data-ban="127.0.0.1"] button')) !== null`)); err != nil || !ok {
		t.Fatalf("no Lift button: %v", err)
	}
	for range 2 {
		before := read().State
		waitPage("a redraw", func(v pageView) bool { return v.State != before })
	}
	if same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.contains(window.liftButton)`)); err != nil || !same {
		t.Errorf("the Lift button was replaced by a redraw (%v)", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#bans tr[data-ban="127.0.0.1"] button`))); err != nil {
		t.Fatal(err)
	}
	waitPage("no ban", func(v pageView) bool { return len(v.Bans) == 0 })
	if bans := f.ftp.Bans(); len(bans) != 0 {
		t.Errorf("bans %v after Lift", bans)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#sessions tr[data-user="anonymous"] button`))); err != nil {
		t.Fatal(err)
	}
	if text := idle.ExpectReply(t, 421); !strings.Contains(text, "administrator") {
		t.Errorf("the idle session got 421 %q", text)
	}
	waitPage("the idle session gone", func(v pageView) bool { return !hasAll(v.Users, "anonymous") })

	bad.Close()
	stopUpload()
	stopDownload()
	v = waitPage("no session", func(v pageView) bool { return len(v.Users) == 0 && v.Recent >= 3 })
	if !strings.Contains(v.State, "token") {
		t.Errorf("state line %q does not say who reads", v.State)
	}
	if errs := pageErrors(); len(errs) > 0 {
		t.Errorf("the page's script failed: %v", errs)
	}
}

// browser starts headless Chromium (as root it needs --no-sandbox); the
// context ends it, and times out after two minutes as a hang guard.
// pageErrors returns the uncaught exceptions the page's script threw.
func browser(t *testing.T) (ctx context.Context, cancel context.CancelFunc, pageErrors func() []string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	timeout, cancelTimeout := context.WithTimeout(context.Background(), 2*time.Minute)
	alloc, cancelAlloc := chromedp.NewExecAllocator(timeout, opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	var mu sync.Mutex
	var errs []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			d := e.ExceptionDetails
			msg := fmt.Sprintf("%s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, d.Text)
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			errs = append(errs, msg)
			mu.Unlock()
		}
	}); err != nil {
		cancelAlloc()
		cancelTimeout()
		t.Fatalf("start %s: %v", chromium, err)
	}
	return ctx, func() { cancelCtx(); cancelAlloc(); cancelTimeout() }, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

// screenshot saves the whole page as a PNG and logs where.
func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// slowUpload logs in as "uploader" and uploads 64 KiB every 20 ms until
// stopped (or for a minute at most); stop ends the upload with its 226.
func slowUpload(t *testing.T, f *fixture) (stop func()) {
	t.Helper()
	c := f.ftp.Dial(t)
	c.Login(t, "uploader", "pw")
	dc := c.Passive(t)
	c.Send(t, "STOR upload.iso")
	c.ExpectReply(t, 150)
	quit, done := make(chan struct{}), make(chan error, 1)
	go func() {
		chunk := make([]byte, 64<<10)
		for range 3000 {
			select {
			case <-quit:
				done <- dc.Close()
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := dc.Write(chunk); err != nil {
				done <- err
				return
			}
		}
		done <- dc.Close()
	}()
	return func() {
		close(quit)
		if err := <-done; err != nil {
			t.Errorf("upload: %v", err)
		}
		c.ExpectReply(t, 226)
		c.Expect(t, "QUIT", 221)
	}
}

// slowDownload logs in as ftptest.User and reads video.mkv 32 KiB every
// 20 ms until stopped; stop cuts it (ABOR) and quits.
func slowDownload(t *testing.T, f *fixture) (stop func()) {
	t.Helper()
	c := f.ftp.Dial(t)
	c.Login(t, ftptest.User, ftptest.Password)
	dc := c.Passive(t)
	c.Send(t, "RETR video.mkv")
	c.ExpectReply(t, 150)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 32<<10)
		for range 3000 {
			select {
			case <-quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := dc.Read(buf); err != nil {
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		dc.(*net.TCPConn).SetLinger(0)
		dc.Close()
		// The server sees the data connection lost: 426, the transfer
		// incomplete.
		if code, text, err := c.ReadReply(); err != nil || (code != 426 && code != 226) {
			t.Errorf("download: %d %q %v", code, text, err)
		}
		c.Expect(t, "QUIT", 221)
	}
}

func hasAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// greater compares two decimal byte counts.
func greater(a, b string) bool {
	var x, y int64
	fmt.Sscan(a, &x)
	fmt.Sscan(b, &y)
	return x > y
}

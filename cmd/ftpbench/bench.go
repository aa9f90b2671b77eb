package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// bench holds the state shared by the workloads of one run.
type bench struct {
	o       *options
	stderr  io.Writer
	ip      net.IP // the server's address, checked to be loopback
	addr    string // ip:port of the control connection
	tlsBase *tls.Config
	src     *sourcePicker // --source: the clients' local addresses; nil for the system's choice
	prog    *progress
	tag     string // prefix of the files this run creates

	main  *client   // the connection for single transfers and setup
	idle  []*client // logged-in, prepared clients kept between workloads
	home  string    // the login folder (PWD)
	files map[string]int64
	wbuf  []byte // what uploads send, read-only
}

func newBench(o *options, stdout, stderr io.Writer) (*bench, error) {
	b := &bench{
		o:      o,
		stderr: stderr,
		prog:   newProgress(stderr, o.quiet),
		tag:    fmt.Sprintf("ftpbench-%d", os.Getpid()),
		files:  map[string]int64{},
		wbuf:   make([]byte, 256<<10),
	}
	for i := range b.wbuf {
		b.wbuf[i] = 'x'
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, o.host)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", o.host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s has no address", o.host)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() && !o.allowRemote {
			return nil, fmt.Errorf("refusing to benchmark %s (%s): not a loopback address; benchmarks only touch loopback unless --allow-remote", o.host, a.IP)
		}
	}
	b.ip = addrs[0].IP
	b.addr = net.JoinHostPort(b.ip.String(), strconv.Itoa(o.port))
	if o.sources.IsValid() {
		if o.sources.Addr().Is4() != (b.ip.To4() != nil) {
			return nil, fmt.Errorf("--source %s and the server's address %s are not of the same family", o.sources, b.ip)
		}
		b.src = newSourcePicker(o.sources)
		// one bind up front: a prefix that is not the machine's fails here,
		// with its name, rather than as every client's failed dial
		first := netip.AddrPortFrom(b.src.base, 0).String()
		ln, err := net.Listen("tcp", first)
		if err != nil {
			return nil, fmt.Errorf("--source %s: %s is not an address of this machine: %w", o.sources, b.src.base, err)
		}
		ln.Close()
	}
	b.tlsBase = tlsBase(o.host)
	return b, nil
}

// logf writes a message line on stderr, around the progress line.
func (b *bench) logf(format string, args ...any) {
	b.prog.printf(format, args...)
}

// sample fills in the server's memory, if --pid was given.
func (b *bench) sample(r *result) {
	if b.o.pid == 0 {
		return
	}
	rss, pss, err := serverMemory(b.o.pid)
	if err != nil {
		r.fail(fmt.Errorf("server memory: %w", err))
		return
	}
	r.ServerRSS, r.ServerPSS = rss, pss
}

// connectLogin connects and logs in, retrying a failed attempt at most 3
// times with backoff. It returns the number of failed attempts.
func (b *bench) connectLogin() (*client, int, error) {
	failed := 0
	for attempt := 0; ; attempt++ {
		c, err := b.dial()
		if err == nil {
			err = c.login()
			if err != nil {
				c.close()
			}
		}
		if err == nil {
			return c, failed, nil
		}
		failed++
		if attempt == 3 || !retryable(err) {
			return nil, failed, err
		}
		backoff := time.Duration(100<<attempt) * time.Millisecond
		time.Sleep(backoff + rand.N(backoff/2))
	}
}

// getMain returns the main connection, making it if needed.
func (b *bench) getMain() (*client, error) {
	if b.main != nil {
		return b.main, nil
	}
	c, _, err := b.connectLogin()
	if err != nil {
		return nil, err
	}
	if err := c.prepare(); err != nil {
		c.close()
		return nil, err
	}
	if b.home == "" {
		text, err := c.expect("PWD", 257)
		if err != nil {
			c.close()
			return nil, err
		}
		b.home, err = parsePWD(text)
		if err != nil {
			c.close()
			return nil, err
		}
	}
	b.main = c
	return c, nil
}

// dropMain forgets the main connection after an error on it, since its
// state is unknown; the next workload makes a new one.
func (b *bench) dropMain() {
	if b.main != nil {
		b.main.close()
		b.main = nil
	}
}

// parsePWD extracts the quoted path of a 257 reply, undoubling quotes.
func parsePWD(text string) (string, error) {
	i := strings.IndexByte(text, '"')
	if i < 0 {
		return "", fmt.Errorf("PWD: malformed reply %q", text)
	}
	var sb strings.Builder
	for j := i + 1; j < len(text); j++ {
		if text[j] == '"' {
			if j+1 < len(text) && text[j+1] == '"' {
				sb.WriteByte('"')
				j++
				continue
			}
			return sb.String(), nil
		}
		sb.WriteByte(text[j])
	}
	return "", fmt.Errorf("PWD: malformed reply %q", text)
}

// parallel runs fn(0..n-1) in n goroutines released together, and returns
// the time (see timed) from the release until the last one returned.
func (b *bench) parallel(n int, fn func(i int) error) (timing, []error) {
	errs := make([]error, n)
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	ready.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = fn(i)
			b.prog.add(1)
		}()
	}
	ready.Wait()
	t := b.timed(func() {
		close(start)
		done.Wait()
	})
	return t, errs
}

// timing is what the timed part of a workload took: wall time, and the CPU
// time the client and, with --cgroup, the server used meanwhile.
type timing struct {
	wall      time.Duration
	client    time.Duration
	server    time.Duration
	hasServer bool
}

// timed runs fn, the timed part of a workload, and measures it.
func (b *bench) timed(fn func()) timing {
	s0, serr := b.serverCPU()
	c0 := clientCPU()
	start := time.Now()
	fn()
	t := timing{wall: time.Since(start)}
	t.client = clientCPU() - c0
	if s1, err := b.serverCPU(); err == nil && serr == nil {
		t.server, t.hasServer = s1-s0, true
	}
	return t
}

// serverCPU reads the CPU time used so far by the processes in --cgroup;
// without --cgroup it fails.
func (b *bench) serverCPU() (time.Duration, error) {
	if b.o.cgroup == "" {
		return 0, errNoCgroup
	}
	return cgroupCPU(b.o.cgroup)
}

// bounded runs fn(0..n-1) with at most limit at a time (untimed setup).
func bounded(n, limit int, fn func(i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// ensureIdle makes sure n logged-in, prepared clients are in the pool,
// checking the ones already there with NOOP and replacing dead ones.
func (b *bench) ensureIdle(n int) error {
	for len(b.idle) > n {
		last := b.idle[len(b.idle)-1]
		last.close()
		b.idle = b.idle[:len(b.idle)-1]
	}
	pool := make([]*client, n)
	copy(pool, b.idle)
	b.prog.begin("setup: idle clients", n)
	var mu sync.Mutex
	var firstErr error
	bounded(n, 64, func(i int) {
		defer b.prog.add(1)
		c := pool[i]
		if c != nil && c.prepare() != nil {
			c.close()
			c = nil
		}
		if c == nil {
			var err error
			c, _, err = b.connectLogin()
			if err == nil {
				if err = c.prepare(); err != nil {
					c.close()
				}
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				c = nil
			}
		}
		pool[i] = c
	})
	b.prog.end()
	b.idle = b.idle[:0]
	for _, c := range pool {
		if c != nil {
			b.idle = append(b.idle, c)
		}
	}
	if firstErr != nil {
		return fmt.Errorf("setting up %d idle clients: %d failed: %w", n, n-len(b.idle), firstErr)
	}
	return nil
}

// closeIdle closes every pooled client.
func (b *bench) closeIdle() {
	for _, c := range b.idle {
		c.close()
	}
	b.idle = nil
}

// runWorkload runs one workload once.
func (b *bench) runWorkload(w string) []result {
	switch w {
	case "ceiling":
		return b.ceiling()
	case "stor", "stor-idle":
		return []result{b.single(w, true)}
	case "retr", "retr-idle":
		return []result{b.single(w, false)}
	case "logins":
		return []result{b.logins()}
	case "retr-many", "stor-many":
		return []result{b.many(w == "stor-many")}
	case "quit":
		return []result{b.quitAll()}
	case "list", "mlsd":
		var out []result
		for _, e := range b.o.entries {
			out = append(out, b.list(w, e))
		}
		return out
	}
	panic("unknown workload " + w)
}

// singleName is the file of the single-client transfers.
func (b *bench) singleName() string { return b.tag + "-single.dat" }

// single runs one STOR or RETR of --single-size bytes, with -n idle clients
// around for the -idle variants.
func (b *bench) single(w string, upload bool) (r result) {
	size := int64(b.o.singleSize)
	r = result{Workload: w, Clients: 1, Bytes: size}
	defer r.setThroughput()
	idle := strings.HasSuffix(w, "-idle")
	if idle {
		r.Clients = 1 + b.o.clients
		if err := b.ensureIdle(b.o.clients); err != nil {
			r.fail(err)
			return r
		}
	}
	c, err := b.getMain()
	if err != nil {
		r.fail(err)
		return r
	}
	name := b.singleName()
	if !upload && b.files[name] != size {
		b.prog.begin(w+": setup upload", 1)
		err := c.stor(name, size, b.wbuf)
		b.prog.add(1)
		b.prog.end()
		b.files[name] = size
		if err != nil {
			b.dropMain()
			r.fail(err)
			return r
		}
	}
	if upload {
		if err := b.removeBefore(c, name); err != nil {
			b.dropMain()
			r.fail(err)
			return r
		}
	}
	b.prog.begin(w, 1)
	var buf []byte
	if !upload {
		buf = make([]byte, 256<<10)
	}
	r.setTiming(b.timed(func() {
		if upload {
			b.files[name] = size
			err = c.stor(name, size, b.wbuf)
		} else {
			_, err = c.retr(name, size, buf)
		}
	}))
	b.prog.add(1)
	b.prog.end()
	if err != nil {
		b.dropMain()
		r.fail(err)
	}
	b.sample(&r)
	return r
}

// logins connects -n fresh clients at once and logs them in; they then
// stay, idle, for the next workloads.
func (b *bench) logins() (r result) {
	n := b.o.clients
	r = result{Workload: "logins", Clients: n}
	defer r.setTime()
	b.closeIdle()
	if b.o.settle > 0 && b.o.pid != 0 {
		var before result
		b.sample(&before)
		r.BeforeRSS = before.ServerRSS
	}
	clients := make([]*client, n)
	failed := make([]int, n)
	b.prog.begin("logins", n)
	t, errs := b.parallel(n, func(i int) error {
		c, f, err := b.connectLogin()
		clients[i], failed[i] = c, f
		return err
	})
	b.prog.end()
	r.setTiming(t)
	for i := range errs {
		r.FailedAttempts += failed[i]
		r.fail(errs[i])
	}
	b.sample(&r)
	if b.o.settle > 0 && b.o.pid != 0 {
		// The clients stay connected and send nothing: what the server
		// keeps for an idle session, once the storm's garbage is gone.
		time.Sleep(b.o.settle)
		var after result
		b.sample(&after)
		r.SettledRSS, r.SettledPSS = after.ServerRSS, after.ServerPSS
		r.SettleSeconds = b.o.settle.Seconds()
		if after.Error != "" {
			r.fail(errors.New(after.Error))
		}
	}
	for _, c := range clients {
		if c != nil {
			b.idle = append(b.idle, c)
		}
	}
	return r
}

// many has -n clients each RETR (or STOR) a --filesize file at once,
// --each times in turn.
func (b *bench) many(upload bool) (r result) {
	n, each, size := b.o.clients, b.o.each, int64(b.o.fileSize)
	w := "retr-many"
	if upload {
		w = "stor-many"
	}
	r = result{Workload: w, Clients: n, Bytes: int64(n*each) * size}
	defer r.setTime()
	src := b.tag + "-" + formatSize(size) + ".dat"
	if !upload && b.files[src] != size {
		c, err := b.getMain()
		if err == nil {
			b.prog.begin(w+": setup upload", 1)
			err = c.stor(src, size, b.wbuf)
			b.prog.add(1)
			b.prog.end()
			b.files[src] = size
			if err != nil {
				b.dropMain()
			}
		}
		if err != nil {
			r.fail(err)
			return r
		}
	}
	if err := b.ensureIdle(n); err != nil {
		r.fail(err)
		return r
	}
	bufSize := 64 << 10
	if n > 1000 {
		bufSize = 16 << 10
	}
	clients := b.idle
	bufs := make([][]byte, n)
	names := make([]string, n*each) // client i's k-th upload: names[i*each+k]
	for i := range bufs {
		if !upload {
			bufs[i] = make([]byte, bufSize)
		}
	}
	for i := range names {
		names[i] = fmt.Sprintf("%s-stor-%d.dat", b.tag, i)
	}
	if upload {
		c, err := b.getMain()
		if err == nil {
			if err = b.removeBefore(c, names...); err != nil {
				b.dropMain()
			}
		}
		if err != nil {
			r.fail(err)
			return r
		}
		for _, name := range names {
			b.files[name] = size
		}
	}
	b.prog.begin(w, n)
	t, errs := b.parallel(n, func(i int) error {
		for k := range each {
			var err error
			if upload {
				err = clients[i].stor(names[i*each+k], size, b.wbuf)
			} else {
				_, err = clients[i].retr(src, size, bufs[i])
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	b.prog.end()
	r.setTiming(t)
	for _, err := range errs {
		r.fail(err)
	}
	b.sample(&r)
	b.dropFailed(errs)
	return r
}

// dropFailed closes the pooled clients whose operation failed.
func (b *bench) dropFailed(errs []error) {
	var keep []*client
	for i, c := range b.idle {
		if i < len(errs) && errs[i] != nil {
			c.close()
			continue
		}
		keep = append(keep, c)
	}
	b.idle = keep
}

// quitAll has -n logged-in clients send QUIT at once.
func (b *bench) quitAll() (r result) {
	n := b.o.clients
	r = result{Workload: "quit", Clients: n}
	defer r.setTime()
	if err := b.ensureIdle(n); err != nil {
		r.fail(err)
		return r
	}
	clients := b.idle
	b.idle = nil
	b.prog.begin("quit", n)
	t, errs := b.parallel(n, func(i int) error {
		_, err := clients[i].expect("QUIT", 221)
		return err
	})
	b.prog.end()
	r.setTiming(t)
	for i, err := range errs {
		clients[i].close()
		r.fail(err)
	}
	b.sample(&r)
	return r
}

// listDir is the folder of the list and mlsd workloads.
func listDir(entries int) string { return fmt.Sprintf("ftpbench-list-%d", entries) }

// entryName is the name of the i-th file of a listing folder.
func entryName(i int) string { return fmt.Sprintf("f%07d", i) }

// ensureListDir makes the folder of entries empty files, uploading only
// the missing ones; a folder from an earlier run is reused.
func (b *bench) ensureListDir(c *client, entries int) error {
	dir := listDir(entries)
	if _, err := c.expect("CWD "+dir, 250); err != nil {
		var re *replyError
		if !errors.As(err, &re) {
			return err
		}
		if _, err := c.expect("MKD "+dir, 257); err != nil {
			return err
		}
		if _, err := c.expect("CWD "+dir, 250); err != nil {
			return err
		}
	}
	have, err := nlst(c)
	if err != nil {
		return err
	}
	var missing []string
	for i := 1; i <= entries; i++ {
		if !have[entryName(i)] {
			missing = append(missing, entryName(i))
		}
	}
	if len(missing) > 0 {
		b.prog.begin(fmt.Sprintf("setup: %s (%d files to make)", dir, len(missing)), len(missing))
		for _, name := range missing {
			if err := c.stor(name, 0, nil); err != nil {
				b.prog.end()
				return err
			}
			b.prog.add(1)
		}
		b.prog.end()
		if have, err = nlst(c); err != nil {
			return err
		}
	}
	if len(have) != entries {
		return fmt.Errorf("%s has %d entries, want %d (remove it)", dir, len(have), entries)
	}
	_, err = c.expect("CWD "+b.home, 250)
	return err
}

// nlst lists the current folder's names (an empty folder may get 450/550).
func nlst(c *client) (map[string]bool, error) {
	names := map[string]bool{}
	err := c.listing("NLST", func(line string) {
		// Some servers (pure-ftpd) list the folder itself and its parent.
		if name := path.Base(line); name != "." && name != ".." {
			names[name] = true
		}
	})
	var re *replyError
	if errors.As(err, &re) && (re.code == 450 || re.code == 550) && re.cmd == "NLST" {
		return names, nil
	}
	return names, err
}

// list times LIST (or MLSD) of a folder of entries files, checking that
// every file is listed.
func (b *bench) list(w string, entries int) result {
	r := result{Workload: fmt.Sprintf("%s-%d", w, entries), Clients: 1, Unit: "s"}
	c, err := b.getMain()
	if err == nil {
		err = b.ensureListDir(c, entries)
	}
	if err != nil {
		b.dropMain()
		r.fail(err)
		return r
	}
	cmd := strings.ToUpper(w) + " " + listDir(entries)
	count := 0
	var bytes int64
	fn := func(line string) {
		bytes += int64(len(line)) + 2
		if strings.HasPrefix(line, "-") {
			count++
		}
	}
	if w == "mlsd" {
		fn = func(line string) {
			bytes += int64(len(line)) + 2
			facts, _, _ := strings.Cut(line, " ")
			if strings.Contains(strings.ToLower(facts), "type=file;") {
				count++
			}
		}
	}
	b.prog.begin(r.Workload, 1)
	r.setTiming(b.timed(func() { err = c.listing(cmd, fn) }))
	b.prog.add(1)
	b.prog.end()
	if err == nil && count != entries {
		err = fmt.Errorf("%s: %d files listed, want %d", cmd, count, entries)
	}
	if err != nil {
		b.dropMain()
		r.fail(err)
	}
	r.Bytes = bytes // the listing's size, for information
	r.Value = r.Seconds
	b.sample(&r)
	return r
}

// removeBefore deletes those of names that an earlier workload or
// repetition uploaded, before an upload to them is timed: servers replace
// an existing file in different ways (truncating it first, writing over
// its pages, writing a new file and renaming it), and freeing a large file
// can take a good part of the time of writing it again, so a timed upload
// always makes a new file.
func (b *bench) removeBefore(c *client, names ...string) error {
	for _, name := range names {
		if _, ok := b.files[name]; !ok {
			continue
		}
		if _, err := c.expect("DELE "+name, 250); err != nil {
			// 450 or 550: the earlier upload failed before it made the file
			var re *replyError
			if !errors.As(err, &re) || re.code != 450 && re.code != 550 {
				return fmt.Errorf("deleting %s before uploading it again: %w", name, err)
			}
		}
		delete(b.files, name)
	}
	return nil
}

// finish deletes the files this run made (and with --cleanup the listing
// folders) and closes every connection.
func (b *bench) finish() error {
	b.closeIdle()
	needServer := len(b.files) > 0 || b.o.cleanup
	if !needServer {
		if b.main != nil {
			b.main.quit()
		}
		return nil
	}
	c, err := b.getMain()
	if err != nil {
		return err
	}
	defer func() {
		if b.main != nil {
			b.main.quit()
			b.main = nil
		}
	}()
	var errs []error
	names := make([]string, 0, len(b.files))
	for name := range b.files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := c.expect("DELE "+name, 250); err != nil {
			errs = append(errs, err)
		}
	}
	if b.o.cleanup {
		for _, e := range b.o.entries {
			if err := b.removeListDir(c, e); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// removeListDir deletes a listing folder, if it exists.
func (b *bench) removeListDir(c *client, entries int) error {
	dir := listDir(entries)
	if _, err := c.expect("CWD "+dir, 250); err != nil {
		return nil // not there
	}
	names, err := nlst(c)
	if err != nil {
		return err
	}
	b.prog.begin("cleanup: "+dir, len(names))
	for name := range names {
		if _, err := c.expect("DELE "+name, 250); err != nil {
			b.prog.end()
			return err
		}
		b.prog.add(1)
	}
	b.prog.end()
	if _, err := c.expect("CWD "+b.home, 250); err != nil {
		return err
	}
	_, err = c.expect("RMD "+dir, 250)
	return err
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// raiseNoFile raises the soft open-file limit to the hard one and returns
// the new soft limit.
func raiseNoFile() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return uint64(rl.Cur), err
		}
	}
	return uint64(rl.Cur), nil
}

// clientCPU is the CPU time (user and system) this process has used.
func clientCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// errNoCgroup: no --cgroup, so the server's CPU time is not measured.
var errNoCgroup = errors.New("no cgroup given")

// cgroupCPU reads the CPU time used so far by every process that ran in
// the cgroup dir, exited ones included: cpuacct.usage (cgroup v1,
// nanoseconds) or usage_usec of cpu.stat (v2). v1 is tried first: where
// the cpu and cpuacct controllers are mounted together, a v1 folder has a
// cpu.stat too, with throttling counters only. Unlike the times of
// /proc/PID/stat, counted in ticks of 10 ms per process, both are exact,
// and they keep counting a forking server's session processes after they
// exit.
func cgroupCPU(dir string) (time.Duration, error) {
	if data, err := os.ReadFile(filepath.Join(dir, "cpuacct.usage")); err == nil {
		ns, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s/cpuacct.usage: %w", dir, err)
		}
		return time.Duration(ns), nil
	}
	data, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return 0, fmt.Errorf("%s: neither cpuacct.usage (cgroup v1) nor cpu.stat (v2) readable: %w", dir, err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "usage_usec "); ok {
			us, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s/cpu.stat: %w", dir, err)
			}
			return time.Duration(us) * time.Microsecond, nil
		}
	}
	return 0, fmt.Errorf("%s/cpu.stat: no usage_usec line", dir)
}

// serverMemory sums the resident set (VmRSS) and the proportional set size
// (Pss from smaps_rollup) of pid and all its descendants. pss is 0 when it
// cannot be read for every process.
func serverMemory(pid int) (rss, pss int64, err error) {
	pids := descendants(pid)
	pssOK := true
	for i, p := range pids {
		r, err := procKB(fmt.Sprintf("/proc/%d/status", p), "VmRSS:")
		if err != nil {
			if i == 0 {
				return 0, 0, fmt.Errorf("process %d: %w", pid, err)
			}
			continue // a child that just exited
		}
		rss += r
		if pssOK {
			s, err := procKB(fmt.Sprintf("/proc/%d/smaps_rollup", p), "Pss:")
			if err != nil {
				pssOK = false
			}
			pss += s
		}
	}
	if !pssOK {
		pss = 0
	}
	return rss, pss, nil
}

// procKB reads a "Key: N kB" line of a /proc file, in bytes.
func procKB(file, key string) (int64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				break
			}
			return n << 10, nil
		}
	}
	return 0, fmt.Errorf("%s: no %s line", file, key)
}

// descendants returns pid followed by all its descendants, found through
// the parent field of /proc/*/stat.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// progress shows the running workload on one line of stderr: redrawn in
// place on a terminal, else a plain line every few seconds.
type progress struct {
	w     io.Writer
	tty   bool
	quiet bool

	mu    sync.Mutex
	name  string
	total int
	start time.Time
	done  atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup
	shown bool // a \r line is on screen
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, quiet: quiet}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// begin starts showing a step of total units.
func (p *progress) begin(name string, total int) {
	p.end()
	p.mu.Lock()
	p.name, p.total, p.start = name, total, time.Now()
	p.done.Store(0)
	p.mu.Unlock()
	if p.quiet {
		return
	}
	every := 2 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	p.stop = make(chan struct{})
	p.wg.Add(1)
	go func(stop chan struct{}) {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.show(false)
			}
		}
	}(p.stop)
	if p.tty {
		p.show(false)
	}
}

// add counts n units done.
func (p *progress) add(n int) { p.done.Add(int64(n)) }

// end finishes the current step, showing its final state.
func (p *progress) end() {
	if p.stop == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.stop = nil
	p.show(true)
}

// close ends the current step, if any.
func (p *progress) close() { p.end() }

func (p *progress) show(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("%s: %d/%d done, %.1fs", p.name, p.done.Load(), p.total, time.Since(p.start).Seconds())
	switch {
	case p.tty && final:
		fmt.Fprintf(p.w, "\r\033[K%s\n", line)
		p.shown = false
	case p.tty:
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
	default:
		fmt.Fprintln(p.w, line)
	}
}

// printf writes a message line, clearing a progress line first.
func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
	fmt.Fprintf(p.w, "ftpbench: "+format+"\n", args...)
}

// ceiling measures what loopback TCP carries, with no FTP server: a file of
// --single-size bytes sent with sendfile (what a zero-copy RETR does), and
// the same count written from a buffer (what an upload's client does), both
// read by a plain read loop as the FTP client's are. ceiling-store sends
// that count to a plain receiving process that stores it in a new file
// beside the first (storeCeiling): what storing the bytes costs, which a
// sendfile ceiling leaves out.
func (b *bench) ceiling() (out []result) {
	size := int64(b.o.singleSize)
	send := result{Workload: "ceiling-sendfile", Clients: 1, Bytes: size}
	write := result{Workload: "ceiling-write", Clients: 1, Bytes: size}
	store := result{Workload: "ceiling-store", Clients: 1, Bytes: size}
	defer func() {
		send.setThroughput()
		write.setThroughput()
		store.setThroughput()
		out = []result{send, write, store}
	}()
	dir := ceilingDir()
	f, err := os.CreateTemp(dir, "ftpbench-ceiling-*")
	if err != nil {
		send.fail(err)
		write.fail(err)
		store.fail(err)
		return nil
	}
	defer os.Remove(f.Name())
	defer f.Close()
	b.prog.begin("ceiling: setup", 1)
	for left := size; left > 0 && err == nil; {
		chunk := b.wbuf[:min(int64(len(b.wbuf)), left)]
		var m int
		m, err = f.Write(chunk)
		left -= int64(m)
	}
	b.prog.add(1)
	b.prog.end()
	if err != nil {
		send.fail(err)
		write.fail(err)
		store.fail(err)
		return nil
	}
	b.prog.begin("ceiling", 3)
	send.Seconds, err = b.loopback(size, func(c *net.TCPConn) (int64, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		return c.ReadFrom(f) // sendfile(2)
	})
	send.fail(err)
	b.prog.add(1)
	write.Seconds, err = b.loopback(size, func(c *net.TCPConn) (int64, error) {
		return fill(c, size, b.wbuf, b.o.timeout)
	})
	write.fail(err)
	b.prog.add(1)
	store.Seconds, err = b.storeCeiling(size, dir)
	store.fail(err)
	b.prog.add(1)
	b.prog.end()
	return nil
}

// ceilingDir is where the ceiling's files go: /dev/shm, tmpfs like the
// data of compare.sh, where there is one. Tests point it elsewhere.
var ceilingDir = func() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// loopback times sending size bytes with fn over a fresh loopback TCP
// connection until the reader has them all.
func (b *bench) loopback(size int64, fn func(*net.TCPConn) (int64, error)) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	type got struct {
		n   int64
		err error
	}
	ch := make(chan got, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- got{0, err}
			return
		}
		defer c.Close()
		n, err := drain(c, make([]byte, 256<<10), b.o.timeout)
		ch <- got{n, err}
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), b.o.timeout)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	_, err = fn(c.(*net.TCPConn))
	c.Close()
	g := <-ch
	secs := time.Since(t0).Seconds()
	if err == nil {
		err = g.err
	}
	if err == nil && g.n != size {
		err = fmt.Errorf("loopback: %d bytes arrived, want %d", g.n, size)
	}
	return secs, err
}

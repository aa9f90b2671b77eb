package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// storeReceiverArg, as the first argument, makes ftpbench the receiving
// end of the ceiling-store measurement instead (see storeReceiverMain).
const storeReceiverArg = "--internal-store-receiver"

// storeCeiling measures ceiling-store: what a plain receiver that stores
// the bytes takes. It starts ftpbench again as that receiver, in a process
// of its own as an FTP server is, sends it size bytes from b.wbuf as the
// stor client does, and returns the seconds from the connection to the
// receiver's answer that the file is written.
func (b *bench) storeCeiling(size int64, dir string) (float64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("ceiling-store: %w", err)
	}
	cmd := exec.Command(exe, storeReceiverArg, dir, b.o.timeout.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, fmt.Errorf("ceiling-store: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("ceiling-store: %w", err)
	}
	answered := false
	defer func() {
		if !answered {
			cmd.Process.Kill()
		}
		cmd.Wait()
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		return 0, fmt.Errorf("ceiling-store: the receiver gave no address")
	}
	if msg, ok := strings.CutPrefix(lines.Text(), "error: "); ok {
		return 0, fmt.Errorf("ceiling-store: the receiver: %s", msg)
	}
	c, err := net.DialTimeout("tcp", lines.Text(), b.o.timeout)
	if err != nil {
		return 0, fmt.Errorf("ceiling-store: %w", err)
	}
	t0 := time.Now()
	sent, err := fill(c, size, b.wbuf, b.o.timeout)
	c.Close()
	if err != nil {
		// The receiver failing is the likely cause: its answer says why.
		if lines.Scan() {
			if msg, ok := strings.CutPrefix(lines.Text(), "error: "); ok {
				return 0, fmt.Errorf("ceiling-store: the receiver: %s", msg)
			}
		}
		return 0, fmt.Errorf("ceiling-store: after %d bytes: %w", sent, err)
	}
	if !lines.Scan() {
		return 0, fmt.Errorf("ceiling-store: the receiver ended without an answer")
	}
	secs := time.Since(t0).Seconds()
	answered = true
	answer := lines.Text()
	if msg, ok := strings.CutPrefix(answer, "error: "); ok {
		return 0, fmt.Errorf("ceiling-store: the receiver: %s", msg)
	}
	if n, err := strconv.ParseInt(answer, 10, 64); err != nil || n != size {
		return 0, fmt.Errorf("ceiling-store: the receiver stored %q bytes, want %d", answer, size)
	}
	return secs, nil
}

// storeReceiverMain is the receiving end of ceiling-store: it listens on a
// loopback port, prints the address, takes one connection, writes what it
// reads to a new file in args[0], 512 KiB at a time (the reads and writes
// of pure-ftpd and pier), and prints the byte count, or an error. The file
// is removed as soon as it is made, so that nothing is left behind even if
// the process is killed, and closed, which frees its pages, after the
// answer. args[1] is the stall timeout.
func storeReceiverMain(args []string) int {
	if len(args) != 2 {
		fmt.Println("error: want DIR TIMEOUT")
		return 2
	}
	timeout, err := time.ParseDuration(args[1])
	if err != nil {
		fmt.Println("error:", err)
		return 2
	}
	n, f, err := storeOne(args[0], timeout)
	if f != nil {
		defer f.Close()
	}
	if err != nil {
		fmt.Println("error:", strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	fmt.Println(n)
	return 0
}

// storeOne takes one connection and stores it in a new, already removed,
// file, which it returns open.
func storeOne(dir string, timeout time.Duration) (n int64, f *os.File, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, err
	}
	defer ln.Close()
	fmt.Println(ln.Addr())
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(timeout))
	c, err := ln.Accept()
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	f, err = os.CreateTemp(dir, "ftpbench-ceiling-store-*")
	if err != nil {
		return 0, nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		return 0, f, err
	}
	st := stall{conn: c, timeout: timeout}
	buf := make([]byte, 512<<10)
	for {
		st.touch()
		m, rerr := c.Read(buf)
		if m > 0 {
			if _, err := f.Write(buf[:m]); err != nil {
				return n, f, err
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			return n, f, nil
		}
		if rerr != nil {
			return n, f, rerr
		}
	}
}

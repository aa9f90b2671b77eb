package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestDaemonMetrics: --metrics serves pier's counters, Go's and the
// process's at /metrics, and they follow what clients do.
func TestDaemonMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	port, mport := freePort(t), freePort(t)
	d, _ := startDaemon(t, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-d", t.TempDir(), "--metrics", "127.0.0.1:"+strconv.Itoa(mport))
	if l := d.waitLog(t, "metrics listening"); !strings.Contains(l, "http://127.0.0.1:"+strconv.Itoa(mport)+"/metrics") {
		t.Errorf("log %q lacks the metrics URL", l)
	}
	expect := dialFTP(t, port)
	expect("", "220")
	expect("USER anonymous", "331")
	expect("PASS x@", "230")
	expect("NOOP", "200")
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(mport) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"pier_connections_total 1\n",
		"pier_connections 1\n",
		"pier_sessions_logged_in 1\n",
		`pier_logins_total{result="success"} 1` + "\n",
		`pier_commands_total{command="NOOP"} 1` + "\n",
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
	d.stop(t)
}

// TestDaemonListenerBusy: an address of --metrics or --admin already in
// use stops pier before it says it started, with one line naming the
// address and the flag, exit status 1.
func TestDaemonListenerBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, tc := range []struct{ flag, prefix string }{
		{"--metrics", "pier: can't listen for metrics on "},
		{"--admin", "pier: can't listen for the admin page on "},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			busy, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			cmd := exec.Command(pierBinary(t), "-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-d", t.TempDir(), tc.flag, busy.Addr().String())
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1\n%s", err, out)
			}
			if !bytes.HasPrefix(out, []byte(tc.prefix+busy.Addr().String()+" ("+tc.flag+")")) || bytes.Count(out, []byte("\n")) != 1 {
				t.Errorf("output:\n%s", out)
			}
		})
	}
}

// Command ftpbench measures an FTP server: transfer throughput, many
// simultaneous logins, transfers and QUITs, idle sessions, and directory
// listings, sampling the server's memory after each workload. It speaks
// plain RFC 959 (with EPSV, falling back to PASV) and explicit FTPS
// (RFC 4217) itself, so it can be pointed at any FTP server, not only pier.
// It supersedes pyftpdlib's ftpbench script.
//
// Usage:
//
//	ftpbench -u USER -p PASS [-H HOST] [-P PORT] [-b WORKLOADS] [-n CLIENTS] [flags]
//
// For example, against a pier started with
// "pier -p 2121 -i 127.0.0.1 -d /dev/shm/ftp -u bench -P bench -w --max-cons 0":
//
//	ftpbench -u bench -p bench -b all -n 300 --pid $(pidof pier) --json out.json
//
// The user needs permission to read, write, delete and make folders in its
// login folder. The workloads (-b, a comma list, or "all" for all of them in
// this order) are:
//
//	ceiling    no server: a file sent with sendfile over a loopback TCP socket,
//	           and a buffer written over one, the most loopback carries; and
//	           that buffer stored in a new file by a plain receiving process
//	           (reads and writes of 512 KiB), what an upload costs (MB/s)
//	stor       one client STORs --single-size bytes (MB/s)
//	retr       one client RETRs that file back (MB/s)
//	logins     -n clients connect and log in at once (seconds until all are in;
//	           refused connections are retried up to 3 times and counted)
//	stor-idle  stor while -n other clients sit idle, logged in
//	retr-idle  retr while -n other clients sit idle, logged in
//	retr-many  -n clients each RETR a --filesize file at once (seconds);
//	           with --each K, each client K times in turn
//	stor-many  -n clients each STOR a --filesize file at once (seconds);
//	           with --each K, each client K files in turn (-n × K files)
//	quit       -n logged-in clients send QUIT at once (seconds until every 221)
//	list       LIST of a folder of --entries empty files (seconds)
//	mlsd       MLSD of the same folder (seconds)
//
// Every workload checks what it gets: reply codes, byte counts and listing
// line counts. A failure is counted in the errors column and makes ftpbench
// exit with status 1; it is never hidden.
//
// With --pid, the server's memory is sampled after each workload (while the
// workload's clients are still connected): the sum of the resident set
// (VmRSS) of that process and all its descendants, since forking servers
// spread over processes, and the sum of their proportional set size (Pss,
// from smaps_rollup) where readable.
//
// Each workload also reports the CPU time (user and system) ftpbench used
// while it was timed, and, with --cgroup DIR, the CPU time the server used
// meanwhile: all the processes in that cgroup (v2's cpu.stat, or v1's
// cpuacct.usage), forked sessions that exited included. Start the server in
// a cgroup of its own for this; bench/compare.sh does. On a machine where
// the client and the server share the CPUs, a server that needs less CPU
// for the same work leaves more to the client, and is faster. On loopback
// the kernel does part of the receiver's TCP work in the sending process,
// so the split between the two is approximate.
//
// A timed upload always makes a new file: a file that an earlier workload
// or repetition uploaded under the same name is deleted first, untimed.
//
// Files it creates (ftpbench-PID-*) are deleted at the end; the listing
// folders (ftpbench-list-ENTRIES) are kept and reused by later runs because
// they are slow to make, unless --cleanup is given.
//
// Benchmarks only touch loopback: ftpbench refuses a host that does not
// resolve to a loopback address (127.0.0.0/8, ::1) unless --allow-remote is
// given, and always opens data connections to the control connection's
// address, never to the one a PASV reply names.
//
// With --source PREFIX (for example 127.1.0.0/16), the clients' connections
// come from the addresses of PREFIX in turn, a client's data connections
// from its control connection's address, instead of from the one address
// the system picks. Each address then holds fewer connections: the kernel
// picks a connection's local port by searching the ports its address
// already uses towards the server, which costs the client more and more CPU
// past some 10,000 connections from one address (docs/benchmarks.md, "Idle
// sessions"). The addresses must be the machine's own (every address of
// 127.0.0.0/8 is, on loopback); ftpbench binds the first before it starts
// and stops with an error naming it if it can't.
//
// While it runs, a progress line (workload, clients done of total, elapsed
// time) goes to standard error, redrawn in place on a terminal. At the end a
// table goes to standard output and, with --json, the results to a file as an
// array of objects with the fields workload, clients, bytes, seconds, value,
// unit, errors, server_rss_bytes and server_pss_bytes (plus failed_attempts,
// mb_per_s, mib_per_s, client_cpu_seconds, server_cpu_seconds and error
// where they apply). Throughputs are in MB/s
// (10^6 bytes a second); the table adds MiB/s.
package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == storeReceiverArg {
		os.Exit(storeReceiverMain(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// filesNeeded estimates the descriptors the workloads need: one a client
// for its control connection, another for its data connection in the
// workloads that transfer, and some to spare.
func filesNeeded(o *options) uint64 {
	perClient := 1
	for _, w := range o.workloads {
		if w != "logins" && w != "quit" && w != "ceiling" {
			perClient = 2
		}
	}
	return uint64(perClient*o.clients + 64)
}

// allWorkloads lists the workloads in the order "all" runs them.
var allWorkloads = []string{
	"ceiling", "stor", "retr", "logins", "stor-idle", "retr-idle",
	"retr-many", "stor-many", "quit", "list", "mlsd",
}

// options are the parsed command-line flags.
type options struct {
	host        string
	port        int
	user        string
	pass        string
	benchmarks  []string
	workloads   []string
	clients     int
	each        int
	fileSize    byteSize
	singleSize  byteSize
	entries     []int
	pid         int
	cgroup      string
	jsonFile    string
	tls         bool
	timeout     time.Duration
	repeat      int
	quiet       bool
	allowRemote bool
	cleanup     bool
	settle      time.Duration
	source      string
	sources     netip.Prefix // parsed --source; invalid when not given
	help        bool
}

// byteSize is a flag value: a byte count with an optional K, M, G or T
// suffix (powers of 1024).
type byteSize int64

func (s *byteSize) String() string { return formatSize(int64(*s)) }

func (s *byteSize) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = byteSize(n)
	return nil
}

func (s *byteSize) Type() string { return "size" }

// parseSize parses "10M", "64K", "1G", "512", "10MiB", "10MB" (all powers of
// 1024).
func parseSize(v string) (int64, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	if t := strings.TrimSuffix(s, "IB"); t != s {
		s = t
	} else {
		s = strings.TrimSuffix(s, "B")
	}
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q (want an integer with an optional K, M, G or T suffix)", v)
	}
	return n * mult, nil
}

// formatSize writes n with the largest suffix that divides it exactly.
func formatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// humanBytes writes n in binary units with one decimal, for tables.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func newFlagSet(o *options) *pflag.FlagSet {
	fs := pflag.NewFlagSet("ftpbench", pflag.ContinueOnError)
	fs.SortFlags = false
	o.fileSize = 10 << 20
	o.singleSize = 256 << 20
	fs.StringVarP(&o.host, "host", "H", "127.0.0.1", "server `HOST` (must be loopback unless --allow-remote)")
	fs.IntVarP(&o.port, "port", "P", 2121, "server control `PORT`")
	fs.StringVarP(&o.user, "user", "u", "", "login `NAME` (needs write permission)")
	fs.StringVarP(&o.pass, "pass", "p", "", "`PASSWORD`")
	fs.StringSliceVarP(&o.benchmarks, "benchmark", "b", []string{"all"}, "comma list of `WORKLOADS` or \"all\": "+strings.Join(allWorkloads, ", "))
	fs.IntVarP(&o.clients, "clients", "n", 300, "simultaneous clients (`N`) of logins, *-idle, *-many and quit")
	fs.IntVar(&o.each, "each", 1, "transfers (`K`) each client of retr-many and stor-many makes one after another: -n × K files, -n at a time")
	fs.VarP(&o.fileSize, "filesize", "s", "file `SIZE` each client transfers in retr-many and stor-many (K, M, G: powers of 1024)")
	fs.Var(&o.singleSize, "single-size", "file `SIZE` of the single-client stor and retr (and ceiling); streamed, never held in memory")
	fs.IntSliceVar(&o.entries, "entries", []int{10000}, "comma list of folder sizes (`N` entries) for list and mlsd")
	fs.IntVar(&o.pid, "pid", 0, "server `PID`: sample its memory (and its descendants') after each workload")
	fs.StringVar(&o.cgroup, "cgroup", "", "the server's cgroup `DIR` (v2, or v1 cpuacct): measure the CPU time the server uses during each timed part")
	fs.StringVar(&o.jsonFile, "json", "", "write the results as JSON to `FILE`")
	fs.BoolVar(&o.tls, "tls", false, "explicit FTPS: AUTH TLS, PBSZ 0, PROT P (certificate not verified)")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "`TIMEOUT` of each operation (connect, reply, data stall)")
	fs.IntVar(&o.repeat, "repeat", 1, "run each workload `N` times and report the median")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow a host that is not a loopback address")
	fs.BoolVar(&o.cleanup, "cleanup", false, "also delete the listing folders at the end")
	fs.DurationVar(&o.settle, "settle", 0, "after logins, leave the clients idle for `DURATION` and sample the server's memory again (needs --pid)")
	fs.StringVar(&o.source, "source", "", "spread the clients' connections over the local addresses of `PREFIX` (e.g. 127.1.0.0/16)")
	fs.BoolVarP(&o.help, "help", "h", false, "show this help and exit")
	return fs
}

// parseFlags parses and checks args. It returns (nil, nil) after printing
// the help.
func parseFlags(args []string, stdout io.Writer) (*options, error) {
	o := &options{}
	fs := newFlagSet(o)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.help {
		fmt.Fprintf(stdout, "Usage: ftpbench -u USER -p PASS [flags]\n\nBenchmark an FTP server on loopback (see \"go doc github.com/pierftp/pier/cmd/ftpbench\").\n\nFlags:\n%s", fs.FlagUsages())
		return nil, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	seen := map[string]bool{}
	for _, b := range o.benchmarks {
		b = strings.ToLower(strings.TrimSpace(b))
		var add []string
		switch {
		case b == "all":
			add = allWorkloads
		case b == "":
			continue
		default:
			found := false
			for _, w := range allWorkloads {
				if w == b {
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("unknown workload %q (want a comma list of: all, %s)", b, strings.Join(allWorkloads, ", "))
			}
			add = []string{b}
		}
		for _, w := range add {
			if !seen[w] {
				seen[w] = true
			}
		}
	}
	// Run in the canonical order whatever the order given.
	for _, w := range allWorkloads {
		if seen[w] {
			o.workloads = append(o.workloads, w)
		}
	}
	if len(o.workloads) == 0 {
		return nil, errors.New("no workload given (-b)")
	}
	needServer := len(o.workloads) > 1 || o.workloads[0] != "ceiling"
	switch {
	case needServer && o.user == "":
		return nil, errors.New("--user is required")
	case o.port <= 0 || o.port > 65535:
		return nil, fmt.Errorf("invalid port %d", o.port)
	case o.clients < 1:
		return nil, fmt.Errorf("--clients must be at least 1")
	case o.each < 1:
		return nil, fmt.Errorf("--each must be at least 1")
	case o.repeat < 1:
		return nil, fmt.Errorf("--repeat must be at least 1")
	case o.timeout <= 0:
		return nil, fmt.Errorf("--timeout must be positive")
	case o.settle < 0:
		return nil, fmt.Errorf("--settle must not be negative")
	case o.settle > 0 && o.pid == 0:
		return nil, fmt.Errorf("--settle samples the server's memory: it needs --pid")
	case o.singleSize <= 0 || o.fileSize <= 0:
		return nil, fmt.Errorf("sizes must be positive")
	}
	if o.source != "" {
		p, err := parseSource(o.source)
		if err != nil {
			return nil, err
		}
		o.sources = p
	}
	for _, e := range o.entries {
		if e < 1 || e > 9999999 {
			return nil, fmt.Errorf("invalid --entries %d", e)
		}
	}
	return o, nil
}

// result is one measurement, as printed and written to JSON.
type result struct {
	Workload  string  `json:"workload"`
	Clients   int     `json:"clients"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	Errors    int     `json:"errors"`
	ServerRSS int64   `json:"server_rss_bytes"`
	ServerPSS int64   `json:"server_pss_bytes"`
	// BeforeRSS is the server's resident set before the logins connect,
	// and SettledRSS and SettledPSS its memory after --settle with the
	// logins' clients idle (logins only).
	BeforeRSS      int64    `json:"server_rss_before_bytes,omitempty"`
	SettledRSS     int64    `json:"server_rss_settled_bytes,omitempty"`
	SettledPSS     int64    `json:"server_pss_settled_bytes,omitempty"`
	SettleSeconds  float64  `json:"settle_seconds,omitempty"`
	ServerCPU      *float64 `json:"server_cpu_seconds,omitempty"` // nil: not measured
	ClientCPU      float64  `json:"client_cpu_seconds,omitempty"`
	FailedAttempts int      `json:"failed_attempts,omitempty"`
	MBps           float64  `json:"mb_per_s,omitempty"`
	MiBps          float64  `json:"mib_per_s,omitempty"`
	Error          string   `json:"error,omitempty"`
}

// setTiming records the timed part's wall and CPU times.
func (r *result) setTiming(t timing) {
	r.Seconds = t.wall.Seconds()
	r.ClientCPU = t.client.Seconds()
	if t.hasServer {
		v := t.server.Seconds()
		r.ServerCPU = &v
	}
}

// setThroughput fills Value, Unit and the rates from Bytes and Seconds.
func (r *result) setThroughput() {
	r.Unit = "MB/s"
	if r.Seconds > 0 {
		r.MBps = float64(r.Bytes) / r.Seconds / 1e6
		r.MiBps = float64(r.Bytes) / r.Seconds / (1 << 20)
	}
	r.Value = r.MBps
}

// setTime fills Value and Unit from Seconds, and the aggregate rates if
// bytes moved.
func (r *result) setTime() {
	r.Unit = "s"
	r.Value = r.Seconds
	if r.Bytes > 0 && r.Seconds > 0 {
		r.MBps = float64(r.Bytes) / r.Seconds / 1e6
		r.MiBps = float64(r.Bytes) / r.Seconds / (1 << 20)
	}
}

// fail records an error on r.
func (r *result) fail(err error) {
	if err == nil {
		return
	}
	r.Errors++
	if r.Error == "" {
		r.Error = err.Error()
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "ftpbench: %v\nRun \"ftpbench --help\" for the flags.\n", err)
		return 2
	}
	if o == nil {
		return 0
	}
	b, err := newBench(o, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ftpbench: %v\n", err)
		return 2
	}
	if lim, err := raiseNoFile(); err != nil {
		b.logf("cannot raise the open-file limit: %v", err)
	} else if need := filesNeeded(o); lim < need {
		b.logf("warning: the open-file limit is %d, %d clients need about %d", lim, o.clients, need)
	}
	if o.pid != 0 {
		rss, pss, err := serverMemory(o.pid)
		if err != nil {
			fmt.Fprintf(stderr, "ftpbench: --pid: %v\n", err)
			return 2
		}
		if !o.quiet {
			b.logf("server %d starts with %s resident (%s PSS)", o.pid, humanBytes(rss), humanBytes(pss))
		}
	}

	if o.cgroup != "" {
		if _, err := cgroupCPU(o.cgroup); err != nil {
			fmt.Fprintf(stderr, "ftpbench: --cgroup: %v\n", err)
			return 2
		}
	}

	var results []result
	for _, w := range o.workloads {
		runs := make([][]result, 0, o.repeat)
		for i := 0; i < o.repeat; i++ {
			runs = append(runs, b.runWorkload(w))
		}
		results = append(results, median(runs)...)
	}
	if err := b.finish(); err != nil {
		b.logf("cleanup: %v", err)
	}
	b.prog.close()

	printTable(stdout, o, results)
	code := 0
	for _, r := range results {
		if r.Errors > 0 {
			code = 1
		}
	}
	if o.jsonFile != "" {
		data, err := json.MarshalIndent(results, "", "  ")
		if err == nil {
			err = os.WriteFile(o.jsonFile, append(data, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "ftpbench: %v\n", err)
			code = 1
		}
	}
	return code
}

// median merges the repeats of one workload: each result's value and
// seconds (and CPU times) are the medians over the runs, errors and failed attempts are
// summed, memory is the last run's.
func median(runs [][]result) []result {
	if len(runs) == 1 {
		return runs[0]
	}
	out := append([]result(nil), runs[len(runs)-1]...)
	for i := range out {
		var vals, secs, scpu, ccpu []float64
		errs, failed, firstErr := 0, 0, ""
		for _, rs := range runs {
			if i >= len(rs) {
				continue
			}
			vals = append(vals, rs[i].Value)
			secs = append(secs, rs[i].Seconds)
			if rs[i].ServerCPU != nil {
				scpu = append(scpu, *rs[i].ServerCPU)
			}
			ccpu = append(ccpu, rs[i].ClientCPU)
			errs += rs[i].Errors
			failed += rs[i].FailedAttempts
			if firstErr == "" {
				firstErr = rs[i].Error
			}
		}
		out[i].Seconds = mid(secs)
		out[i].ClientCPU = mid(ccpu)
		if len(scpu) > 0 {
			v := mid(scpu)
			out[i].ServerCPU = &v
		}
		if out[i].Unit == "MB/s" {
			out[i].Value = mid(vals)
			out[i].MBps = out[i].Value
			out[i].MiBps = out[i].Value * 1e6 / (1 << 20)
		} else {
			out[i].Value = out[i].Seconds
			if out[i].MBps > 0 {
				out[i].setTime()
			}
		}
		out[i].Errors, out[i].FailedAttempts, out[i].Error = errs, failed, firstErr
	}
	return out
}

func mid(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printTable writes the results as an aligned table.
func printTable(w io.Writer, o *options, results []result) {
	mode := "FTP"
	if o.tls {
		mode = "FTPS"
	}
	fmt.Fprintf(w, "ftpbench: %s %s:%d, %d clients, %s files, %s single transfers, %d run(s) each (median)\n",
		mode, o.host, o.port, o.clients, formatSize(int64(o.fileSize)), formatSize(int64(o.singleSize)), o.repeat)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tCLIENTS\tRESULT\tUNIT\tERRORS\tSERVER RSS\tSERVER PSS\tSERVER CPU\tCLIENT CPU\tDETAIL\t")
	for _, r := range results {
		var detail []string
		switch {
		case r.Unit == "MB/s":
			detail = append(detail, fmt.Sprintf("%.1f MiB/s, %s in %.3f s", r.MiBps, humanBytes(r.Bytes), r.Seconds))
		case r.MBps > 0:
			detail = append(detail, fmt.Sprintf("%.1f MB/s in all, %s", r.MBps, humanBytes(r.Bytes)))
		}
		if r.SettledRSS > 0 {
			detail = append(detail, fmt.Sprintf("%s RSS after %gs idle", humanBytes(r.SettledRSS), r.SettleSeconds))
		}
		if r.FailedAttempts > 0 {
			detail = append(detail, fmt.Sprintf("%d failed attempts", r.FailedAttempts))
		}
		if r.Error != "" {
			detail = append(detail, "error: "+r.Error)
		}
		rss, pss := "-", "-"
		if r.ServerRSS > 0 {
			rss = humanBytes(r.ServerRSS)
		}
		if r.ServerPSS > 0 {
			pss = humanBytes(r.ServerPSS)
		}
		scpu, ccpu := "-", "-"
		if !strings.HasPrefix(r.Workload, "ceiling") { // no server; the receiver is this process or its child
			ccpu = fmt.Sprintf("%.3f s", r.ClientCPU)
			if r.ServerCPU != nil {
				scpu = fmt.Sprintf("%.3f s", *r.ServerCPU)
			}
		}
		val := fmt.Sprintf("%.2f", r.Value)
		if r.Unit == "s" {
			val = fmt.Sprintf("%.3f", r.Value)
			if r.Value < 0.1 {
				val = fmt.Sprintf("%.4f", r.Value)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", r.Workload, r.Clients, val, r.Unit, r.Errors, rss, pss, scpu, ccpu, strings.Join(detail, "; "))
	}
	tw.Flush()
}

// tlsBase is the client TLS configuration every connection clones: the
// benchmark does not verify the server's certificate.
func tlsBase(host string) *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: host}
}

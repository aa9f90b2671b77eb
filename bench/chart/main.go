// Command chart summarises the results of bench/compare.sh: it reads the
// ftpbench JSON files of one comparison (SERVER-rROUND.json, one a server and
// round, and ceiling-rROUND.json), computes the median of every workload for
// every server over the rounds, and writes the tables of medians and of the
// ratio pier/peer as Markdown and a bar chart as SVG. A comparison with
// passes (a folder per topology and pinning, TOPOLOGY-PINNING/, each with
// the other clients' results in CLIENT/: see passes.go) gets a summary of
// every pass, the server's CPU per GiB moved or per client, the other
// clients' tables and where their ranking differs from ftpbench's, then
// every pass in detail; the chart shows the first pass.
//
// Usage:
//
//	go run ./bench/chart --results DIR --svg docs/benchmarks.svg --markdown tables.md
//	go run ./bench/chart --page docs/benchmarks.md --part generated.md
//
// The second form replaces the generated part of the page, between the
// markers <!-- compare.sh: begin --> and <!-- compare.sh: end -->, and
// keeps the rest (see splice.go).
//
// Throughputs (unit MB/s) are better when higher; times (s) and memory
// (MiB) when lower. Runs in which a workload had errors are left out of its
// median and counted. The memory row is the server's proportional set size
// (its resident set when PSS is not readable), summed over the server
// process and its descendants, sampled by ftpbench right after the logins
// workload, while all its clients are still logged in.
//
// In the chart, every workload is normalised to its best server: the best
// server's bar is full length, for times and memory too (a bar is
// best/value there), so a longer bar is always better. The highlighted
// server (pier) is drawn in colour, the others in grey.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

// result is one row of ftpbench's --json output.
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
	Error     string  `json:"error"`
	// BeforeRSS, SettledRSS and SettleSeconds: the logins workload with
	// ftpbench --settle (the empty server's resident set, and the one
	// after the clients sat idle that long).
	BeforeRSS     int64   `json:"server_rss_before_bytes"`
	SettledRSS    int64   `json:"server_rss_settled_bytes"`
	SettleSeconds float64 `json:"settle_seconds"`
	// FailedAttempts counts connections that had to be retried (a full
	// listen queue) in the logins workload.
	FailedAttempts int `json:"failed_attempts"`
	// ServerCPU and ClientCPU are the CPU seconds the server (measured
	// through its cgroup; 0 when it was not) and ftpbench used during the
	// timed part.
	ServerCPU float64 `json:"server_cpu_seconds"`
	ClientCPU float64 `json:"client_cpu_seconds"`
}

// memoryWorkload is the pseudo-workload of the server's memory with all
// clients of the logins workload logged in.
const memoryWorkload = "memory"

// cell collects one server's values of one workload over the rounds.
type cell struct {
	values  []float64 // from runs without errors
	retried []float64 // failed connection attempts of those runs
	failed  int       // runs with errors
	clients int
	lastErr string
	rss     []float64 // the server's resident set (MiB) after each run without errors, where sampled
	cpu     []float64 // the server's CPU seconds in runs without errors, where measured
	ccpu    []float64 // ftpbench's CPU seconds in the same runs
	// perUnit is the server's CPU time per unit of work in the runs that
	// measured it: seconds per GiB moved for the transfers (movesFiles),
	// seconds per client (a login, a QUIT, a listing) for the others.
	perUnit []float64
}

// summary is everything read from a results folder.
type summary struct {
	units   map[string]string           // workload -> unit
	cells   map[string]map[string]*cell // server -> workload -> cell
	ceiling map[string]*cell            // ceiling workload -> cell
	idle    map[string]result           // server -> its logins of SERVER.idle.json
	rounds  int
	// level is the Markdown heading level of its sections (0: 2, "##").
	level int
	// noIdleNote leaves out the "not checked" note of the idle clients
	// (a pass other than the one that ran them).
	noIdleNote bool
}

// h is the heading mark of the summary's sections.
func (s *summary) h() string {
	if s.level == 0 {
		return "##"
	}
	return strings.Repeat("#", s.level)
}

var fileName = regexp.MustCompile(`^(.+)-r([0-9]+)\.json$`)

// loadIdle reads every SERVER.idle.json in dir: the many idle clients
// compare.sh logs in once, after the rounds (its --idle).
func loadIdle(dir string, s *summary) error {
	names, err := filepath.Glob(filepath.Join(dir, "*.idle.json"))
	if err != nil {
		return err
	}
	for _, name := range names {
		server := strings.TrimSuffix(filepath.Base(name), ".idle.json")
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		var rows []result
		if err := json.Unmarshal(data, &rows); err != nil {
			// a run cut short: a missed check, not a report lost
			s.idle[server] = result{Workload: "logins", Errors: 1, Error: fmt.Sprintf("%s: %v", filepath.Base(name), err)}
			continue
		}
		for _, r := range rows {
			if r.Workload == "logins" {
				s.idle[server] = r
			}
		}
	}
	return nil
}

// load reads every SERVER-rROUND.json in dir.
func load(dir string) (*summary, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*-r*.json"))
	if err != nil {
		return nil, err
	}
	s := &summary{units: map[string]string{}, cells: map[string]map[string]*cell{}, ceiling: map[string]*cell{},
		idle: map[string]result{}}
	if err := loadIdle(dir, s); err != nil {
		return nil, err
	}
	for _, name := range names {
		m := fileName.FindStringSubmatch(filepath.Base(name))
		if m == nil {
			continue
		}
		server := m[1]
		if round, _ := strconv.Atoi(m[2]); round > s.rounds {
			s.rounds = round
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var rows []result
		if err := json.Unmarshal(data, &rows); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		for _, r := range rows {
			if server == "ceiling" || strings.HasPrefix(r.Workload, "ceiling") {
				if server == "ceiling" {
					add(s.ceiling, r.Workload, r)
				}
				continue
			}
			if s.cells[server] == nil {
				s.cells[server] = map[string]*cell{}
			}
			s.units[r.Workload] = r.Unit
			add(s.cells[server], r.Workload, r)
			if r.Workload == "logins" {
				mem := r.ServerPSS
				if mem == 0 {
					mem = r.ServerRSS
				}
				if mem > 0 || r.Errors > 0 {
					m := r
					m.Workload, m.Unit, m.Value = memoryWorkload, "MiB", float64(mem)/(1<<20)
					m.FailedAttempts = 0
					s.units[memoryWorkload] = "MiB"
					add(s.cells[server], memoryWorkload, m)
				}
			}
		}
	}
	if len(s.cells) == 0 {
		return nil, fmt.Errorf("no SERVER-rROUND.json results in %s", dir)
	}
	return s, nil
}

func add(m map[string]*cell, workload string, r result) {
	c := m[workload]
	if c == nil {
		c = &cell{}
		m[workload] = c
	}
	c.clients = r.Clients
	if r.Errors > 0 || math.IsNaN(r.Value) || r.Value <= 0 {
		c.failed++
		if r.Error != "" {
			c.lastErr = r.Error
		}
		return
	}
	c.values = append(c.values, r.Value)
	c.retried = append(c.retried, float64(r.FailedAttempts))
	if r.ServerRSS > 0 {
		c.rss = append(c.rss, float64(r.ServerRSS)/(1<<20))
	}
	if r.ServerCPU > 0 {
		c.cpu = append(c.cpu, r.ServerCPU)
		c.ccpu = append(c.ccpu, r.ClientCPU)
		switch {
		case movesFiles(workload):
			if r.Bytes > 0 {
				c.perUnit = append(c.perUnit, r.ServerCPU/(float64(r.Bytes)/(1<<30)))
			}
		case r.Clients > 0:
			c.perUnit = append(c.perUnit, r.ServerCPU/float64(r.Clients))
		}
	}
}

// movesFiles tells whether workload w is a file transfer (its bytes are
// the files moved; a listing's are its size, for information).
func movesFiles(w string) bool {
	switch w {
	case "stor", "retr", "stor-idle", "retr-idle", "stor-many", "retr-many":
		return true
	}
	return false
}

// median of the values; ok is false when there are none.
func median(v []float64) (m float64, ok bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// higherBetter tells whether a larger value of unit is better.
func higherBetter(unit string) bool { return unit == "MB/s" }

// better tells whether value a beats b in unit.
func better(unit string, a, b float64) bool {
	if higherBetter(unit) {
		return a > b
	}
	return a < b
}

// serverOrder: the highlighted server first, then the usual peers, then the
// rest alphabetically.
func serverOrder(s *summary, highlight string) []string {
	known := []string{highlight, highlight + "-tls", "fclairamb", "pyftpdlib", "proftpd", "pure-ftpd", "vsftpd"}
	var out []string
	seen := map[string]bool{}
	for _, k := range known {
		if _, ok := s.cells[k]; ok && !seen[k] {
			out = append(out, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range s.cells {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// workloadOrder: ftpbench's order, listings by size, memory last.
func workloadOrder(s *summary) []string {
	rank := map[string]int{"stor": 0, "retr": 1, "stor-idle": 2, "retr-idle": 3, "logins": 4,
		"retr-many": 5, "stor-many": 6, "quit": 7, "list": 8, "mlsd": 9, memoryWorkload: 10}
	var ws []string
	for w := range s.units {
		ws = append(ws, w)
	}
	key := func(w string) (int, int) {
		base, n := w, 0
		if i := strings.LastIndexByte(w, '-'); i > 0 {
			if v, err := strconv.Atoi(w[i+1:]); err == nil {
				base, n = w[:i], v
			}
		}
		r, ok := rank[base]
		if !ok {
			r = 100
		}
		return r, n
	}
	sort.Slice(ws, func(i, j int) bool {
		ri, ni := key(ws[i])
		rj, nj := key(ws[j])
		if ri != rj {
			return ri < rj
		}
		if ni != nj {
			return ni < nj
		}
		return ws[i] < ws[j]
	})
	return ws
}

// label is the human name of a workload.
func label(w string, clients int) string {
	switch {
	case w == "stor":
		return "STOR, 1 client"
	case w == "retr":
		return "RETR, 1 client"
	case w == "stor-idle":
		return fmt.Sprintf("STOR, %d idle", clients-1)
	case w == "retr-idle":
		return fmt.Sprintf("RETR, %d idle", clients-1)
	case w == "logins":
		return fmt.Sprintf("%d logins", clients)
	case w == "retr-many":
		return fmt.Sprintf("%d × RETR", clients)
	case w == "stor-many":
		return fmt.Sprintf("%d × STOR", clients)
	case w == "quit":
		return fmt.Sprintf("%d × QUIT", clients)
	case w == memoryWorkload:
		return fmt.Sprintf("memory, %d logged in", clients)
	case strings.HasPrefix(w, "list-"):
		return "LIST " + w[len("list-"):] + " entries"
	case strings.HasPrefix(w, "mlsd-"):
		return "MLSD " + w[len("mlsd-"):] + " entries"
	}
	return w
}

// clientsOf is the number of clients of a workload (the largest seen).
func clientsOf(s *summary, w string) int {
	n := 0
	for _, m := range s.cells {
		if c := m[w]; c != nil && c.clients > n {
			n = c.clients
		}
	}
	return n
}

func format(v float64, unit string) string {
	switch {
	case unit == "MB/s" || unit == "MiB":
		if v >= 100 {
			return fmt.Sprintf("%.0f %s", v, unit)
		}
		return fmt.Sprintf("%.1f %s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	case v >= 0.1:
		return fmt.Sprintf("%.2f %s", v, unit)
	default:
		return fmt.Sprintf("%.4f %s", v, unit)
	}
}

func (c *cell) text(unit string) string {
	if c == nil {
		return "–"
	}
	m, ok := median(c.values)
	if !ok {
		return fmt.Sprintf("failed (%d run(s))", c.failed)
	}
	t := format(m, unit)
	if r, _ := median(c.retried); r > 0 {
		t += fmt.Sprintf(" (%.0f retried)", r)
	}
	if c.failed > 0 {
		t += fmt.Sprintf(" (+%d failed)", c.failed)
	}
	return t
}

// writeMarkdown writes the tables of medians and ratios.
func writeMarkdown(w io.Writer, s *summary, highlight string) error {
	servers := serverOrder(s, highlight)
	workloads := workloadOrder(s)
	var peers []string
	for _, sv := range servers {
		if sv != highlight && !strings.HasPrefix(sv, highlight+"-") {
			peers = append(peers, sv)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s Medians (%d round(s))\n\n", s.h(), s.rounds)
	b.WriteString("| Workload | Better |")
	for _, sv := range servers {
		fmt.Fprintf(&b, " %s |", sv)
	}
	b.WriteString("\n|---|---|")
	for range servers {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, wl := range workloads {
		unit := s.units[wl]
		dir := "lower"
		if higherBetter(unit) {
			dir = "higher"
		}
		fmt.Fprintf(&b, "| %s | %s |", label(wl, clientsOf(s, wl)), dir)
		best, bestOK := bestValue(s, wl, servers)
		for _, sv := range servers {
			c := s.cells[sv][wl]
			t := c.text(unit)
			if m, ok := median(cellValues(c)); ok && bestOK && m == best {
				t = "**" + t + "**"
			}
			fmt.Fprintf(&b, " %s |", t)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nBold: the best median of the row. \"(N retried)\": the median number of connection attempts that\n")
	b.WriteString("failed (a full listen queue) and were retried by ftpbench; they count in the time.\n")

	if _, ok := s.cells[highlight]; ok && len(peers) > 0 {
		fmt.Fprintf(&b, "\n%s Ratio %s/peer\n\n", s.h(), highlight)
		fmt.Fprintf(&b, "%s's median divided by the peer's. For throughput (MB/s) higher is better, so above 1 means %s wins;\n", highlight, highlight)
		fmt.Fprintf(&b, "for times (s) and memory (MiB) lower is better, so below 1 means %s wins. ✓: %s better, ✗: %s worse.\n\n", highlight, highlight, highlight)
		b.WriteString("| Workload | Better |")
		for _, p := range peers {
			fmt.Fprintf(&b, " %s/%s |", highlight, p)
		}
		b.WriteString("\n|---|---|")
		for range peers {
			b.WriteString("---:|")
		}
		b.WriteString("\n")
		wins, total := 0, 0
		var misses []string
		for _, wl := range workloads {
			unit := s.units[wl]
			dir := "lower"
			if higherBetter(unit) {
				dir = "higher"
			}
			pm, pok := median(cellValues(s.cells[highlight][wl]))
			fmt.Fprintf(&b, "| %s | %s |", label(wl, clientsOf(s, wl)), dir)
			for _, p := range peers {
				m, ok := median(cellValues(s.cells[p][wl]))
				if !pok || !ok {
					b.WriteString(" – |")
					continue
				}
				total++
				mark := "✗"
				if better(unit, pm, m) {
					mark = "✓"
					wins++
				} else {
					misses = append(misses, fmt.Sprintf("%s vs %s", label(wl, clientsOf(s, wl)), p))
				}
				fmt.Fprintf(&b, " %s %s |", ratio(pm/m), mark)
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "\n%s is better in %d of %d comparisons.", highlight, wins, total)
		if len(misses) > 0 {
			fmt.Fprintf(&b, " Not better: %s.", strings.Join(misses, "; "))
		}
		b.WriteString("\n")
	}

	if _, ok := s.cells[highlight]; ok {
		writeTargets(&b, s, highlight, peers, workloads)
	}

	writeSpread(&b, s, servers, workloads)
	writeCPU(&b, s, servers, workloads)

	if len(s.ceiling) > 0 {
		b.WriteString("\n" + s.h() + " Loopback ceiling (no FTP server)\n\n")
		b.WriteString("What one loopback TCP connection carries on this machine, measured once a round by ftpbench's `ceiling`\n")
		b.WriteString("workload: a file sent with sendfile, and a buffer written with write; and, for uploads, ceiling-store:\n")
		b.WriteString("that buffer stored in a new file on the same tmpfs by a plain receiving process (reads and writes of\n")
		b.WriteString("512 KiB), which adds the cost of storing the bytes that the other two leave out.\n\n")
		b.WriteString("| Ceiling | Median |")
		for _, sv := range []string{highlight, highlight + "-tls"} {
			if _, ok := s.cells[sv]; ok {
				fmt.Fprintf(&b, " %s STOR | %s RETR |", sv, sv)
			}
		}
		b.WriteString("\n|---|---:|")
		for _, sv := range []string{highlight, highlight + "-tls"} {
			if _, ok := s.cells[sv]; ok {
				b.WriteString("---:|---:|")
			}
		}
		b.WriteString("\n")
		var cws []string
		for k := range s.ceiling {
			cws = append(cws, k)
		}
		sort.Strings(cws)
		for _, k := range cws {
			cm, ok := median(s.ceiling[k].values)
			fmt.Fprintf(&b, "| %s | %s |", k, s.ceiling[k].text("MB/s"))
			for _, sv := range []string{highlight, highlight + "-tls"} {
				if _, has := s.cells[sv]; !has {
					continue
				}
				for _, wl := range []string{"stor", "retr"} {
					m, mok := median(cellValues(s.cells[sv][wl]))
					if ok && mok && (wl == "stor" || k != "ceiling-store") {
						fmt.Fprintf(&b, " %.0f%% |", 100*m/cm)
					} else {
						b.WriteString(" – |")
					}
				}
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "\nThe %s columns: its single-client throughput as a share of the ceiling.\n", highlight)
	}

	var failures []string
	for _, sv := range servers {
		for _, wl := range workloads {
			if c := s.cells[sv][wl]; c != nil && c.failed > 0 && wl != memoryWorkload {
				f := fmt.Sprintf("- %s, %s: %d run(s) with errors", sv, wl, c.failed)
				if c.lastErr != "" {
					f += ": " + strings.ReplaceAll(c.lastErr, "|", "\\|")
				}
				failures = append(failures, f)
			}
		}
	}
	if len(failures) > 0 {
		b.WriteString("\n" + s.h() + " Workloads with errors (left out of the medians)\n\n")
		b.WriteString(strings.Join(failures, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// serverHeader writes the header of a table with a Workload column and
// one column per server.
func serverHeader(b *strings.Builder, servers []string) {
	b.WriteString("| Workload |")
	for _, sv := range servers {
		fmt.Fprintf(b, " %s |", sv)
	}
	b.WriteString("\n|---|")
	for range servers {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
}

// writeSpread writes the lowest and highest value of every cell over the
// rounds, so a reader can tell a steady lead from an overlap.
func writeSpread(b *strings.Builder, s *summary, servers, workloads []string) {
	if s.rounds < 2 {
		return
	}
	b.WriteString("\n" + s.h() + " Spread (lowest–highest over the rounds)\n\n")
	b.WriteString("Where two servers' ranges overlap, the order of their medians can change from one run to the next.\n\n")
	serverHeader(b, servers)
	for _, wl := range workloads {
		unit := s.units[wl]
		fmt.Fprintf(b, "| %s (%s) |", label(wl, clientsOf(s, wl)), unit)
		for _, sv := range servers {
			v := cellValues(s.cells[sv][wl])
			if len(v) == 0 {
				b.WriteString(" – |")
				continue
			}
			lo, hi := slices.Min(v), slices.Max(v)
			fmt.Fprintf(b, " %s–%s |", strings.TrimSuffix(format(lo, unit), " "+unit), strings.TrimSuffix(format(hi, unit), " "+unit))
		}
		b.WriteString("\n")
	}
}

// writeCPU writes the CPU time the server and the client used during the
// timed part of each workload (medians over the rounds), where ftpbench
// measured the server's through its cgroup.
func writeCPU(b *strings.Builder, s *summary, servers, workloads []string) {
	measured := false
	for _, sv := range servers {
		for _, c := range s.cells[sv] {
			measured = measured || len(c.cpu) > 0
		}
	}
	if !measured {
		return
	}
	b.WriteString("\n" + s.h() + " CPU time (medians, seconds: server + client)\n\n")
	b.WriteString("The CPU time the server used while a workload was timed (all its processes: ftpbench reads the\n")
	b.WriteString("cgroup compare.sh starts it in), plus what the client, ftpbench, used. Both share this machine's CPUs,\n")
	b.WriteString("so they cannot use more than the time times the number of CPUs between them; for the transfers,\n")
	b.WriteString("less CPU for the same bytes leaves more to the client and is what makes a server faster here.\n")
	b.WriteString("On loopback the kernel does part of the receiving side's TCP work in the sending process (and\n")
	b.WriteString("some in ksoftirqd, counted for neither), so the split between server and client is approximate.\n\n")
	serverHeader(b, servers)
	for _, wl := range workloads {
		if wl == memoryWorkload {
			continue
		}
		fmt.Fprintf(b, "| %s |", label(wl, clientsOf(s, wl)))
		for _, sv := range servers {
			c := s.cells[sv][wl]
			sm, ok := 0.0, false
			if c != nil {
				sm, ok = median(c.cpu)
			}
			if !ok {
				b.WriteString(" – |")
				continue
			}
			cm, _ := median(c.ccpu)
			fmt.Fprintf(b, " %s + %s |", seconds(sm), seconds(cm))
		}
		b.WriteString("\n")
	}
}

// seconds formats a CPU time: two decimals from 1 s up, three below.
func seconds(v float64) string {
	if v >= 1 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// ratio formats r with two decimals, or two significant digits below 0.1.
func ratio(r float64) string {
	if r >= 0.1 {
		return strconv.FormatFloat(r, 'f', 2, 64)
	}
	return strconv.FormatFloat(r, 'g', 2, 64)
}

func cellValues(c *cell) []float64 {
	if c == nil {
		return nil
	}
	return c.values
}

// bestValue is the best median of workload wl over servers.
func bestValue(s *summary, wl string, servers []string) (float64, bool) {
	unit := s.units[wl]
	var best float64
	found := false
	for _, sv := range servers {
		m, ok := median(cellValues(s.cells[sv][wl]))
		if !ok {
			continue
		}
		if !found || better(unit, m, best) {
			best, found = m, true
		}
	}
	return best, found
}

// SVG layout, in pixels.
const (
	svgWidth    = 900
	marginLeft  = 12
	labelWidth  = 190 // workload label
	nameWidth   = 84  // server name
	barMax      = 440 // full-length bar
	barHeight   = 13
	barGap      = 3
	groupGap    = 16
	headerLines = 3
	lineHeight  = 18
)

// writeSVG draws one group of bars a workload, each normalised to the best
// server of the workload.
func writeSVG(w io.Writer, s *summary, highlight, title string) error {
	servers := serverOrder(s, highlight)
	workloads := workloadOrder(s)
	type bar struct {
		server string
		value  float64
		score  float64
	}
	type group struct {
		label string
		unit  string
		bars  []bar
	}
	var groups []group
	height := 10 + headerLines*lineHeight + 8
	for _, wl := range workloads {
		unit := s.units[wl]
		best, ok := bestValue(s, wl, servers)
		if !ok {
			continue
		}
		g := group{label: label(wl, clientsOf(s, wl)), unit: unit}
		for _, sv := range servers {
			m, ok := median(cellValues(s.cells[sv][wl]))
			if !ok {
				if c := s.cells[sv][wl]; c != nil {
					g.bars = append(g.bars, bar{server: sv, value: math.NaN()})
				}
				continue
			}
			score := m / best
			if !higherBetter(unit) {
				score = best / m
			}
			g.bars = append(g.bars, bar{server: sv, value: m, score: score})
		}
		groups = append(groups, g)
		height += len(g.bars)*(barHeight+barGap) + groupGap
	}
	if len(groups) == 0 {
		return errors.New("nothing to draw")
	}
	height += lineHeight

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", svgWidth, height)
	y := 10 + lineHeight
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="15" font-weight="bold">%s</text>`+"\n", marginLeft, y, html.EscapeString(title))
	y += lineHeight
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555555">Each workload normalised to its best server: the longest bar is the best (highest throughput, or shortest time, or least memory).</text>`+"\n", marginLeft, y)
	y += lineHeight
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555555">Numbers are medians over the rounds; <tspan fill="#d9480f" font-weight="bold">%s</tspan> in colour.</text>`+"\n", marginLeft, y, html.EscapeString(highlight))
	y += 8
	barX := marginLeft + labelWidth + nameWidth
	for gi, g := range groups {
		top := y + groupGap/2
		if gi%2 == 0 {
			fmt.Fprintf(&b, `<rect x="0" y="%d" width="%d" height="%d" fill="#f6f7f8"/>`+"\n",
				y+groupGap/4, svgWidth, len(g.bars)*(barHeight+barGap)+groupGap/2)
		}
		mid := top + len(g.bars)*(barHeight+barGap)/2 + 4
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", marginLeft, mid, html.EscapeString(g.label))
		for i, br := range g.bars {
			by := top + i*(barHeight+barGap)
			fill, weight := "#adb5bd", "normal"
			if br.server == highlight {
				fill, weight = "#d9480f", "bold"
			} else if strings.HasPrefix(br.server, highlight+"-") {
				fill, weight = "#f59f00", "bold"
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="11" font-weight="%s">%s</text>`+"\n",
				barX-6, by+barHeight-2, weight, html.EscapeString(br.server))
			if math.IsNaN(br.value) {
				fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#c92a2a">failed</text>`+"\n", barX+4, by+barHeight-2)
				continue
			}
			bw := int(math.Round(br.score * barMax))
			if bw < 1 {
				bw = 1
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", barX, by, bw, barHeight, fill)
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" font-weight="%s">%s</text>`+"\n",
				barX+bw+5, by+barHeight-2, weight, html.EscapeString(format(br.value, g.unit)))
		}
		y += len(g.bars)*(barHeight+barGap) + groupGap
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="#777777">Generated by bench/compare.sh and bench/chart from cmd/ftpbench results; see docs/benchmarks.md.</text>`+"\n",
		marginLeft, y+lineHeight-4)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("chart", flag.ContinueOnError)
	results := fs.String("results", "", "folder of SERVER-rROUND.json files written by ftpbench --json, or of pass folders (TOPOLOGY-PINNING/) holding them")
	svgOut := fs.String("svg", "", "write the bar chart to this SVG file")
	mdOut := fs.String("markdown", "", "write the tables to this Markdown file (default: standard output)")
	highlight := fs.String("highlight", "pier", "the server compared with the others")
	title := fs.String("title", "pier vs. its peers (medians)", "title of the chart")
	page := fs.String("page", "", "with --part: replace the generated part of this page (between the markers "+beginMarker+" and "+endMarker+") with the contents of --part, and do nothing else")
	part := fs.String("part", "", "the generated part for --page")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *page != "" || *part != "" {
		if *page == "" || *part == "" || *results != "" || fs.NArg() > 0 {
			return errors.New("usage: chart --page FILE --part FILE")
		}
		return splicePage(*page, *part)
	}
	if *results == "" || fs.NArg() > 0 {
		return errors.New("usage: chart --results DIR [--svg FILE] [--markdown FILE] [--highlight NAME] [--title TEXT]\n       chart --page FILE --part FILE")
	}
	passes, err := loadPasses(*results)
	if err != nil {
		return err
	}
	var s *summary
	md := func(w io.Writer) error { return writeMarkdown(w, s, *highlight) }
	svgTitle := *title
	if len(passes) > 0 {
		// the chart shows the first pass
		s = passes[0].s
		md = func(w io.Writer) error { return writePasses(w, passes, *highlight) }
		if len(passes) > 1 {
			svgTitle += " (" + passTitle(passes[0].name) + ")"
		}
	} else if s, err = load(*results); err != nil {
		return err
	}
	write := func(name string, f func(io.Writer) error) error {
		if name == "" {
			return f(stdout)
		}
		out, err := os.Create(name)
		if err != nil {
			return err
		}
		if err := f(out); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
	if err := write(*mdOut, md); err != nil {
		return err
	}
	if *svgOut != "" {
		return write(*svgOut, func(w io.Writer) error { return writeSVG(w, s, *highlight, svgTitle) })
	}
	return nil
}

// Kinds of target: how the highlighted server's median must compare.
const (
	atLeastBest = iota // at least as good as the best peer
	beatAll            // strictly better than every peer
	noMoreThan         // no worse than one named peer
	ofCeiling          // a share of the loopback sendfile ceiling
)

// target is one of the performance targets the comparison checks (issue 7:
// the targets are ratios measured side by side in one run).
type target struct {
	name      string
	kind      int
	workloads func(w string) bool
	peer      string  // noMoreThan
	share     float64 // ofCeiling
}

var targets = []target{
	{name: "single-client STOR and RETR: at least the best peer", kind: atLeastBest,
		workloads: func(w string) bool { return w == "stor" || w == "retr" }},
	{name: "the same beside idle clients: at least the best peer", kind: atLeastBest,
		workloads: func(w string) bool { return w == "stor-idle" || w == "retr-idle" }},
	{name: "single-client STOR and RETR: 80 % of the loopback sendfile ceiling", kind: ofCeiling, share: 0.8,
		workloads: func(w string) bool { return w == "stor" || w == "retr" }},
	{name: "simultaneous logins (and no failed attempt) and QUITs: faster than every peer", kind: beatAll,
		workloads: func(w string) bool { return w == "logins" || w == "quit" }},
	{name: "many clients transferring at once: at least the best peer", kind: atLeastBest,
		workloads: func(w string) bool { return w == "retr-many" || w == "stor-many" }},
	{name: "memory with the clients logged in: no more than pyftpdlib", kind: noMoreThan, peer: "pyftpdlib",
		workloads: func(w string) bool { return w == memoryWorkload }},
	{name: "LIST and MLSD: faster than every peer", kind: beatAll,
		workloads: func(w string) bool { return strings.HasPrefix(w, "list-") || strings.HasPrefix(w, "mlsd-") }},
}

// idleClients and idlePerSession are the target for many idle clients
// (issues 7 and 21): with idleClients logged in and idle (compare.sh
// --idle), no login fails and the highlighted server's resident set, once
// settled (ftpbench --settle), grows by less than idlePerSession bytes a
// session over the empty server's. A run with fewer clients is not
// checked; one without --settle is checked on its memory right after the
// logins.
const (
	idleClients    = 10000
	idlePerSession = 8000
)

// flatListingMiB is how much more memory the highlighted server may hold
// after listing the largest folder than after listing the smallest: a
// folder of 100,000 entries held in memory would take tens of MiB.
const flatListingMiB = 2.0

// overlaps reports whether the ranges of values a and b overlap.
func overlaps(a, b []float64) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	return slices.Min(a) <= slices.Max(b) && slices.Min(b) <= slices.Max(a)
}

// writeTargets checks every target against the medians of this run: one
// row a workload, with the peer to beat, the ratio, and whether the two
// ranges over the rounds overlap (then the verdict can change from one
// run to the next). A check for which the highlighted server has no
// result is missed; one that has nothing to compare with (no peer ran the
// workload, no ceiling) is listed as not checked.
func writeTargets(b *strings.Builder, s *summary, highlight string, peers, workloads []string) {
	type row struct{ target, workload, value, against, ratio, overlap, verdict string }
	var rows []row
	var missed, unchecked []string
	met := 0
	verdict := func(r row, ok bool, why string) {
		if ok {
			met++
			r.verdict = "met"
		} else {
			r.verdict = "**missed**"
			missed = append(missed, r.workload+" ("+why+")")
		}
		rows = append(rows, r)
	}
	noResult := func(r row) {
		r.value, r.against, r.ratio, r.overlap = "no result", "–", "–", "–"
		verdict(r, false, "no result")
	}
	for _, tg := range targets {
		for _, wl := range workloads {
			if !tg.workloads(wl) {
				continue
			}
			unit := s.units[wl]
			hc := s.cells[highlight][wl]
			r := row{target: tg.name, workload: label(wl, clientsOf(s, wl))}
			hm, ok := median(cellValues(hc))
			if !ok {
				noResult(r)
				continue
			}
			r.value = format(hm, unit)
			switch tg.kind {
			case ofCeiling:
				cm, cok := median(cellValues(s.ceiling["ceiling-sendfile"]))
				if !cok {
					unchecked = append(unchecked, r.workload+" (no loopback ceiling measured)")
					continue
				}
				r.against = "ceiling-sendfile " + format(cm, "MB/s")
				r.ratio = fmt.Sprintf("%.0f%%", 100*hm/cm)
				r.overlap = "–"
				verdict(r, hm >= tg.share*cm, fmt.Sprintf("%.0f %% of the ceiling", 100*tg.share))
			default:
				// the peer to compare with: the named one, or the best peer
				against := ""
				var am float64
				for _, p := range peers {
					if tg.kind == noMoreThan && p != tg.peer {
						continue
					}
					m, mok := median(cellValues(s.cells[p][wl]))
					if mok && (against == "" || better(unit, m, am)) {
						against, am = p, m
					}
				}
				if against == "" {
					why := "no peer has a result"
					if tg.kind == noMoreThan {
						why = tg.peer + " has no result"
					}
					unchecked = append(unchecked, r.workload+" ("+why+")")
					continue
				}
				r.against = against + " " + format(am, unit)
				r.ratio = ratio(hm / am)
				switch {
				case s.rounds < 2:
					r.overlap = "–" // one value each: no range to compare
				case overlaps(cellValues(hc), cellValues(s.cells[against][wl])):
					r.overlap = "yes"
				default:
					r.overlap = "no"
				}
				switch tg.kind {
				case beatAll:
					ok, why := better(unit, hm, am), "vs "+against
					if ok && wl == "logins" {
						// every round, not the median: one failed
						// attempt in any round misses the target
						if slices.Max(hc.retried) > 0 || hc.failed > 0 {
							ok, why = false, "failed attempts"
						}
					}
					verdict(r, ok, why)
				default: // atLeastBest, noMoreThan
					verdict(r, hm == am || better(unit, hm, am), "vs "+against)
				}
			}
		}
	}
	// the server's memory must stay flat as the listed folder grows: compare
	// its resident set after the smallest and the largest listing
	for _, verb := range []string{"list", "mlsd"} {
		small, large := "", ""
		sn, ln := 0, 0
		for _, wl := range workloads {
			n, err := strconv.Atoi(strings.TrimPrefix(wl, verb+"-"))
			if err != nil || !strings.HasPrefix(wl, verb+"-") {
				continue
			}
			if small == "" || n < sn {
				small, sn = wl, n
			}
			if large == "" || n > ln {
				large, ln = wl, n
			}
		}
		if small == large {
			continue
		}
		r := row{target: fmt.Sprintf("%s: memory flat as the folder grows (at most %.0f MiB more)", strings.ToUpper(verb), flatListingMiB),
			workload: fmt.Sprintf("%s %d → %d entries", strings.ToUpper(verb), sn, ln)}
		var a, z float64
		aok, zok := false, false
		if c := s.cells[highlight][small]; c != nil {
			a, aok = median(c.rss)
		}
		if c := s.cells[highlight][large]; c != nil {
			z, zok = median(c.rss)
		}
		if !aok || !zok {
			noResult(r)
			continue
		}
		r.value = fmt.Sprintf("%+.1f MiB", z-a)
		r.against = fmt.Sprintf("%.1f MiB resident after %d entries", a, sn)
		r.ratio, r.overlap = "–", "–"
		verdict(r, z-a <= flatListingMiB, "memory")
	}
	// many idle clients, one run: every login made, the server's resident
	// set under idleLimitMB
	idleName := fmt.Sprintf("%d idle logged-in clients", idleClients)
	switch ir, ok := s.idle[highlight]; {
	case !ok:
		if _, ran := s.cells[highlight]; ran && !s.noIdleNote {
			unchecked = append(unchecked, idleName+" (no result: compare.sh --idle)")
		}
	case ir.Clients > 0 && ir.Clients < idleClients:
		unchecked = append(unchecked, fmt.Sprintf("%s (only %d logged in)", idleName, ir.Clients))
	default:
		r := row{target: fmt.Sprintf("%s: no errors, under %d bytes a session over the empty server", idleName, idlePerSession),
			workload: "logins, then idle (one run)", against: fmt.Sprintf("%d B", idlePerSession), overlap: "–"}
		rss, when := ir.ServerRSS, "right after the logins"
		if ir.SettledRSS > 0 {
			rss, when = ir.SettledRSS, fmt.Sprintf("after %g s idle; %.1f MiB right after the logins", ir.SettleSeconds, float64(ir.ServerRSS)/(1<<20))
		}
		per := float64(rss-ir.BeforeRSS) / float64(max(ir.Clients, 1))
		r.value = fmt.Sprintf("%.0f B a session (%.1f MiB resident %s; %.1f MiB empty)", per, float64(rss)/(1<<20), when, float64(ir.BeforeRSS)/(1<<20))
		r.ratio = fmt.Sprintf("%.2f", per/idlePerSession)
		switch {
		case ir.Errors > 0:
			r.value, r.ratio = fmt.Sprintf("%d failed: %s", ir.Errors, ir.Error), "–"
			verdict(r, false, "errors")
		case rss <= 0:
			r.value, r.ratio = "not measured", "–"
			verdict(r, false, "memory not measured")
		default:
			verdict(r, per <= idlePerSession, "memory")
		}
	}
	if len(rows) == 0 && len(unchecked) == 0 {
		return
	}
	b.WriteString("\n" + s.h() + " Targets\n\n")
	fmt.Fprintf(b, "The performance targets, checked against this run's medians. \"Ranges overlap\": %s's lowest–highest\n", highlight)
	b.WriteString("range over the rounds overlaps the other's, so the verdict may change from one run to the next.")
	if s.rounds < 2 {
		b.WriteString(" With one round there are no ranges (\"–\"): a verdict here may change from one run to the next.")
	}
	b.WriteString("\n\n")
	b.WriteString("| Target | Workload | " + highlight + " | Compared with | Ratio | Ranges overlap | Verdict |\n")
	b.WriteString("|---|---|---:|---|---:|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.target, r.workload, r.value, r.against, r.ratio, r.overlap, r.verdict)
	}
	fmt.Fprintf(b, "\n%s passes %d of %d checks here.", highlight, met, len(rows))
	if len(missed) > 0 {
		fmt.Fprintf(b, " Missed: %s.", strings.Join(missed, "; "))
	}
	if len(unchecked) > 0 {
		fmt.Fprintf(b, " Not checked: %s.", strings.Join(unchecked, "; "))
	}
	b.WriteString("\n")
}

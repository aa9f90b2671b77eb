package main

// Passes: compare.sh runs every workload on more than one topology
// (loopback; the clients in a network namespace behind a veth pair) and
// pinning (client and server free to use any CPU; each pinned to a CPU of
// its own), and writes the results of each into a folder of its own,
// TOPOLOGY-PINNING (loopback-unpinned, veth-pinned, ...), laid out as a
// results folder of one pass was before: SERVER-rROUND.json from ftpbench,
// ceiling-rROUND.json. Inside a pass, a folder per other client (curl/)
// holds that client's results of the multi-client workloads in the same
// format. pier.idle.json (the idle clients, run once) is at the top.

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// pass is one topology and pinning of a comparison.
type pass struct {
	name    string              // its folder: TOPOLOGY-PINNING
	s       *summary            // ftpbench's results
	clients map[string]*summary // other client -> its results
}

// topologyRank and pinningRank order the passes on the page.
var (
	topologyRank = map[string]int{"loopback": 0, "veth": 1}
	pinningRank  = map[string]int{"unpinned": 0, "pinned": 1}
)

func splitPass(name string) (topology, pinning string) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name, ""
	}
	return name[:i], name[i+1:]
}

// passTitle is the human name of a pass.
func passTitle(name string) string {
	t, p := splitPass(name)
	switch t {
	case "loopback":
		t = "loopback"
	case "veth":
		t = "veth pair"
	}
	switch p {
	case "unpinned":
		return t + ", unpinned"
	case "pinned":
		return t + ", pinned"
	}
	return name
}

// hasResults reports whether dir holds any NAME-rROUND.json file.
func hasResults(dir string) bool {
	names, _ := filepath.Glob(filepath.Join(dir, "*-r*.json"))
	for _, n := range names {
		if fileName.MatchString(filepath.Base(n)) {
			return true
		}
	}
	return false
}

// loadPasses reads every pass folder of dir; none (and no error) when dir
// is the results folder of a single pass, as compare.sh wrote before it
// had passes.
func loadPasses(dir string) ([]pass, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var passes []pass
	for _, e := range entries {
		pdir := filepath.Join(dir, e.Name())
		if !e.IsDir() || !hasResults(pdir) {
			continue
		}
		s, err := load(pdir)
		if err != nil {
			return nil, err
		}
		p := pass{name: e.Name(), s: s, clients: map[string]*summary{}}
		subs, err := os.ReadDir(pdir)
		if err != nil {
			return nil, err
		}
		for _, c := range subs {
			cdir := filepath.Join(pdir, c.Name())
			if !c.IsDir() || !hasResults(cdir) {
				continue
			}
			cs, err := load(cdir)
			if err != nil {
				return nil, err
			}
			p.clients[c.Name()] = cs
		}
		passes = append(passes, p)
	}
	rank := func(name string) (int, int, string) {
		t, p := splitPass(name)
		tr, ok := topologyRank[t]
		if !ok {
			tr = 100
		}
		pr, ok := pinningRank[p]
		if !ok {
			pr = 100
		}
		return tr, pr, name
	}
	sort.Slice(passes, func(i, j int) bool {
		ti, pi, ni := rank(passes[i].name)
		tj, pj, nj := rank(passes[j].name)
		if ti != tj {
			return ti < tj
		}
		if pi != pj {
			return pi < pj
		}
		return ni < nj
	})
	if len(passes) == 0 {
		return nil, nil
	}
	// the idle clients ran once, after the rounds, on loopback: their
	// result goes with the first pass
	idle := &summary{idle: map[string]result{}}
	if err := loadIdle(dir, idle); err != nil {
		return nil, err
	}
	for i := range passes {
		if i == 0 {
			for k, v := range idle.idle {
				passes[i].s.idle[k] = v
			}
		} else {
			passes[i].s.noIdleNote = true
		}
	}
	return passes, nil
}

// clientNames are the other clients of the passes, sorted.
func clientNames(passes []pass) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range passes {
		for c := range p.clients {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	sort.Strings(out)
	return out
}

// isPeer tells whether server sv is a peer of highlight (not highlight
// itself nor one of its variants, highlight-tls).
func isPeer(sv, highlight string) bool {
	return sv != highlight && !strings.HasPrefix(sv, highlight+"-")
}

// bestOf is the server with the best median of workload wl among those
// for which keep is true.
func bestOf(s *summary, wl string, keep func(string) bool) (string, float64, bool) {
	unit := s.units[wl]
	best, name := 0.0, ""
	for _, sv := range serverOrder(s, "") {
		if !keep(sv) {
			continue
		}
		m, ok := median(cellValues(s.cells[sv][wl]))
		if ok && (name == "" || better(unit, m, best)) {
			best, name = m, sv
		}
	}
	return name, best, name != ""
}

// standing is where the highlighted server stands in one workload: the
// best server, and the highlighted one's ratio to the best peer.
type standing struct {
	best     string
	peer     string
	ratio    float64
	wins     bool // better than the best peer
	complete bool // both the highlighted server and a peer have a result
}

func standingOf(s *summary, wl, highlight string) standing {
	var st standing
	st.best, _, _ = bestOf(s, wl, func(string) bool { return true })
	peer, pm, pok := bestOf(s, wl, func(sv string) bool { return isPeer(sv, highlight) })
	hm, hok := median(cellValues(s.cells[highlight][wl]))
	if !pok || !hok {
		return st
	}
	st.peer, st.ratio, st.complete = peer, hm/pm, true
	st.wins = better(s.units[wl], hm, pm)
	return st
}

// standingText is a cell of the summary table: the ratio, ✓ or ✗, and
// the best peer.
func standingText(st standing) string {
	if !st.complete {
		return "–"
	}
	mark := "✗"
	if st.wins {
		mark = "✓"
	}
	return fmt.Sprintf("%s %s (%s)", ratio(st.ratio), mark, st.peer)
}

// passWorkloads: every workload of the passes in ftpbench's order, with
// the label of the first pass that ran it.
func passWorkloads(passes []pass, pick func(pass) *summary) (ws []string, labels map[string]string) {
	all := &summary{units: map[string]string{}, cells: map[string]map[string]*cell{}}
	labels = map[string]string{}
	for _, p := range passes {
		s := pick(p)
		if s == nil {
			continue
		}
		for _, wl := range workloadOrder(s) {
			if _, ok := labels[wl]; !ok {
				all.units[wl] = s.units[wl]
				labels[wl] = label(wl, clientsOf(s, wl))
			}
		}
	}
	return workloadOrder(all), labels
}

// writePasses writes the page's tables of a comparison with passes: a
// summary of every pass, the server's CPU per unit of work, the other
// clients and where their ranking differs from ftpbench's, then each pass
// in detail.
func writePasses(w io.Writer, passes []pass, highlight string) error {
	var b strings.Builder
	clients := clientNames(passes)

	b.WriteString("## Summary: every topology and pinning\n\n")
	fmt.Fprintf(&b, "%s's median divided by the best peer's (named), from one run. Throughput (MB/s): above 1 means %s wins;\n", highlight, highlight)
	fmt.Fprintf(&b, "times (s) and memory: below 1 means %s wins. ✓: %s better, ✗: %s worse. Rows marked with a client's\n", highlight, highlight, highlight)
	b.WriteString("name were driven by that client instead of ftpbench.\n\n")
	b.WriteString("| Workload |")
	for _, p := range passes {
		fmt.Fprintf(&b, " %s |", passTitle(p.name))
	}
	b.WriteString("\n|---|")
	for range passes {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	summaryRows := func(client string, pick func(pass) *summary) {
		ws, labels := passWorkloads(passes, pick)
		for _, wl := range ws {
			name := labels[wl]
			if client != "" {
				name += ", " + client
			}
			fmt.Fprintf(&b, "| %s |", name)
			for _, p := range passes {
				s := pick(p)
				if s == nil {
					b.WriteString(" – |")
					continue
				}
				fmt.Fprintf(&b, " %s |", standingText(standingOf(s, wl, highlight)))
			}
			b.WriteString("\n")
		}
	}
	summaryRows("", func(p pass) *summary { return p.s })
	for _, c := range clients {
		summaryRows(c, func(p pass) *summary { return p.clients[c] })
	}

	b.WriteString("\n## Server CPU per unit of work\n\n")
	b.WriteString("The CPU time the server used during the timed part (all its processes, from its cgroup), per GiB moved\n")
	b.WriteString("for the transfers and per client (one login, one QUIT, one listing) for the others: medians over the\n")
	b.WriteString("rounds. Lower is better; unlike throughput, it does not depend on how much CPU the server leaves to the\n")
	b.WriteString("client on a machine they share. Bold: the least of the row.\n")
	for _, p := range passes {
		fmt.Fprintf(&b, "\n### %s (ftpbench)\n\n", passTitle(p.name))
		writePerUnit(&b, p.s, highlight)
	}
	for _, c := range clients {
		for _, p := range passes {
			if cs := p.clients[c]; cs != nil {
				fmt.Fprintf(&b, "\n### %s (%s)\n\n", passTitle(p.name), c)
				writePerUnit(&b, cs, highlight)
			}
		}
	}

	for _, c := range clients {
		fmt.Fprintf(&b, "\n## Other client: %s\n\n", c)
		fmt.Fprintf(&b, "The multi-client workloads driven by %s instead of ftpbench (see the notes for how), medians over\n", c)
		fmt.Fprintf(&b, "the rounds. Bold: the best median of the row; the last column: %s's median divided by the best peer's.\n", highlight)
		for _, p := range passes {
			cs := p.clients[c]
			if cs == nil {
				continue
			}
			fmt.Fprintf(&b, "\n### %s\n\n", passTitle(p.name))
			writeClientTable(&b, cs, highlight)
		}
		fmt.Fprintf(&b, "\n### Where the ranking differs between ftpbench and %s\n\n", c)
		diffs := rankingDiffs(passes, c, highlight)
		if len(diffs) == 0 {
			fmt.Fprintf(&b, "Nowhere: in every pass and workload both clients name the same best server, and %s's ratio to the\nbest peer is on the same side of 1.\n", highlight)
		} else {
			b.WriteString(strings.Join(diffs, "\n") + "\n")
		}
	}

	b.WriteString("\n## Every pass in detail\n")
	for _, p := range passes {
		fmt.Fprintf(&b, "\n### %s\n\n", passTitle(p.name))
		p.s.level = 4
		if err := writeMarkdown(&b, p.s, highlight); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// perUnitText formats a server's CPU per unit of work: seconds per GiB,
// or milliseconds per client.
func perUnitText(v float64, wl string) string {
	if movesFiles(wl) {
		return seconds(v) + " s/GiB"
	}
	ms := v * 1000
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 1:
		return fmt.Sprintf("%.2f ms", ms)
	case ms >= 0.01:
		return fmt.Sprintf("%.3f ms", ms)
	default:
		return fmt.Sprintf("%.2g µs", ms*1000)
	}
}

// perUnitLabel names what a row of the CPU table counts.
func perUnitLabel(wl string) string {
	switch {
	case movesFiles(wl):
		return "per GiB"
	case wl == "logins":
		return "per login"
	case wl == "quit":
		return "per QUIT"
	case strings.HasPrefix(wl, "list") || strings.HasPrefix(wl, "mlsd"):
		return "per listing"
	}
	return "per client"
}

// writePerUnit writes the table of the server's CPU per unit of work.
func writePerUnit(b *strings.Builder, s *summary, highlight string) {
	servers := serverOrder(s, highlight)
	measured := false
	for _, sv := range servers {
		for _, c := range s.cells[sv] {
			measured = measured || len(c.perUnit) > 0
		}
	}
	if !measured {
		b.WriteString("Not measured (no cgroup for the servers).\n")
		return
	}
	writeServersHeader(b, "CPU", servers, highlight)
	for _, wl := range workloadOrder(s) {
		if wl == memoryWorkload {
			continue
		}
		meds := map[string]float64{}
		best, peerBest, peer := math.Inf(1), math.Inf(1), ""
		for _, sv := range servers {
			c := s.cells[sv][wl]
			if c == nil {
				continue
			}
			if m, ok := median(c.perUnit); ok {
				meds[sv] = m
				best = math.Min(best, m)
				if isPeer(sv, highlight) && m < peerBest {
					peerBest, peer = m, sv
				}
			}
		}
		if len(meds) == 0 {
			continue
		}
		fmt.Fprintf(b, "| %s | %s |", label(wl, clientsOf(s, wl)), perUnitLabel(wl))
		for _, sv := range servers {
			m, ok := meds[sv]
			if !ok {
				b.WriteString(" – |")
				continue
			}
			t := perUnitText(m, wl)
			if m == best {
				t = "**" + t + "**"
			}
			fmt.Fprintf(b, " %s |", t)
		}
		if hm, ok := meds[highlight]; ok && peer != "" {
			mark := "✗"
			if hm < peerBest {
				mark = "✓"
			}
			fmt.Fprintf(b, " %s %s (%s) |\n", ratio(hm/peerBest), mark, peer)
		} else {
			b.WriteString(" – |\n")
		}
	}
}

// writeClientTable writes the medians of another client's runs.
func writeClientTable(b *strings.Builder, s *summary, highlight string) {
	servers := serverOrder(s, highlight)
	writeServersHeader(b, "Better", servers, highlight)
	for _, wl := range workloadOrder(s) {
		unit := s.units[wl]
		dir := "lower"
		if higherBetter(unit) {
			dir = "higher"
		}
		fmt.Fprintf(b, "| %s | %s |", label(wl, clientsOf(s, wl)), dir)
		best, bestOK := bestValue(s, wl, servers)
		for _, sv := range servers {
			c := s.cells[sv][wl]
			t := c.text(unit)
			if m, ok := median(cellValues(c)); ok && bestOK && m == best {
				t = "**" + t + "**"
			}
			fmt.Fprintf(b, " %s |", t)
		}
		fmt.Fprintf(b, " %s |\n", standingText(standingOf(s, wl, highlight)))
	}
}

// rankingDiffs lists every pass and workload where client c and ftpbench
// disagree: on the best server, or on which side of 1 the highlighted
// server's ratio to the best peer falls.
func rankingDiffs(passes []pass, c, highlight string) []string {
	var out []string
	for _, p := range passes {
		cs := p.clients[c]
		if cs == nil {
			continue
		}
		for _, wl := range workloadOrder(cs) {
			if _, ok := p.s.units[wl]; !ok {
				continue
			}
			a, z := standingOf(p.s, wl, highlight), standingOf(cs, wl, highlight)
			var why []string
			if a.best != "" && z.best != "" && a.best != z.best {
				why = append(why, fmt.Sprintf("best server: %s by ftpbench, %s by %s", a.best, z.best, c))
			}
			if a.complete && z.complete && a.wins != z.wins {
				why = append(why, fmt.Sprintf("%s/best peer: %s (%s) by ftpbench, %s (%s) by %s",
					highlight, ratio(a.ratio), a.peer, ratio(z.ratio), z.peer, c))
			}
			if len(why) > 0 {
				out = append(out, fmt.Sprintf("- %s, %s: %s.", passTitle(p.name), label(wl, clientsOf(cs, wl)), strings.Join(why, "; ")))
			}
		}
	}
	return out
}

// writeServersHeader writes a table's header: the workload, the second
// column, a column a server and pier's ratio to the best peer.
func writeServersHeader(b *strings.Builder, second string, servers []string, highlight string) {
	fmt.Fprintf(b, "| Workload | %s |", second)
	for _, sv := range servers {
		fmt.Fprintf(b, " %s |", sv)
	}
	fmt.Fprintf(b, " %s/best peer |\n|---|---|", highlight)
	for range servers {
		b.WriteString("---:|")
	}
	b.WriteString("---:|\n")
}

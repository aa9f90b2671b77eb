package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// passFixture: two passes, ftpbench and curl in each; in veth-pinned curl
// ranks pyftpdlib first where ftpbench ranks pier first.
func passFixture(t *testing.T) string {
	dir := t.TempDir()
	mk := func(sub string) string {
		d := filepath.Join(dir, sub)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	lo, lc := mk("loopback-unpinned"), mk("loopback-unpinned/curl")
	vp, vc := mk("veth-pinned"), mk("veth-pinned/curl")
	const gib = 1 << 30
	for _, d := range []string{lo, vp} {
		writeResults(t, d, "pier-r1.json", []result{
			{Workload: "retr", Clients: 1, Bytes: gib, Value: 1000, Unit: "MB/s", ServerCPU: 0.5},
			{Workload: "retr-many", Clients: 100, Bytes: 2 * gib, Value: 2, Unit: "s", ServerCPU: 1},
			{Workload: "logins", Clients: 100, Value: 0.1, Unit: "s", ServerCPU: 0.05},
		})
		writeResults(t, d, "pyftpdlib-r1.json", []result{
			{Workload: "retr", Clients: 1, Bytes: gib, Value: 800, Unit: "MB/s", ServerCPU: 1},
			{Workload: "retr-many", Clients: 100, Bytes: 2 * gib, Value: 3, Unit: "s", ServerCPU: 3},
			{Workload: "logins", Clients: 100, Value: 0.3, Unit: "s", ServerCPU: 0.2},
		})
	}
	writeResults(t, lc, "pier-r1.json", []result{{Workload: "retr-many", Clients: 100, Bytes: 2 * gib, Value: 2.5, Unit: "s", ServerCPU: 1}})
	writeResults(t, lc, "pyftpdlib-r1.json", []result{{Workload: "retr-many", Clients: 100, Bytes: 2 * gib, Value: 3.5, Unit: "s", ServerCPU: 3}})
	writeResults(t, vc, "pier-r1.json", []result{{Workload: "retr-many", Clients: 100, Bytes: 2 * gib, Value: 5, Unit: "s", ServerCPU: 1}})
	writeResults(t, vc, "pyftpdlib-r1.json", []result{{Workload: "retr-many", Clients: 100, Bytes: 2 * gib, Value: 3, Unit: "s", ServerCPU: 3}})
	writeResults(t, dir, "pier.idle.json", []result{{Workload: "logins", Clients: 10000, Value: 1, Unit: "s", ServerRSS: 100 << 20}})
	return dir
}

func TestPasses(t *testing.T) {
	dir := passFixture(t)
	passes, err := loadPasses(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(passes) != 2 || passes[0].name != "loopback-unpinned" || passes[1].name != "veth-pinned" {
		t.Fatalf("passes = %+v", passes)
	}
	if passes[0].clients["curl"] == nil || passes[1].clients["curl"] == nil {
		t.Fatal("curl results not read")
	}
	var b bytes.Buffer
	if err := writePasses(&b, passes, "pier"); err != nil {
		t.Fatal(err)
	}
	wantLines(t, b.String(),
		"## Summary: every topology and pinning",
		"| Workload | loopback, unpinned | veth pair, pinned |",
		"| RETR, 1 client | 1.25 ✓ (pyftpdlib) | 1.25 ✓ (pyftpdlib) |",
		"| 100 × RETR, curl | 0.71 ✓ (pyftpdlib) | 1.67 ✗ (pyftpdlib) |",
		"## Server CPU per unit of work",
		"### veth pair, pinned (ftpbench)",
		"| RETR, 1 client | per GiB | **0.500 s/GiB** | 1.00 s/GiB | 0.50 ✓ (pyftpdlib) |",
		"| 100 × RETR | per GiB | **0.500 s/GiB** | 1.50 s/GiB | 0.33 ✓ (pyftpdlib) |",
		"| 100 logins | per login | **0.500 ms** | 2.00 ms | 0.25 ✓ (pyftpdlib) |",
		"### loopback, unpinned (curl)",
		"## Other client: curl",
		"| 100 × RETR | lower | 5.00 s | **3.00 s** | 1.67 ✗ (pyftpdlib) |",
		"### Where the ranking differs between ftpbench and curl",
		"- veth pair, pinned, 100 × RETR: best server: pier by ftpbench, pyftpdlib by curl; pier/best peer: 0.67 (pyftpdlib) by ftpbench, 1.67 (pyftpdlib) by curl.",
		"## Every pass in detail",
		"#### Medians (1 round(s))",
		"#### Targets",
		// the idle clients go with the first pass only
		"| 10000 idle logged-in clients: no errors, under 8000 bytes a session over the empty server |",
	)
	md := b.String()
	if strings.Contains(md, "- loopback, unpinned, 100 × RETR") {
		t.Error("a ranking difference where there is none")
	}
	if n := strings.Count(md, "10000 idle logged-in clients"); n != 1 {
		t.Errorf("the idle clients appear %d times, want once (first pass)", n)
	}
	// the whole command: tables and the chart of the first pass
	svg := filepath.Join(t.TempDir(), "out.svg")
	var out bytes.Buffer
	if err := run([]string{"--results", dir, "--svg", svg, "--title", "T"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "## Other client: curl") {
		t.Error("run did not write the passes")
	}
	if data, err := os.ReadFile(svg); err != nil || !strings.Contains(string(data), "T (loopback, unpinned)") {
		t.Errorf("SVG without the pass in its title: %v", err)
	}
}

func TestPassesAgree(t *testing.T) {
	dir := passFixture(t)
	// curl agrees with ftpbench on the veth pair too
	writeResults(t, filepath.Join(dir, "veth-pinned", "curl"), "pier-r1.json",
		[]result{{Workload: "retr-many", Clients: 100, Bytes: 2 << 30, Value: 2.9, Unit: "s", ServerCPU: 1}})
	passes, err := loadPasses(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := writePasses(&b, passes, "pier"); err != nil {
		t.Fatal(err)
	}
	wantLines(t, b.String(), "Nowhere: in every pass and workload both clients name the same best server")
}

func TestSplice(t *testing.T) {
	const part = "Generated text.\n\n## Medians\n\n| a |\n"
	block := beginMarker + "\n\nGenerated text.\n\n## Medians\n\n| a |\n\n" + endMarker + "\n"
	for _, tc := range []struct {
		name, page, want string
	}{
		{"markers", "# Title\n\n" + beginMarker + "\nold\n## Old medians\n" + endMarker + "\n\n## Targets missed, and why\n\nhand-written\n",
			"# Title\n\n" + block + "\n## Targets missed, and why\n\nhand-written\n"},
		{"marker with more words", "# T\n<!-- compare.sh: begin (generated) -->\nold\n<!-- compare.sh: end (generated) -->\nrest\n",
			"# T\n" + block + "rest\n"},
		{"no markers: after the title", "# Title\n\n## S3\n\nhand-written\n",
			"# Title\n\n" + block + "\n## S3\n\nhand-written\n"},
		{"no markers, no title", "## S3\n", block + "\n## S3\n"},
		{"empty page", "", pageTitle + "\n\n" + block},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := splice(tc.page, part)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("splice =\n%s\nwant\n%s", got, tc.want)
			}
			// splicing again changes nothing
			again, err := splice(got, part)
			if err != nil || again != got {
				t.Errorf("second splice differs (%v):\n%s", err, again)
			}
		})
	}
	for _, page := range []string{
		"# T\n" + beginMarker + "\nno end\n",
		"# T\n" + endMarker + "\nno begin\n",
		"# T\n" + endMarker + "\n" + beginMarker + "\n",
	} {
		if _, err := splice(page, part); err == nil {
			t.Errorf("no error for a page with one marker or reversed markers: %q", page)
		}
	}
}

func TestSplicePage(t *testing.T) {
	dir := t.TempDir()
	page, part := filepath.Join(dir, "benchmarks.md"), filepath.Join(dir, "part.md")
	if err := os.WriteFile(part, []byte("new tables\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// a page that does not exist is made
	if err := run([]string{"--page", page, "--part", part}, nil); err != nil {
		t.Fatal(err)
	}
	hand := "\n## Cluster\n\nhand-written, kept\n"
	data, _ := os.ReadFile(page)
	if err := os.WriteFile(page, append(data, hand...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(page, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(part, []byte("newer tables\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"--page", page, "--part", part}, nil); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(page)
	want := pageTitle + "\n\n" + beginMarker + "\n\nnewer tables\n\n" + endMarker + "\n" + hand
	if string(data) != want {
		t.Errorf("page =\n%s\nwant\n%s", data, want)
	}
	if fi, _ := os.Stat(page); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the page's own 0600", fi.Mode().Perm())
	}
	if err := run([]string{"--page", page}, nil); err == nil {
		t.Error("--page without --part: no error")
	}
}

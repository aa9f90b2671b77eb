#!/usr/bin/env bash
# bench/downloads-ab.sh: two pier builds head to head on downloads, with
# two clients (ftpbench and curl), plain and over TLS, on loopback and
# from a network namespace over a veth pair; the order of the builds
# flips every round. Used to choose the copy buffer of downloads that
# don't use sendfile (docs/benchmarks.md, "Download copy buffer").
#
#   sudo bash bench/downloads-ab.sh A_BIN B_BIN [ROUNDS]     (default 3)
#
# A_BIN and B_BIN are pier binaries (go build -o ... ./cmd/pier from two
# trees). Each round, for each path (loopback 127.0.0.1; the veth pair,
# 10.204.0.2 -> 10.204.0.1), plain and TLS (--tls-self-signed), each
# build is started afresh on a tmpfs folder, and measured with:
#   ftpbench -b retr,retr-many -n 100 -s 10M --single-size 1G [--tls]
#   curl --parallel --parallel-max 100: 100 downloads of one 10 MiB file
#        ([--ssl-reqd -k]), timed around the command
# The server's CPU time is its cgroup's (bench/lib.sh: v2, or v1 cpuacct). Prints
# a table of MB/s per round and the medians, with the server's CPU
# seconds per GB. Needs root (namespace, cgroup), curl, python3, Go.
# Results stay in $PIER_BENCH_DIR/downloads-ab/DATE.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
[[ $# -ge 2 ]] || { sed -n 2,20p "$0" >&2; exit 2; }
for b in "$1" "$2"; do
	[[ -x $b && -f $b ]] || { echo "downloads-ab.sh: $b is no executable file" >&2; exit 2; }
done
declare -A bin=([A]=$(realpath "$1") [B]=$(realpath "$2"))
rounds=${3:-3}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "downloads-ab.sh: ROUNDS must be a positive number, not '$rounds'" >&2; exit 2; }
out=${PIER_BENCH_DIR:-/var/tmp/pier-bench}/downloads-ab/$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$out"
go build -o "$out/ftpbench" ./cmd/ftpbench || exit 1
dir=$(mktemp -d /dev/shm/pier-ab.XXXXXX)
mkdir -p "$dir/clientbench"
head -c 10485760 /dev/urandom >"$dir/clientbench/retr.bin"
ns=pierab-$$ pid=""
ip netns add "$ns"
ip link add pab0-$$ type veth peer name pab1-$$
ip link set pab1-$$ netns "$ns"
ip addr add 10.204.0.1/30 dev pab0-$$
ip link set pab0-$$ up
ip netns exec "$ns" ip addr add 10.204.0.2/30 dev pab1-$$
ip netns exec "$ns" ip link set pab1-$$ up
ip netns exec "$ns" ip link set lo up
say() { echo "$*" >&2; }
# shellcheck source=bench/lib.sh
. bench/lib.sh
cg=$(cg_make "pier-ab-$$")
cleanup() {
	[[ -n $pid ]] && terminate "$pid"
	ip netns del "$ns" 2>/dev/null
	ip link del pab0-$$ 2>/dev/null
	rm -rf "$dir"
	cg_remove "$cg"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[[ -n $cg ]] || { echo "downloads-ab.sh: no cgroup for the server's CPU time" >&2; exit 1; }
cgcpu() { echo $(($(cg_cpu_ns "$cg") / 1000)); } # the cgroup's CPU time so far, microseconds
start() { # BUILD ADDR MODE
	local extra=()
	[[ $3 == tls ]] && extra=(--tls-self-signed)
	"${bin[$1]}" -i "$2" -p 2150 -d "$dir" -u bench -P bench -w --max-cons 0 -r 40000-44999 "${extra[@]}" >"$out/server.log" 2>&1 &
	pid=$!
	echo "$pid" >"$cg/cgroup.procs"
	for _ in $(seq 100); do { exec 3<>"/dev/tcp/$2/2150"; } 2>/dev/null && { exec 3>&-; return; }; sleep 0.1; done
	echo "pier did not start" >&2; exit 1
}
for ((r = 1; r <= rounds; r++)); do
	order=(A B); ((r % 2 == 0)) && order=(B A)
	for path in loopback veth; do
		addr=127.0.0.1 pre=()
		[[ $path == veth ]] && addr=10.204.0.1 pre=(nsenter --net=/var/run/netns/"$ns")
		for mode in plain tls; do
			cfg=$out/curl-$path-$mode.cfg
			{ echo 'user = "bench:bench"'; for _ in $(seq 100); do echo "url = \"ftp://$addr:2150/clientbench/retr.bin\""; echo 'output = "/dev/null"'; done; } >"$cfg"
			targs=() cargs=()
			[[ $mode == tls ]] && targs=(--tls) cargs=(--ssl-reqd -k)
			for b in "${order[@]}"; do
				start "$b" "$addr" "$mode"
				"${pre[@]}" "$out/ftpbench" -H "$addr" -P 2150 -u bench -p bench -b retr,retr-many -n 100 -s 10M --single-size 1G \
					--quiet --allow-remote "${targs[@]}" --cgroup "$cg" --json "$out/ftpbench-$path-$mode-$b-r$r.json" >/dev/null
				c0=$(cgcpu) t0=$(date +%s.%N)
				"${pre[@]}" curl -sS --no-progress-meter --parallel --parallel-max 100 --parallel-immediate --ftp-method nocwd \
					--max-time 60 "${cargs[@]}" -w '%{exitcode} %{size_download}\n' -K "$cfg" >"$out/curl-$path-$mode-$b-r$r.txt" 2>&1
				t1=$(date +%s.%N) c1=$(cgcpu)
				ok=$(awk '$1 == 0 && $2 == 10485760' "$out/curl-$path-$mode-$b-r$r.txt" | wc -l)
				echo "$path $mode $b $r $ok $t0 $t1 $c0 $c1" >>"$out/curl.tsv"
				terminate "$pid"; pid=""
			done
		done
	done
done
python3 - "$out" <<'PY' | tee "$out/summary.md"
import collections, glob, json, os, statistics, sys
out = sys.argv[1]
d = collections.defaultdict(list)
for f in sorted(glob.glob(os.path.join(out, "ftpbench-*.json"))):
    _, path, mode, b, r = os.path.basename(f)[:-5].split("-")
    for w in json.load(open(f)):
        d[(path, mode, "ftpbench " + w["workload"], b)].append((w["mb_per_s"], w["server_cpu_seconds"] / (w["bytes"] / 1e9), w["errors"]))
for line in open(os.path.join(out, "curl.tsv")):
    path, mode, b, r, ok, t0, t1, c0, c1 = line.split()
    gb = 100 * 10485760 / 1e9
    d[(path, mode, "curl 100 × 10 MiB", b)].append((gb * 1e3 / (float(t1) - float(t0)), (int(c1) - int(c0)) / 1e6 / gb, 100 - int(ok)))
print("| path | mode | workload | A (MB/s, rounds) | B (MB/s, rounds) | B/A (medians) | server CPU s/GB, A / B | errors A / B |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for k in sorted({k[:3] for k in d}):
    a, b = d[k + ("A",)], d[k + ("B",)]
    ma, mb = statistics.median(x[0] for x in a), statistics.median(x[0] for x in b)
    fmt = lambda v: ", ".join(f"{x[0]:.0f}" for x in v)
    print(f"| {k[0]} | {k[1]} | {k[2]} | {fmt(a)} → **{ma:.0f}** | {fmt(b)} → **{mb:.0f}** | {mb / ma:.2f} | "
          f"{statistics.median(x[1] for x in a):.2f} / {statistics.median(x[1] for x in b):.2f} | {sum(x[2] for x in a)} / {sum(x[2] for x in b)} |")
PY

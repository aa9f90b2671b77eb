#!/usr/bin/env bash
# bench/sessions.sh: many idle logged-in sessions on this machine, more
# than one process may hold. A session takes a file descriptor in the
# server and one in the client; where the hard open-file limit can't be
# raised (no CAP_SYS_RESOURCE: 20,000 on the machine of
# docs/benchmarks.md), N sessions are spread over K pier processes, each
# on a port of its own and each logged into by an ftpbench process of its
# own, all at once. Every pier serves the same folder with compare.sh's
# options. Run as root (the bench user, the page reporting pause, the
# lock), after compare.sh has made the data folder and ftpbench once:
#
#   bash bench/sessions.sh [--bin PIER] [--settle 300s] [--out DIR] [--one-address] N K
#
# The K ftpbench processes connect from addresses of their own
# (ftpbench --source 127.(100+k).0.0/16), as many clients do, rather than
# all from 127.0.0.1: past some 10,000 connections from one address to
# one server, the kernel's search for a free local port at each connect
# takes most of the client's CPU. --one-address connects from 127.0.0.1.
#
# It prints, and writes to OUT (default a new folder under
# /var/tmp/pier-bench/results-by-hand): each ftpbench's JSON (the storm's
# time, failed logins, the server's memory before, right after the logins
# and after --settle), the resident set of all the pier processes summed
# every 10 s (rss.tsv), and a summary (summary.txt): bytes a session over
# the K empty servers, logins a second for the whole storm.
set -euo pipefail

say() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { say "sessions.sh: $*"; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE="${PIER_BENCH_DIR:-/var/tmp/pier-bench}"
DATAROOT="${PIER_BENCH_DATA:-/dev/shm/pier-bench}"
DATA="$DATAROOT/data"
PIER="" SETTLE=300s OUT="" PORT0=2300 ONE_ADDRESS=
while [ $# -gt 0 ]; do
	case "$1" in
	--bin) PIER=$(realpath "$2"); shift 2 ;;
	--settle) SETTLE=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--one-address) ONE_ADDRESS=1; shift ;;
	-h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown flag $1" ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || die "usage: bash bench/sessions.sh [--bin PIER] [--settle 300s] [--out DIR] [--one-address] N K"
N=$1 K=$2
[[ "$N" =~ ^[0-9]+$ && "$K" =~ ^[0-9]+$ && "$K" -ge 1 && "$N" -ge "$K" ]] || die "N and K: whole numbers, N >= K >= 1"
[ "$K" -le 155 ] || die "K: at most 155 (ftpbench k connects from 127.(100+k).0.0/16)"
[ "$(id -u)" = 0 ] || die "run as root"
[ -d "$DATA" ] || die "$DATA missing: run 'bash bench/compare.sh --quick' once"
id bench >/dev/null 2>&1 || die "no user bench: run 'bash bench/compare.sh --quick' once"

# each process's share (N/K, the first N%K one more), and the open-file
# limit the largest needs (its sessions, and a few dozen for the rest)
PER=$(((N + K - 1) / K))
ulimit -Sn "$(ulimit -Hn)"
LIMIT=$(ulimit -Sn)
[ "$LIMIT" = unlimited ] || [ $((PER + 64)) -le "$LIMIT" ] ||
	die "$PER sessions a process need more than the open-file limit $LIMIT: raise K"

PAGE_REPORTING=pause
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

exec 9>/var/tmp/pier-bench.lock
flock -n 9 || die "another benchmark holds /var/tmp/pier-bench.lock"

[ -n "$OUT" ] || OUT="$BASE/results-by-hand/$(date -u +%Y%m%d-%H%M%S)-sessions"
mkdir -p "$OUT"
# ftpbench from this tree (for --source), and pier unless --bin names one
FTPBENCH="$OUT/ftpbench"
(cd "$ROOT" && go build -o "$FTPBENCH" ./cmd/ftpbench)
if [ -z "$PIER" ]; then
	PIER="$OUT/pier"
	say "building pier at $(git -C "$ROOT" rev-parse --short HEAD)"
	(cd "$ROOT" && go build -o "$PIER" ./cmd/pier)
fi
chmod 755 "$OUT" "$FTPBENCH"
[ "$PIER" != "$OUT/pier" ] || chmod 755 "$PIER"

PIDS=() CLIENTS=() SAMPLER=""
SERVER_CG=$(cg_make "pier-sessions-$$")
cleanup() {
	local p
	[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
	for p in "${CLIENTS[@]}"; do terminate "$p"; done
	for p in "${PIDS[@]}"; do stop_server "$p"; done
	cg_remove "$SERVER_CG"
	restore_page_reporting
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pause_page_reporting

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
rss_sum() {
	local p t=0
	for p in "${PIDS[@]}"; do t=$((t + $(rss_kib "$p"))); done
	echo "$t"
}

# the servers, as compare.sh starts pier (bench/conf: server_cmd), each on
# a port of its own
for k in $(seq 0 $((K - 1))); do
	port=$((PORT0 + k))
	(
		[ -z "$SERVER_CG" ] || echo "$BASHPID" >"$SERVER_CG/cgroup.procs"
		cd "$DATA" && exec setpriv --reuid=bench --regid=bench --init-groups \
			"$PIER" -i 127.0.0.1 -p "$port" -d "$DATA" -u bench -P bench -w --max-cons 0 \
			-r 40000-44999
	) >"$OUT/pier-$k.log" 2>&1 </dev/null &
	PIDS+=($!)
done
for k in $(seq 0 $((K - 1))); do
	port=$((PORT0 + k)) ok=""
	for _ in $(seq 50); do
		if timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && IFS= read -r -t 2 l <&3 && [[ $l == 220* ]] && printf "QUIT\r\n" >&3' _ "$port" 2>/dev/null; then
			ok=1; break
		fi
		sleep 0.2
	done
	[ -n "$ok" ] || die "pier on port $port: no greeting ($(tail -n 2 "$OUT/pier-$k.log"))"
done
sleep 2
EMPTY=$(rss_sum)
say "$K pier processes on ports $PORT0-$((PORT0 + K - 1)), $((EMPTY / 1024)) MiB resident in all; $N sessions, $PER a process, idle $SETTLE"

printf 'seconds\trss_kib\n' >"$OUT/rss.tsv"
(
	t0=$(date +%s)
	while :; do
		printf '%s\t%s\n' "$(($(date +%s) - t0))" "$(rss_sum)" >>"$OUT/rss.tsv"
		sleep 10 &
		wait $!
	done
) &
SAMPLER=$!

rm -f "$OUT"/ftpbench-*.json
for k in $(seq 0 $((K - 1))); do
	n=$((N / K + (k < N % K ? 1 : 0)))
	src=()
	[ -n "$ONE_ADDRESS" ] || src=(--source "127.$((100 + k)).0.0/16")
	cg=()
	[ -z "$SERVER_CG" ] || cg=(--cgroup "$SERVER_CG")
	"$FTPBENCH" -P $((PORT0 + k)) "${src[@]}" "${cg[@]}" -u bench -p bench -b logins -n "$n" --quiet \
		--pid "${PIDS[$k]}" --settle "$SETTLE" --timeout 5m --json "$OUT/ftpbench-$k.json" \
		>"$OUT/ftpbench-$k.txt" 2>&1 &
	CLIENTS+=($!)
done
rc=0
for p in "${CLIENTS[@]}"; do wait "$p" || rc=$?; done
CLIENTS=()
kill "$SAMPLER" 2>/dev/null || true
SAMPLER=""
[ "$rc" = 0 ] || die "an ftpbench failed (exit $rc): $(tail -n 3 "$OUT"/ftpbench-*.txt)"

# the summary, from ftpbench's JSON (one logins row each)
python3 - "$OUT" "$N" "$K" "$EMPTY" <<'EOF' | tee "$OUT/summary.txt"
import json, sys, glob
out, n, k, empty_kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = [json.load(open(f"{out}/ftpbench-{i}.json"))[0] for i in range(k)]
clients = sum(r["clients"] for r in rows)
errors = sum(r["errors"] for r in rows)
ok = clients - errors
storm = max(r["seconds"] for r in rows)
cpu = [r.get("server_cpu_seconds") for r in rows if r.get("server_cpu_seconds") is not None]
ccpu = sum(r.get("client_cpu_seconds") or 0 for r in rows)
# ftpbench samples "before" only with --settle; the script's own sample otherwise
before = sum(r.get("server_rss_before_bytes", 0) for r in rows) or empty_kib * 1024
after = sum(r.get("server_rss_bytes", 0) for r in rows)
settled = sum(r.get("server_rss_settled_bytes", 0) for r in rows)
mib = 1 << 20
print(f"sessions: {clients} in {k} pier processes, failed logins: {errors}")
server = (f"server CPU {max(cpu):.2f} s (all the pier processes, during the longest ftpbench's logins), "
          f"{max(cpu) / clients * 1e6:.0f} us a login" if cpu else "server CPU not measured (no cgroup)")
print(f"storm: {storm:.2f} s for all (the slowest process), {clients / storm:.0f} logins a second; "
      f"{server}; ftpbench CPU {ccpu:.2f} s in all")
print(f"resident, all processes: empty {empty_kib / 1024:.1f} MiB (ftpbench's sample before: {before / mib:.1f}), "
      f"right after the logins {after / mib:.1f} MiB"
      + (f", after {rows[0]['settle_seconds']:.0f} s idle {settled / mib:.1f} MiB" if settled else ""))
if ok > 0:
    print(f"a session logged in, over the empty servers: {(after - before) / ok:.0f} B right after the logins"
          + (f", {(settled - before) / ok:.0f} B idle" if settled else ""))
EOF
say "results in $OUT"

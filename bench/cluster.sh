#!/usr/bin/env bash
# bench/cluster.sh: cmd/ftpbench through HAProxy against one pier node and
# against three, with the configuration docs/scale-out.md shows (the same
# files test/cluster_test.go runs), on loopback: HAProxy on 127.0.0.10,
# the nodes on 127.0.0.11-13, a throwaway PostgreSQL on 127.0.0.1, the
# shared folder on tmpfs. Run by hand, as root (PostgreSQL then runs as
# the postgres account):
#
#   bash bench/cluster.sh [ROUNDS]          (default 3)
#   QUICK=1 bash bench/cluster.sh 1         small sizes: checks the set-up
#
# Modes (MODES, a comma list; default direct,one,three), run in turn in
# each round:
#   direct  ftpbench straight to node1 (127.0.0.11), no HAProxy: the
#           baseline for what the balancer costs
#   one     through HAProxy, node2 and node3 in maintenance
#           ("set server pier/nodeN state maint" on the stats socket)
#   three   through HAProxy, all three nodes in
# Workloads, one ftpbench run each (so that the CPU is counted per
# workload):
#   logins     LOGIN_CLIENTS (100) clients log in at once (each an
#              argon2id check and a query to PostgreSQL)
#   stor-many  CLIENTS (30) clients each STOR EACH (3) files of FILESIZE
#              (10M) in turn
#   retr-many  the same, RETR
# Around each run the script reads utime+stime (/proc/PID/stat) of each
# pier node, of HAProxy, and of PostgreSQL (the postmaster and its
# backends), and ftpbench reports its own. Results: one JSON and one text
# table per run, cpu.tsv (every run) and summary.md (medians) in
# $PIER_BENCH_DIR/cluster/DATE (default /var/tmp/pier-bench).
#
# Before the rounds it waits (QUIET_WAIT, 600 s, at most) for the
# 1-minute load to fall under QUIET_LOAD (0.7): another process's load
# skews the figures.
#
# Needs haproxy (/usr/sbin/haproxy), PostgreSQL's initdb and postgres
# (PATH, /usr/local/bin or /usr/lib/postgresql/*/bin), openssl, python3,
# Go. Ports: PORT (2621, control, on 127.0.0.10-13), passive
# PASSIVE_FIRST (52000) to +299, PG_PORT (5499), admin 9122 on each node's
# address. Every process it starts is stopped by its PID at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
rounds=${1:-3}
modes=${MODES:-direct,one,three}
clients=${CLIENTS:-30} each=${EACH:-3} filesize=${FILESIZE:-10M} login_clients=${LOGIN_CLIENTS:-100}
if [[ ${QUICK:-} == 1 ]]; then
	clients=5 each=1 filesize=1M login_clients=10
fi
quiet_load=${QUIET_LOAD:-0.7} quiet_wait=${QUIET_WAIT:-600}
port=${PORT:-2621} passive_first=${PASSIVE_FIRST:-52000} pg_port=${PG_PORT:-5499}
haproxy=/usr/sbin/haproxy
python=/usr/bin/python3

out=${PIER_BENCH_DIR:-/var/tmp/pier-bench}/cluster/$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$out"
work=$(mktemp -d /var/tmp/pier-cluster.XXXXXX)
shared=$(mktemp -d /dev/shm/pier-cluster.XXXXXX)
log=$out/cluster.log
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$log" >&2; }

pids=()
pg_pid=
cg=
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [[ -n $pg_pid ]]; then
		kill -INT "$pg_pid" 2>/dev/null || true # fast shutdown
		wait "$pg_pid" 2>/dev/null || true
	fi
	if [[ -n $cg ]]; then
		rmdir "$cg"/node? "$cg" 2>/dev/null || say "warning: could not remove $cg"
	fi
	rm -rf "$work" "$shared"
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM

[[ -x $haproxy ]] || { echo "cluster.sh: $haproxy is missing (apt-get install haproxy)" >&2; exit 1; }
pgbin=
for d in "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")" /usr/local/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
	# (/usr/local/bin may hold symbolic links to Debian's folder, which
	# has pg_isready and createdb beside them)
	if [[ -x $d/initdb && -x $d/postgres ]]; then pgbin=$(dirname "$(readlink -f "$d/initdb")"); break; fi
done
[[ -n $pgbin ]] || { echo "cluster.sh: no PostgreSQL binaries (apt-get install postgresql)" >&2; exit 1; }

# --- machine ---------------------------------------------------------------
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "cpus: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "memory: $(free -m | awk '/^Mem:/ {print $2}') MiB"
	echo "kernel: $(uname -r)"
	echo "go: $(go version | cut -d' ' -f3)"
	echo "haproxy: $($haproxy -v | head -1 | cut -d' ' -f3)"
	echo "postgresql: $("$pgbin/postgres" --version | awk '{print $3}')"
	echo "pier: $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet || echo '+changes')"
} >"$out/machine.txt"
cat "$out/machine.txt" | tee -a "$log" >&2

# --- build -------------------------------------------------------------------
say "building pier and ftpbench"
go build -o "$work/pier" ./cmd/pier
go build -o "$work/ftpbench" ./cmd/ftpbench
pier=$work/pier

# --- PostgreSQL --------------------------------------------------------------
say "PostgreSQL $pg_port"
pgdata=$work/pg
mkdir -p "$pgdata"
asdb=()
if [[ $(id -u) == 0 ]]; then
	chmod 755 "$work"
	chown postgres: "$pgdata"
	asdb=(setpriv --reuid=postgres --regid=postgres --init-groups)
fi
HOME=$pgdata "${asdb[@]}" "$pgbin/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$out/initdb.log" 2>&1
HOME=$pgdata "${asdb[@]}" "$pgbin/postgres" -D "$pgdata" -k "$pgdata" -h 127.0.0.1 -p "$pg_port" -c max_connections=100 >"$out/postgres.log" 2>&1 &
pg_pid=$!
for _ in $(seq 100); do
	"$pgbin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && break
	sleep 0.1
done
"$pgbin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres pier
db=postgres://postgres@127.0.0.1:$pg_port/pier?sslmode=disable
mkdir -p "$shared/bench"
echo bench | PIER_DB=$db "$pier" user add bench --home "$shared/bench" --perm elradfmwMT

# --- configuration: docs/scale-out.md's blocks, addresses replaced ------------
block() { # NAME: the block marked <!-- cluster_test: NAME --> in docs/scale-out.md
	awk -v m="<!-- cluster_test: $1 -->" '$0 == m { getline; f = 1; next } f && /^```/ { exit } f' docs/scale-out.md
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
	-days 2 -subj /CN=127.0.0.10 -addext 'subjectAltName=IP:127.0.0.10' >/dev/null 2>&1
subst() {
	sed -e "s|postgres://pier@10.0.0.20/pier|$db|" \
		-e "s|/etc/pier/ftp.example.org.crt|$work/cert.pem|" -e "s|/etc/pier/ftp.example.org.key|$work/key.pem|" \
		-e "s|/run/haproxy/admin.sock|$work/haproxy.sock|" \
		-e "s|50000-50099|$passive_first-$((passive_first + 99))|" \
		-e "s|50100-50199|$((passive_first + 100))-$((passive_first + 199))|" \
		-e "s|50200-50299|$((passive_first + 200))-$((passive_first + 299))|" \
		-e "s|:21\$|:$port|" -e "s|^port = 21\$|port = $port|" \
		-e "s|203\.0\.113\.10|127.0.0.10|g" -e "s|10\.0\.0\.10|127.0.0.10|g" \
		-e "s|10\.0\.0\.11|127.0.0.11|g" -e "s|10\.0\.0\.12|127.0.0.12|g" -e "s|10\.0\.0\.13|127.0.0.13|g"
}
block node1 | subst >"$work/node1.conf"
for n in 2 3; do
	cp "$work/node1.conf" "$work/node$n.conf"
	while IFS= read -r line; do
		key=${line%%=*}
		key=${key%% }
		sed -i "s|^$key = .*|$line|" "$work/node$n.conf"
	done < <(block "node$n" | subst)
done
block haproxy.cfg | subst >"$work/haproxy.cfg"
cp "$work"/node?.conf "$work/haproxy.cfg" "$out/"

# --- start -------------------------------------------------------------------
# The nodes each in a cgroup of their own under one parent, which
# ftpbench --cgroup reads: the nodes' CPU time during each timed part.
# cgroup v2 (cpu.stat) or v1's cpuacct, whichever this machine mounts.
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
	cg=/sys/fs/cgroup/pier-cluster-$$
elif [[ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]]; then
	cg=/sys/fs/cgroup/cpuacct/pier-cluster-$$
fi
if [[ -n $cg ]] && ! mkdir "$cg" "$cg"/node{1,2,3} 2>/dev/null; then
	say "note: no cgroup ($cg): the nodes' CPU during the timed parts is not measured"
	rmdir "$cg"/node? "$cg" 2>/dev/null || true
	cg=
fi
node_pid=()
for n in 1 2 3; do
	"$pier" check-config "$work/node$n.conf" >/dev/null
	"$pier" -c "$work/node$n.conf" --admin "127.0.0.1$n:9122" 2>"$out/node$n.log" &
	pids+=($!)
	node_pid[n]=$!
	[[ -z $cg ]] || echo "${node_pid[n]}" >"$cg/node$n/cgroup.procs"
done
for n in 1 2 3; do
	for _ in $(seq 200); do grep -q 'starting pier' "$out/node$n.log" && break; sleep 0.05; done
	grep -q 'starting pier' "$out/node$n.log" || { say "node$n did not start:"; cat "$out/node$n.log" >&2; exit 1; }
done
"$haproxy" -c -f "$work/haproxy.cfg" >/dev/null
"$haproxy" -f "$work/haproxy.cfg" -db >"$out/haproxy.log" 2>&1 &
pids+=($!)
haproxy_pid=$!

hacli() { # COMMAND: HAProxy's stats socket
	"$python" - "$work/haproxy.sock" "$1" <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.connect(sys.argv[1])
	s.sendall(sys.argv[2].encode() + b"\n")
	out = b""
	while chunk := s.recv(65536):
	    out += chunk
	sys.stdout.write(out.decode())
	EOF
}
server_status() { # NODE
	hacli "show stat" | awk -F, -v n="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "status") c = i } $1 == "pier" && $2 == n { print $c }'
}
wait_status() { # NODE STATUS
	for _ in $(seq 300); do
		kill -0 "$haproxy_pid" 2>/dev/null || { say "haproxy exited:"; cat "$out/haproxy.log" >&2; exit 1; }
		[[ $(server_status "$1" 2>/dev/null) == "$2" ]] && return 0
		sleep 0.1
	done
	say "HAProxy: $1 is not $2"
	exit 1
}
for n in 1 2 3; do wait_status "node$n" UP; done
say "cluster up: HAProxy 127.0.0.10:$port, nodes ${node_pid[*]}, haproxy $haproxy_pid, postgres $pg_pid"

# --- CPU ---------------------------------------------------------------------
hz=$(getconf CLK_TCK)
ticks() { # PID: utime+stime
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
pg_ticks() { # the postmaster and its backends
	local total sum p
	total=$(ticks "$pg_pid")
	for p in /proc/[0-9]*; do
		[[ $(awk '{print $4}' "$p/stat" 2>/dev/null) == "$pg_pid" ]] || continue
		sum=$(awk '{ print $14 + $15 }' "$p/stat" 2>/dev/null || echo 0)
		total=$((total + sum))
	done
	echo "$total"
}
snapshot() { # -> "node1 node2 node3 haproxy postgres" in ticks
	echo "$(ticks "${node_pid[1]}") $(ticks "${node_pid[2]}") $(ticks "${node_pid[3]}") $(ticks "$haproxy_pid") $(pg_ticks)"
}

printf 'round\tmode\tworkload\tresult\tunit\tmb_per_s\terrors\tnode1_cpu_s\tnode2_cpu_s\tnode3_cpu_s\thaproxy_cpu_s\tpostgres_cpu_s\tclient_cpu_s\tnodes_timed_cpu_s\n' >"$out/cpu.tsv"
run() { # ROUND MODE WORKLOAD
	local host=127.0.0.10 n=$clients extra=()
	[[ $2 == direct ]] && host=127.0.0.11
	[[ $3 == logins ]] && n=$login_clients
	[[ $3 == *-many ]] && extra=(-s "$filesize" --each "$each")
	local name=$out/r$1-$2-$3
	local before after
	before=($(snapshot))
	[[ -z $cg ]] || extra+=(--cgroup "$cg")
	"$work/ftpbench" -H "$host" -P "$port" -u bench -p bench -b "$3" -n "$n" "${extra[@]}" --quiet --json "$name.json" >"$name.txt" 2>&1 || {
		say "ftpbench failed: $name.txt"
		cat "$name.txt" >&2
		exit 1
	}
	after=($(snapshot))
	local cpu=() i
	for i in 0 1 2 3 4; do
		cpu+=("$(awk -v a="${after[i]}" -v b="${before[i]}" -v hz="$hz" 'BEGIN { printf "%.2f", (a - b) / hz }')")
	done
	jq -r --arg r "$1" --arg m "$2" --arg c "$(IFS=$'\t'; echo "${cpu[*]}")" \
		'.[0] | [$r, $m, .workload, (.value | tostring), .unit, ((.mb_per_s // 0) | tostring), (.errors | tostring)] + ($c | split("\t")) + [(.client_cpu_seconds | tostring), ((.server_cpu_seconds // "") | tostring)] | @tsv' \
		"$name.json" >>"$out/cpu.tsv"
	say "round $1 $2 $3: $(tail -1 "$out/cpu.tsv" | cut -f4-)"
}

waited=0
while awk -v l="$quiet_load" '{ exit !($1 >= l) }' /proc/loadavg && ((waited < quiet_wait)); do
	((waited % 60 == 0)) && say "waiting for a quiet machine: load $(cut -d' ' -f1-3 /proc/loadavg)"
	sleep 5
	waited=$((waited + 5))
done
say "load before the rounds: $(cut -d' ' -f1-3 /proc/loadavg)"

IFS=, read -r -a mode_list <<<"$modes"
for r in $(seq "$rounds"); do
	for m in "${mode_list[@]}"; do
		case $m in
		one)
			hacli "set server pier/node2 state maint" >/dev/null
			hacli "set server pier/node3 state maint" >/dev/null
			wait_status node2 MAINT
			wait_status node3 MAINT
			;;
		three | direct)
			hacli "set server pier/node2 state ready" >/dev/null
			hacli "set server pier/node3 state ready" >/dev/null
			wait_status node2 UP
			wait_status node3 UP
			;;
		*) echo "cluster.sh: unknown mode $m" >&2; exit 2 ;;
		esac
		for w in logins stor-many retr-many; do
			run "$r" "$m" "$w"
		done
	done
done

# --- summary -----------------------------------------------------------------
"$python" - "$out/cpu.tsv" "$rounds" >"$out/summary.md" <<-'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print(f"Medians over {sys.argv[2]} round(s). CPU: seconds of user+system time; 'timed' is the three nodes together during the timed part")
print("(ftpbench --cgroup), the others are each process over the whole ftpbench run, its untimed set-up (logins, files) included.\n")
print("| mode | workload | result | nodes CPU, timed | node1 CPU | node2 CPU | node3 CPU | HAProxy CPU | PostgreSQL CPU | ftpbench CPU, timed |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
seen = []
for r in rows:
    k = (r["mode"], r["workload"])
    if k not in seen:
        seen.append(k)
for mode, w in seen:
    rs = [r for r in rows if (r["mode"], r["workload"]) == (mode, w)]
    med = lambda f: statistics.median(float(r[f]) for r in rs)
    if w == "logins":
        result = f"{med('result'):.3f} s"
    else:
        result = f"{med('mb_per_s'):.0f} MB/s ({med('result'):.2f} s)"
    timed = f"{med('nodes_timed_cpu_s'):.2f}" if all(r["nodes_timed_cpu_s"] for r in rs) else "-"
    cpus = timed + " | " + " | ".join(f"{med(f):.2f}" for f in ["node1_cpu_s", "node2_cpu_s", "node3_cpu_s", "haproxy_cpu_s", "postgres_cpu_s", "client_cpu_s"])
    print(f"| {mode} | {w} | {result} | {cpus} |")
EOF
cat "$out/summary.md"
say "results in $out"

#!/usr/bin/env bash
# bench/s3.sh: pier serving an S3 bucket (versitygw, POSIX back-end, on
# tmpfs) against direct S3 clients on the same versitygw, in one run:
# rclone, and bench/s3direct (the AWS SDK for Go v2, as pier uses it).
# Rounds alternate pier and the direct clients (the order flips every
# round). Run by hand:
#
#   bash bench/s3.sh [ROUNDS]                      (default 3)
#   sudo NETNS=1 bash bench/s3.sh 3                the clients (ftpbench,
#                                                  rclone, s3direct) in a
#                                                  network namespace of
#                                                  their own, over a veth
#                                                  pair
#   WORKLOADS=many bash bench/s3.sh 5              only some workloads
#   PIER_REV=HEAD bash bench/s3.sh                 pier built from a commit
#                                                  (git archive), not from
#                                                  the working tree
#   BASE_REV=HEAD bash bench/s3.sh                 also a second pier, built
#                                                  from that commit, as one
#                                                  more side of every round
#                                                  (before/after in one run)
#   SIDES=pier,sdk bash bench/s3.sh                only some sides (pier,
#                                                  base, rclone, sdk)
#
# Workloads (WORKLOADS, a comma list; default single,many,memory):
#   single  one client: STOR then RETR of SINGLE_SIZE (1G) through pier
#           (ftpbench -b stor,retr), against rclone copyto / rclone cat of
#           a file of that size, and s3direct -op put / get (4 parts in
#           flight, as pier has, and once more with 1)
#   many    FILES (100) files of FILESIZE (10M), PARALLEL (10) at a time:
#           ftpbench -b stor-many,retr-many -n 10 --each 10, against
#           rclone copy --transfers 10 and 10 rclone cat at once (each of
#           10 objects, one after another), and s3direct -files 100
#           -parallel 10
#   memory  pier alone: MEM_CLIENTS (300) simultaneous STORs of FILESIZE,
#           pier's VmRSS and VmHWM sampled every 50 ms, and the
#           kernel's TCP memory (/proc/net/sockstat); failed uploads
#           are counted (errors), not fatal
# Every round starts a fresh pier. Throughputs are MB/s (10^6 bytes a
# second). ftpbench and s3direct time the transfers only (logins and the
# client's start excluded); rclone is timed around the whole command (its
# start, a listing where it needs one): its fixed cost, an empty copyto
# and an empty cat, is measured every round and printed beside. The CPU
# time pier uses during each timed part is measured in a cgroup of its
# own (where one can be made: ftpbench --cgroup), and so are ftpbench's
# and s3direct's own.
#
# Loopback only (127.0.0.1), or with NETNS=1 a namespace made here
# (10.233.0.2, reaching 10.233.0.1 over veth) and removed at the end.
# versitygw's folder is a temporary folder on tmpfs (S3_DATA_ROOT, default
# /dev/shm; it holds a few GiB while it runs) and is removed at the end;
# results stay in $PIER_BENCH_DIR/s3/DATE (default /var/tmp/pier-bench).
# Other settings: SINGLE_SIZE, FILESIZE, FILES, PARALLEL, MEM_CLIENTS (see
# above); QUIET_LOAD (0.7) and QUIET_WAIT (600 s): before the rounds, wait
# that long at most for the 1-minute load to fall under that figure;
# KEEP_PAGE_REPORTING=1 leaves free page reporting alone; WARMUP=1 runs
# each pier workload once, untimed, before the timed run, in the same
# process (a long-running server's memory is warm: a fresh process first
# touches the pages of its part buffers, which on this machine's VM costs
# about 3 CPU-seconds per GiB); S3_KEEP_ALIVE=0
# runs versitygw as it starts by default, closing every connection after
# one request (the default here is --keep-alive, as S3 stores keep
# connections open: without it every request of every side pays a new
# TCP connection).
# Needs versitygw v1.8.0 (PATH or ~/go/bin: see internal/s3test), rclone,
# python3, Go; root for NETNS=1 and to pause free page reporting.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
rounds=${1:-3}
workloads=${WORKLOADS:-single,many,memory}
sides=${SIDES:-pier,base,rclone,sdk}
[[ -n ${BASE_REV:-} ]] || sides=${sides//base/}
keep_alive=${S3_KEEP_ALIVE:-1}
warmup=${WARMUP:-0}
[[ $warmup == [01] ]] || { echo "s3.sh: WARMUP must be 0 or 1, not '$warmup'" >&2; exit 2; }
single_size=${SINGLE_SIZE:-1G} filesize=${FILESIZE:-10M} files=${FILES:-100} parallel=${PARALLEL:-10}
mem_clients=${MEM_CLIENTS:-300}
quiet_load=${QUIET_LOAD:-0.7} quiet_wait=${QUIET_WAIT:-600}
(( files % parallel == 0 )) || { echo "s3.sh: FILES ($files) must be a multiple of PARALLEL ($parallel)" >&2; exit 2; }
each=$((files / parallel))

out=${PIER_BENCH_DIR:-/var/tmp/pier-bench}/s3/$(date -u +%Y%m%dT%H%M%S)${NETNS:+-netns}
mkdir -p "$out"
data=$(mktemp -d "${S3_DATA_ROOT:-/dev/shm}/pier-s3.XXXXXX")
log=$out/s3.log
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$log" >&2; }

versitygw=$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")
[[ -x $versitygw ]] || { echo "s3.sh: versitygw not found (see internal/s3test)" >&2; exit 1; }
# rclone also makes the bucket and cleans up after s3direct
command -v rclone >/dev/null || { echo "s3.sh: rclone not found" >&2; exit 1; }

host=127.0.0.1 client=() remote=()
ftp_port=2470 s3_port=7470
if [[ ${NETNS:-} == 1 ]]; then
	[[ $(id -u) == 0 ]] || { echo "s3.sh: NETNS=1 needs root" >&2; exit 1; }
	# As in bench/system-users.sh: the clients run in a namespace made
	# here and reach pier and versitygw at 10.233.0.1 over a veth pair.
	# pier reaches versitygw at that address too, which is local to it
	# (loopback), as without NETNS. nsenter, not ip netns exec, which
	# would mount a /sys without pier's cgroup (ftpbench --cgroup).
	ns=ps3$$
	host=10.233.0.1 client=(nsenter --net="/var/run/netns/$ns") remote=(--allow-remote)
fi
endpoint=http://$host:$s3_port
bucket=bench
ak=pierbench$(od -An -tx1 -N4 /dev/urandom | tr -d ' \n')
sk=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')

# rclone 1.60's AWS SDK (v1) refuses AWS_CA_BUNDLE with its own HTTP
# transport; the endpoint is plain http, so no one needs it.
unset AWS_CA_BUNDLE
export AWS_EC2_METADATA_DISABLED=true
export RCLONE_CONFIG=/dev/null RCLONE_CONFIG_S3B_TYPE=s3 RCLONE_CONFIG_S3B_PROVIDER=Other \
	RCLONE_CONFIG_S3B_ENDPOINT=$endpoint RCLONE_CONFIG_S3B_ACCESS_KEY_ID=$ak \
	RCLONE_CONFIG_S3B_SECRET_ACCESS_KEY=$sk RCLONE_CONFIG_S3B_FORCE_PATH_STYLE=true
# The same 8 MiB parts as pier, and the same cutoff (CUTOFF, 16M): pier
# sends an upload of up to two parts as one PutObject when it has a second
# part buffer free, as it always has here but in the memory workload;
# above, a multipart upload. rclone's default 4 parts in flight, no MD5 of
# the whole file read before the upload (pier computes none), no HEAD
# before or after, and no wait for "100 Continue" (versitygw sends none;
# Go's 1 s wait per part made 100 MiB take 4.7 s instead of 1).
cutoff=${CUTOFF:-16M}
rflags=(--s3-chunk-size 8M --s3-upload-cutoff "$cutoff" --s3-upload-concurrency 4 --s3-disable-checksum
	--no-check-dest --no-traverse --s3-no-head --expect-continue-timeout 0 -q)

pids=()
pr_file=/sys/module/page_reporting/parameters/page_reporting_order pr_saved=""
cg=""
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[[ -n $cg ]] && { rmdir "$cg" 2>/dev/null || true; }
	[[ -n ${ns:-} ]] && { ip link del "veth-$ns" 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; }
	[[ -n $pr_saved ]] && echo "$pr_saved" >"$pr_file" 2>/dev/null
	rm -rf "$data"
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM

if [[ -n ${ns:-} ]]; then
	ip netns add "$ns"
	ip link add "veth-$ns" type veth peer name eth0 netns "$ns"
	ip addr add 10.233.0.1/24 dev "veth-$ns"
	ip link set "veth-$ns" up
	ip netns exec "$ns" ip addr add 10.233.0.2/24 dev eth0
	ip netns exec "$ns" ip link set eth0 up
	ip netns exec "$ns" ip link set lo up
fi

# ---------------------------------------------------------------- build
say "building pier${PIER_REV:+ at $PIER_REV} and ftpbench"
if [[ -n ${PIER_REV:-} ]]; then
	mkdir "$data/src"
	git -C "$repo" archive "$PIER_REV" | tar -x -C "$data/src"
	(cd "$data/src" && go build -o "$out/pier" ./cmd/pier)
	rm -rf "$data/src"
	pier_version="commit $(git -C "$repo" rev-parse --short "$PIER_REV")"
else
	go build -o "$out/pier" ./cmd/pier
	pier_version="commit $(git rev-parse --short HEAD)"
	[[ -z $(git status --porcelain -- . ':!bench' ':!docs' | head -n 1) ]] || pier_version+=" + uncommitted changes"
fi
if [[ -n ${BASE_REV:-} ]]; then
	mkdir "$data/src"
	git -C "$repo" archive "$BASE_REV" | tar -x -C "$data/src"
	(cd "$data/src" && go build -o "$out/pier-base" ./cmd/pier)
	rm -rf "$data/src"
	base_version="commit $(git -C "$repo" rev-parse --short "$BASE_REV")"
fi
go build -o "$out/ftpbench" ./cmd/ftpbench
go build -o "$out/s3direct" ./bench/s3direct

# ---------------------------------------------------------------- quiet, memory
# Another process's load skews the ratio: wait (up to QUIET_WAIT s) for
# the 1-minute load to drop under QUIET_LOAD, and say what it was.
waited=0
while awk -v l="$quiet_load" '{ exit !($1 >= l) }' /proc/loadavg && ((waited < quiet_wait)); do
	((waited % 60 == 0)) && say "waiting for a quiet machine: load $(cut -d' ' -f1-3 /proc/loadavg)"
	sleep 5
	waited=$((waited + 5))
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# As in bench/compare.sh: a virtual machine's free page reporting makes
# fresh tmpfs pages fault on the host; paused for the run (root only),
# restored at the end, and a few GiB touched once.
if [[ -w $pr_file && ${KEEP_PAGE_REPORTING:-} != 1 ]]; then
	pr_saved=$(cat "$pr_file")
	echo 11 >"$pr_file"
	head -c 4G /dev/zero >"$data/warm" && rm -f "$data/warm"
	page_reporting="paused (order $pr_saved restored after)"
else
	page_reporting="as it was ($(cat "$pr_file" 2>/dev/null || echo none))"
fi

# pier's cgroup, for the CPU time it uses (v2, or v1's cpuacct)
for root in /sys/fs/cgroup /sys/fs/cgroup/cpuacct; do
	[[ -f $root/cgroup.controllers || -f $root/cpuacct.usage ]] || continue
	mkdir "$root/pier-s3-$$" 2>/dev/null && cg=$root/pier-s3-$$
	break
done

# ---------------------------------------------------------------- servers
mkdir "$data/gw"
gwflags=()
[[ $keep_alive == 0 ]] || gwflags=(--keep-alive)
"$versitygw" --access "$ak" --secret "$sk" --port "$host:$s3_port" "${gwflags[@]}" --quiet posix "$data/gw" >"$out/versitygw.log" 2>&1 &
pids+=($!)
for i in $(seq 100); do
	rclone mkdir "s3b:$bucket" -q 2>/dev/null && break
	((i < 100)) || { say "versitygw did not start: $(cat "$out/versitygw.log")"; exit 1; }
	sleep 0.1
done

pier_pid="" cgflag=()
start_pier() { # SIDE NAME: a fresh pier (SIDE pier or base) on the bucket, waits for its 220
	local bin=$out/pier
	[[ $1 == base ]] && bin=$out/pier-base
	AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk "$bin" -i $host -p $ftp_port --max-cons 0 \
		-u bench -P bench -w --s3-bucket $bucket --s3-endpoint "$endpoint" --s3-path-style \
		>"$out/$1-$2.log" 2>&1 &
	pier_pid=$!
	pids+=("$pier_pid")
	cgflag=()
	if [[ -n $cg ]] && echo "$pier_pid" >"$cg/cgroup.procs" 2>/dev/null; then cgflag=(--cgroup "$cg"); fi
	for _ in $(seq 100); do
		{ exec 3<>/dev/tcp/$host/$ftp_port; } 2>/dev/null && { exec 3>&-; return; }
		sleep 0.1
	done
	say "pier did not start: $(cat "$out/$1-$2.log")"
	exit 1
}
stop_pier() {
	kill "$pier_pid"
	wait "$pier_pid" 2>/dev/null || true
}

ftpbench() { "${client[@]}" "$out/ftpbench" "${remote[@]}" -H $host -P $ftp_port -u bench -p bench --quiet "$@"; }

# timed LABEL ROUND BYTES CMD...: run CMD (in the clients' namespace), and
# append "round side workload bytes seconds" to direct.tsv.
timed() {
	local label=$1 round=$2 bytes=$3 t0 t1
	shift 3
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	echo "$round rclone $label $bytes $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')" >>"$out/direct.tsv"
}
rc() { "${client[@]}" rclone "$@" "${rflags[@]}"; }
# sdk LABEL ROUND ARGS...: s3direct, which times itself (and its CPU time)
sdk() {
	local label=$1 round=$2 line
	shift 2
	line=$(AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk "${client[@]}" "$out/s3direct" -endpoint "$endpoint" -bucket $bucket "$@")
	echo "$round sdk $label $(cut -d' ' -f2-4 <<<"$line")" >>"$out/direct.tsv"
}
# cat_many I: the I-th of PARALLEL readers: the objects whose number is I
# modulo PARALLEL, one after another
cat_many() {
	local i names=()
	for ((i = $1; i < files; i += parallel)); do names+=(--include "/f$i.bin"); done
	rc cat "s3b:$bucket/direct-many" "${names[@]}" >/dev/null
}
cats_many() {
	local i p=()
	for ((i = 0; i < parallel; i++)); do cat_many "$i" & p+=($!); done
	for i in "${p[@]}"; do wait "$i"; done
}

# Source files for rclone, on tmpfs like versitygw's folder.
has() { [[ ,$workloads, == *,$1,* ]]; }
bytes() { numfmt --from=iec "$1"; }
: >"$out/direct.tsv"
: >"$data/empty"
if has single; then head -c "$(bytes "$single_size")" /dev/urandom >"$data/single.bin"; fi
if has many; then
	mkdir "$data/many"
	head -c "$(bytes "$filesize")" /dev/urandom >"$data/many/f0.bin"
	for ((i = 1; i < files; i++)); do cp "$data/many/f0.bin" "$data/many/f$i.bin"; done
fi

# ---------------------------------------------------------------- rounds
say "results in $out; load $load_before; ${NETNS:+NETNS; }workloads $workloads, $rounds rounds"
for r in $(seq "$rounds"); do
	order=$(tr ',' ' ' <<<"$sides")
	((r % 2 == 0)) && order=$(tr ' ' '\n' <<<"$order" | tac | tr '\n' ' ')
	# rclone's fixed cost: an empty upload and download
	if [[ ,$sides, == *,rclone,* ]]; then
		timed fixed-stor "$r" 0 rc copyto "$data/empty" "s3b:$bucket/empty"
		timed fixed-retr "$r" 0 rc cat "s3b:$bucket/empty" >/dev/null
	fi
	for w in single many; do
		has $w || continue
		for side in $order; do
			say "round $r: $w, $side"
			if [[ $side == pier || $side == base ]]; then
				start_pier "$side" "$w-r$r"
				if ((warmup)) && [[ $w == single ]]; then
					ftpbench -b stor,retr --single-size "$single_size" >/dev/null
				elif ((warmup)); then
					ftpbench -b stor-many,retr-many -n "$parallel" --each "$each" -s "$filesize" >/dev/null
				fi
				if [[ $w == single ]]; then
					ftpbench -b stor,retr --single-size "$single_size" --pid "$pier_pid" "${cgflag[@]}" --json "$out/$side-single-r$r.json" >"$out/$side-single-r$r.txt"
				else
					ftpbench -b stor-many,retr-many -n "$parallel" --each "$each" -s "$filesize" --pid "$pier_pid" "${cgflag[@]}" --json "$out/$side-many-r$r.json" >"$out/$side-many-r$r.txt"
				fi
				stop_pier
			elif [[ $side == sdk && $w == single ]]; then
				sdk stor "$r" -op put -size "$single_size" -cutoff "$cutoff" -concurrency 4 -key direct-single.bin
				sdk retr "$r" -op get -size "$single_size" -key direct-single.bin
				sdk stor-c1 "$r" -op put -size "$single_size" -cutoff "$cutoff" -concurrency 1 -key direct-single.bin
				rc deletefile "s3b:$bucket/direct-single.bin"
			elif [[ $side == sdk ]]; then
				sdk stor-many "$r" -op put -size "$filesize" -cutoff "$cutoff" -files "$files" -parallel "$parallel" -key sdk-many/f
				sdk retr-many "$r" -op get -size "$filesize" -files "$files" -parallel "$parallel" -key sdk-many/f
				rc purge "s3b:$bucket/sdk-many"
			elif [[ $w == single ]]; then
				n=$(bytes "$single_size")
				timed stor "$r" "$n" rc copyto "$data/single.bin" "s3b:$bucket/direct-single.bin"
				timed retr "$r" "$n" rc cat "s3b:$bucket/direct-single.bin" >/dev/null
				rc deletefile "s3b:$bucket/direct-single.bin"
			else
				n=$((files * $(bytes "$filesize")))
				timed stor-many "$r" "$n" rc copy "$data/many" "s3b:$bucket/direct-many" --transfers "$parallel" --checkers "$parallel"
				timed retr-many "$r" "$n" cats_many
				rc purge "s3b:$bucket/direct-many"
			fi
		done
	done
	for side in $order; do
		[[ $side == pier || $side == base ]] && has memory || continue
		# pier alone: MEM_CLIENTS uploads at once, its memory every 50 ms
		say "round $r: memory, $side, $mem_clients uploads of $filesize at once"
		start_pier "$side" "memory-r$r"
		sleep 0.5
		mem=$out/$side-memory-r$r.tsv
		(
			while [[ -r /proc/$pier_pid/status ]]; do
				# pier's memory, and the kernel's TCP memory (pages, all
				# sockets of every namespace: sockstat's "mem").
				tcp_mem=$(awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat)
				awk -v t="$(date +%s.%N)" -v m="${tcp_mem:-0}" '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 } END { print t, r, h, m }' "/proc/$pier_pid/status" 2>/dev/null || break
				sleep 0.05
			done
		) >"$mem" &
		sampler=$!
		pids+=("$sampler")
		sleep 0.3
		echo "start $(date +%s.%N)" >"$out/$side-memory-r$r.window"
		# A failed upload is a result here (the errors column), not the
		# end of the run.
		ftpbench -b stor-many -n "$mem_clients" -s "$filesize" --pid "$pier_pid" --json "$out/$side-memory-r$r.json" >"$out/$side-memory-r$r.txt" ||
			say "round $r: memory, $side: ftpbench reported failed uploads ($out/$side-memory-r$r.txt)"
		echo "end $(date +%s.%N)" >>"$out/$side-memory-r$r.window"
		sleep 2
		stop_pier
		wait "$sampler" 2>/dev/null || true
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
{
	echo "- pier: $pier_version, $("$out/pier" --version 2>&1 | head -n 1)"
	[[ -z ${BASE_REV:-} ]] || echo "- base (pier before): $base_version, $("$out/pier-base" --version 2>&1 | head -n 1)"
	echo "- sides: $sides"
	((warmup)) && echo "- WARMUP=1: each pier ran its workload once, untimed, before the timed run, in the same process"
	echo "- versitygw: $(go version -m "$versitygw" | awk '$1 == "mod" { print $3 }') (posix, on $(df --output=fstype "$data" | tail -n 1) $(df --output=target "$data" | tail -n 1)), ${gwflags[*]:-no keep-alive}"
	[[ ,$sides, != *,rclone,* ]] || echo "- rclone: $(rclone --version | head -n 1), flags: ${rflags[*]}"
	echo "- pier's CPU time: ${cg:-not measured (no cgroup)}"
	echo "- s3direct: $(go version -m "$out/s3direct" | awk '$1 == "dep" && $2 == "github.com/aws/aws-sdk-go-v2/service/s3" { print "aws-sdk-go-v2/service/s3 " $3 }'), 8 MiB parts, one PutObject up to $cutoff"
	if [[ -n ${ns:-} ]]; then
		echo "- path: veth pair, the clients in a network namespace (10.233.0.2 -> 10.233.0.1); pier -> versitygw over loopback"
	else
		echo "- path: loopback (127.0.0.1)"
	fi
	echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(free -g | awk '/^Mem/ { print $2 }') GiB, Linux $(uname -r); free page reporting $page_reporting"
	echo "- load average: before $load_before, after $load_after"
} >"$out/summary.md"
python3 - "$out" "$rounds" "$parallel" "$each" "$filesize" "$single_size" "$mem_clients" >>"$out/summary.md" <<'PY'
import glob, json, os, statistics, sys
out, rounds, par, each, fsize, ssize, memc = sys.argv[1:]
rounds = int(rounds)
rows = [("stor", f"STOR {ssize}, 1 client"),
        ("stor-c1", f"STOR {ssize}, 1 client, 1 part in flight (s3direct only)"),
        ("retr", f"RETR {ssize}, 1 client"),
        ("stor-many", f"{int(par)*int(each)} × STOR {fsize}, {par} at once"),
        ("retr-many", f"{int(par)*int(each)} × RETR {fsize}, {par} at once")]
names = {"pier": "pier", "base": "pier before (base)", "rclone": "rclone", "sdk": "s3direct (SDK)"}
res = {s: {} for s in names}  # side -> workload -> round -> MB/s
cpu = {s: {} for s in names}  # side -> workload -> round -> (server, client) CPU s per GB
fixed = {}
for line in open(f"{out}/direct.tsv"):
    r, side, w, b, s, *c = line.split()
    if w.startswith("fixed-"):
        fixed.setdefault(w, []).append(float(s))
        continue
    res[side].setdefault(w, {})[int(r)] = int(b) / float(s) / 1e6
    if c:
        cpu[side].setdefault(w, {})[int(r)] = (0.0, float(c[0]) / (int(b) / 1e9))
for side in ("pier", "base"):
    for f in glob.glob(f"{out}/{side}-single-r*.json") + glob.glob(f"{out}/{side}-many-r*.json"):
        r = int(f.rsplit("-r", 1)[1].split(".")[0])
        for x in json.load(open(f)):
            if x.get("errors"):
                print(f"- error: {side}, round {r} {x['workload']}: {x.get('error')}")
                continue
            res[side].setdefault(x["workload"], {})[r] = x["mb_per_s"]
            gb = x["bytes"] / 1e9
            if "server_cpu_seconds" in x:
                cpu[side].setdefault(x["workload"], {})[r] = (x["server_cpu_seconds"] / gb, x.get("client_cpu_seconds", 0) / gb)
present = [s for s in names if any(res[s].values())]
def cell(d):
    return ", ".join(f"{d[r]:.0f}" if r in d else "-" for r in range(1, rounds + 1)) if d else "-"
def med(d):
    return statistics.median(d.values()) if d else float("nan")
ratios = [("pier", "base"), ("pier", "rclone"), ("pier", "sdk"), ("base", "sdk")]
ratios = [(a, b) for a, b in ratios if a in present and b in present]
print()
print(f"| workload (MB/s; rounds 1..{rounds}, then the median) | " + " | ".join(names[s] for s in present) + " | " +
      " | ".join(f"{a}/{'s3direct' if b == 'sdk' else b}" for a, b in ratios) + " |")
print("| --- " * (1 + len(present) + len(ratios)) + "|")
for key, label in rows:
    ds = {s: res[s].get(key, {}) for s in present}
    if not any(ds.values()):
        continue
    col = lambda d: f"{cell(d)} → **{med(d):.0f}**" if d else "-"
    ratio = lambda a, b: f"{med(a)/med(b):.2f}" if a and b else "-"
    print(f"| {label} | " + " | ".join(col(ds[s]) for s in present) + " | " +
          " | ".join(ratio(ds[a], ds[b]) for a, b in ratios) + " |")
cpus = [s for s in ("pier", "base", "sdk") if any(cpu[s].values())]
if cpus:
    print()
    print("CPU seconds per GB moved (medians of the rounds): pier's server process (its cgroup) + ftpbench; s3direct's own. "
          "versitygw's is not counted.")
    print()
    print("| workload | " + " | ".join(f"{names[s]}: server + client" if s != "sdk" else names[s] for s in cpus) + " |")
    print("| --- " * (1 + len(cpus)) + "|")
    for key, label in rows:
        cs = {s: cpu[s].get(key, {}) for s in cpus}
        if not any(cs.values()):
            continue
        def c(s):
            d = cs[s]
            if not d:
                return "-"
            sv = statistics.median(v[0] for v in d.values())
            cl = statistics.median(v[1] for v in d.values())
            return f"{cl:.2f}" if s == "sdk" else f"{sv:.2f} + {cl:.2f} = {sv + cl:.2f}"
        print(f"| {label} | " + " | ".join(c(s) for s in cpus) + " |")
if fixed:
    print()
    print("rclone's fixed cost (empty copyto; empty cat), medians: " +
          "; ".join(f"{statistics.median(v)*1000:.0f} ms" for k, v in sorted(fixed.items(), reverse=True)))
mems = sorted(glob.glob(f"{out}/*-memory-r*.tsv"))
pagekb = os.sysconf("SC_PAGE_SIZE") / 1024  # sockstat counts pages
if mems:
    print()
    print(f"| pier memory (MiB), {memc} uploads of {fsize} at once | idle before | median while uploading | peak VmRSS | VmHWM | 2 s after | kernel TCP memory, peak | seconds | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for f in mems:
    side, r = f.rsplit("/", 1)[1].split("-memory-r")
    r = r.split(".")[0]
    win = dict(l.split() for l in open(f"{out}/{side}-memory-r{r}.window"))
    t0, t1 = float(win["start"]), float(win["end"])
    samples = [tuple(map(float, l.split())) for l in open(f) if len(l.split()) == 4]
    before = [s for s in samples if s[0] < t0]
    during = [s for s in samples if t0 <= s[0] <= t1]
    after = [s for s in samples if s[0] > t1]
    x = json.load(open(f"{out}/{side}-memory-r{r}.json"))[0]
    mib = lambda kb: f"{kb/1024:.0f}"
    print(f"| {names[side]}, round {r} | {mib(before[-1][1]) if before else '-'} | {mib(statistics.median(s[1] for s in during)) if during else '-'} "
          f"| {mib(max(s[1] for s in samples))} | {mib(samples[-1][2])} | {mib(after[-1][1]) if after else '-'} "
          f"| {mib(max(s[3] for s in during) * pagekb) if during else '-'} | {x['seconds']:.2f} | {x['errors']} |")
PY
cat "$out/summary.md"
say "done: $out/summary.md"

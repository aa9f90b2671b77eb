#!/usr/bin/env bash
# bench/s3-busy.sh: how busy the machine's CPUs are while one 1 GiB object
# is downloaded through pier (ftpbench RETR) and directly (s3direct's one
# GET), from one versitygw on loopback; for measurements by hand after
# bench/s3.sh (docs/benchmarks.md, "Seventh pass"). versitygw and pier
# share one cgroup, whose CPU time ftpbench --cgroup reads for its timed
# RETR and this script reads around s3direct's run (which so also counts
# s3direct's start, a few milliseconds). Run as root:
#
#   bash bench/s3-busy.sh BINDIR [ROUNDS]
#
# BINDIR holds pier, ftpbench and s3direct (an s3.sh results folder does).
# Prints, for each round and side: seconds, MB/s, the CPU-seconds of pier
# and versitygw together (versitygw's alone for s3direct), the client's,
# and the share of all the CPUs busy with the three.
set -euo pipefail

die() { echo "s3-busy.sh: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: bash bench/s3-busy.sh BINDIR [ROUNDS]"
bin=$1 rounds=${2:-3}
for b in pier ftpbench s3direct; do [ -x "$bin/$b" ] || die "no $bin/$b"; done
[ "$(id -u)" = 0 ] || die "run as root (a cgroup of its own)"
versitygw=$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")
[ -x "$versitygw" ] || die "versitygw not found (see internal/s3test)"
cpus=$(nproc)

cg="" usagef=""
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	cg=/sys/fs/cgroup/pier-s3busy-$$ usagef=cpu.stat
else
	cg=/sys/fs/cgroup/cpuacct/pier-s3busy-$$ usagef=cpuacct.usage
fi
mkdir "$cg"
usage() { # nanoseconds of CPU used so far in the cgroup
	if [ $usagef = cpu.stat ]; then
		echo $(($(awk '$1 == "usage_usec" { print $2 }' "$cg/cpu.stat") * 1000))
	else
		cat "$cg/cpuacct.usage"
	fi
}

data=$(mktemp -d /dev/shm/pier-s3busy.XXXXXX)
ak=s3busy$RANDOM sk=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
gw_port=7490 ftp_port=2490
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rmdir "$cg" 2>/dev/null || true
	rm -rf "$data"
}
trap cleanup EXIT

mkdir "$data/gw" "$data/gw/bench"
"$versitygw" --access "$ak" --secret "$sk" --port 127.0.0.1:$gw_port --keep-alive --quiet posix "$data/gw" >"$data/gw.log" 2>&1 &
pids+=($!)
echo $! >"$cg/cgroup.procs"
AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk "$bin/pier" -i 127.0.0.1 -p $ftp_port --max-cons 0 -u bench -P bench -w \
	--s3-bucket bench --s3-endpoint http://127.0.0.1:$gw_port --s3-path-style >"$data/pier.log" 2>&1 &
pids+=($!)
echo $! >"$cg/cgroup.procs"
for i in $(seq 100); do
	{ exec 3<>/dev/tcp/127.0.0.1/$ftp_port; } 2>/dev/null && { exec 3>&-; break; }
	((i < 100)) || die "pier did not start: $(cat "$data/pier.log")"
	sleep 0.1
done

s3direct() { AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk "$bin/s3direct" -endpoint http://127.0.0.1:$gw_port -bucket bench "$@"; }
ftpbench() { "$bin/ftpbench" -H 127.0.0.1 -P $ftp_port -u bench -p bench --quiet "$@"; }
s3direct -op put -size 1G -key direct.bin >/dev/null
ftpbench -b stor,retr --single-size 1G >/dev/null # pier's object, and a warm-up

printf 'side\tseconds\tMB/s\tserver CPU-s\tclient CPU-s\tCPUs busy\n'
for _ in $(seq "$rounds"); do
	ftpbench -b retr --single-size 1G --cgroup "$cg" --json "$data/f.json" >/dev/null
	python3 - "$data/f.json" "$cpus" <<-'PY'
		import json, sys
		w = [x for x in json.load(open(sys.argv[1])) if x["workload"] == "retr"][0]
		s, c, t = w["server_cpu_seconds"], w["client_cpu_seconds"], w["seconds"]
		print(f"pier\t{t:.3f}\t{w['mb_per_s']:.0f}\t{s:.3f}\t{c:.3f}\t{(s + c) / (int(sys.argv[2]) * t):.2f}")
	PY
	u0=$(usage)
	line=$(s3direct -op get -size 1G -key direct.bin)
	u1=$(usage)
	python3 - "$line" "$u0" "$u1" "$cpus" <<-'PY'
		import sys
		_, b, t, c = sys.argv[1].split()[:4]
		b, t, c = int(b), float(t), float(c)
		g = (int(sys.argv[3]) - int(sys.argv[2])) / 1e9
		print(f"s3direct\t{t:.3f}\t{b / t / 1e6:.0f}\t{g:.3f}\t{c:.3f}\t{(g + c) / (int(sys.argv[4]) * t):.2f}")
	PY
done

#!/usr/bin/env bash
# bench/curl-many.sh: 300 simultaneous transfers of 10 MiB, or 300
# logins, by one curl process in parallel mode, with compare.sh's curl options, against one
# server started afresh, on loopback or (PATH veth) with curl in a network
# namespace of its own behind a veth pair (10.205.0.2 -> 10.205.0.1, made
# and removed here); for measurements by hand between compare.sh runs
# (docs/benchmarks.md, "The run at 893d98c"). Run as root, after
# compare.sh has installed the peers once:
#
#   bash bench/curl-many.sh SERVER WORKLOAD PIN [PATH]
#
# SERVER is pier (the build compare.sh made), pier=BINARY or pyftpdlib;
# WORKLOAD stor (300 uploads), retr (300 downloads of one file) or logins
# (300 connections that log in and leave: -I on the home folder); PIN on
# (the server on CPU 0, curl on CPU 1) or off; PATH loopback (default) or
# veth. Prints the time, the
# server's CPU time (its cgroup) and curl's. Alternate the servers:
#
#   for r in 1 2 3 4 5; do for s in pier pyftpdlib; do
#     bash bench/curl-many.sh $s retr off; done; done
set -euo pipefail

say() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { say "curl-many.sh: $*"; exit 1; }

[ $# = 3 ] || [ $# = 4 ] || die "usage: bash bench/curl-many.sh SERVER stor|retr|logins on|off [loopback|veth]"
SERVER=$1 WORKLOAD=$2 PIN=$3 NETPATH=${4:-loopback}
[ "$(id -u)" = 0 ] || die "run as root (cgroups, setpriv)"
case $WORKLOAD in stor | retr | logins) ;; *) die "WORKLOAD is stor, retr or logins" ;; esac
case $PIN in on | off) ;; *) die "PIN is on or off" ;; esac
case $NETPATH in loopback | veth) ;; *) die "PATH is loopback or veth" ;; esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE="${PIER_BENCH_DIR:-/var/tmp/pier-bench}"
DATA="${PIER_BENCH_DATA:-/dev/shm/pier-bench}/data"
SCRATCH=/dev/shm/pier-curl-many
PORT=2391 HOST=127.0.0.1 NS="" VETH=""
[ "$NETPATH" = veth ] && HOST=10.205.0.1
[ -d "$DATA" ] && [ -x "$BASE/bin/pier" ] || die "$DATA or $BASE/bin/pier missing: run 'bash bench/compare.sh --quick' once"
exec 9>/var/tmp/pier-bench.lock
flock -n 9 || die "another benchmark holds /var/tmp/pier-bench.lock"

case $SERVER in
pier) cmd=("$BASE/bin/pier") ;;
pier=*) cmd=("${SERVER#pier=}") ;;
pyftpdlib) cmd=(/usr/bin/python3 "$ROOT/bench/conf/pyftpdlib-serve.py" $HOST $PORT "$DATA" 40000 44999) ;;
*) die "SERVER is pier, pier=BINARY or pyftpdlib" ;;
esac
case $SERVER in pier*) cmd+=(-i $HOST -p $PORT -d "$DATA" -u bench -P bench -w --max-cons 0 -r 40000-44999) ;; esac
spin=() cpin=()
if [ "$PIN" = on ]; then spin=(taskset -c 0) cpin=(taskset -c 1); fi

CG=/sys/fs/cgroup/cpuacct/pier-curl-many-$$
mkdir -p "$CG" "$SCRATCH"
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rmdir "$CG" 2>/dev/null || true
	rm -rf "$DATA/curlmany" "$SCRATCH"
	if [ -n "$VETH" ]; then ip link del "$VETH" 2>/dev/null || true; fi
	if [ -n "$NS" ]; then ip netns del "$NS" 2>/dev/null || true; fi
}
trap cleanup EXIT

# the veth path: curl in a namespace of its own, the server's end here
cpre=()
if [ "$NETPATH" = veth ]; then
	if ip -4 -o addr show | grep ' 10\.205\.0\.' >/dev/null || ip -4 route show | grep '^10\.205\.0\.' >/dev/null; then
		die "10.205.0.0/30 is in use on this machine"
	fi
	ip netns add "piercm-$$" || die "ip netns add piercm-$$ failed"
	NS=piercm-$$ # removed on exit from here on
	ip link add "piercm$$" type veth peer name eth0 netns "$NS" || die "ip link add piercm$$ failed"
	VETH=piercm$$
	ip addr add 10.205.0.1/30 dev "$VETH"
	ip link set "$VETH" up
	ip -n "$NS" addr add 10.205.0.2/30 dev eth0
	ip -n "$NS" link set eth0 up
	ip -n "$NS" link set lo up
	cpre=(nsenter "--net=/var/run/netns/$NS")
fi

[ -f "$SCRATCH/up.bin" ] || head -c 10M /dev/urandom >"$SCRATCH/up.bin"
mkdir -p "$DATA/curlmany"
cp "$SCRATCH/up.bin" "$DATA/curlmany/retr.bin"
chown -R bench:bench "$DATA/curlmany"
for i in $(seq 300); do
	if [ "$WORKLOAD" = stor ]; then
		printf 'url = "ftp://%s:%s/curlmany/up-%d"\nupload-file = "%s/up.bin"\n' $HOST $PORT "$i" "$SCRATCH"
	elif [ "$WORKLOAD" = logins ]; then
		printf 'url = "ftp://%s:%s/"\noutput = "/dev/null"\n' $HOST $PORT
	else
		printf 'url = "ftp://%s:%s/curlmany/retr.bin"\noutput = "/dev/null"\n' $HOST $PORT
	fi
done >"$SCRATCH/cfg"

(
	echo "$BASHPID" >"$CG/cgroup.procs"
	cd "$DATA"
	exec "${spin[@]}" setpriv --reuid=bench --regid=bench --init-groups "${cmd[@]}"
) >"$SCRATCH/server.log" 2>&1 </dev/null &
pid=$!
for _ in $(seq 50); do
	"${cpre[@]}" bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ $HOST $PORT 2>/dev/null && break
	sleep 0.1
done

head=()
[ "$WORKLOAD" = logins ] && head=(-I)
c0=$(cat "$CG/cpuacct.usage")
/usr/bin/time -f '%e %U %S' -o "$SCRATCH/time" "${cpre[@]}" "${cpin[@]}" curl -sS --no-progress-meter --parallel --parallel-max 300 \
	--parallel-immediate --ftp-method nocwd --connect-timeout 30 --max-time 30 -u bench:bench "${head[@]}" -K "$SCRATCH/cfg" \
	-w '%{exitcode}\n' >"$SCRATCH/codes" || true
c1=$(cat "$CG/cpuacct.usage")
read -r e u sy <"$SCRATCH/time"
failed=$(grep -vc '^0$' "$SCRATCH/codes" || true)
echo "$SERVER $WORKLOAD pin=$PIN $NETPATH: $e s, server CPU $(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.3f", (b-a)/1e9}') s, curl CPU $(awk -v u="$u" -v s="$sy" 'BEGIN{printf "%.2f", u+s}') s, failed $failed"

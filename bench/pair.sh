#!/usr/bin/env bash
# bench/pair.sh: one server against ftpbench, for measurements by hand
# between compare.sh runs: the server (and every process it starts) on
# CPU 0 in a cgroup of its own, so that ftpbench reports its CPU time, and
# ftpbench on CPU 1; on loopback, or with --veth from a network namespace
# behind a veth pair (made and removed here, as compare.sh makes its own).
# Run as root, after compare.sh has installed the peers once:
#
#   bash bench/pair.sh [--veth] SERVER WORKLOADS REPEAT [ftpbench flags...]
#
# SERVER is pier (the build compare.sh made), pier=BINARY (another build,
# to compare two), pure-ftpd, vsftpd, proftpd, pyftpdlib or fclairamb,
# configured as compare.sh configures them (bench/conf: the same command
# lines, the PAM service, the open-file limit). WORKLOADS and
# REPEAT are ftpbench's -b and --repeat; 300 clients unless the flags say
# otherwise (-n). ftpbench's table goes to standard output. Alternate the
# servers from run to run, as docs/benchmarks.md's measurements by hand do:
#
#   for i in 1 2 3; do for s in pure-ftpd pier; do
#     bash bench/pair.sh --veth $s list,mlsd 9 --entries 10000; done; done
set -euo pipefail

say() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { say "pair.sh: $*"; exit 1; }

# PAIR_TOPO, not TOPO: bench/lib.sh (sourced below) sets TOPO=loopback as
# the default of compare.sh's passes, which turned --veth into loopback
# from 2026-12-07 (b46ed52) until 2026-12-08
PAIR_TOPO=loopback
if [ "${1:-}" = --veth ]; then PAIR_TOPO=veth; shift; fi
[ $# -ge 3 ] || die "usage: bash bench/pair.sh [--veth] SERVER WORKLOADS REPEAT [ftpbench flags...]"
SERVER=$1 WORKLOADS=$2 REPEAT=$3
shift 3
[ "$(id -u)" = 0 ] || die "run as root (taskset, cgroups, the namespace, the peers' ports)"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONF="$ROOT/bench/conf"
BASE="${PIER_BENCH_DIR:-/var/tmp/pier-bench}"
DATA="${PIER_BENCH_DATA:-/dev/shm/pier-bench}/data"
DATAROOT="${PIER_BENCH_DATA:-/dev/shm/pier-bench}"
PKGS="$BASE/pkgs" BIN="$BASE/bin" RUN="$BASE/run"
PORT=2190
NETNS="pierpair-$$" VETH="pierpair$$"
PAGE_REPORTING=pause
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

[ -x "$BIN/ftpbench" ] && [ -d "$DATA" ] ||
	die "$BIN/ftpbench or $DATA missing: run 'bash bench/compare.sh --quick' once"
mkdir -p "$RUN"

exec 9>/var/tmp/pier-bench.lock
flock -n 9 || die "another benchmark holds /var/tmp/pier-bench.lock"

SERVER_PID="" CREATED_PAM=()
cleanup() {
	local f
	stop_child
	stop_server "$SERVER_PID"
	cg_remove "$SERVER_CG"
	teardown_veth
	for f in "${CREATED_PAM[@]}"; do rm -f "$f"; done
	restore_page_reporting
}
trap cleanup EXIT
trap 'exit 130' INT TERM

HOST=127.0.0.1 CLIENT=(taskset -c "$CLIENT_CPUS") REMOTE=()
if [ "$PAIR_TOPO" = veth ]; then
	setup_veth
	HOST=$VETH_SERVER
	CLIENT=(nsenter "--net=/var/run/netns/$NETNS" taskset -c "$CLIENT_CPUS")
	REMOTE=(--allow-remote)
fi

# as compare.sh sets them, for server_cmd (bench/lib.sh)
PASV_MIN=40000 PASV_MAX=44999 MAXCLIENTS=20000 PAM_SERVICE=pier-bench BENCH_USER=bench BENCH_PASS=bench

# as compare.sh's start: the open-file limit, and the PAM services of the
# servers that check the system user bench (compare.sh removes its own at
# its end), made for the run if missing
ulimit -Hn 65536 2>/dev/null || true
ulimit -Sn 65536 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
case "$SERVER" in
vsftpd | proftpd | pure-ftpd)
	for f in /etc/pam.d/pier-bench /etc/pam.d/pure-ftpd; do
		[ -e "$f" ] && continue
		sed "s/@PAM_SERVICE@/pier-bench/g" "$CONF/pam-bench" >"$f"
		CREATED_PAM+=("$f")
	done ;;
esac

case "$SERVER" in
pier=*) PIER_BIN=$(realpath "${SERVER#pier=}") SERVER=pier ;;
fclairamb)
	FCL_VERSION=$(ls "$BIN"/fclairamb-ftpserver-* 2>/dev/null | head -n 1) || true
	[ -n "$FCL_VERSION" ] || die "no fclairamb binary in $BIN"
	FCL_VERSION=${FCL_VERSION##*/fclairamb-ftpserver-} ;;
esac
server_cmd "$SERVER" "$PORT" || die "unknown server $SERVER"
cmd=("${SERVER_CMD[@]}")
# the program itself, after setpriv's options if it starts with setpriv
exe=${cmd[0]}
[ "$exe" = setpriv ] && exe=${cmd[4]}
[ -x "$exe" ] || die "$exe missing: run 'bash bench/compare.sh --quick' once"

pause_page_reporting
SERVER_CG=$(cg_make "pier-pair-$$")
[ -n "$SERVER_CG" ] || die "no cgroup for the server's CPU time"
LOG="$RUN/pair-${SERVER%%=*}.log"
: >"$LOG.fd0"
(
	echo "$BASHPID" >"$SERVER_CG/cgroup.procs"
	cd "$DATA" && exec taskset -c "$SERVER_CPUS" "${cmd[@]}"
) >"$LOG" 2>&1 0<>"$LOG.fd0" &
SERVER_PID=$!
# ready when it greets, as compare.sh waits (from the clients' side)
NS=()
[ "$PAIR_TOPO" = veth ] && NS=(nsenter "--net=/var/run/netns/$NETNS")
greeting=""
for _ in $(seq 50); do
	kill -0 "$SERVER_PID" 2>/dev/null || die "$SERVER exited at start: $(tail -n 3 "$LOG")"
	greeting=$("${NS[@]}" timeout 6 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
		IFS= read -r -t 5 line <&3; printf "%s" "$line"; printf "QUIT\r\n" >&3' _ "$HOST" "$PORT" 2>/dev/null) || true
	case "$greeting" in 220*) break ;; esac
	sleep 0.2
done
case "$greeting" in 220*) ;; *) die "$SERVER: no 220 greeting on $HOST:$PORT within 10 s" ;; esac
say "$SERVER ($PAIR_TOPO, $HOST:$PORT, server on CPU $SERVER_CPUS, ftpbench on CPU $CLIENT_CPUS; log $LOG)"
run_child "${CLIENT[@]}" "$BIN/ftpbench" -H "$HOST" "${REMOTE[@]}" -P "$PORT" -u bench -p bench \
	-b "$WORKLOADS" -n 300 --repeat "$REPEAT" --pid "$SERVER_PID" --cgroup "$SERVER_CG" --quiet "$@"

#!/usr/bin/env bash
# bench/compare.sh: side-by-side benchmark of pier against vsftpd, proftpd,
# pure-ftpd, pyftpdlib and fclairamb/ftpserver on this machine, with
# cmd/ftpbench. Run by hand, as root, from anywhere in the repository:
#
#   bash bench/compare.sh            # full: 300 clients, 10M files; 4 passes (loopback
#                                    # and veth, unpinned 3 rounds, pinned 1 round)
#   bash bench/compare.sh --quick    # check the setup: 1 round, 50 clients
#
# It installs the peers (Debian packages, fclairamb/ftpserver built from the Go
# module proxy), creates the system user "bench", and runs passes: every
# topology (loopback; the clients in a network namespace of their own behind a
# veth pair) with the client and the server unpinned and pinned to CPUs of
# their own. In each pass it starts each server in turn, runs ftpbench against
# it and then a second client (curl's parallel mode) for the multi-client
# workloads, stops it, alternates the order from round to round, and writes
# the generated part of docs/benchmarks.md (between its marker comments; the
# rest of the page is kept) and docs/benchmarks.svg. See bench/README.md for
# what it does and why.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: bash bench/compare.sh [--quick] [options]

  --quick            1 round, 50 clients, 1M files, 64M single transfers,
                     listings of 1000 entries (checks the setup; noisy)
  --rounds R         rounds (default 3; --quick: 1)
  --clients N        simultaneous clients (default 300; --quick: 50)
  --filesize SIZE    file of each client in retr-many/stor-many (default 10M)
  --single-size SIZE single stor/retr size (default 1G; --quick: 64M)
  --entries LIST     listing folder sizes (default 10000,100000; --quick: 1000)
  --idle N           after the rounds, pier alone: N clients log in and stay
                     idle, for the memory target (default 10000; --quick:
                     500; 0: skip; at most about 19,900 under a hard
                     open-file limit of 20000)
  --idle-settle D    how long the idle clients stay before the memory is
                     sampled again (default 300s, past the Go runtime's
                     two-minute forced collection and the scavenging after
                     it; --quick: 5s)
  --servers LIST     comma list among vsftpd,proftpd,pure-ftpd,pyftpdlib,
                     fclairamb,pier,pier-tls (default: all)
  --topology LIST    comma list among loopback (client and server on
                     127.0.0.1) and veth (the clients in a network namespace
                     made for the run, reaching the servers over a veth pair,
                     10.203.0.2 -> 10.203.0.1) (default: loopback,veth)
  --pinning MODE     off: server and client on any CPU; on: the server (and
                     every process it starts) on CPU 0, the client on CPU 1
                     (PIER_BENCH_SERVER_CPUS, PIER_BENCH_CLIENT_CPUS);
                     both (default): every topology unpinned, then pinned
  --pinned-rounds R  rounds of the pinned passes (default: 1)
  --other-clients LIST
                     clients besides ftpbench for the multi-client workloads
                     (logins, retr-many, stor-many), among curl (one
                     process, --parallel) and ftplib (Python threads), or
                     none (default: curl; ftplib adds about 10 minutes
                     to the full run)
  --other-rounds R   the other clients run in the first R rounds of every
                     pass (default 1: one confirmation a pass)
  --other-timeout S  the longest an other client's workload may take, in
                     seconds (default 30; a server that cannot serve the
                     clients by then has the rest counted as errors)
  --out DIR          where benchmarks.md and benchmarks.svg go (default: docs;
                     --quick: the run's results folder)
  --no-install       do not run apt-get / go mod download (use what is there)
  --keep-page-reporting
                     leave the virtual machine's free page reporting as it is
                     (by default it is paused for the run: see bench/README.md)
  -h, --help         this help

Environment: PIER_BENCH_DIR (default /var/tmp/pier-bench) holds the unpacked
packages, built binaries, configuration and results; PIER_BENCH_DATA (default
/dev/shm/pier-bench) is the served folder (on tmpfs); PIER_BENCH_FTPBENCH, if
set, is an ftpbench binary to use instead of the one built from the repository.
EOF
}

# ---------------------------------------------------------------- options
QUICK=0
ROUNDS=""
CLIENTS=""
FILESIZE=""
SINGLE=""
ENTRIES=""
IDLE=""
IDLE_SETTLE=""
SERVERS="vsftpd,proftpd,pure-ftpd,pyftpdlib,fclairamb,pier,pier-tls"
TOPOLOGIES="loopback,veth"
PINNING=both
PINNED_ROUNDS=""
OTHER_CLIENTS=curl
OTHER_ROUNDS=1
OTHER_TIMEOUT=30
OUT=""
INSTALL=1
PAGE_REPORTING=pause
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--rounds) ROUNDS="$2"; shift ;;
	--clients) CLIENTS="$2"; shift ;;
	--filesize) FILESIZE="$2"; shift ;;
	--single-size) SINGLE="$2"; shift ;;
	--entries) ENTRIES="$2"; shift ;;
	--idle) IDLE="$2"; shift ;;
	--idle-settle) IDLE_SETTLE="$2"; shift ;;
	--servers) SERVERS="$2"; shift ;;
	--topology) TOPOLOGIES="$2"; shift ;;
	--pinning) PINNING="$2"; shift ;;
	--pinned-rounds) PINNED_ROUNDS="$2"; shift ;;
	--other-clients) OTHER_CLIENTS="$2"; shift ;;
	--other-rounds) OTHER_ROUNDS="$2"; shift ;;
	--other-timeout) OTHER_TIMEOUT="$2"; shift ;;
	--out) OUT="$2"; shift ;;
	--no-install) INSTALL=0 ;;
	--keep-page-reporting) PAGE_REPORTING=keep ;;
	-h | --help) usage; exit 0 ;;
	*) echo "compare.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
if [ "$QUICK" = 1 ]; then
	: "${ROUNDS:=1}" "${CLIENTS:=50}" "${FILESIZE:=1M}" "${SINGLE:=64M}" "${ENTRIES:=1000}" "${IDLE:=500}" "${IDLE_SETTLE:=5s}"
	: "${PINNED_ROUNDS:=1}"
else
	: "${ROUNDS:=3}" "${CLIENTS:=300}" "${FILESIZE:=10M}" "${SINGLE:=1G}" "${ENTRIES:=10000,100000}" "${IDLE:=10000}" "${IDLE_SETTLE:=300s}"
	: "${PINNED_ROUNDS:=1}"
fi
case "$IDLE" in
'' | *[!0-9]*) echo "compare.sh: --idle wants a number of clients, not $IDLE" >&2; exit 2 ;;
esac
# a duration as ftpbench --settle takes it: a number and ms, s, m or h
if ! [[ "$IDLE_SETTLE" =~ ^[0-9]+(\.[0-9]+)?(ms|s|m|h)$ ]]; then
	echo "compare.sh: --idle-settle wants a duration such as 300s or 5m, not $IDLE_SETTLE" >&2
	exit 2
fi
for v in "$ROUNDS" "$PINNED_ROUNDS" "$OTHER_ROUNDS" "$OTHER_TIMEOUT"; do
	case "$v" in
	'' | *[!0-9]* | 0) echo "compare.sh: --rounds, --pinned-rounds, --other-rounds and --other-timeout want a positive number, not $v" >&2; exit 2 ;;
	esac
done
case "$PINNING" in
both) PINNINGS=(unpinned pinned) ;;
off) PINNINGS=(unpinned) ;;
on) PINNINGS=(pinned) ;;
*) echo "compare.sh: --pinning wants both, off or on, not $PINNING" >&2; exit 2 ;;
esac
IFS=, read -r -a TOPOLOGY_LIST <<<"$TOPOLOGIES"
for t in "${TOPOLOGY_LIST[@]}"; do
	case "$t" in
	loopback | veth) ;;
	*) echo "compare.sh: unknown topology '$t' in --topology (loopback, veth)" >&2; exit 2 ;;
	esac
done
[ ${#TOPOLOGY_LIST[@]} -gt 0 ] || { echo "compare.sh: --topology is empty" >&2; exit 2; }
IFS=, read -r -a OTHER_CLIENT_LIST <<<"$OTHER_CLIENTS"
for c in "${OTHER_CLIENT_LIST[@]}"; do
	case "$c" in
	curl | ftplib) ;;
	none) OTHER_CLIENT_LIST=() ; break ;;
	*) echo "compare.sh: unknown client '$c' in --other-clients (curl, ftplib, none)" >&2; exit 2 ;;
	esac
done

if [ "$(id -u)" != 0 ]; then
	echo "compare.sh: must run as root (installs packages, creates the user bench, starts servers)" >&2
	exit 1
fi

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONF="$REPO/bench/conf"
BASE="${PIER_BENCH_DIR:-/var/tmp/pier-bench}"
DATAROOT="${PIER_BENCH_DATA:-/dev/shm/pier-bench}"
DATA="$DATAROOT/data"
BIN="$BASE/bin"
PKGS="$BASE/pkgs"
RUN="$BASE/run"
STAMP="$(date -u +%Y%m%d-%H%M%S)"
RESULTS="$BASE/results/$STAMP"
# A --quick run checks the setup: its page goes with its results, not over
# docs/benchmarks.md.
if [ -z "$OUT" ]; then
	if [ "$QUICK" = 1 ]; then OUT=$RESULTS; else OUT=$REPO/docs; fi
fi
LOG="$RESULTS/compare.log"

FCL_VERSION=v0.15.0
PASV_MIN=40000
PASV_MAX=44999
MAXCLIENTS=20000           # every server's connection limit (per server and per address)
PAM_SERVICE=pier-bench
BENCH_USER=bench
BENCH_PASS=bench
NOFILE=65536
READY_TIMEOUT=30           # seconds a server gets to print its 220
RUN_TIMEOUT=3600           # seconds one ftpbench run may take
# The veth topology's namespace and the servers' end of its pair (the /30,
# the pinned passes' CPUs and CURL_MAX: bench/lib.sh).
NETNS="pierbench-cli-$$"
VETH="pbveth$$"

declare -A PORT=([vsftpd]=2131 [proftpd]=2132 [pure-ftpd]=2133 [pyftpdlib]=2134
	[fclairamb]=2135 [pier]=2136 [pier-tls]=2137)
declare -A VERSION=()
declare -A SKIP=()         # server -> why it cannot run here
declare -A CMDLINE=()      # server -> how it was started
CREATED_PAM=()
SERVER_PID=""
CHILD_PID=""               # the client (ftpbench, curl) running now, if any
# The pass running now (PASS, TOPO, PIN, PASSDIR, HOST, SERVER_PREFIX,
# CLIENT_PREFIX, NSENTER): bench/lib.sh, set_pass.

mkdir -p "$BASE" "$BIN" "$PKGS" "$RUN" "$RESULTS"
: >"$LOG"
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG" >&2; }
die() { say "FATAL: $*"; exit 1; }

IFS=, read -r -a SERVER_LIST <<<"$SERVERS"
for s in "${SERVER_LIST[@]}"; do
	[ -n "${PORT[$s]:-}" ] || die "unknown server '$s' in --servers"
done

# ---------------------------------------------------------------- memory, processes, cgroup root
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
CG_USED=0

make_cgroup() { # server round -> sets SERVER_CG (empty if none can be made)
	SERVER_CG=$(cg_make "pier-bench-$1-$$-${PASS:-none}-r$2")
}

check_cgroup() { # after the start: did the server land in its cgroup?
	[ -n "$SERVER_CG" ] || return 0
	if grep -qx "$SERVER_PID" "$SERVER_CG/cgroup.procs" 2>/dev/null; then
		CG_USED=1
	else
		say "  note: could not move the server into $SERVER_CG; its CPU time is not measured"
		remove_cgroup
	fi
}

remove_cgroup() {
	cg_remove "$SERVER_CG"
	SERVER_CG=""
}

# The second client (curl) runs in a cgroup of its own too, for its CPU time.
CLIENT_CG=""
make_client_cgroup() { CLIENT_CG=$(cg_make "pier-bench-client-$$"); }
remove_client_cgroup() {
	cg_remove "$CLIENT_CG"
	CLIENT_CG=""
}

# ---------------------------------------------------------------- veth
# setup_veth, teardown_veth: bench/lib.sh (NETNS, VETH, VETH_* above).

# set_pass: bench/lib.sh.

# run_child, stop_child: bench/lib.sh.

cleanup() {
	local f
	stop_child
	stop_server "$SERVER_PID"
	remove_cgroup
	remove_client_cgroup
	teardown_veth
	for f in "${CREATED_PAM[@]}"; do
		rm -f "$f"
	done
	restore_page_reporting
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- install
debpkg() { # server -> Debian package
	case "$1" in
	vsftpd) echo vsftpd ;;
	proftpd) echo proftpd-core ;;
	pure-ftpd) echo pure-ftpd ;;
	esac
}

wanted() { # is server $1 among --servers?
	local s
	for s in "${SERVER_LIST[@]}"; do [ "$s" = "$1" ] && return 0; done
	return 1
}

install_peers() {
	local s pkg deb deps
	if [ "$INSTALL" = 1 ]; then
		say "apt-get: python3-pyftpdlib, openssl, util-linux (setpriv, taskset, nsenter), iproute2 (ss, ip), curl, ethtool, where missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >>"$LOG" 2>&1 || say "apt-get update failed (continuing with the cached lists)"
		local p missing=""
		for p in python3-pyftpdlib openssl util-linux iproute2 curl ethtool; do
			dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
				missing="$missing $p"
		done
		if [ -n "$missing" ]; then
			apt-get install -y -qq --no-install-recommends $missing >>"$LOG" 2>&1 ||
				say "apt-get install$missing failed"
		fi
	fi
	# vsftpd, proftpd-core and pure-ftpd conflict with one another as
	# packages (each provides ftp-server) and would start services when
	# installed; so all three are unpacked, not installed, under $PKGS, and
	# only their library dependencies are installed.
	mkdir -p "$BASE/debs"
	for s in vsftpd proftpd pure-ftpd; do
		wanted "$s" || continue
		pkg=$(debpkg "$s")
		if [ "$INSTALL" = 1 ]; then
			(cd "$BASE/debs" && rm -f "${pkg}"_*.deb && apt-get download "$pkg" >>"$LOG" 2>&1) ||
				say "apt-get download $pkg failed"
		fi
		deb=$(ls "$BASE/debs/${pkg}"_*.deb 2>/dev/null | tail -n 1 || true)
		if [ -z "$deb" ]; then
			SKIP[$s]="package $pkg could not be downloaded (apt-get download $pkg)"
			continue
		fi
		rm -rf "${PKGS:?}/$s" && mkdir -p "$PKGS/$s" && dpkg-deb -x "$deb" "$PKGS/$s"
		VERSION[$s]="$pkg $(dpkg-deb -f "$deb" Version)"
		if [ "$INSTALL" = 1 ]; then
			# first alternative of every lib* dependency
			deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' |
				grep -E '^lib' | tr '\n' ' ')
			# only the missing ones: naming an installed package would upgrade it
			local d missing=""
			for d in $deps; do
				dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q 'install ok installed' ||
					missing="$missing $d"
			done
			if [ -n "$missing" ]; then
				say "apt-get install (libraries of $pkg):$missing"
				apt-get install -y -qq --no-install-recommends $missing >>"$LOG" 2>&1 ||
					say "apt-get install of $pkg's libraries failed:$missing"
			fi
		fi
	done
	local exe
	for s in vsftpd proftpd pure-ftpd; do
		wanted "$s" && [ -z "${SKIP[$s]:-}" ] || continue
		exe="$PKGS/$s/usr/sbin/$s"
		if [ ! -x "$exe" ]; then
			SKIP[$s]="$exe missing from the unpacked package"
		elif ldd "$exe" | grep -q 'not found'; then
			SKIP[$s]="missing libraries: $(ldd "$exe" | awk '/not found/ { printf "%s ", $1 }')"
		fi
	done
}

build_fclairamb() {
	wanted fclairamb || return 0
	local exe="$BIN/fclairamb-ftpserver-$FCL_VERSION" dir
	if [ ! -x "$exe" ]; then
		say "building fclairamb/ftpserver $FCL_VERSION from the module proxy (go mod download; go install @latest is refused here)"
		if [ "$INSTALL" = 1 ]; then
			dir=$(cd /tmp && go mod download -json "github.com/fclairamb/ftpserver@$FCL_VERSION" 2>>"$LOG" |
				sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || true
		else
			dir="$(go env GOMODCACHE)/github.com/fclairamb/ftpserver@$FCL_VERSION"
		fi
		if [ -z "$dir" ] || [ ! -d "$dir" ]; then
			SKIP[fclairamb]="go mod download github.com/fclairamb/ftpserver@$FCL_VERSION failed (see $LOG)"
			return 0
		fi
		if ! (cd "$dir" && GOFLAGS=-mod=mod go build -o "$exe.tmp" . >>"$LOG" 2>&1); then
			SKIP[fclairamb]="building fclairamb/ftpserver $FCL_VERSION failed (see $LOG)"
			return 0
		fi
		mv "$exe.tmp" "$exe"
	fi
	dir="$(go env GOMODCACHE)/github.com/fclairamb/ftpserver@$FCL_VERSION"
	VERSION[fclairamb]="fclairamb/ftpserver $FCL_VERSION ($(awk '$1 == "github.com/fclairamb/ftpserverlib" { print "ftpserverlib " $2 }' "$dir/go.mod" 2>/dev/null))"
}

build_pier() {
	say "building pier, ftpbench and the chart tool from $REPO"
	(cd "$REPO" && go build -o "$BIN/pier" ./cmd/pier && go build -o "$BIN/ftpbench" ./cmd/ftpbench &&
		go build -o "$BIN/chart" ./bench/chart) >>"$LOG" 2>&1 || die "go build failed (see $LOG)"
	if [ -n "${PIER_BENCH_FTPBENCH:-}" ]; then
		say "using ftpbench $PIER_BENCH_FTPBENCH (PIER_BENCH_FTPBENCH)"
		cp "$PIER_BENCH_FTPBENCH" "$BIN/ftpbench"
	fi
	local v
	v=$("$BIN/pier" --version 2>&1 | head -n 1)
	v="$v, commit $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	if [ -n "$(cd "$REPO" && git status --porcelain 2>/dev/null | head -n 1)" ]; then
		v="$v (+ uncommitted changes)"
	fi
	VERSION[pier]="$v"
	VERSION[pier-tls]="$v"
}

# ---------------------------------------------------------------- user, PAM, data
setup_user() {
	local hash
	if ! id "$BENCH_USER" >/dev/null 2>&1; then
		say "creating system user $BENCH_USER (home $DATA, no shell)"
		useradd --system --user-group --home-dir "$DATA" --no-create-home \
			--shell /usr/sbin/nologin "$BENCH_USER"
	else
		usermod --home "$DATA" "$BENCH_USER" >/dev/null 2>&1 || true
	fi
	# One sha512-crypt hash (5000 rounds), the same check for every server
	# that verifies system passwords; Debian's default, yescrypt, costs ~20 ms.
	hash=$(openssl passwd -6 "$BENCH_PASS")
	echo "$BENCH_USER:$hash" | chpasswd -e
	local f
	for f in "/etc/pam.d/$PAM_SERVICE" /etc/pam.d/pure-ftpd; do
		if [ -e "$f" ] && ! grep -q '^# PAM service of bench/compare.sh' "$f"; then
			if [ "$f" = /etc/pam.d/pure-ftpd ]; then
				say "note: keeping the existing $f (pure-ftpd's compiled-in PAM service); check it uses pam_unix"
			else
				die "$f exists and is not ours"
			fi
			continue
		fi
		sed "s/@PAM_SERVICE@/$PAM_SERVICE/g" "$CONF/pam-bench" >"$f"
		CREATED_PAM+=("$f")
	done
}

setup_data() {
	local e d
	mkdir -p "$DATA" "$RUN/vsftpd-empty"
	chmod 755 "$DATAROOT" "$RUN" "$RUN/vsftpd-empty"
	# files of earlier (interrupted) runs
	find "$DATA" -maxdepth 1 -name 'ftpbench-[0-9]*' -exec rm -rf {} + 2>/dev/null || true
	# The listing folders are made here, once, so no server pays for making
	# them and all list the very same folder.
	IFS=, read -r -a _entries <<<"$ENTRIES"
	for e in "${_entries[@]}"; do
		d="$DATA/ftpbench-list-$e"
		if [ "$(find "$d" -maxdepth 1 -type f 2>/dev/null | wc -l)" != "$e" ]; then
			say "making $d ($e empty files)"
			rm -rf "$d" && mkdir -p "$d"
			(cd "$d" && seq -f 'f%07g' 1 "$e" | xargs touch)
		fi
	done
	chown -R "$BENCH_USER:$BENCH_USER" "$DATA"
}

# fill_conf, server_cmd: bench/lib.sh.

versions() {
	local s
	wanted pyftpdlib && VERSION[pyftpdlib]="pyftpdlib $(/usr/bin/python3 -c 'import pyftpdlib; print(pyftpdlib.__ver__)' 2>/dev/null || echo '?'), Python $(/usr/bin/python3 -c 'import platform; print(platform.python_version())' 2>/dev/null)"
	if wanted pyftpdlib && ! /usr/bin/python3 -c 'import pyftpdlib' 2>/dev/null; then
		SKIP[pyftpdlib]="Debian's python3-pyftpdlib is not importable by /usr/bin/python3"
	fi
}

# ---------------------------------------------------------------- servers
# start_server NAME: starts it in the background, sets SERVER_PID, returns 1
# (with the reason in START_ERR) if it does not greet within READY_TIMEOUT.
START_ERR=""
greeting() { # port -> the first line the server sends, if any (from the clients' namespace)
	"${NSENTER[@]}" timeout 6 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
		IFS= read -r -t 5 line <&3; printf "%s" "$line"; printf "QUIT\r\n" >&3' _ "$HOST" "$1" 2>/dev/null || true
}

start_server() { # name round
	local s=$1 port=${PORT[$1]} logf="${PASSDIR:-$RESULTS}/$1-r$2.server.log" cmd=()
	server_cmd "$s" "$port"
	cmd=("${SERVER_CMD[@]}")
	# as on the page: the address as ADDR (127.0.0.1 or the veth address)
	CMDLINE[$s]="${cmd[*]//$HOST/ADDR}"
	if ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
		START_ERR="port $port is already in use"
		return 1
	fi
	# standard input: a file too, as vsftpd writes its "500 OOPS" errors to fd 0
	: >"$logf.fd0"
	make_cgroup "$s" "$2"
	(
		if [ -n "$SERVER_CG" ]; then echo "$BASHPID" 2>/dev/null >"$SERVER_CG/cgroup.procs" || true; fi
		cd "$DATA" && exec "${SERVER_PREFIX[@]}" "${cmd[@]}"
	) >>"$logf" 2>&1 0<>"$logf.fd0" &
	SERVER_PID=$!
	local i line=""
	for i in $(seq $((READY_TIMEOUT * 5))); do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			wait "$SERVER_PID" 2>/dev/null || true
			SERVER_PID=""
			remove_cgroup
			START_ERR="exited at start: $(cat "$logf.fd0"; tail -n 3 "$logf" | tr '\n' ' ')"
			return 1
		fi
		line=$(greeting "$port")
		case "$line" in 220*) check_cgroup; return 0 ;; esac
		sleep 0.2
	done
	START_ERR="no 220 greeting on port $port within ${READY_TIMEOUT}s (last: ${line:-nothing})"
	stop_server "$SERVER_PID"
	remove_cgroup
	return 1
}

workloads() { # server -> ftpbench workloads
	case "$1" in
	vsftpd) echo "stor,retr,logins,stor-idle,retr-idle,retr-many,stor-many,quit,list" ;; # no MLSD in vsftpd
	pier-tls) echo "stor,retr" ;;
	*) echo "stor,retr,logins,stor-idle,retr-idle,retr-many,stor-many,quit,list,mlsd" ;;
	esac
}

bench_args() { # server -> ftpbench arguments (without --pid/--json)
	local args=(-H "$HOST" -P "${PORT[$1]}" -u "$BENCH_USER" -p "$BENCH_PASS" -b "$(workloads "$1")"
		-n "$CLIENTS" -s "$FILESIZE" --single-size "$SINGLE" --entries "$ENTRIES" --quiet)
	[ "$HOST" = 127.0.0.1 ] || args+=(--allow-remote)
	[ "$1" = pier-tls ] && args+=(--tls)
	echo "${args[*]}"
}

FAILED_RUNS=()

# finish_run LABEL RC OUT: stops the server of a run, records why ftpbench
# failed (RC, the errors in OUT.txt), drops an empty OUT.json and shows the
# output.
finish_run() {
	local label=$1 rc=$2 out=$3
	stop_server "$SERVER_PID"
	remove_cgroup
	if [ "$rc" != 0 ]; then
		local why
		why=$(grep -oE '(error|panic|fatal)[: ].*' "$out.txt" | sed 's/[[:space:]]*$//' | sort -u | head -n 3 | tr '\n' ';')
		say "  $label: ftpbench exit status $rc: ${why:-see $out.txt}"
		FAILED_RUNS+=("$label: ftpbench exit status $rc: ${why:-see $out.txt}")
	fi
	[ -s "$out.json" ] || { say "  $label: no results"; rm -f "$out.json"; }
	sed 's/^/    /' "$out.txt" | tee -a "$LOG" >&2
}

run_one() { # server round
	local s=$1 r=$2 out="$PASSDIR/$1-r$2" rc=0
	if [ -n "${SKIP[$s]:-}" ]; then
		return 0
	fi
	if ! start_server "$s" "$r"; then
		say "  $s: could not start: $START_ERR"
		FAILED_RUNS+=("$PASS, $s round $r: could not start: $START_ERR")
		return 0
	fi
	say "  $s (pid $SERVER_PID, $HOST:${PORT[$s]}): ftpbench $(workloads "$s")"
	local cg=()
	[ -n "$SERVER_CG" ] && cg=(--cgroup "$SERVER_CG")
	# shellcheck disable=SC2046
	run_child timeout --signal=INT "$RUN_TIMEOUT" "${CLIENT_PREFIX[@]}" "$BIN/ftpbench" $(bench_args "$s") \
		--pid "$SERVER_PID" "${cg[@]}" --json "$out.json" >"$out.txt" 2>&1 || rc=$?
	finish_run "$PASS, $s round $r" "$rc" "$out"
	# leftovers of an interrupted run
	find "$DATA" -maxdepth 1 -name 'ftpbench-[0-9]*' -exec rm -rf {} + 2>/dev/null || true
}

# ---------------------------------------------------------------- second client
# curl's parallel mode drives the multi-client workloads a second time: one
# event-driven process (no process start per client), every transfer on a
# connection of its own (--parallel-immediate, --parallel-max = the number of
# transfers; checked: each transfer must report its own connections in
# num_connects), passive mode (EPSV, then PASV), no CWD (--ftp-method nocwd).
# logins: N connections that log in and leave (-I on the home folder: USER,
# PASS, PWD, QUIT); retr-many: N downloads of one FILESIZE file; stor-many:
# N uploads of a local FILESIZE file to N new names. The wall time is taken
# around curl; the server's CPU from its cgroup and curl's from its own,
# before and after. One JSON a server and round, in ftpbench's format.
# ftplib (bench/conf/ftplib-clients.py, /usr/bin/python3, standard library
# only), optional third client: N threads, one client each, started at once,
# 256 KiB blocks, PASV; it times itself from the start of the clients to the
# end of the last, and checks every byte count.
CLI_DIR=clientbench                   # in the served folder
CLI_SRC="$DATAROOT/client-upload.bin" # the local file the clients upload

other_wanted() { # is client $1 among --other-clients?
	local c
	for c in "${OTHER_CLIENT_LIST[@]}"; do [ "$c" = "$1" ] && return 0; done
	return 1
}

other_workloads() { # server -> the workloads the other clients drive
	local w ws=()
	for w in logins retr-many stor-many; do
		case ",$(workloads "$1")," in *",$w,"*) ws+=("$w") ;; esac
	done
	echo "${ws[*]}"
}

# curl_one WORKLOAD N: one curl run against the server running now; prints
# its JSON object.
curl_one() {
	local wl=$1 n=$2 cfg="$RUN/curl-$1.cfg" wout="$PASSDIR/curl/$1.w" i
	local base="ftp://$HOST:${PORT[$CUR_SERVER]}" want_conn=2 size
	size=$(stat -c %s "$CLI_SRC")
	{
		printf 'user = "%s:%s"\n' "$BENCH_USER" "$BENCH_PASS"
		for i in $(seq 1 "$n"); do
			case "$wl" in
			logins) printf 'url = "%s/"\noutput = "/dev/null"\n' "$base" ;;
			retr-many) printf 'url = "%s/%s/retr.bin"\noutput = "/dev/null"\n' "$base" "$CLI_DIR" ;;
			stor-many) printf 'url = "%s/%s/up-%d"\nupload-file = "%s"\n' "$base" "$CLI_DIR" "$i" "$CLI_SRC" ;;
			esac
		done
	} >"$cfg"
	local opts=(-sS --no-progress-meter --parallel --parallel-max "$n" --parallel-immediate --ftp-method nocwd
		--connect-timeout "$OTHER_TIMEOUT" --max-time "$OTHER_TIMEOUT" -w '%{exitcode} %{size_download} %{size_upload} %{num_connects}\n')
	[ "$wl" = logins ] && { opts+=(-I); want_conn=1; }
	rm -f "$DATA/$CLI_DIR"/up-*
	local s0 c0 t0 t1 s1 c1 rc=0
	s0=$(cg_cpu_ns "${SERVER_CG:-/nonexistent}")
	c0=$(cg_cpu_ns "${CLIENT_CG:-/nonexistent}")
	t0=$(date +%s.%N)
	# shellcheck disable=SC2016 # expanded by the inner bash
	run_child timeout --signal=INT "$RUN_TIMEOUT" bash -c '
		if [ -n "$1" ]; then echo "$BASHPID" >"$1/cgroup.procs" || exit 99; fi
		shift; exec "$@"' _ "$CLIENT_CG" "${CLIENT_PREFIX[@]}" curl "${opts[@]}" -K "$cfg" >"$wout" 2>"$wout.err" || rc=$?
	t1=$(date +%s.%N)
	s1=$(cg_cpu_ns "${SERVER_CG:-/nonexistent}")
	c1=$(cg_cpu_ns "${CLIENT_CG:-/nonexistent}")
	# every transfer: exit code 0, the whole file, its own connections
	# shellcheck disable=SC1003 # tr's set: newline, double quote, backslash
	awk -v wl="$wl" -v n="$n" -v size="$size" -v want="$want_conn" -v rc="$rc" \
		-v t0="$t0" -v t1="$t1" -v scpu="$(( s1 - s0 ))" -v ccpu="$(( c1 - c0 ))" \
		-v cg="${SERVER_CG:+1}" -v err="$(head -c 300 "$wout.err" | tr '\n"\\' '   ' | tr -d '\000-\037')" '
		BEGIN { t = t1 - t0 }
		{ done++; conns += $4
		  ok = ($1 == 0)
		  if (wl == "retr-many") { ok = ok && $2 == size; bytes += $2 }
		  if (wl == "stor-many") { ok = ok && $3 == size; bytes += $3 }
		  if (ok && $4 < want) reused++
		  if (!ok) { errors++; if (first == "") first = "curl exit code " $1 ", " $2 " bytes down, " $3 " up" } }
		END {
		  if (done < n) { errors += n - done; if (first == "") first = (n - done) " transfers did not report (curl exit status " rc ")" }
		  if (reused > 0) { errors += reused; first = reused " transfers reused a connection" (first == "" ? "" : "; " first) }
		  if (first == "" && rc != 0) { errors++; first = "curl exit status " rc }
		  if (first != "" && err != "") first = first ": " err
		  # as ftpbench: the time all the clients took (its many workloads too)
		  unit = "s"; value = t
		  printf "{\"workload\":\"%s\",\"clients\":%d,\"bytes\":%.0f,\"seconds\":%.6f,\"value\":%.6f,\"unit\":\"%s\",", wl, n, bytes, t, value, unit
		  printf "\"errors\":%d,\"connections\":%d,\"client_cpu_seconds\":%.6f", errors, conns, ccpu / 1e9
		  if (cg) printf ",\"server_cpu_seconds\":%.6f", scpu / 1e9
		  if (first != "") printf ",\"error\":\"%s\"", first
		  printf "}"
		}' "$wout"
	rm -f "$DATA/$CLI_DIR"/up-*
	[ "$rc" = 0 ]
}

# ftplib_one WORKLOAD N: one run of N ftplib clients against the server
# running now; prints its JSON object.
ftplib_one() {
	local wl=$1 n=$2 wout="$PASSDIR/ftplib/$1.w" path size rc=0
	size=$(stat -c %s "$CLI_SRC")
	case "$wl" in
	logins) path=. ;;
	retr-many) path="$CLI_DIR/retr.bin" ;;
	stor-many) path="$CLI_DIR/up" ;;
	esac
	rm -f "$DATA/$CLI_DIR"/up-*
	local s0 c0 s1 c1
	s0=$(cg_cpu_ns "${SERVER_CG:-/nonexistent}")
	c0=$(cg_cpu_ns "${CLIENT_CG:-/nonexistent}")
	# shellcheck disable=SC2016 # expanded by the inner bash
	run_child timeout --signal=INT "$RUN_TIMEOUT" bash -c '
		if [ -n "$1" ]; then echo "$BASHPID" >"$1/cgroup.procs" || exit 99; fi
		shift; exec "$@"' _ "$CLIENT_CG" "${CLIENT_PREFIX[@]}" /usr/bin/python3 "$CONF/ftplib-clients.py" \
		"$HOST" "${PORT[$CUR_SERVER]}" "$BENCH_USER" "$BENCH_PASS" "$wl" "$n" "$path" "$size" "$CLI_SRC" "$OTHER_TIMEOUT" \
		>"$wout" 2>"$wout.err" || rc=$?
	s1=$(cg_cpu_ns "${SERVER_CG:-/nonexistent}")
	c1=$(cg_cpu_ns "${CLIENT_CG:-/nonexistent}")
	rm -f "$DATA/$CLI_DIR"/up-*
	local row
	row=$(grep '^{' "$wout" | tail -n 1)
	if [ "$rc" != 0 ] || [ -z "$row" ]; then
		# shellcheck disable=SC1003 # tr's set: newline, double quote, backslash
		printf '{"workload":"%s","clients":%d,"errors":%d,"error":"ftplib-clients.py exit status %s: %s"}' \
			"$wl" "$n" "$n" "$rc" "$(tail -c 300 "$wout.err" | tr '\n"\\' '   ' | tr -d '\000-\037')"
		return 1
	fi
	printf '%s,"client_cpu_seconds":%.6f' "${row%\}}" "$(awk -v c="$(( c1 - c0 ))" 'BEGIN { printf "%.6f", c / 1e9 }')"
	if [ -n "$SERVER_CG" ]; then
		printf ',"server_cpu_seconds":%s' "$(awk -v c="$(( s1 - s0 ))" 'BEGIN { printf "%.6f", c / 1e9 }')"
	fi
	printf '}'
	case "$row" in *'"error"'*) return 1 ;; esac
}

# run_other CLIENT SERVER ROUND: the server started afresh, the client's
# workloads against it one after another; PASSDIR/CLIENT/SERVER-rROUND.json
# (and .txt), in ftpbench's format.
run_other() {
	local c=$1 s=$2 r=$3 wls n=$CLIENTS out="$PASSDIR/$1/$2-r$3" wl rows=() line
	[ -z "${SKIP[$s]:-}" ] || return 0
	wls=$(other_workloads "$s")
	[ -n "$wls" ] || return 0
	[ "$n" -le "$CURL_MAX" ] || n=$CURL_MAX
	mkdir -p "$PASSDIR/$c"
	if ! start_server "$s" "$r-$c"; then
		say "  $s: could not start: $START_ERR"
		FAILED_RUNS+=("$PASS, $s round $r ($c): could not start: $START_ERR")
		return 0
	fi
	CUR_SERVER=$s
	say "  $s (pid $SERVER_PID, $HOST:${PORT[$s]}): $c, $n clients at once: $wls"
	: >"$out.txt"
	for wl in $wls; do
		case "$c" in
		curl) line=$(curl_one "$wl" "$n") || true ;;
		ftplib) line=$(ftplib_one "$wl" "$n") || true ;;
		esac
		case "$line" in
		'{'*'}') ;;
		*) line="{\"workload\":\"$wl\",\"clients\":$n,\"errors\":$n,\"error\":\"$c gave no result\"}" ;;
		esac
		rows+=("$line")
		printf '%s\n' "$line" >>"$out.txt"
	done
	stop_server "$SERVER_PID"
	remove_cgroup
	client_rows_done "$out" "$PASS, $s round $r ($c)" "${rows[@]}" # lib.sh
}

# run_idle: pier alone, IDLE clients logged in at once and left idle for
# IDLE_SETTLE, its memory sampled before, right after the logins and at
# the end (the target: no errors, under 8000 bytes a session over the empty
# server once settled). The chart reads pier.idle.json.
run_idle() {
	local out="$RESULTS/pier.idle" rc=0
	if ! start_server pier idle; then
		say "  pier: could not start: $START_ERR"
		FAILED_RUNS+=("pier, $IDLE idle clients: could not start: $START_ERR")
		return 0
	fi
	say "  pier (pid $SERVER_PID, port ${PORT[pier]}): ftpbench logins -n $IDLE"
	run_child timeout --signal=INT "$RUN_TIMEOUT" "$BIN/ftpbench" -H 127.0.0.1 -P "${PORT[pier]}" -u "$BENCH_USER" \
		-p "$BENCH_PASS" -b logins -n "$IDLE" --settle "$IDLE_SETTLE" --quiet --pid "$SERVER_PID" --json "$out.json" >"$out.txt" 2>&1 || rc=$?
	finish_run "pier, $IDLE idle clients" "$rc" "$out"
}

# ---------------------------------------------------------------- main
say "results in $RESULTS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
CRYPT_COST=$(/usr/bin/python3 -W ignore -c '
import crypt, time
h = crypt.crypt("bench", crypt.mksalt(crypt.METHOD_SHA512))
t = time.perf_counter()
for i in range(100): crypt.crypt("bench", h)
print("%.1f ms" % ((time.perf_counter() - t) * 10))' 2>/dev/null || echo "about 1 ms")
ulimit -Hn "$NOFILE" 2>/dev/null || true
ulimit -Sn "$NOFILE" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
say "open-file limit $(ulimit -Sn) (inherited by every server and ftpbench)"
command -v go >/dev/null || die "go is not on PATH"
install_peers
build_fclairamb
build_pier
versions
setup_user
setup_data
pause_page_reporting
command -v setpriv >/dev/null || die "setpriv (util-linux) is missing"

for s in "${SERVER_LIST[@]}"; do
	if [ -n "${SKIP[$s]:-}" ]; then
		say "SKIPPED $s: ${SKIP[$s]}"
	fi
done

# the server folder the other clients read and write, and the local file they upload
CURL_VERSION="" FTPLIB_VERSION=""
if other_wanted curl; then
	command -v curl >/dev/null || die "curl is missing (apt-get install curl, or --other-clients without curl)"
	CURL_VERSION=$(curl --version | awk 'NR == 1 { print $1, $2 }') || CURL_VERSION=curl
fi
if other_wanted ftplib; then
	FTPLIB_VERSION="Python $(/usr/bin/python3 -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '?') ftplib"
fi
if [ ${#OTHER_CLIENT_LIST[@]} -gt 0 ]; then
	mkdir -p "$DATA/$CLI_DIR"
	rm -f "$DATA/$CLI_DIR"/up-*
	size_bytes=$(numfmt --from=iec "$FILESIZE")
	if [ "$(stat -c %s "$DATA/$CLI_DIR/retr.bin" 2>/dev/null)" != "$size_bytes" ]; then
		head -c "$size_bytes" /dev/urandom >"$DATA/$CLI_DIR/retr.bin"
	fi
	if [ "$(stat -c %s "$CLI_SRC" 2>/dev/null)" != "$size_bytes" ]; then
		head -c "$size_bytes" /dev/urandom >"$CLI_SRC"
	fi
	chown -R "$BENCH_USER:$BENCH_USER" "$DATA/$CLI_DIR"
	make_client_cgroup
fi
for t in "${TOPOLOGY_LIST[@]}"; do
	if [ "$t" = veth ]; then setup_veth; fi
done

START_TIME=$(date +%s)
for t in "${TOPOLOGY_LIST[@]}"; do
	for p in "${PINNINGS[@]}"; do
		set_pass "$t" "$p"
		rounds=$ROUNDS
		[ "$p" = pinned ] && rounds=$PINNED_ROUNDS
		say "pass $PASS: servers on $HOST$([ "$p" = pinned ] && echo ", server on CPU $SERVER_CPUS, client on CPU $CLIENT_CPUS"), $rounds round(s)"
		for r in $(seq 1 "$rounds"); do
			mapfile -t order < <(round_order "$r" "${SERVER_LIST[@]}")
			say "$PASS round $r/$rounds: ${order[*]}"
			if [ "$t" = loopback ]; then
				# what loopback carries with no server (unpinned, the client's own two ends)
				run_child "$BIN/ftpbench" -u "$BENCH_USER" -p "$BENCH_PASS" -b ceiling -n 1 --single-size "$SINGLE" --quiet \
					--json "$PASSDIR/ceiling-r$r.json" >"$PASSDIR/ceiling-r$r.txt" 2>&1 ||
					say "  ceiling: ftpbench failed (see $PASSDIR/ceiling-r$r.txt)"
				sed 's/^/    /' "$PASSDIR/ceiling-r$r.txt" | tee -a "$LOG" >&2
			fi
			for s in "${order[@]}"; do
				run_one "$s" "$r"
				if [ "$r" -le "$OTHER_ROUNDS" ]; then
					for c in "${OTHER_CLIENT_LIST[@]}"; do
						run_other "$c" "$s" "$r"
					done
				fi
			done
		done
	done
done
# the idle clients: loopback, unpinned, results at the top of the results folder
HOST=127.0.0.1 PASS=idle PASSDIR=$RESULTS SERVER_PREFIX=() CLIENT_PREFIX=() NSENTER=()
if [ "$IDLE" -gt 0 ] && wanted pier && [ -z "${SKIP[pier]:-}" ]; then
	say "idle clients: $IDLE (loopback, unpinned)"
	run_idle
fi
teardown_veth
say "passes done in $(( ($(date +%s) - START_TIME + 30) / 60 )) min"

# ---------------------------------------------------------------- report
mkdir -p "$OUT"
say "writing $OUT/benchmarks.md and $OUT/benchmarks.svg"
"$BIN/chart" --results "$RESULTS" --svg "$OUT/benchmarks.svg" --markdown "$RESULTS/tables.md" \
	--title "pier vs. its peers: $CLIENTS clients, $ROUNDS round(s), medians" >>"$LOG" 2>&1 ||
	die "chart failed (see $LOG)"
pass_list=""
for t in "${TOPOLOGY_LIST[@]}"; do
	for p in "${PINNINGS[@]}"; do
		rounds=$ROUNDS
		[ "$p" = pinned ] && rounds=$PINNED_ROUNDS
		pass_list="$pass_list${pass_list:+, }$t $p ($rounds round(s))"
	done
done

mem_total=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
# The generated part of the page: bench/chart puts it between the page's
# marker comments and keeps the rest (the hand-written sections).
{
	if [ "$QUICK" = 1 ]; then
		echo "> **Quick run** (\`--quick\`: $ROUNDS round, $CLIENTS clients, small sizes) to check the setup;"
		echo "> not a measurement. Run \`bash bench/compare.sh\` for the real numbers."
		echo
	fi
	echo "Generated by \`bench/compare.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') (results: \`$RESULTS\`)."
	echo "Every server ran on this machine, one at a time, serving the same folder on tmpfs, and was measured"
	echo "by the same client, \`cmd/ftpbench\`$([ ${#OTHER_CLIENT_LIST[@]} -gt 0 ] && echo ", and its multi-client workloads again by clients pier's team did not write ($(IFS=,; echo "${OTHER_CLIENT_LIST[*]}" | sed 's/,/, /g'))");"
	echo "the order of the servers changed from round to round (rotated, and reversed every other round) so"
	echo "that the machine's drift hits all alike. Passes (each a full set of rounds): $pass_list."
	echo
	echo "- **loopback**: client and server on 127.0.0.1."
	echo "- **veth pair**: the clients in a network namespace of their own, made for the run, joined to the"
	echo "  servers' (the root namespace) by a veth pair that carries the only addresses of $VETH_NET: the"
	echo "  servers listen on (and advertise in PASV) $VETH_SERVER, the clients use $VETH_CLIENT. The data path is a"
	echo "  network device, as for every real client. ${VETH_INFO:-}"
	echo "- **unpinned**: client and server may use every CPU; **pinned**: the server and every process it"
	echo "  starts on CPU $SERVER_CPUS (\`taskset -c $SERVER_CPUS\`), the client on CPU $CLIENT_CPUS (\`taskset -c $CLIENT_CPUS\`), so that a server is"
	echo "  not ranked by how much CPU it leaves to the client. The Go servers then see one CPU (GOMAXPROCS 1)."
	echo
	echo "![pier vs. its peers](benchmarks.svg)"
	echo
	echo "The chart shows the first pass ($(echo "$pass_list" | cut -d, -f1 | sed 's/ (.*//')); the tables below show every pass."
	echo
	echo "## Machine"
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| CPUs (\`nproc\`) | $(nproc) |"
	echo "| CPU model | ${cpu_model:-unknown} |"
	echo "| Memory | $mem_total |"
	echo "| Kernel | $(uname -sr) |"
	echo "| OS | $(. /etc/os-release && echo "$PRETTY_NAME") |"
	echo "| Go | $(go version | awk '{ print $3 }') |"
	echo "| net.core.somaxconn | $(cat /proc/sys/net/core/somaxconn) |"
	echo "| Open-file limit | $(ulimit -Sn) |"
	echo "| Memory given back to the host | $PR_STATE |"
	echo "| Load average before | $LOAD_BEFORE |"
	echo "| Load average after | $(cut -d' ' -f1-3 /proc/loadavg) |"
	[ -n "$VETH_INFO" ] && echo "| veth pair | $VETH_INFO |"
	[ -n "$CURL_VERSION" ] && echo "| Second client | $CURL_VERSION |"
	[ -n "$FTPLIB_VERSION" ] && echo "| Third client | $FTPLIB_VERSION |"
	echo
	echo "## Servers"
	echo
	echo "| Server | Version | Port | Password check | Started as |"
	echo "|---|---|---|---|---|"
	for s in "${SERVER_LIST[@]}"; do
		case "$s" in
		vsftpd | proftpd | pure-ftpd) pw="PAM pam_unix, sha512-crypt" ;;
		*) pw="plain text, in memory" ;;
		esac
		if [ -n "${SKIP[$s]:-}" ]; then
			echo "| $s | ${VERSION[$s]:-?} | ${PORT[$s]} | $pw | **not run**: ${SKIP[$s]} |"
		else
			echo "| $s | ${VERSION[$s]:-?} | ${PORT[$s]} | $pw | \`${CMDLINE[$s]:-(not started)}\` |"
		fi
	done
	echo
	echo "Configuration files: \`bench/conf/\` (placeholders filled in by the script). All: listening on one"
	echo "address only (ADDR: 127.0.0.1, or $VETH_SERVER on the veth pair; pinned passes prefix the command with"
	echo "\`taskset -c $SERVER_CPUS\`), passive ports $PASV_MIN-$PASV_MAX, no TLS (except pier-tls), connection limits $MAXCLIENTS or none,"
	echo "every session running as the user \`bench\`, open-file limit $(ulimit -Sn)."
	echo
	echo "## Commands"
	echo
	echo '```sh'
	echo "bash bench/compare.sh$([ "$QUICK" = 1 ] && echo " --quick") --rounds $ROUNDS --pinned-rounds $PINNED_ROUNDS --other-rounds $OTHER_ROUNDS --other-timeout $OTHER_TIMEOUT --clients $CLIENTS --filesize $FILESIZE --single-size $SINGLE --entries $ENTRIES --idle $IDLE --topology $TOPOLOGIES --pinning $PINNING --other-clients $OTHER_CLIENTS"
	echo "# each pass: ADDR is 127.0.0.1 (loopback) or $VETH_SERVER (veth pair); CLIENT is nothing on loopback,"
	echo "# nsenter --net=/var/run/netns/$NETNS on the veth pair, followed by taskset -c $CLIENT_CPUS when pinned;"
	echo "# the server is started under taskset -c $SERVER_CPUS when pinned."
	echo "# once a round of the loopback passes, no server (loopback ceiling):"
	echo "ftpbench -u bench -p bench -b ceiling -n 1 --single-size $SINGLE --json ceiling-rR.json"
	echo "# against each server in turn:"
	for s in "${SERVER_LIST[@]}"; do
		[ -n "${SKIP[$s]:-}" ] && continue
		echo "CLIENT ftpbench $(bench_args "$s" | sed 's/-H 127.0.0.1/-H ADDR/') [--allow-remote] --pid PID$([ "$CG_USED" = 1 ] && echo " --cgroup CGROUP") --json PASS/$s-rR.json"
	done
	n_curl=$CLIENTS
	[ "$n_curl" -le "$CURL_MAX" ] || n_curl=$CURL_MAX
	if other_wanted curl; then
		echo "# then, the server started afresh, curl (PASS/curl/SERVER-rR.json); CONFIG holds user = \"bench:bench\" and"
		echo "# $n_curl times: url = \"ftp://ADDR:PORT/\" and output = \"/dev/null\" (logins, with -I),"
		echo "# url = \"ftp://ADDR:PORT/$CLI_DIR/retr.bin\" and output = \"/dev/null\" (retr-many), or"
		echo "# url = \"ftp://ADDR:PORT/$CLI_DIR/up-I\" and upload-file = \"$CLI_SRC\" (stor-many, I = 1..$n_curl):"
		echo "CLIENT curl -sS --no-progress-meter --parallel --parallel-max $n_curl --parallel-immediate --ftp-method nocwd --connect-timeout $OTHER_TIMEOUT --max-time $OTHER_TIMEOUT -w '%{exitcode} %{size_download} %{size_upload} %{num_connects}\\n' -K CONFIG"
	fi
	if other_wanted ftplib; then
		echo "# then, the server started afresh, ftplib (PASS/ftplib/SERVER-rR.json); PATH: . (logins), $CLI_DIR/retr.bin"
		echo "# (retr-many), $CLI_DIR/up (stor-many: up-1 .. up-$n_curl); SIZE: $FILESIZE in bytes"
		echo "CLIENT /usr/bin/python3 bench/conf/ftplib-clients.py ADDR PORT bench bench WORKLOAD $n_curl PATH SIZE $CLI_SRC $OTHER_TIMEOUT"
	fi
	if [ "$IDLE" -gt 0 ] && wanted pier; then
		echo "# after the rounds, pier alone:"
		echo "ftpbench -H 127.0.0.1 -P ${PORT[pier]} -u bench -p bench -b logins -n $IDLE --quiet --pid PID --json pier.idle.json"
	fi
	echo '```'
	echo
	cat "$RESULTS/tables.md"
	echo
	echo "## Notes"
	echo
	echo "- Throughput (MB/s, 10^6 bytes a second): higher is better. Times (s): lower is better."
	echo "  Memory: the proportional set size (PSS) of the server process and all its descendants, sampled"
	echo "  by ftpbench right after the logins workload, with the $CLIENTS clients still logged in; lower is better."
	echo "- The ratio is pier's median divided by the peer's: above 1 means pier is faster for throughput,"
	echo "  below 1 means pier is faster (or smaller) for times and memory. ✓ marks where pier is better."
	echo "- Password checks: vsftpd, proftpd and pure-ftpd check the system user \`bench\` through PAM"
	echo "  (pam_unix, one sha512-crypt hash with 5000 rounds: $CRYPT_COST of CPU a check here);"
	echo "  pyftpdlib, fclairamb and pier compare a plain-text password from their command line or"
	echo "  configuration. Debian's default yescrypt hash (about 20 ms) would have made the logins"
	echo "  workload measure hashing."
	echo "- vsftpd implements no MLSD, so it has no mlsd row. vsftpd's listen backlog (32) is compiled in;"
	echo "  pure-ftpd's follows its client limit; proftpd's is set to its maximum, TCPBackLog 255; pyftpdlib's with"
	echo "  backlog=4096 (bench/conf/pyftpdlib-serve.py, as its command line cannot set it); the Go servers"
	echo "  take the kernel's somaxconn. Connections refused by a full backlog are retried by ftpbench"
	echo "  (up to 3 times, counted in failed_attempts in the JSON)."
	echo "- The forking servers (vsftpd, proftpd, pure-ftpd) use one or two processes per session, so their"
	echo "  memory grows with the clients; the others are single processes."
	if [ "$CG_USED" = 1 ]; then
		echo "- CPU time: the server's from its cgroup (every process in it, exited ones included), the client's"
		echo "  from ftpbench's own usage, both read before and after each timed part. For vsftpd, proftpd and"
		echo "  pure-ftpd, the logins row includes $CLIENTS password hashes (about $CRYPT_COST each) and the processes"
		echo "  they start for each session."
	fi
	echo "- Server CPU per unit of work: the server's CPU time during the timed part (from its cgroup) divided by"
	echo "  the GiB the workload moved (2^30 bytes: for one client the file, for N clients N files) or by its"
	echo "  clients (logins, QUITs; a listing has one client). ftpbench's client CPU time is in the detailed CPU tables."
	echo "- veth pair: a namespace made by the script (\`ip netns add\`, a veth pair, $VETH_SERVER/30 and $VETH_CLIENT/30,"
	echo "  lo up inside) and removed at the end; the clients enter it with \`nsenter --net\` (\`ip netns exec\` would"
	echo "  remount /sys and hide the cgroups ftpbench reads). MTU and offloads are the veth defaults (see Machine)."
	echo "  The loopback ceiling is measured on the loopback passes only."
	echo "- Pinned passes: \`taskset\` for the server (inherited by every process it forks) and the client. The"
	echo "  kernel's softirq work for the packets is not pinned and is counted for whichever process it interrupts."
	if [ ${#OTHER_CLIENT_LIST[@]} -gt 0 ]; then
		echo "- Other clients: the multi-client workloads with the same number of clients as ftpbench's, at most $CURL_MAX"
		echo "  (curl's limit), each against the server started afresh after ftpbench's run, in the first $OTHER_ROUNDS round(s)"
		echo "  of every pass; a workload gets $OTHER_TIMEOUT s at most, clients not served by then count as errors"
		echo "  (a server that cannot serve them all in that time shows as failed). What is timed differs:"
		echo "  ftpbench's retr-many and stor-many time only the transfers, on clients it logged in beforehand"
		echo "  (reading with 64 KiB buffers); curl and ftplib time whole sessions (connect, log in, transfer, QUIT),"
		echo "  as a real client does, so a server whose logins are dear (a process and a PAM check a session) pays"
		echo "  for them there. A ranking that differs between the clients is listed under each client's tables."
	fi
	if other_wanted curl; then
		echo "- curl ($CURL_VERSION): one process in parallel mode (\`--parallel --parallel-immediate\`, at most $CURL_MAX at"
		echo "  once), every transfer on connections of its own (checked: each transfer reports a new control"
		echo "  connection, and a data connection for the transfers, in \`num_connects\`; a transfer that reused one"
		echo "  counts as an error), passive mode (EPSV, then PASV), no CWD. Its logins are N connections that log in"
		echo "  and leave at once (\`-I\` on the home folder: USER, PASS, PWD, QUIT), timed until the last has left;"
		echo "  ftpbench's are timed until the last has logged in. retr-many: N downloads of one $FILESIZE file;"
		echo "  stor-many: N uploads of a local $FILESIZE file to N new names (deleted, untimed, after the run)."
		echo "  Timed by the script around curl (wall clock, curl's start included); every transfer's exit code and"
		echo "  byte count is checked. The server's CPU from its cgroup, curl's from a cgroup of its own."
	fi
	if other_wanted ftplib; then
		echo "- ftplib ($FTPLIB_VERSION, \`bench/conf/ftplib-clients.py\`): one Python thread per client, all released"
		echo "  at once by a barrier, each with its own connections; PASV; reads and writes 256 KiB blocks; logins: log in"
		echo "  and QUIT. It times itself from the barrier to the end of the last client and checks every byte count."
		echo "  Python (one CPU at a time for the clients, the GIL) can be the bottleneck: that is part of what it shows."
	fi
	echo "- Noise: $(nproc) CPUs shared by the client and the server; the load average is shown above."
	echo "  Single-transfer throughputs vary by 10-30% from run to run; compare ratios from one run, not"
	echo "  absolute numbers from different runs. The table counts only runs without errors; runs with"
	echo "  errors are listed below."
	if [ ${#FAILED_RUNS[@]} -gt 0 ]; then
		echo
		echo "### Runs with errors"
		echo
		for f in "${FAILED_RUNS[@]}"; do echo "- $f"; done
	fi
	skipped=0
	for s in "${SERVER_LIST[@]}"; do [ -n "${SKIP[$s]:-}" ] && skipped=1; done
	if [ "$skipped" = 1 ]; then
		echo
		echo "### Servers not run"
		echo
		for s in "${SERVER_LIST[@]}"; do
			[ -n "${SKIP[$s]:-}" ] && echo "- $s: ${SKIP[$s]}"
		done
	fi
} >"$RESULTS/generated.md"
"$BIN/chart" --page "$OUT/benchmarks.md" --part "$RESULTS/generated.md" >>"$LOG" 2>&1 ||
	die "chart --page $OUT/benchmarks.md failed (see $LOG); the generated part is $RESULTS/generated.md"
say "done: $OUT/benchmarks.md, $OUT/benchmarks.svg (raw results in $RESULTS)"

#!/usr/bin/env bash
# bench/compare.sh: side-by-side benchmark of pier against vsftpd, proftpd,
# pure-ftpd, pyftpdlib and fclairamb/ftpserver on this machine, with
# cmd/ftpbench. Run by hand, as root, from anywhere in the repository:
#
#   bash bench/compare.sh            # full: 3 rounds, 300 clients, 10M files
#   bash bench/compare.sh --quick    # check the setup: 1 round, 50 clients
#
# It installs the peers (Debian packages, fclairamb/ftpserver built from the Go
# module proxy), creates the system user "bench", starts each server in turn on
# loopback, runs ftpbench against it, stops it, alternates the order from round
# to round, and writes docs/benchmarks.md and docs/benchmarks.svg (medians and
# the ratio pier/peer). See bench/README.md for what it does and why.
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
                     500; 0: skip)
  --servers LIST     comma list among vsftpd,proftpd,pure-ftpd,pyftpdlib,
                     fclairamb,pier,pier-tls (default: all)
  --out DIR          where benchmarks.md and benchmarks.svg go (default: docs)
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
SERVERS="vsftpd,proftpd,pure-ftpd,pyftpdlib,fclairamb,pier,pier-tls"
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
	--servers) SERVERS="$2"; shift ;;
	--out) OUT="$2"; shift ;;
	--no-install) INSTALL=0 ;;
	--keep-page-reporting) PAGE_REPORTING=keep ;;
	-h | --help) usage; exit 0 ;;
	*) echo "compare.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
if [ "$QUICK" = 1 ]; then
	: "${ROUNDS:=1}" "${CLIENTS:=50}" "${FILESIZE:=1M}" "${SINGLE:=64M}" "${ENTRIES:=1000}" "${IDLE:=500}"
else
	: "${ROUNDS:=3}" "${CLIENTS:=300}" "${FILESIZE:=10M}" "${SINGLE:=1G}" "${ENTRIES:=10000,100000}" "${IDLE:=10000}"
fi
case "$IDLE" in
'' | *[!0-9]*) echo "compare.sh: --idle wants a number of clients, not $IDLE" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
	echo "compare.sh: must run as root (installs packages, creates the user bench, starts servers)" >&2
	exit 1
fi

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONF="$REPO/bench/conf"
: "${OUT:=$REPO/docs}"
BASE="${PIER_BENCH_DIR:-/var/tmp/pier-bench}"
DATAROOT="${PIER_BENCH_DATA:-/dev/shm/pier-bench}"
DATA="$DATAROOT/data"
BIN="$BASE/bin"
PKGS="$BASE/pkgs"
RUN="$BASE/run"
STAMP="$(date -u +%Y%m%d-%H%M%S)"
RESULTS="$BASE/results/$STAMP"
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

declare -A PORT=([vsftpd]=2131 [proftpd]=2132 [pure-ftpd]=2133 [pyftpdlib]=2134
	[fclairamb]=2135 [pier]=2136 [pier-tls]=2137)
declare -A VERSION=()
declare -A SKIP=()         # server -> why it cannot run here
declare -A CMDLINE=()      # server -> how it was started
CREATED_PAM=()
SERVER_PID=""

mkdir -p "$BASE" "$BIN" "$PKGS" "$RUN" "$RESULTS"
: >"$LOG"
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG" >&2; }
die() { say "FATAL: $*"; exit 1; }

IFS=, read -r -a SERVER_LIST <<<"$SERVERS"
for s in "${SERVER_LIST[@]}"; do
	[ -n "${PORT[$s]:-}" ] || die "unknown server '$s' in --servers"
done

# ---------------------------------------------------------------- memory
# In a virtual machine with free page reporting (virtio-balloon), the guest
# hands freed memory back to the host, and the next use of those pages
# faults them in again on the host: a 1 GiB upload onto tmpfs then ran at
# 500-900 MB/s in one run out of three instead of 2,000-2,300 (perf: 70 % of
# the server's time in the kernel's memcpy into fresh tmpfs pages, 8 % in
# the fast runs), whichever server ran. Pausing the reporting for the run
# (its order raised above the largest page order) and touching a few GiB
# once takes that noise away for every server alike; it is restored on exit.
PR_ORDER_FILE=/sys/module/page_reporting/parameters/page_reporting_order
PR_SAVED=""
PR_STATE="no free page reporting"

pause_page_reporting() {
	[ -r "$PR_ORDER_FILE" ] || return 0
	local was
	was=$(cat "$PR_ORDER_FILE")
	if [ "$PAGE_REPORTING" = keep ]; then
		PR_STATE="free page reporting on (order $was; --keep-page-reporting)"
		return 0
	fi
	if ! echo 11 >"$PR_ORDER_FILE" 2>/dev/null; then
		PR_STATE="free page reporting on (order $was; could not pause it)"
		return 0
	fi
	PR_SAVED=$was
	PR_STATE="free page reporting paused for the run (order $was restored after)"
	# Freed pages reported before the pause still fault on the host at
	# their next use: use a few GiB once (4 GiB, or a quarter of the
	# available memory on a smaller machine), so the run starts warm.
	local warm="$DATAROOT/warm-memory" mib
	mib=$(awk '/^MemAvailable/ { m = int($2 / 1024 / 4); print (m < 4096 ? m : 4096) }' /proc/meminfo)
	say "paused free page reporting (order $was -> 11); warming ${mib:-0} MiB of memory"
	head -c "${mib:-0}M" /dev/zero >"$warm" 2>/dev/null || true
	rm -f "$warm"
}

restore_page_reporting() {
	if [ -n "$PR_SAVED" ]; then
		echo "$PR_SAVED" >"$PR_ORDER_FILE" 2>/dev/null || true
		PR_SAVED=""
	fi
}

# ---------------------------------------------------------------- cleanup
# Only processes this script started are stopped: the PID it launched and
# that PID's descendants (the forking servers' session processes).
descendants() {
	local parent=$1 pid ppid stat
	for stat in /proc/[0-9]*/stat; do
		pid=${stat#/proc/}; pid=${pid%/stat}
		ppid=$(awk '{ sub(/^.*\) /, ""); print $2 }' "$stat" 2>/dev/null) || continue
		if [ "$ppid" = "$parent" ]; then
			echo "$pid"
			descendants "$pid"
		fi
	done
}

stop_server() {
	local pid=$1 kids i
	[ -n "$pid" ] || return 0
	kids=$(descendants "$pid" | tr '\n' ' ')
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for i in $kids; do
		kill -KILL "$i" 2>/dev/null || true
	done
	SERVER_PID=""
}

# Each server runs in a cgroup of its own, so that ftpbench (--cgroup) can
# measure the CPU time it uses, forked session processes included: cgroup v2
# (cpu.stat) or v1's cpuacct controller, whichever this machine mounts.
CG_ROOT=""
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	CG_ROOT=/sys/fs/cgroup
elif [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
	CG_ROOT=/sys/fs/cgroup/cpuacct
fi
SERVER_CG=""
CG_USED=0

make_cgroup() { # server round -> sets SERVER_CG (empty if none can be made)
	SERVER_CG=""
	[ -n "$CG_ROOT" ] || return 0
	# a fresh name each time: a cgroup that could not be removed is never reused
	local cg="$CG_ROOT/pier-bench-$1-$$-r$2"
	if mkdir "$cg" 2>/dev/null && [ -w "$cg/cgroup.procs" ]; then
		SERVER_CG=$cg
	else
		rmdir "$cg" 2>/dev/null || true
	fi
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

# kill_cgroup ends what is left in the server's cgroup: processes the
# server started (sessions reparented away from it, for one) that
# stop_server's list of descendants missed.
kill_cgroup() {
	local i pids
	[ -n "$SERVER_CG" ] || return 0
	for i in $(seq 20); do
		pids=$(cat "$SERVER_CG/cgroup.procs" 2>/dev/null) || return 0
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		sleep 0.1
	done
}

remove_cgroup() {
	local i
	[ -n "$SERVER_CG" ] || return 0
	kill_cgroup
	for i in $(seq 20); do
		rmdir "$SERVER_CG" 2>/dev/null && break
		sleep 0.1
	done
	[ -d "$SERVER_CG" ] && say "  warning: could not remove $SERVER_CG"
	SERVER_CG=""
}

cleanup() {
	local f
	stop_server "$SERVER_PID"
	remove_cgroup
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
		say "apt-get: python3-pyftpdlib, openssl, util-linux (setpriv), iproute2 (ss), where missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >>"$LOG" 2>&1 || say "apt-get update failed (continuing with the cached lists)"
		local p missing=""
		for p in python3-pyftpdlib openssl util-linux iproute2; do
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

fill() { # template -> stdout with placeholders filled in
	sed -e "s|@PORT@|$2|g" -e "s|@DATA@|$DATA|g" -e "s|@RUN@|$RUN|g" \
		-e "s|@PASV_MIN@|$PASV_MIN|g" -e "s|@PASV_MAX@|$PASV_MAX|g" \
		-e "s|@MAXCLIENTS@|$MAXCLIENTS|g" -e "s|@PAM_SERVICE@|$PAM_SERVICE|g" "$1"
}

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
greeting() { # port -> the first line the server sends, if any
	timeout 6 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		IFS= read -r -t 5 line <&3; printf "%s" "$line"; printf "QUIT\r\n" >&3' _ "$1" 2>/dev/null || true
}

start_server() { # name round
	local s=$1 port=${PORT[$1]} logf="$RESULTS/$1-r$2.server.log" cmd=()
	local asbench=(setpriv --reuid="$BENCH_USER" --regid="$BENCH_USER" --init-groups)
	case "$s" in
	vsftpd)
		fill "$CONF/vsftpd.conf" "$port" >"$RUN/vsftpd.conf"
		cmd=("$PKGS/vsftpd/usr/sbin/vsftpd" "$RUN/vsftpd.conf") ;;
	proftpd)
		fill "$CONF/proftpd.conf" "$port" >"$RUN/proftpd.conf"
		cmd=("$PKGS/proftpd/usr/sbin/proftpd" --nodaemon -c "$RUN/proftpd.conf") ;;
	pure-ftpd)
		local flags
		flags=$(fill "$CONF/pure-ftpd.flags" "$port" | grep -v '^[[:space:]]*#' | tr '\n' ' ')
		# shellcheck disable=SC2206
		cmd=("$PKGS/pure-ftpd/usr/sbin/pure-ftpd" $flags) ;;
	pyftpdlib)
		cmd=("${asbench[@]}" /usr/bin/python3 "$CONF/pyftpdlib-serve.py" 127.0.0.1 "$port" "$DATA" "$PASV_MIN" "$PASV_MAX") ;;
	fclairamb)
		fill "$CONF/fclairamb-ftpserver.json" "$port" >"$RUN/fclairamb-ftpserver.json"
		chmod 644 "$RUN/fclairamb-ftpserver.json"
		cmd=("${asbench[@]}" "$BIN/fclairamb-ftpserver-$FCL_VERSION" -conf "$RUN/fclairamb-ftpserver.json") ;;
	pier)
		cmd=("${asbench[@]}" "$BIN/pier" -i 127.0.0.1 -p "$port" -d "$DATA" -u "$BENCH_USER" -P "$BENCH_PASS" -w
			--max-cons 0 -r "$PASV_MIN-$PASV_MAX") ;;
	pier-tls)
		cmd=("${asbench[@]}" "$BIN/pier" -i 127.0.0.1 -p "$port" -d "$DATA" -u "$BENCH_USER" -P "$BENCH_PASS" -w
			--max-cons 0 -r "$PASV_MIN-$PASV_MAX" --tls-self-signed) ;;
	esac
	CMDLINE[$s]="${cmd[*]}"
	if ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
		START_ERR="port $port is already in use"
		return 1
	fi
	# standard input: a file too, as vsftpd writes its "500 OOPS" errors to fd 0
	: >"$logf.fd0"
	make_cgroup "$s" "$2"
	(
		if [ -n "$SERVER_CG" ]; then echo "$BASHPID" 2>/dev/null >"$SERVER_CG/cgroup.procs" || true; fi
		cd "$DATA" && exec "${cmd[@]}"
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
	local args=(-H 127.0.0.1 -P "${PORT[$1]}" -u "$BENCH_USER" -p "$BENCH_PASS" -b "$(workloads "$1")"
		-n "$CLIENTS" -s "$FILESIZE" --single-size "$SINGLE" --entries "$ENTRIES" --quiet)
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
	local s=$1 r=$2 out="$RESULTS/$1-r$2" rc=0
	if [ -n "${SKIP[$s]:-}" ]; then
		return 0
	fi
	if ! start_server "$s" "$r"; then
		say "  $s: could not start: $START_ERR"
		FAILED_RUNS+=("$s round $r: could not start: $START_ERR")
		return 0
	fi
	say "  $s (pid $SERVER_PID, port ${PORT[$s]}): ftpbench $(workloads "$s")"
	local cg=()
	[ -n "$SERVER_CG" ] && cg=(--cgroup "$SERVER_CG")
	# shellcheck disable=SC2046
	timeout --signal=INT "$RUN_TIMEOUT" "$BIN/ftpbench" $(bench_args "$s") --pid "$SERVER_PID" "${cg[@]}" \
		--json "$out.json" >"$out.txt" 2>&1 || rc=$?
	finish_run "$s round $r" "$rc" "$out"
	# leftovers of an interrupted run
	find "$DATA" -maxdepth 1 -name 'ftpbench-[0-9]*' -exec rm -rf {} + 2>/dev/null || true
}

# run_idle: pier alone, IDLE clients logged in at once and left idle, its
# memory sampled (the target: no errors, under 150 MB). The chart reads
# pier.idle.json.
run_idle() {
	local out="$RESULTS/pier.idle" rc=0
	if ! start_server pier idle; then
		say "  pier: could not start: $START_ERR"
		FAILED_RUNS+=("pier, $IDLE idle clients: could not start: $START_ERR")
		return 0
	fi
	say "  pier (pid $SERVER_PID, port ${PORT[pier]}): ftpbench logins -n $IDLE"
	timeout --signal=INT "$RUN_TIMEOUT" "$BIN/ftpbench" -H 127.0.0.1 -P "${PORT[pier]}" -u "$BENCH_USER" \
		-p "$BENCH_PASS" -b logins -n "$IDLE" --quiet --pid "$SERVER_PID" --json "$out.json" >"$out.txt" 2>&1 || rc=$?
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

n=${#SERVER_LIST[@]}
for r in $(seq 1 "$ROUNDS"); do
	# rotate (and reverse on even rounds) the order, so that the machine's
	# drift and the position in the round hit every server alike
	order=()
	for i in $(seq 0 $((n - 1))); do
		order+=("${SERVER_LIST[$(((i + r - 1) % n))]}")
	done
	if [ $((r % 2)) = 0 ]; then
		rev=()
		for ((i = n - 1; i >= 0; i--)); do rev+=("${order[$i]}"); done
		order=("${rev[@]}")
	fi
	say "round $r/$ROUNDS: ${order[*]}"
	"$BIN/ftpbench" -u "$BENCH_USER" -p "$BENCH_PASS" -b ceiling -n 1 --single-size "$SINGLE" --quiet \
		--json "$RESULTS/ceiling-r$r.json" >"$RESULTS/ceiling-r$r.txt" 2>&1 ||
		say "  ceiling: ftpbench failed (see $RESULTS/ceiling-r$r.txt)"
	sed 's/^/    /' "$RESULTS/ceiling-r$r.txt" | tee -a "$LOG" >&2
	for s in "${order[@]}"; do
		run_one "$s" "$r"
	done
done
if [ "$IDLE" -gt 0 ] && wanted pier && [ -z "${SKIP[pier]:-}" ]; then
	say "idle clients: $IDLE"
	run_idle
fi

# ---------------------------------------------------------------- report
mkdir -p "$OUT"
say "writing $OUT/benchmarks.md and $OUT/benchmarks.svg"
"$BIN/chart" --results "$RESULTS" --svg "$OUT/benchmarks.svg" --markdown "$RESULTS/tables.md" \
	--title "pier vs. its peers: $CLIENTS clients, $ROUNDS round(s), medians" >>"$LOG" 2>&1 ||
	die "chart failed (see $LOG)"

mem_total=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
	echo "# Benchmarks: pier and its peers side by side"
	echo
	if [ "$QUICK" = 1 ]; then
		echo "> **Quick run** (\`--quick\`: $ROUNDS round, $CLIENTS clients, small sizes) to check the setup;"
		echo "> not a measurement. Run \`bash bench/compare.sh\` for the real numbers."
		echo
	fi
	echo "Generated by \`bench/compare.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') (results: \`$RESULTS\`)."
	echo "Every server ran on this machine, one at a time, on loopback, serving the same folder on tmpfs,"
	echo "and was measured by the same client, \`cmd/ftpbench\`; the order of the servers changed from"
	echo "round to round (rotated, and reversed every other round) so that the machine's drift hits all alike."
	echo
	echo "![pier vs. its peers](benchmarks.svg)"
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
	echo "Configuration files: \`bench/conf/\` (placeholders filled in by the script). All: loopback only,"
	echo "passive ports $PASV_MIN-$PASV_MAX, no TLS (except pier-tls), connection limits $MAXCLIENTS or none,"
	echo "every session running as the user \`bench\`, open-file limit $(ulimit -Sn)."
	echo
	echo "## Commands"
	echo
	echo '```sh'
	echo "bash bench/compare.sh$([ "$QUICK" = 1 ] && echo " --quick") --rounds $ROUNDS --clients $CLIENTS --filesize $FILESIZE --single-size $SINGLE --entries $ENTRIES --idle $IDLE"
	echo "# once a round, no server (loopback ceiling):"
	echo "ftpbench -u bench -p bench -b ceiling -n 1 --single-size $SINGLE --json ceiling-rR.json"
	echo "# against each server in turn:"
	for s in "${SERVER_LIST[@]}"; do
		[ -n "${SKIP[$s]:-}" ] && continue
		echo "ftpbench $(bench_args "$s") --pid PID$([ "$CG_USED" = 1 ] && echo " --cgroup CGROUP") --json $s-rR.json"
	done
	if [ "$IDLE" -gt 0 ] && wanted pier; then
		echo "# after the rounds, pier alone:"
		echo "ftpbench -H 127.0.0.1 -P ${PORT[pier]} -u bench -p bench -b logins -n $IDLE --quiet --pid PID --json pier.idle.json"
	fi
	echo '```'
	echo
	cat "$RESULTS/tables.md"
	echo
	# Hand-written: micro-benchmarks of the hot paths and what changed them.
	if [ -f "$REPO/bench/hotpaths.md" ]; then
		cat "$REPO/bench/hotpaths.md"
		echo
	fi
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
		echo "  pure-ftpd, the logins row includes 300 password hashes (about $CRYPT_COST each) and the processes"
		echo "  they start for each session."
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
} >"$OUT/benchmarks.md"
say "done: $OUT/benchmarks.md, $OUT/benchmarks.svg (raw results in $RESULTS)"

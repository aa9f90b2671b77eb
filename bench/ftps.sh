#!/usr/bin/env bash
# bench/ftps.sh: FTPS (explicit, AUTH TLS) benchmark of pier against vsftpd,
# proftpd and pure-ftpd on this machine, with cmd/ftpbench --tls, and pier
# without TLS as the plain reference. Run by hand, as root:
#
#   bash bench/ftps.sh            # 3 rounds, 1G single transfers, 100 x 10M RETR, 300 logins
#   bash bench/ftps.sh --quick    # check the setup: 1 round, small sizes
#   bash bench/ftps.sh --topology both --pinning both
#                                 # 4 passes: loopback and veth, unpinned and pinned
#
# It needs the peers unpacked by bench/compare.sh (run "bash bench/compare.sh
# --quick --servers vsftpd,proftpd,pure-ftpd,pier" once); it fetches
# proftpd's mod_tls (Debian's proftpd-mod-crypto) itself. It makes an RSA
# 2048 and an ECDSA P-256 self-signed certificate, starts each server in turn
# with the same certificate, TLS 1.2 and 1.3 offered, protected logins and
# data required, and session reuse required where the server can require
# it; runs ftpbench; stops it; starts it afresh and drives the multi-client
# workloads (the logins, retr-many) a second time with curl; and writes a
# markdown summary (medians over the rounds, ranges, the ratio pier-tls /
# best peer, the server's CPU per GiB and per login, curl's tables, where
# curl and ftpbench rank the servers differently, the targets) to stdout and
# to /var/tmp/pier-bench/results-ftps/DATE/ftps.md.
#
# Passes (--topology, --pinning): loopback (client and server on 127.0.0.1)
# and/or the clients in a network namespace of their own joined to the
# servers' by a veth pair (10.203.0.2 -> 10.203.0.1, as bench/compare.sh);
# each unpinned and/or pinned (the server on CPU 0, the clients on CPU 1).
# The defaults (loopback, unpinned) are the run this script always made.
#
# The script holds /var/tmp/pier-bench.lock (flock) while it runs, as the
# other benchmark scripts' users do; --no-lock if the caller holds it.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: bash bench/ftps.sh [--quick] [options]

  --quick            1 round, 64M single transfers, 100 x 1M RETR, 50 logins,
                     listing of 1000 entries (checks the setup; noisy)
  --rounds R         rounds of every unpinned pass (default 3; --quick: 1)
  --pinned-rounds R  rounds of every pinned pass (default: as --rounds)
  --servers LIST     comma list among vsftpd,proftpd,pure-ftpd,pier-tls,pier
                     (default: all; pier is pier without TLS, the reference)
  --cert KIND        rsa, ecdsa or both (default both): the certificate every
                     TLS server uses. With both, the first (RSA) runs every
                     workload and ECDSA runs logins and retr (the handshake
                     cost; transfers resume the session and sign nothing)
  --topology T       loopback (default: client and server on 127.0.0.1),
                     veth (the clients in a network namespace made for the
                     run, reaching the servers over a veth pair, 10.203.0.2
                     -> 10.203.0.1) or both (loopback first)
  --pinning P        off (default: server and client on any CPU), on (the
                     server and every process it starts on CPU 0, the client
                     on CPU 1) or both (every topology unpinned, then pinned)
  --other-clients C  curl (default: the multi-client workloads, logins and
                     retr-many, driven a second time by curl's parallel mode
                     against the server started afresh) or none
  --other-rounds R   curl runs in the first R rounds of every pass (default 1)
  --other-timeout S  the longest one curl workload may take, in seconds
                     (default 60; transfers not done by then count as errors)
  --single-size SIZE single stor/retr size (default 1G; --quick: 64M)
  --many N           clients of retr-many (default 100)
  --filesize SIZE    file each retr-many client downloads (default 10M; --quick: 1M)
  --logins N         clients of the logins workload (default 300; --quick: 50)
  --entries N        listing folder size (default 10000; --quick: 1000)
  --no-install       do not apt-get download proftpd-mod-crypto (use what is there)
  --no-lock          do not take /var/tmp/pier-bench.lock (the caller holds it)
  --keep-page-reporting
                     leave the virtual machine's free page reporting as it is
                     (by default it is paused for the run, as compare.sh does)
  -h, --help         this help

Environment: PIER_BENCH_DIR (default /var/tmp/pier-bench), PIER_BENCH_DATA
(default /dev/shm/pier-bench; the served folder is DATA/data), as compare.sh;
PIER_FTPS_PIER, if set, is a pier binary to run (pier-tls and pier) instead of
the one built from the working tree (to compare a change);
PIER_BENCH_SERVER_CPUS and PIER_BENCH_CLIENT_CPUS (default 0 and 1): the CPUs
of the server and of the client in the pinned passes (taskset -c).
EOF
}

# ---------------------------------------------------------------- options
QUICK=0
ROUNDS=""
PINNED_ROUNDS=""
SERVERS="vsftpd,proftpd,pure-ftpd,pier-tls,pier"
CERT=both
TOPOLOGY=loopback
PINNING=off
OTHER_CLIENTS=curl
OTHER_ROUNDS=1
OTHER_TIMEOUT=60
SINGLE=""
MANY=""
FILESIZE=""
LOGINS=""
ENTRIES=""
INSTALL=1
LOCK=1
PAGE_REPORTING=pause
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--rounds) ROUNDS="$2"; shift ;;
	--pinned-rounds) PINNED_ROUNDS="$2"; shift ;;
	--servers) SERVERS="$2"; shift ;;
	--cert) CERT="$2"; shift ;;
	--topology) TOPOLOGY="$2"; shift ;;
	--pinning) PINNING="$2"; shift ;;
	--other-clients) OTHER_CLIENTS="$2"; shift ;;
	--other-rounds) OTHER_ROUNDS="$2"; shift ;;
	--other-timeout) OTHER_TIMEOUT="$2"; shift ;;
	--single-size) SINGLE="$2"; shift ;;
	--many) MANY="$2"; shift ;;
	--filesize) FILESIZE="$2"; shift ;;
	--logins) LOGINS="$2"; shift ;;
	--entries) ENTRIES="$2"; shift ;;
	--no-install) INSTALL=0 ;;
	--no-lock) LOCK=0 ;;
	--keep-page-reporting) PAGE_REPORTING=keep ;;
	-h | --help) usage; exit 0 ;;
	*) echo "ftps.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
if [ "$QUICK" = 1 ]; then
	: "${ROUNDS:=1}" "${SINGLE:=64M}" "${MANY:=100}" "${FILESIZE:=1M}" "${LOGINS:=50}" "${ENTRIES:=1000}"
else
	: "${ROUNDS:=3}" "${SINGLE:=1G}" "${MANY:=100}" "${FILESIZE:=10M}" "${LOGINS:=300}" "${ENTRIES:=10000}"
fi
: "${PINNED_ROUNDS:=$ROUNDS}"
case "$CERT" in
rsa) CERTS=(rsa) ;;
ecdsa) CERTS=(ecdsa) ;;
both) CERTS=(rsa ecdsa) ;;
*) echo "ftps.sh: --cert wants rsa, ecdsa or both, not $CERT" >&2; exit 2 ;;
esac
case "$TOPOLOGY" in
loopback) TOPOLOGY_LIST=(loopback) ;;
veth) TOPOLOGY_LIST=(veth) ;;
both | loopback,veth) TOPOLOGY_LIST=(loopback veth) ;;
*) echo "ftps.sh: --topology wants loopback, veth or both, not $TOPOLOGY" >&2; exit 2 ;;
esac
case "$PINNING" in
off) PINNINGS=(unpinned) ;;
on) PINNINGS=(pinned) ;;
both) PINNINGS=(unpinned pinned) ;;
*) echo "ftps.sh: --pinning wants off, on or both, not $PINNING" >&2; exit 2 ;;
esac
case "$OTHER_CLIENTS" in
curl | none) ;;
*) echo "ftps.sh: --other-clients wants curl or none, not $OTHER_CLIENTS" >&2; exit 2 ;;
esac
for v in "$ROUNDS" "$PINNED_ROUNDS" "$MANY" "$LOGINS" "$ENTRIES" "$OTHER_ROUNDS" "$OTHER_TIMEOUT"; do
	case "$v" in '' | *[!0-9]*) echo "ftps.sh: not a number: $v" >&2; exit 2 ;; esac
done
[ "$OTHER_TIMEOUT" -gt 0 ] || { echo "ftps.sh: --other-timeout must be positive" >&2; exit 2; }

if [ "$(id -u)" != 0 ]; then
	echo "ftps.sh: must run as root (creates the user bench and PAM files, starts servers)" >&2
	exit 1
fi

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONF="$REPO/bench/conf"
BASE="${PIER_BENCH_DIR:-/var/tmp/pier-bench}"
DATAROOT="${PIER_BENCH_DATA:-/dev/shm/pier-bench}"
DATA="$DATAROOT/data"
PKGS="$BASE/pkgs"          # vsftpd, proftpd, pure-ftpd unpacked by compare.sh
FTPS="$BASE/ftps"          # this script's binaries, mod_tls, configuration
BIN="$FTPS/bin"
RUN="$FTPS/run"
MODTLS="$FTPS/pkgs/proftpd-mod-crypto"
STAMP="$(date -u +%Y%m%d-%H%M%S)"
RESULTS="$BASE/results-ftps/$STAMP"
CERTDIR="$RESULTS/certs"
LOG="$RESULTS/ftps.log"
LOCKFILE=/var/tmp/pier-bench.lock

PASV_MIN=40000
PASV_MAX=44999
MAXCLIENTS=20000
PAM_SERVICE=pier-bench
BENCH_USER=bench
BENCH_PASS=bench
NOFILE=65536
READY_TIMEOUT=30
RUN_TIMEOUT=1800
# The veth topology's namespace and the servers' end of its pair, other
# names than compare.sh's; the same /30 (bench/lib.sh), as both hold the
# benchmark lock and never run at once.
NETNS="pierftps-cli-$$"
VETH="pfveth$$"
CLI_DIR=clientbench        # in the served folder, as compare.sh's
CLI_FILE=ftps-retr.bin     # the file curl's retr-many clients download

declare -A PORT=([vsftpd]=2141 [proftpd]=2142 [pure-ftpd]=2143 [pier-tls]=2144 [pier]=2145)
declare -A VERSION=()
declare -A SKIP=()         # server -> why it cannot run here
declare -A CMDLINE=()      # variant -> how it was started
declare -A NEGOTIATED=()   # variant -> TLS version, cipher, key exchange, signature
declare -A CURL_RESUME=()  # variant -> does curl's data connection resume the TLS session (first pass's probe)
declare -A CURL_RESUME_ALL=() # variant -> the other passes' probes, where they differ
declare -A CURL_PARALLEL=() # PASS|variant -> PROBE_N downloads at once in parallel mode: what happened
CREATED_PAM=()
SERVER_PID=""
CHILD_PID=""               # the client (ftpbench, curl) running now, if any
PIER_EXE=""
# The pass running now (PASS, TOPO, PIN, PASSDIR, HOST, SERVER_PREFIX,
# CLIENT_PREFIX, NSENTER): bench/lib.sh, set_pass (the loopback, unpinned
# pass's folder is RESULTS itself, where this script always wrote).

mkdir -p "$BASE" "$FTPS" "$BIN" "$RUN" "$RESULTS" "$CERTDIR"
: >"$LOG"
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG" >&2; }
die() { say "FATAL: $*"; exit 1; }

IFS=, read -r -a SERVER_LIST <<<"$SERVERS"
for s in "${SERVER_LIST[@]}"; do
	[ -n "${PORT[$s]:-}" ] || die "unknown server '$s' in --servers"
done
wanted() { local s; for s in "${SERVER_LIST[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

if [ "$LOCK" = 1 ]; then
	exec 9>>"$LOCKFILE"
	if ! flock -n 9; then
		say "waiting for $LOCKFILE (another benchmark is running)"
		flock 9
	fi
fi

# ---------------------------------------------------------------- memory, processes, cgroups, veth
# As in compare.sh: bench/lib.sh.
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
make_cgroup() { SERVER_CG=$(cg_make "pier-ftps-$1-$$"); } # label -> SERVER_CG (empty if none can be made)
remove_cgroup() {
	cg_remove "$SERVER_CG"
	SERVER_CG=""
}
# curl runs in a cgroup of its own too, for its CPU time.
CLIENT_CG=""
make_client_cgroup() { CLIENT_CG=$(cg_make "pier-ftps-client-$$"); }
remove_client_cgroup() {
	cg_remove "$CLIENT_CG"
	CLIENT_CG=""
}

# set_pass: bench/lib.sh; the loopback, unpinned pass writes to the top of
# the results, as the script always did.
TOP_PASS=loopback-unpinned

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
trap 'say "interrupted"; exit 130' INT TERM HUP

# ---------------------------------------------------------------- install
install_all() {
	local s exe
	for s in vsftpd proftpd pure-ftpd; do
		wanted "$s" || continue
		exe="$PKGS/$s/usr/sbin/$s"
		if [ ! -x "$exe" ]; then
			SKIP[$s]="$exe missing: run 'bash bench/compare.sh --quick --servers vsftpd,proftpd,pure-ftpd,pier' once to unpack the peers"
		elif ldd "$exe" | grep -q 'not found'; then
			SKIP[$s]="missing libraries: $(ldd "$exe" | awk '/not found/ { printf "%s ", $1 }')"
		else
			VERSION[$s]=$(ls "$BASE/debs/" 2>/dev/null | sed -n "s/^\(${s/proftpd/proftpd-core}\)_\([^_]*\)_.*/\1 \2/p" | tail -n 1)
		fi
	done
	# proftpd's mod_tls is in proftpd-mod-crypto, not proftpd-core: fetched
	# and unpacked here (not installed), like the servers.
	if wanted proftpd && [ -z "${SKIP[proftpd]:-}" ]; then
		local deb
		mkdir -p "$FTPS/debs"
		if [ "$INSTALL" = 1 ] && [ ! -f "$MODTLS/usr/lib/proftpd/mod_tls.so" ]; then
			(cd "$FTPS/debs" && rm -f proftpd-mod-crypto_*.deb && apt-get download proftpd-mod-crypto >>"$LOG" 2>&1) ||
				say "apt-get download proftpd-mod-crypto failed"
		fi
		deb=$(ls "$FTPS/debs/"proftpd-mod-crypto_*.deb 2>/dev/null | tail -n 1 || true)
		if [ ! -f "$MODTLS/usr/lib/proftpd/mod_tls.so" ] && [ -n "$deb" ]; then
			rm -rf "$MODTLS" && mkdir -p "$MODTLS" && dpkg-deb -x "$deb" "$MODTLS"
		fi
		if [ ! -f "$MODTLS/usr/lib/proftpd/mod_tls.so" ]; then
			SKIP[proftpd]="mod_tls missing (apt-get download proftpd-mod-crypto failed)"
		elif ldd "$MODTLS/usr/lib/proftpd/mod_tls.so" | grep -q 'not found'; then
			SKIP[proftpd]="mod_tls.so: missing libraries"
		elif [ -n "$deb" ]; then
			VERSION[proftpd]="${VERSION[proftpd]:-proftpd-core}, mod_tls from proftpd-mod-crypto $(dpkg-deb -f "$deb" Version)"
		fi
	fi
	command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl)"
	command -v setpriv >/dev/null || die "setpriv (util-linux) is missing"
	command -v go >/dev/null || die "go is not on PATH"
	say "building pier and ftpbench from $REPO into $BIN"
	(cd "$REPO" && go build -o "$BIN/pier" ./cmd/pier && go build -o "$BIN/ftpbench" ./cmd/ftpbench) >>"$LOG" 2>&1 ||
		die "go build failed (see $LOG)"
	local v
	v="$("$BIN/pier" --version 2>&1 | head -n 1), commit $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	if [ -n "$(cd "$REPO" && git status --porcelain 2>/dev/null | head -n 1)" ]; then
		v="$v (+ uncommitted changes)"
	fi
	PIER_EXE="$BIN/pier"
	if [ -n "${PIER_FTPS_PIER:-}" ]; then
		[ -x "$PIER_FTPS_PIER" ] || die "PIER_FTPS_PIER=$PIER_FTPS_PIER is not an executable"
		say "running pier from $PIER_FTPS_PIER (PIER_FTPS_PIER)"
		PIER_EXE=$PIER_FTPS_PIER
		v="$("$PIER_EXE" --version 2>&1 | head -n 1), $PIER_FTPS_PIER (PIER_FTPS_PIER)"
	fi
	VERSION[pier]="$v, $(go version | awk '{ print $3 }')"
	VERSION[pier-tls]=${VERSION[pier]}
}

# ---------------------------------------------------------------- certificates
# One RSA 2048 and one ECDSA P-256 self-signed certificate for 127.0.0.1 and
# the veth pair's server address, made with openssl into the run folder
# (curl checks them: --cacert). pier runs as bench: the keys are readable by
# its group.
make_certs() {
	local k san="subjectAltName=IP:127.0.0.1,IP:$VETH_SERVER"
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=127.0.0.1 \
		-addext "$san" -keyout "$CERTDIR/rsa.key" -out "$CERTDIR/rsa.crt" >>"$LOG" 2>&1 ||
		die "openssl: could not make the RSA certificate"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=127.0.0.1 \
		-addext "$san" -keyout "$CERTDIR/ecdsa.key" -out "$CERTDIR/ecdsa.crt" >>"$LOG" 2>&1 ||
		die "openssl: could not make the ECDSA certificate"
	for k in rsa ecdsa; do
		cat "$CERTDIR/$k.key" "$CERTDIR/$k.crt" >"$CERTDIR/$k.pem" # pure-ftpd: key and certificate in one file
		chown "root:$BENCH_USER" "$CERTDIR/$k.key" "$CERTDIR/$k.pem"
		chmod 640 "$CERTDIR/$k.key" "$CERTDIR/$k.pem"
		chmod 644 "$CERTDIR/$k.crt"
	done
	chmod 755 "$CERTDIR" "$RESULTS"
	say "certificates: $CERTDIR/{rsa,ecdsa}.{crt,key,pem}"
}

# ---------------------------------------------------------------- user, PAM, data
# As compare.sh: system user bench, password bench as one sha512-crypt hash
# checked by pam_unix (PAM service pier-bench, and pure-ftpd's compiled-in
# service name pure-ftpd when no such file exists); the files this script
# creates are removed at its end.
setup_user() {
	local hash f
	if ! id "$BENCH_USER" >/dev/null 2>&1; then
		say "creating system user $BENCH_USER (home $DATA, no shell)"
		useradd --system --user-group --home-dir "$DATA" --no-create-home \
			--shell /usr/sbin/nologin "$BENCH_USER"
	else
		usermod --home "$DATA" "$BENCH_USER" >/dev/null 2>&1 || true
	fi
	hash=$(openssl passwd -6 "$BENCH_PASS")
	echo "$BENCH_USER:$hash" | chpasswd -e
	for f in "/etc/pam.d/$PAM_SERVICE" /etc/pam.d/pure-ftpd; do
		if [ -e "$f" ]; then
			if ! grep -q '^# PAM service of bench/compare.sh' "$f"; then
				[ "$f" = /etc/pam.d/pure-ftpd ] || die "$f exists and is not the benchmark's"
				say "note: keeping the existing $f (pure-ftpd's compiled-in PAM service); check it uses pam_unix"
			fi
			continue
		fi
		sed "s/@PAM_SERVICE@/$PAM_SERVICE/g" "$CONF/pam-bench" >"$f"
		CREATED_PAM+=("$f")
	done
}

setup_data() {
	local d="$DATA/ftpbench-list-$ENTRIES" size
	mkdir -p "$DATA" "$RUN/vsftpd-empty"
	chmod 755 "$DATAROOT" "$RUN" "$RUN/vsftpd-empty"
	find "$DATA" -maxdepth 1 -name 'ftpbench-[0-9]*' -exec rm -rf {} + 2>/dev/null || true
	if [ "$(find "$d" -maxdepth 1 -type f 2>/dev/null | wc -l)" != "$ENTRIES" ]; then
		say "making $d ($ENTRIES empty files)"
		rm -rf "$d" && mkdir -p "$d"
		(cd "$d" && seq -f 'f%07g' 1 "$ENTRIES" | xargs touch)
	fi
	if [ "$OTHER_CLIENTS" = curl ]; then
		# the file curl's retr-many clients download
		size=$(numfmt --from=iec "$FILESIZE")
		mkdir -p "$DATA/$CLI_DIR"
		if [ "$(stat -c %s "$DATA/$CLI_DIR/$CLI_FILE" 2>/dev/null)" != "$size" ]; then
			head -c "$size" /dev/urandom >"$DATA/$CLI_DIR/$CLI_FILE"
		fi
	fi
	chown -R "$BENCH_USER:$BENCH_USER" "$DATA"
}

# fill TEMPLATE PORT CERT-KIND: the template with its placeholders filled in,
# on stdout. The TLS templates name 127.0.0.1 as the address to listen on and
# advertise (PASV); it becomes HOST, the pass's (the veth pair's on veth).
fill() {
	local kind=$3 pk=RSA
	[ "$kind" = ecdsa ] && pk=EC
	sed -e "s|@PORT@|$2|g" -e "s|@DATA@|$DATA|g" -e "s|@RUN@|$RUN|g" \
		-e "s|@PASV_MIN@|$PASV_MIN|g" -e "s|@PASV_MAX@|$PASV_MAX|g" \
		-e "s|@MAXCLIENTS@|$MAXCLIENTS|g" -e "s|@PAM_SERVICE@|$PAM_SERVICE|g" \
		-e "s|@CERT@|$CERTDIR/$kind.crt|g" -e "s|@KEY@|$CERTDIR/$kind.key|g" \
		-e "s|@CERTKEY@|$CERTDIR/$kind.pem|g" -e "s|@KIND@|$pk|g" \
		-e "s|@MODPATH@|$MODTLS/usr/lib/proftpd|g" \
		-e "s|@ADDR@|$HOST|g" -e "s|127\.0\.0\.1|$HOST|g" "$1"
}

# ---------------------------------------------------------------- servers
# A variant is SERVER/CERT (vsftpd/rsa, pier-tls/ecdsa...) or pier (plain).
START_ERR=""
greeting() { # port -> the first line the server sends, if any (from the clients' namespace)
	"${NSENTER[@]}" timeout 6 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
		IFS= read -r -t 5 line <&3; printf "%s" "$line"; printf "QUIT\r\n" >&3' _ "$HOST" "$1" 2>/dev/null || true
}

start_server() { # variant round-label
	local v=$1 s=${1%%/*} kind=${1#*/} port label logf cmd=()
	port=${PORT[$s]}
	label=${v//\//-}
	logf="$PASSDIR/$label-r$2.server.log"
	local asbench=(setpriv --reuid="$BENCH_USER" --regid="$BENCH_USER" --init-groups)
	case "$s" in
	vsftpd)
		fill "$CONF/vsftpd-tls.conf" "$port" "$kind" >"$RUN/vsftpd-tls.conf"
		# TLS 1.2 at most: vsftpd 3.0.3 fails transfers over TLS 1.3
		# (see bench/conf/vsftpd-tls-openssl.cnf)
		cmd=(env "OPENSSL_CONF=$CONF/vsftpd-tls-openssl.cnf" "$PKGS/vsftpd/usr/sbin/vsftpd" "$RUN/vsftpd-tls.conf") ;;
	proftpd)
		fill "$CONF/proftpd-tls.conf" "$port" "$kind" >"$RUN/proftpd-tls.conf"
		cmd=("$PKGS/proftpd/usr/sbin/proftpd" --nodaemon -c "$RUN/proftpd-tls.conf") ;;
	pure-ftpd)
		local flags
		flags=$(fill "$CONF/pure-ftpd-tls.flags" "$port" "$kind" | grep -v '^[[:space:]]*#' | tr '\n' ' ')
		# shellcheck disable=SC2206
		cmd=("$PKGS/pure-ftpd/usr/sbin/pure-ftpd" $flags) ;;
	pier-tls)
		cmd=("${asbench[@]}" "$PIER_EXE" -i "$HOST" -p "$port" -d "$DATA" -u "$BENCH_USER" -P "$BENCH_PASS" -w
			--max-cons 0 -r "$PASV_MIN-$PASV_MAX" --tls --certfile "$CERTDIR/$kind.crt" --keyfile "$CERTDIR/$kind.key"
			--tls-control-required --tls-data-required) ;;
	pier)
		cmd=("${asbench[@]}" "$PIER_EXE" -i "$HOST" -p "$port" -d "$DATA" -u "$BENCH_USER" -P "$BENCH_PASS" -w
			--max-cons 0 -r "$PASV_MIN-$PASV_MAX") ;;
	esac
	# as on the page: the address as ADDR (127.0.0.1 or the veth pair's)
	CMDLINE[$v]="${cmd[*]//$HOST/ADDR}"
	if ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
		START_ERR="port $port is already in use"
		return 1
	fi
	: >"$logf.fd0" # vsftpd writes its "500 OOPS" to fd 0
	make_cgroup "$label-$PASS-r$2"
	(
		if [ -n "$SERVER_CG" ]; then echo "$BASHPID" 2>/dev/null >"$SERVER_CG/cgroup.procs" || true; fi
		cd "$DATA" && exec "${SERVER_PREFIX[@]}" "${cmd[@]}"
	) >>"$logf" 2>&1 0<>"$logf.fd0" 9>&- &
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
		case "$line" in 220*)
			if [ -n "$SERVER_CG" ] && ! grep -qx "$SERVER_PID" "$SERVER_CG/cgroup.procs" 2>/dev/null; then
				say "  note: $v is not in its cgroup; its CPU time is not measured"
				remove_cgroup
			fi
			return 0 ;;
		esac
		sleep 0.2
	done
	START_ERR="no 220 greeting on port $port within ${READY_TIMEOUT}s (last: ${line:-nothing})"
	stop_server "$SERVER_PID"
	remove_cgroup
	return 1
}

# probe_tls VARIANT: what the server negotiates with a client offering
# the ciphers Go's (ftpbench's) offers, in Go's order on a CPU with AES
# instructions: in TLS 1.3 AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305; in
# TLS 1.2 the ECDHE AES-GCM suites, AES-128 first. openssl s_client 3.0 offers X25519 but not Go 1.24+'s
# X25519MLKEM768, which Go servers (pier) pick when a Go client offers it.
probe_tls() {
	local v=$1 port=${PORT[${1%%/*}]} out proto cipher kx sig
	out=$("${NSENTER[@]}" timeout 10 openssl s_client -starttls ftp -connect "$HOST:$port" -brief \
		-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256 \
		-cipher ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305 \
		</dev/null 2>&1) || true
	echo "$out" >"$RESULTS/${v//\//-}.s_client.txt"
	proto=$(echo "$out" | sed -n 's/^Protocol version: *//p' | head -n 1)
	cipher=$(echo "$out" | sed -n 's/^Ciphersuite: *//p' | head -n 1)
	kx=$(echo "$out" | sed -n 's/^Server Temp Key: *//p' | head -n 1)
	sig=$(echo "$out" | sed -n 's/^\(Peer \)\{0,1\}[Ss]ignature type: *//p' | head -n 1)
	NEGOTIATED[$v]="${proto:-?}, ${cipher:-?}, key exchange ${kx:-?}, signature ${sig:-?}"
	say "  $v negotiates (openssl s_client): ${NEGOTIATED[$v]}"
}

workloads() { # variant -> ftpbench workloads besides logins
	case "$1" in
	*/"${CERTS[0]}" | pier) echo "stor,retr,retr-many,list" ;;
	*) echo "retr" ;;
	esac
}

bench_common() { # variant -> ftpbench arguments common to both runs
	local a=(-H "$HOST" -P "${PORT[${1%%/*}]}" -u "$BENCH_USER" -p "$BENCH_PASS" --quiet)
	[ "$1" != pier ] && a+=(--tls)
	[ "$HOST" = 127.0.0.1 ] || a+=(--allow-remote)
	echo "${a[*]}"
}

FAILED_RUNS=()
run_ftpbench() { # variant round part args... (sets nothing; records failures)
	local v=$1 r=$2 part=$3 rc=0 out why cg=()
	shift 3
	out="$PASSDIR/${v//\//-}-r$r.$part"
	[ -n "$SERVER_CG" ] && cg=(--cgroup "$SERVER_CG")
	# shellcheck disable=SC2046
	run_child timeout --signal=INT "$RUN_TIMEOUT" "${CLIENT_PREFIX[@]}" "$BIN/ftpbench" $(bench_common "$v") "$@" \
		--pid "$SERVER_PID" "${cg[@]}" --json "$out.json" >"$out.txt" 2>&1 9>&- || rc=$?
	if [ "$rc" != 0 ]; then
		why=$(grep -oE '(error|panic|fatal)[: ].*' "$out.txt" | sed 's/[[:space:]]*$//' | sort -u | head -n 3 | tr '\n' ';')
		say "  $PASS, $v round $r ($part): ftpbench exit status $rc: ${why:-see $out.txt}"
		FAILED_RUNS+=("$PASS, $v round $r ($part): ftpbench exit status $rc: ${why:-see $out.txt}")
	fi
	[ -s "$out.json" ] || rm -f "$out.json"
	sed 's/^/    /' "$out.txt" | tee -a "$LOG" >&2
}

run_one() { # variant round
	local v=$1 r=$2 s=${1%%/*}
	[ -n "${SKIP[$s]:-}" ] && return 0
	if ! start_server "$v" "$r"; then
		say "  $v: could not start: $START_ERR"
		FAILED_RUNS+=("$PASS, $v round $r: could not start: $START_ERR")
		return 0
	fi
	say "  $v (pid $SERVER_PID, $HOST:${PORT[$s]})"
	if [ "$v" != pier ] && [ -z "${NEGOTIATED[$v]:-}" ]; then
		probe_tls "$v"
	fi
	# logins first, on the fresh server; then the transfers and the listing
	run_ftpbench "$v" "$r" logins -b logins -n "$LOGINS"
	sleep 1 # the forking servers end the 300 sessions
	run_ftpbench "$v" "$r" xfer -b "$(workloads "$v")" -n "$MANY" -s "$FILESIZE" --single-size "$SINGLE" --entries "$ENTRIES"
	stop_server "$SERVER_PID"
	remove_cgroup
	find "$DATA" -maxdepth 1 -name 'ftpbench-[0-9]*' -exec rm -rf {} + 2>/dev/null || true
}

# ---------------------------------------------------------------- second client: curl
# curl (7.88.1 on Debian 12) drives the multi-client workloads a second
# time, as compare.sh's curl_one does for plain FTP, here with explicit
# FTPS: one process in parallel mode (no process start per client), every
# transfer on connections of its own (--parallel-immediate, --parallel-max =
# the number of transfers, checked: each must report its own connections in
# num_connects), --ssl-reqd (AUTH TLS, PBSZ 0, PROT P; without it for pier
# plain), --cacert the server's certificate, passive mode (EPSV, then
# PASV), no CWD. logins: N connections that log in and leave (-I on the home
# folder: USER, PASS, PWD, QUIT); retr-many: N downloads of one FILESIZE
# file to /dev/null. The wall time is taken around curl; the server's CPU
# from its cgroup and curl's from its own. One JSON a variant and round, in
# ftpbench's format, PASSDIR/curl/VARIANT-rR.json.

curl_workloads() { # variant -> curl's workloads (those ftpbench runs that have many clients)
	case "$1" in
	*/"${CERTS[0]}" | pier) echo "logins retr-many" ;;
	*) echo "logins" ;;
	esac
}

curl_tls_args() { # variant -> curl's TLS options (nothing for pier plain)
	[ "$1" = pier ] && return 0
	echo "--ssl-reqd --cacert $CERTDIR/${1#*/}.crt"
}

# curl_resume_probe VARIANT ROUND: untimed, curl -v, before the timed runs.
# First one download alone: does its data connection resume the control
# connection's TLS session? (In a resumed handshake the server sends no
# certificate.) Then PROBE_N downloads at once in parallel mode, as the
# timed runs: curl's parallel transfers share one TLS session cache, keyed by
# host and port, so a control connection may resume another transfer's
# session, and a data connection may offer another transfer's session than
# its own control connection's; servers that check whose session it is
# refuse that. Sets CURL_RESUME and CURL_PARALLEL (the first pass's; other
# passes' when they differ, in CURL_RESUME_ALL).
PROBE_N=4
# curl_probe_counts FILE N: what curl -v shows of the TLS handshakes of N
# downloads: "handshakes|full|offered|tickets|failed|first error|protocols".
# A handshake: the server's Finished; a full one: the server's Certificate;
# offered: curl offered a cached session; tickets: TLS 1.3 session tickets.
curl_probe_counts() {
	local f=$1 hs full offered tickets protos failed err
	hs=$(grep -c '(IN), TLS handshake, Finished (20)' "$f" || true)
	full=$(grep -c '(IN), TLS handshake, Certificate (11)' "$f" || true)
	offered=$(grep -c 'SSL re-using session ID' "$f" || true)
	tickets=$(grep -c '(IN), TLS handshake, Newsession Ticket' "$f" || true)
	protos=$(sed -n 's/^\* SSL connection using \([^ ]*\) .*/\1/p' "$f" | sort -u | paste -sd, -)
	failed=$(grep '^RESULT ' "$f" | awk '$2 != 0 || $3 == 0' | wc -l)
	failed=$((failed + $2 - $(grep -c '^RESULT ' "$f" || true)))
	err=$(grep '^RESULT ' "$f" | awk '$2 != 0 { m = ""; for (i = 5; i <= NF; i++) m = m " " $i; print "exit code " $2 ":" m; exit }')
	echo "${hs:-0}|${full:-0}|${offered:-0}|${tickets:-0}|$failed|${err:-}|${protos:-?}"
}

curl_resume_probe() {
	local v=$1 r=$2 f hs full offered tickets failed err protos verdict par i
	local url="ftp://$HOST:${PORT[${v%%/*}]}/$CLI_DIR/$CLI_FILE"
	local opts=(-v -sS -u "$BENCH_USER:$BENCH_PASS" --ftp-pasv --ftp-method nocwd --connect-timeout 30 --max-time 50
		-w 'RESULT %{exitcode} %{size_download} %{num_connects} %{errormsg}\n')
	# shellcheck disable=SC2207
	opts+=($(curl_tls_args "$v"))
	f="$PASSDIR/curl/${v//\//-}-r$r.resume.txt"
	run_child timeout 60 "${CLIENT_PREFIX[@]}" curl "${opts[@]}" -o /dev/null "$url" >"$f" 2>&1 9>&- || true
	IFS='|' read -r hs full offered tickets failed err protos < <(curl_probe_counts "$f" 1)
	if [ "$hs" -lt 2 ]; then
		verdict="no data connection handshake seen"
	elif [ "$offered" = 0 ] && [ "$tickets" = 0 ] && [ "$protos" = TLSv1.3 ]; then
		verdict="no: the server sent no TLS 1.3 session ticket, so curl had no session to offer"
	elif [ "$offered" = 0 ]; then
		verdict="no: curl offered no session on the data connection"
	elif [ "$full" -ge 2 ]; then
		verdict="no: curl offered the control connection's session, the server made a full handshake"
	else
		verdict="yes"
	fi
	verdict="$verdict ($protos)"
	[ "$failed" = 0 ] || verdict="$verdict, but the download failed: $err"
	# PROBE_N at once, in parallel mode, as the timed runs
	f="$PASSDIR/curl/${v//\//-}-r$r.resume-parallel.txt"
	local pargs=()
	for i in $(seq "$PROBE_N"); do pargs+=(-o /dev/null "$url"); done
	run_child timeout 60 "${CLIENT_PREFIX[@]}" curl "${opts[@]}" --parallel --parallel-immediate --parallel-max "$PROBE_N" \
		"${pargs[@]}" >"$f" 2>&1 9>&- || true
	IFS='|' read -r hs full offered tickets failed err protos < <(curl_probe_counts "$f" "$PROBE_N")
	par="$PROBE_N at once: "
	if [ "$failed" = 0 ]; then par+="all downloaded"; else par+="**$failed/$PROBE_N failed** (curl $err)"; fi
	par+="; $hs handshakes, $((hs - full)) resumed, $offered offers"
	# fewer full handshakes than control connections: control connections resumed sessions too
	[ "$full" -ge "$PROBE_N" ] || par+=" †"
	say "  curl -v: data connection resumes the TLS session? alone: $verdict; $par"
	if [ -z "${CURL_RESUME[$v]:-}" ]; then
		CURL_RESUME[$v]=$verdict
	elif [ "${CURL_RESUME[$v]}" != "$verdict" ]; then
		CURL_RESUME_ALL[$v]="${CURL_RESUME_ALL[$v]:-}; $PASS: $verdict"
	fi
	CURL_PARALLEL["$PASS|$v"]=${par#"$PROBE_N at once: "}
}

# curl_one VARIANT WORKLOAD N: one timed curl run against the server running
# now; prints its JSON object (ftpbench's format, plus connections and
# error), returns 1 if any transfer failed.
curl_one() {
	local v=$1 wl=$2 n=$3 label=${1//\//-} i
	local cfg="$RUN/curl-$wl.cfg" wout="$PASSDIR/curl/$label-$wl.w"
	local base="ftp://$HOST:${PORT[${v%%/*}]}" want_conn=2 size
	size=$(stat -c %s "$DATA/$CLI_DIR/$CLI_FILE")
	{
		printf 'user = "%s:%s"\n' "$BENCH_USER" "$BENCH_PASS"
		for i in $(seq 1 "$n"); do
			case "$wl" in
			logins) printf 'url = "%s/"\noutput = "/dev/null"\n' "$base" ;;
			retr-many) printf 'url = "%s/%s/%s"\noutput = "/dev/null"\n' "$base" "$CLI_DIR" "$CLI_FILE" ;;
			esac
		done
	} >"$cfg"
	local opts=(-sS --no-progress-meter --parallel --parallel-max "$n" --parallel-immediate --ftp-pasv --ftp-method nocwd
		--connect-timeout "$OTHER_TIMEOUT" --max-time "$OTHER_TIMEOUT"
		-w '%{exitcode} %{size_download} %{num_connects} %{errormsg}\n')
	# shellcheck disable=SC2207
	opts+=($(curl_tls_args "$v"))
	[ "$wl" = logins ] && { opts+=(-I); want_conn=1; }
	local s0 c0 t0 t1 s1 c1 rc=0
	s0=$(cg_cpu_ns "${SERVER_CG:-/nonexistent}")
	c0=$(cg_cpu_ns "${CLIENT_CG:-/nonexistent}")
	t0=$(date +%s.%N)
	# shellcheck disable=SC2016 # expanded by the inner bash
	run_child timeout --signal=INT "$RUN_TIMEOUT" bash -c '
		if [ -n "$1" ]; then echo "$BASHPID" >"$1/cgroup.procs" || exit 99; fi
		shift; exec "$@"' _ "$CLIENT_CG" "${CLIENT_PREFIX[@]}" curl "${opts[@]}" -K "$cfg" >"$wout" 2>"$wout.err" 9>&- || rc=$?
	t1=$(date +%s.%N)
	s1=$(cg_cpu_ns "${SERVER_CG:-/nonexistent}")
	c1=$(cg_cpu_ns "${CLIENT_CG:-/nonexistent}")
	# every transfer: exit code 0, the whole file, its own connections; the
	# failures grouped by curl's exit code and message (long numbers as N)
	awk -v wl="$wl" -v n="$n" -v size="$size" -v want="$want_conn" -v rc="$rc" \
		-v t0="$t0" -v t1="$t1" -v scpu="$((s1 - s0))" -v ccpu="$((c1 - c0))" -v cg="${SERVER_CG:+1}" '
		function esc(x) { gsub(/[\\"]/, "", x); gsub(/[\001-\037]/, " ", x); return x }
		BEGIN { t = t1 - t0 }
		{ done++; conns += $3
		  ok = ($1 == 0)
		  if (wl == "retr-many") { ok = ok && $2 == size; bytes += $2 }
		  if (ok && $3 < want) { reused++; ok = 0; why["a transfer reused a connection"]++ }
		  else if (!ok) {
		    m = ""; for (i = 4; i <= NF; i++) m = m (i > 4 ? " " : "") $i
		    if ($1 == 0) m = $2 " of " size " bytes"
		    gsub(/[0-9][0-9][0-9][0-9]+/, "N", m)
		    why["curl exit code " $1 (m == "" ? "" : ": " m)]++
		  }
		  if (!ok) errors++ }
		END {
		  if (done < n) { errors += n - done; why[(n - done) " transfers did not report (curl exit status " rc ")"] += 0 }
		  if (errors == 0 && rc != 0) { errors++; why["curl exit status " rc]++ }
		  first = ""
		  for (k in why) first = first (first == "" ? "" : "; ") (why[k] > 0 ? why[k] " × " : "") k
		  printf "{\"workload\":\"%s\",\"clients\":%d,\"bytes\":%.0f,\"seconds\":%.6f,\"value\":%.6f,\"unit\":\"s\",", wl, n, bytes, t, t
		  printf "\"errors\":%d,\"connections\":%d,\"client_cpu_seconds\":%.6f", errors, conns, ccpu / 1e9
		  if (cg) printf ",\"server_cpu_seconds\":%.6f", scpu / 1e9
		  if (errors > 0) printf ",\"error\":\"%s\"", esc(first)
		  printf "}"
		}' "$wout"
	[ "$rc" = 0 ]
}

# run_curl VARIANT ROUND: the server started afresh, the resumption probe,
# then curl's workloads one after another.
run_curl() {
	local v=$1 r=$2 s=${1%%/*} out wl rows=() line n
	[ -z "${SKIP[$s]:-}" ] || return 0
	out="$PASSDIR/curl/${v//\//-}-r$r"
	mkdir -p "$PASSDIR/curl"
	if ! start_server "$v" "$r-curl"; then
		say "  $v: could not start: $START_ERR"
		FAILED_RUNS+=("$PASS, $v round $r (curl): could not start: $START_ERR")
		return 0
	fi
	say "  $v (pid $SERVER_PID, $HOST:${PORT[$s]}): curl: $(curl_workloads "$v")"
	[ "$v" = pier ] || curl_resume_probe "$v" "$r"
	: >"$out.txt"
	for wl in $(curl_workloads "$v"); do
		n=$LOGINS
		[ "$wl" = retr-many ] && n=$MANY
		[ "$n" -le "$CURL_MAX" ] || n=$CURL_MAX
		line=$(curl_one "$v" "$wl" "$n") || true
		case "$line" in
		'{'*'}') ;;
		*) line="{\"workload\":\"$wl\",\"clients\":$n,\"errors\":$n,\"error\":\"curl gave no result\"}" ;;
		esac
		rows+=("$line")
		printf '%s\n' "$line" >>"$out.txt"
		[ "$wl" = logins ] && sleep 1 # the forking servers end the sessions
	done
	stop_server "$SERVER_PID"
	remove_cgroup
	client_rows_done "$out" "$PASS, $v round $r (curl)" "${rows[@]}" # lib.sh
}

# ---------------------------------------------------------------- report
# report: the tables of every pass (PASS_NAMES, PASS_DIRS), on stdout.
report() {
	local pargs=() i
	for i in "${!PASS_NAMES[@]}"; do pargs+=("${PASS_NAMES[$i]}=${PASS_DIRS[$i]}"); done
	/usr/bin/python3 - "$RESULTS" "${CERTS[0]}" "$LOGINS" "$MANY" "$FILESIZE" "$SINGLE" "$ENTRIES" "$CURL_MAX" \
		--passes "${pargs[@]}" --variants "${VARIANTS[@]}" <<'PY'
import glob, json, os, re, statistics, sys

args = sys.argv[1:]
results, primary, logins, many, filesize, single, entries, curl_max = args[:8]
passes = [a.split("=", 1) for a in args[args.index("--passes") + 1:args.index("--variants")]]
variants = args[args.index("--variants") + 1:]
n_curl_logins, n_curl_many = min(int(logins), int(curl_max)), min(int(many), int(curl_max))
GiB = 1 << 30
peers = ("vsftpd", "proftpd", "pure-ftpd")

def variant_of(label):
    return next((x for x in variants if x.replace("/", "-") == label), None)

def load(pattern, regex):
    """(variant, workload) -> runs without errors, and -> runs with errors"""
    good, bad = {}, {}
    for path in sorted(glob.glob(pattern)):
        m = re.match(regex, os.path.basename(path))
        if not m:
            continue
        v = variant_of(m.group(1))
        if v is None:
            continue
        try:
            rows = json.load(open(path))
        except ValueError:
            continue
        for r in rows:
            w = r["workload"]
            if w.startswith("list"):
                w = "list"
            (bad if r.get("errors", 0) else good).setdefault((v, w), []).append(r)
    return good, bad

def med(data, v, w, key):
    xs = [x for x in (key(r) for r in data.get((v, w), [])) if x is not None]
    if not xs:
        return None, None, None, 0
    return statistics.median(xs), min(xs), max(xs), len(xs)

def thr(r):  # MB/s (10^6 bytes a second)
    return r.get("mb_per_s") or (r["bytes"] / r["seconds"] / 1e6 if r.get("seconds") and r.get("bytes") else None)
def secs(r):
    return r.get("seconds")
def cpu_gib(r):
    c = r.get("server_cpu_seconds")
    return c / (r["bytes"] / GiB) if c is not None and r.get("bytes") else None
def cpu_login_ms(r):
    c = r.get("server_cpu_seconds")
    return c * 1000 / r["clients"] if c is not None and r.get("clients") else None

def fmt(x, lo, hi, n):
    if x is None:
        return "–"
    p = 0 if x >= 100 else (2 if x >= 1 else 3)
    if x < 0.1:
        p = 4
    s = "%.*f" % (p, x)
    if n > 1 and lo is not None and hi is not None and lo != hi:
        s += " (%.*f–%.*f)" % (p, lo, p, hi)
    return s

def certname(c):
    return "RSA 2048" if c == "rsa" else "ECDSA P-256"

certs = [primary] + sorted({v.split("/")[1] for v in variants if "/" in v} - {primary})

def standing(data, cert, w, key, higher):
    """best TLS server, pier-tls / best peer, that peer"""
    vals = {}
    for s in peers + ("pier-tls",):
        x = med(data, s + "/" + cert, w, key)[0]
        if x is not None:
            vals[s] = x
    if not vals:
        return None, None, None, []
    order = sorted(vals, key=lambda s: -vals[s] if higher else vals[s])
    pv = vals.get("pier-tls")
    pvals = [(vals[s], s) for s in peers if s in vals]
    if pv is None or not pvals:
        return order[0], None, None, order
    best, who = (max if higher else min)(pvals)
    return order[0], pv / best, who, order

def ratio_text(r, higher):
    if r is None:
        return "–"
    wins = r >= 1 if higher else r < 1
    return "%.2f×%s" % (r, " ✓" if wins else "")

def table(out, data, bad, cols, rows, cert, notes):
    out.append("| workload | " + " | ".join("pier (plain)" if c == "pier" else c.split("/")[0] + " (TLS)" for c in cols) + " | pier-tls / best peer |")
    out.append("|---" * (len(cols) + 2) + "|")
    for w, title, key, higher in rows:
        cells, vals, failed = [], {}, False
        for c in cols:
            x, lo, hi, n = med(data, c, w, key)
            vals[c] = x
            if x is None and bad.get((c, w)):
                failed = True
                cells.append("**failed**")
                if key in (thr, secs):
                    r = bad[(c, w)][0]
                    notes.append("%s, %s: %s of %s transfers failed: %s" % (
                        c.split("/")[0] if c == "pier" else c.split("/")[0] + " (" + certname(c.split("/")[1]) + ")",
                        w, r.get("errors"), r.get("clients"), r.get("error", "see the JSON")))
            else:
                cells.append(fmt(x, lo, hi, n))
        if all(x is None for x in vals.values()) and not failed:
            continue
        pv = vals.get("pier-tls/" + cert)
        pvals = [vals[c] for c in cols if c.split("/")[0] in peers and vals[c] is not None]
        ratio = "–"
        if pv is not None and pvals:
            ratio = ratio_text(pv / (max(pvals) if higher else min(pvals)), higher)
        out.append("| %s | %s | %s |" % (title, " | ".join(cells), ratio))
    out.append("")

def cols_of(cert):
    cols = [v for v in variants if v.endswith("/" + cert)]
    if cert == primary and "pier" in variants:
        cols.append("pier")
    return cols

fb_rows = [
    ("stor", "stor 1 × %s (MB/s)" % single, thr, True),
    ("retr", "retr 1 × %s (MB/s)" % single, thr, True),
    ("retr-many", "retr-many %s × %s (MB/s, all together)" % (many, filesize), thr, True),
    ("logins", "logins %s at once (s)" % logins, secs, False),
    ("list", "list %s entries (s)" % entries, secs, False),
    ("stor", "stor: server CPU (s/GiB)", cpu_gib, False),
    ("retr", "retr: server CPU (s/GiB)", cpu_gib, False),
    ("retr-many", "retr-many: server CPU (s/GiB)", cpu_gib, False),
    ("logins", "logins: server CPU (ms/login)", cpu_login_ms, False),
]
curl_rows = [
    ("logins", "logins %d at once (s, until the last has left)" % n_curl_logins, secs, False),
    ("retr-many", "retr-many %d × %s (MB/s, whole sessions)" % (n_curl_many, filesize), thr, True),
    ("logins", "logins: server CPU (ms/login)", cpu_login_ms, False),
    ("retr-many", "retr-many: server CPU (s/GiB)", cpu_gib, False),
]
# the workloads both clients drive: (workload, certificate, key, higher is better)
shared = [("logins", c, secs, False) for c in certs] + [("retr-many", primary, thr, True)]

loaded = []
for name, d in passes:
    fb = load(os.path.join(d, "*-r*.*.json"), r"(.+)-r(\d+)\.(logins|xfer)\.json$")
    cu = load(os.path.join(d, "curl", "*-r*.json"), r"(.+)-r(\d+)\.json$")
    loaded.append((name, d, fb, cu))
have_curl = any(cu[0] or cu[1] for _, _, _, cu in loaded)

def title(name):
    t, p = name.split("-")
    return "%s, %s" % ("loopback" if t == "loopback" else "veth pair", p)

out = []
# summary: pier-tls / best peer, every pass
out.append("### Summary: pier-tls / best peer in every pass")
out.append("")
out.append("The median of pier-tls divided by the best peer's (vsftpd, proftpd, pure-ftpd with TLS; the peer in")
out.append("brackets); ✓ where pier-tls is better (throughput: > 1; times: < 1).%s" % (
    " curl: the same workload driven by curl." if have_curl else ""))
out.append("")
out.append("| pass | workload | ftpbench |%s" % (" curl |" if have_curl else ""))
out.append("|---|---|---|%s" % ("---|" if have_curl else ""))
summary_at = len(out)
summary_rows = [("stor", primary, thr, True), ("retr", primary, thr, True)] + \
    [("retr", c, thr, True) for c in certs if c != primary] + \
    [("retr-many", primary, thr, True)] + [("logins", c, secs, False) for c in certs] + [("list", primary, secs, False)]
def failed_only(client, cert, w):
    """the TLS servers whose runs of workload w all had errors with this client"""
    good, bad = client
    return [s for s in peers + ("pier-tls",) if (s + "/" + cert, w) not in good and bad.get((s + "/" + cert, w))]

def ratio_cell(client, cert, w, key, higher):
    _, r, who, _ = standing(client[0], cert, w, key, higher)
    cell = ratio_text(r, higher) + (" (%s)" % who if who else "")
    f = failed_only(client, cert, w)
    if f:
        cell = ("– (" if r is None else cell + " (") + "**failed**: " + ", ".join(f) + ")"
    return cell, r

for name, d, fb, cu in loaded:
    for w, cert, key, higher in summary_rows:
        cell, r = ratio_cell(fb, cert, w, key, higher)
        ccell = ""
        if have_curl:
            ccell = "–"
            if (w, cert) in [(a, b) for a, b, _, _ in shared]:
                ccell, _ = ratio_cell(cu, cert, w, key, higher)
            ccell = " %s |" % ccell
        if cell == "–" and ccell in ("", " – |"):
            continue
        label = {"stor": "stor 1 × " + single, "retr": "retr 1 × " + single, "retr-many": "retr-many %s × %s" % (many, filesize),
                 "logins": "logins (%s at once)" % logins, "list": "list %s entries" % entries}[w]
        out.append("| %s | %s, %s | %s |%s" % (title(name), label, certname(cert), cell, ccell))
if len(out) == summary_at:  # no peer and pier-tls both ran: no ratio
    out[summary_at - 2:] = ["No ratio: pier-tls and a peer did not both run."]
out.append("")

diffs = []
for name, d, fb, cu in loaded:
    out.append("### %s" % title(name))
    out.append("")
    notes = []
    for cert in certs:
        cols = cols_of(cert)
        if not cols:
            continue
        out.append("ftpbench, %s certificate:" % certname(cert))
        out.append("")
        table(out, fb[0], fb[1], cols, fb_rows, cert, notes)
    # targets (primary certificate)
    def m(v, w, key=thr):
        return med(fb[0], v, w, key)[0]
    pt, pl = "pier-tls/" + primary, "pier"
    tl = []
    for w in ("stor", "retr", "retr-many"):
        p = m(pt, w)
        bp = [b for b in ((m(x + "/" + primary, w), x) for x in peers) if b[0] is not None]
        if p is None or not bp:
            continue
        best, who = max(bp)
        tl.append("- %s: pier-tls %.0f MB/s vs the best peer's FTPS (%s) %.0f MB/s: %.2f× → **%s** (target ≥ 1.0×)" %
                  (w, p, who, best, p / best, "met" if p >= best else "missed"))
        plain = m(pl, w)
        if plain:
            tl.append("- %s: pier-tls %.0f MB/s is %.1f %% of pier's plain %.0f MB/s → **%s** (target: FTPS ≥ 60 %% of plain)" %
                      (w, p, 100 * p / plain, plain, "met" if p >= 0.6 * plain else "missed"))
    for cert in certs:
        p = m("pier-tls/" + cert, "logins", secs)
        bp = [b for b in ((m(x + "/" + cert, "logins", secs), x) for x in peers) if b[0] is not None]
        if p is None or not bp:
            continue
        best, who = min(bp)
        tl.append("- %s TLS logins (%s): pier-tls %.3f s vs the fastest peer (%s) %.3f s → **%s** (target: faster than every peer)" %
                  (logins, cert.upper(), p, who, best, "met" if p < best else "missed"))
    if tl:
        out.append("Targets (medians; the %s certificate for transfers):" % certname(primary))
        out.append("")
        out.extend(tl)
        out.append("")
    if cu[0] or cu[1]:
        for cert in certs:
            cols = cols_of(cert)
            if not cols:
                continue
            out.append("curl, %s certificate (whole sessions: connect, AUTH TLS, log in, transfer, QUIT):" % certname(cert))
            out.append("")
            rows = [r for r in curl_rows if cert == primary or r[0] == "logins"]
            table(out, cu[0], cu[1], cols, rows, cert, notes)
        # where curl and ftpbench rank the servers differently
        for w, cert, key, higher in shared:
            a_best, a_r, a_who, a_order = standing(fb[0], cert, w, key, higher)
            z_best, z_r, z_who, z_order = standing(cu[0], cert, w, key, higher)
            why = []
            if a_best and z_best and a_best != z_best:
                why.append("best server: %s by ftpbench, %s by curl" % (a_best, z_best))
            if a_r is not None and z_r is not None and ((a_r >= 1) if higher else (a_r < 1)) != ((z_r >= 1) if higher else (z_r < 1)):
                why.append("pier-tls / best peer: %.2f× (%s) by ftpbench, %.2f× (%s) by curl" % (a_r, a_who, z_r, z_who))
            for s in peers + ("pier-tls",):
                v = s + "/" + cert
                if (v, w) in fb[0] and (v, w) not in cu[0] and cu[1].get((v, w)):
                    why.append("%s failed with curl only (%s)" % (s, cu[1][(v, w)][0].get("error", "")))
                if (v, w) in cu[0] and (v, w) not in fb[0] and fb[1].get((v, w)):
                    why.append("%s failed with ftpbench only" % s)
            if a_order and z_order and a_order != z_order and not why:
                why.append("same best server, order differs")
            if why:
                diffs.append("- %s, %s (%s): %s; order by ftpbench: %s, by curl: %s." % (
                    title(name), w, certname(cert), "; ".join(why), " > ".join(a_order) or "–", " > ".join(z_order) or "–"))
    if notes:
        out.append("Failed (left out of the medians):")
        out.append("")
        out.extend("- " + x for x in notes)
        out.append("")
if have_curl:
    out.append("### Where the ranking differs between ftpbench and curl")
    out.append("")
    if diffs:
        out.extend(diffs)
    else:
        out.append("Nowhere: in every pass and workload both clients rank the TLS servers in the same order.")
    out.append("")
print("\n".join(out))
PY
}

# ---------------------------------------------------------------- main
say "results in $RESULTS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ulimit -Hn "$NOFILE" 2>/dev/null || true
ulimit -Sn "$NOFILE" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
install_all
setup_user
make_certs
setup_data
pause_page_reporting
for s in "${SERVER_LIST[@]}"; do
	[ -n "${SKIP[$s]:-}" ] && say "SKIPPED $s: ${SKIP[$s]}"
done
CURL_VERSION=""
if [ "$OTHER_CLIENTS" = curl ]; then
	command -v curl >/dev/null || die "curl is missing (apt-get install curl, or --other-clients none)"
	CURL_VERSION=$(curl --version | awk 'NR == 1 { print $1, $2, $5 }') || CURL_VERSION=curl
	make_client_cgroup
fi
for t in "${TOPOLOGY_LIST[@]}"; do
	if [ "$t" = veth ]; then
		command -v nsenter >/dev/null || die "nsenter (util-linux) is missing"
		setup_veth
	fi
done
if [ "${#PINNINGS[@]}" -gt 1 ] || [ "${PINNINGS[0]}" = pinned ]; then
	command -v taskset >/dev/null || die "taskset (util-linux) is missing"
fi

VARIANTS=()
for k in "${CERTS[@]}"; do
	for s in vsftpd proftpd pure-ftpd pier-tls; do
		wanted "$s" && VARIANTS+=("$s/$k")
	done
done
wanted pier && VARIANTS+=(pier)
PASS_NAMES=() PASS_DIRS=() PASS_LIST=""
START_TIME=$(date +%s)
for t in "${TOPOLOGY_LIST[@]}"; do
	for p in "${PINNINGS[@]}"; do
		set_pass "$t" "$p"
		PASS_NAMES+=("$PASS") PASS_DIRS+=("$PASSDIR")
		rounds=$ROUNDS
		[ "$p" = pinned ] && rounds=$PINNED_ROUNDS
		PASS_LIST="$PASS_LIST${PASS_LIST:+, }$t $p ($rounds round(s))"
		say "pass $PASS: servers on $HOST$([ "$p" = pinned ] && echo ", server on CPU $SERVER_CPUS, client on CPU $CLIENT_CPUS"), $rounds round(s), results in $PASSDIR"
		for r in $(seq 1 "$rounds"); do
			mapfile -t order < <(round_order "$r" "${VARIANTS[@]}")
			say "$PASS round $r/$rounds: ${order[*]}"
			for v in "${order[@]}"; do
				run_one "$v" "$r"
				if [ "$OTHER_CLIENTS" = curl ] && [ "$r" -le "$OTHER_ROUNDS" ]; then
					run_curl "$v" "$r"
				fi
			done
		done
	done
done
teardown_veth
say "passes done in $((($(date +%s) - START_TIME + 30) / 60)) min"

mem_total=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
ktls="no (CONFIG_TLS off or the tls module missing: setsockopt TCP_ULP \"tls\" fails)"
if [ -e /proc/net/tls_stat ]; then ktls="yes (/proc/net/tls_stat)"; fi
n_curl_logins=$LOGINS n_curl_many=$MANY
[ "$n_curl_logins" -le "$CURL_MAX" ] || n_curl_logins=$CURL_MAX
[ "$n_curl_many" -le "$CURL_MAX" ] || n_curl_many=$CURL_MAX
{
	echo "## FTPS: pier and its peers with TLS"
	echo
	if [ "$QUICK" = 1 ]; then
		echo "> **Quick run** (\`--quick\`): checks the setup; not a measurement."
		echo
	fi
	echo "Generated by \`bench/ftps.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') (results: \`$RESULTS\`)."
	echo "Each server ran alone, serving the same tmpfs folder, measured by \`ftpbench --tls\`"
	echo "(explicit FTPS: AUTH TLS, PBSZ 0, PROT P; every data connection resumes the control connection's"
	echo "TLS session through the client's session cache)$([ "$OTHER_CLIENTS" = curl ] && echo ", and its multi-client workloads (logins, retr-many) again by curl")."
	echo "Medians over the rounds, (min–max) when more than one; the order of the servers rotated from round"
	echo "to round and was reversed every other round. Passes (each a full set of rounds): $PASS_LIST."
	echo
	for t in "${TOPOLOGY_LIST[@]}"; do
		case "$t" in
		loopback) echo "- **loopback**: client and server on 127.0.0.1." ;;
		veth)
			echo "- **veth pair**: the clients in a network namespace of their own, made for the run, joined to the"
			echo "  servers' (the root namespace) by a veth pair that carries the only addresses of $VETH_NET: the"
			echo "  servers listen on (and advertise in PASV) $VETH_SERVER, the clients use $VETH_CLIENT (they enter the"
			echo "  namespace with \`nsenter --net\`; ftpbench gets \`--allow-remote\`). ${VETH_INFO:-}" ;;
		esac
	done
	for p in "${PINNINGS[@]}"; do
		case "$p" in
		unpinned) echo "- **unpinned**: client and server may use every CPU." ;;
		pinned)
			echo "- **pinned**: the server and every process it starts on CPU $SERVER_CPUS (\`taskset -c $SERVER_CPUS\`), the client"
			echo "  on CPU $CLIENT_CPUS (\`taskset -c $CLIENT_CPUS\`); the Go server (pier) then sees one CPU (GOMAXPROCS 1)." ;;
		esac
	done
	echo
	echo "| Machine | |"
	echo "|---|---|"
	echo "| CPUs | $(nproc) × ${cpu_model:-unknown} ($(if [ "${PINNINGS[*]}" = pinned ]; then echo "one for the server, one for the client"; else echo "client and server share them"; fi)) |"
	echo "| Memory | $mem_total |"
	echo "| Kernel | $(uname -sr); kernel TLS: $ktls |"
	echo "| OS, OpenSSL | $(. /etc/os-release && echo "$PRETTY_NAME"), $(openssl version | awk '{ print $1, $2 }') |"
	echo "| Go | $(go version | awk '{ print $3 }') |"
	[ -n "$CURL_VERSION" ] && echo "| Second client | $CURL_VERSION |"
	[ -n "$VETH_INFO" ] && echo "| veth pair | $VETH_INFO |"
	echo "| Memory given back to the host | $PR_STATE |"
	echo "| Load average before / after | $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg) |"
	echo
	echo "| Server | Version | Negotiated with openssl s_client (Go's TLS 1.3 cipher order) | Session reuse on data connections |"
	echo "|---|---|---|---|"
	for v in "${VARIANTS[@]}"; do
		s=${v%%/*}
		case "$s" in
		vsftpd) reuse="required (require_ssl_reuse=YES); TLS 1.2 at most (3.0.3 fails transfers over TLS 1.3)" ;;
		proftpd) reuse="required (mod_tls default)" ;;
		pure-ftpd) reuse="offered, not required (1.0.50 never checks it)" ;;
		pier-tls) reuse="required (default; --tls-allow-no-reuse not set)" ;;
		pier) reuse="no TLS" ;;
		esac
		if [ -n "${SKIP[$s]:-}" ]; then
			echo "| $v | ${VERSION[$s]:-?} | **not run**: ${SKIP[$s]} | |"
		else
			echo "| $v | ${VERSION[$s]:-?} | ${NEGOTIATED[$v]:-plain FTP} | $reuse |"
		fi
	done
	echo
	if [ "$OTHER_CLIENTS" = curl ] && [ ${#CURL_RESUME[@]} -gt 0 ]; then
		echo "curl and the servers' session reuse: before its timed runs, untimed, \`curl -v\` downloads the file once"
		echo "alone (does the data connection resume the control connection's TLS session? a resumed handshake"
		echo "has no server certificate) and $PROBE_N times at once in parallel mode, as the timed runs"
		echo "(\`PASS/curl/SERVER-rR.resume*.txt\`): the downloads that failed, the TLS handshakes (control and data"
		echo "connections), how many resumed a session, how many offered one; †: control connections resumed"
		echo "sessions too (curl's parallel transfers share one session cache)."
		echo
		hdr="| Server | alone: resumed? |" sep="|---|---|"
		for ps in "${PASS_NAMES[@]}"; do hdr+=" $ps: $PROBE_N at once |"; sep+="---|"; done
		echo "$hdr"
		echo "$sep"
		for v in "${VARIANTS[@]}"; do
			[ -n "${CURL_RESUME[$v]:-}" ] || continue
			row="| $v | ${CURL_RESUME[$v]}${CURL_RESUME_ALL[$v]:+ (${CURL_RESUME_ALL[$v]#; })} |"
			for ps in "${PASS_NAMES[@]}"; do row+=" ${CURL_PARALLEL["$ps|$v"]:-–} |"; done
			echo "$row"
		done
		echo
		told=" "
		for v in "${VARIANTS[@]}"; do
			s=${v%%/*}
			case "${CURL_RESUME[$v]:-}" in yes*) ;; *) continue ;; esac
			case "$told" in *" $s "*) continue ;; esac
			for ps in "${PASS_NAMES[@]}"; do
				case "${CURL_PARALLEL["$ps|$v"]:-}" in
				'**'*)
					told+="$s "
					echo "- **$s refuses curl's parallel downloads**: one download alone resumes its control connection's"
					echo "  TLS session and works, but curl's parallel transfers share one session cache, so a data connection"
					echo "  offers another transfer's session, and $s, which requires the control connection's own, refuses"
					echo "  it: its retr-many with curl fails (its settings are left as they are)."
					break ;;
				esac
			done
		done
		echo
	fi
	report
	echo "Commands (PORT, PID, CGROUP per server; ADDR is 127.0.0.1 on loopback, $VETH_SERVER on the veth pair;"
	echo "CLIENT is nothing on loopback, \`nsenter --net=/var/run/netns/$NETNS\` on the veth pair, followed by"
	echo "\`taskset -c $CLIENT_CPUS\` in the pinned passes; the servers are started under \`taskset -c $SERVER_CPUS\` there):"
	echo
	echo '```sh'
	echo "bash bench/ftps.sh$([ "$QUICK" = 1 ] && echo " --quick") --rounds $ROUNDS --pinned-rounds $PINNED_ROUNDS --servers $SERVERS --cert $CERT --topology $TOPOLOGY --pinning $PINNING --other-clients $OTHER_CLIENTS --other-rounds $OTHER_ROUNDS --other-timeout $OTHER_TIMEOUT --single-size $SINGLE --many $MANY --filesize $FILESIZE --logins $LOGINS --entries $ENTRIES"
	echo "CLIENT ftpbench -H ADDR -P PORT -u bench -p bench --quiet --tls [--allow-remote] -b logins -n $LOGINS --pid PID --cgroup CGROUP --json SERVER-rR.logins.json"
	echo "CLIENT ftpbench -H ADDR -P PORT -u bench -p bench --quiet --tls [--allow-remote] -b stor,retr,retr-many,list -n $MANY -s $FILESIZE --single-size $SINGLE --entries $ENTRIES --pid PID --cgroup CGROUP --json SERVER-rR.xfer.json"
	[ "${#CERTS[@]}" -gt 1 ] && echo "# with the ${CERTS[1]} certificate: -b retr instead of stor,retr,retr-many,list"
	echo "# pier (plain): the same without --tls"
	if [ "$OTHER_CLIENTS" = curl ]; then
		echo "# then, the server started afresh, curl (PASS/curl/SERVER-rR.json): once, untimed, one download with -v"
		echo "# (PASS/curl/SERVER-rR.resume.txt: is the data connection's TLS session resumed?), then, timed, CONFIG holding"
		echo "# user = \"bench:bench\" and $n_curl_logins times url = \"ftp://ADDR:PORT/\", output = \"/dev/null\" (logins, with -I), or"
		echo "# $n_curl_many times url = \"ftp://ADDR:PORT/$CLI_DIR/$CLI_FILE\", output = \"/dev/null\" (retr-many, $FILESIZE; RSA only):"
		# shellcheck disable=SC2028 # the \n is curl's
		echo "CLIENT curl -sS --no-progress-meter --parallel --parallel-max N --parallel-immediate --ftp-pasv --ftp-method nocwd --connect-timeout $OTHER_TIMEOUT --max-time $OTHER_TIMEOUT -w '%{exitcode} %{size_download} %{num_connects} %{errormsg}\\n' --ssl-reqd --cacert CERT.crt -K CONFIG"
	fi
	for v in "${VARIANTS[@]}"; do
		[ -n "${CMDLINE[$v]:-}" ] && echo "# $v: ${CMDLINE[$v]}"
	done
	echo '```'
	echo
	echo "Server CPU: the server's cgroup (forked session processes included) during each timed part."
	echo "vsftpd, proftpd and pure-ftpd check the password through PAM (pam_unix, sha512-crypt, about 1 ms),"
	echo "pier compares a plain one: the logins rows include that for the peers. Single transfers vary by"
	echo "10-30 % from run to run on this machine; see the ranges."
	if [ "$OTHER_CLIENTS" = curl ]; then
		echo
		echo "curl ($CURL_VERSION): one process in parallel mode (\`--parallel --parallel-immediate\`, at most $CURL_MAX at"
		echo "once), every transfer on connections of its own (checked in \`num_connects\`: a new control connection,"
		echo "and a data connection for the downloads), \`--ssl-reqd\` (AUTH TLS, PBSZ 0, PROT P) with the server's"
		echo "certificate as \`--cacert\`, passive mode (EPSV, then PASV), no CWD, in the first $OTHER_ROUNDS round(s) of every"
		echo "pass, against the server started afresh after ftpbench's run; each workload gets $OTHER_TIMEOUT s at most."
		echo "What is timed differs from ftpbench: ftpbench's logins are timed until the last client has logged in,"
		echo "its retr-many on clients logged in beforehand; curl's are whole sessions (connect, AUTH TLS, log in,"
		echo "transfer, QUIT), timed by the script around curl (wall clock, curl's start included), so a server whose"
		echo "logins are dear pays for them in retr-many too. Every transfer's exit code and byte count is checked;"
		echo "a workload with any failed transfer is left out of the medians and listed with curl's reasons."
		echo "curl's parallel transfers share one TLS session cache, keyed by host and port: control connections"
		echo "resume one another's sessions where the server allows it, and a data connection offers the newest"
		echo "session curl holds for the server, often another transfer's. A server that requires the data"
		echo "connection to resume its own control connection's session refuses those (see the probes above)."
	fi
	if [ ${#FAILED_RUNS[@]} -gt 0 ]; then
		echo
		echo "Runs with errors (left out of the medians):"
		echo
		for f in "${FAILED_RUNS[@]}"; do echo "- $f"; done
	fi
} >"$RESULTS/ftps.md"
cat "$RESULTS/ftps.md"
say "done: $RESULTS/ftps.md"

#!/usr/bin/env bash
# bench/ftps.sh: FTPS (explicit, AUTH TLS) benchmark of pier against vsftpd,
# proftpd and pure-ftpd on this machine, with cmd/ftpbench --tls, and pier
# without TLS as the plain reference. Run by hand, as root:
#
#   bash bench/ftps.sh            # 3 rounds, 1G single transfers, 100 x 10M RETR, 300 logins
#   bash bench/ftps.sh --quick    # check the setup: 1 round, small sizes
#
# It needs the peers unpacked by bench/compare.sh (run "bash bench/compare.sh
# --quick --servers vsftpd,proftpd,pure-ftpd,pier" once); it fetches
# proftpd's mod_tls (Debian's proftpd-mod-crypto) itself. It makes an RSA
# 2048 and an ECDSA P-256 self-signed certificate, starts each server in turn
# on loopback with the same certificate, TLS 1.2 and 1.3 offered, protected
# logins and data required, and session reuse required where the server can
# require it; runs ftpbench; stops it; and writes a markdown table (medians
# over the rounds, ranges, the ratio pier-tls / best peer, the targets) to
# stdout and to /var/tmp/pier-bench/results-ftps/DATE/.
#
# The script holds /var/tmp/pier-bench.lock (flock) while it runs, as the
# other benchmark scripts' users do; --no-lock if the caller holds it.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: bash bench/ftps.sh [--quick] [options]

  --quick            1 round, 64M single transfers, 100 x 1M RETR, 50 logins,
                     listing of 1000 entries (checks the setup; noisy)
  --rounds R         rounds (default 3; --quick: 1)
  --servers LIST     comma list among vsftpd,proftpd,pure-ftpd,pier-tls,pier
                     (default: all; pier is pier without TLS, the reference)
  --cert KIND        rsa, ecdsa or both (default both): the certificate every
                     TLS server uses. With both, the first (RSA) runs every
                     workload and ECDSA runs logins and retr (the handshake
                     cost; transfers resume the session and sign nothing)
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
the one built from the working tree (to compare a change).
EOF
}

# ---------------------------------------------------------------- options
QUICK=0
ROUNDS=""
SERVERS="vsftpd,proftpd,pure-ftpd,pier-tls,pier"
CERT=both
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
	--servers) SERVERS="$2"; shift ;;
	--cert) CERT="$2"; shift ;;
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
case "$CERT" in
rsa) CERTS=(rsa) ;;
ecdsa) CERTS=(ecdsa) ;;
both) CERTS=(rsa ecdsa) ;;
*) echo "ftps.sh: --cert wants rsa, ecdsa or both, not $CERT" >&2; exit 2 ;;
esac
for v in "$ROUNDS" "$MANY" "$LOGINS" "$ENTRIES"; do
	case "$v" in '' | *[!0-9]*) echo "ftps.sh: not a number: $v" >&2; exit 2 ;; esac
done

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

declare -A PORT=([vsftpd]=2141 [proftpd]=2142 [pure-ftpd]=2143 [pier-tls]=2144 [pier]=2145)
declare -A VERSION=()
declare -A SKIP=()         # server -> why it cannot run here
declare -A CMDLINE=()      # variant -> how it was started
declare -A NEGOTIATED=()   # variant -> TLS version, cipher, key exchange, signature
CREATED_PAM=()
SERVER_PID=""
PIER_EXE=""

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

# ---------------------------------------------------------------- memory, processes, cgroup root
# As in compare.sh: bench/lib.sh.
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
make_cgroup() { SERVER_CG=$(cg_make "pier-ftps-$1-$$"); } # label -> SERVER_CG (empty if none can be made)
remove_cgroup() {
	cg_remove "$SERVER_CG"
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
# One RSA 2048 and one ECDSA P-256 self-signed certificate for 127.0.0.1,
# made with openssl into the run folder. pier runs as bench: the keys are
# readable by its group.
make_certs() {
	local k
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$CERTDIR/rsa.key" -out "$CERTDIR/rsa.crt" >>"$LOG" 2>&1 ||
		die "openssl: could not make the RSA certificate"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$CERTDIR/ecdsa.key" -out "$CERTDIR/ecdsa.crt" >>"$LOG" 2>&1 ||
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
	local d="$DATA/ftpbench-list-$ENTRIES"
	mkdir -p "$DATA" "$RUN/vsftpd-empty"
	chmod 755 "$DATAROOT" "$RUN" "$RUN/vsftpd-empty"
	find "$DATA" -maxdepth 1 -name 'ftpbench-[0-9]*' -exec rm -rf {} + 2>/dev/null || true
	if [ "$(find "$d" -maxdepth 1 -type f 2>/dev/null | wc -l)" != "$ENTRIES" ]; then
		say "making $d ($ENTRIES empty files)"
		rm -rf "$d" && mkdir -p "$d"
		(cd "$d" && seq -f 'f%07g' 1 "$ENTRIES" | xargs touch)
	fi
	chown -R "$BENCH_USER:$BENCH_USER" "$DATA"
}

fill() { # template port cert-kind -> stdout with placeholders filled in
	local kind=$3 pk=RSA
	[ "$kind" = ecdsa ] && pk=EC
	sed -e "s|@PORT@|$2|g" -e "s|@DATA@|$DATA|g" -e "s|@RUN@|$RUN|g" \
		-e "s|@PASV_MIN@|$PASV_MIN|g" -e "s|@PASV_MAX@|$PASV_MAX|g" \
		-e "s|@MAXCLIENTS@|$MAXCLIENTS|g" -e "s|@PAM_SERVICE@|$PAM_SERVICE|g" \
		-e "s|@CERT@|$CERTDIR/$kind.crt|g" -e "s|@KEY@|$CERTDIR/$kind.key|g" \
		-e "s|@CERTKEY@|$CERTDIR/$kind.pem|g" -e "s|@KIND@|$pk|g" \
		-e "s|@MODPATH@|$MODTLS/usr/lib/proftpd|g" "$1"
}

# ---------------------------------------------------------------- servers
# A variant is SERVER/CERT (vsftpd/rsa, pier-tls/ecdsa...) or pier (plain).
START_ERR=""
greeting() {
	timeout 6 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		IFS= read -r -t 5 line <&3; printf "%s" "$line"; printf "QUIT\r\n" >&3' _ "$1" 2>/dev/null || true
}

start_server() { # variant round
	local v=$1 s=${1%%/*} kind=${1#*/} port label logf cmd=()
	port=${PORT[$s]}
	label=${v//\//-}
	logf="$RESULTS/$label-r$2.server.log"
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
		cmd=("${asbench[@]}" "$PIER_EXE" -i 127.0.0.1 -p "$port" -d "$DATA" -u "$BENCH_USER" -P "$BENCH_PASS" -w
			--max-cons 0 -r "$PASV_MIN-$PASV_MAX" --tls --certfile "$CERTDIR/$kind.crt" --keyfile "$CERTDIR/$kind.key"
			--tls-control-required --tls-data-required) ;;
	pier)
		cmd=("${asbench[@]}" "$PIER_EXE" -i 127.0.0.1 -p "$port" -d "$DATA" -u "$BENCH_USER" -P "$BENCH_PASS" -w
			--max-cons 0 -r "$PASV_MIN-$PASV_MAX") ;;
	esac
	CMDLINE[$v]="${cmd[*]}"
	if ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
		START_ERR="port $port is already in use"
		return 1
	fi
	: >"$logf.fd0" # vsftpd writes its "500 OOPS" to fd 0
	make_cgroup "$label-r$2"
	(
		if [ -n "$SERVER_CG" ]; then echo "$BASHPID" 2>/dev/null >"$SERVER_CG/cgroup.procs" || true; fi
		cd "$DATA" && exec "${cmd[@]}"
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
	out=$(timeout 10 openssl s_client -starttls ftp -connect "127.0.0.1:$port" -brief \
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
	local a=(-H 127.0.0.1 -P "${PORT[${1%%/*}]}" -u "$BENCH_USER" -p "$BENCH_PASS" --quiet)
	[ "$1" != pier ] && a+=(--tls)
	echo "${a[*]}"
}

FAILED_RUNS=()
run_ftpbench() { # variant round part args... (sets nothing; records failures)
	local v=$1 r=$2 part=$3 rc=0 out why cg=()
	shift 3
	out="$RESULTS/${v//\//-}-r$r.$part"
	[ -n "$SERVER_CG" ] && cg=(--cgroup "$SERVER_CG")
	# shellcheck disable=SC2046
	timeout --signal=INT "$RUN_TIMEOUT" "$BIN/ftpbench" $(bench_common "$v") "$@" --pid "$SERVER_PID" "${cg[@]}" \
		--json "$out.json" >"$out.txt" 2>&1 9>&- || rc=$?
	if [ "$rc" != 0 ]; then
		why=$(grep -oE '(error|panic|fatal)[: ].*' "$out.txt" | sed 's/[[:space:]]*$//' | sort -u | head -n 3 | tr '\n' ';')
		say "  $v round $r ($part): ftpbench exit status $rc: ${why:-see $out.txt}"
		FAILED_RUNS+=("$v round $r ($part): ftpbench exit status $rc: ${why:-see $out.txt}")
	fi
	[ -s "$out.json" ] || rm -f "$out.json"
	sed 's/^/    /' "$out.txt" | tee -a "$LOG" >&2
}

run_one() { # variant round
	local v=$1 r=$2 s=${1%%/*}
	[ -n "${SKIP[$s]:-}" ] && return 0
	if ! start_server "$v" "$r"; then
		say "  $v: could not start: $START_ERR"
		FAILED_RUNS+=("$v round $r: could not start: $START_ERR")
		return 0
	fi
	say "  $v (pid $SERVER_PID, port ${PORT[$s]})"
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

# ---------------------------------------------------------------- report
report() {
	/usr/bin/python3 - "$RESULTS" "${CERTS[0]}" "$LOGINS" "$MANY" "$FILESIZE" "$SINGLE" "$ENTRIES" "${VARIANTS[@]}" <<'PY'
import glob, json, os, re, statistics, sys

results, primary, logins, many, filesize, single, entries = sys.argv[1:8]
variants = sys.argv[8:]
GiB = 1 << 30
data = {}  # (variant, workload) -> list of result dicts
for path in sorted(glob.glob(os.path.join(results, "*-r*.*.json"))):
    base = os.path.basename(path)
    m = re.match(r"(.+)-r(\d+)\.(logins|xfer)\.json$", base)
    if not m:
        continue
    label = m.group(1)
    v = next((x for x in variants if x.replace("/", "-") == label), None)
    if v is None:
        continue
    for r in json.load(open(path)):
        if r.get("errors", 0):
            continue
        w = r["workload"]
        if w.startswith("list"):
            w = "list"
        data.setdefault((v, w), []).append(r)

def med(v, w, key):
    rs = data.get((v, w), [])
    xs = [f(r) for r in rs for f in [key] if f(r) is not None]
    if not xs:
        return None, None, None, 0
    return statistics.median(xs), min(xs), max(xs), len(xs)

def thr(r):  # MB/s (10^6 bytes a second)
    return r.get("mb_per_s") or (r["bytes"] / r["seconds"] / 1e6 if r.get("seconds") else None)
def secs(r):
    return r.get("seconds")
def cpu_gib(r):
    c = r.get("server_cpu_seconds")
    return c / (r["bytes"] / GiB) if c is not None and r.get("bytes") else None
def cpu_login_ms(r):
    c = r.get("server_cpu_seconds")
    return c * 1000 / r["clients"] if c is not None and r.get("clients") else None

rows = [
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
peers = ("vsftpd", "proftpd", "pure-ftpd")

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

out = []
certs = [primary] + sorted({v.split("/")[1] for v in variants if "/" in v} - {primary})
for cert in certs:
    cols = [v for v in variants if v.endswith("/" + cert)]
    if cert == primary and "pier" in variants:
        cols.append("pier")
    if not cols:
        continue
    out.append("### %s certificate%s" % (cert.upper() if cert == "rsa" else "ECDSA P-256",
                                          " (RSA 2048)" if cert == "rsa" else ""))
    out.append("")
    out.append("| workload | " + " | ".join(c.replace("/" + cert, "") + ("" if c == "pier" else " (TLS)") if c != "pier" else "pier (plain)" for c in cols) + " | pier-tls / best peer |")
    out.append("|---" * (len(cols) + 2) + "|")
    for w, title, key, higher in rows:
        cells, vals = [], {}
        for c in cols:
            x, lo, hi, n = med(c, w, key)
            vals[c] = x
            cells.append(fmt(x, lo, hi, n))
        if all(x is None for x in vals.values()):
            continue
        pv = vals.get("pier-tls/" + cert)
        pvals = [vals[c] for c in cols if c.split("/")[0] in peers and vals[c] is not None]
        ratio = "–"
        if pv is not None and pvals:
            best = max(pvals) if higher else min(pvals)
            ratio = "%.2f×" % (pv / best)
            if higher:
                ratio += " ✓" if pv >= best else ""
            else:
                ratio += " ✓" if pv < best else ""
        out.append("| %s | %s | %s |" % (title, " | ".join(cells), ratio))
    out.append("")

# targets (primary certificate)
def m(v, w, key=thr):
    return med(v, w, key)[0]
pt, pl = "pier-tls/" + primary, "pier"
tl = []
for w in ("stor", "retr", "retr-many"):
    p = m(pt, w)
    bp = [(m(x + "/" + primary, w), x) for x in peers]
    bp = [b for b in bp if b[0] is not None]
    if p is None or not bp:
        continue
    best, who = max(bp)
    ok = p >= best
    tl.append("- %s: pier-tls %.0f MB/s vs the best peer's FTPS (%s) %.0f MB/s: %.2f× → **%s** (target ≥ 1.0×)" %
              (w, p, who, best, p / best, "met" if ok else "missed"))
    plain = m(pl, w)
    if plain:
        tl.append("- %s: pier-tls %.0f MB/s is %.0f %% of pier's plain %.0f MB/s → **%s** (target: FTPS ≥ 60 %% of plain)" %
                  (w, p, 100 * p / plain, plain, "met" if p >= 0.6 * plain else "missed"))
for cert in certs:
    p = med("pier-tls/" + cert, "logins", secs)[0]
    bp = [(med(x + "/" + cert, "logins", secs)[0], x) for x in peers]
    bp = [b for b in bp if b[0] is not None]
    if p is None or not bp:
        continue
    best, who = min(bp)
    tl.append("- %s TLS logins (%s): pier-tls %.3f s vs the fastest peer (%s) %.3f s → **%s** (target: faster than every peer)" %
              (logins, cert.upper(), p, who, best, "met" if p < best else "missed"))
if tl:
    out.append("**Targets** (medians; the %s certificate for transfers):" % primary.upper())
    out.append("")
    out.extend(tl)
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

VARIANTS=()
for k in "${CERTS[@]}"; do
	for s in vsftpd proftpd pure-ftpd pier-tls; do
		wanted "$s" && VARIANTS+=("$s/$k")
	done
done
wanted pier && VARIANTS+=(pier)
for r in $(seq 1 "$ROUNDS"); do
	mapfile -t order < <(round_order "$r" "${VARIANTS[@]}")
	say "round $r/$ROUNDS: ${order[*]}"
	for v in "${order[@]}"; do
		run_one "$v" "$r"
	done
done

mem_total=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
ktls="no (CONFIG_TLS off or the tls module missing: setsockopt TCP_ULP \"tls\" fails)"
if [ -e /proc/net/tls_stat ]; then ktls="yes (/proc/net/tls_stat)"; fi
{
	echo "## FTPS: pier and its peers with TLS"
	echo
	if [ "$QUICK" = 1 ]; then
		echo "> **Quick run** (\`--quick\`): checks the setup; not a measurement."
		echo
	fi
	echo "Generated by \`bench/ftps.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') ($ROUNDS round(s); results: \`$RESULTS\`)."
	echo "Each server ran alone on loopback, serving the same tmpfs folder, measured by \`ftpbench --tls\`"
	echo "(explicit FTPS: AUTH TLS, PBSZ 0, PROT P; every data connection resumes the control connection's"
	echo "TLS session through the client's session cache). Medians over the rounds, (min–max) when more"
	echo "than one; the order of the servers rotated from round to round and was reversed every other round."
	echo
	echo "| Machine | |"
	echo "|---|---|"
	echo "| CPUs | $(nproc) × ${cpu_model:-unknown} (client and server share them) |"
	echo "| Memory | $mem_total |"
	echo "| Kernel | $(uname -sr); kernel TLS: $ktls |"
	echo "| OS, OpenSSL | $(. /etc/os-release && echo "$PRETTY_NAME"), $(openssl version | awk '{ print $1, $2 }') |"
	echo "| Go | $(go version | awk '{ print $3 }') |"
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
	report
	echo "Commands (PORT, PID, CGROUP per server):"
	echo
	echo '```sh'
	echo "bash bench/ftps.sh$([ "$QUICK" = 1 ] && echo " --quick") --rounds $ROUNDS --servers $SERVERS --cert $CERT --single-size $SINGLE --many $MANY --filesize $FILESIZE --logins $LOGINS --entries $ENTRIES"
	echo "ftpbench -H 127.0.0.1 -P PORT -u bench -p bench --quiet --tls -b logins -n $LOGINS --pid PID --cgroup CGROUP --json SERVER-rR.logins.json"
	echo "ftpbench -H 127.0.0.1 -P PORT -u bench -p bench --quiet --tls -b stor,retr,retr-many,list -n $MANY -s $FILESIZE --single-size $SINGLE --entries $ENTRIES --pid PID --cgroup CGROUP --json SERVER-rR.xfer.json"
	[ "${#CERTS[@]}" -gt 1 ] && echo "# with the ${CERTS[1]} certificate: -b retr instead of stor,retr,retr-many,list"
	echo "# pier (plain): the same without --tls"
	for v in "${VARIANTS[@]}"; do
		[ -n "${CMDLINE[$v]:-}" ] && echo "# $v: ${CMDLINE[$v]}"
	done
	echo '```'
	echo
	echo "Server CPU: the server's cgroup (forked session processes included) during each timed part."
	echo "vsftpd, proftpd and pure-ftpd check the password through PAM (pam_unix, sha512-crypt, about 1 ms),"
	echo "pier compares a plain one: the logins rows include that for the peers. Single transfers vary by"
	echo "10-30 % from run to run on this machine; see the ranges."
	if [ ${#FAILED_RUNS[@]} -gt 0 ]; then
		echo
		echo "Runs with errors (left out of the medians):"
		echo
		for f in "${FAILED_RUNS[@]}"; do echo "- $f"; done
	fi
} >"$RESULTS/ftps.md"
cat "$RESULTS/ftps.md"
say "done: $RESULTS/ftps.md"

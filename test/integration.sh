#!/usr/bin/env bash
# Real-client integration test for pier: curl, lftp, Python's ftplib and
# rclone talk to pier daemons started on loopback, and the results are
# checked on disk (content compared by sha256).
#
# Usage: test/integration.sh PATH/TO/pier      (or PIER=PATH/TO/pier)
#
# Environment:
#   PIER_CMD  overrides how a server is started (split on spaces), e.g.
#             PIER_CMD='/usr/bin/python3 -m pyftpdlib' to try the script
#             against pyftpdlib, whose flags are the same as pier's.
#   KEEP_TMP  non-empty: keep the temporary folder (server logs, files).
#
# Also checks FTPS (RFC 4217): explicit AUTH TLS and implicit, with TLS
# required or not, with curl (TLS 1.2 and 1.3), lftp, ftplib
# (test/ftps_check.py) and rclone, and a third party racing the client to
# the passive port (ftps_check.py thief); and TLS client certificates with
# curl, lftp and ftplib (a CA, a revocation list, an expired and a revoked
# certificate made by openssl ca).
#
# Needs curl, lftp and /usr/bin/python3; openssl to make certificate files
# (without it, the servers use --tls-self-signed); rclone (without it its
# checks are skipped, unless CI is set: then they fail); versitygw, on PATH
# or in $(go env GOPATH)/bin, for the checks of a bucket served with
# --s3-bucket (the same). Talks only to 127.0.0.1 and ::1.
# Prints "N passed, M failed" last; exits 0 only when nothing failed.
set -euo pipefail

# lftp converts file names between the local and the server charset: make
# the local one UTF-8 whatever the caller's locale.
export LC_ALL=C.UTF-8

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3 # Debian's: the one that sees Debian's packages
T=60                # bound on every client call, in seconds
FTPUSER=test
FTPPASS=secret

PIER=${1:-${PIER:-}}
if [[ -n ${PIER_CMD:-} ]]; then
	read -r -a SERVER_CMD <<<"$PIER_CMD"
else
	if [[ -z $PIER ]]; then
		echo "usage: $0 PATH/TO/pier (or set PIER, or PIER_CMD)" >&2
		exit 2
	fi
	if [[ ! -x $PIER ]]; then
		echo "$0: $PIER is not an executable file" >&2
		exit 2
	fi
	SERVER_CMD=("$(cd "$(dirname "$PIER")" && pwd)/$(basename "$PIER")")
fi
for tool in curl lftp timeout sha256sum diff "$PY"; do
	if ! command -v "$tool" >/dev/null; then
		echo "$0: $tool is missing" >&2
		exit 2
	fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pier-it.XXXXXX")
PIDS=()
LOGS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n ${KEEP_TMP:-} ]]; then
		echo "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- results

PASSED=0
FAILED=0
FAILS=()
pass() {
	PASSED=$((PASSED + 1))
	echo "ok   - $1"
}
fail() {
	FAILED=$((FAILED + 1))
	FAILS+=("$1${2:+: $2}")
	echo "FAIL - $1${2:+: $2}"
}
sha() { sha256sum <"$1" | cut -d' ' -f1; }

# log_has_more FILE PATTERN N: true once FILE has more than N lines matching
# PATTERN, waiting up to 5 s: pier writes its log in batches, a line up to
# 5 ms after it was logged.
log_has_more() {
	local i
	for i in $(seq 50); do
		(($(grep -c -- "$2" "$1" || true) > $3)) && return 0
		sleep 0.1
	done
	return 1
}
# same NAME EXPECTED ACTUAL: pass when file ACTUAL has EXPECTED's content.
same() {
	if [[ ! -f $3 ]]; then
		fail "$1" "${3#"$WORK"/} does not exist"
	elif [[ $(sha "$2") != $(sha "$3") ]]; then
		fail "$1" "${3#"$WORK"/} ($(stat -c %s "$3") bytes) differs from ${2#"$WORK"/} ($(stat -c %s "$2") bytes)"
	else
		pass "$1"
	fi
}
# client NAME CMD...: run a client bounded by $T seconds, stdout to
# $WORK/out and stderr to $WORK/err; on failure record NAME as failed.
client() {
	local name=$1 rc=0
	shift
	timeout "$T" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	if ((rc != 0)); then
		local why="exit $rc"
		((rc == 124)) && why="timed out after ${T}s"
		fail "$name" "$1 $why: $(tail -n 3 "$WORK/err" | tr '\r\n' '  ')"
		return 1
	fi
}

# ---------------------------------------------------------------- servers

free_port() { # free_port 4|6
	"$PY" - "$1" <<-'EOF'
		import socket, sys
		v6 = sys.argv[1] == "6"
		s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
		s.bind(("::1" if v6 else "127.0.0.1", 0))
		print(s.getsockname()[1])
	EOF
}

# wait_port HOST PORT PID: up to 10 s for HOST:PORT to accept while PID lives.
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$3" 2>/dev/null || return 1
		if timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; then
			sleep 0.2 # did it accept because someone else holds the port?
			kill -0 "$3" 2>/dev/null || return 1
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# start_server NAME ADDR DIR FLAGS...: start a server and wait until it
# accepts; sets SRV_PORT, SRV_PID and SRV_LOG. Retries with a new port.
# DIR "-": no -d (the flags have --users-file).
start_server() {
	local name=$1 addr=$2 dir=$3 fam=4 try port pid log
	shift 3
	[[ $addr == *:* ]] && fam=6
	local dflag=(-d "$dir") shown="-d ${dir#"$WORK"/}"
	[[ $dir == - ]] && dflag=() shown=""
	log=$WORK/$name.log
	LOGS+=("$log")
	for try in 1 2 3; do
		port=$(free_port "$fam")
		echo "# starting $name: ${SERVER_CMD[*]} -i $addr -p $port $shown $*" | tee -a "$log"
		"${SERVER_CMD[@]}" -i "$addr" -p "$port" "${dflag[@]}" "$@" </dev/null >>"$log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		if wait_port "$addr" "$port" "$pid"; then
			SRV_PORT=$port SRV_PID=$pid SRV_LOG=$log
			return 0
		fi
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		echo "# $name did not accept on [$addr]:$port (try $try)" | tee -a "$log"
	done
	return 1
}

# log_has GREP-ARGS...: up to 5 s for grep -q GREP-ARGS to find its line
# (pier writes its log in batches, a few milliseconds after the event).
log_has() {
	local i
	for ((i = 0; i < 50; i++)); do
		grep -q "$@" && return 0
		sleep 0.1
	done
	return 1
}

# the startup log must say where the server listens
check_startup_log() { # NAME
	if log_has -- "$SRV_PORT" "$SRV_LOG"; then
		pass "$1: startup log names the listening port"
	else
		fail "$1: startup log names the listening port" "port $SRV_PORT not in the log"
	fi
}

summary() {
	# Stop the servers first, so that a race detector's report (pier is
	# built with -race by integration_test.go) or a panic is in the logs.
	local pid log
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	for log in "${LOGS[@]}"; do
		[[ -f $log ]] || continue
		if grep -q -e 'WARNING: DATA RACE' -e '^panic:' -e 'level=ERROR' "$log"; then
			fail "${log##*/}: no data race, panic or error in the server log" "$(grep -m1 -e 'WARNING: DATA RACE' -e '^panic:' -e 'level=ERROR' "$log")"
		else
			pass "${log##*/}: no data race, panic or error in the server log"
		fi
	done
	echo
	if ((FAILED > 0)); then
		echo "Failed checks:"
		printf '  - %s\n' "${FAILS[@]}"
		for log in "${LOGS[@]}"; do
			[[ -f $log ]] || continue
			echo
			echo "----- tail of ${log##*/} -----"
			tail -n 40 "$log"
		done
		echo
	fi
	echo "$PASSED passed, $FAILED failed"
	((FAILED == 0))
}

# ---------------------------------------------------------------- data

L=$WORK/local # the client side
S=$WORK/srv   # served with write permission to user test
A=$WORK/anon  # served read-only to anonymous
mkdir -p "$L" "$S" "$A"

head -c 1048576 /dev/urandom >"$L/up.bin"
head -c 1048699 /dev/urandom >"$S/dl.bin"
head -c 2097152 /dev/urandom >"$L/big.bin"
head -c 2100000 /dev/urandom >"$S/resume_dl.bin"
mkdir -p "$S/listdir/sub"
printf 'hello\n' >"$S/listdir/a.txt"
printf 'spaced out\n' >"$S/listdir/b c.txt"
printf 'delete me\n' >"$S/del.txt"

# the tree for lftp's mirror
TREE=$L/tree_src
mkdir -p "$TREE/a/b/c" "$TREE/a/b/sp ace dir" "$TREE/emptydir"
printf 'top\n' >"$TREE/top.txt"
: >"$TREE/empty.txt"
printf 'with space\n' >"$TREE/with space.txt"
printf 'caf\xc3\xa9\n' >"$TREE/café.txt"
printf 'deep\n' >"$TREE/a/b/c/deep.txt"
printf 'x\n' >"$TREE/a/b/sp ace dir/x.txt"
head -c 5242880 /dev/urandom >"$TREE/a/big.bin"
cp -a "$TREE" "$S/tree"

printf 'read me\n' >"$A/readme.txt"

# ---------------------------------------------------------------- curl

if ! start_server main 127.0.0.1 "$S" -u "$FTPUSER" -P "$FTPPASS" -w -D; then
	fail "start server (user $FTPUSER, write)" "it did not accept connections within 10 s"
	summary
	exit 1
fi
P=$SRV_PORT
U=ftp://127.0.0.1:$P
CURL=(curl -sS --connect-timeout 10 --user "$FTPUSER:$FTPPASS")
check_startup_log main

if client "curl upload (STOR)" "${CURL[@]}" -T "$L/up.bin" "$U/up.bin"; then
	same "curl upload (STOR)" "$L/up.bin" "$S/up.bin"
fi

if client "curl download (EPSV, RETR)" "${CURL[@]}" -o "$L/dl.bin" "$U/dl.bin"; then
	same "curl download (EPSV, RETR)" "$S/dl.bin" "$L/dl.bin"
fi

if client "curl download (PASV)" "${CURL[@]}" --disable-epsv -o "$L/dl_pasv.bin" "$U/dl.bin"; then
	same "curl download (PASV)" "$S/dl.bin" "$L/dl_pasv.bin"
fi

if client "curl download of a name with a space" "${CURL[@]}" -o "$L/b c.txt" "$U/listdir/b%20c.txt"; then
	same "curl download of a name with a space" "$S/listdir/b c.txt" "$L/b c.txt"
fi

if client "curl LIST" "${CURL[@]}" "$U/listdir/"; then
	tr -d '\r' <"$WORK/out" >"$WORK/list"
	size=$(awk '$NF == "a.txt" { print $5 }' "$WORK/list")
	if [[ $size == 6 ]] && grep -q '^-.* b c\.txt$' "$WORK/list" && grep -q '^d.* sub$' "$WORK/list"; then
		pass "curl LIST"
	else
		fail "curl LIST" "want ls -l lines for a.txt (size 6), 'b c.txt' and directory sub; got: $(tr '\n' '|' <"$WORK/list")"
	fi
fi

if client "curl NLST (-l)" "${CURL[@]}" -l "$U/listdir/"; then
	got=$(tr -d '\r' <"$WORK/out" | LC_ALL=C sort | tr '\n' '|')
	if [[ $got == 'a.txt|b c.txt|sub|' ]]; then
		pass "curl NLST (-l)"
	else
		fail "curl NLST (-l)" "want a.txt|b c.txt|sub|, got $got"
	fi
fi

if client "curl --ftp-create-dirs upload" "${CURL[@]}" --ftp-create-dirs -T "$L/up.bin" "$U/new1/new2/new3/deep.bin"; then
	same "curl --ftp-create-dirs upload" "$L/up.bin" "$S/new1/new2/new3/deep.bin"
fi

if client "curl active download (EPRT)" "${CURL[@]}" -P - -o "$L/dl_active.bin" "$U/dl.bin"; then
	same "curl active download (EPRT)" "$S/dl.bin" "$L/dl_active.bin"
fi

if client "curl active upload (EPRT)" "${CURL[@]}" -P - -T "$L/up.bin" "$U/up_active.bin"; then
	same "curl active upload (EPRT)" "$L/up.bin" "$S/up_active.bin"
fi

if client "curl active upload (PORT)" "${CURL[@]}" -P - --disable-eprt -T "$L/up.bin" "$U/up_port.bin"; then
	same "curl active upload (PORT)" "$L/up.bin" "$S/up_port.bin"
fi

# resume an upload: the server holds the first 700000 bytes (SIZE, APPE)
head -c 700000 "$L/big.bin" >"$S/resume_up.bin"
if client "curl resumed upload (-C -)" "${CURL[@]}" -C - -T "$L/big.bin" "$U/resume_up.bin"; then
	same "curl resumed upload (-C -)" "$L/big.bin" "$S/resume_up.bin"
fi

# resume a download: the client holds the first 700001 bytes (REST, RETR)
head -c 700001 "$S/resume_dl.bin" >"$L/resume_dl.bin"
if client "curl resumed download (-C -)" "${CURL[@]}" -C - -o "$L/resume_dl.bin" "$U/resume_dl.bin"; then
	same "curl resumed download (-C -)" "$S/resume_dl.bin" "$L/resume_dl.bin"
fi

if client "curl DELE (-Q)" "${CURL[@]}" -Q 'DELE del.txt' -o /dev/null "$U/"; then
	if [[ -e $S/del.txt ]]; then
		fail "curl DELE (-Q)" "del.txt is still on disk"
	else
		pass "curl DELE (-Q)"
	fi
fi

rc=0
timeout "$T" "${CURL[@]}" -Q 'DELE no_such_file' -o /dev/null "$U/" >"$WORK/out" 2>"$WORK/err" || rc=$?
if ((rc == 21)); then # CURLE_QUOTE_ERROR: the server refused the command
	pass "curl DELE of a missing file is refused"
else
	fail "curl DELE of a missing file is refused" "curl exit $rc, want 21: $(tail -n 2 "$WORK/err" | tr '\n' ' ')"
fi

rc=0
timeout "$T" curl -sS --connect-timeout 10 --user "$FTPUSER:wrong" -o /dev/null "$U/" >"$WORK/out" 2>"$WORK/err" || rc=$?
if ((rc == 67)); then # CURLE_LOGIN_DENIED
	pass "curl login with a wrong password is denied"
else
	fail "curl login with a wrong password is denied" "curl exit $rc, want 67: $(tail -n 2 "$WORK/err" | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- IPv6

if "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	S6=$WORK/srv6
	mkdir -p "$S6"
	head -c 524288 /dev/urandom >"$S6/v6.bin"
	if start_server ipv6 ::1 "$S6" -u "$FTPUSER" -P "$FTPPASS" -w -D; then
		U6="ftp://[::1]:$SRV_PORT"
		check_startup_log ipv6
		if client "curl IPv6 download (EPSV)" "${CURL[@]}" -g -o "$L/v6.bin" "$U6/v6.bin"; then
			same "curl IPv6 download (EPSV)" "$S6/v6.bin" "$L/v6.bin"
		fi
		if client "curl IPv6 upload (EPSV)" "${CURL[@]}" -g -T "$L/up.bin" "$U6/up6.bin"; then
			same "curl IPv6 upload (EPSV)" "$L/up.bin" "$S6/up6.bin"
		fi
		if client "curl IPv6 active upload (EPRT |2|)" "${CURL[@]}" -g -P - -T "$L/up.bin" "$U6/up6_active.bin"; then
			same "curl IPv6 active upload (EPRT |2|)" "$L/up.bin" "$S6/up6_active.bin"
		fi
		if client "curl IPv6 NLST" "${CURL[@]}" -g -l "$U6/"; then
			if tr -d '\r' <"$WORK/out" | grep -qx 'v6\.bin'; then
				pass "curl IPv6 NLST"
			else
				fail "curl IPv6 NLST" "v6.bin not listed: $(tr '\r\n' '||' <"$WORK/out")"
			fi
		fi
	else
		fail "start server on ::1" "it did not accept connections within 10 s"
	fi
else
	echo "SKIP - IPv6 checks: ::1 cannot be bound on this machine"
fi

# ---------------------------------------------------------------- lftp

lftp_run() { # lftp_run NAME COMMANDS
	client "$1" lftp -c "set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1; set ftp:ssl-allow no; set file:charset UTF-8; set cmd:fail-exit yes; open -u $FTPUSER,$FTPPASS ftp://127.0.0.1:$P; $2"
}

if lftp_run "lftp mirror (download)" "mirror --parallel=3 tree '$L/tree_dl'"; then
	if diff -r "$TREE" "$L/tree_dl" >"$WORK/diff" 2>&1; then
		pass "lftp mirror (download)"
	else
		fail "lftp mirror (download)" "trees differ: $(head -n 5 "$WORK/diff" | tr '\n' '|')"
	fi
fi

if lftp_run "lftp mirror -R (upload)" "mirror -R --parallel=3 '$TREE' tree_up"; then
	if diff -r "$TREE" "$S/tree_up" >"$WORK/diff" 2>&1; then
		pass "lftp mirror -R (upload)"
	else
		fail "lftp mirror -R (upload)" "trees differ: $(head -n 5 "$WORK/diff" | tr '\n' '|')"
	fi
fi

if [[ -d $S/tree_up ]] && lftp_run "lftp rm -r" "rm -r tree_up"; then
	if [[ -e $S/tree_up ]]; then
		fail "lftp rm -r" "tree_up is still on disk: $(find "$S/tree_up" | head -n 5 | tr '\n' '|')"
	elif [[ ! -d $S/tree ]]; then
		fail "lftp rm -r" "the sibling folder tree went too"
	else
		pass "lftp rm -r"
	fi
fi

# ---------------------------------------------------------------- ftplib

# pycheck NAME SCRIPT ARGS...: run the Python check SCRIPT (in this
# folder); count its ok / not ok lines.
pycheck() {
	local name=$1 script=$2 rc=0 line
	shift 2
	timeout "$T" "$PY" "$HERE/$script" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) pass "$name: ${line#ok - }" ;;
		"not ok - "*) fail "$name: ${line#not ok - }" ;;
		*) echo "     $line" ;;
		esac
	done <"$WORK/out"
	if ((rc != 0)) && ! grep -q '^not ok - ' "$WORK/out"; then
		local why="exit $rc"
		((rc == 124)) && why="timed out after ${T}s"
		fail "$name" "$script $why: $(tail -n 5 "$WORK/err" | tr '\n' '|')"
	fi
}
ftplib() { pycheck "$1" ftplib_check.py "${@:2}"; }

ftplib "ftplib (user)" user 127.0.0.1 "$P" "$FTPUSER" "$FTPPASS" "$S"

if start_server anon 127.0.0.1 "$A" -D; then
	check_startup_log anon
	ftplib "ftplib (anonymous, read-only)" anon 127.0.0.1 "$SRV_PORT" "$A"
else
	fail "start anonymous read-only server" "it did not accept connections within 10 s"
fi

# ---------------------------------------------------------------- FTPS

# The first FTPS server requires TLS on both connections, and (by default)
# that protected data connections resume a TLS session of the same client
# (its control connection's, or rclone's other control connections');
# its certificate comes from files. The second has a certificate made in
# memory and requires nothing.
F=$WORK/ftps   # served by the strict FTPS server
F2=$WORK/ftps2 # served by the relaxed one
mkdir -p "$F" "$F2"
cp "$S/dl.bin" "$F/dl.bin"
cp "$S/dl.bin" "$F2/dl.bin"
cp -a "$TREE" "$F/tree"

TLS_FLAGS=(--tls-self-signed)
CAFILE=- # ftps_check.py: no verification
if command -v openssl >/dev/null; then
	# The names are in subjectAltName too, so that clients may verify it.
	if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 -subj /CN=localhost \
		-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1' >"$WORK/openssl.log" 2>&1; then
		TLS_FLAGS=(--tls --certfile "$WORK/cert.pem" --keyfile "$WORK/key.pem")
		CAFILE=$WORK/cert.pem
	else
		fail "make a certificate with openssl" "$(tail -n 3 "$WORK/openssl.log" | tr '\n' '|'); using --tls-self-signed"
	fi
else
	echo "SKIP - certificate files: openssl is missing, the strict FTPS server uses --tls-self-signed"
fi

PI=$(free_port 4) # implicit FTPS
if start_server ftps 127.0.0.1 "$F" "${TLS_FLAGS[@]}" --tls-control-required --tls-data-required \
	--tls-implicit-port "$PI" -u "$FTPUSER" -P "$FTPPASS" -w -D; then
	PF=$SRV_PORT
	FLOG=$SRV_LOG
	UF=ftp://127.0.0.1:$PF
	check_startup_log ftps
	if [[ $CAFILE != - ]]; then
		want=$(openssl x509 -in "$CAFILE" -noout -fingerprint -sha256 | cut -d= -f2)
		if log_has -- "sha256=$want" "$SRV_LOG"; then
			pass "ftps: startup log has the certificate file's sha256 fingerprint"
		else
			fail "ftps: startup log has the certificate file's sha256 fingerprint" "want sha256=$want; got: $(grep -o 'sha256=[^ ]*' "$SRV_LOG" | head -n 1)"
		fi
	fi
	if wait_port 127.0.0.1 "$PI" "$SRV_PID"; then
		pass "ftps: implicit FTPS port accepts"
	else
		fail "ftps: implicit FTPS port accepts" "nothing accepts on 127.0.0.1:$PI"
	fi

	CURLS=("${CURL[@]}" --ssl-reqd -k)
	if client "curl FTPS upload (AUTH TLS, PROT P, STOR)" "${CURLS[@]}" -T "$L/up.bin" "$UF/up.bin"; then
		same "curl FTPS upload (AUTH TLS, PROT P, STOR)" "$L/up.bin" "$F/up.bin"
	fi

	if client "curl FTPS download (RETR)" "${CURLS[@]}" -o "$L/ftps_dl.bin" "$UF/dl.bin"; then
		same "curl FTPS download (RETR)" "$F/dl.bin" "$L/ftps_dl.bin"
	fi

	# curl's parallel mode shares one TLS session cache among its transfers,
	# so a data connection may offer the session of another transfer's
	# control connection (vsftpd and proftpd refuse those): pier accepts a
	# session of the same user from the same address. (Its parallel uploads
	# often offer no session at all on their data connections, which pier
	# refuses with 522, as vsftpd's require_ssl_reuse does: see the README.)
	cfg=$WORK/curl-parallel.cfg
	: >"$cfg"
	for i in 1 2 3 4 5 6; do
		printf 'url = "%s/dl.bin"\noutput = "%s/ftps_par%d.bin"\n' "$UF" "$L" "$i" >>"$cfg"
	done
	name="curl FTPS --parallel (shared TLS session cache): 6 downloads at once"
	cross="resumed the TLS session of another control connection"
	before=$(grep -c "$cross" "$FLOG" || true)
	if client "$name" "${CURLS[@]}" --parallel --parallel-immediate --parallel-max 6 -K "$cfg"; then
		bad=""
		for i in 1 2 3 4 5 6; do
			[[ -f $L/ftps_par$i.bin && $(sha "$L/ftps_par$i.bin") == $(sha "$F/dl.bin") ]] || bad="$bad $i"
		done
		if [[ -z $bad ]]; then
			pass "$name: byte-exact"
		else
			fail "$name: byte-exact" "wrong or missing:$bad"
		fi
		# 5 or 6 of the 6 did, in 15 runs by hand
		if log_has_more "$FLOG" "$cross" "$before"; then
			pass "$name: data connections resumed another control connection's session"
		else
			fail "$name: data connections resumed another control connection's session" "no \"$cross\" in the server's log"
		fi
	fi

	# No curl active FTPS: curl 7.88 accepts the data connection from the
	# server but never starts TLS on it. ftps_check.py checks active mode.

	if client "curl FTPS LIST" "${CURLS[@]}" "$UF/"; then
		tr -d '\r' <"$WORK/out" >"$WORK/list"
		size=$(awk '$NF == "up.bin" { print $5 }' "$WORK/list")
		if [[ $size == 1048576 ]] && grep -q '^d.* tree$' "$WORK/list"; then
			pass "curl FTPS LIST"
		else
			fail "curl FTPS LIST" "want ls -l lines for up.bin (size 1048576) and directory tree; got: $(tr '\n' '|' <"$WORK/list")"
		fi
	fi

	rc=0
	timeout "$T" "${CURL[@]}" -o /dev/null "$UF/" >"$WORK/out" 2>"$WORK/err" || rc=$?
	if ((rc == 67)) && grep -q 530 "$WORK/err"; then # CURLE_LOGIN_DENIED
		pass "curl plain FTP login is refused with 530 (tls-control-required)"
	else
		fail "curl plain FTP login is refused with 530 (tls-control-required)" "curl exit $rc, want 67 and a 530 reply: $(tail -n 2 "$WORK/err" | tr '\n' ' ')"
	fi

	UI=ftps://127.0.0.1:$PI
	if client "curl implicit FTPS download" "${CURL[@]}" -k -o "$L/ftps_implicit.bin" "$UI/dl.bin"; then
		same "curl implicit FTPS download" "$F/dl.bin" "$L/ftps_implicit.bin"
	fi

	if client "curl implicit FTPS NLST" "${CURL[@]}" -k -l "$UI/"; then
		got=$(tr -d '\r' <"$WORK/out" | LC_ALL=C sort | tr '\n' '|')
		if [[ $got == 'dl.bin|tree|up.bin|' ]]; then
			pass "curl implicit FTPS NLST"
		else
			fail "curl implicit FTPS NLST" "want dl.bin|tree|up.bin|, got $got"
		fi
	fi

	if client "curl FTPS TLS 1.3 upload" "${CURLS[@]}" --tlsv1.3 -T "$L/up.bin" "$UF/up13.bin"; then
		same "curl FTPS TLS 1.3 upload" "$L/up.bin" "$F/up13.bin"
	fi

	if client "curl FTPS TLS 1.3 download" "${CURLS[@]}" --tlsv1.3 -o "$L/ftps_dl13.bin" "$UF/dl.bin"; then
		same "curl FTPS TLS 1.3 download" "$F/dl.bin" "$L/ftps_dl13.bin"
	fi

	# curl (OpenSSL) offers no session tickets in TLS 1.2, only session
	# IDs, which Go's TLS server never resumes: its data connections can't
	# resume a session, and get 522, with the reason in the log. (It works
	# with --tls-allow-no-reuse: see the second FTPS server.)
	rc=0
	timeout "$T" "${CURLS[@]}" --tls-max 1.2 -o "$L/ftps_dl12.bin" "$UF/dl.bin" >"$WORK/out" 2>"$WORK/err" || rc=$?
	# curl sees the data connection fail before pier has logged why: wait
	# for the line (at most 5 s).
	for _ in $(seq 50); do
		grep -q 'TLS 1.2 client without session tickets' "$FLOG" && break
		sleep 0.1
	done
	if ((rc != 0)) && grep -q 'TLS 1.2 client without session tickets' "$FLOG"; then
		pass "curl FTPS --tls-max 1.2 is refused (522) and the log says why"
	else
		fail "curl FTPS --tls-max 1.2 is refused (522) and the log says why" "curl exit $rc: $(tail -n 2 "$WORK/err" | tr '\n' ' '); log: $(grep 'refused a protected' "$FLOG" | tail -n 1)"
	fi

	lftps_run() { # lftps_run NAME COMMANDS
		client "$1" lftp -c "set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1; set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate no; set file:charset UTF-8; set cmd:fail-exit yes; open -u $FTPUSER,$FTPPASS $UF; $2"
	}

	if lftps_run "lftp FTPS mirror (download)" "mirror --parallel=3 tree '$L/ftps_tree_dl'"; then
		if diff -r "$TREE" "$L/ftps_tree_dl" >"$WORK/diff" 2>&1; then
			pass "lftp FTPS mirror (download)"
		else
			fail "lftp FTPS mirror (download)" "trees differ: $(head -n 5 "$WORK/diff" | tr '\n' '|')"
		fi
	fi

	if lftps_run "lftp FTPS mirror -R (upload)" "mirror -R --parallel=3 '$TREE' tree_up"; then
		if diff -r "$TREE" "$F/tree_up" >"$WORK/diff" 2>&1; then
			pass "lftp FTPS mirror -R (upload)"
		else
			fail "lftp FTPS mirror -R (upload)" "trees differ: $(head -n 5 "$WORK/diff" | tr '\n' '|')"
		fi
	fi

	# TLS 1.2 through GnuTLS's priority string (Debian's lftp uses GnuTLS,
	# which offers session tickets in TLS 1.2).
	n12=$(grep -c 'control connection secured.*tls="TLS 1.2"' "$FLOG" || true)
	if lftps_run "lftp FTPS TLS 1.2 mirror (download)" "set ssl:priority NORMAL:-VERS-TLS1.3; mirror --parallel=3 tree '$L/ftps_tree_dl12'"; then
		if ! diff -r "$TREE" "$L/ftps_tree_dl12" >"$WORK/diff" 2>&1; then
			fail "lftp FTPS TLS 1.2 mirror (download)" "trees differ: $(head -n 5 "$WORK/diff" | tr '\n' '|')"
		elif (($(grep -c 'control connection secured.*tls="TLS 1.2"' "$FLOG" || true) == n12)); then
			fail "lftp FTPS TLS 1.2 mirror (download)" "no TLS 1.2 control connection in the log: ssl:priority had no effect"
		else
			pass "lftp FTPS TLS 1.2 mirror (download)"
		fi
	fi

	# rclone keeps one TLS session cache for the pool of connections it
	# opens, so a data connection may offer the session of another of its
	# control connections: accepted for the same user from the same address.
	if command -v rclone >/dev/null; then
		RC=$L/rclone_src
		mkdir -p "$RC/sub/deeper"
		for i in 1 2 3 4 5 6 7 8; do
			head -c $((i * 100003)) /dev/urandom >"$RC/f$i.bin"
		done
		: >"$RC/empty.txt"
		printf 'nested\n' >"$RC/sub/n.txt"
		head -c 300000 /dev/urandom >"$RC/sub/deeper/d.bin"
		: >"$WORK/rclone.conf"
		RCLONE_ENV=(RCLONE_CONFIG="$WORK/rclone.conf" RCLONE_CONFIG_PIER_TYPE=ftp
			RCLONE_CONFIG_PIER_HOST=127.0.0.1 RCLONE_CONFIG_PIER_PORT="$PF"
			RCLONE_CONFIG_PIER_USER="$FTPUSER" RCLONE_CONFIG_PIER_PASS="$(rclone obscure "$FTPPASS")"
			RCLONE_CONFIG_PIER_EXPLICIT_TLS=true RCLONE_CONFIG_PIER_NO_CHECK_CERTIFICATE=true)
		for tls in 1.3 1.2; do
			no13=false
			[[ $tls == 1.2 ]] && no13=true
			# No retries: a refused transfer must fail the check.
			RCLONE=(env "${RCLONE_ENV[@]}" RCLONE_CONFIG_PIER_DISABLE_TLS13=$no13
				rclone --retries 1 --low-level-retries 1 --transfers 4 --checkers 4)
			if client "rclone FTPS sync (TLS $tls)" "${RCLONE[@]}" sync "$RC" "pier:rclone$tls"; then
				if diff -r "$RC" "$F/rclone$tls" >"$WORK/diff" 2>&1; then
					pass "rclone FTPS sync (TLS $tls)"
				else
					fail "rclone FTPS sync (TLS $tls)" "trees differ: $(head -n 5 "$WORK/diff" | tr '\n' '|')"
				fi
			fi
			if client "rclone FTPS check --download (TLS $tls)" "${RCLONE[@]}" check --download "$RC" "pier:rclone$tls"; then
				pass "rclone FTPS check --download (TLS $tls)"
			fi
		done
		echo "     rclone: $(grep -c 'resumed the TLS session of another control connection' "$FLOG" || true) data connection(s) resumed the session of another of its control connections"
	elif [[ -n ${CI:-} ]]; then
		fail "rclone FTPS" "rclone is missing (apt-get install rclone); CI must not skip it"
	else
		echo "SKIP - rclone checks: rclone is missing (apt-get install rclone)"
	fi

	pycheck "ftplib FTPS (strict)" ftps_check.py strict 127.0.0.1 "$PF" "$FTPUSER" "$FTPPASS" "$F" "$CAFILE"

	# A third party on the client's address reaches the passive port
	# first: it gets nothing, the client a 522, and the log says why.
	before=$(grep -c 'refused a protected data connection' "$FLOG" || true)
	pycheck "ftplib FTPS passive-port thief" ftps_check.py thief 127.0.0.1 "$PF" "$FTPUSER" "$FTPPASS" "$F" "$CAFILE"
	log_has_more "$FLOG" 'refused a protected data connection' "$((before + 1))" || true # two refusals
	refusals=$(grep 'refused a protected data connection' "$FLOG" | tail -n +$((before + 1)))
	if grep -q 'no TLS session offered' <<<"$refusals" && grep -q 'not logged in as the same user' <<<"$refusals"; then
		pass "ftps: the log names why each thief was refused"
	else
		fail "ftps: the log names why each thief was refused" "new refusals: $(tr '\n' '|' <<<"$refusals")"
	fi
else
	fail "start the strict FTPS server" "it did not accept connections within 10 s"
fi

if start_server ftps2 127.0.0.1 "$F2" --tls-self-signed --tls-allow-no-reuse -u "$FTPUSER" -P "$FTPPASS" -w -D; then
	check_startup_log ftps2
	log_has 'sha256=[0-9A-F:]' "$SRV_LOG" || true
	logged=$(grep -o -m1 'sha256=[0-9A-F:]*' "$SRV_LOG" | cut -d= -f2 || true)
	if [[ ${#logged} == 95 ]]; then # 32 bytes: 64 hex digits, 31 colons
		pass "ftps2: startup log has the certificate's sha256 fingerprint"
		if client "ftps2: the logged fingerprint is the certificate served" "$PY" "$HERE/ftps_check.py" fingerprint 127.0.0.1 "$SRV_PORT"; then
			if [[ $(<"$WORK/out") == "$logged" ]]; then
				pass "ftps2: the logged fingerprint is the certificate served"
			else
				fail "ftps2: the logged fingerprint is the certificate served" "logged $logged, served $(<"$WORK/out")"
			fi
		fi
	else
		fail "ftps2: startup log has the certificate's sha256 fingerprint" "no sha256=XX:XX:... in the log: $(grep -m1 FTPS "$SRV_LOG")"
	fi
	pycheck "ftplib FTPS (self-signed, no reuse, nothing required)" ftps_check.py relaxed 127.0.0.1 "$SRV_PORT" "$FTPUSER" "$FTPPASS" "$F2" -

	U2=ftp://127.0.0.1:$SRV_PORT
	if client "curl FTPS --tls-max 1.2 upload (--tls-allow-no-reuse)" "${CURL[@]}" --ssl-reqd -k --tls-max 1.2 -T "$L/up.bin" "$U2/up12.bin"; then
		same "curl FTPS --tls-max 1.2 upload (--tls-allow-no-reuse)" "$L/up.bin" "$F2/up12.bin"
	fi
	if client "curl FTPS --tls-max 1.2 download (--tls-allow-no-reuse)" "${CURL[@]}" --ssl-reqd -k --tls-max 1.2 -o "$L/ftps2_dl12.bin" "$U2/dl.bin"; then
		same "curl FTPS --tls-max 1.2 download (--tls-allow-no-reuse)" "$F2/dl.bin" "$L/ftps2_dl12.bin"
	fi
else
	fail "start the self-signed FTPS server" "it did not accept connections within 10 s"
fi

# ------------------------------------------------ TLS client certificates

# A CA made with openssl ca, which also revokes and writes the list; a
# users file with carol (certificate alone) and dave (certificate and
# password). The certificates: carol's, dave's, carol's expired, carol's
# revoked, and carol's from another CA.
certs_made() {
	local ca=$WORK/ca n
	mkdir -p "$ca/new"
	: >"$ca/index.txt"
	echo 1000 >"$ca/serial"
	echo 1000 >"$ca/crlnumber"
	cat >"$ca/ca.cnf" <<-EOF
		[ ca ]
		default_ca = testca
		[ testca ]
		database = $ca/index.txt
		new_certs_dir = $ca/new
		certificate = $ca/ca.pem
		private_key = $ca/ca.key
		serial = $ca/serial
		crlnumber = $ca/crlnumber
		default_md = sha256
		default_days = 2
		default_crl_days = 2
		policy = anything
		unique_subject = no
		x509_extensions = client
		[ anything ]
		commonName = supplied
		[ client ]
		basicConstraints = CA:FALSE
		extendedKeyUsage = clientAuth
	EOF
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ca/ca.key" -out "$ca/ca.pem" -days 2 -subj "/CN=pier integration CA" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ca/other.key" -out "$ca/other.pem" -days 2 -subj "/CN=carol" || return 1
	for n in carol dave expired revoked; do
		local cn=$n
		[[ $n == expired || $n == revoked ]] && cn=carol
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ca/$n.key" -out "$ca/$n.csr" -subj "/CN=$cn" || return 1
	done
	local sign=(openssl ca -batch -notext -config "$ca/ca.cnf")
	"${sign[@]}" -in "$ca/carol.csr" -out "$ca/carol.pem" &&
		"${sign[@]}" -in "$ca/dave.csr" -out "$ca/dave.pem" &&
		"${sign[@]}" -in "$ca/revoked.csr" -out "$ca/revoked.pem" &&
		"${sign[@]}" -startdate 20200101000000Z -enddate 20200102000000Z -in "$ca/expired.csr" -out "$ca/expired.pem" &&
		"${sign[@]}" -revoke "$ca/revoked.pem" &&
		"${sign[@]}" -gencrl -out "$ca/crl.pem"
}

CC=$WORK/ca
C3=$WORK/certhome
mkdir -p "$C3"
cp "$S/dl.bin" "$C3/dl.bin"
if ! command -v openssl >/dev/null; then
	echo "SKIP - TLS client certificates: openssl is missing"
elif ! certs_made >"$WORK/ca.log" 2>&1; then
	fail "make a CA, client certificates and a revocation list with openssl" "$(tail -n 3 "$WORK/ca.log" | tr '\n' '|')"
else
	# auth.HashPassword's argon2id of "davepw", made by pier passwd.
	DAVEHASH=$(printf 'davepw\n' | "${SERVER_CMD[@]}" passwd)
	printf 'carol:cert:elr:%s\ndave:cert+%s:elr:%s\n' "$C3" "$DAVEHASH" "$C3" >"$WORK/cert-users"
	if start_server certs 127.0.0.1 - --users-file "$WORK/cert-users" --tls-self-signed --tls-control-required \
		--tls-client-ca "$CC/ca.pem" --tls-client-crl "$CC/crl.pem" -D; then
		UC=ftp://127.0.0.1:$SRV_PORT
		CURLC=(curl -sS --connect-timeout 10 --ssl-reqd -k)
		if client "curl client certificate alone (230 to USER)" "${CURLC[@]}" --cert "$CC/carol.pem" --key "$CC/carol.key" -u carol: -o "$L/cert_dl.bin" "$UC/dl.bin"; then
			same "curl client certificate alone (230 to USER)" "$C3/dl.bin" "$L/cert_dl.bin"
		fi
		if client "curl client certificate and password" "${CURLC[@]}" --cert "$CC/dave.pem" --key "$CC/dave.key" -u dave:davepw -o "$L/cert_dl2.bin" "$UC/dl.bin"; then
			same "curl client certificate and password" "$C3/dl.bin" "$L/cert_dl2.bin"
		fi
		# refused NAME USER CERT REPLY: curl fails, and the server said REPLY.
		refused() {
			local keyarg=()
			[[ -n $3 ]] && keyarg=(--cert "$CC/$3.pem" --key "$CC/$3.key")
			if timeout "$T" "${CURLC[@]}" -v "${keyarg[@]}" -u "$2:davepw" -o /dev/null "$UC/dl.bin" >"$WORK/out" 2>&1; then
				fail "$1" "curl got the file"
			elif grep -qF "< $4" "$WORK/out"; then
				pass "$1"
			else
				fail "$1" "no \"$4\" in curl's trace: $(grep '^< 5' "$WORK/out" | tr '\n' '|')"
			fi
		}
		refused "client certificate expired (openssl ca)" carol expired "530 Client certificate refused: expired."
		refused "client certificate revoked (openssl ca -gencrl)" carol revoked "530 Client certificate refused: revoked."
		refused "client certificate of another CA" carol other "530 Client certificate refused: not issued by a trusted CA."
		refused "no client certificate" carol "" "530 Client certificate required."
		refused "another user's client certificate" dave carol "530 Client certificate not accepted for this user."
		if client "lftp client certificate alone" lftp -c "set net:max-retries 1; set net:timeout 10; set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate no; set ssl:cert-file $CC/carol.pem; set ssl:key-file $CC/carol.key; set cmd:fail-exit yes; open -u carol, ftp://127.0.0.1:$SRV_PORT; get dl.bin -o '$L/cert_lftp.bin'"; then
			same "lftp client certificate alone" "$C3/dl.bin" "$L/cert_lftp.bin"
		fi
		if client "ftplib client certificate alone" "$PY" - "$SRV_PORT" "$CC" <<-'EOF'; then
			import ftplib, ssl, sys
			ctx = ssl.create_default_context()
			ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
			ctx.load_cert_chain(sys.argv[2] + "/carol.pem", sys.argv[2] + "/carol.key")
			f = ftplib.FTP_TLS(context=ctx, timeout=10)
			f.connect("127.0.0.1", int(sys.argv[1]))
			reply = f.login("carol", "")
			assert reply.startswith("230 "), reply
			f.quit()
		EOF
			pass "ftplib client certificate alone"
		fi
		if grep -q 'msg="user logged in".*user=carol cert_subject="CN=carol" cert_serial=' "$SRV_LOG"; then
			pass "certs: the log names the certificate of each login"
		else
			fail "certs: the log names the certificate of each login" "$(grep -m1 'user logged in' "$SRV_LOG")"
		fi
	else
		fail "start the client-certificate server" "it did not accept connections within 10 s"
	fi
fi

# ------------------------------------------ transfer log (--xferlog)

# A server with --xferlog: transfers that complete (curl) and transfers
# cut by ABOR (ftplib: three uploads, one download). fail2ban-regex with
# contrib/fail2ban/filter.d/pier-xferlog.conf must match exactly the cut
# uploads (the filter's default), or every cut transfer (direction=[io]),
# each line with its date and host. Then logrotate with
# contrib/logrotate.d/pier, its postrotate signalling this pier (SIGUSR1),
# must leave the old lines in the rotated file and the next in a new one.
# Without fail2ban-regex or logrotate their checks are skipped, unless CI
# is set: then they fail.
XL=$WORK/xferlog
XD=$WORK/xferhome
mkdir -p "$XD"
cp "$S/dl.bin" "$XD/dl.bin"
truncate -s 64M "$XD/big.bin" # more than the socket buffers hold: its download can be cut
# xferlog_wait FILE N: up to 10 s for FILE to have N lines (pier writes
# them from a goroutine of its own, just after the transfer's reply).
xferlog_wait() {
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -f $1 ]] && (($(wc -l <"$1") >= $2)) && return 0
		sleep 0.1
	done
	return 1
}
# f2b_results: "F D L" from fail2ban-regex's report in $WORK/out: the
# Failregex total, the lines whose date was found (Date template hits),
# and the lines read.
f2b_results() {
	awk '/^Failregex: [0-9]+ total/ { f = $2 }
		/^Date template hits:/ { d = 1; next }
		d && /^`-/ { d = 0 }
		d && match($0, /\[[0-9]+\]/) { h += substr($0, RSTART + 1, RLENGTH - 2) }
		/^Lines: [0-9]+ lines/ { l = $2 }
		END { print f + 0, h + 0, l + 0 }' "$WORK/out"
}
if start_server xferlog 127.0.0.1 "$XD" -u "$FTPUSER" -P "$FTPPASS" -w -D --xferlog "$XL"; then
	XPID=$SRV_PID XLOG=$SRV_LOG
	UX=ftp://127.0.0.1:$SRV_PORT
	client "xferlog: curl upload" "${CURL[@]}" -T "$L/up.bin" "$UX/up.bin" || true
	client "xferlog: curl download" "${CURL[@]}" -o "$L/xferlog_dl.bin" "$UX/dl.bin" || true
	if client "xferlog: ftplib cuts three uploads and a download with ABOR" "$PY" - "$SRV_PORT" "$FTPUSER" "$FTPPASS" <<-'EOF'; then
		import ftplib, sys
		f = ftplib.FTP(timeout=10)
		f.connect("127.0.0.1", int(sys.argv[1]))
		f.login(sys.argv[2], sys.argv[3])
		f.voidcmd("TYPE I")
		def cut(cmd, upload):
		    conn = f.transfercmd(cmd)
		    if upload:
		        conn.sendall(b"x" * 4096)  # the data connection stays open: no end of file
		    else:
		        conn.recv(4096)
		    resp = f.abort()  # ABOR, sent as urgent data
		    conn.close()
		    assert resp.startswith("426"), f"{cmd}: ABOR got {resp!r}, want 426"
		    resp = f.voidresp()
		    assert resp.startswith("226"), f"{cmd}: after 426 got {resp!r}, want 226"
		for i in range(3):
		    cut(f"STOR cut{i}.bin", True)
		cut("RETR big.bin", False)
		f.quit()
	EOF
		pass "xferlog: ftplib cuts three uploads and a download with ABOR"
	fi
	# Fields: 6 seconds, 7 host, 12 direction, 18 completion status.
	if ! xferlog_wait "$XL" 6; then
		fail "xferlog: a line per transfer" "want 6 lines, got $(wc -l <"$XL" 2>/dev/null || echo none)"
	else
		got=$(awk '{ printf "%s%s ", $12, $18 }' "$XL")
		if [[ $got == 'ic oc ii ii ii oi ' ]] && awk '$7 != "127.0.0.1" || $6 < 1 { exit 1 }' "$XL"; then
			pass "xferlog: a line per transfer, complete (c) or cut (i)"
		else
			fail "xferlog: a line per transfer, complete (c) or cut (i)" "direction+status $got, want ic oc ii ii ii oi: $(tr '\n' '|' <"$XL")"
		fi
	fi
	FILTER=$HERE/../contrib/fail2ban/filter.d/pier-xferlog.conf
	if command -v fail2ban-regex >/dev/null; then
		# f2b_check NAME FILTER WANT: fail2ban-regex matched WANT lines,
		# and found the date of every line.
		f2b_check() {
			local want=$3 lines
			lines=$(wc -l <"$XL")
			if client "$1" fail2ban-regex "$XL" "$2"; then
				read -r f d l < <(f2b_results)
				if ((f == want && d == lines && l == lines)); then
					pass "$1"
				else
					fail "$1" "Failregex $f (want $want), dates found $d and lines read $l (want $lines): $(grep -e '^Failregex' -e '^Lines' "$WORK/out" | tr '\n' '|')"
				fi
			fi
		}
		ncut=$(awk '$12 == "i" && $18 == "i"' "$XL" | wc -l)
		nall=$(awk '$18 == "i"' "$XL" | wc -l)
		f2b_check "fail2ban-regex: the filter matches exactly the cut uploads ($ncut)" "$FILTER" "$ncut"
		f2b_check "fail2ban-regex: with direction=[io], every cut transfer ($nall)" "$FILTER[direction=\"[io]\"]" "$nall"
		if client "fail2ban-regex: <HOST> is the client's address" fail2ban-regex -o ip "$XL" "$FILTER"; then
			got=$(sort "$WORK/out" | uniq -c | awk '{ printf "%s×%s ", $1, $2 }')
			if [[ $got == "$ncut×127.0.0.1 " ]]; then
				pass "fail2ban-regex: <HOST> is the client's address"
			else
				fail "fail2ban-regex: <HOST> is the client's address" "got $got, want $ncut×127.0.0.1"
			fi
		fi
		# The jail in contrib loads: the system's configuration, with only
		# it in jail.d, checked by fail2ban-client -t.
		if [[ -f /etc/fail2ban/jail.conf ]] && command -v fail2ban-client >/dev/null; then
			cp -r /etc/fail2ban "$WORK/fail2ban"
			rm -f "$WORK"/fail2ban/jail.d/*
			cp "$FILTER" "$WORK/fail2ban/filter.d/"
			sed "s|^logpath *=.*|logpath = $XL|" "$HERE/../contrib/fail2ban/jail.d/pier-xferlog.conf" >"$WORK/fail2ban/jail.d/pier-xferlog.conf"
			if client "fail2ban-client -t: the jail in contrib/fail2ban/jail.d loads" fail2ban-client -c "$WORK/fail2ban" -t; then
				if fail2ban-client -c "$WORK/fail2ban" -d 2>/dev/null | grep -q "'pier-xferlog', 'addfailregex'"; then
					pass "fail2ban-client -t: the jail in contrib/fail2ban/jail.d loads"
				else
					fail "fail2ban-client -t: the jail in contrib/fail2ban/jail.d loads" "no pier-xferlog failregex in fail2ban-client -d"
				fi
			fi
		fi
	elif [[ -n ${CI:-} ]]; then
		fail "fail2ban-regex" "fail2ban-regex is missing (apt-get install fail2ban); CI must not skip it"
	else
		echo "SKIP - fail2ban checks: fail2ban-regex is missing (apt-get install fail2ban)"
	fi
	if command -v logrotate >/dev/null; then
		# The snippet, for this file and this pier.
		sed -e "s|^/var/log/pier/xferlog {|\"$XL\" {|" -e "s|^\([[:space:]]*\)systemctl kill .*|\1kill -USR1 $XPID|" \
			"$HERE/../contrib/logrotate.d/pier" >"$WORK/logrotate.conf"
		before=$(grep -c 'SIGUSR1: reopened the transfer log' "$XLOG" || true)
		if client "logrotate with contrib/logrotate.d/pier" logrotate -f -s "$WORK/logrotate.state" "$WORK/logrotate.conf"; then
			for _ in $(seq 100); do
				(($(grep -c 'SIGUSR1: reopened the transfer log' "$XLOG" || true) > before)) && break
				sleep 0.1
			done
			client "xferlog: curl download after the rotation" "${CURL[@]}" -o "$L/xferlog_dl2.bin" "$UX/dl.bin" || true
			if [[ $(wc -l <"$XL.1" 2>/dev/null) != 6 ]]; then
				fail "logrotate: the old lines in xferlog.1, the next in a new xferlog" "xferlog.1 has $(wc -l <"$XL.1" 2>/dev/null || echo no) lines, want 6: $(tail -n 2 "$WORK/err" | tr '\n' '|')"
			elif ! xferlog_wait "$XL" 1 || [[ $(awk '{ printf "%s%s ", $12, $18 }' "$XL") != 'oc ' ]]; then
				fail "logrotate: the old lines in xferlog.1, the next in a new xferlog" "new xferlog: $(tr '\n' '|' <"$XL" 2>/dev/null || echo missing); log: $(grep -m1 SIGUSR1 "$XLOG")"
			else
				pass "logrotate: the old lines in xferlog.1, the next in a new xferlog"
			fi
		fi
	elif [[ -n ${CI:-} ]]; then
		fail "logrotate" "logrotate is missing (apt-get install logrotate); CI must not skip it"
	else
		echo "SKIP - logrotate check: logrotate is missing (apt-get install logrotate)"
	fi
else
	fail "start the --xferlog server" "it did not accept connections within 10 s"
fi

# ---------------------------------------------------------------- S3

# pier serving a bucket (--s3-bucket) of versitygw, an S3 server on a
# local folder, started as internal/s3test starts it: curl (checked on
# the FTP side and on the object itself), lftp's mirror both ways with a
# 12 MiB file (a multipart upload), ftplib, and an ABOR in the middle of
# a large upload, after which neither the object nor a pending multipart
# upload may exist. The S3 side is read with curl --aws-sigv4. Without
# versitygw (on PATH or in $(go env GOPATH)/bin) the section is skipped,
# unless CI is set: then it fails.
VGW=$(command -v versitygw || true)
if [[ -z $VGW ]] && command -v go >/dev/null; then
	IFS=: read -r -a gopaths <<<"$(go env GOPATH 2>/dev/null || true)"
	for d in "${gopaths[@]}"; do
		if [[ -n $d && -x $d/bin/versitygw ]]; then
			VGW=$d/bin/versitygw
			break
		fi
	done
fi
# stop_pid PID: stop a process of this script, wait for it, and forget
# it (so that no later kill reaches another process given its number).
stop_pid() {
	local p keep=()
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	for p in "${PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}
# start_versitygw: versitygw on a free loopback port, with fresh root
# credentials, and the bucket $BUCKET; sets VGW_URL and VGW_PID.
start_versitygw() {
	local try port pid data vlog=$WORK/versitygw.log
	# Its own settings in the environment would override the flags.
	local unset=()
	while IFS= read -r v; do unset+=(-u "$v"); done < <(compgen -e | grep -E '^(VGW_|ROOT_)' || true)
	for try in 1 2 3; do
		port=$(free_port 4)
		data=$WORK/s3data$try
		mkdir -p "$data"
		env "${unset[@]}" "$VGW" --access "$S3_ACCESS" --secret "$S3_SECRET" --port "127.0.0.1:$port" --quiet posix "$data" >>"$vlog" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		if wait_port 127.0.0.1 "$port" "$pid"; then
			VGW_URL=http://127.0.0.1:$port VGW_PID=$pid
			return 0
		fi
		stop_pid "$pid"
		echo "# versitygw did not accept on 127.0.0.1:$port (try $try)" >>"$vlog"
	done
	return 1
}
if [[ -n $VGW ]]; then
	S3_ACCESS=pier$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	S3_SECRET=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
	BUCKET=pier-it
	# S3 requests signed with the root credentials (curl 7.88 signs no
	# payload hash of its own, and wants "?uploads=" rather than "?uploads").
	S3CURL=(curl -sS --connect-timeout 10 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_ACCESS:$S3_SECRET" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
	# pending_uploads: how many multipart uploads the bucket has pending.
	pending_uploads() {
		timeout "$T" "${S3CURL[@]}" -f "$VGW_URL/$BUCKET?uploads=" >"$WORK/uploads.xml" || return 1
		{ grep -o '<UploadId>' "$WORK/uploads.xml" || true; } | wc -l
	}
	SL=$L/s3
	mkdir -p "$SL"
	if ! start_versitygw; then
		fail "start versitygw" "it did not accept connections within 10 s: $(tail -n 3 "$WORK/versitygw.log" | tr '\n' '|')"
	elif ! client "versitygw: create the bucket" "${S3CURL[@]}" -f -X PUT "$VGW_URL/$BUCKET"; then
		:
	elif ! AWS_ACCESS_KEY_ID=$S3_ACCESS AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_EC2_METADATA_DISABLED=true \
		AWS_CONFIG_FILE=$WORK/none AWS_SHARED_CREDENTIALS_FILE=$WORK/none \
		start_server s3 127.0.0.1 - --s3-bucket "$BUCKET" --s3-endpoint "$VGW_URL" --s3-path-style --s3-prefix ftp -w -D; then
		fail "start the --s3-bucket server" "it did not accept connections within 10 s: $(tail -n 3 "$SRV_LOG" | tr '\n' '|')"
	else
		check_startup_log s3
		S3PID=$SRV_PID
		US3=ftp://127.0.0.1:$SRV_PORT
		S3FTP=(curl -sS --connect-timeout 10 --user anonymous:guest@)
		if log_has "s3_bucket=$BUCKET .*s3_endpoint=$VGW_URL s3_region=us-east-1 s3_addressing=path-style" "$SRV_LOG" && ! grep -q -- "$S3_SECRET" "$SRV_LOG"; then
			pass "s3: the start-up line names bucket, endpoint, region and addressing, not the secret"
		else
			fail "s3: the start-up line names bucket, endpoint, region and addressing, not the secret" "$(grep -m1 'starting pier' "$SRV_LOG")"
		fi

		if client "s3: curl upload (STOR)" "${S3FTP[@]}" -T "$L/big.bin" "$US3/big.bin"; then
			client "s3: the object is in the bucket, under the prefix" "${S3CURL[@]}" -f -o "$SL/object.bin" "$VGW_URL/$BUCKET/ftp/big.bin" &&
				same "s3: the object is in the bucket, under the prefix" "$L/big.bin" "$SL/object.bin"
		fi
		if client "s3: curl download (RETR)" "${S3FTP[@]}" -o "$SL/big.bin" "$US3/big.bin"; then
			same "s3: curl download (RETR)" "$L/big.bin" "$SL/big.bin"
		fi
		# resume: the bucket holds the first 700000 bytes (SIZE, APPE by
		# server-side copy)
		head -c 700000 "$L/big.bin" >"$SL/head.bin"
		if client "s3: curl upload of a head" "${S3FTP[@]}" -T "$SL/head.bin" "$US3/resume.bin" &&
			client "s3: curl resumed upload (-C -: APPE)" "${S3FTP[@]}" -C - -T "$L/big.bin" "$US3/resume.bin" &&
			client "s3: curl download of the resumed upload" "${S3FTP[@]}" -o "$SL/resume.bin" "$US3/resume.bin"; then
			same "s3: curl resumed upload (-C -: APPE)" "$L/big.bin" "$SL/resume.bin"
		fi

		# lftp mirror both ways, with a 12 MiB file: a multipart upload.
		S3TREE=$SL/tree_src
		cp -a "$TREE" "$S3TREE"
		head -c 12582912 /dev/urandom >"$S3TREE/a/b/twelve.bin"
		s3lftp() { # s3lftp NAME COMMANDS
			client "$1" lftp -c "set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1; set ftp:ssl-allow no; set file:charset UTF-8; set cmd:fail-exit yes; open -u anonymous,guest@ $US3; $2"
		}
		if s3lftp "s3: lftp mirror -R (upload)" "mirror -R --parallel=3 '$S3TREE' tree" &&
			s3lftp "s3: lftp mirror (download)" "mirror --parallel=3 tree '$SL/tree_dl'"; then
			if diff -r "$S3TREE" "$SL/tree_dl" >"$WORK/diff" 2>&1; then
				pass "s3: lftp mirror -R then mirror: the same tree (empty folder and 12 MiB file included)"
			else
				fail "s3: lftp mirror -R then mirror: the same tree (empty folder and 12 MiB file included)" "trees differ: $(head -n 5 "$WORK/diff" | tr '\n' '|')"
			fi
		fi

		# ftplib: STOR and RETR with checksums; then a 40 MiB STOR cut by
		# ABOR once its multipart upload is pending on the store: the
		# client gets 426 and 226, and neither the object nor the upload
		# remains.
		if client "s3: ftplib STOR, RETR, and ABOR of a large upload" "$PY" - "$SRV_PORT" "${S3CURL[@]}" "$VGW_URL/$BUCKET?uploads=" <<-'EOF'; then
			import ftplib, hashlib, io, os, subprocess, sys, time
			port, pending_cmd = int(sys.argv[1]), sys.argv[2:]
			f = ftplib.FTP(timeout=30)
			f.connect("127.0.0.1", port)
			f.login("anonymous", "guest@")
			f.voidcmd("TYPE I")
			data = os.urandom(3 << 20)
			f.storbinary("STOR py.bin", io.BytesIO(data))
			got = io.BytesIO()
			f.retrbinary("RETR py.bin", got.write)
			assert hashlib.sha256(got.getvalue()).digest() == hashlib.sha256(data).digest(), "RETR differs from STOR"
			assert f.size("py.bin") == len(data), "SIZE"
			def pending():
			    out = subprocess.run(pending_cmd, check=True, capture_output=True, timeout=30).stdout
			    return out.count(b"<UploadId>")
			assert pending() == 0, "a multipart upload is pending before the test"
			conn = f.transfercmd("STOR cut.bin")
			chunk = os.urandom(1 << 20)
			for _ in range(20):  # 20 MiB: more than two 8 MiB parts
			    conn.sendall(chunk)
			for _ in range(200):  # up to 10 s for the first part to reach the store
			    if pending() > 0:
			        break
			    time.sleep(0.05)
			else:
			    raise AssertionError("no multipart upload pending after 20 MiB")
			resp = f.abort()  # ABOR, sent as urgent data
			conn.close()
			assert resp.startswith("426"), f"ABOR got {resp!r}, want 426"
			resp = f.voidresp()
			assert resp.startswith("226"), f"after 426 got {resp!r}, want 226"
			try:
			    f.size("cut.bin")
			    raise AssertionError("cut.bin exists after ABOR")
			except ftplib.error_perm as e:
			    assert str(e).startswith("550"), f"SIZE cut.bin: {e}"
			assert "cut.bin" not in f.nlst(), "cut.bin listed after ABOR"
			f.quit()
		EOF
			pass "s3: ftplib STOR, RETR, and ABOR of a large upload"
		fi
		n=$(pending_uploads || echo error)
		code=$(timeout "$T" "${S3CURL[@]}" -o /dev/null -w '%{http_code}' "$VGW_URL/$BUCKET/ftp/cut.bin" || true)
		if [[ $n == 0 && $code == 404 ]]; then
			pass "s3: after ABOR, no object cut.bin and no pending multipart upload"
		else
			fail "s3: after ABOR, no object cut.bin and no pending multipart upload" "pending uploads: $n, GET cut.bin: HTTP $code"
		fi
		stop_pid "$S3PID"
	fi
	if [[ -n ${VGW_PID:-} ]]; then
		stop_pid "$VGW_PID"
	fi
elif [[ -n ${CI:-} ]]; then
	fail "s3" "versitygw is missing (GOFLAGS=-mod=mod go install github.com/versity/versitygw/cmd/versitygw@v1.8.0); CI must not skip it"
else
	echo "SKIP - S3 checks: versitygw is missing (GOFLAGS=-mod=mod go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)"
fi

summary

# shellcheck shell=bash disable=SC2034
# bench/lib.sh: what bench/compare.sh, bench/ftps.sh and
# bench/downloads-ab.sh share, sourced by them: the virtual machine's free
# page reporting paused for a run, the servers' processes stopped, cgroups
# for their CPU time, the clients run in the background, the veth pair of
# the clients' network namespace. It uses the caller's say, die,
# PAGE_REPORTING (keep or pause) and DATAROOT (the last two for
# pause_page_reporting only), CHILD_PID (run_child, stop_child) and the
# VETH_* and NETNS variables (setup_veth, teardown_veth).

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

# terminate PID: SIGTERM, up to 5 s to exit, then SIGKILL; reaped.
terminate() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

stop_server() {
	local pid=$1 kids i
	[ -n "$pid" ] || return 0
	kids=$(descendants "$pid" | tr '\n' ' ')
	terminate "$pid"
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

# cg_make NAME: make the cgroup CG_ROOT/NAME and print its path; print
# nothing when none can be made (no cgroup root, not writable). Callers
# give a fresh name each time: one that could not be removed is never
# reused.
cg_make() {
	[ -n "$CG_ROOT" ] || return 0
	local cg="$CG_ROOT/$1"
	if mkdir "$cg" 2>/dev/null && [ -w "$cg/cgroup.procs" ]; then
		echo "$cg"
	else
		rmdir "$cg" 2>/dev/null || true
	fi
}

# cg_kill DIR: end what is left in the cgroup DIR (empty: nothing), by PID
# with SIGKILL: processes a server started (sessions reparented away from
# it, for one) that stop_server's list of descendants missed.
cg_kill() {
	local i pids
	[ -n "$1" ] || return 0
	for i in $(seq 20); do
		pids=$(cat "$1/cgroup.procs" 2>/dev/null) || return 0
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		sleep 0.1
	done
}

# cg_remove DIR: cg_kill, then remove the cgroup DIR (empty: nothing),
# with a warning if it stays.
cg_remove() {
	local i
	[ -n "$1" ] || return 0
	cg_kill "$1"
	for i in $(seq 20); do
		rmdir "$1" 2>/dev/null && break
		sleep 0.1
	done
	if [ -d "$1" ]; then say "  warning: could not remove $1"; fi
}

# cg_cpu_ns DIR: the CPU time (nanoseconds) the processes of cgroup DIR
# used so far, exited ones included (v2 cpu.stat, or v1 cpuacct.usage).
cg_cpu_ns() {
	if [ -f "$1/cpu.stat" ]; then
		awk '$1 == "usage_usec" { printf "%.0f\n", $2 * 1000 }' "$1/cpu.stat"
	elif [ -f "$1/cpuacct.usage" ]; then
		cat "$1/cpuacct.usage"
	else
		echo 0
	fi
}

# ---------------------------------------------------------------- clients
# run_child runs a client in the background and waits for it, so that an
# INT or TERM reaches the script at once (bash runs a trap only after the
# foreground command ends) and cleanup can stop it.
CHILD_PID=${CHILD_PID:-}
run_child() {
	local rc=0
	"$@" &
	CHILD_PID=$!
	wait "$CHILD_PID" || rc=$?
	CHILD_PID=""
	return "$rc"
}

stop_child() {
	[ -n "$CHILD_PID" ] || return 0
	terminate "$CHILD_PID"
	CHILD_PID=""
}

# client_rows_done OUT LABEL ROW...: the other client's rows (one JSON
# object a workload, each already in OUT.txt) as the JSON array OUT.json,
# shown and logged (LOG); a row with an error adds "LABEL: workload:
# error;..." to FAILED_RUNS.
client_rows_done() {
	local out=$1 label=$2 why
	shift 2
	local IFS=,
	printf '[%s]\n' "$*" >"$out.json"
	sed 's/^/    /' "$out.txt" | tee -a "$LOG" >&2
	if grep -q '"error"' "$out.txt"; then
		why=$(sed -n 's/.*"workload":"\([^"]*\)".*"error":"\([^"]*\)".*/\1: \2/p' "$out.txt" | paste -sd';' -) || true
		FAILED_RUNS+=("$label: $why")
	fi
}

# ---------------------------------------------------------------- veth
# The clients in a network namespace of their own, joined to the root
# namespace (the servers') by a veth pair that carries the only addresses
# of a /30 that nothing else here uses. The caller sets NETNS (the
# namespace), VETH (the servers' end; the clients' end is eth0 in NETNS),
# VETH_NET (the /30), VETH_SERVER and VETH_CLIENT (its two addresses) and
# VETH_MADE=0, and calls teardown_veth on every exit (its EXIT trap). The
# interface MTU and offloads are the veth defaults (MTU 1500, unlike
# loopback's 65536); setup_veth records them in VETH_INFO, for the page.
# The caller names NETNS and VETH; the /30 is the same for every script.
VETH_INFO=""               # MTUs and offloads, for the page
VETH_NET=10.203.0.0/30
VETH_SERVER=10.203.0.1     # the servers' side, root namespace
VETH_CLIENT=10.203.0.2     # the clients' side, inside $NETNS
VETH_MADE=0
# Pinned passes: the server and every process it starts on SERVER_CPUS, the
# client on CLIENT_CPUS (taskset); unpinned, both may use every CPU.
SERVER_CPUS="${PIER_BENCH_SERVER_CPUS:-0}"
CLIENT_CPUS="${PIER_BENCH_CLIENT_CPUS:-1}"
CURL_MAX=300               # curl caps --parallel-max at 300
setup_veth() {
	# the /30 must be unused here: no address or route in it
	local re="${VETH_SERVER%.*}."
	re=${re//./\\.} # 10.203.0.1 -> 10\.203\.0\.
	if ip -4 -o addr show | grep -q " $re" || ip -4 route show | grep -q "^$re"; then
		die "$VETH_NET (the veth pair's) is already in use on this machine: $(ip -4 -o addr show | grep " $re" | head -n 1)"
	fi
	ip netns list | grep -qw "$NETNS" && die "network namespace $NETNS exists already"
	say "veth: namespace $NETNS, $VETH ($VETH_SERVER/30, here) <-> eth0 ($VETH_CLIENT/30, in $NETNS)"
	VETH_MADE=1
	ip netns add "$NETNS" || die "ip netns add $NETNS failed"
	ip link add "$VETH" type veth peer name eth0 netns "$NETNS" || die "ip link add $VETH type veth failed"
	ip addr add "$VETH_SERVER/30" dev "$VETH"
	ip link set "$VETH" up
	ip -n "$NETNS" addr add "$VETH_CLIENT/30" dev eth0
	ip -n "$NETNS" link set eth0 up
	ip -n "$NETNS" link set lo up
	# wait for the link (and its duplicate address detection) to be up
	local i
	for i in $(seq 50); do
		ip -n "$NETNS" -o link show eth0 | grep -q 'state UP' && ip -o link show "$VETH" | grep -q 'state UP' && break
		sleep 0.1
	done
	local mtu cmtu lomtu
	mtu=$(cat "/sys/class/net/$VETH/mtu")
	cmtu=$(ip -n "$NETNS" -o link show eth0 | sed -n 's/.* mtu \([0-9]*\).*/\1/p') || true
	lomtu=$(cat /sys/class/net/lo/mtu)
	VETH_INFO="MTU $mtu (servers' end) and $cmtu (clients' end), the veth default, not tuned; loopback's is $lomtu"
	if command -v ethtool >/dev/null; then
		local k
		k=$(ethtool -k "$VETH" 2>/dev/null | awk -F': ' '
			$1 ~ /^(tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload|rx-gro-list|rx-udp-gro-forwarding|scatter-gather)$/ {
				v = $2; sub(/ .*/, "", v); printf "%s%s %s", sep, $1, v; sep = ", " }') || true
		VETH_INFO="$VETH_INFO; offloads (ethtool -k, defaults, not tuned): ${k:-unknown}"
	else
		VETH_INFO="$VETH_INFO; offloads: not recorded (no ethtool)"
	fi
	say "veth: $VETH_INFO"
}

teardown_veth() {
	[ "$VETH_MADE" = 1 ] || return 0
	ip link del "$VETH" 2>/dev/null || true
	ip netns del "$NETNS" 2>/dev/null || true
	VETH_MADE=0
}

# ---------------------------------------------------------------- servers
# The plain servers as compare.sh and pair.sh start them, configured from
# the templates in bench/conf. The caller sets HOST, DATA, RUN, PKGS, BIN,
# CONF, PASV_MIN, PASV_MAX, MAXCLIENTS, PAM_SERVICE, BENCH_USER, BENCH_PASS
# and FCL_VERSION; PIER_BIN, if set, is the pier binary instead of BIN/pier.

# fill_conf TEMPLATE PORT: the template with its placeholders filled in.
fill_conf() {
	sed -e "s|@PORT@|$2|g" -e "s|@ADDR@|$HOST|g" -e "s|@DATA@|$DATA|g" -e "s|@RUN@|$RUN|g" \
		-e "s|@PASV_MIN@|$PASV_MIN|g" -e "s|@PASV_MAX@|$PASV_MAX|g" \
		-e "s|@MAXCLIENTS@|$MAXCLIENTS|g" -e "s|@PAM_SERVICE@|$PAM_SERVICE|g" "$1"
}

# server_cmd NAME PORT: sets SERVER_CMD to the command line of server NAME
# listening on HOST:PORT, writing its configuration file into RUN first;
# returns 1 for a name it does not know.
server_cmd() {
	local s=$1 port=$2 flags
	local asbench=(setpriv --reuid="$BENCH_USER" --regid="$BENCH_USER" --init-groups)
	local pier=(-i "$HOST" -p "$port" -d "$DATA" -u "$BENCH_USER" -P "$BENCH_PASS" -w --max-cons 0 -r "$PASV_MIN-$PASV_MAX")
	case "$s" in
	vsftpd)
		fill_conf "$CONF/vsftpd.conf" "$port" >"$RUN/vsftpd.conf"
		SERVER_CMD=("$PKGS/vsftpd/usr/sbin/vsftpd" "$RUN/vsftpd.conf") ;;
	proftpd)
		fill_conf "$CONF/proftpd.conf" "$port" >"$RUN/proftpd.conf"
		SERVER_CMD=("$PKGS/proftpd/usr/sbin/proftpd" --nodaemon -c "$RUN/proftpd.conf") ;;
	pure-ftpd)
		flags=$(fill_conf "$CONF/pure-ftpd.flags" "$port" | grep -v '^[[:space:]]*#' | tr '\n' ' ')
		# shellcheck disable=SC2206
		SERVER_CMD=("$PKGS/pure-ftpd/usr/sbin/pure-ftpd" $flags) ;;
	pyftpdlib)
		SERVER_CMD=("${asbench[@]}" /usr/bin/python3 "$CONF/pyftpdlib-serve.py" "$HOST" "$port" "$DATA" "$PASV_MIN" "$PASV_MAX") ;;
	fclairamb)
		fill_conf "$CONF/fclairamb-ftpserver.json" "$port" >"$RUN/fclairamb-ftpserver.json"
		chmod 644 "$RUN/fclairamb-ftpserver.json"
		SERVER_CMD=("${asbench[@]}" "$BIN/fclairamb-ftpserver-$FCL_VERSION" -conf "$RUN/fclairamb-ftpserver.json") ;;
	pier) SERVER_CMD=("${asbench[@]}" "${PIER_BIN:-$BIN/pier}" "${pier[@]}") ;;
	pier-tls) SERVER_CMD=("${asbench[@]}" "${PIER_BIN:-$BIN/pier}" "${pier[@]}" --tls-self-signed) ;;
	*) return 1 ;;
	esac
}

# ---------------------------------------------------------------- order
# round_order R ITEM...: the items in round R's order, one a line: rotated
# by R - 1, and reversed on even rounds, so that the machine's drift and
# the position in the round hit every item alike.
round_order() {
	local r=$1 n i
	shift
	n=$#
	local items=("$@") order=()
	for ((i = 0; i < n; i++)); do
		order+=("${items[$(((i + r - 1) % n))]}")
	done
	if ((r % 2 == 0)); then
		for ((i = n - 1; i >= 0; i--)); do echo "${order[$i]}"; done
	else
		for ((i = 0; i < n; i++)); do echo "${order[$i]}"; done
	fi
}

# The pass running now (set_pass): its topology and pinning, the folder of
# its results, the address the servers listen on and the clients use, and
# what the server's and the client's commands are prefixed with; before
# the first set_pass, loopback and unpinned.
PASS="" TOPO=loopback PIN=unpinned PASSDIR="" HOST=127.0.0.1
SERVER_PREFIX=() CLIENT_PREFIX=() NSENTER=()

# set_pass TOPOLOGY PINNING: the address (HOST), the prefixes of the servers'
# and the clients' commands (SERVER_PREFIX, CLIENT_PREFIX, NSENTER) and the
# results folder (PASSDIR: RESULTS/TOPOLOGY-PINNING, or RESULTS itself for
# the pass named in TOP_PASS, if set) of a pass. Needs RESULTS, VETH_SERVER,
# NETNS, SERVER_CPUS and CLIENT_CPUS.
set_pass() {
	TOPO=$1 PIN=$2 PASS="$1-$2"
	PASSDIR="$RESULTS/$PASS"
	[ "$PASS" = "${TOP_PASS:-}" ] && PASSDIR=$RESULTS
	mkdir -p "$PASSDIR"
	SERVER_PREFIX=() CLIENT_PREFIX=() NSENTER=()
	if [ "$TOPO" = veth ]; then
		HOST=$VETH_SERVER
		NSENTER=(nsenter "--net=/var/run/netns/$NETNS")
		CLIENT_PREFIX=("${NSENTER[@]}")
	else
		HOST=127.0.0.1
	fi
	if [ "$PIN" = pinned ]; then
		SERVER_PREFIX=(taskset -c "$SERVER_CPUS")
		CLIENT_PREFIX+=(taskset -c "$CLIENT_CPUS")
	fi
}

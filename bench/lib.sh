# shellcheck shell=bash disable=SC2034
# bench/lib.sh: what bench/compare.sh, bench/ftps.sh and
# bench/downloads-ab.sh share, sourced by them: the virtual machine's free
# page reporting paused for a run, the servers' processes stopped, cgroups
# for their CPU time. It uses the caller's say, PAGE_REPORTING (keep or
# pause) and DATAROOT (the last two for pause_page_reporting only).

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

#!/usr/bin/env bash
# bench/system-users.sh: pier serving a machine account (--system-users,
# every file operation on the account's own thread) against pier serving the
# same folder to a virtual user (-u/-P), same binary, same machine, rounds
# alternating. Run by hand, as root:
#
#   sudo bash bench/system-users.sh [ROUNDS]      (default 5)
#   sudo NETNS=1 bash bench/system-users.sh 5     clients in a network namespace
#                                                 of their own, over a veth pair
#
# It creates the account "piersys" (uid >= 1000, /bin/sh, sha512-crypt
# password) with its home on tmpfs (/dev/shm/piersys), and removes it at the
# end. Loopback only. Prints a Markdown table of medians for ftpbench's
# stor, retr (256 MiB, one client), stor-many and retr-many (50 clients,
# 10 MiB each), list (2,000 entries), and for curl uploading and
# downloading 256 MiB, a second client; raw results stay in $OUT.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-5}
[[ $(id -u) == 0 ]] || { echo "run as root" >&2; exit 1; }
out=/var/tmp/pier-bench/system-users/$(date +%Y%m%dT%H%M%S)
mkdir -p "$out"
user=piersys pass=Bench-sys-1 home=/dev/shm/piersys port=2460
host=127.0.0.1 client=() remote=()
if [[ ${NETNS:-} == 1 ]]; then
	# The clients run in a namespace made here, reaching pier over a veth
	# pair (10.231.0.1 pier's side, 10.231.0.2 theirs): the packets cross
	# a real device pair, not loopback.
	ns=pb$$
	host=10.231.0.1 client=(ip netns exec "$ns") remote=(--allow-remote)
fi
go build -o "$out/pier" ./cmd/pier
go build -o "$out/ftpbench" ./cmd/ftpbench

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[[ -n ${ns:-} ]] && { ip link del "veth-$ns" 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; }
	userdel -r -f "$user" 2>/dev/null || true
	rm -rf "$home"
}
trap cleanup EXIT
if [[ -n ${ns:-} ]]; then
	ip netns add "$ns"
	ip link add "veth-$ns" type veth peer name eth0 netns "$ns"
	ip addr add 10.231.0.1/24 dev "veth-$ns"
	ip link set "veth-$ns" up
	ip netns exec "$ns" ip addr add 10.231.0.2/24 dev eth0
	ip netns exec "$ns" ip link set eth0 up
	ip netns exec "$ns" ip link set lo up
fi
userdel -r -f "$user" 2>/dev/null || true
useradd -m -d "$home" -s /bin/sh "$user"
echo "$user:$pass" | chpasswd -c SHA512
head -c 256M /dev/urandom >"$out/src.bin"

start() { # MODE: start pier, wait for its 220
	if [[ $1 == system ]]; then
		"$out/pier" --system-users -i $host -p $port --max-cons 0 >"$out/pier-$1.log" 2>&1 &
	else
		"$out/pier" -i $host -p $port --max-cons 0 -u $user -P $pass -w -d "$home" >"$out/pier-$1.log" 2>&1 &
	fi
	pid=$!
	pids+=("$pid")
	for _ in $(seq 100); do
		exec 3<>/dev/tcp/$host/$port 2>/dev/null && { exec 3>&-; return; }
		sleep 0.1
	done
	echo "pier did not start" >&2
	exit 1
}

for r in $(seq "$rounds"); do
	order="system virtual"
	((r % 2 == 0)) && order="virtual system"
	for mode in $order; do
		start "$mode"
		"${client[@]}" "$out/ftpbench" "${remote[@]}" -H $host -P $port -u $user -p $pass -b ${WORKLOADS:-stor,retr,stor-many,retr-many,list} \
			-n 50 --single-size 256M -s 10M --entries 2000 --quiet --pid "$pid" \
			--json "$out/$mode-r$r.json" >"$out/$mode-r$r.txt"
		up=$("${client[@]}" curl -s -o /dev/null -w '%{speed_upload}' -T "$out/src.bin" "ftp://$user:$pass@$host:$port/curl.bin")
		down=$("${client[@]}" curl -s -o /dev/null -w '%{speed_download}' "ftp://$user:$pass@$host:$port/curl.bin")
		echo "$up $down" >"$out/$mode-r$r.curl"
		kill "$pid"
		wait "$pid" 2>/dev/null || true
		find "$home" -mindepth 1 -maxdepth 1 ! -name 'ftpbench-list-*' -exec rm -rf {} +
	done
done

# Medians: ftpbench's JSON (workload -> value) and curl's bytes/s.
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys, glob, os
out, rounds = sys.argv[1], int(sys.argv[2])
def load(mode):
    vals = {}
    for f in sorted(glob.glob(f"{out}/{mode}-r*.json")):
        for w in json.load(open(f)):
            if w.get("errors"):
                continue
            vals.setdefault((w["workload"], w["unit"]), []).append(w["value"])
    for f in sorted(glob.glob(f"{out}/{mode}-r*.curl")):
        up, down = map(float, open(f).read().split())
        vals.setdefault(("curl upload 256M", "MB/s"), []).append(up / 1e6)
        vals.setdefault(("curl download 256M", "MB/s"), []).append(down / 1e6)
    return {k: statistics.median(v) for k, v in vals.items()}
s, v = load("system"), load("virtual")
print(f"| workload | system user | virtual user | system/virtual |  ({rounds} rounds, medians; raw: {out})")
print("| --- | --- | --- | --- |")
for k in v:
    if k in s:
        print(f"| {k[0]} | {s[k]:.4g} {k[1]} | {v[k]:.4g} {k[1]} | {s[k]/v[k]:.2f} |")
PY

"""A third client for bench/compare.sh: N Python ftplib clients, one thread
each, all started at once (a barrier), standard library only.

  python3 ftplib-clients.py HOST PORT USER PASS WORKLOAD N PATH SIZE [LOCAL [DEADLINE]]

WORKLOAD is logins (log in, QUIT), retr-many (RETR PATH, read with 256 KiB
blocks) or stor-many (STOR PATH-I for I = 1..N, from the local file LOCAL,
256 KiB blocks); a transfer of other than SIZE bytes is an error. Passive mode: PASV (ftplib uses EPSV on IPv6 only). Every
client has its own control and data connections. Prints one JSON object in
ftpbench's format (the CPU times are added by compare.sh): the time from the
barrier's release to the end of the last client. DEADLINE (seconds, default
60) bounds each network operation and the whole run: the clients not done by
then count as errors.
"""

import ftplib
import json
import os
import sys
import threading
import time

BLOCK = 256 << 10


def main():
    host, port, user, password, workload, n, path, size = sys.argv[1:9]
    port, n, size = int(port), int(n), int(size)
    local = sys.argv[9] if len(sys.argv) > 9 else None
    deadline = float(sys.argv[10]) if len(sys.argv) > 10 else 60.0
    lock = threading.Lock()
    state = {"bytes": 0, "errors": 0, "error": "", "connections": 0, "done": 0}
    start = []
    barrier = threading.Barrier(n, action=lambda: start.append(time.perf_counter()))

    def fail(e):
        with lock:
            state["errors"] += 1
            if not state["error"]:
                state["error"] = "%s: %s" % (type(e).__name__, str(e).strip())

    def client(i):
        try:
            barrier.wait(timeout=120)
        except threading.BrokenBarrierError as e:
            fail(e)
            return
        try:
            ftp = ftplib.FTP(timeout=deadline)
            ftp.connect(host, port)
            with lock:
                state["connections"] += 1
            ftp.login(user, password)
            moved = 0
            if workload == "retr-many":
                counted = [0]

                def got(data):
                    counted[0] += len(data)

                ftp.retrbinary("RETR " + path, got, blocksize=BLOCK)
                moved = counted[0]
            elif workload == "stor-many":
                with open(local, "rb") as f:
                    ftp.storbinary("STOR %s-%d" % (path, i), f, blocksize=BLOCK)
                    moved = f.tell()
            ftp.quit()
            with lock:
                state["bytes"] += moved
            if workload != "logins" and moved != size:
                raise ValueError("%d bytes moved, not %d" % (moved, size))
        except Exception as e:  # noqa: BLE001 - any failure is a failed client
            fail(e)
        finally:
            with lock:
                state["done"] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(1, n + 1)]
    for t in threads:
        t.start()
    end = time.perf_counter() + deadline + 5  # the barrier's start, plus the deadline
    for t in threads:
        t.join(max(0.0, end - time.perf_counter()))
    seconds = time.perf_counter() - start[0] if start else 0.0
    with lock:
        late = n - state["done"]
        if late > 0:
            state["errors"] += late
            state["error"] = "%d clients not done within %gs%s" % (
                late, deadline, "; " + state["error"] if state["error"] else "")
    # as ftpbench: the time all the clients took, for every workload
    out = {"workload": workload, "clients": n, "bytes": state["bytes"], "seconds": seconds,
           "value": seconds, "unit": "s", "errors": state["errors"], "connections": state["connections"]}
    if state["error"]:
        out["error"] = state["error"]
    print(json.dumps(out, separators=(",", ":")), flush=True)
    # clients still running (past the deadline) are left to the exit
    os._exit(0)


if __name__ == "__main__":
    main()

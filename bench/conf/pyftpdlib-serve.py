"""pyftpdlib server for bench/compare.sh.

The same server as "python3 -m pyftpdlib -i HOST -p PORT -d DIR -u bench
-P bench -w -r MIN-MAX" (DummyAuthorizer, plain password, permissions
"elradfmwMT", default INFO logging), except for two limits that the command
line cannot set: no connection limit (max_cons = 0, as in pyftpdlib's own
published benchmarks) and a listen backlog of 4096 instead of 100.

Usage: python3 pyftpdlib-serve.py HOST PORT DIR PASV_MIN PASV_MAX
"""

import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    host, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    pasv_min, pasv_max = int(sys.argv[4]), int(sys.argv[5])
    authorizer = DummyAuthorizer()
    authorizer.add_user("bench", "bench", root, perm="elradfmwMT")
    handler = FTPHandler
    handler.authorizer = authorizer
    handler.passive_ports = list(range(pasv_min, pasv_max + 1))
    server = FTPServer((host, port), handler, backlog=4096)
    server.max_cons = 0
    server.max_cons_per_ip = 0
    server.serve_forever()


if __name__ == "__main__":
    main()

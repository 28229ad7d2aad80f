#!/usr/bin/python3
"""Small helpers for the control suite's shell scripts (no extra packages).

  ctltest.py ports N            a base port B with B..B+N-1 free (TCP and UDP)
  ctltest.py json FILE EXPR     evaluates EXPR on the JSON document d in FILE;
                                strings print bare, other values as JSON
"""
import json
import random
import socket
import sys


def free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def ports(n):
    # Below the kernel's ephemeral range (32768+), so that client sockets do
    # not take them between this check and the daemon's bind.
    rng = random.SystemRandom()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - n)
        if all(free(p) for p in range(base, base + n)):
            return base
    raise SystemExit("ctltest: no free port range")


def main(argv):
    if len(argv) == 2 and argv[0] == "ports":
        print(ports(int(argv[1])))
        return 0
    if len(argv) == 3 and argv[0] == "json":
        with open(argv[1], encoding="utf-8") as f:
            d = json.load(f)
        v = eval(argv[2], {"d": d, "len": len, "all": all, "any": any})  # noqa: S307 (test input)
        print(v if isinstance(v, str) else json.dumps(v))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

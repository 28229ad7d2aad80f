#!/usr/bin/python3
"""Small helpers for the control suite's shell scripts (no extra packages).

  ctltest.py ports N OWNER      a base port B with B..B+N-1 free (TCP and UDP)
                                and held for process OWNER (a test script's
                                pid) until it exits, so that no other node of
                                this test or of a test running in parallel is
                                given an overlapping range before its daemon
                                binds
  ctltest.py json FILE EXPR     evaluates EXPR on the JSON document d in FILE;
                                strings print bare, other values as JSON
  ctltest.py metric FILE NAME [LABEL=VALUE]...
                                the value of the one sample NAME in the
                                Prometheus text FILE whose labels include
                                these; prints "absent" if there is none
"""
import fcntl
import json
import os
import random
import re
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


# Ranges handed out and not yet released: one JSON list of [base, n, owner]
# shared by every test on the machine, read and written under a lock.
REGISTRY = os.path.join(os.environ.get("TMPDIR", "/tmp"), "srdx-ctltest-ports.json")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ports(n, owner):
    # Below the kernel's ephemeral range (32768+), so that client sockets do
    # not take them between this check and the daemon's bind.
    rng = random.SystemRandom()
    with open(REGISTRY + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(REGISTRY, encoding="utf-8") as f:
                held = [r for r in json.load(f) if alive(r[2])]
        except (OSError, ValueError):
            held = []
        for _ in range(500):
            base = rng.randrange(20000, 32000 - n)
            if any(base < b + m and b < base + n for b, m, _ in held):
                continue
            if all(free(p) for p in range(base, base + n)):
                held.append([base, n, owner])
                tmp = REGISTRY + ".%d" % os.getpid()
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(held, f)
                os.replace(tmp, REGISTRY)
                return base
    raise SystemExit("ctltest: no free port range")


def metric(path, name, wanted):
    want = dict(w.split("=", 1) for w in wanted)
    found = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line.rstrip("\n"))
            if not m or m[1] != name:
                continue
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m[2] or ""))
            if all(labels.get(k) == v for k, v in want.items()):
                found.append(m[3])
    if len(found) > 1:
        raise SystemExit("ctltest: %d samples of %s match %s" % (len(found), name, want))
    return found[0] if found else "absent"


def main(argv):
    if len(argv) == 3 and argv[0] == "ports":
        print(ports(int(argv[1]), int(argv[2])))
        return 0
    if len(argv) == 3 and argv[0] == "json":
        with open(argv[1], encoding="utf-8") as f:
            d = json.load(f)
        v = eval(argv[2], {"d": d, "len": len, "all": all, "any": any})  # noqa: S307 (test input)
        print(v if isinstance(v, str) else json.dumps(v))
        return 0
    if len(argv) >= 3 and argv[0] == "metric":
        print(metric(argv[1], argv[2], argv[3:]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

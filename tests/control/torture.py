#!/usr/bin/env python3
"""The replication torture test's writer and checker (replicate_torture.sh).

  torture.py write SRC LOG        appends to SRC/journal/wal.log and creates
                                  SRC/new/fNNNNNN.dat files, forever (until
                                  SIGTERM); after each write (done and closed)
                                  one JSON line in LOG says what it was
  torture.py check SRC_LOG DR N   the first N writes of LOG must be present and
                                  intact in the DR tree DR: exit 1 naming the
                                  first that is not

A write is acknowledged when a barrier that was asked for after it was
logged succeeded: the shell script counts LOG's lines before it asks, and
passes that count as N after the barrier says ok.
"""
import hashlib
import json
import os
import random
import signal
import sys
import time


def content(seed, n):
    """Bytes of a file or record: reproducible from its seed."""
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < n:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:n])


def write(src, log_path):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    os.makedirs(os.path.join(src, "journal"), exist_ok=True)
    os.makedirs(os.path.join(src, "new"), exist_ok=True)
    wal = os.path.join(src, "journal", "wal.log")
    rng = random.Random(os.getpid())
    seq = 0
    with open(log_path, "a", buffering=1) as log:
        while not stop:
            seq += 1
            if rng.random() < 0.7:
                n = rng.choice([100, 1000, 5000, 20000])
                data = content("wal%d" % seq, n)
                with open(wal, "ab") as f:
                    offset = f.tell()
                    f.write(data)
                entry = {"kind": "append", "offset": offset, "len": n,
                         "sha": hashlib.sha256(data).hexdigest()}
            else:
                n = rng.choice([0, 10, 4096, 30000, 1500000 if rng.random() < 0.1 else 200000])
                rel = "new/f%06d.dat" % seq
                data = content(rel, n)
                tmp = os.path.join(src, rel + ".part")
                with open(tmp, "wb") as f:
                    f.write(data)
                os.rename(tmp, os.path.join(src, rel))
                entry = {"kind": "file", "path": rel, "len": n,
                         "sha": hashlib.sha256(data).hexdigest()}
            log.write(json.dumps(entry) + "\n")
            # About 15 writes a second: the journal stays a few MiB over a CI
            # run (each of its versions is a whole copy at DR: see
            # docs/replication.md, "Not yet").
            time.sleep(rng.choice([0.02, 0.05, 0.1]))


def check(log_path, dr, n):
    with open(log_path) as f:
        entries = [json.loads(l) for l in f if l.endswith("\n")][:n]
    wal = os.path.join(dr, "journal", "wal.log")
    wal_bytes = None
    for i, e in enumerate(entries, 1):
        if e["kind"] == "append":
            if wal_bytes is None:
                try:
                    with open(wal, "rb") as f:
                        wal_bytes = f.read()
                except OSError as err:
                    print("write %d (acknowledged): journal missing at DR: %s" % (i, err))
                    return 1
            part = wal_bytes[e["offset"]:e["offset"] + e["len"]]
            if len(part) != e["len"] or hashlib.sha256(part).hexdigest() != e["sha"]:
                print("write %d (acknowledged): journal bytes %d..%d not at DR "
                      "(DR journal is %d bytes)" % (i, e["offset"], e["offset"] + e["len"],
                                                    len(wal_bytes)))
                return 1
        else:
            p = os.path.join(dr, e["path"])
            try:
                with open(p, "rb") as f:
                    data = f.read()
            except OSError as err:
                print("write %d (acknowledged): %s missing at DR: %s" % (i, e["path"], err))
                return 1
            if hashlib.sha256(data).hexdigest() != e["sha"]:
                print("write %d (acknowledged): %s differs at DR" % (i, e["path"]))
                return 1
    print("all %d acknowledged writes present and intact at DR" % len(entries))
    return 0


def main(argv):
    if len(argv) == 3 and argv[0] == "write":
        write(argv[1], argv[2])
        return 0
    if len(argv) == 4 and argv[0] == "check":
        return check(argv[1], argv[2], int(argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

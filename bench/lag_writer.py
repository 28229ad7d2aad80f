"""The lag figure's writer (bench/replicate-fabric --figures lag).

Writes into DIR at RATE bytes/s for SECONDS, in ticks of 50 ms: new files
of EHR-like sizes (FHIR NDJSON parts 256 KiB..2 MiB, DICOM instances 4..200
KiB, HL7 v2 archives 2..64 KiB; each written whole, fsync'ed, closed) and,
JOURNAL_SHARE of the bytes, one append to journal/wal.log per tick (write,
fsync). After each fsync a line goes to stdout: "T PATH BYTES" with T the
wall clock (time.time()) once the write was durable at the source: the
moment the lag of that write is counted from. Synthetic bytes only.

  /usr/bin/python3 bench/lag_writer.py DIR RATE SECONDS [JOURNAL_SHARE] [SEED]
"""

import os
import random
import sys
import time

TICK = 0.05
KINDS = (  # name, weight, min size, max size, directory, suffix
    ("fhir", 0.2, 256 << 10, 2 << 20, "fhir", ".ndjson"),
    ("dicom", 0.5, 4 << 10, 200 << 10, "dicom", ".dcm"),
    ("hl7", 0.3, 2 << 10, 64 << 10, "hl7", ".hl7"),
)


def main():
    out_dir, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    journal_share = float(sys.argv[4]) if len(sys.argv) > 4 else 0.1
    rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    pool = os.urandom(4 << 20)  # sliced at random offsets: no per-byte cost
    for k in KINDS:
        os.makedirs(os.path.join(out_dir, k[4]), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "journal"), exist_ok=True)
    jpath = os.path.join(out_dir, "journal", "wal.log")
    jfd = os.open(jpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    weights = [k[1] for k in KINDS]
    n = 0
    t0 = time.time()
    tick = 0
    owed = 0.0

    def piece(size):
        parts, left = [], size
        while left:
            off = rng.randrange(0, len(pool) - 1)
            take = min(left, len(pool) - off)
            parts.append(pool[off:off + take])
            left -= take
        return b"".join(parts)

    while time.time() - t0 < seconds:
        owed += rate * TICK
        jbytes = int(rate * TICK * journal_share)
        if jbytes:
            os.write(jfd, piece(jbytes))
            os.fsync(jfd)
            print(f"{time.time():.6f} journal/wal.log {jbytes}", flush=True)
            owed -= jbytes
        while owed > 0:
            k = rng.choices(KINDS, weights)[0]
            size = rng.randint(k[2], k[3])
            n += 1
            rel = f"{k[4]}/{k[0]}-{n:07d}{k[5]}"
            fd = os.open(os.path.join(out_dir, rel), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, piece(size))
            os.fsync(fd)
            os.close(fd)
            print(f"{time.time():.6f} {rel} {size}", flush=True)
            owed -= size
        tick += 1
        delay = t0 + tick * TICK - time.time()
        if delay > 0:
            time.sleep(delay)
    os.close(jfd)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Slow and greedy clients against srdxd's control API (slowloris.sh).

  slowclients.py HOST:PORT TOKEN_FILE WORKERS CAP

The daemon runs with control.workers = WORKERS, control.queue = 0 and
control.max-connections-per-client = CAP (its control.request-timeout short).
Every check asserts an outcome, never how fast: a slow client trickles for up
to TRICKLE_S (far past the daemon's deadline), and is expected to be cut off.
Client sockets bind 127.0.0.N source addresses, so that each "client" is an
IP of its own on loopback.
"""
import socket
import sys
import threading
import time

TRICKLE_S = 60  # a slow client gives up after this (the daemon must cut it first)


def connect(addr, source_ip):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source_ip, 0))
    s.connect(addr)
    return s


def read_all(s, limit_s):
    """What the server sends until it closes (or limit_s passes: then None)."""
    s.settimeout(limit_s)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data
            data += chunk
    except socket.timeout:
        return None
    except ConnectionResetError:
        return data


def status_of(reply):
    if not reply:
        return None
    line = reply.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 else None


class Trickler(threading.Thread):
    """GET /v1/status whose headers come one byte every 0.2 s, never ending."""

    def __init__(self, addr, source_ip):
        super().__init__(daemon=True)
        self.sock = connect(addr, source_ip)
        self.reply = None
        self.cut_off = False
        self.sent = 0

    def run(self):
        s = self.sock
        s.settimeout(1)
        start = time.monotonic()
        try:
            s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n")
            header = b"X-Slow: " + b"a" * 10000
            while time.monotonic() - start < TRICKLE_S:
                s.sendall(header[self.sent % len(header):][:1])
                self.sent += 1
                # The server may have answered and closed already.
                s.settimeout(0.2)
                try:
                    chunk = s.recv(4096)
                except socket.timeout:
                    continue
                self.reply = chunk + (read_all(s, 5) or b"")
                self.cut_off = True
                return
        except (BrokenPipeError, ConnectionResetError):
            self.cut_off = True
            return


def request(addr, token, source_ip="127.0.0.1", limit_s=TRICKLE_S):
    s = connect(addr, source_ip)
    s.sendall(("GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Connection: close\r\n\r\n" % token).encode())
    reply = read_all(s, limit_s)
    s.close()
    return status_of(reply), reply


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    addr = (host, int(port))
    token = open(sys.argv[2]).read().strip()
    workers, cap = int(sys.argv[3]), int(sys.argv[4])

    # 1. One trickling client is cut off (408) although it never stops sending.
    t = Trickler(addr, "127.0.0.2")
    t.start()
    t.join(TRICKLE_S + 10)
    if not t.cut_off:
        fail("a client sending a header byte every 0.2 s was never cut off (%d bytes in)" % t.sent)
    if status_of(t.reply) != 408:
        fail("the trickling client got %r, expected a 408" % (t.reply,))
    print("ok: a trickling client was cut off with 408 after %d header bytes" % t.sent)

    # 2. WORKERS - 1 trickling clients (one IP each) hold all workers but
    # one: a legitimate request is served (200) meanwhile, and the slow ones
    # are cut off by the deadline.
    slow = [Trickler(addr, "127.0.1.%d" % (i + 1)) for i in range(workers - 1)]
    for t in slow:
        t.start()
    time.sleep(0.5)  # let them be taken by the workers
    code, reply = request(addr, token)
    if code != 200:
        fail("a legitimate request while %d slow clients held workers: %r" % (len(slow), reply))
    held_when_served = sum(1 for t in slow if not t.cut_off)
    for t in slow:
        t.join(TRICKLE_S + 10)
        if not t.cut_off or status_of(t.reply) != 408:
            fail("a slow client was not cut off with 408: %r" % (t.reply,))
    print("ok: a legitimate request served while %d slow clients held connections"
          % held_when_served)
    if held_when_served == 0:
        fail("the slow clients were gone before the legitimate request")

    # 3. CAP idle connections from one IP: the next one from that IP is
    # refused at once (503, the cap named), another IP is served meanwhile.
    held = [connect(addr, "127.0.2.1") for _ in range(cap)]
    time.sleep(0.2)
    extra = connect(addr, "127.0.2.1")
    reply = read_all(extra, TRICKLE_S)
    if status_of(reply) != 503 or b"max-connections-per-client" not in reply:
        fail("connection %d from one IP: %r, expected 503 naming the cap" % (cap + 1, reply))
    code, reply = request(addr, token, "127.0.2.2")
    if code != 200:
        fail("another IP while one IP is at its cap: %r" % (reply,))
    for s in held:
        s.close()
    time.sleep(1)  # their workers see them closed
    print("ok: connection %d from one IP refused with 503; another IP served" % (cap + 1))

    # 4. With control.queue = 0, a connection that finds every worker busy is
    # refused at once (503 queue_full), not left waiting.
    busy = [Trickler(addr, "127.0.3.%d" % (i + 1)) for i in range(workers)]
    for t in busy:
        t.start()
    time.sleep(0.5)
    code, reply = request(addr, token, "127.0.3.100")
    if code != 503 or b"control.queue" not in reply:
        fail("a request while every worker was busy and queue = 0: %r, expected 503" % (reply,))
    for t in busy:
        t.join(TRICKLE_S + 10)
    print("ok: a connection finding no worker and no queue room refused with 503")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Stand-ins for systemd in the liveness test (no systemd needed).

  sdnotify.py listen SOCKET OUT [UDP_PORT]
      A NOTIFY_SOCKET: an AF_UNIX datagram socket at SOCKET. Every message a
      service sends (sd_notify) is appended to OUT, one line per variable,
      "SEQ NAME=VALUE" (SEQ numbers the datagrams). With UDP_PORT, at READY=1
      it also checks that the service's link is up: binding 127.0.0.1:UDP_PORT
      must fail (the link's socket holds it); it writes "SEQ LINK_BOUND=1" or
      "SEQ LINK_BOUND=0". Runs until killed.

  sdnotify.py freeze PID THREAD_NAME RELEASE_FILE
      Stops one thread of PID (the one whose comm is THREAD_NAME) with ptrace
      (PTRACE_SEIZE + PTRACE_INTERRUPT), while the process's other threads
      keep running, and lets it go once RELEASE_FILE exists (at most 60 s). This is how a hung poll loop
      looks from outside: the API still answers. Prints "frozen TID" once the
      thread is stopped. Needs ptrace rights over PID (root, or the same user
      without Yama's restrictions).
"""
import ctypes
import errno
import os
import socket
import sys
import time


def listen(path, out, udp_port):
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    seq = 0
    while True:
        data = s.recv(65536)
        seq += 1
        lines = [f"{seq} {v}" for v in data.decode(errors="replace").split("\n") if v]
        if udp_port and any(v == "READY=1" for v in data.decode(errors="replace").split("\n")):
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                probe.bind(("127.0.0.1", udp_port))
                bound = 0
            except OSError as e:
                bound = 1 if e.errno == errno.EADDRINUSE else 0
            finally:
                probe.close()
            lines.append(f"{seq} LINK_BOUND={bound}")
        with open(out, "a") as f:
            f.write("\n".join(lines) + "\n")


PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000


def freeze(pid, name, release):
    tid = None
    for t in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{t}/comm") as f:
            if f.read().strip() == name:
                tid = int(t)
    if tid is None:
        sys.exit(f"no thread named {name} in process {pid}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    libc.ptrace.restype = ctypes.c_long

    def pt(req):
        if libc.ptrace(req, tid, None, None) != 0:
            e = ctypes.get_errno()
            sys.exit(f"ptrace({req:#x}, {tid}): {os.strerror(e)}")

    pt(PTRACE_SEIZE)
    pt(PTRACE_INTERRUPT)
    os.waitpid(tid, WALL)
    print(f"frozen {tid}", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.05)
    pt(PTRACE_DETACH)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "listen":
        listen(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    elif len(sys.argv) == 5 and sys.argv[1] == "freeze":
        freeze(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)

#!/usr/bin/python3
"""Runs a command under a unit's SystemCallFilter=, without systemd.

  syscall_filter.py UNIT_FILE COMMAND [ARGS...]

Reads the unit's SystemCallFilter= lines the way systemd does (the first
line an allow list; a later line adds to it, or with "~" removes from it),
expands the @groups with `systemd-analyze syscall-filter` (systemd's own
definitions), loads that allow list as a seccomp filter through libseccomp
(every other system call fails with SystemCallErrorNumber=, EPERM by
default), sets no_new_privs and execs COMMAND. Prints the number of system
calls allowed on stderr.
"""
import ctypes
import ctypes.util
import errno
import os
import subprocess
import sys


def groups():
    """@group -> its members (names and @groups), from systemd-analyze."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], check=True,
                         capture_output=True, text=True).stdout
    g, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = line.split()[0]
            g[cur] = []
        elif cur and line.strip() and not line.strip().startswith("#"):
            g[cur].append(line.strip())
    return g


def expand(name, g, seen=None):
    seen = set() if seen is None else seen
    if not name.startswith("@"):
        return {name}
    if name in seen:
        return set()
    seen.add(name)
    out = set()
    for m in g.get(name, []):
        out |= expand(m, g, seen)
    return out


def allowed(unit):
    g = groups()
    allow, errno_name = None, "EPERM"
    with open(unit) as f:
        for line in f:
            line = line.strip()
            if line.startswith("SystemCallErrorNumber="):
                errno_name = line.split("=", 1)[1]
            if not line.startswith("SystemCallFilter="):
                continue
            spec = line.split("=", 1)[1]
            deny = spec.startswith("~")
            names = set()
            for item in spec.lstrip("~").split():
                names |= expand(item, g)
            if allow is None:
                if deny:
                    sys.exit("a deny-list first is not supported here")
                allow = names
            elif deny:
                allow -= names
            else:
                allow |= names
    if allow is None:
        sys.exit(f"{unit}: no SystemCallFilter=")
    return allow, getattr(errno, errno_name)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    allow, err = allowed(sys.argv[1])
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    act_errno = 0x00050000 | (err & 0xFFFF)
    act_allow = 0x7FFF0000
    ctx = lib.seccomp_init(act_errno)
    if not ctx:
        sys.exit("seccomp_init failed")
    n = 0
    for name in sorted(allow):
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            continue  # not a system call of this architecture
        if lib.seccomp_rule_add(ctx, act_allow, nr, 0) == 0:
            n += 1
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_NO_NEW_PRIVS = 38
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_NO_NEW_PRIVS) failed")
    print(f"syscall_filter: {n} system calls allowed ({sys.argv[1]})", file=sys.stderr, flush=True)
    rc = lib.seccomp_load(ctx)
    if rc != 0:
        sys.exit(f"seccomp_load: {os.strerror(-rc)}")
    os.execv(sys.argv[2], sys.argv[2:])


if __name__ == "__main__":
    main()

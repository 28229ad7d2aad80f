#!/usr/bin/python3
"""srdxd's DPDK telemetry commands against its HTTP API (telemetry_dpdk.sh).

  telemetry_check.py PREFIX CONTROL TOKEN_FILE PATHS

PREFIX is the daemon's EAL --file-prefix (RUNTIME_DIRECTORY, if set, is
where its runtime directory lives, as for EAL and dpdk-telemetry.py),
CONTROL its API address, PATHS its engine.paths. The commands are read with
dpdk-telemetry.py (commands on stdin, -f PREFIX) when it is installed, and
always straight from the telemetry socket. Each reply must be the API's
document reshaped as telemetry.h says (same names; fractional *_us as whole
*_ns; arrays of objects as dicts keyed by index); a value equal in the two
HTTP reads around it must be equal in telemetry, a counter that moved must
lie between them.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

# Values that may go down: compared only when they did not move.
GAUGES = {"buffered_messages", "buffered_bytes", "cwnd_bytes", "inflight_bytes",
          "messages_queued", "srtt_ns", "min_rtt_ns", "rttvar_ns", "last_rtt_ns",
          "inflight", "up", "state"}
COMMANDS = ["/srdx/counters", "/srdx/link", "/srdx/peers", "/srdx/paths"]

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        if len(FAILURES) <= 40:
            print("FAIL: " + what, file=sys.stderr)
        elif len(FAILURES) == 41:
            print("FAIL: ... (only the first 40 failures are shown)", file=sys.stderr)
    return cond


def ok(what, failures_before):
    """Prints ok: WHAT unless a check failed since failures_before."""
    if len(FAILURES) == failures_before:
        print("ok: " + what)
    return len(FAILURES)


# ---- the API's documents as telemetry carries them ---------------------------------


def tel_key(k):
    return re.sub(r"[^A-Za-z0-9_/]", "_", k)[:127] or "_"


def shape(v):
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            put(out, k, x)
        return out
    if isinstance(v, list):
        ints = all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v)
        if ints or all(isinstance(x, str) for x in v):
            return list(v)
        out = {}
        for i, x in enumerate(v):
            put(out, str(i), x)
        return out
    return v


def put(out, k, x):
    if x is None:
        return
    if isinstance(x, float):
        if k.endswith("_us") and len(k) > 3:
            out[tel_key(k[:-3] + "_ns")] = round(x * 1000)
        else:
            out[tel_key(k)] = "%.9g" % x
        return
    out[tel_key(k)] = shape(x)


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def compare(what, before, tel, after):
    """before/after: the API's documents (already shaped) read around tel."""
    b, t, a = flatten(before), flatten(tel), flatten(after)
    check(set(b) == set(a), "%s: the API's names changed between two reads" % what)
    missing, extra = sorted(set(b) - set(t)), sorted(set(t) - set(b))
    check(not missing, "%s: telemetry lacks %s" % (what, missing))
    check(not extra, "%s: telemetry has %s, the API does not" % (what, extra))
    for name in sorted(set(b) & set(t) & set(a)):
        lo, v, hi = b[name], t[name], a[name]
        check(type(v) is type(lo), "%s: %s is %r in telemetry, %r in the API" % (what, name, v, lo))
        if lo == hi:
            check(v == lo, "%s: %s is %r in telemetry, %r in the API" % (what, name, v, lo))
        elif name.rsplit(".", 1)[-1] not in GAUGES:
            check(isinstance(lo, int) and lo <= hi,
                  "%s: counter %s went from %r to %r" % (what, name, lo, hi))
            check(isinstance(v, int) and lo <= v <= hi,
                  "%s: %s is %r in telemetry, between API reads %r and %r" % (what, name, v, lo, hi))
    return len(set(b) & set(t))


# ---- readers -------------------------------------------------------------------------


def runtime_dir(prefix):
    run = os.environ.get("RUNTIME_DIRECTORY")
    if not run:
        run = "/var/run" if os.getuid() == 0 else os.environ.get("XDG_RUNTIME_DIR", "/tmp")
    return os.path.join(run, "dpdk", prefix)


class SocketReader:
    name = "socket"

    def __init__(self, prefix):
        self.path = os.path.join(runtime_dir(prefix), "dpdk_telemetry.v2")

    def read(self, cmds):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(10)
        try:
            s.connect(self.path)
            info = json.loads(s.recv(1024).decode())
            out = []
            for c in cmds:
                s.send(c.encode())
                out.append(json.loads(s.recv(info["max_output_len"]).decode()))
            return out
        finally:
            s.close()


class ScriptReader:
    name = "dpdk-telemetry.py"

    def __init__(self, prefix, script):
        self.prefix, self.script = prefix, script

    def read(self, cmds):
        r = subprocess.run([self.script, "-f", self.prefix], input="\n".join(cmds) + "\n",
                           capture_output=True, text=True, timeout=30, check=False)
        lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
        if r.returncode != 0 or len(lines) != len(cmds):
            raise RuntimeError("%s -f %s: exit %d, %d lines for %d commands:\n%s%s" %
                               (self.script, self.prefix, r.returncode, len(lines), len(cmds),
                                r.stdout, r.stderr))
        return [json.loads(ln) for ln in lines]


def value(reply, cmd):
    """A reply is {"/cmd": value}, the command named without its parameters."""
    key = cmd.split(",", 1)[0]
    check(list(reply) == [key], "%s: reply keyed %s, not %s" % (cmd, list(reply), key))
    return reply.get(key)


# ---- the checks ----------------------------------------------------------------------


class Api:
    def __init__(self, control, token_file):
        self.base = "http://" + control
        with open(token_file, encoding="utf-8") as f:
            self.token = f.read().strip()

    def get(self, path):
        req = urllib.request.Request(self.base + path,
                                     headers={"Authorization": "Bearer " + self.token})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode())


def wait_ready(reader):
    deadline = time.monotonic() + 15
    last = None
    while time.monotonic() < deadline:
        try:
            cmds = value(reader.read(["/"])[0], "/")
            if all(c in cmds for c in COMMANDS):
                return cmds
            last = "commands so far: %s" % [c for c in cmds if c.startswith("/srdx")]
        except (OSError, ValueError) as e:
            last = str(e)
        time.sleep(0.2)
    raise SystemExit("FAIL: no /srdx telemetry commands on %s within 15 s (%s)" %
                     (getattr(reader, "path", reader.name), last))


def check_reader(reader, api, paths_per_peer):
    print("== reading with %s" % reader.name)
    f = len(FAILURES)
    cmds = wait_ready(reader)
    check(all(c in cmds for c in COMMANDS), "/ lists %s" % COMMANDS)

    # Counters, link and peers between two API reads.
    peers_before = api.get("/v1/peers")["peers"]
    names = [p["name"] for p in peers_before]
    h1 = {"counters": api.get("/v1/counters"), "c1": api.get("/v1/peers/c-1")}
    asked = ["/srdx/counters", "/srdx/link", "/srdx/peers", "/srdx/peers,c-1",
             "/srdx/peers,nobody", "/srdx/paths", "/srdx/paths,b,x", "/help,/srdx/paths"]
    got = dict(zip(asked, (value(r, c) for r, c in zip(reader.read(asked), asked))))
    h2 = {"counters": api.get("/v1/counters"), "c1": api.get("/v1/peers/c-1")}
    peers_after = api.get("/v1/peers")["peers"]

    c1, c2 = shape(h1["counters"]), shape(h2["counters"])
    t = got["/srdx/counters"]
    n = compare("/srdx/counters", c1, t, c2)
    for section in ("endpoint", "link", "poller", "echo", "api"):
        check(isinstance(t.get(section), dict), "/srdx/counters has a %s section" % section)
    ep, link = t.get("endpoint", {}), t.get("link", {})
    check(isinstance(ep.get("drops"), dict) and "too_short" in ep["drops"],
          "/srdx/counters: endpoint.drops by reason")
    check(link.get("kind") == "dpdk", "/srdx/counters: link.kind is dpdk")
    check(link.get("backend", {}).get("rx_queues", 0) >= 1, "/srdx/counters: link.backend")
    check(ep.get("handshake_packets_sent", 0) > 0 and link.get("tx_packets", 0) > 0,
          "/srdx/counters: the probe's packets counted (endpoint and link)")
    check(t.get("poller", {}).get("iterations", 0) > 0, "/srdx/counters: poller.iterations")
    api_t = t.get("api", {})
    check(api_t.get("unauthorized", 0) >= 1 and api_t.get("bad_requests", 0) >= 1,
          "/srdx/counters: api.unauthorized and api.bad_requests")
    f = ok("/srdx/counters: %d values agree with /v1/counters" % n, f)

    n = compare("/srdx/link", c1["link"], got["/srdx/link"], c2["link"])
    f = ok("/srdx/link: %d values agree with /v1/counters' link" % n, f)

    tp = got["/srdx/peers"]
    check(isinstance(tp, dict) and set(tp) == {"peers"}, "/srdx/peers: {peers} and nothing cut")
    tp = tp.get("peers", {}) if isinstance(tp, dict) else {}
    check(list(tp) == [tel_key(x) for x in names],
          "/srdx/peers: keyed %s, peers are %s" % (list(tp), names))
    for before, after in zip(peers_before, peers_after):
        key = tel_key(before["name"])
        compare("/srdx/peers " + key, shape(before), tp.get(key, {}), shape(after))
        check(tp.get(key, {}).get("name") == before["name"], "/srdx/peers: %s's exact name" % key)
    one = got["/srdx/peers,c-1"]
    compare("/srdx/peers,c-1", shape(h1["c1"]), one or {}, shape(h2["c1"]))
    check(one and one.get("name") == "c-1", "/srdx/peers,c-1 names c-1")
    f = ok("/srdx/peers (%s) and /srdx/peers,c-1 agree with /v1/peers" % ", ".join(tp), f)

    check(got["/srdx/peers,nobody"] is None, "/srdx/peers,nobody is null")
    check(got["/srdx/paths"] is None, "/srdx/paths without a peer is null")
    check(got["/srdx/paths,b,x"] is None, "/srdx/paths,b,x is null")
    check("NAME" in str(got["/help,/srdx/paths"]), "/help,/srdx/paths")
    f = ok("unknown peer, missing or bad parameters answer null", f)

    # Paths, page by page: the whole list is longer than one reply.
    first, pages, seen = 0, 0, []
    while first < paths_per_peer and pages < 10:
        cmd = "/srdx/paths,b,%d" % first
        h1 = api.get("/v1/peers/b/paths")
        tel = value(reader.read([cmd])[0], cmd)
        h2 = api.get("/v1/peers/b/paths")
        if not check(isinstance(tel, dict) and tel.get("peer") == "b", cmd + ": peer b"):
            break
        keys = list(tel.get("paths", {}))
        check(keys and keys == [str(i) for i in range(first, first + len(keys))],
              "%s: paths keyed from %d on, in order: %s" % (cmd, first, keys[:5]))
        left = paths_per_peer - first - len(keys)
        check(tel.get("omitted", 0) == left,
              "%s: omitted %r, %d left" % (cmd, tel.get("omitted"), left))
        check(set(tel) == ({"peer", "paths", "omitted"} if left else {"peer", "paths"}),
              "%s: keys %s" % (cmd, sorted(tel)))
        for k in keys:
            i = int(k)
            b, a = h1["paths"][i], h2["paths"][i]
            if (b["entropy"], b["generation"]) != (a["entropy"], a["generation"]):
                continue  # replaced between the reads
            compare("%s path %d" % (cmd, i), shape(b), tel["paths"][k], shape(a))
        seen += keys
        first += len(keys)
        pages += 1
        if not keys:
            break
    check(len(seen) == paths_per_peer and len(h1["paths"]) == paths_per_peer,
          "/srdx/paths,b: %d paths in %d replies, the API has %d" %
          (len(seen), pages, len(h1["paths"])))
    check(pages > 1, "/srdx/paths,b: %d paths did not need a second reply" % paths_per_peer)
    ok("/srdx/paths,b,FIRST: %d paths in %d replies agree with /v1/peers/b/paths" %
       (len(seen), pages), f)


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    prefix, control, token_file, paths = argv[0], argv[1], argv[2], int(argv[3])
    api = Api(control, token_file)
    readers = [SocketReader(prefix)]
    script = shutil.which("dpdk-telemetry.py")
    if script:
        readers.insert(0, ScriptReader(prefix, script))
    else:
        print("note: dpdk-telemetry.py is not installed (Debian: package dpdk-dev); "
              "reading the telemetry socket only")
    for r in readers:
        check_reader(r, api, paths)
    if FAILURES:
        print("%d checks failed" % len(FAILURES), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Shared by bench/replicate-fabric and scripts/dr-drill (issue 14's figures).

Two srdxd appliances on the multipath fabric of scripts/fabric: the source in
host A's namespace, the DR site in host B's. Each has its own key pair,
token, state directory and config file in a temporary work directory; the
control API listens on 127.0.0.1 inside its namespace, and this module
reaches it by opening its sockets in that namespace (setns on this thread,
then back), so an API call costs no extra process.

Everything started here (daemons, rsync and ssh servers) is recorded and
torn down by cleanup(), which the scripts call on exit and on Ctrl-C; the
fabric's namespaces go too.

Runs with the system interpreter (/usr/bin/python3): nothing beyond the
standard library.
"""

import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FABRIC = os.path.join(ROOT, "scripts", "fabric")
DATASET = os.path.join(ROOT, "scripts", "ehr-dataset")
PY = "/usr/bin/python3"
FABRIC_MBIT = 800  # 4 paths x 200 Mbit/s: what the figures are shares of

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000
_self_ns = None


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def die(prog, msg):
    print(f"{prog}: {msg}", file=sys.stderr)
    sys.exit(1)


def _setns(fd):
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


def ns_connect(ns, host, port, timeout):
    """A TCP socket connected from inside network namespace ns."""
    global _self_ns
    if _self_ns is None:
        _self_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        _setns(fd)
        try:
            return socket.create_connection((host, port), timeout=timeout)
        finally:
            _setns(_self_ns)
    finally:
        os.close(fd)


class _NsHTTP(http.client.HTTPConnection):
    def __init__(self, ns, host, port, timeout):
        super().__init__(host, port, timeout=timeout)
        self._ns = ns

    def connect(self):
        self.sock = ns_connect(self._ns, self.host, self.port, self.timeout)


def human_bytes(n):
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def parse_size(text):
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    num = t[:-1] if t[-1:] in "KMG" else t
    try:
        v = float(num) * mult
    except ValueError:
        raise ValueError(f"'{text}' is not a size (e.g. 256M, 2G)") from None
    if v < 1:
        raise ValueError(f"'{text}' is less than one byte")
    return int(v)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


_TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """(user, system) CPU seconds of a process, all threads, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return int(fields[11]) / _TICK, int(fields[12]) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def proc_cpu_with_children(pid):
    """CPU seconds of a process and of its children it has reaped (an rsync
    daemon's or sshd's per-connection processes), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return sum(int(x) for x in fields[11:15]) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def thread_cpu(pid):
    """{thread name: user+system CPU seconds} of a process's threads (threads
    of one name summed), from /proc/PID/task."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, _, rest = f.read().rpartition(")")
            name = head.partition("(")[2]
            fields = rest.split()
            out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / _TICK
        except (OSError, IndexError, ValueError):
            pass
    return out


def thread_cpu_delta(before, after):
    return {k: round(v - before.get(k, 0.0), 2) for k, v in after.items()
            if v - before.get(k, 0.0) > 0}


def tree_bytes(path):
    """Bytes and files of the regular files under path (.srdx excluded)."""
    total = files = 0
    for d, dirs, names in os.walk(path):
        dirs[:] = [x for x in dirs if x != ".srdx"]
        for n in names:
            st = os.lstat(os.path.join(d, n))
            if not os.path.islink(os.path.join(d, n)):
                total += st.st_size
                files += 1
    return total, files


class FsyncProbe:
    """Background probe of the disk the DR writes to: a 4 KiB write and fsync
    every 200 ms. On a shared machine the other users' writes set how long
    an fsync takes, and a durable DR waits for fsyncs: the probe's numbers
    beside each run say how busy the disk was."""

    def __init__(self, directory):
        import threading
        self.path = os.path.join(directory, ".fsync-probe")
        self.samples = []  # (time, seconds)
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)
        self._th.start()

    def _run(self):
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        block = b"p" * 4096
        try:
            while not self._stop.wait(0.2):
                os.pwrite(fd, block, 0)
                t = time.time()
                os.fsync(fd)
                self.samples.append((t, time.time() - t))
        finally:
            os.close(fd)
            os.unlink(self.path)

    def between(self, t0, t1):
        """Median and p90 fsync ms of the samples in [t0, t1]."""
        xs = sorted(d for t, d in self.samples if t0 <= t <= t1)
        if not xs:
            return None, None
        return xs[len(xs) // 2] * 1e3, xs[min(len(xs) - 1, int(len(xs) * 0.9))] * 1e3

    def stop(self):
        self._stop.set()
        self._th.join()


class Bed:
    """The fabric, the work directory, and every process started on it."""

    def __init__(self, prog, build, workdir=None, prefix=None, keep=False):
        self.prog = prog
        self.build = os.path.abspath(build)
        self.srdxd = os.path.join(self.build, "control", "srdxd")
        self.srdxctl = os.path.join(self.build, "apps", "ctl", "srdxctl")
        for f in (self.srdxd, self.srdxctl):
            if not os.access(f, os.X_OK):
                die(prog, f"{f} is missing: ninja -C {build} control/srdxd apps/ctl/srdxctl")
        if os.geteuid() != 0:
            die(prog, "needs root (network namespaces): run it with sudo")
        self.prefix = prefix or f"dr{os.getpid() % 100000}"
        self.work = tempfile.mkdtemp(prefix=f"srdx-{prog}.", dir=workdir)
        self.keep = keep
        self.procs = []  # (name, Popen)
        self.groups = []  # Popen of nsrun commands running now (process group leaders)
        self.fabric_up = False
        # The daemons run through a link with another name: a `pkill srdxd`
        # elsewhere does not hit them, and ps says whose they are.
        self.daemon = os.path.join(self.work, f"{prog}-srdxd")
        os.symlink(self.srdxd, self.daemon)
        self.ns_a = f"{self.prefix}-hA"
        self.ns_b = f"{self.prefix}-hB"
        self.ip_a = "198.18.1.2"
        self.ip_b = "198.18.2.2"

    # ---- fabric ----
    def fabric(self, *args):
        r = subprocess.run([FABRIC, "--prefix", self.prefix, *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"scripts/fabric {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def up(self, paths=4, rate="200mbit"):
        log(f"fabric: {paths} paths x {rate} (namespaces {self.prefix}-hA/r1/r2/hB)")
        self.fabric_up = True
        self.fabric("up", "--paths", str(paths), "--rate", rate)

    def set_loss(self, pct):
        if float(pct) == 0:
            self.fabric("set", "all", "restore")
        else:
            self.fabric("set", "all", "loss", str(pct))

    def paths_dead(self):
        self.fabric("set", "all", "dead")

    # ---- processes ----
    def spawn(self, name, ns, argv, out=None, **kw):
        f = open(out, "ab") if out else subprocess.DEVNULL
        p = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=f, stderr=subprocess.STDOUT
                             if out else subprocess.DEVNULL, **kw)
        self.procs.append((name, p))
        return p

    def stop_proc(self, p, sig=signal.SIGTERM, wait=5):
        if p.poll() is None:
            try:
                p.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(wait)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = [(n, q) for n, q in self.procs if q is not p]

    def nsrun(self, ns, argv, check=True, capture_output=False, text=False):
        """Runs a command in ns to its end, in a process group of its own that
        cleanup() ends if the script is stopped meanwhile (rsync's ssh, ...)."""
        pipe = subprocess.PIPE if capture_output else None
        p = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=pipe, stderr=pipe,
                             text=text, start_new_session=True)
        self.groups.append(p)
        out, err = p.communicate()  # a signal here leaves p in groups, for cleanup()
        self.groups.remove(p)
        r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
        if check:
            r.check_returncode()
        return r

    def cleanup(self):
        for p in self.groups:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in self.groups:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        self.groups = []
        for _, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    p.terminate()
                except ProcessLookupError:
                    pass
        deadline = time.time() + 5
        for _, p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        if self.fabric_up:
            # Whatever is left in the hosts' namespaces is ours (an sshd
            # session's rsync, ...): ended before the namespaces go.
            for sig in (signal.SIGTERM, signal.SIGKILL):
                left = []
                for ns in (self.ns_a, self.ns_b):
                    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
                    left += [int(x) for x in r.stdout.split()]
                for pid in left:
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
                if not left:
                    break
                time.sleep(0.5)
            subprocess.run([FABRIC, "--prefix", self.prefix, "down"], capture_output=True)
            self.fabric_up = False
        if self.keep:
            log(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def install_signal_handlers():
    """Ctrl-C and SIGTERM become SystemExit: the scripts' finally clean up."""

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


class Node:
    """One srdxd in a namespace of the fabric."""

    PORT = 47000
    CONTROL = 7480

    def __init__(self, bed, name, ns, ip, region="eu-west-3", site=None):
        self.bed, self.name, self.ns, self.ip = bed, name, ns, ip
        self.region, self.site = region, site or f"{name}-site"
        self.dir = os.path.join(bed.work, name)
        os.makedirs(self.dir, mode=0o700)
        self.key = os.path.join(self.dir, "private.key")
        self.token_file = os.path.join(self.dir, "token")
        self.config = os.path.join(self.dir, "srdxd.conf")
        self.logfile = os.path.join(self.dir, "daemon.log")
        self.state = os.path.join(self.dir, "state")
        self.dr_root = None
        old = os.umask(0o077)
        try:
            with open(self.key, "w") as f:
                subprocess.run([bed.srdxctl, "genkey"], stdout=f, check=True)
            with open(self.token_file, "w") as f:
                f.write(os.urandom(16).hex())
        finally:
            os.umask(old)
        with open(self.key) as f:
            self.pubkey = subprocess.run([bed.srdxctl, "pubkey"], stdin=f, capture_output=True,
                                         text=True, check=True).stdout.strip()
        with open(self.token_file) as f:
            self.token = f.read().strip()
        self.proc = None

    def peer_line(self):
        return (f"{self.name}={self.ip}:{self.PORT},key={self.pubkey},site={self.site},"
                f"region={self.region}")

    def configure(self, peers, dr_root=None, engine=(), audit_log=None):
        """engine: extra [engine] lines (e.g. "max-sleep = 100us"); audit_log:
        the audit log's path (default: in state-dir)."""
        self.dr_root = dr_root
        lines = [
            f"# srdxd {self.name} ({self.bed.prog})", "[link]", "kind = udp",
            f"local = {self.ip}:{self.PORT}", "entropy-ports = 49152:16", "[keys]",
            f"private-key-file = {self.key}", "[peers]",
            *[f"peer = {p.peer_line()}" for p in peers], "[control]",
            f"listen = 127.0.0.1:{self.CONTROL}", f"token-file = {self.token_file}", "[services]",
            "tcp-echo = off", "[log]", "level = info", "[daemon]", "drain-timeout = 2s",
            "[engine]", *engine, "[replication]", f"state-dir = {self.state}", f"site = {self.site}",
            f"region = {self.region}"
        ]
        self.audit_path = audit_log or os.path.join(self.state, "audit.jsonl")
        if audit_log:
            lines.append(f"audit-log = {audit_log}")
        if dr_root:
            os.makedirs(dr_root, exist_ok=True)
            lines.append(f"dr-root = {dr_root}")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=15):
        self.proc = self.bed.spawn(f"srdxd {self.name}", self.ns,
                                   [self.bed.daemon, "--config", self.config], out=self.logfile)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"srdxd {self.name} exited at start: {self.tail_log()}")
            try:
                st, _ = self.api("GET", "/v1/status", timeout=1)
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"srdxd {self.name}: the API did not answer within {timeout} s")

    def kill9(self):
        """kill -9, the crash the resume figure and the drill are about."""
        p = self.proc
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.bed.procs = [(n, q) for n, q in self.bed.procs if q is not p]
        self.proc = None

    def stop(self):
        if self.proc:
            self.bed.stop_proc(self.proc)
            self.proc = None

    def cpu_seconds(self):
        """User and system CPU seconds of the daemon so far (all its threads)."""
        return proc_cpu(self.proc.pid) if self.proc else (0.0, 0.0)

    def thread_cpu(self):
        """{thread name: CPU seconds so far} (worker, carrier loop, API, ...)."""
        return thread_cpu(self.proc.pid) if self.proc else {}

    def tail_log(self, n=20):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def api(self, method, path, body=None, timeout=10):
        c = _NsHTTP(self.ns, "127.0.0.1", self.CONTROL, timeout)
        try:
            headers = {"Authorization": f"Bearer {self.token}"}
            data = None
            if body is not None:
                data = json.dumps(body)
                headers["Content-Type"] = "application/json"
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
            try:
                doc = json.loads(raw) if raw else None
            except ValueError:
                doc = raw.decode(errors="replace")
            return r.status, doc
        finally:
            c.close()

    def metrics(self):
        """/metrics as {name{labels}: value}."""
        c = _NsHTTP(self.ns, "127.0.0.1", self.CONTROL, 10)
        try:
            c.request("GET", "/metrics", headers={"Authorization": f"Bearer {self.token}"})
            text = c.getresponse().read().decode()
        finally:
            c.close()
        out = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
        return out

    def ctl(self, *args, check=True):
        """srdxctl against this daemon (in its namespace); stdout."""
        r = self.bed.nsrun(self.ns, [
            self.bed.srdxctl, "--api", f"127.0.0.1:{self.CONTROL}", "--token-file",
            self.token_file, *args
        ], check=False, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"srdxctl {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
        return r

    # ---- replication jobs ----
    def job_start(self, name, source, peer, mode="durable", continuous=False):
        st, doc = self.api("POST", "/v1/replications", {
            "name": name,
            "source": source,
            "peer": peer,
            "mode": mode,
            "continuous": continuous
        })
        if st != 201:
            raise RuntimeError(f"POST /v1/replications ({name}): HTTP {st}: {doc}")
        return doc

    def job(self, name):
        st, doc = self.api("GET", f"/v1/replications/{name}")
        if st != 200:
            raise RuntimeError(f"GET /v1/replications/{name}: HTTP {st}: {doc}")
        return doc

    def job_stop(self, name):
        self.api("DELETE", f"/v1/replications/{name}")

    def barrier(self, name, timeout=40):
        return self.api("POST", f"/v1/replications/{name}/barrier", {}, timeout=timeout)

    def wait_job(self, name, until, timeout, every=0.1, on_poll=None):
        """Polls the job until until(doc) is true; the doc and when."""
        deadline = time.time() + timeout
        while True:
            doc = self.job(name)
            now = time.time()
            if doc["state"] == "failed":
                raise RuntimeError(f"job {name} failed: {doc.get('error')}")
            if on_poll:
                on_poll(doc, now)
            if until(doc):
                return doc, now
            if now > deadline:
                raise RuntimeError(f"job {name}: not there within {timeout} s: "
                                   f"state {doc['state']}, progress {doc['progress']}")
            time.sleep(every)


def ensure_dataset(cache, size, seed=1, prog="bench"):
    """A scripts/ehr-dataset tree of size bytes under cache (made once, reused)."""
    path = os.path.join(cache, f"ehr-{size}-seed{seed}")
    done = path + ".done"
    if os.path.exists(done):
        return path
    log(f"writing a {human_bytes(size)} synthetic EHR tree: {path}")
    os.makedirs(cache, exist_ok=True)
    r = subprocess.run([PY, DATASET, path, "--size", str(size), "--seed", str(seed), "--force",
                        "--quiet"], capture_output=True, text=True)
    if r.returncode != 0:
        die(prog, f"scripts/ehr-dataset: {r.stderr.strip()}")
    open(done, "w").close()
    return path


def two_nodes(bed, dr_subdir="dr", audit_dir=None):
    """Source a in host A, DR b in host B, each naming the other; started.
    audit_dir: where both audit logs go (default: each state-dir)."""
    a = Node(bed, "a", bed.ns_a, bed.ip_a, site="paris-1")
    b = Node(bed, "b", bed.ns_b, bed.ip_b, site="paris-2")
    al = (lambda n: os.path.join(audit_dir, f"audit-{bed.prefix}-{n}.jsonl")) if audit_dir else (
        lambda n: None)
    a.configure([b], audit_log=al("a"))
    b.configure([a], dr_root=os.path.join(bed.work, dr_subdir), audit_log=al("b"))
    a.start()
    b.start()
    return a, b

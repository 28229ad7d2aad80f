#!/usr/bin/env python3
"""srdx-bench's report: reads DIR/runs.tsv and every run's raw output, writes
DIR/results.json (schema: bench/srdx-bench.schema.json), DIR/meta.json (the
run and the issue's figures, met or missed), prints the tables, and draws the
plots with gnuplot when it is installed.

Called by scripts/srdx-bench; run it again on a result directory to redo the
tables and plots:  bench/srdx_bench_report.py --out DIR [--cc bbr ...]
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
import traceback

SCHEMA = "srdx-bench/7"

TRANSPORTS = ("srdx-udp", "srdx-dpdk", "srdx-fabric", "fi_pingpong", "tcp", "mptcp", "udp")
SRDX = ("srdx-udp", "srdx-dpdk")  # the srdx engine (encrypted, the encryption-cost pairs, its figures)
PERF = SRDX + ("srdx-fabric",)  # srdx-perf runs (its JSON, its receiver's checks)
FABRIC_PROVIDER = "udp;ofi_rxd"
SCENARIOS = ("clean", "rate", "loss", "dead", "dead6of8")
WORKLOADS = ("pingpong", "bulk", "bulk-flows")
TIMELINE_WINDOW_S = 0.005  # goodput is judged over 5 ms windows, stepped by the timeline interval
DIP_FRACTION = 0.5  # a window below half the pre-failure median is "in the dip"
AFTER_FAILURE_S = 3.0  # how long after the failure the dip is looked for
SERIES_BIN_S = 0.1  # dead6of8: goodput before and after the failure in 100 ms bins
RECOVERED_SHARE = 0.8  # dead6of8: recovered = 100 ms windows at 80% of the surviving paths...
RECOVERED_WINDOWS = 3  # ...this many in a row (a backlog delivered at once does not count)


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def load_samples(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [float(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return None


def load_timeline(path):
    """(interval_s, [(unix_time_s, bytes)]) or None."""
    try:
        interval, rows = None, []
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("# interval_s"):
                    interval = float(line.split()[2])
                elif line.strip() and not line.startswith("#"):
                    t, b = line.split()
                    rows.append((float(t), int(b)))
        return (interval, rows) if interval and rows else None
    except (OSError, ValueError):
        return None


def delivered_span(timeline, res):
    """(interval, rows, first, last): the timeline and its first and last
    interval with deliveries; None, with res["verdict"] saying why, when
    there is no timeline or nothing was delivered."""
    if not timeline:
        res["verdict"] = "no timeline"
        return None
    interval, rows = timeline
    first = next((t for t, b in rows if b > 0), None)
    last = max((t for t, b in rows if b > 0), default=None)
    if first is None:
        res["verdict"] = "nothing delivered"
        return None
    return interval, rows, first, last


def windowed(interval, rows):
    """Goodput (bit/s) over a sliding TIMELINE_WINDOW_S window ending at each interval."""
    k = max(1, round(TIMELINE_WINDOW_S / interval))
    out, acc = [], 0
    for i, (t, b) in enumerate(rows):
        acc += b
        if i >= k:
            acc -= rows[i - k][1]
        if i + 1 >= k:
            out.append((t + interval, acc * 8 / (k * interval)))
    return out


def longest_below(points, lo, hi, threshold, step):
    """Longest run (seconds) of consecutive points in [lo, hi) below threshold."""
    best = cur = 0.0
    for t, g in points:
        if t < lo or t >= hi:
            continue
        if g < threshold:
            cur += step
            best = max(best, cur)
        else:
            cur = 0.0
    return best


def failure_analysis(timeline, dead_file, ok, t_end_sender=None):
    """What a path failure did to a bulk run's delivered goodput."""
    try:
        with open(dead_file, encoding="utf-8") as f:
            t_before, t_after = (float(x) for x in f.read().split())
    except (OSError, ValueError):
        # The killer never fired: the run was over before its time came.
        return {"failed_at_unix_s": None, "failure_applied_s": None,
                "verdict": "the run ended before the path died"}
    res = {"failed_at_unix_s": t_before, "failure_applied_s": round(t_after - t_before, 4)}
    if ok and t_end_sender is not None and t_end_sender <= t_after:
        # The sender was done while `fabric set` was still at work (it takes
        # most of a second on a busy machine): nothing to see after it.
        res["verdict"] = "the run ended before the path died"
        return res
    span = delivered_span(timeline, res)
    if span is None:
        return res
    interval, rows, first, last = span
    pts = windowed(interval, rows)
    pre = [g for t, g in pts if first + TIMELINE_WINDOW_S <= t < t_before]
    if len(pre) < 10 or t_before >= last:
        res["verdict"] = "the run ended before the failure" if t_before >= last else "too short before the failure"
        return res
    base = statistics.median(pre)
    thr = base * DIP_FRACTION
    end = min(last, t_after + AFTER_FAILURE_S)
    after = [(t, g) for t, g in pts if t_before <= t < end]
    dip = longest_below(pts, t_before, end, thr, interval)
    # The same measure over as long a stretch before the failure: what noise
    # alone does to it (a busy 2-core machine pauses receivers too).
    span = end - t_before
    noise = longest_below(pts, max(first + TIMELINE_WINDOW_S, t_before - span), t_before, thr, interval)
    delivered_after = sum(b for t, b in rows if t >= t_after)
    stall = None
    if delivered_after == 0:
        stall = "no byte delivered after the failure"
    res.update({
        "baseline_gbps": round(base / 1e9, 4),
        "dip_ms": round(dip * 1e3, 2),
        "noise_dip_ms": round(noise * 1e3, 2),
        "min_window_gbps_after": round(min((g for _, g in after), default=0) / 1e9, 4),
        "bytes_after_failure": delivered_after,
        "window_ms": TIMELINE_WINDOW_S * 1e3,
        "verdict": stall or ("kept going" if ok else "did not complete"),
    })
    return res


def rate_bps(rate):
    """'200mbit' -> 2e8 (the tc rates srdx-bench accepts), or None."""
    for unit, mult in (("kbit", 1e3), ("mbit", 1e6), ("gbit", 1e9)):
        if rate.endswith(unit) and rate[: -len(unit)].isdigit():
            return int(rate[: -len(unit)]) * mult
    return None


def path_list(spec, paths):
    """'3-8' or '2' or '1,3-4' -> [3, 4, 5, 6, 7, 8] (as scripts/fabric reads it)."""
    if spec == "all":
        return list(range(1, paths + 1))
    out = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return sorted(out)


def load_counters(path):
    """`scripts/fabric counters` output -> {path: (state, dropped, forwarded)}
    (both directions summed), or None when the file is missing."""
    try:
        res = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                p, state, dab, dba, fab, fba = line.split()
                res[int(p)] = (state, int(dab) + int(dba), int(fab) + int(fba))
        return res
    except (OSError, ValueError):
        return None


def fabric_failure_analysis(timeline, base, ok, t_end_sender, dead_spec, paths, rate):
    """What the failure of several paths at once (dead6of8) did to one bulk
    run: goodput before and after, a 100 ms series around the failure, the
    time until a 100 ms window carries RECOVERED_SHARE of the surviving paths'
    capacity, and the fabric's counters on each path."""
    try:
        with open(base + ".dead", encoding="utf-8") as f:
            t_before, t_after = (float(x) for x in f.read().split())
    except (OSError, ValueError):
        return {"failed_at_unix_s": None, "failure_applied_s": None,
                "verdict": "the run ended before the paths died"}
    # The failure's moment: when `fabric set` returned, both routers
    # dropping. The command itself takes a while on a busy machine (0.6 s
    # seen), most of it before its nft transactions: counting from its
    # start would credit the transport with time the paths were still alive.
    t_before, t_asked = t_after, t_before
    dead = path_list(dead_spec, paths)
    cap = (paths - len(dead)) * (rate_bps(rate) or 0)
    res = {"failed_at_unix_s": t_before, "failure_applied_s": round(t_after - t_asked, 4),
           "dead_paths": dead, "surviving_capacity_gbps": round(cap / 1e9, 4),
           "recovered_share": RECOVERED_SHARE, "series_bin_ms": SERIES_BIN_S * 1e3}
    # The fabric's counters: what each path dropped over the run, and what it
    # forwarded from just after the failure to the end (nothing, on a path
    # that is really dead).
    c0, c1, c2 = (load_counters(base + ".counters-" + k) for k in ("start", "failed", "end"))
    if c0 and c2:
        res["path_counters"] = [{"path": p, "dead": p in dead, "dropped": c2[p][1] - c0.get(p, ("", 0, 0))[1],
                         "forwarded_after_failure": (c2[p][2] - c1[p][2]) if c1 and p in c1 else None}
                        for p in sorted(c2)]
    try:
        # TCP: 1; MPTCP: its subflows, each a TCP connection to the receiver.
        with open(base + ".conns", encoding="utf-8") as f:
            res["connections_before_failure"] = sum(1 for line in f if line.strip())
    except OSError:
        pass
    span = delivered_span(timeline, res)
    if span is None:
        return res
    interval, rows, first, last = span
    if t_before >= last and t_end_sender <= t_before:
        res["verdict"] = "the run ended before the failure"
        return res
    # The run's end: its last delivery when it completed; when it did not,
    # when the sender gave up (a flow stuck on a dead path delivers nothing
    # after the failure, and that time counts).
    t_end = last + interval if ok else max(last + interval, t_end_sender)
    # Before: from the first delivery plus a little slow start to when the
    # failure was asked for (every path still alive).
    lo = first + min(0.5, max(0.0, t_asked - first) / 2)
    before = sum(b for t, b in rows if lo <= t < t_asked)
    after = sum(b for t, b in rows if t >= t_before)
    res["before_gbps"] = round(before * 8 / max(t_asked - lo, interval) / 1e9, 4)
    res["after_gbps"] = round(after * 8 / max(t_end - t_before, interval) / 1e9, 4)
    res["after_share"] = round(after * 8 / max(t_end - t_before, interval) / cap, 4) if cap else None
    res["bytes_after_failure"] = after
    # The series: whole 100 ms bins, t = 0 at the failure.
    series = {}
    for t, b in rows:
        if first <= t < t_end:
            k = int((t - t_before) // SERIES_BIN_S)
            series[k] = series.get(k, 0) + b
    k_lo = int((first - t_before) // SERIES_BIN_S) + 1  # the first whole bin
    k_hi = int((t_end - t_before) // SERIES_BIN_S)  # bins before it are whole
    res["series"] = [[round(k * SERIES_BIN_S, 3), round(series.get(k, 0) * 8 / SERIES_BIN_S / 1e9, 4)]
                     for k in range(k_lo, k_hi)]
    # Recovery: the first moment at or after the failure (in steps of the
    # timeline's interval) from which RECOVERED_WINDOWS 100 ms windows in a
    # row each carry the share. Messages completing just after the failure
    # with what had arrived before it fill one window, not three.
    w = max(1, round(SERIES_BIN_S / interval))
    need = RECOVERED_SHARE * cap * SERIES_BIN_S / 8
    prefix = [0]
    for _, b in rows:
        prefix.append(prefix[-1] + b)
    n_end = sum(1 for t, _ in rows if t + interval <= t_end + 1e-9)
    rec = None
    if cap:
        for i in range(len(rows)):
            if rows[i][0] < t_before:
                continue
            if i + RECOVERED_WINDOWS * w > n_end:
                break
            if all(prefix[i + (k + 1) * w] - prefix[i + k * w] >= need for k in range(RECOVERED_WINDOWS)):
                rec = rows[i][0]
                break
    res["recovery_ms"] = None if rec is None else round((rec - t_before) * 1e3, 1)
    if rec is not None:
        held = [g for t, g in res["series"] if t * 1.0 >= (rec - t_before)]
        res["bins_at_share_after_recovery"] = round(
            sum(1 for g in held if g * 1e9 >= RECOVERED_SHARE * cap) / len(held), 3) if held else None
    if after == 0:
        res["verdict"] = "no byte delivered after the failure"
    elif rec is None:
        res["verdict"] = "never held %d%% of the surviving paths' capacity for %d ms" % (
            RECOVERED_SHARE * 100, RECOVERED_WINDOWS * SERIES_BIN_S * 1e3)
    else:
        res["verdict"] = "back to %d%% of the surviving paths in %.0f ms%s" % (
            RECOVERED_SHARE * 100, res["recovery_ms"], "" if ok else "; the run did not complete")
    return res


def impl_name(tr, paths, dpdk_pmd):
    return {
        "srdx-udp": "srdx-perf --link udp (io_uring)",
        "srdx-dpdk": "srdx-perf --link dpdk (net_%s on the host veth)" % dpdk_pmd,
        "tcp": "kernel TCP (TCP_NODELAY)",
        "mptcp": "kernel MPTCP (IPPROTO_MPTCP, TCP_NODELAY, %d subflows)" % min(paths, 8),
        "srdx-fabric": "srdx-perf --carrier fabric --fabric-provider '%s' (libfabric FI_EP_RDM: the provider "
                       "does reliability; no encryption: the fabric carrier has none)" % FABRIC_PROVIDER,
        "fi_pingpong": "fi_pingpong -e rdm -p '%s' -S 64 (libfabric's own test, the anchor for srdx-fabric; "
                       "mean RTT = 2 x usec/xfer, no percentiles)" % FABRIC_PROVIDER,
        "udp": "plain kernel UDP: sockperf ping-pong (one message outstanding, no reliability, no encryption)",
    }[tr]


def build_records(args):
    out = args.out
    recs = []
    with open(os.path.join(out, "runs.tsv"), encoding="utf-8") as f:
        lines = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    for fields in lines:
        try:
            recs.append(build_record(args, recs, fields))
        except Exception as e:  # a run this report cannot read is recorded as failed, not fatal
            recs.append(broken_record(args, fields, e))
    return recs


def run_error(sfile, j, rc):
    """Why a run failed, in one line: its JSON's error, else its stderr's last words."""
    if j.get("error"):
        return str(j["error"])
    if j.get("failed"):
        # srdx-perf: messages the endpoint gave up on (and said so); the
        # last line of stderr would be an unrelated library's warning.
        return "%d of %s messages failed at the sender" % (j["failed"], j.get("messages", "?"))
    err = sfile[: -len(".json")] + ".err"
    try:
        with open(err, encoding="utf-8", errors="replace") as f:
            lines = [l.strip() for l in f if l.strip() and "listening on" not in l and "WARNING" not in l]
    except OSError:
        lines = []
    if lines:
        return lines[-1][:400]
    if rc not in ("0", "reuse"):
        return "exit status %s, nothing on stderr" % rc
    return "the sender reported no result" if not j else "the run did not complete"


def broken_record(args, fields, exc):
    """A record for a runs.tsv line the report could not read."""
    fields = (list(fields) + ["-"] * 13)[:13]
    tr, wl, sc, size, sfile = fields[:5]
    try:
        size = int(size)
    except ValueError:
        size = 24
    raw = os.path.relpath(sfile, args.out) if sfile.startswith(args.out) else "raw/unknown.json"
    return {
        "transport": tr if tr in TRANSPORTS else "srdx-udp", "impl": "unreadable run", "cc": None,
        "encryption": None, "cost_pair": None, "workload": wl if wl in WORKLOADS else "bulk",
        "scenario": sc if sc in SCENARIOS else "clean", "size": max(24, size), "flows": 1, "ok": False,
        "messages": None, "goodput_gbps": None, "per_flow_goodput_gbps": [], "rtt_us": None,
        "retransmissions": None, "duration_s": None, "wall_s": None, "dead_after_s": None,
        "lost_messages": None, "undelivered_messages": None, "failed_messages": None,
        "raw": raw if raw.startswith("raw/") and raw.endswith(".json") else "raw/unknown.json",
        "samples": None, "timeline": None, "failure": None, "paths": None, "cpu": None,
        "error": "the report could not read this run: %s: %s" % (type(exc).__name__, exc),
    }


def fipp_record(args, fields):
    """fi_pingpong's run: the JSON srdx-bench parsed from its output (mean
    one-way usec/xfer; the mean RTT is twice it). No percentiles, no samples."""
    tr, wl, sc, size, sfile, rc, t0, t1 = fields[:8]
    paths = fields[11] if len(fields) > 11 else str(args.paths)
    j = load_json(sfile)
    ok = bool(j.get("ok")) and rc == "0"
    usec = j.get("usec_per_xfer") if isinstance(j.get("usec_per_xfer"), (int, float)) else None
    time_s = j.get("time_s") if isinstance(j.get("time_s"), (int, float)) else None
    n = j.get("iterations") if ok else None
    return {
        "transport": tr, "impl": impl_name(tr, int(paths), args.dpdk_pmd), "cc": None, "encryption": None,
        "cost_pair": None, "workload": wl, "scenario": sc, "size": int(size), "flows": 1, "ok": ok,
        "messages": n,
        # Both directions' payload over the run's time, as fi_pingpong's MB/sec counts it.
        "goodput_gbps": round(j["mb_per_s"] * 8e6 / 1e9, 6) if isinstance(j.get("mb_per_s"), (int, float)) else None,
        "per_flow_goodput_gbps": [],
        "rtt_us": None, "retransmissions": None, "duration_s": time_s,
        "wall_s": round(float(t1) - float(t0), 3), "dead_after_s": None, "lost_messages": None,
        "undelivered_messages": None, "failed_messages": None, "raw": os.path.relpath(sfile, args.out),
        "samples": None, "timeline": None, "failure": None, "paths": int(paths), "cpu": None,
        "error": None if ok else (j.get("error") or run_error(sfile, j, rc)),
        "fi_pingpong": {"usec_per_xfer": usec, "mean_rtt_us": None if usec is None else round(2 * usec, 2),
                        "iterations": j.get("iterations"), "provider": j.get("provider", FABRIC_PROVIDER),
                        "endpoint": j.get("endpoint", "rdm")},
    }


def build_record(args, recs, fields):
    out = args.out
    fields = list(fields)
    if fields[0] == "fi_pingpong":
        return fipp_record(args, fields)
    if len(fields) == 9:  # runs.tsv of srdx-bench/2: no security column
        fields.append("encrypted" if fields[0] in SRDX else "-")
    if len(fields) == 10:  # no encryption-cost pair column
        fields.append("-")
    if len(fields) == 11:  # srdx-bench/3: no fabric paths and dying paths columns
        fields += [str(args.paths), "2" if fields[8] != "-" else "-"]
    tr, wl, sc, size, sfile, rc, t0, t1, dead_after, security, pair, paths, dying = fields
    paths = int(paths)
    j = load_json(sfile)
    rj = load_json(sfile[: -len(".json")] + ".recv.json") if rc != "reuse" else {}
    base = sfile[: -len(".json")]
    lat = j.get("latency_us") if wl == "pingpong" else None
    rtt = None
    if isinstance(lat, dict):
        rtt = {k: lat.get(k) for k in ("p50", "p90", "p99", "p99.9", "p99.99", "max")}
        rtt["samples"] = lat.get("samples")
        if isinstance(lat.get("mean"), (int, float)):
            rtt["mean"] = lat["mean"]
    if tr in PERF:
        per_flow = [j.get("goodput_gbps")]
    else:
        per_flow = [p.get("goodput_gbps") for p in j.get("per_flow", [])]
    ok = bool(j.get("ok", False)) and rc in ("0", "reuse")
    lost = undelivered = None
    if tr in PERF and rj:
        # srdx-perf's receiver checks every message. Lost: the sender was
        # told a message was delivered and the receiver never got it, or
        # got it twice or damaged. A run cut short by its timeout leaves
        # messages undelivered, not lost (the sender knows about them).
        got = rj.get("received") or 0
        done = j.get("completed") or 0
        lost = max(0, done - got) + (rj.get("duplicates") or 0) + (rj.get("corrupt") or 0)
        undelivered = rj.get("missing")
    encryption = None
    if tr in PERF:
        # What the run said about itself; what it was asked to do when it said nothing.
        encryption = j["encryption"] if isinstance(j.get("encryption"), bool) else security != "clear"
    rec = {
        "transport": tr,
        "impl": impl_name(tr, paths, args.dpdk_pmd) + ("" if encryption is not False or tr not in SRDX
                                                        else ", --no-encryption"),
        "cc": None if tr in PERF or tr == "udp" else j.get("cc", args.cc),
        "encryption": encryption,
        "cost_pair": None if pair == "-" else int(pair),
        "workload": wl,
        "scenario": sc,
        "size": int(size),
        "flows": j.get("flows", 1) if rc != "reuse" else 1,
        "ok": ok,
        "messages": j.get("completed"),
        "goodput_gbps": j.get("goodput_gbps"),
        "per_flow_goodput_gbps": per_flow,
        "rtt_us": rtt,
        "retransmissions": j.get("retransmissions"),
        "duration_s": j.get("elapsed_s"),
        "wall_s": round(float(t1) - float(t0), 3) if rc != "reuse" else None,
        "dead_after_s": None if dead_after == "-" else float(dead_after),
        "lost_messages": lost,
        "undelivered_messages": undelivered,
        "failed_messages": j.get("failed") if tr in PERF else None,
        "raw": os.path.relpath(sfile, out),
        "samples": None,
        "timeline": None,
        "failure": None,
        "paths": paths,
        "cpu": None,
        "error": None if ok else run_error(sfile, j, rc),
    }
    if wl != "pingpong" and rc != "reuse" and tr != "udp":
        rec["cpu"] = {"sender": cpu_end(j), "receiver": cpu_end(rj)}
    if tr in SRDX and j:
        e = j.get("endpoint") or {}
        rec["handshakes"] = e.get("handshakes_completed")
        rec["key_updates"] = e.get("key_updates")
    if wl == "pingpong" and os.path.exists(base + ".samples"):
        rec["samples"] = os.path.relpath(base + ".samples", out)
    if rc != "reuse" and os.path.exists(base + ".recv.tl"):
        rec["timeline"] = os.path.relpath(base + ".recv.tl", out)
    if sc == "dead" and wl != "pingpong" and rc != "reuse":
        rec["failure"] = failure_analysis(load_timeline(base + ".recv.tl"), base + ".dead", ok, float(t1))
    if sc == "dead6of8" and rc != "reuse":
        rec["failure"] = fabric_failure_analysis(load_timeline(base + ".recv.tl"), base, ok, float(t1), dying,
                                                 paths, args.rate)
    if rc == "reuse":
        rec["note"] = "one connection: the one-flow bulk run of this scenario"
        src = next((r for r in main_records(recs) if r["transport"] == tr and r["workload"] == "bulk"
                    and r["scenario"] == sc and r["size"] == int(size)), None)
        if src:
            for k in ("lost_messages", "undelivered_messages", "failed_messages", "timeline", "failure", "error", "cpu"):
                rec[k] = src[k]
    return rec


def cpu_end(j):
    """One end's CPU cost from its tool's JSON ("cpu": getrusage over the
    run's window), or None when the tool said nothing (it died, or is older)."""
    c = j.get("cpu") if isinstance(j, dict) else None
    if not isinstance(c, dict):
        return None
    out = {}
    for k in ("user_s", "sys_s", "user_s_per_gb", "sys_s_per_gb"):
        v = c.get(k)
        out[k] = v if isinstance(v, (int, float)) and math.isfinite(v) else None
    out["bytes"] = c.get("bytes") if isinstance(c.get("bytes"), int) else None
    return out


def cpu_per_gb(end):
    """user+sys seconds per GB at one end, or None."""
    if not end or end.get("user_s_per_gb") is None or end.get("sys_s_per_gb") is None:
        return None
    return end["user_s_per_gb"] + end["sys_s_per_gb"]


def div_sum(a, b):
    """a + b, or None when either is missing."""
    return None if a is None or b is None else a + b


def main_records(recs):
    """The records the scenario tables and comparisons use: every transport as
    it runs by default (srdx encrypted), not the encryption-cost pairs."""
    return [r for r in recs if r.get("cost_pair") is None
            and (r.get("encryption") is not False or r["transport"] not in SRDX)]


def g(v, fmt="%.3f"):
    return "-" if v is None else fmt % v


def us(v):
    if v is None:
        return "-"
    if v >= 10000:
        return "%.1fms" % (v / 1000)
    return "%.0f" % v if v >= 100 else "%.1f" % v


def div(a, b):
    """a / b, or None when either is missing or b is zero."""
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or b == 0:
        return None
    return a / b


def ratio(a, b):
    v = div(a, b)
    return "-" if v is None else "%.2fx" % v


def usable(r, key="goodput_gbps"):
    """Whether a record can enter a ratio: it completed and has the number."""
    if not r or not r.get("ok"):
        return False
    if key in ("p50", "p99", "p99.9"):
        return isinstance((r.get("rtt_us") or {}).get(key), (int, float))
    return isinstance(r.get(key), (int, float))


def why_not(*named):
    """'ratio omitted: srdx-udp bulk rate failed (error)': named are (label,
    record, usable) triples; the usable ones are not mentioned."""
    parts = []
    for label, r, fine in named:
        if fine:
            continue
        if not r:
            parts.append("%s did not run" % label)
        elif not r.get("ok"):
            parts.append("%s failed (%s)" % (label, r.get("error") or "did not complete"))
        else:
            parts.append("%s reported no figure" % label)
    return "ratio omitted: " + "; ".join(parts)


def table(all_recs, args):
    recs = main_records(all_recs)
    idx = {(r["transport"], r["workload"], r["scenario"], r["size"]): r for r in recs}
    present = [t for t in TRANSPORTS if any(r["transport"] == t for r in recs)]
    print("srdx-bench (%s): %s; %d paths, MTU %d; TCP congestion control %s; rate/loss/dead at %s per path"
          % (args.mode, ", ".join(present), args.paths, args.mtu, args.cc, args.rate))
    if "srdx-dpdk" in present:
        print("srdx-dpdk: %s" % args.dpdk_reason)
    print("goodput in Gbit/s (x tcp: this / TCP); RTT in us, ping-pong with one message outstanding "
          "(tcp/x p99.9: TCP's p99.9 / this one's); '!' = incomplete run")
    desc = {"clean": "no impairment, no rate limit", "rate": "every path at " + args.rate,
            "loss": "every path at %s and 1%% loss" % args.rate,
            "dead": "every path at %s, path 2 dies in the middle of each run" % args.rate,
            "dead6of8": "8 paths at %s, paths 3-8 die together in the run" % args.rate}
    print("cpu s/GB: CPU seconds (user+sys, getrusage over the run) per GB (1e9 B) moved, at the sender (tx) and "
          "the receiver (rx); bulk runs")
    cols = "%-14s %6s %-11s | %9s %7s | %7s %7s | %8s %8s %9s %10s | %6s | %s"
    head = cols % ("workload", "size", "transport", "goodput", "x tcp", "cpu tx", "cpu rx", "p50", "p99", "p99.9",
                   "tcp/x p99.9", "rtx", "note")
    for sc in SCENARIOS:
        keys = sorted({(k[1], k[3]) for k in idx if k[2] == sc}, key=lambda x: (WORKLOADS.index(x[0]), x[1]))
        if not keys:
            continue
        print()
        print("scenario %s: %s" % (sc, desc[sc]))
        print(head)
        print("-" * len(head))
        for wl, size in keys:
            t = idx.get(("tcp", wl, sc, size))
            for tr in present:
                r = idx.get((tr, wl, sc, size))
                if not r:
                    continue
                rt = r["rtt_us"] or {}
                tt = (t or {}).get("rtt_us") or {}
                name = wl if wl != "bulk-flows" else "%d flows" % r["flows"]
                gp = g(r["goodput_gbps"]) + ("" if r["ok"] else "!")
                note = []
                if r.get("note"):
                    note.append("= bulk run")
                if tr == "srdx-fabric":
                    note.append("no encryption (the fabric carrier has none)")
                fp = r.get("fi_pingpong")
                if fp and fp.get("mean_rtt_us") is not None:
                    note.append("fi_pingpong: mean RTT %s us (2 x %s usec/xfer), no percentiles"
                                % (us(fp["mean_rtt_us"]), us(fp["usec_per_xfer"])))
                f = r.get("failure")
                if f and "dip_ms" in f:
                    note.append("dip %.1f ms (noise %.1f), %s" % (f["dip_ms"], f["noise_dip_ms"], f["verdict"]))
                elif f:
                    note.append(f["verdict"])
                if r.get("lost_messages"):
                    note.append("%d LOST" % r["lost_messages"])
                if r.get("failed_messages"):
                    note.append("%d failed (reported to the sender)" % r["failed_messages"])
                if not r["ok"] and r.get("undelivered_messages"):
                    note.append("%d not delivered by the timeout" % r["undelivered_messages"])
                if not r["ok"] and r.get("error"):
                    note.append("FAILED: " + r["error"][:120])
                cpu = r.get("cpu") or {}
                print(cols % (name, size, tr, gp,
                              ratio(r["goodput_gbps"], t and t["goodput_gbps"]) if tr != "tcp" else "",
                              g(cpu_per_gb(cpu.get("sender")), "%.2f"), g(cpu_per_gb(cpu.get("receiver")), "%.2f"),
                              us(rt.get("p50")), us(rt.get("p99")), us(rt.get("p99.9")),
                              ratio(tt.get("p99.9"), rt.get("p99.9")) if tr != "tcp" and rt else "",
                              g(r["retransmissions"], "%d"), "; ".join(note)))
            if t and wl == "bulk-flows" and len(t["per_flow_goodput_gbps"]) > 1:
                print("%-14s %6s %-11s   per flow: %s" % ("", "", "tcp", " ".join(
                    g(v) for v in t["per_flow_goodput_gbps"])))
    d68 = [r for r in recs if r["scenario"] == "dead6of8" and r["workload"] == "bulk"]
    if d68:
        print()
        print("scenario dead6of8: one bulk run per transport; 8 paths at %s, paths 3-8 die together; goodput in "
              "Gbit/s before and after the failure (after: from the failure to the run's end), recovery: from "
              "the failure to the first of %d 100 ms windows in a row at >= %d%% of the 2 surviving paths; held: "
              "the 100 ms bins after it that stay there; dead paths: packets dropped, and forwarded after the "
              "failure; conns: TCP connections just before the failure (MPTCP: subflows)" % (args.rate, RECOVERED_WINDOWS, RECOVERED_SHARE * 100))
        dcols = "%-9s %5s | %7s %7s %9s | %9s %5s | %5s | %-17s | %s"
        head = dcols % ("transport", "conns", "before", "after", "after/cap", "recovery", "held", "lost", "dead paths",
                        "verdict")
        print(head)
        print("-" * len(head))
        for r in sorted(d68, key=lambda r: TRANSPORTS.index(r["transport"])):
            f = r.get("failure") or {}
            pc = [c for c in f.get("path_counters") or [] if c["dead"]]
            fwd = [c["forwarded_after_failure"] for c in pc]
            dead_s = ("%d / %s" % (sum(c["dropped"] for c in pc),
                                   "?" if None in fwd else sum(fwd))) if pc else "-"
            held = f.get("bins_at_share_after_recovery")
            print(dcols % (r["transport"], g(f.get("connections_before_failure"), "%d"), g(f.get("before_gbps")), g(f.get("after_gbps")),
                           "-" if f.get("after_share") is None else "%.0f%%" % (100 * f["after_share"]),
                           "-" if f.get("recovery_ms") is None else "%.0f ms" % f["recovery_ms"],
                           "-" if held is None else "%.0f%%" % (100 * held),
                           g(r.get("lost_messages"), "%d"), dead_s,
                           f.get("verdict", "-") + ("" if r["ok"] else "; FAILED: " + (r.get("error") or "")[:80])))
    cost = encryption_cost(all_recs)
    if cost:
        print()
        print("encryption cost (scenario clean; pairs of runs encrypted and --no-encryption back to back; "
              "medians over the pairs; enc/clear: median of the pairs' ratios)")
        ecols = "%-9s %-9s %6s | %-12s %10s %10s %9s %5s | %s"
        head = ecols % ("transport", "workload", "size", "measure", "encrypted", "clear", "enc/clear", "pairs",
                        "note")
        print(head)
        print("-" * len(head))
        for c in cost:
            fmt = "%.3f" if c["measure"] == "goodput_gbps" else "%.1f"
            print(ecols % (c["transport"], c["workload"], c["size"], c["measure"], g(c["encrypted"], fmt),
                           g(c["clear"], fmt), g(c["ratio"], "%.2fx"), "%d/%d" % (c["pairs_used"], c["pairs"]),
                           c["note"]))


def load_skipped(out):
    """skipped.tsv: the transports srdx-bench did not run in a scenario, and why."""
    try:
        with open(os.path.join(out, "skipped.tsv"), encoding="utf-8") as f:
            rows = [line.rstrip("\n").split("\t", 2) for line in f if line.strip()]
    except OSError:
        return []
    return [{"transport": t, "scenario": sc, "why": why} for t, sc, why in rows]


def encryption_cost(recs):
    """srdx encrypted next to the same run with --no-encryption, from the
    encryption-cost pairs (run back to back): one entry per transport x
    workload x size x measure (goodput for bulk; RTT p50 and p99.9 for
    ping-pong). encrypted and clear are medians over the pairs, ratio the
    median of the pairs' encrypted / clear; a pair with a failed run is left
    out, and the note says so (all of them: ratio null)."""
    groups = {}
    for r in recs:
        if r["transport"] in SRDX and r.get("cost_pair") is not None:
            key = (r["transport"], r["workload"], r["scenario"], r["size"])
            side = "encrypted" if r.get("encryption") is not False else "clear"
            groups.setdefault(key, {}).setdefault(r["cost_pair"], {})[side] = r
    out = []
    for (tr, wl, sc, size), pairs in groups.items():
        measures = ("goodput_gbps",) if wl != "pingpong" else ("rtt_p50_us", "rtt_p99.9_us")
        for m in measures:
            def value(x):
                if not x or not x.get("ok"):
                    return None
                v = x.get("goodput_gbps") if m == "goodput_gbps" else (x.get("rtt_us") or {}).get(m[4:-3])
                return v if isinstance(v, (int, float)) else None
            encs, clears, ratios, omitted = [], [], [], []
            for k in sorted(pairs):
                e, c = pairs[k].get("encrypted"), pairs[k].get("clear")
                ev, cv = value(e), value(c)
                v = div(ev, cv)
                if v is None:
                    if ev is None or cv is None:
                        omitted.append("pair %d %s" % (k, why_not(("encrypted", e, ev is not None),
                                                                   ("clear", c, cv is not None))))
                    else:
                        omitted.append("pair %d: the clear run's figure is zero" % k)
                    continue
                encs.append(ev)
                clears.append(cv)
                ratios.append(v)
            ratio_v = statistics.median(ratios) if ratios else None
            if ratio_v is None:
                note = "; ".join(omitted) or "ratio omitted: no pair ran"
            else:
                note = ("encrypted moves %.0f%% of clear's goodput" % (100 * ratio_v) if m == "goodput_gbps"
                        else "encrypted takes %.2fx clear's RTT" % ratio_v)
                note += " (median of %d pair%s: %s)" % (len(ratios), "" if len(ratios) == 1 else "s",
                                                        " ".join("%.2f" % x for x in ratios))
                if omitted:
                    note += "; %d pair(s) left out: %s" % (len(omitted), "; ".join(omitted))
            out.append({
                "transport": tr, "workload": wl, "scenario": sc, "size": size, "measure": m,
                "encrypted": statistics.median(encs) if encs else None,
                "clear": statistics.median(clears) if clears else None,
                "pairs": len(pairs), "pairs_used": len(ratios),
                "pair_ratios": [round(x, 4) for x in ratios],
                "ratio": None if ratio_v is None else round(ratio_v, 3), "note": note,
                "raw": sorted(x["raw"] for p in pairs.values() for x in p.values()),
            })
    order = {t: i for i, t in enumerate(TRANSPORTS)}
    out.sort(key=lambda c: (WORKLOADS.index(c["workload"]), c["size"], order[c["transport"]], c["measure"]))
    return out


def issue12_goodput_target(mtu):
    """Issue 12's clean one-flow goodput target for this run's MTU, as
    (text, minimum ratio to TCP), or None where the issue sets none."""
    if mtu == 1500:
        return ">= 0.5x", 0.5
    if mtu >= 9000:
        return ">= 1.0x", 1.0
    return None


def figures(all_recs, mtu=1500):
    """The issues' figures: target, measured, met. A figure whose runs failed
    is listed with measured null, met null and why (never a crash); so is a
    target whose transport or scenario did not run ("not measured: ...").
    mtu: the run's --mtu, which decides issue 12's goodput and CPU targets."""
    recs = main_records(all_recs)
    idx = {(r["transport"], r["workload"], r["scenario"], r["size"]): r for r in recs}
    scenarios_run = {r["scenario"] for r in all_recs}
    out = []

    def add(name, target, value, met, detail):
        out.append({"figure": name, "target": target, "measured": value, "met": met, "detail": detail})

    def not_measured(name, target, scenario, *named):
        """A target with a record missing: why, never a crash."""
        if scenario not in scenarios_run:
            why = "the %s scenario was not run (--scenarios)" % scenario
        else:
            why = why_not(*named).replace("ratio omitted: ", "")
        add(name, target, None, None, "not measured: " + why)

    def compare(name, target, a, a_label, b, b_label, key, value_of, met_of, detail_of, always=False):
        """A ratio figure of records a (this transport) and b (the reference).
        always: a target of the issue, listed as not measured when a or b
        did not run; otherwise no figure when a did not run."""
        if always and (a is None or b is None):
            not_measured(name, target, a_label.split()[-1], (a_label, a, a is not None and usable(a, key)),
                         (b_label, b, b is not None and usable(b, key)))
            return
        if a is None:
            return  # the transport did not run at all: no figure
        if usable(a, key) and usable(b, key):
            v = value_of(a, b)
            if v is not None:
                add(name, target, round(v, 2), met_of(v), detail_of(a, b, v))
                return
        add(name, target, None, None, why_not((a_label, a, usable(a, key)), (b_label, b, usable(b, key))))

    t = idx.get(("tcp", "bulk", "rate", 65536))
    m = idx.get(("mptcp", "bulk", "rate", 65536))
    for tr in SRDX:
        s = idx.get((tr, "bulk", "rate", 65536))
        gp = lambda a, b: div(a["goodput_gbps"], b["goodput_gbps"])
        gd = lambda a, b, v: "%.3f vs %.3f Gbit/s" % (a["goodput_gbps"], b["goodput_gbps"])
        compare("%s one flow vs one TCP flow, paths rate-limited" % tr, ">= 3.6x", s, tr + " bulk rate",
                t, "tcp bulk rate", "goodput_gbps", gp, lambda v: v >= 3.6, gd, always=True)
        if m is not None:
            compare("%s one flow vs one MPTCP connection, paths rate-limited" % tr, ">= 1x", s, tr + " bulk rate",
                    m, "mptcp bulk rate", "goodput_gbps", gp, lambda v: v >= 1, gd)
    t = idx.get(("tcp", "pingpong", "loss", 64))
    for tr in SRDX:
        s = idx.get((tr, "pingpong", "loss", 64))
        compare("%s 64 B ping-pong p99.9 RTT under 1%% loss vs TCP" % tr, "<= 1/50 of TCP's",
                s, tr + " pingpong loss", t, "tcp pingpong loss", "p99.9",
                lambda a, b: div(b["rtt_us"]["p99.9"], a["rtt_us"]["p99.9"]), lambda v: v >= 50,
                lambda a, b, v: "%s vs %s us (TCP / srdx = %.1f)" % (us(a["rtt_us"]["p99.9"]),
                                                                     us(b["rtt_us"]["p99.9"]), v))
    for tr in SRDX:
        s = idx.get((tr, "bulk", "dead", 65536))
        f = s and s.get("failure")
        if f and isinstance(f.get("dip_ms"), (int, float)):
            met = f["dip_ms"] < 10 and s["ok"] and not s.get("lost_messages")
            add("%s one flow across a path failure" % tr, "dip < 10 ms, no message lost", f["dip_ms"], met,
                "dip %.1f ms (the same measure before the failure: %.1f ms); %s; lost %s%s" % (
                    f["dip_ms"], f.get("noise_dip_ms") or 0, f["verdict"], s.get("lost_messages"),
                    "" if s["ok"] else "; FAILED: %s" % s.get("error")))
        elif s is not None:
            add("%s one flow across a path failure" % tr, "dip < 10 ms, no message lost", None,
                False if not s["ok"] else None,
                "not measured: %s" % ((f or {}).get("verdict") if s["ok"] else
                                      "the run failed (%s)" % s.get("error")))
    t = idx.get(("tcp", "bulk", "dead", 65536))
    if t and t.get("failure"):
        f = t["failure"]
        add("TCP one flow across a path failure", "(what happened)",
            f.get("dip_ms") if isinstance(f.get("dip_ms"), (int, float)) else None, None,
            "%s; dip %s ms; goodput %.3f Gbit/s" % (f.get("verdict"), f.get("dip_ms"), t["goodput_gbps"] or 0))
    for tr in TRANSPORTS:
        r = idx.get((tr, "bulk", "dead6of8", 65536))
        if r is None:
            continue
        f = r.get("failure") or {}
        name = "%s one flow after 6 of 8 paths die" % tr
        if tr in SRDX:
            target = ">= %d%% of the 2 surviving paths, nothing lost" % (RECOVERED_SHARE * 100)
        else:
            target = "(what happened)"
        share = f.get("after_share")
        if not isinstance(share, (int, float)):
            add(name, target, None, False if tr in SRDX and not r["ok"] else None,
                "not measured: %s" % (f.get("verdict") if r["ok"] or f.get("verdict") else
                                      "the run failed (%s)" % r.get("error")))
            continue
        met = None
        if tr in SRDX:
            met = share >= RECOVERED_SHARE and r["ok"] and r.get("lost_messages") == 0
        add(name, target, round(share, 3), met,
            "%.3f Gbit/s after (%.3f before) of %.3f; recovery %s; %s; lost %s%s" % (
                f["after_gbps"], f["before_gbps"], f["surviving_capacity_gbps"],
                "never" if f.get("recovery_ms") is None else "%.0f ms" % f["recovery_ms"], f["verdict"],
                r.get("lost_messages"), "" if r["ok"] else "; FAILED: %s" % r.get("error")))
    # Issue 12 on the clean fabric: 64 B ping-pong p50 against the floors
    # (plain UDP for the udp link, 0.8x TCP for the dpdk link), p99 against
    # TCP's on both links, one-flow goodput against TCP at this MTU.
    t = idx.get(("tcp", "pingpong", "clean", 64))
    u = idx.get(("udp", "pingpong", "clean", 64))
    rtt_ratio = lambda k: (lambda a, b: div(a["rtt_us"][k], b["rtt_us"][k]))
    rtt_detail = lambda k: (lambda a, b, v: "%s vs %s us" % (us(a["rtt_us"][k]), us(b["rtt_us"][k])))
    compare("srdx-udp 64 B ping-pong p50 RTT on the clean fabric vs plain UDP (sockperf)", "<= 1.0x",
            idx.get(("srdx-udp", "pingpong", "clean", 64)), "srdx-udp pingpong clean", u, "udp pingpong clean",
            "p50", rtt_ratio("p50"), lambda v: v <= 1.0, rtt_detail("p50"), always=True)
    compare("srdx-dpdk 64 B ping-pong p50 RTT on the clean fabric vs TCP", "<= 0.8x",
            idx.get(("srdx-dpdk", "pingpong", "clean", 64)), "srdx-dpdk pingpong clean", t, "tcp pingpong clean",
            "p50", rtt_ratio("p50"), lambda v: v <= 0.8, rtt_detail("p50"), always=True)
    for tr in SRDX:
        compare("%s 64 B ping-pong p99 RTT on the clean fabric vs TCP" % tr, "<= 1x",
                idx.get((tr, "pingpong", "clean", 64)), tr + " pingpong clean", t, "tcp pingpong clean", "p99",
                rtt_ratio("p99"), lambda v: v <= 1, rtt_detail("p99"), always=True)
    tb = idx.get(("tcp", "bulk", "clean", 65536))
    gt = issue12_goodput_target(mtu)
    for tr in SRDX:
        compare("%s one flow vs one TCP flow on the clean fabric, MTU %d" % (tr, mtu),
                gt[0] if gt else "(measured: issue 12 sets targets at MTU 1500 and 9000)",
                idx.get((tr, "bulk", "clean", 65536)), tr + " bulk clean", tb, "tcp bulk clean", "goodput_gbps",
                lambda a, b: div(a["goodput_gbps"], b["goodput_gbps"]),
                (lambda v: v >= gt[1]) if gt else (lambda v: None),
                lambda a, b, v: "%.3f vs %.3f Gbit/s" % (a["goodput_gbps"], b["goodput_gbps"]), always=gt is not None)
    # Issue 13's figures: the libfabric carrier against the srdx engine over
    # the udp link, in one run (measured, no target: srdx-fabric / srdx-udp).
    for sc in ("clean", "loss"):
        e = idx.get(("srdx-udp", "pingpong", sc, 64))
        f = idx.get(("srdx-fabric", "pingpong", sc, 64))
        for key in ("p50", "p99.9"):
            if f is not None:
                compare("srdx-fabric vs srdx-udp 64 B ping-pong %s RTT, %s" % (key, sc), "(measured)", f,
                        "srdx-fabric pingpong " + sc, e, "srdx-udp pingpong " + sc, key,
                        lambda a, b, k=key: div(a["rtt_us"][k], b["rtt_us"][k]), lambda v: None,
                        lambda a, b, v, k=key: "%s vs %s us (srdx-fabric / srdx-udp)" % (us(a["rtt_us"][k]),
                                                                                    us(b["rtt_us"][k])))
        e = idx.get(("srdx-udp", "bulk", sc, 65536))
        f = idx.get(("srdx-fabric", "bulk", sc, 65536))
        compare("srdx-fabric vs srdx-udp one-flow goodput, %s" % sc, "(measured)", f, "srdx-fabric bulk " + sc,
                e, "srdx-udp bulk " + sc, "goodput_gbps", lambda a, b: div(a["goodput_gbps"], b["goodput_gbps"]),
                lambda v: None, lambda a, b, v: "%.3f vs %.3f Gbit/s (srdx-fabric / srdx-udp)" % (
                    a["goodput_gbps"], b["goodput_gbps"]))
    # The libfabric carrier against libfabric's own ping-pong on the same
    # fabric (issue 13): measured, no target. Means: fi_pingpong has no percentiles.
    for sc in SCENARIOS:
        a = idx.get(("srdx-fabric", "pingpong", sc, 64))
        b = idx.get(("fi_pingpong", "pingpong", sc, 64))
        if a is None or b is None:
            continue
        name = "srdx-fabric 64 B ping-pong mean RTT vs fi_pingpong's, %s" % sc
        am = (a.get("rtt_us") or {}).get("mean") if a.get("ok") else None
        bm = (b.get("fi_pingpong") or {}).get("mean_rtt_us") if b.get("ok") else None
        v = div(am, bm)
        if v is None:
            add(name, "(measured)", None, None, why_not(("srdx-fabric pingpong " + sc, a, am is not None),
                                                        ("fi_pingpong " + sc, b, bm is not None)))
        else:
            add(name, "(measured)", round(v, 2), None,
                "%s vs %s us mean RTT (srdx-fabric p50 %s us); srdx-perf / fi_pingpong = %.2f" % (
                    us(am), us(bm), us(a["rtt_us"].get("p50")), v))
    # Issue 12: the plain UDP floor (sockperf) under srdx's and TCP's 64 B
    # ping-pong, and the CPU each bulk run costs per GB against TCP's:
    # measured, no target.
    for sc in ("clean", "rate"):
        u = idx.get(("udp", "pingpong", sc, 64))
        if u is None:
            continue
        for tr in SRDX + ("tcp",):
            if (tr, sc) == ("srdx-udp", "clean"):
                continue  # issue 12's target, above
            a = idx.get((tr, "pingpong", sc, 64))
            compare("%s 64 B ping-pong p50 RTT vs plain UDP (sockperf), %s" % (tr, sc), "(measured)", a,
                    "%s pingpong %s" % (tr, sc), u, "udp pingpong " + sc, "p50",
                    lambda a, b: div(a["rtt_us"]["p50"], b["rtt_us"]["p50"]), lambda v: None,
                    lambda a, b, v: "%s vs %s us: %.2fx plain UDP's" % (us(a["rtt_us"]["p50"]),
                                                                        us(b["rtt_us"]["p50"]), v))
    for sc in ("clean", "rate"):
        t = idx.get(("tcp", "bulk", sc, 65536))
        for tr in SRDX + ("mptcp",):
            a = idx.get((tr, "bulk", sc, 65536))
            name = "%s one flow CPU s/GB (user+sys, sender + receiver) vs TCP, %s" % (tr, sc)
            # Issue 12: at MTU 9000, on the clean fabric, <= 1.5x TCP's.
            targeted = tr in SRDX and sc == "clean" and mtu >= 9000
            target = "<= 1.5x" if targeted else "(measured)"
            if a is None:
                if targeted:
                    not_measured(name, target, sc, ("%s bulk %s" % (tr, sc), a, False),
                                 ("tcp bulk " + sc, t, t is not None and t.get("ok")))
                continue
            both = lambda r: (None if not r or not r.get("ok") else
                              div_sum(cpu_per_gb((r.get("cpu") or {}).get("sender")),
                                      cpu_per_gb((r.get("cpu") or {}).get("receiver"))))
            av, tv = both(a), both(t)
            v = div(av, tv)
            if v is None:
                add(name, target, None, None, why_not(("%s bulk %s" % (tr, sc), a, av is not None),
                                                      ("tcp bulk " + sc, t, tv is not None)))
            else:
                ac, tc = a["cpu"], t["cpu"]
                add(name, target, round(v, 2), (v <= 1.5) if targeted else None,
                    "%.2f vs %.2f s/GB (tx %.2f + rx %.2f vs tx %.2f + rx %.2f): %.2fx TCP's" % (
                        av, tv, cpu_per_gb(ac["sender"]), cpu_per_gb(ac["receiver"]),
                        cpu_per_gb(tc["sender"]), cpu_per_gb(tc["receiver"]), v))
    # The cost of encryption (issue 10: one row reports it): measured, no target.
    for c in encryption_cost(all_recs):
        if c["workload"] == "pingpong" and c["measure"] != "rtt_p50_us":
            continue
        what = ("64 KiB bulk goodput" if c["workload"] == "bulk" else "%d B ping-pong p50 RTT" % c["size"])
        detail = c["note"]
        if c["ratio"] is not None:
            fmt = "%.3f Gbit/s" if c["measure"] == "goodput_gbps" else "%.1f us"
            detail = "%s encrypted vs %s clear (medians); %s" % (fmt % c["encrypted"], fmt % c["clear"], c["note"])
        add("%s encryption cost: %s, encrypted / clear" % (c["transport"], what), "(measured)", c["ratio"], None,
            detail)
    return out


def ccdf_points(samples):
    """(x, P(RTT > x)) for a log-log plot: every point in the tail, fewer in the body."""
    s = sorted(samples)
    n = len(s)
    pts = []
    for i, v in enumerate(s):
        p = 1 - (i + 1) / n
        if p <= 0:
            p = 0.5 / n  # the largest sample, drawn just below the last step
        if i + 1 >= n * 0.99 or i % max(1, n // 2000) == 0:
            pts.append((v, p))
    return pts


def gnuplot(script, err_path):
    with open(err_path, "w") as err:
        r = subprocess.run(["gnuplot"], input=script, text=True, stderr=err, check=False)
    return r.returncode == 0


def plots(all_recs, args):
    recs = main_records(all_recs)
    out = args.out
    if not shutil.which("gnuplot"):
        print("plots: skipped (gnuplot is not installed: apt-get install gnuplot-nox)")
        return []
    made = []
    names = {"srdx-udp": "srdx (udp link)", "srdx-dpdk": "srdx (dpdk, %s)" % args.dpdk_pmd,
             "tcp": "kernel TCP (%s)" % args.cc, "mptcp": "MPTCP (%s)" % args.cc,
             "srdx-fabric": "srdx-perf over libfabric (%s, no encryption)" % FABRIC_PROVIDER,
             "fi_pingpong": "fi_pingpong (%s)" % FABRIC_PROVIDER, "udp": "plain UDP (sockperf)"}
    for sc in SCENARIOS:
        lines = []
        for r in recs:
            if r["scenario"] != sc or r["workload"] != "pingpong" or r["size"] != 64 or not r["samples"]:
                continue
            s = load_samples(os.path.join(out, r["samples"]))
            if not s:
                continue
            dat = os.path.join(out, "ccdf-%s-%s.dat" % (sc, r["transport"]))
            with open(dat, "w", encoding="utf-8") as f:
                for x, p in ccdf_points(s):
                    f.write("%g %g\n" % (x, p))
            lines.append('"%s" using 1:2 with steps lw 2 title "%s, %d samples"'
                         % (dat, names[r["transport"]], len(s)))
        if not lines:
            continue
        png = os.path.join(out, "rtt-ccdf-%s.png" % sc)
        script = """set terminal pngcairo size 960,600 noenhanced
set output "%s"
set title "64 B ping-pong RTT, scenario %s, %d paths: share of messages slower than x (every sample)"
set logscale xy
set format y "1e%%L"
set xlabel "RTT (us)"
set ylabel "P(RTT > x)"
set key top right
set grid
plot %s
""" % (png, sc, args.paths, ", \\\n     ".join(lines))
        if gnuplot(script, os.path.join(out, "gnuplot-%s.err" % sc)):
            made.append(png)
    # Goodput over time across the failure, 10 ms bins, time 0 = the failure:
    # one panel per transport, from 1 s before to 2 s after.
    panels = []
    for r in recs:
        if r["scenario"] != "dead" or r["workload"] != "bulk" or not r["timeline"] or not r["failure"] \
                or r["failure"]["failed_at_unix_s"] is None:
            continue
        tl = load_timeline(os.path.join(out, r["timeline"]))
        if not tl:
            continue
        interval, rows = tl
        t_fail = r["failure"]["failed_at_unix_s"]
        k = max(1, round(0.01 / interval))
        dat = os.path.join(out, "goodput-dead-%s.dat" % r["transport"])
        mbps = []
        with open(dat, "w", encoding="utf-8") as f:
            for i in range(0, len(rows) - k + 1, k):
                t = rows[i][0] - t_fail
                v = sum(x[1] for x in rows[i:i + k]) * 8 / (k * interval) / 1e6
                f.write("%.4f %.2f\n" % (t, v))
                if -1 <= t <= 2:
                    mbps.append(v)
        top = sorted(mbps)[int(len(mbps) * 0.95)] * 1.6 if mbps else 1000
        f = r["failure"]
        label = names[r["transport"]] + (", dip %.0f ms" % f["dip_ms"] if "dip_ms" in f else "")
        panels.append((dat, label, max(top, 1.0)))
    if panels:
        png = os.path.join(out, "goodput-dead.png")
        parts = ["""set terminal pngcairo size 960,%d noenhanced
set output "%s"
set multiplot layout %d,1 title "One flow's delivered goodput (Mbit/s, 10 ms bins), %d paths at %s; path 2 dies at t = 0"
set xrange [-1:2]
set grid
set key top right
set arrow 1 from 0, graph 0 to 0, graph 1 nohead dt 2
""" % (220 * len(panels) + 60, png, len(panels), args.paths, args.rate)]
        for i, (dat, label, top) in enumerate(panels):
            parts.append('set yrange [0:%g]\n%sset ylabel "Mbit/s"\nplot "%s" using 1:2 with steps lw 2 title "%s"\n' % (
                top, 'set xlabel "time from the failure (s)"\n' if i == len(panels) - 1 else "", dat, label))
        parts.append("unset multiplot\n")
        if gnuplot("".join(parts), os.path.join(out, "gnuplot-dead.err")):
            made.append(png)
    png = plot_dead6of8(recs, args, names)
    if png:
        made.append(png)
    print("plots: " + (" ".join(os.path.relpath(p, out) for p in made) if made else "none (no data)"))
    return made


def plot_dead6of8(recs, args, names):
    """DIR/goodput-dead6of8.png: each transport's 100 ms series around the
    failure of paths 3-8 (t = 0), with the surviving capacity and its 80%."""
    out = args.out
    panels, span = [], []
    for r in sorted(recs, key=lambda r: TRANSPORTS.index(r["transport"])):
        f = r.get("failure") or {}
        if r["scenario"] != "dead6of8" or r["workload"] != "bulk" or not f.get("series"):
            continue
        dat = os.path.join(out, "goodput-dead6of8-%s.dat" % r["transport"])
        with open(dat, "w", encoding="utf-8") as fh:
            for t, v in f["series"]:
                fh.write("%.3f %.2f\n" % (t, v * 1e3))
        label = "%s: %s" % (names[r["transport"]], f["verdict"])
        panels.append((dat, label, f["surviving_capacity_gbps"] * 1e3,
                       max([v * 1e3 for _, v in f["series"]] + [f["surviving_capacity_gbps"] * 1e3]) * 1.15))
        span.extend((f["series"][0][0], f["series"][-1][0] + f["series_bin_ms"] / 1e3))
    if not panels:
        return None
    png = os.path.join(out, "goodput-dead6of8.png")
    parts = ["""set terminal pngcairo size 960,%d noenhanced
set output "%s"
set multiplot layout %d,1 title "One connection's delivered goodput (Mbit/s, 100 ms bins), 8 paths at %s; paths 3-8 die at t = 0"
set grid
set key top right
set xrange [%g:%g]
set arrow 1 from 0, graph 0 to 0, graph 1 nohead dt 2
""" % (220 * len(panels) + 60, png, len(panels), args.rate, min(span), max(span))]
    for i, (dat, label, cap, top) in enumerate(panels):
        parts.append('set yrange [0:%g]\n%sset ylabel "Mbit/s"\nplot "%s" using 1:2 with steps lw 2 title "%s", '
                     '%g with lines dt 3 title "2 surviving paths", %g with lines dt 2 title "80%%"\n' % (
                         top, 'set xlabel "time from the failure (s)"\n' if i == len(panels) - 1 else "", dat,
                         label, cap, cap * RECOVERED_SHARE))
    parts.append("unset multiplot\n")
    return png if gnuplot("".join(parts), os.path.join(out, "gnuplot-dead6of8.err")) else None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cc", default="unknown")
    ap.add_argument("--paths", type=int, default=4)
    ap.add_argument("--rate", default="200mbit")
    ap.add_argument("--mtu", type=int, default=1500)
    ap.add_argument("--mode", default="full", choices=("full", "quick", "ci"))
    ap.add_argument("--dpdk-pmd", default="none")
    ap.add_argument("--dpdk-reason", default="")
    ap.add_argument("--started", type=float, default=None)
    ap.add_argument("--transports", default="")
    args = ap.parse_args(argv)
    # results.json and meta.json are written whatever happens below: a run
    # that failed is a failed record, and a report that breaks says so in
    # meta.json ("report_errors") instead of leaving nothing behind.
    report_errors = []

    def attempt(what, fn, *fn_args):
        """fn(*fn_args), or [] with the error noted in report_errors."""
        try:
            return fn(*fn_args)
        except Exception:
            report_errors.append(what + ": " + traceback.format_exc(limit=3))
            return []

    recs = attempt("reading the runs", build_records, args)
    with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(recs, f, indent=1)
    figs = attempt("figures", figures, recs, args.mtu)
    cost = attempt("encryption cost", encryption_cost, recs)
    failed = [{"transport": r["transport"], "workload": r["workload"], "scenario": r["scenario"],
               "size": r["size"], "encryption": r.get("encryption"), "cost_pair": r.get("cost_pair"), "raw": r["raw"],
               "error": r.get("error") or "did not complete"}
              for r in recs if not r["ok"] and r.get("note") is None]
    meta = {
        "schema": SCHEMA,
        "mode": args.mode,
        "paths": args.paths,
        "rate": args.rate,
        "mtu": args.mtu,
        "tcp_congestion_control": args.cc,
        "transports": [t for t in args.transports.split(",") if t],
        "dpdk_pmd": None if args.dpdk_pmd == "none" else args.dpdk_pmd,
        "dpdk_reason": args.dpdk_reason or None,
        "duration_s": round(time.time() - args.started, 1) if args.started else None,
        "encryption": "srdx runs encrypted (Noise IK, sealed packets; a key pair per host made for the run); "
                      "the encryption-cost pairs (cost_pair) run some encrypted and with --no-encryption; "
                      "srdx-fabric (the libfabric carrier) has no encryption",
        "figures": figs,
        "encryption_cost": cost,
        "failed_runs": failed,
        "skipped": attempt("skipped runs", load_skipped, args.out),
        "report_errors": report_errors,
    }
    with open(os.path.join(args.out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    rc = 0
    try:
        table(recs, args)
        print()
        print("figures (issue targets):")
        for fg in figs:
            met = {True: "met", False: "MISSED", None: "-"}[fg["met"]]
            val = "-" if fg["measured"] is None else "%g" % fg["measured"]
            print("  %-66s %-22s %-7s %-7s %s" % (fg["figure"], fg["target"], met, val, fg["detail"]))
        if meta["skipped"]:
            print()
            print("not run:")
            for sk in meta["skipped"]:
                print("  %s %s: %s" % (sk["scenario"], sk["transport"], sk["why"]))
        if failed:
            print()
            print("failed runs (recorded with ok false; their ratios omitted):")
            for fr in failed:
                print("  %s %s %s %d%s%s: %s" % (
                    fr["scenario"], fr["transport"], fr["workload"], fr["size"],
                    " --no-encryption" if fr["encryption"] is False else "",
                    " (encryption cost pair %d)" % fr["cost_pair"] if fr["cost_pair"] is not None else "",
                    fr["error"]))
        print()
        plots(recs, args)
    except Exception:
        traceback.print_exc()
        print("srdx_bench_report: the tables or plots broke (results.json and meta.json are written)",
              file=sys.stderr)
        rc = 1
    for e in report_errors:
        print("srdx_bench_report: " + e, file=sys.stderr)
    print("results: %s (meta.json: run and figures; raw/: every run)" % os.path.join(args.out, "results.json"))
    if meta["duration_s"]:
        print("duration: %.0f s" % meta["duration_s"])
    return 1 if report_errors else rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

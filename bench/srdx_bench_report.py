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
import os
import shutil
import statistics
import subprocess
import sys
import time

TRANSPORTS = ("srdx-udp", "srdx-dpdk", "tcp", "mptcp")
SRDX = ("srdx-udp", "srdx-dpdk")
SCENARIOS = ("clean", "rate", "loss", "dead")
WORKLOADS = ("pingpong", "bulk", "bulk-flows")
TIMELINE_WINDOW_S = 0.005  # goodput is judged over 5 ms windows, stepped by the timeline interval
DIP_FRACTION = 0.5  # a window below half the pre-failure median is "in the dip"
AFTER_FAILURE_S = 3.0  # how long after the failure the dip is looked for


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


def failure_analysis(timeline, dead_file, ok):
    """What a path failure did to a bulk run's delivered goodput."""
    try:
        with open(dead_file, encoding="utf-8") as f:
            t_before, t_after = (float(x) for x in f.read().split())
    except (OSError, ValueError):
        # The killer never fired: the run was over before its time came.
        return {"failed_at_unix_s": None, "failure_applied_s": None,
                "verdict": "the run ended before the path died"}
    res = {"failed_at_unix_s": t_before, "failure_applied_s": round(t_after - t_before, 4)}
    if not timeline:
        res["verdict"] = "no timeline"
        return res
    interval, rows = timeline
    first = next((t for t, b in rows if b > 0), None)
    last = max((t for t, b in rows if b > 0), default=None)
    if first is None:
        res["verdict"] = "nothing delivered"
        return res
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


def impl_name(tr, paths, dpdk_pmd):
    return {
        "srdx-udp": "srdx-perf --link udp (io_uring)",
        "srdx-dpdk": "srdx-perf --link dpdk (net_%s on the host veth)" % dpdk_pmd,
        "tcp": "kernel TCP (TCP_NODELAY)",
        "mptcp": "kernel MPTCP (IPPROTO_MPTCP, TCP_NODELAY, %d subflows)" % min(paths, 8),
    }[tr]


def build_records(args):
    out = args.out
    recs = []
    with open(os.path.join(out, "runs.tsv"), encoding="utf-8") as f:
        lines = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    for tr, wl, sc, size, sfile, rc, t0, t1, dead_after in lines:
        j = load_json(sfile)
        rj = load_json(sfile[: -len(".json")] + ".recv.json") if rc != "reuse" else {}
        base = sfile[: -len(".json")]
        lat = j.get("latency_us") if wl == "pingpong" else None
        rtt = None
        if isinstance(lat, dict):
            rtt = {k: lat.get(k) for k in ("p50", "p90", "p99", "p99.9", "p99.99", "max")}
            rtt["samples"] = lat.get("samples")
        if tr in SRDX:
            per_flow = [j.get("goodput_gbps")]
        else:
            per_flow = [p.get("goodput_gbps") for p in j.get("per_flow", [])]
        ok = bool(j.get("ok", False)) and rc in ("0", "reuse")
        lost = undelivered = None
        if tr in SRDX and rj:
            # srdx-perf's receiver checks every message. Lost: the sender was
            # told a message was delivered and the receiver never got it, or
            # got it twice or damaged. A run cut short by its timeout leaves
            # messages undelivered, not lost (the sender knows about them).
            got = rj.get("received") or 0
            done = j.get("completed") or 0
            lost = max(0, done - got) + (rj.get("duplicates") or 0) + (rj.get("corrupt") or 0)
            undelivered = rj.get("missing")
        rec = {
            "transport": tr,
            "impl": impl_name(tr, args.paths, args.dpdk_pmd),
            "cc": None if tr in SRDX else j.get("cc", args.cc),
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
            "failed_messages": j.get("failed") if tr in SRDX else None,
            "raw": os.path.relpath(sfile, out),
            "samples": None,
            "timeline": None,
            "failure": None,
        }
        if wl == "pingpong" and os.path.exists(base + ".samples"):
            rec["samples"] = os.path.relpath(base + ".samples", out)
        if rc != "reuse" and os.path.exists(base + ".recv.tl"):
            rec["timeline"] = os.path.relpath(base + ".recv.tl", out)
        if sc == "dead" and wl != "pingpong" and rc != "reuse":
            rec["failure"] = failure_analysis(load_timeline(base + ".recv.tl"), base + ".dead", ok)
        if rc == "reuse":
            rec["note"] = "one connection: the one-flow bulk run of this scenario"
            src = next((r for r in recs if r["transport"] == tr and r["workload"] == "bulk" and r["scenario"] == sc
                        and r["size"] == int(size)), None)
            if src:
                for k in ("lost_messages", "undelivered_messages", "failed_messages", "timeline", "failure"):
                    rec[k] = src[k]
        recs.append(rec)
    return recs


def g(v, fmt="%.3f"):
    return "-" if v is None else fmt % v


def us(v):
    if v is None:
        return "-"
    if v >= 10000:
        return "%.1fms" % (v / 1000)
    return "%.0f" % v if v >= 100 else "%.1f" % v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2fx" % (a / b)


def table(recs, args):
    idx = {(r["transport"], r["workload"], r["scenario"], r["size"]): r for r in recs}
    present = [t for t in TRANSPORTS if any(r["transport"] == t for r in recs)]
    print("srdx-bench (%s): %s; %d paths; TCP congestion control %s; rate/loss/dead at %s per path"
          % (args.mode, ", ".join(present), args.paths, args.cc, args.rate))
    if "srdx-dpdk" in present:
        print("srdx-dpdk: %s" % args.dpdk_reason)
    print("goodput in Gbit/s (x tcp: this / TCP); RTT in us, ping-pong with one message outstanding "
          "(tcp/x p99.9: TCP's p99.9 / this one's); '!' = incomplete run")
    desc = {"clean": "no impairment, no rate limit", "rate": "every path at " + args.rate,
            "loss": "every path at %s and 1%% loss" % args.rate,
            "dead": "every path at %s, path 2 dies in the middle of each run" % args.rate}
    cols = "%-14s %6s %-9s | %9s %7s | %8s %8s %9s %10s | %6s | %s"
    head = cols % ("workload", "size", "transport", "goodput", "x tcp", "p50", "p99", "p99.9", "tcp/x p99.9",
                   "rtx", "note")
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
                print(cols % (name, size, tr, gp,
                              ratio(r["goodput_gbps"], t and t["goodput_gbps"]) if tr != "tcp" else "",
                              us(rt.get("p50")), us(rt.get("p99")), us(rt.get("p99.9")),
                              ratio(tt.get("p99.9"), rt.get("p99.9")) if tr != "tcp" and rt else "",
                              g(r["retransmissions"], "%d"), "; ".join(note)))
            if t and wl == "bulk-flows" and len(t["per_flow_goodput_gbps"]) > 1:
                print("%-14s %6s %-9s   per flow: %s" % ("", "", "tcp", " ".join(
                    g(v) for v in t["per_flow_goodput_gbps"])))


def figures(recs):
    """The issue's figures: target, measured, met."""
    idx = {(r["transport"], r["workload"], r["scenario"], r["size"]): r for r in recs}
    out = []

    def add(name, target, value, met, detail):
        out.append({"figure": name, "target": target, "measured": value, "met": met, "detail": detail})

    t = idx.get(("tcp", "bulk", "rate", 65536))
    m = idx.get(("mptcp", "bulk", "rate", 65536))
    for tr in SRDX:
        s = idx.get((tr, "bulk", "rate", 65536))
        if s and t and t["goodput_gbps"]:
            v = s["goodput_gbps"] / t["goodput_gbps"]
            add("%s one flow vs one TCP flow, paths rate-limited" % tr, ">= 3.5x", round(v, 2), v >= 3.5,
                "%.3f vs %.3f Gbit/s" % (s["goodput_gbps"], t["goodput_gbps"]))
        if s and m and m["goodput_gbps"]:
            v = s["goodput_gbps"] / m["goodput_gbps"]
            add("%s one flow vs one MPTCP connection, paths rate-limited" % tr, ">= 1x", round(v, 2), v >= 1,
                "%.3f vs %.3f Gbit/s" % (s["goodput_gbps"], m["goodput_gbps"]))
    t = idx.get(("tcp", "pingpong", "loss", 64))
    for tr in SRDX:
        s = idx.get((tr, "pingpong", "loss", 64))
        if s and t and s["rtt_us"] and t["rtt_us"] and s["rtt_us"]["p99.9"]:
            v = t["rtt_us"]["p99.9"] / s["rtt_us"]["p99.9"]
            add("%s 64 B ping-pong p99.9 RTT under 1%% loss vs TCP" % tr, "<= 1/50 of TCP's", round(v, 1), v >= 50,
                "%s vs %s us (TCP / srdx = %.1f)" % (us(s["rtt_us"]["p99.9"]), us(t["rtt_us"]["p99.9"]), v))
    for tr in SRDX:
        s = idx.get((tr, "bulk", "dead", 65536))
        f = s and s.get("failure")
        if f and "dip_ms" in f:
            met = f["dip_ms"] < 10 and s["ok"] and not s.get("lost_messages")
            add("%s one flow across a path failure" % tr, "dip < 10 ms, no message lost", f["dip_ms"], met,
                "dip %.1f ms (the same measure before the failure: %.1f ms); %s; lost %s" % (
                    f["dip_ms"], f["noise_dip_ms"], f["verdict"], s.get("lost_messages")))
    t = idx.get(("tcp", "bulk", "dead", 65536))
    if t and t.get("failure"):
        f = t["failure"]
        add("TCP one flow across a path failure", "(what happened)", f.get("dip_ms"), None,
            "%s; dip %s ms; goodput %.3f Gbit/s" % (f.get("verdict"), f.get("dip_ms"), t["goodput_gbps"] or 0))
    t = idx.get(("tcp", "pingpong", "clean", 64))
    s = idx.get(("srdx-dpdk", "pingpong", "clean", 64))
    if s and t and s["rtt_us"] and t["rtt_us"]:
        v = s["rtt_us"]["p50"] / t["rtt_us"]["p50"]
        add("srdx-dpdk 64 B ping-pong p50 RTT on the clean fabric vs TCP", "<= 1x", round(v, 2), v <= 1,
            "%s vs %s us" % (us(s["rtt_us"]["p50"]), us(t["rtt_us"]["p50"])))
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


def plots(recs, args):
    out = args.out
    if not shutil.which("gnuplot"):
        print("plots: skipped (gnuplot is not installed: apt-get install gnuplot-nox)")
        return []
    made = []
    names = {"srdx-udp": "srdx (udp link)", "srdx-dpdk": "srdx (dpdk, %s)" % args.dpdk_pmd,
             "tcp": "kernel TCP (%s)" % args.cc, "mptcp": "MPTCP (%s)" % args.cc}
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
    print("plots: " + (" ".join(os.path.relpath(p, out) for p in made) if made else "none (no data)"))
    return made


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cc", default="unknown")
    ap.add_argument("--paths", type=int, default=4)
    ap.add_argument("--rate", default="200mbit")
    ap.add_argument("--mode", default="full", choices=("full", "quick", "ci"))
    ap.add_argument("--dpdk-pmd", default="none")
    ap.add_argument("--dpdk-reason", default="")
    ap.add_argument("--started", type=float, default=None)
    ap.add_argument("--transports", default="")
    args = ap.parse_args(argv)
    recs = build_records(args)
    with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(recs, f, indent=1)
    figs = figures(recs)
    meta = {
        "schema": "srdx-bench/2",
        "mode": args.mode,
        "paths": args.paths,
        "rate": args.rate,
        "tcp_congestion_control": args.cc,
        "transports": [t for t in args.transports.split(",") if t],
        "dpdk_pmd": None if args.dpdk_pmd == "none" else args.dpdk_pmd,
        "dpdk_reason": args.dpdk_reason or None,
        "duration_s": round(time.time() - args.started, 1) if args.started else None,
        "figures": figs,
    }
    with open(os.path.join(args.out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    table(recs, args)
    print()
    print("figures (issue targets):")
    for fg in figs:
        met = {True: "met", False: "MISSED", None: "-"}[fg["met"]]
        print("  %-62s %-22s %-7s %s" % (fg["figure"], fg["target"], met, fg["detail"]))
    print()
    plots(recs, args)
    print("results: %s (meta.json: run and figures; raw/: every run)" % os.path.join(args.out, "results.json"))
    if meta["duration_s"]:
        print("duration: %.0f s" % meta["duration_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Validates an srdx-bench result directory: DIR/results.json against
bench/srdx-bench.schema.json and DIR/meta.json against its meta definition,
that every file a record names exists, and that every bulk run that
completed has its CPU cost at both ends: user and system seconds per GB,
finite, their sum > 0. Exit 0 valid, 1 not, 2 usage.

  bench/srdx_bench_check.py DIR
"""
import json
import math
import os
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("srdx_bench_check: needs python3-jsonschema (apt-get install python3-jsonschema)")

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_problems(r):
    """Why a completed bulk record's CPU cost is missing or implausible ([] if fine)."""
    if not isinstance(r, dict) or r.get("workload") not in ("bulk", "bulk-flows") or not r.get("ok") \
            or r.get("transport") == "udp":
        return []
    cpu = r.get("cpu")
    if not isinstance(cpu, dict):
        return ["no cpu (a completed bulk run reports its CPU cost at both ends)"]
    out = []
    for end in ("sender", "receiver"):
        e = cpu.get(end)
        if not isinstance(e, dict):
            out.append("cpu.%s missing" % end)
            continue
        vals = [e.get("user_s_per_gb"), e.get("sys_s_per_gb")]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 for v in vals):
            out.append("cpu.%s: user and system s/GB not finite and >= 0 (%s)" % (end, vals))
        elif not sum(vals) > 0:
            out.append("cpu.%s: user + system s/GB is %s, not > 0" % (end, sum(vals)))
    return out


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = argv[0]
    with open(os.path.join(HERE, "srdx-bench.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    errors = []
    for name, sub in (("results.json", schema),
                      ("meta.json", {"$ref": "#/definitions/meta", "definitions": schema["definitions"]})):
        try:
            with open(os.path.join(out, name), encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            errors.append("%s: %s" % (name, e))
            continue
        v = jsonschema.Draft7Validator(sub)
        for e in sorted(v.iter_errors(doc), key=lambda e: list(e.path)):
            errors.append("%s: at /%s: %s" % (name, "/".join(str(p) for p in e.path), e.message))
        if name == "results.json" and isinstance(doc, list):
            for i, r in enumerate(doc):
                for k in ("raw", "samples", "timeline"):
                    p = r.get(k) if isinstance(r, dict) else None
                    if isinstance(p, str) and not os.path.exists(os.path.join(out, p)):
                        errors.append("results.json: at /%d/%s: %s does not exist" % (i, k, p))
                for e in cpu_problems(r):
                    errors.append("results.json: at /%d (%s %s %s): %s" % (
                        i, r.get("transport"), r.get("workload"), r.get("scenario"), e))
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print("srdx_bench_check: %s: %d problem(s)" % (out, len(errors)), file=sys.stderr)
        return 1
    print("srdx_bench_check: %s: valid" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

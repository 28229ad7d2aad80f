#!/usr/bin/python3
"""Checks that every query of a Grafana dashboard keeps the instance label.

  dashboard_check.py DASHBOARD.json...

Two appliances with the same peer names must not be merged into one line:
every PromQL expression ("expr") that aggregates (sum, max, count, ...)
keeps `instance` in its `by (...)` list (or leaves it out of `without
(...)`); an aggregation with neither drops every label, instance too. A
vector match with `on (...)` lists instance, one with `ignoring (...)` does
not. Before the dashboards, the checker checks itself on expressions it
must refuse and accept. Prints what is wrong and exits 1, else a summary.
"""
import json
import re
import sys

AGGREGATIONS = {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk",
                "bottomk", "quantile", "count_values", "limitk", "limit_ratio"}
TOKEN = re.compile(r"\s*(?:([A-Za-z_:][A-Za-z0-9_:]*)|(\()|(\))|(.))")


def tokens(expr):
    """The expression's identifiers and parentheses, strings, label
    matchers ({...}) and ranges ([...]) left out."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    out = []
    for m in TOKEN.finditer(expr):
        if m[1]:
            out.append(m[1])
        elif m[2] or m[3]:
            out.append(m[2] or m[3])
        elif m[4] and not m[4].isspace():
            out.append(m[4])
    return out


def label_list(toks, i):
    """The labels of the "( a, b )" at toks[i]; returns (labels, index after)."""
    if i >= len(toks) or toks[i] != "(":
        return None, i
    labels, i = [], i + 1
    while i < len(toks) and toks[i] != ")":
        if toks[i] != ",":
            labels.append(toks[i])
        i += 1
    return labels, i + 1


def matching_paren(toks, i):
    depth = 0
    for j in range(i, len(toks)):
        depth += {"(": 1, ")": -1}.get(toks[j], 0)
        if depth == 0:
            return j
    return len(toks) - 1


def problems(expr):
    found = []
    toks = tokens(expr)
    for i, t in enumerate(toks):
        low = t.lower()
        nxt = toks[i + 1].lower() if i + 1 < len(toks) else ""
        if low in ("on", "ignoring") and nxt == "(":
            labels, _ = label_list(toks, i + 1)
            if (low == "on") != ("instance" in labels):
                found.append(f"{low} ({', '.join(labels)}) drops instance from the match")
            continue
        if low not in AGGREGATIONS or nxt not in ("(", "by", "without"):
            continue
        if i > 0 and toks[i - 1].lower() in ("by", "without", "on", "ignoring"):
            continue  # a label named like an aggregation, in a list
        clause = None
        if nxt in ("by", "without"):
            labels, j = label_list(toks, i + 2)
            clause = (nxt, labels or [])
        else:
            end = matching_paren(toks, i + 1)
            if end + 1 < len(toks) and toks[end + 1].lower() in ("by", "without"):
                labels, _ = label_list(toks, end + 2)
                clause = (toks[end + 1].lower(), labels or [])
        if clause is None:
            found.append(f"{t}(...) without by (...) aggregates instance away")
        elif clause[0] == "by" and "instance" not in clause[1]:
            found.append(f"{t} by ({', '.join(clause[1])}) aggregates instance away")
        elif clause[0] == "without" and "instance" in clause[1]:
            found.append(f"{t} without (instance, ...) aggregates instance away")
    return found


def exprs(node, where=""):
    if isinstance(node, dict):
        title = node.get("title", where)
        for k, v in node.items():
            if k == "expr" and isinstance(v, str):
                yield title, v
            else:
                yield from exprs(v, title)
    elif isinstance(node, list):
        for v in node:
            yield from exprs(v, where)


def self_check():
    refused = [
        'sum(rate(x_total[5m]))',
        'sum by (peer) (rate(x_total{instance=~"$instance"}[5m]))',
        'histogram_quantile(0.99, sum by (le, peer) (rate(x_bucket[1m])))',
        'sum without (instance) (x)',
        'max(x) by (turbine)',
        'count by (peer) (x) / on (peer) count by (instance, peer) (y)',
        'sum (increase(x[1m]))',
    ]
    accepted = [
        'rate(x_total{instance=~"$instance",peer="sum"}[5m])',
        'sum by (le, instance, peer) (rate(x_bucket{reason=~"max|count"}[1m]))',
        'max(x) by (instance, turbine)',
        'sum without (peer) (x)',
        'x / on (instance, peer) y',
        'sum_over_time(x[5m])',
        'a / ignoring (path) b',
    ]
    errors = []
    for e in refused:
        if not problems(e):
            errors.append(f"self-check: the checker accepts {e!r}")
    for e in accepted:
        if problems(e):
            errors.append(f"self-check: the checker refuses {e!r}: {problems(e)}")
    return errors


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    errors = self_check()
    count = 0
    for path in argv:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
        for title, expr in exprs(dashboard):
            count += 1
            for p in problems(expr):
                errors.append(f"{path}: panel {title!r}: {p}: {expr}")
    for e in errors:
        print(f"dashboard_check: {e}", file=sys.stderr)
    if errors:
        return 1
    if count == 0:
        print("dashboard_check: no expr found", file=sys.stderr)
        return 1
    print(f"dashboard_check: {count} queries, every one keeps instance")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/python3
"""Checks a Prometheus text exposition (format 0.0.4) without any library.

  prom_check.py FILE [--require NAME]... [--require-sample REGEX]...

Every line must be blank, a comment, a HELP or TYPE line, or a sample that
matches the grammar; every sample belongs to a family with a TYPE line that
came before it; a family's lines are not interleaved with another's; no
sample (name and label set) is repeated; histograms have cumulative buckets
with an le label, a +Inf bucket equal to _count, and a _sum. --require names
families that must be there; --require-sample is a regular expression one
sample line must match. Prints what is wrong and exits 1, else prints a
summary and exits 0.

The control tests run `promtool check metrics` (Debian prometheus) too, for
Prometheus' own parser and naming lint (units, suffixes, HELP); this script
stays for what promtool does not check: histogram buckets cumulative with
+Inf equal to _count, a sample repeated, and the families and samples a
test requires.
"""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?Inf|NaN)"
SAMPLE = re.compile(
    rf"^(?P<name>{NAME})"
    rf"(?:\{{(?P<labels>(?:{LABEL}={LABEL_VALUE}(?:,{LABEL}={LABEL_VALUE})*,?)?)\}})?"
    rf" (?P<value>{VALUE})(?: (?P<ts>-?\d+))?$"
)
LABEL_PAIR = re.compile(rf"({LABEL})=({LABEL_VALUE})")
HELP = re.compile(rf"^# HELP (?P<name>{NAME})(?: .*)?$")
TYPE = re.compile(rf"^# TYPE (?P<name>{NAME}) (?P<type>counter|gauge|histogram|summary|untyped)$")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def parse_value(text):
    if text.endswith("Inf"):
        return -math.inf if text.startswith("-") else math.inf
    return float(text)


def family_of(name, types):
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if base in types and suffix in SUFFIXES.get(types[base], ()):
                return base
    return None


def check(text, required, required_samples):
    errors = []
    types = {}
    done = set()  # families whose lines are over
    current = None
    seen = set()
    histograms = {}  # (family, labels without le) -> {"buckets": [(le, v)], "count", "sum"}
    samples = 0
    lines = text.split("\n")
    if text and not text.endswith("\n"):
        errors.append("the exposition does not end with a newline")
    for n, line in enumerate(lines, 1):
        if line == "":
            continue
        if line.startswith("#"):
            m = TYPE.match(line)
            if m:
                name = m["name"]
                if name in types:
                    errors.append(f"line {n}: second TYPE line for {name}")
                types[name] = m["type"]
                if current is not None and current != name:
                    done.add(current)
                current = name
                continue
            if line.startswith("# TYPE"):
                errors.append(f"line {n}: malformed TYPE line: {line!r}")
                continue
            if line.startswith("# HELP") and not HELP.match(line):
                errors.append(f"line {n}: malformed HELP line: {line!r}")
            continue
        m = SAMPLE.match(line)
        if not m:
            errors.append(f"line {n}: not a sample: {line!r}")
            continue
        samples += 1
        name = m["name"]
        family = family_of(name, types)
        if family is None:
            errors.append(f"line {n}: {name} has no TYPE line before it")
            continue
        if family != current:
            if family in done:
                errors.append(f"line {n}: {family}'s lines are split by another family's")
            if current is not None:
                done.add(current)
            current = family
        labels = LABEL_PAIR.findall(m["labels"] or "")
        names = [k for k, _ in labels]
        if len(set(names)) != len(names):
            errors.append(f"line {n}: a label repeated: {line!r}")
        key = (name, tuple(sorted(labels)))
        if key in seen:
            errors.append(f"line {n}: sample repeated: {line!r}")
        seen.add(key)
        value = parse_value(m["value"])
        kind = types[family]
        if kind == "counter" and not (value >= 0):
            errors.append(f"line {n}: counter below zero: {line!r}")
        if kind == "histogram":
            rest = tuple(sorted((k, v) for k, v in labels if k != "le"))
            h = histograms.setdefault((family, rest), {"buckets": [], "count": None, "sum": None})
            if name.endswith("_bucket"):
                le = [v for k, v in labels if k == "le"]
                if not le:
                    errors.append(f"line {n}: bucket without le: {line!r}")
                    continue
                try:
                    h["buckets"].append((parse_value(le[0].strip('"')), value))
                except ValueError:
                    errors.append(f"line {n}: le is not a number: {line!r}")
            elif name.endswith("_count"):
                h["count"] = value
            elif name.endswith("_sum"):
                h["sum"] = value
    for (family, rest), h in histograms.items():
        where = f"{family}{{{','.join(f'{k}={v}' for k, v in rest)}}}"
        buckets = sorted(h["buckets"])
        if not buckets or buckets[-1][0] != math.inf:
            errors.append(f"{where}: no le=\"+Inf\" bucket")
        for (_, a), (_, b) in zip(buckets, buckets[1:]):
            if b < a:
                errors.append(f"{where}: buckets are not cumulative")
                break
        if h["count"] is None or h["sum"] is None:
            errors.append(f"{where}: _count or _sum missing")
        elif buckets and buckets[-1][0] == math.inf and buckets[-1][1] != h["count"]:
            errors.append(f"{where}: +Inf bucket {buckets[-1][1]} != _count {h['count']}")
    for name in required:
        if name not in types:
            errors.append(f"required family {name} is missing")
    for pattern in required_samples:
        if not any(re.search(pattern, line) for line in lines if line and not line.startswith("#")):
            errors.append(f"no sample matches {pattern!r}")
    return errors, len(types), samples


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    path, required, required_samples = argv[0], [], []
    rest = argv[1:]
    while rest:
        if rest[0] == "--require" and len(rest) > 1:
            required.append(rest[1])
        elif rest[0] == "--require-sample" and len(rest) > 1:
            required_samples.append(rest[1])
        else:
            print(f"prom_check: unknown argument {rest[0]}", file=sys.stderr)
            return 2
        rest = rest[2:]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    errors, families, samples = check(text, required, required_samples)
    for e in errors:
        print(f"prom_check: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"prom_check: {families} families, {samples} samples, exposition ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

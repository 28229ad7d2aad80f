#!/usr/bin/env python3
"""Validates an srdx-bench result directory: DIR/results.json against
bench/srdx-bench.schema.json and DIR/meta.json against its meta definition,
and that every file a record names exists. Exit 0 valid, 1 not, 2 usage.

  bench/srdx_bench_check.py DIR
"""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("srdx_bench_check: needs python3-jsonschema (apt-get install python3-jsonschema)")

HERE = os.path.dirname(os.path.abspath(__file__))


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
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print("srdx_bench_check: %s: %d problem(s)" % (out, len(errors)), file=sys.stderr)
        return 1
    print("srdx_bench_check: %s: valid" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

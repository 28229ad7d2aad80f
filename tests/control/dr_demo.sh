#!/usr/bin/env bash
# scripts/dr-demo (issue 14's DR walkthrough) run small with this build's
# srdxd and srdxctl (SRDX_DEMO_SRDXD/SRDX_DEMO_SRDXCTL: no bootstrap, no
# build): exit 0, every step's "ok:" line and the summary; then its usage
# errors (exit 2) and --help.
#
#   dr_demo.sh SRDXD SRDXCTL
set -euo pipefail

SRDXD=${1:?usage: $0 SRDXD SRDXCTL}
SRDXCTL=${2:?usage: $0 SRDXD SRDXCTL}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEMO=$HERE/../../scripts/dr-demo
for tool in /usr/bin/python3 diff cmp timeout; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
/usr/bin/python3 -c 'import pydicom' 2>/dev/null ||
  { echo "SKIP: python3-pydicom is not installed (scripts/ehr-dataset needs it)"; exit 77; }

OUT=$(mktemp "${TMPDIR:-/tmp}/srdx-dr-demo-test.XXXXXX")
trap 'rm -f "$OUT"' EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "---- scripts/dr-demo output (last 60 lines)" >&2
  tail -n 60 "$OUT" >&2
  exit 1
}

rc=0
SRDX_DEMO_SRDXD=$SRDXD SRDX_DEMO_SRDXCTL=$SRDXCTL \
  timeout 170 "$DEMO" --size 1M --big-size 64M --seed 3 >"$OUT" 2>&1 || rc=$?
[[ $rc == 0 ]] || fail "scripts/dr-demo --size 1M --big-size 64M: exit $rc, expected 0"
for want in \
  '^  ok: both srdxd running' \
  '^  ok: [0-9]+ files, .* \(no real patient data' \
  '^  ok: caught up in .* files at DR-ROOT/ehr, diff -r equal$' \
  '^  \$ kill -9 [0-9]+   # the primary.s srdxd \(the last poll: ' \
  'log: .* replication: 1 jobs resumed from ' \
  '^  ok: killed mid-file \([0-9]+/64 chunks durable at DR\); resumed, CT series equal at DR; re-sent beyond in flight: [0-9]+ chunks = (0|1)\.[0-9]+% of the file' \
  '^    barrier ok: everything written to job ehr before now is durable at DR' \
  '^  ok: barrier answered in .* ms; the DR.s journal equals the primary.s' \
  ': 1 problems$' \
  '^  ok: intact copy: ok; one flipped bit in dicom/.*: exit 1 naming it; put back: ok$' \
  '^  ok: [0-9]+ proof lines; [0-9]+ files, .*: every SHA-256 equal, nothing missing, nothing extra$' \
  'line [0-9]+: hash mismatch: the line was edited' \
  'a line was deleted, inserted or moved' \
  '^  ok: both chains intact .* an edited line \([0-9]+\) and a deleted one \([0-9]+\) caught$' \
  '^=== summary \(' \
  '^dr-demo: all checks passed$'; do
  grep -Eq -- "$want" "$OUT" || fail "no line matching '$want'"
done
[[ $(grep -Ec '^  ok    [0-7]\. ' "$OUT") == 8 ]] || fail "the summary does not list 8 steps as ok"
grep -q "FAILED" "$OUT" && fail "a FAILED line in a passing run"
sed -n '/^=== summary/,$p' "$OUT"
echo "ok: scripts/dr-demo (1M tree, 64M CT series) passed every step"

# Usage errors: exit 2 with a clear line, nothing started.
usage_error() { # usage_error PATTERN ARGS...
  local want=$1 rc=0
  shift
  SRDX_DEMO_SRDXD=$SRDXD SRDX_DEMO_SRDXCTL=$SRDXCTL "$DEMO" "$@" >"$OUT" 2>&1 || rc=$?
  [[ $rc == 2 ]] || fail "scripts/dr-demo $*: exit $rc, expected 2"
  grep -q -- "$want" "$OUT" || fail "scripts/dr-demo $*: no '$want'"
}
usage_error "unknown argument '--frobnicate'" --frobnicate
usage_error "--size needs a value" --size
usage_error "--size: 'big' is not a size" --size big
usage_error "--big-size must be at least 64M" --big-size 32M
usage_error "--seed: 'x' is not a whole number" --seed x
"$DEMO" --help >"$OUT" 2>&1 || fail "--help: exit $?"
for want in "1. dataset" "3. kill -9" "7. audit" "--big-size SIZE" "SRDX_BUILD_DIR" "SRDX_DEMO_KEEP"; do
  grep -q -- "$want" "$OUT" || fail "--help does not mention '$want'"
done
echo "ok: usage errors (exit 2) and --help"

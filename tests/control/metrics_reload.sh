#!/bin/bash
# The metrics of a peer that reloads remove and add again (issue 17):
#  - removed: no series of it is left in /metrics (peer, path and probe
#    series);
#  - added back: every counter of it (endpoint counters, path slots, probe
#    histograms, lost pings) continues from its value before the removal,
#    none goes backwards, though the endpoint's own counters restart at 0;
#  - promtool check metrics is clean at each step.
#   metrics_reload.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

node_new a
node_new b
node_config a b
node_config b a
node_start a
node_start b
say "srdxd a on ${CONTROL[a]}, b on ${CONTROL[b]}"

# scrape FILE: a's /metrics into FILE, checked by promtool and prom_check.py.
scrape() {
  call 200 a GET /metrics
  cp "$BODY" "$1"
  prom_lint "$1"
  "$PY" "$HERE/prom_check.py" "$1" >/dev/null || fail "$1 is not valid Prometheus text"
}
# run_probe TRANSPORT COUNT: a probe from a to b, waited for, every ping answered.
run_probe() {
  ctl_expect 0 a --json probe b --transport "$1" --count "$2" --interval-us 500
  [[ $(jv "d['state'] == 'done' and d['results']['$1']['count'] == $2" "$WORK/ctl.out") == true ]] ||
    fail "probe to b over $1: $(cat "$WORK/ctl.out")"
}

run_probe srdx 200
run_probe tcp 50
scrape "$WORK/before.txt"
"$PY" - "$WORK/before.txt" <<'PYEOF' || fail "b's series before the reload"
import re, sys
text = open(sys.argv[1]).read()
for want in [r'srdx_peer_bytes_acked_total\{peer="b"\} [1-9]',
             r'srdx_peer_messages_completed_total\{peer="b"\} [1-9]',
             r'srdx_path_packets_sent_total\{peer="b",path="0"\} [0-9]',
             r'srdx_peer_srtt_seconds\{peer="b"\} ',
             r'srdx_probe_rtt_seconds_count\{peer="b",transport="srdx",source="probe"\} 200\n',
             r'srdx_probe_rtt_seconds_count\{peer="b",transport="tcp",source="probe"\} 50\n']:
    if not re.search(want, text):
        sys.exit(f"no sample matches {want}")
PYEOF
ok "b's peer, path and probe series are there"

# ---- b removed: its series go ---------------------------------------------------------------
node_config a
kill -HUP "${PID[a]}"
gone() { ! peer_listed a b; }
wait_for 5 "b gone from a's peers after SIGHUP" gone
scrape "$WORK/removed.txt"
if grep -n 'peer="b"' "$WORK/removed.txt" >&2; then
  fail "series of the removed peer b are still exported (above)"
fi
ok "b removed: none of its series is exported"

# ---- b added back: its counters continue -------------------------------------------------------
node_config a b
kill -HUP "${PID[a]}"
wait_for 5 "b listed by a again" peer_listed a b
run_probe srdx 20
call 200 a GET /v1/peers/b
# The endpoint's own counters restarted (a new peer) ...
expect 'd["messages_completed"] < 200' "b's endpoint counters restarted with it"
scrape "$WORK/after.txt"
"$PY" - "$WORK/before.txt" "$WORK/after.txt" <<'PYEOF' || fail "b's counters went backwards across its removal"
import re, sys
SAMPLE = re.compile(r'^(\w+)(\{[^}]*\})? (\S+)$')
def counters(path):
    text = open(path).read()
    kinds = dict(re.findall(r"^# TYPE (\w+) (\w+)$", text, re.M))
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m or 'peer="b"' not in (m[2] or ""):
            continue
        family = re.sub(r"_(bucket|sum|count)$", "", m[1]) if m[1] not in kinds else m[1]
        if kinds.get(family) in ("counter", "histogram"):
            out[m[1] + (m[2] or "")] = float(m[3])
    return out
before, after = counters(sys.argv[1]), counters(sys.argv[2])
if len(before) < 10:
    sys.exit(f"only {len(before)} counter samples of b before the removal")
bad = [f"{k}: {before[k]} -> {after.get(k)}" for k in sorted(before)
       if k not in after or after[k] < before[k]]
if bad:
    sys.exit("went backwards or missing:\n  " + "\n  ".join(bad))
grew = after['srdx_probe_rtt_seconds_count{peer="b",transport="srdx",source="probe"}']
if grew != 220:
    sys.exit(f"srdx probe count of b after the re-add: {grew}, expected 200 + 20")
print(f"{len(before)} counter samples of b, none backwards")
PYEOF
ok "b added back: its counters continue from their values before the removal"

#!/bin/bash
# `promtool check metrics` has nothing to say about a rendering in which
# every metric family has samples (tests/control_unit/metrics_sample.cc):
# the dpdk port's families, replication jobs and the DR side, probes, peers
# and path slots; prom_check.py finds it well formed.
#   promtool_sample.sh METRICS_SAMPLE
set -euo pipefail
SAMPLE=${1:?usage: $0 METRICS_SAMPLE}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v promtool >/dev/null || {
  echo "FAIL: promtool is not installed (package prometheus; scripts/bootstrap installs it)" >&2
  exit 1
}
out=$(mktemp "${TMPDIR:-/tmp}/srdx-metrics-sample.XXXXXX")
trap 'rm -f "$out"' EXIT
"$SAMPLE" >"$out"
for family in srdx_link_up srdx_link_events_total srdx_ena_allowance_exceeded_total \
  srdx_link_xstat srdx_replication_job_state srdx_replication_sink_commits_total \
  srdx_probe_rtt_seconds srdx_path_packets_sent_total srdx_poller_slept_seconds_total; do
  grep -q "^$family[{ _]" "$out" || { echo "FAIL: no sample of $family" >&2; exit 1; }
done
lint=$(promtool check metrics <"$out" 2>&1) || { echo "FAIL: promtool: $lint" >&2; exit 1; }
[[ -z $lint ]] || { echo "FAIL: promtool check metrics: $lint" >&2; exit 1; }
/usr/bin/python3 "$HERE/prom_check.py" "$out"
echo "ok: promtool check metrics clean on every family ($(grep -c '^# TYPE' "$out") families)"

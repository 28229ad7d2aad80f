#!/bin/bash
# Periodic probing (daemon.probe-every): a's rounds to a live peer b put RTT
# samples of both transports into /metrics under source="periodic", apart
# from API probes (source="probe"); rounds to a peer z that is not running
# count lost pings and failed rounds per transport, and a's log says once
# that z's rounds fail and once that they recovered when z starts, not
# every round.
#   daemon_periodic.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

node_new a
node_new b
node_new z
node_config a b z -- "[daemon]" "probe-every = 100ms"
node_config b a
node_config z a
# b first, so that a's first round to b finds it running.
node_start b
node_start a
say "srdxd a on ${CONTROL[a]} (probe-every 100ms), b on ${CONTROL[b]}; z not started"

# ---- rounds to b: RTT samples of both transports, source="periodic" ---------------------
for t in srdx tcp; do
  wait_for 60 "periodic $t samples for b" \
    metric_at_least a 20 srdx_probe_rtt_seconds_count peer=b transport=$t source=periodic
done
prom_lint "$WORK/a.metrics"
"$PY" "$HERE/prom_check.py" "$WORK/a.metrics" --require srdx_probe_pings_lost_total \
  --require srdx_probe_failures_total >/dev/null || fail "a's /metrics is not valid Prometheus text"
first=$(mv_of a srdx_probe_rtt_seconds_count peer=b transport=srdx source=periodic)
wait_for 60 "more periodic srdx samples for b" \
  metric_at_least a $((first + 10)) srdx_probe_rtt_seconds_count peer=b transport=srdx source=periodic
[[ $(mv_of a srdx_probe_rtt_seconds_count peer=b transport=srdx source=probe) == absent ]] ||
  fail "an srdx_probe_rtt_seconds series with source=\"probe\" before any API probe"
for t in srdx tcp; do
  [[ $(mv_of a srdx_probe_failures_total peer=b transport=$t source=periodic) == absent ]] ||
    fail "failed periodic rounds to the live peer b over $t"
done
# The rounds are not listed as probes.
call 200 a GET /v1/probes
expect 'len(d["probes"]) == 0' "no periodic round in /v1/probes"
ok "periodic rounds to b: srdx and tcp RTT samples keep coming (source=periodic)"

# An API probe goes to its own series; the periodic ones keep counting.
ctl_expect 0 a probe b --transport both --count 50
metrics a
for t in srdx tcp; do
  [[ $(mv_of a srdx_probe_rtt_seconds_count peer=b transport=$t source=probe) == 50 ]] ||
    fail "API probe: $t samples under source=probe: $(mv_of a srdx_probe_rtt_seconds_count peer=b transport=$t source=probe), expected 50"
done
ok "an API probe's 50 samples per transport are source=probe"

# A long API probe does not hold the rounds back: its srdx batches (100 pings
# 1 s apart) would keep b's ping queue for 100 s each; periodic rounds have
# a lane of their own, so their srdx samples keep coming meanwhile.
code=$(api a POST /v1/probes '{"peer":"b","transport":"srdx","count":3600,"interval_us":1000000,"lease_s":0}')
[[ $code == 202 ]] || fail "POST a long probe: HTTP $code ($(cat "$BODY"))"
long=$(jv 'd["id"]')
wait_for 30 "the long probe's first ping" probe_past a "$long" 0
metrics a
first=$(mv_of a srdx_probe_rtt_seconds_count peer=b transport=srdx source=periodic)
wait_for 30 "periodic srdx samples for b while a long API probe runs" \
  metric_at_least a $((first + 20)) srdx_probe_rtt_seconds_count peer=b transport=srdx source=periodic
[[ $(probe_state a "$long") == running ]] || fail "the long probe $long is not running"
call 200 a DELETE "/v1/probes/$long"
ok "periodic rounds to b go on beside a long API probe to b (their own lane)"

# ---- rounds to z (not running): lost pings and failed rounds, one log line ---------------
wait_for 60 "failed tcp rounds to z counted" \
  metric_at_least a 3 srdx_probe_failures_total peer=z transport=tcp source=periodic
wait_for 60 "failed srdx rounds to z counted" \
  metric_at_least a 3 srdx_probe_failures_total peer=z transport=srdx source=periodic
metric_at_least a 2 srdx_probe_pings_lost_total peer=z transport=srdx source=periodic ||
  fail "no lost srdx pings to z counted: $(mv_of a srdx_probe_pings_lost_total peer=z transport=srdx source=periodic)"
[[ $(mv_of a srdx_probe_rtt_seconds_count peer=z transport=tcp source=periodic) == absent ]] ||
  fail "tcp RTT samples for z, which is not running"
n=$(grep -c "periodic probe to z failing" "${LOG[a]}" || true)
[[ $n == 1 ]] || fail "a logged 'periodic probe to z failing' $n times over 3+ failed rounds, expected once"
grep "periodic probe to z failing" "${LOG[a]}" | grep -q " warn " ||
  fail "the failing line is not a warning: $(grep "periodic probe to z" "${LOG[a]}")"
grep -q "probe .* to z failed" "${LOG[a]}" && fail "a logged each failed round to z"
grep -q "periodic probe to b" "${LOG[a]}" && fail "a logged about b's rounds, which succeed"
ok "rounds to a dead peer: failures and lost pings counted per transport, one warning"

# ---- z starts: the rounds recover, logged once ---------------------------------------------
node_start z
recovered() { grep -q "periodic probe to z recovered after [0-9]* failed rounds" "${LOG[a]}"; }
wait_for 60 "a logs that z's rounds recovered" recovered
for t in srdx tcp; do
  wait_for 60 "periodic $t samples for z" \
    metric_at_least a 1 srdx_probe_rtt_seconds_count peer=z transport=$t source=periodic
done
n=$(grep -c "periodic probe to z failing" "${LOG[a]}" || true)
[[ $n == 1 ]] || fail "a logged 'periodic probe to z failing' $n times, expected once"
ok "z up: a logged the recovery once and measures z"

say "all periodic probing checks passed"

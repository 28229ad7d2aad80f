#!/usr/bin/env bash
# The MQTT telemetry bridge in srdxd (issue 15): two appliances on loopback
# over the srdx engine with encryption on, a (telemetry.role = edge, its own
# Mosquitto broker) and b (central, another broker), both brokers started and
# killed by this script on free ports.
#
# Messages published at a's broker arrive at b's broker with topic, QoS and
# retain; the seed's alarm rule fires on its topic; GET /v1/telemetry,
# srdxctl telemetry status [--json] and /metrics report it; a bad rule is
# refused at start with a clear line. Then kill -9 of the edge and, later, of
# the central appliance while a publisher sends QoS 1 messages: every message
# arrives at the central subscriber (at least once).
# SRDX_TELEMETRY_MESSAGES: how many in the kill -9 part (default 3000).
#
#   telemetry_bridge.sh SRDXD SRDXCTL
source "$(dirname "$0")/lib.sh" "$@"

for tool in mosquitto_pub mosquitto_sub; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (mosquitto-clients)"; exit 77; }
done
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[[ -x $MOSQUITTO ]] || { echo "SKIP: mosquitto is not installed"; exit 77; }
N=${SRDX_TELEMETRY_MESSAGES:-3000}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# broker_start NAME: a Mosquitto broker on a free loopback port (BPORT[NAME]).
declare -A BPORT BPID
broker_start() {
  local n=$1
  BPORT[$n]=${BPORT[$n]:-$(free_port)}
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000000\nlog_dest none\n' \
    "${BPORT[$n]}" >"$WORK/broker-$n.conf"
  "$MOSQUITTO" -c "$WORK/broker-$n.conf" &
  BPID[$n]=$!
  BACKGROUND+=("${BPID[$n]}")
  wait_for 10 "broker $n listening" "$PY" -c "import socket; socket.create_connection(('127.0.0.1', ${BPORT[$n]}), 1)"
}

telemetry() {
  api "$1" GET /v1/telemetry >/dev/null
  [[ $STATUS == 200 ]] || fail "GET /v1/telemetry on $1: HTTP $STATUS"
}
tv() { telemetry "$1" && jv "$2"; }

broker_start edge
broker_start central
node_new a
node_new b
RULE='turbine/+/temperature > 80 for 3 samples'

# ---- a bad rule is refused at start, naming the option and the rule ---------------
node_config a b -- "[telemetry]" "role = edge" "broker = 127.0.0.1:${BPORT[edge]}" \
  "topic = turbine/*" "central = b" "alarm = turbine/+/temperature => 80"
if "$SRDXD" --config "${CONFIG[a]}" --check-config >"$WORK/check.out" 2>&1; then
  fail "a bad alarm rule was accepted"
fi
grep -q "telemetry.alarm" "$WORK/check.out" && grep -q "unknown comparison '=>'" "$WORK/check.out" ||
  fail "bad rule: unclear error: $(cat "$WORK/check.out")"
ok "a bad alarm rule is refused: $(head -c 200 "$WORK/check.out")"

node_config a b -- "[telemetry]" "role = edge" "broker = 127.0.0.1:${BPORT[edge]}" \
  "topic = turbine/*" "central = b" "alarm = $RULE" "client-id = srdx-test-edge"
node_config b a -- "[telemetry]" "role = central" "broker = 127.0.0.1:${BPORT[central]}" \
  "client-id = srdx-test-central" "gap-timeout = 2s"
node_start a
node_start b
wait_for 15 "a's broker connection" test "$(tv a 'd["broker_connected"]')" == true
wait_for 15 "b's broker connection" test "$(tv b 'd["broker_connected"]')" == true
ok "both appliances connected to their brokers"

# ---- messages arrive with topic, QoS and retain; the alarm fires --------------------
SUB=$WORK/sub.txt
mosquitto_sub -V 5 -p "${BPORT[central]}" -h 127.0.0.1 -q 1 -i srdx-test-sub -c -x 3600 --retain-as-published \
  -F '%t %q %r %p' -t 'turbine/#' -t 'srdx/alarms/#' >"$SUB" 2>"$WORK/sub.err" &
BACKGROUND+=($!)
sleep 0.5
for i in 1 2 3 4 5; do
  mosquitto_pub -V 5 -p "${BPORT[edge]}" -h 127.0.0.1 -q 1 -t turbine/7/rpm -m "rpm-$i"
done
mosquitto_pub -V 5 -p "${BPORT[edge]}" -h 127.0.0.1 -q 0 -r -t turbine/7/state -m "running"
for v in 80 80 80 81 82 83; do
  mosquitto_pub -V 5 -p "${BPORT[edge]}" -h 127.0.0.1 -q 1 -t turbine/3/temperature -m "$v"
done
wait_for 20 "the messages at the central broker" test "$(grep -c '^turbine/' "$SUB")" -ge 12
wait_for 20 "the alarm at the central broker" grep -q '^srdx/alarms/turbine/3/temperature 1 0 ' "$SUB"
[[ $(grep -c '^srdx/alarms/' "$SUB") == 1 ]] || fail "expected one alarm: $(grep '^srdx/alarms/' "$SUB")"
grep -q '"value":83' "$SUB" || fail "the alarm does not carry the third sample above 80"
grep -qx 'turbine/7/state 0 1 running' "$SUB" || fail "retain or QoS 0 not preserved: $(grep state "$SUB")"
[[ $(grep -c '^turbine/7/rpm 1 0 rpm-' "$SUB") == 5 ]] || fail "QoS 1 messages not once each"
ok "12 messages once each with topic/QoS/retain, one alarm on the seed's rule"

telemetry a
expect 'd["role"] == "edge" and d["messages_in"] >= 12 and d["alarms"]["raised"] == 1' "edge status"
expect 'd["last_alarms"][-1]["topic"] == "turbine/3/temperature"' "edge last alarm"
expect 'd["spool"]["fsync"] == "interval" and d["central_reachable"]' "edge spool"
telemetry b
expect 'd["role"] == "central" and d["messages_out"] >= 13 and d["duplicates_dropped"] == 0' "central"
expect 'd["alarm_state"]["turbine/3/temperature"] == "raised"' "central alarm state"
ctl_expect 0 a telemetry status
grep -q "role: edge" "$WORK/ctl.out" || fail "srdxctl telemetry status: $(cat "$WORK/ctl.out")"
grep -q "turbine/+/temperature > 80 for 3 samples" "$WORK/ctl.out" || fail "srdxctl: no rule shown"
ctl_expect 0 a telemetry status --json
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["role"]=="edge"' "$WORK/ctl.out" ||
  fail "srdxctl telemetry status --json"
metrics b >/dev/null
grep -q '^srdx_telemetry_turbine_alarm{turbine="3",sensor="temperature"} 1' "$WORK/b.metrics" ||
  fail "metrics: no turbine alarm series"
grep -q '^srdx_telemetry_latest_value{turbine="7",sensor="rpm"}' "$WORK/b.metrics" && fail "non-numeric sample exported"
grep -q '^srdx_telemetry_latency_seconds_count{kind="data"}' "$WORK/b.metrics" || fail "metrics: no latency"
metrics a >/dev/null
grep -q '^srdx_telemetry_alarms_total{state="raised"} 1' "$WORK/a.metrics" || fail "metrics: edge alarms"
for n in a b; do
  prom_lint "$WORK/$n.metrics"
  "$PY" "$HERE/prom_check.py" "$WORK/$n.metrics" --require srdx_telemetry_up ||
    fail "$n: /metrics is not valid Prometheus text"
done
# Every telemetry metric the Grafana dashboard queries is one an edge or a
# central appliance exports.
"$PY" - "$HERE/../../dashboards/srdx-grafana.json" "$WORK/a.metrics" "$WORK/b.metrics" <<'PYEOF' ||
import re, sys
dashboard = open(sys.argv[1], encoding="utf-8").read()
exported = set()
for f in sys.argv[2:]:
    exported |= set(re.findall(r"^# TYPE (\w+) ", open(f, encoding="utf-8").read(), re.M))
wanted = {re.sub(r"_bucket$", "", m) for m in re.findall(r"\bsrdx_telemetry_\w+", dashboard)}
missing = sorted(wanted - exported)
if not wanted or missing:
    sys.exit("the dashboard queries telemetry metrics srdxd does not export: " + ", ".join(missing))
PYEOF
  fail "dashboards/srdx-grafana.json and the telemetry metrics disagree"
ok "GET /v1/telemetry, srdxctl telemetry status [--json], /metrics and the dashboard's metrics"

# ---- kill -9 of the edge, then of the central appliance, under QoS 1 load ----------
say "publishing $N QoS 1 messages; kill -9 of a, then of b, meanwhile"
seq 1 "$N" | sed 's/^/m-/' >"$WORK/payloads"
(
  # Paced so that both kills land mid-stream (about 8 s in all).
  split -l $((N / 8 + 1)) "$WORK/payloads" "$WORK/part."
  for f in "$WORK"/part.*; do
    mosquitto_pub -V 5 -p "${BPORT[edge]}" -h 127.0.0.1 -q 1 -t turbine/9/vibration -l <"$f"
    sleep 1
  done
) &
PUBPID=$!
BACKGROUND+=("$PUBPID")
sleep 2
kill -KILL "${PID[a]}"
wait "${PID[a]}" 2>/dev/null || true
say "a killed; restarting it"
node_start a
sleep 2
kill -KILL "${PID[b]}"
wait "${PID[b]}" 2>/dev/null || true
say "b killed; restarting it"
node_start b
wait "$PUBPID" || fail "the publisher failed"
got() { grep '^turbine/9/vibration 1 0 m-' "$SUB" | awk '{print $4}' | sort -u | wc -l; }
deadline=$((SECONDS + 60))
until [[ $(got) -eq $N ]]; do
  if ((SECONDS >= deadline)); then
    # What is missing, and what each side says of it, for a post-mortem.
    missing=$(comm -23 <(sort "$WORK/payloads") \
      <(grep '^turbine/9/vibration 1 0 m-' "$SUB" | awk '{print $4}' | sort -u))
    echo "missing $(wc -l <<<"$missing") of $N: $(head -20 <<<"$missing" | tr '\n' ' ')" >&2
    for n in a b; do
      api "$n" GET /v1/telemetry >/dev/null || true
      echo "$n: GET /v1/telemetry: $(head -c 3000 "$BODY")" >&2
    done
    fail "all $N QoS 1 messages at the central subscriber: have $(got) after 60 s"
  fi
  sleep 0.2
done
dups=$(( $(grep -c '^turbine/9/vibration ' "$SUB") - N ))
telemetry a
expect 'd["spool"]["recovered"] >= 0 and d["epoch"] >= 2' "edge epoch after restart"
# The restarted centre read back what it had published (its sequence log), so
# what the edge sent again was dropped there rather than published twice.
telemetry b
expect 'd["sequence_log"]["enabled"] and d["sequence_log"]["recovered_frames"] > 0' \
  "central sequence log read back after kill -9"
ok "all $N QoS 1 messages arrived across kill -9 of either appliance ($dups duplicates at the subscriber, $(jv 'd["duplicates_dropped"]') dropped at the restarted centre)"

#!/bin/bash
# The control API and srdxctl against two real srdxd on loopback (udp link),
# each naming the other as its peer: status, peers, paths, counters, a probe
# over both transports, /metrics as Prometheus text, authentication, request
# validation, and srdxctl's messages and exit statuses.
#   api.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

node_new a
node_new b
node_config a b -- "[control]" "max-probes = 2"
node_config b a
node_start a
node_start b
say "srdxd a on ${CONTROL[a]}, b on ${CONTROL[b]}"

# ---- status -------------------------------------------------------------------
call 200 a GET /v1/status
expect 'd["version"] == "0.1.0"' "status version"
expect 'd["state"] == "running"' "status state"
expect 'd["link"]["kind"] == "udp"' "status link kind"
expect "d['link']['local'] == '127.0.0.1:${LOCAL_PORT[a]}'" "status link local"
expect 'd["engine"]["peers"] == 1' "status engine peers"
expect 'isinstance(d["uptime_s"], (int, float)) and d["uptime_s"] >= 0' "status uptime"
expect 'isinstance(d["engine"]["instance"], str) and len(d["engine"]["instance"]) == 16' "status instance"
# The ports a uses (node_config: link.local, 8 entropy ports after it, tcp echo, control).
expect "d['ports']['link']['local'] == '127.0.0.1:${LOCAL_PORT[a]}'" "status ports.link.local"
expect "d['ports']['link']['local_port'] == ${LOCAL_PORT[a]}" "status ports.link.local_port"
expect "d['ports']['link']['entropy_ports'] == {'first': $((LOCAL_PORT[a] + 1)), 'count': 8, 'last': $((LOCAL_PORT[a] + 8))}" \
  "status ports.link.entropy_ports"
expect "'dpdk_device' not in d['ports']['link']" "no dpdk device on the udp link"
expect "d['ports']['tcp_echo'] == '127.0.0.1:${ECHO_PORT[a]}'" "status ports.tcp_echo"
expect "d['ports']['control'] == '${CONTROL[a]}'" "status ports.control"
expect "d['encryption'] == True and d['public_key'] == '${PUBKEY[a]}'" "status encryption and public_key"
ctl_expect 0 a status
grep -q running "$WORK/ctl.out" || fail "srdxctl status: no 'running' in: $(cat "$WORK/ctl.out")"
grep -q "127.0.0.1:${LOCAL_PORT[a]}" "$WORK/ctl.out" || fail "srdxctl status: no link address"
ctl_expect 0 a status --json
SRDXCTL_API=${CONTROL[a]} SRDXCTL_TOKEN_FILE=${TOKEN_FILE[a]} "$SRDXCTL" status >/dev/null ||
  fail "srdxctl with SRDXCTL_API and SRDXCTL_TOKEN_FILE"
jv 'd["state"]' "$WORK/ctl.out" >/dev/null || fail "srdxctl status --json is not JSON"
ok "status"

# ---- a second daemon on a's control port is refused ---------------------------------
# (cpp-httplib's default SO_REUSEPORT let it start and take half of a's requests.)
node_new dup
node_config dup b
sed -i "s/^listen = .*/listen = ${CONTROL[a]}/" "${CONFIG[dup]}"
instance_a=$(api a GET /v1/status >/dev/null && jv 'd["engine"]["instance"]')
rc=0
timeout 10 "$SRDXD" --config "${CONFIG[dup]}" >"$WORK/dup.out" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "srdxd on an occupied control port: exit $rc, expected 1: $(cat "$WORK/dup.out")"
grep -q -- "--control.listen: cannot listen on ${CONTROL[a]} (address in use" "$WORK/dup.out" ||
  fail "srdxd on an occupied control port: $(cat "$WORK/dup.out")"
for _ in $(seq 20); do
  call 200 a GET /v1/status
  expect "d['engine']['instance'] == '$instance_a'" "every request answered by a"
done
ok "a second srdxd on the same control port exits 1 ('cannot listen'); a keeps answering"

# ---- a probe over both transports -----------------------------------------------
ctl_expect 0 a --json probe b --transport both --count 200 --size 64
P=$WORK/ctl.out
[[ $(jv 'd["state"]' "$P") == "done" ]] || fail "probe both: state $(jv 'd["state"]' "$P")"
for t in srdx tcp; do
  [[ $(jv "d['results']['$t']['count'] > 0 and d['results']['$t']['p50_us'] > 0" "$P") == true ]] ||
    fail "probe both: no $t figures: $(cat "$P")"
  [[ $(jv "all(d['results']['$t'][k] >= d['results']['$t']['p50_us'] for k in ('p90_us','p99_us','p999_us','max_us'))" "$P") == true ]] ||
    fail "probe both: $t percentiles not ordered: $(cat "$P")"
done
[[ $(jv 'all(d["ratio"][k] > 0 for k in ("p50","p90","p99","p999","max"))' "$P") == true ]] ||
  fail "probe both: no ratio: $(cat "$P")"
PROBE_ID=$(jv 'd["id"]' "$P")
say "probe both: srdx p50 $(jv 'd["results"]["srdx"]["p50_us"]' "$P") us," \
  "tcp p50 $(jv 'd["results"]["tcp"]["p50_us"]' "$P") us, ratio $(jv 'd["ratio"]["p50"]' "$P")"

# The human table: rows p50..max, columns srdx, tcp, tcp/srdx.
ctl_expect 0 a probe b --count 100
for row in p50 p90 p99 p99.9 max; do
  grep -Eq "^$row +[0-9.]+ (us|ms) +[0-9.]+ (us|ms) +[0-9.]+x$" "$WORK/ctl.out" ||
    fail "srdxctl probe: no '$row' row with srdx, tcp and a ratio in:
$(cat "$WORK/ctl.out")"
done
grep -q "tcp/srdx" "$WORK/ctl.out" || fail "srdxctl probe: no tcp/srdx column"
ok "probe both (srdx and tcp figures, ratios, table)"

ctl_expect 0 a probe b --transport srdx --count 50
grep -q "tcp/srdx" "$WORK/ctl.out" && fail "srdxctl probe --transport srdx shows a tcp column"
ok "probe srdx only"

call 200 a GET "/v1/probes/$PROBE_ID"
expect 'd["state"] == "done" and d["progress"]["done"] == d["progress"]["count"]' "probe progress"
call 200 a GET /v1/probes
expect "any(str(p['id']) == '$PROBE_ID' for p in (d['probes'] if isinstance(d, dict) else d))" \
  "probe list"
ctl_expect 0 a probes
grep -Eq "^$PROBE_ID +b " "$WORK/ctl.out" || fail "srdxctl probes: no probe $PROBE_ID"
ok "probes list"

# ---- peers and paths -------------------------------------------------------------
wait_for 5 "a sees b up" peer_up a b
wait_for 5 "b sees a up" peer_up b a
call 200 a GET /v1/peers
for f in name address up srtt_us min_rtt_us cwnd_bytes inflight_bytes messages_completed \
  messages_failed messages_received retransmissions; do
  expect "'$f' in d['peers'][0]" "peers field $f"
done
expect "d['peers'][0]['address'] == '127.0.0.1:${LOCAL_PORT[b]}'" "peer b's address"
expect 'd["peers"][0]["messages_completed"] >= 200' "messages completed by the probes"
ctl_expect 0 a peers
grep -Eq "^b +127\.0\.0\.1:${LOCAL_PORT[b]} +yes " "$WORK/ctl.out" ||
  fail "srdxctl peers: no 'b ... yes' row in:
$(cat "$WORK/ctl.out")"
ok "peers"

call 200 a GET /v1/peers/b/paths
expect 'd["peer"] == "b" and len(d["paths"]) > 0' "paths of b"
for f in entropy state srtt_us rttvar_us min_rtt_us packets_sent packets_acked packets_lost \
  timeouts inflight generation; do
  expect "'$f' in d['paths'][0]" "paths field $f"
done
expect 'any(p["packets_sent"] > 0 for p in d["paths"])' "packets sent over b's paths"
ctl_expect 0 a paths b
[[ $(grep -c . "$WORK/ctl.out") -ge 3 ]] || fail "srdxctl paths b: no rows"
call 404 a GET /v1/peers/nosuchpeer/paths
expect '"error" in d' "404 carries an error"
ctl_expect 1 a paths nosuchpeer
ok "paths"

# ---- counters ----------------------------------------------------------------------
call 200 a GET /v1/counters
for k in endpoint link poller api; do expect "'$k' in d" "counters section $k"; done
expect 'isinstance(d["endpoint"]["drops"], dict)' "counters endpoint.drops"
# The udp link's own counters: it has sent (the probes and hellos) through io_uring.
expect 'd["link"]["backend"]["gso"] in (0, 1) and d["link"]["backend"]["rx_rearms"] >= 1' \
  "counters link.backend (the udp link's own)"
ctl_expect 0 a counters
grep -q '^api.requests ' "$WORK/ctl.out" || fail "srdxctl counters: no api.requests"
ok "counters"

# ---- authentication -----------------------------------------------------------------
api a GET /v1/counters >/dev/null
unauth_before=$(jv 'd["api"]["unauthorized"]')
[[ $(api_noauth a GET /v1/status) == 401 ]] || fail "no token: HTTP $STATUS, expected 401"
expect '"error" in d and "token" in d["error"]' "401 message"
[[ $(api_noauth a GET /v1/peers -H "Authorization: Bearer wrong") == 401 ]] ||
  fail "wrong token: HTTP $STATUS"
[[ $(api_noauth a GET /metrics -H "Authorization: Basic abc") == 401 ]] ||
  fail "basic auth on /metrics: HTTP $STATUS"
[[ $(api_noauth a POST /v1/probes -d '{"peer":"b"}') == 401 ]] ||
  fail "POST without token: HTTP $STATUS"
call 200 a GET /v1/counters
expect "d['api']['unauthorized'] >= $unauth_before + 4" "unauthorized requests counted"
(umask 077 && echo wrong-token-0123456789 >"$WORK/wrong-token")
"$SRDXCTL" --api "${CONTROL[a]}" --token-file "$WORK/wrong-token" status 2>"$WORK/ctl.err" && rc=0 || rc=$?
[[ $rc == 4 ]] || fail "srdxctl with a wrong token: exit $rc, expected 4"
grep -q "srdxd refused the token (401): check --token-file" "$WORK/ctl.err" ||
  fail "srdxctl with a wrong token: message: $(cat "$WORK/ctl.err")"
ok "authentication (401, counted, srdxctl exit 4)"

# ---- request validation ----------------------------------------------------------------
bad_before=$(api a GET /v1/counters >/dev/null && jv 'd["api"]["bad_requests"]')
call 400 a POST /v1/probes '{"peer":"b",'
expect '"error" in d' "malformed JSON message"
call 400 a POST /v1/probes '{"peer":"b","colour":"blue"}'
expect '"error" in d and "colour" in d["error"]' "unknown field named"
call 400 a POST /v1/probes '{"peer":"b","size":0}'
call 400 a POST /v1/probes '{"peer":"b","size":100000000}'
expect '"error" in d and "size" in d["error"]' "out-of-range size named"
call 400 a POST /v1/probes '{"peer":"b","transport":"carrier-pigeon"}'
call 400 a POST /v1/probes '[1,2,3]'
call 404 a POST /v1/probes '{"peer":"nosuchpeer"}'
expect '"error" in d' "unknown peer message"
call 404 a GET /v1/probes/999999
call 404 a DELETE /v1/probes/999999
call 404 a GET /v1/nothing-here
code=$(api a PUT /v1/status '{}')
[[ $code == 405 ]] || fail "PUT /v1/status: HTTP $code, expected 405"
call 200 a GET /v1/counters
expect "d['api']['bad_requests'] >= $bad_before + 6" "bad requests counted"
ctl_expect 1 a probe nosuchpeer --count 10
grep -q nosuchpeer "$WORK/ctl.err" || fail "srdxctl probe nosuchpeer: $(cat "$WORK/ctl.err")"
ctl_expect 1 a probe b --size 100000000
grep -q size "$WORK/ctl.err" || fail "srdxctl probe --size huge: $(cat "$WORK/ctl.err")"
ok "bad requests (400 malformed, unknown field, out of range; 404 unknown peer; 405)"

# ---- odd methods, body sizes and content types -----------------------------------------------
call 200 a GET /v1/counters
before_req=$(jv 'd["api"]["requests"]')
before_unauth=$(jv 'd["api"]["unauthorized"]')
before_bad=$(jv 'd["api"]["bad_requests"]')
# TRACE (httplib knows it, the API does not): the token is checked first.
[[ $(api_noauth a TRACE /v1/status) == 401 ]] || fail "TRACE without a token: HTTP $STATUS, expected 401"
call 405 a TRACE /v1/status "" -D "$WORK/405.headers"
expect '"error" in d and "TRACE" in d["error"] and "GET" in d["error"]' "405 for TRACE names the method"
grep -qi '^Allow: GET, HEAD, POST, DELETE' "$WORK/405.headers" || fail "405 without Allow: $(cat "$WORK/405.headers")"
# A method httplib cannot parse: 405 with a JSON message, counted.
[[ $(api_noauth a FOO /v1/status) == 405 ]] || fail "FOO: HTTP $STATUS, expected 405"
expect '"error" in d and "FOO" in d["error"]' "405 for FOO names the method"
# A garbled request line: 400, counted.
printf 'GET\r\n\r\n' >"$WORK/garbled"
code=$("$PY" - "${CONTROL[a]}" "$WORK/garbled" <<'PYEOF'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
with socket.create_connection((host, int(port)), timeout=10) as s:
    s.sendall(open(sys.argv[2], "rb").read())
    reply = b""
    while chunk := s.recv(4096):
        reply += chunk
print(reply.split(b" ")[1].decode())
PYEOF
)
[[ $code == 400 ]] || fail "a garbled request line: HTTP $code, expected 400"
# Bodies: 64 KiB whatever the Content-Type; a body must be JSON.
"$PY" -c 'import sys; sys.stdout.write("{\"peer\":\"nosuchpeer\"" + " " * 20000 + "}")' >"$WORK/json20k"
"$PY" -c 'import sys; sys.stdout.write("{\"peer\":\"nosuchpeer\"" + " " * 70000 + "}")' >"$WORK/json70k"
call 404 a POST /v1/probes "" -H 'Content-Type: application/json' --data-binary @"$WORK/json20k"
expect '"nosuchpeer" in d["error"]' "a 20 KiB JSON body is read whole"
call 415 a POST /v1/probes "" --data-binary @"$WORK/json20k"
expect '"application/x-www-form-urlencoded" in d["error"] and "accepted: application/json" in d["error"]' \
  "415 for a 20 KiB form body (httplib's own limit would say 413)"
call 415 a POST /v1/probes "" -F 'peer=b'
expect '"multipart/form-data" in d["error"]' "415 for a multipart body"
call 413 a POST /v1/probes "" -H 'Content-Type: application/json' --data-binary @"$WORK/json70k"
expect '"64 KiB" in d["error"]' "413 message for a 70 KiB JSON body"
call 413 a POST /v1/probes "" --data-binary @"$WORK/json70k"
call 413 a POST /v1/probes "" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
  --data-binary @"$WORK/json70k"
expect '"64 KiB" in d["error"]' "413 for a chunked 70 KiB body"
call 200 a GET /v1/counters
# 10 requests above and this one; 1 unauthorized (FOO's token is never read); 9 bad.
expect "d['api']['requests'] == $before_req + 11" "every request counted (odd methods, garbled lines)"
expect "d['api']['unauthorized'] == $before_unauth + 1" "the TRACE without a token counted as unauthorized"
expect "d['api']['bad_requests'] == $before_bad + 9" "405s, 400, 404, 415s and 413s counted as bad requests"
ok "odd methods (401 first, then 405), garbled lines (400), 64 KiB bodies of any type (413), JSON only (415)"

# ---- at most control.max-probes (2 on a) probes at once: 429 past that --------------------
p1=$(probe_start a b srdx 1000000 1000)
p2=$(probe_start a b srdx 1000000 1000)
call 429 a POST /v1/probes '{"peer":"b","transport":"srdx","count":10}' -D "$WORK/429.headers"
expect '"error" in d and "control.max-probes" in d["error"] and "2" in d["error"]' "429 message"
grep -qi '^Retry-After: 1' "$WORK/429.headers" || fail "429 without Retry-After: $(cat "$WORK/429.headers")"
call 200 a GET /v1/status
expect 'd["probes_running"] == 2' "2 probes running after a refused third"
# A burst of 20 more: every one refused, none started.
codes=""
for _ in $(seq 20); do codes+="$(api a POST /v1/probes '{"peer":"b","count":10}') "; done
[[ $codes == "$(printf '429 %.0s' $(seq 20))" ]] || fail "a burst of 20 POSTs past the limit: $codes"
call 200 a GET /v1/probes
expect "sorted(p['id'] for p in d['probes'] if p['state'] == 'running') == sorted(['$p1', '$p2'])" \
  "only the 2 first probes running"
# Cancelling one frees its place (once its thread has noticed).
call 200 a DELETE "/v1/probes/$p1"
expect 'd["stopped"] is True and d["state"] == "cancelled" and d["id"] == "'"$p1"'"' \
  "DELETE answers the cancelled probe and that it stopped it"
p3=
post_ok() {
  [[ $(api a POST /v1/probes '{"peer":"b","transport":"srdx","count":1000000,"interval_us":1000}') == 202 ]] &&
    p3=$(jv 'd["id"]')
}
wait_for 10 "a POST accepted after a DELETE" post_ok
call 429 a POST /v1/probes '{"peer":"b","count":10}'
for p in "$p2" "$p3"; do call 200 a DELETE "/v1/probes/$p"; done
ok "at most control.max-probes probes at once (429 with Retry-After past it; a cancel frees a place)"

# ---- /metrics ------------------------------------------------------------------------------
call 200 a GET /metrics
cp "$BODY" "$WORK/metrics.txt"
prom_lint "$WORK/metrics.txt"
"$PY" "$HERE/prom_check.py" "$WORK/metrics.txt" \
  --require srdx_packets_sent_total --require srdx_drops_total \
  --require srdx_peer_up --require srdx_peer_srtt_seconds \
  --require srdx_peer_retransmissions_total --require srdx_path_srtt_seconds \
  --require srdx_probe_rtt_seconds --require srdx_api_unauthorized_total \
  --require-sample '^srdx_peer_up\{peer="b"\} 1$' \
  --require-sample '^srdx_probe_rtt_seconds_bucket\{.*transport="tcp".*\} ' \
  --require-sample '^srdx_probe_rtt_seconds_bucket\{.*transport="srdx".*\} ' \
  --require-sample '^srdx_probe_rtt_seconds_count\{peer="b",transport="srdx",source="probe"\} ' \
  --require srdx_probe_pings_lost_total --require srdx_probe_failures_total \
  --require srdx_encryption_enabled --require srdx_handshakes_completed_total \
  --require srdx_key_updates_total --require-sample '^srdx_encryption_enabled 1$' \
  --require-sample '^srdx_drops_total\{reason="unknown_key"\} [0-9]+$' \
  --require-sample '^srdx_drops_total\{reason="bad_auth"\} [0-9]+$' \
  --require-sample '^srdx_drops_total\{reason="replay"\} [0-9]+$' \
  --require-sample '^srdx_drops_total\{reason="unauthenticated"\} [0-9]+$' ||
  fail "/metrics is not valid Prometheus text (saved above)"
# Every metric the Grafana dashboard queries is one srdxd exports.
"$PY" - "$HERE/../../dashboards/srdx-grafana.json" "$WORK/metrics.txt" <<'PYEOF' ||
import re, sys
dashboard = open(sys.argv[1], encoding="utf-8").read()
exported = set(re.findall(r"^# TYPE (\w+) ", open(sys.argv[2], encoding="utf-8").read(), re.M))
# srdx_telemetry_*: only with [telemetry] on (telemetry_bridge.sh checks them).
wanted = {re.sub(r"_bucket$", "", m) for m in re.findall(r"\bsrdx_\w+", dashboard)
          if not m.startswith("srdx_telemetry_")}
missing = sorted(wanted - exported)
if missing:
    sys.exit("the dashboard queries metrics srdxd does not export: " + ", ".join(missing))
PYEOF
  fail "dashboards/srdx-grafana.json and /metrics disagree"
ok "/metrics (and every metric the dashboard uses)"

# ---- srdxctl: Ctrl-C cancels a running probe ---------------------------------------------------
"$SRDXCTL" --api "${CONTROL[a]}" --token-file "${TOKEN_FILE[a]}" \
  probe b --count 100000 --interval-us 1000 >"$WORK/cancel.out" 2>"$WORK/cancel.err" &
CTL_PID=$!
BACKGROUND+=("$CTL_PID")
running_probe() {
  api a GET /v1/probes >/dev/null &&
    [[ $(jv "any(p['state'] == 'running' for p in (d['probes'] if isinstance(d, dict) else d))") == true ]]
}
wait_for 5 "srdxctl's probe running" running_probe
kill -INT "$CTL_PID"
rc=0
wait "$CTL_PID" || rc=$?
[[ $rc == 130 ]] || fail "srdxctl probe after Ctrl-C: exit $rc, expected 130 ($(cat "$WORK/cancel.err"))"
grep -q cancelled "$WORK/cancel.err" || fail "srdxctl probe after Ctrl-C: $(cat "$WORK/cancel.err")"
call 200 a GET /v1/probes
expect "not any(p['state'] == 'running' for p in (d['probes'] if isinstance(d, dict) else d))" \
  "no probe left running after Ctrl-C"
expect "any(p['state'] == 'cancelled' for p in (d['probes'] if isinstance(d, dict) else d))" \
  "the probe is cancelled"
ok "srdxctl probe: Ctrl-C cancels (DELETE)"

# ---- srdxctl: usage and an unreachable daemon ---------------------------------------------------
rc=0
"$SRDXCTL" --api 127.0.0.1:1 --token-file "${TOKEN_FILE[a]}" status 2>"$WORK/ctl.err" || rc=$?
[[ $rc == 3 ]] || fail "srdxctl, nothing listening: exit $rc, expected 3"
grep -q "cannot reach srdxd at 127.0.0.1:1: connection refused (is srdxd running?)" "$WORK/ctl.err" ||
  fail "srdxctl, nothing listening: $(cat "$WORK/ctl.err")"
for args in "" "frobnicate" "paths" "probe b --transport udp" "probe b --count x" "status extra"; do
  rc=0
  # shellcheck disable=SC2086 # word splitting wanted
  "$SRDXCTL" --api "${CONTROL[a]}" --token-file "${TOKEN_FILE[a]}" $args 2>/dev/null >&2 || rc=$?
  [[ $rc == 2 ]] || fail "srdxctl $args: exit $rc, expected 2"
done
"$SRDXCTL" --help >"$WORK/help.out" || fail "srdxctl --help failed"
grep -q "4    unauthorized" "$WORK/help.out" || fail "srdxctl --help documents no exit statuses"
ok "srdxctl exit statuses (2 usage, 3 unreachable)"

say "all control API checks passed"

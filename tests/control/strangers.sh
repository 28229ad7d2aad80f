#!/bin/bash
# srdxd answers its configured peers only. A host that a lists nowhere (s, on
# 127.0.0.2, which lists a as its peer):
#  - by default gets no connection: a drops its packets (drops reason
#    unknown_peer) and keeps no state for it, so s's srdx probe gets no answer;
#  - gets its TCP echo connections reset (a knows its peers' IPs), counted
#    as echo refusals in /v1/counters and /metrics, while a's peer b is
#    answered over both transports;
#  - with peers.accept-unknown = on, may connect if it holds the private key
#    of a peers.allow-key (encryption is on), but the srdx echo still does not
#    answer it (counted); a stranger u (127.0.0.3) whose key is not allowed is
#    refused and counted (drops reason unknown_key), with no state kept;
#  - once a SIGHUP adds it to a's [peers], is answered over both transports;
#    once a SIGHUP removes it again, its open TCP echo connection is reset.
#   strangers.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

node_new a
node_new b
node_new s 127.0.0.2
node_new u 127.0.0.3
node_config a b
node_config b a
node_config s a
node_config u a
node_start a
node_start b
node_start s
node_start u
say "srdxd a on ${CONTROL[a]}, b on ${CONTROL[b]}, s (127.0.0.2, not a peer of a) on ${CONTROL[s]}"

call 200 a GET /v1/status
expect 'd["engine"]["accept_unknown_peers"] == False' "a refuses unknown peers by default"
expect 'd["engine"]["limits"]["max_peers"] == 1024' "a's endpoint.max-peers shown"

counter_above() { [[ $(counter "$1" "$2") -gt $3 ]]; }

# ---- srdx: refused without state ------------------------------------------------------
drops0=$(counter a 'd["endpoint"]["drops"]["unknown_peer"]')
ctl s --json probe a --transport srdx --count 2
call 200 a GET /v1/status
expect 'd["engine"]["endpoint_peers"] == 1' "a keeps no state for s (only b)"
[[ $(jv 'd["results"]["srdx"]["count"] == 0 and d["results"]["srdx"]["lost"] >= 1' "$WORK/ctl.out") == true ]] ||
  fail "s's srdx probe to a was answered: $(cat "$WORK/ctl.out")"
drops=$(counter a 'd["endpoint"]["drops"]["unknown_peer"]')
[[ $drops -gt $drops0 ]] || fail "a did not count s's packets as unknown_peer drops ($drops0 -> $drops)"
metric_at_least a 1 srdx_drops_total reason=unknown_peer || fail "srdx_drops_total{reason=unknown_peer}"
call 200 a GET /v1/peers
expect '[p["name"] for p in d["peers"]] == ["b"]' "a lists b only"
ok "a stranger's srdx probe gets nothing: $drops packets dropped as unknown_peer, no peer state"

# ---- TCP echo: reset for strangers, answered for peers --------------------------------------
ctl s --json probe a --transport tcp --count 2
[[ $(jv 'd["state"] == "failed" and "reset" in d["error"]' "$WORK/ctl.out") == true ]] ||
  fail "s's tcp probe to a: $(cat "$WORK/ctl.out"), expected failed with the reset"
grep -q "tcp echo: refused a connection from 127.0.0.2:" "${LOG[a]}" ||
  fail "a's log does not name the refused address"
refused=$(counter a 'd["echo"]["tcp_refused"]')
[[ $refused -ge 1 ]] || fail "a's echo.tcp_refused is $refused"
metric_at_least a 1 srdx_echo_refused_total transport=tcp || fail "srdx_echo_refused_total{transport=tcp}"
ctl_expect 0 b --json probe a --transport both --count 50
[[ $(jv 'd["state"] == "done" and d["results"]["srdx"]["lost"] == 0 and d["results"]["tcp"]["count"] == 50' "$WORK/ctl.out") == true ]] ||
  fail "b's probe to a: $(cat "$WORK/ctl.out")"
[[ $(counter a 'd["echo"]["tcp_connections"] >= 1 and d["echo"]["served"] >= 50') == true ]] ||
  fail "a's echo counters after b's probe: $(cat "$BODY")"
ok "TCP echo: the stranger reset ($refused refused), the peer b answered over both transports"

# ---- peers.accept-unknown = on: only with an allowed key --------------------------------------
kill -TERM "${PID[a]}"
wait "${PID[a]}" || fail "srdxd a did not stop cleanly"
unset 'PID[a]'
node_config a b -- "[peers]" "accept-unknown = on" "allow-key = ${PUBKEY[s]}"
node_start a
call 200 a GET /v1/status
expect 'd["engine"]["accept_unknown_peers"] == True' "a accepts unknown peers"
grep -q "1 allowed keys for strangers" "${LOG[a]}" || fail "a's log does not count its allowed key"
# u's key is not allowed: refused after the handshake's first message, counted.
refused_probe u a a unknown_key
unknown=$REFUSED
call 200 a GET /v1/status
expect 'd["engine"]["endpoint_peers"] == 1' "a keeps no state for u (its key is not allowed)"
call 200 u GET /v1/peers
expect 'not any(p["up"] for p in d["peers"])' "u never gets a connection to a"
ok "accept-unknown: u, whose key is not in peers.allow-key, refused ($unknown unknown_key drops), no state"
# s's key is allowed: it connects.
ctl s --json probe a --transport srdx --count 2
[[ $(jv 'd["results"]["srdx"]["count"] == 0' "$WORK/ctl.out") == true ]] ||
  fail "s's srdx probe to a was echoed: $(cat "$WORK/ctl.out")"
call 200 a GET /v1/status
expect 'd["engine"]["endpoint_peers"] == 2' "with accept-unknown, s holds a peer in a's endpoint"
echo_refused=$(counter a 'd["echo"]["refused"]')
[[ $echo_refused -ge 1 ]] || fail "a's echo.refused is $echo_refused"
metric_at_least a 1 srdx_echo_refused_total transport=srdx || fail "srdx_echo_refused_total{transport=srdx}"
grep -q "srdx echo: not answering 127.0.0.2:${LOCAL_PORT[s]} (not a configured peer" "${LOG[a]}" ||
  fail "a's log does not say whom the echo did not answer"
call 200 s GET /v1/peers
expect 'any(p["name"] == "a" and p["up"] for p in d["peers"])' "s's connection to a is up (handshake done)"
ok "peers.accept-unknown = on with s's key allowed: s connects, the echo does not answer it ($echo_refused refused)"

# ---- SIGHUP: s becomes a peer, then stops being one -------------------------------------------
node_config a b s -- "[peers]" "accept-unknown = on" "allow-key = ${PUBKEY[s]}"
kill -HUP "${PID[a]}"
wait_for 5 "s listed by a after SIGHUP" peer_listed a s
ctl_expect 0 s --json probe a --transport both --count 50
[[ $(jv 'd["state"] == "done" and d["results"]["srdx"]["count"] == 50 and d["results"]["tcp"]["count"] == 50' "$WORK/ctl.out") == true ]] ||
  fail "s's probe to a once a lists it: $(cat "$WORK/ctl.out")"
ok "after a SIGHUP that adds s, a answers s over srdx and tcp"

probe=$(probe_start s a tcp 100000 1000)
wait_for 10 "s's tcp probe to a under way" probe_past s "$probe" 10
refused0=$(counter a 'd["echo"]["tcp_refused"]')
node_config a b -- "[peers]" "accept-unknown = on" "allow-key = ${PUBKEY[s]}"
kill -HUP "${PID[a]}"
wait_for 10 "s's tcp probe ended by the reset" probe_over s "$probe"
call 200 s GET "/v1/probes/$probe"
expect 'd["state"] == "failed" and "reset" in d["error"]' "s's tcp probe after a dropped s"
wait_for 5 "a counts the reset connection" counter_above a 'd["echo"]["tcp_refused"]' "$refused0"
grep -q "tcp echo: reset an open connection from 127.0.0.2:" "${LOG[a]}" ||
  fail "a's log does not say it reset s's connection"
call 200 a GET /v1/peers
expect '[p["name"] for p in d["peers"]] == ["b"]' "a lists b only again"
ok "a SIGHUP that removes s resets s's open TCP echo connection"

say "all stranger checks passed"

#!/bin/bash
# SIGHUP reloads add and remove peers without disturbing the others. Three
# daemons a, b, c; a probes b all along, over srdx and over tcp:
#  - a SIGHUP that adds c leaves b's connection alone: neither probe to b
#    loses a ping, and c is usable at once;
#  - a SIGHUP that removes b (stopped with SIGSTOP, so that a ping to it is
#    in flight) ends both probes to b within a second, failed, with the
#    reason; the ping in flight fails in the endpoint (messages_failed,
#    counted and logged), none is lost; /v1/peers no longer lists b, a new
#    probe to b is a 404, and b's own probes to a get no answer;
#  - a SIGHUP that adds b back: a new probe to b answers every ping (today's
#    engine cannot: see the last section).
#   reload.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

node_new a
node_new b
node_new c
# a declares a silent peer down only after 5 s: b's removal below, not its
# silence, must be what fails the ping in flight to it.
A_ENGINE=("[engine]" "peer-timeout = 5s")
node_config a b -- "${A_ENGINE[@]}"
node_config b a
node_config c a
node_start a
node_start b
node_start c
say "srdxd a on ${CONTROL[a]}, b on ${CONTROL[b]}, c on ${CONTROL[c]}"

# peer_names NAME: NAME's peers, sorted, as a Python list literal.
peer_names() {
  [[ $(api "$1" GET /v1/peers) == 200 ]] || fail "GET /v1/peers on $1: HTTP $STATUS"
  jv 'sorted(p["name"] for p in d["peers"])'
}

# Probes to b that run through the reloads below: 1 ping every ms, far more
# than the test lasts.
srdx_probe=$(probe_start a b srdx 1000000 1000)
tcp_probe=$(probe_start a b tcp 1000000 1000)
wait_for 10 "srdx probe $srdx_probe under way" probe_past a "$srdx_probe" 100
wait_for 10 "tcp probe $tcp_probe under way" probe_past a "$tcp_probe" 100

# ---- add c: b undisturbed ----------------------------------------------------------------
srdx_before=$(probe_done_count a "$srdx_probe")
tcp_before=$(probe_done_count a "$tcp_probe")
node_config a b c -- "${A_ENGINE[@]}"
kill -HUP "${PID[a]}"
wait_for 5 "c listed by a after SIGHUP" peer_listed a c
[[ $(peer_names a) == '["b", "c"]' ]] || fail "a's peers after adding c: $(peer_names a)"
grep -q "reload: peer b" "${LOG[a]}" && fail "the reload that added c touched b: $(grep 'reload: peer b' "${LOG[a]}")"
ctl_expect 0 a --json probe c --transport both --count 50
[[ $(jv 'd["state"] == "done" and d["results"]["srdx"]["count"] == 50 and d["results"]["tcp"]["count"] == 50' "$WORK/ctl.out") == true ]] ||
  fail "probe to the new peer c: $(cat "$WORK/ctl.out")"
wait_for 10 "srdx probe well past the reload" probe_past a "$srdx_probe" $((srdx_before + 300))
wait_for 10 "tcp probe well past the reload" probe_past a "$tcp_probe" $((tcp_before + 300))
for probe in "$srdx_probe" "$tcp_probe"; do
  call 200 a GET "/v1/probes/$probe"
  expect 'd["state"] == "running"' "probe $probe to b after the reload that added c"
  expect 'all(r["lost"] == 0 for r in d["results"].values())' \
    "no ping of probe $probe to b lost across the reload that added c"
done
ok "SIGHUP added c; the probes to b went on with no ping lost, c answered at once"

# ---- remove b: its probes fail with the reason, its messages fail, nothing hangs -----------
failed0=$(counter a 'd["endpoint"]["messages_failed"]')
node_config a c -- "${A_ENGINE[@]}"
# b stops answering: a's next srdx ping to it stays in flight (its timeout
# is 1 s; a's peer timeout 5 s).
kill -STOP "${PID[b]}"
sleep 0.1
kill -HUP "${PID[a]}"
wait_for 3 "srdx probe ended by b's removal" probe_over a "$srdx_probe"
wait_for 3 "tcp probe ended by b's removal" probe_over a "$tcp_probe"
kill -CONT "${PID[b]}"
for probe in "$srdx_probe" "$tcp_probe"; do
  call 200 a GET "/v1/probes/$probe"
  expect 'd["state"] == "failed"' "probe $probe to the removed b"
  expect 'd["error"] == "peer b was removed from the configuration by a reload"' \
    "the failed probe $probe says why"
  expect 'all(r["lost"] == 0 for r in d["results"].values())' "no ping of probe $probe lost"
  say "probe $probe: failed ($(jv 'd["error"]')) after $(jv 'd["progress"]["done"]') pings"
done
[[ $(peer_names a) == '["c"]' ]] || fail "a's peers after removing b: $(peer_names a)"
call 404 a POST /v1/probes '{"peer":"b","count":10}'
grep -Eq "reload: peer b \(127.0.0.1:${LOCAL_PORT[b]}\) removed: [1-9][0-9]* messages to it failed \(peer_removed\), 2 probes to it stopped" "${LOG[a]}" ||
  fail "a's log does not report b's removal with its ping in flight: $(grep 'reload:' "${LOG[a]}")"
failed=$(counter a 'd["endpoint"]["messages_failed"]')
[[ $failed -gt $failed0 ]] || fail "a's messages_failed $failed0 -> $failed: the ping in flight to b did not fail"
# Nothing is left waiting on b.
buffered_zero() {
  [[ $(api a GET /v1/status) == 200 ]] && [[ $(jv 'd["engine"]["buffered_messages"]') == 0 ]]
}
wait_for 5 "a holds no message after b's removal" buffered_zero
# b's packets to a are now a stranger's: dropped, not answered.
ctl b --json probe a --transport srdx --count 2
[[ $(jv 'd["results"]["srdx"]["count"] == 0' "$WORK/ctl.out") == true ]] ||
  fail "b's probe to a after a removed b was answered: $(cat "$WORK/ctl.out")"
ok "SIGHUP removed b: its probes failed at once with the reason, its ping in flight failed (messages_failed $failed0 -> $failed), a lists c only, b is refused"

# The peer c is unaffected by all this.
ctl_expect 0 a --json probe c --transport srdx --count 50
[[ $(jv 'd["state"] == "done" and d["results"]["srdx"]["count"] == 50' "$WORK/ctl.out") == true ]] ||
  fail "probe to c after b's removal: $(cat "$WORK/ctl.out")"

# ---- re-add b: a new connection ----------------------------------------------------------------
# b still holds its connection to a's earlier incarnation of peer b, unless
# a's close reached it: the re-added peer is a new connection either way
# (new connection ids; b replaces the old one when a's hello proves itself).
node_config a b c -- "${A_ENGINE[@]}"
kill -HUP "${PID[a]}"
wait_for 5 "b listed by a again" peer_listed a b
ctl a --json probe b --transport both --count 20
[[ $(jv 'd["state"] == "done" and d["results"]["srdx"]["count"] == 20 and d["results"]["srdx"]["lost"] == 0 and d["results"]["tcp"]["count"] == 20' "$WORK/ctl.out") == true ]] ||
  fail "a probe to b re-added by a reload: $(cat "$WORK/ctl.out")"
ok "SIGHUP re-added b: a new probe to b answered every ping"

say "all reload checks passed"

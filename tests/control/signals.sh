#!/bin/bash
# srdxd and signals: SIGHUP re-reads the peers from the config file while a
# probe keeps running (a new peer appears and is usable; a broken file keeps
# the old peers); SIGTERM drains and exits 0 within the drain timeout while a
# probe runs.
#   signals.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

node_new a
node_new b
node_new c
# a gives up on a silent peer only after 10 s, so that its drain below has
# messages to wait for.
A_ENGINE=("[engine]" "peer-timeout = 10s" "message-timeout = 10s")
node_config a b -- "${A_ENGINE[@]}"
node_config b a
node_config c a
node_start a
node_start b
node_start c
say "srdxd a on ${CONTROL[a]}, b on ${CONTROL[b]}, c on ${CONTROL[c]}"

# ---- SIGHUP: a new peer while a probe runs -------------------------------------------
call 200 a GET /v1/peers
expect 'sorted(p["name"] for p in d["peers"]) == ["b"]' "a starts with peer b only"
probe=$(probe_start a b srdx 3000 1000)
wait_for 5 "probe $probe under way" probe_past a "$probe" 10
before=$(probe_done_count a "$probe")

node_config a b c -- "${A_ENGINE[@]}"
kill -HUP "${PID[a]}"
wait_for 5 "peer c listed by a after SIGHUP" peer_listed a c
call 200 a GET /v1/peers
expect 'sorted(p["name"] for p in d["peers"]) == ["b", "c"]' "a's peers after SIGHUP"
expect "[p['address'] for p in d['peers'] if p['name'] == 'c'] == ['127.0.0.1:${LOCAL_PORT[c]}']" \
  "c's address"
call 200 a GET /v1/status
expect 'd["state"] == "running" and d["engine"]["peers"] == 2' "status after SIGHUP"

state=$(probe_state a "$probe")
[[ $state == running ]] || fail "probe $probe after SIGHUP: $state, expected still running"
wait_for 5 "probe $probe progressing after SIGHUP" \
  probe_past a "$probe" $((before + 100))
ok "SIGHUP added peer c; the running probe kept going"

# The new peer carries traffic.
ctl_expect 0 a --json probe c --transport both --count 100
[[ $(jv 'd["state"] == "done" and d["results"]["srdx"]["count"] > 0' "$WORK/ctl.out") == true ]] ||
  fail "probe to the new peer c: $(cat "$WORK/ctl.out")"
wait_for 5 "c up at a" peer_up a c
ok "probe to the new peer c"

# A broken config file on SIGHUP: the daemon keeps running with its peers.
node_config a b c -- "${A_ENGINE[@]}"
sed -i 's/^peer = c=.*/peer = c=not-an-address/' "${CONFIG[a]}"
kill -HUP "${PID[a]}"
sleep 0.5
kill -0 "${PID[a]}" 2>/dev/null || fail "srdxd exited on SIGHUP with a broken config file"
call 200 a GET /v1/peers
expect 'sorted(p["name"] for p in d["peers"]) == ["b", "c"]' "peers kept after a broken reload"
node_config a b c -- "${A_ENGINE[@]}"

wait_for 15 "probe $probe finished" probe_over a "$probe"
call 200 a GET "/v1/probes/$probe"
expect 'd["state"] == "done"' "probe through SIGHUPs completed"
expect 'd["progress"]["done"] == d["progress"]["count"] == 3000' "every ping of the probe done"
expect 'd["results"]["srdx"]["lost"] == 0' "no ping lost across SIGHUPs"
ok "a broken reload keeps the old peers; the probe finished with nothing lost"

# ---- SIGTERM: drain while a probe runs -------------------------------------------------
probe=$(probe_start b a both 100000 1000)
wait_for 5 "probe $probe under way" probe_past b "$probe" 10
start=$(date +%s%N)
kill -TERM "${PID[b]}"
rc=0
wait "${PID[b]}" || rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
unset 'PID[b]'
[[ $rc == 0 ]] || fail "srdxd b after SIGTERM: exit $rc, expected 0"
# drain-timeout is 3 s in node_config; allow for a loaded machine.
[[ $elapsed_ms -le 4500 ]] || fail "srdxd b took $elapsed_ms ms to drain (drain-timeout 3 s)"
[[ $(api b GET /v1/status) == 000 ]] || fail "srdxd b's API still answers after exit"
grep -qi drain "${LOG[b]}" || fail "srdxd b's log says nothing about draining"
ok "SIGTERM during a probe: exit 0 after $elapsed_ms ms"

# A drain that has to wait: c is stopped (SIGSTOP), so a's pings to c stay
# unacknowledged until the probe's own ping timeout fails them (a's peer and
# message timeouts are 10 s, so c is not declared down first); while a
# drains its API answers 503 (or state draining), and a exits 0 within the
# drain timeout (3 s).
kill -STOP "${PID[c]}"
probe=$(probe_start a c srdx 100000 1000)
sleep 0.3
start=$(date +%s%N)
kill -TERM "${PID[a]}"
sleep 0.2
code=$(api a GET /v1/status)
if [[ $code == 503 ]]; then
  expect '"error" in d' "503 while draining carries an error"
elif [[ $code == 200 ]]; then
  expect 'd["state"] == "draining"' "status while draining"
else
  fail "GET /v1/status while draining: HTTP $code, expected 503 (or state draining)"
fi
code=$(api a POST /v1/probes '{"peer":"b","count":10}')
[[ $code == 503 ]] || fail "POST /v1/probes while draining: HTTP $code, expected 503"
rc=0
wait "${PID[a]}" || rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
unset 'PID[a]'
kill -CONT "${PID[c]}"
[[ $rc == 0 ]] || fail "srdxd a after SIGTERM with messages in flight: exit $rc, expected 0"
[[ $elapsed_ms -le 4500 ]] || fail "srdxd a took $elapsed_ms ms to drain (drain-timeout 3 s)"
ok "SIGTERM with a stalled peer: 503 while draining, exit 0 after $elapsed_ms ms"

# An idle daemon stops at once.
start=$(date +%s%N)
kill -TERM "${PID[c]}"
rc=0
wait "${PID[c]}" || rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
unset 'PID[c]'
[[ $rc == 0 ]] || fail "idle srdxd c after SIGTERM: exit $rc, expected 0"
[[ $elapsed_ms -le 3500 ]] || fail "idle srdxd c took $elapsed_ms ms to stop"
ok "SIGTERM when idle: exit 0 after $elapsed_ms ms"

say "all signal checks passed"

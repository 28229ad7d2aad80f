#!/bin/bash
# srdxd and signals: SIGHUP re-reads the peers from the config file while a
# probe keeps running (a new peer appears and is usable; a broken file keeps
# the old peers); SIGTERM drains: an echo in flight completes during the
# drain once its stopped peer resumes (503 meanwhile), the drain timeout
# bounds the wait for one that cannot, a running probe is cancelled, and the
# last log line sums up what was in flight and what became of it (exit 0).
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
# c keeps its peers 60 s through a SIGSTOP (the drain checks below).
C_ENGINE=("[engine]" "peer-timeout = 60s" "message-timeout = 60s")
node_config c a -- "${C_ENGINE[@]}"
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
wait_for 10 "srdxd's refusal of the broken reload" grep -q "keeping the current peers" "${LOG[a]}"
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

# ---- SIGTERM: in-flight messages finish during the drain --------------------------------
# drain_summary NAME: the numbers of NAME's last log line ("stopped: drained
# for T ms: N messages in flight at the signal; during the drain C completed,
# F failed; L left; P probes cancelled") as "N C F L P".
drain_summary() {
  local line
  line=$(tail -n 1 "${LOG[$1]}")
  [[ $line =~ stopped:\ drained\ for\ [0-9]+\ ms:\ ([0-9]+)\ messages\ in\ flight\ at\ the\ signal\;\ during\ the\ drain\ ([0-9]+)\ completed,\ ([0-9]+)\ failed\;\ ([0-9]+)\ left\;\ ([0-9]+)\ probes\ cancelled$ ]] ||
    fail "$1's last log line is not the drain summary: $line"
  echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]} ${BASH_REMATCH[4]} ${BASH_REMATCH[5]}"
}

# buffered NAME: messages NAME's endpoint has in flight or undelivered.
buffered() { api "$1" GET /v1/status >/dev/null && jv 'd["engine"]["buffered_messages"]'; }

# stop_with_echo_in_flight PROBER TARGET: SIGSTOPs PROBER (which probes
# TARGET with srdx pings) at a moment when TARGET's echo of a ping is still
# unacknowledged, so that TARGET has a message in flight that can neither
# complete nor fail (TARGET's message and peer timeouts are long) until
# PROBER gets SIGCONT. Retries until it catches one.
stop_with_echo_in_flight() {
  local prober=$1 target=$2 i
  for i in $(seq 200); do
    kill -STOP "${PID[$prober]}"
    [[ $(buffered "$target") -ge 1 ]] && return 0
    kill -CONT "${PID[$prober]}"
    sleep 0.01
  done
  fail "never caught $target with an echo to $prober in flight"
}

# d: a drain that waits for an echo in flight to c and sees it complete
# when c resumes. d's echoes wait 60 s for an acknowledgement; its drain
# timeout is 60 s too.
node_new d
DRAIN_TIMEOUT=60s node_config d c -- "[engine]" "peer-timeout = 60s" "message-timeout = 60s"
node_config c a d -- "${C_ENGINE[@]}"
node_start d
kill -HUP "${PID[c]}"
wait_for 5 "c lists d after SIGHUP" peer_listed c d
probe=$(probe_start c d srdx 1000000 0)
wait_for 10 "c's probe to d under way" probe_past c "$probe" 10
stop_with_echo_in_flight c d
inflight=$(buffered d)
kill -TERM "${PID[d]}"
# d cannot finish its drain while c is stopped: it says it is draining and
# refuses new probes.
draining() { [[ $(api d GET /v1/status) == 503 ]] || [[ $(jv 'd["state"]') == draining ]]; }
wait_for 10 "d reports draining" draining
code=$(api d POST /v1/probes '{"peer":"c","count":10}')
[[ $code == 503 ]] || fail "POST /v1/probes while draining: HTTP $code, expected 503"
expect '"error" in d and "draining" in d["error"]' "503 while draining says why"
kill -0 "${PID[d]}" 2>/dev/null || fail "d exited while its echo to the stopped c was in flight"
kill -CONT "${PID[c]}"
# c stops pinging; d's echo in flight gets its acknowledgement all the same.
api c DELETE "/v1/probes/$probe" >/dev/null
rc=0
wait "${PID[d]}" || rc=$?
unset 'PID[d]'
[[ $rc == 0 ]] || fail "srdxd d after SIGTERM: exit $rc, expected 0"
read -r n completed failed left cancelled <<<"$(drain_summary d)"
[[ $n -ge 1 && $n -ge $inflight ]] || fail "d's summary: $n messages in flight at SIGTERM, expected at least $inflight"
[[ $completed -ge $n ]] || fail "d's summary: $completed completed during the drain, expected the $n in flight"
[[ $failed == 0 && $left == 0 ]] || fail "d's summary: $failed failed, $left left, expected none"
grep -q "drain timeout" "${LOG[d]}" && fail "d hit its drain timeout"
ok "SIGTERM with an echo in flight: draining (503), the echo completed when the peer resumed ($completed completed, 0 left), exit 0"

# The drain timeout bounds the wait: b's echo to a stopped a stays in flight
# past b's drain timeout (1 s; its echoes wait 60 s); b says what it left.
DRAIN_TIMEOUT=1s node_config b a -- "[engine]" "peer-timeout = 60s" "message-timeout = 60s"
kill -TERM "${PID[b]}"
wait "${PID[b]}" || true
unset 'PID[b]'
node_start b
wait_for 10 "a sees b up again" peer_up a b
probe=$(probe_start a b srdx 1000000 0)
wait_for 10 "a's probe to b under way" probe_past a "$probe" 10
stop_with_echo_in_flight a b
kill -TERM "${PID[b]}"
rc=0
wait "${PID[b]}" || rc=$?
unset 'PID[b]'
kill -CONT "${PID[a]}"
[[ $rc == 0 ]] || fail "srdxd b after SIGTERM with a stalled peer: exit $rc, expected 0"
grep -q "drain timeout: [1-9][0-9]* messages still in flight" "${LOG[b]}" ||
  fail "b's log does not say the drain timed out: $(tail -n 3 "${LOG[b]}")"
read -r n completed failed left cancelled <<<"$(drain_summary b)"
[[ $n -ge 1 && $left -ge 1 && $completed == 0 ]] ||
  fail "b's summary: $n in flight, $completed completed, $left left; expected the echo left"
api a DELETE "/v1/probes/$probe" >/dev/null
ok "SIGTERM with a stalled peer: the drain timeout ends the wait, $left left, exit 0"

# A probe running at SIGTERM is cancelled, and an idle daemon stops at once.
probe=$(probe_start a c both 100000 1000)
wait_for 10 "a's probe to c under way" probe_past a "$probe" 10
node_term a "srdxd a (SIGTERM during a probe)"
read -r n completed failed left cancelled <<<"$(drain_summary a)"
[[ $cancelled == 1 && $left == 0 ]] || fail "a's summary: $cancelled probes cancelled, $left left"
grep -q "drain timeout" "${LOG[a]}" && fail "a hit its drain timeout with nothing stalled"
ok "SIGTERM during a probe: the probe cancelled, nothing left, exit 0"

node_term c "idle srdxd c"
read -r n completed failed left cancelled <<<"$(drain_summary c)"
[[ $left == 0 && $cancelled == 0 ]] || fail "idle c's summary: $left left, $cancelled probes cancelled"
ok "SIGTERM when idle: exit 0, nothing left"

say "all signal checks passed"

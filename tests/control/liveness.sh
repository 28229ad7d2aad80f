#!/bin/bash
# srdxd's liveness signals, without systemd: a stand-in NOTIFY_SOCKET
# (sdnotify.py listen) receives what srdxd tells systemd.
#   - READY=1 once the link is up (its UDP port is bound when READY=1 comes),
#     WATCHDOG=1 periodically when WATCHDOG_USEC is set, RELOADING=1 then
#     READY=1 on SIGHUP, STOPPING=1 on SIGTERM;
#   - a hung poll loop (its thread stopped with ptrace, the API still
#     answering): loop.heartbeat_age_s and srdx_poller_heartbeat_age_seconds
#     grow, the snapshot's taken_at stays put, WATCHDOG=1 stops, the log says
#     so; all resume when the loop does;
#   - a drain-timeout longer than the unit's stop timeout
#     ($SRDXD_TIMEOUT_STOP_SEC) is cut to fit, with a warning;
#   - a probe admitted as SIGTERM comes does not hold the drain: it ends
#     cancelled, the log says why, srdxd exits 0 well before its drain
#     timeout (30 s).
#   liveness.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

NOTIFY=$WORK/notify.sock
NLOG=$WORK/notify.log
: >"$NLOG"

node_new a
node_new b
node_config a b
node_config b a
"$PY" "$HERE/sdnotify.py" listen "$NOTIFY" "$NLOG" "${LOCAL_PORT[a]}" &
BACKGROUND+=($!)
wait_for 5 "the notify socket" test -S "$NOTIFY"

# has VAR=VALUE: did srdxd send it? count VAR=VALUE: how many times.
has() { grep -q " $1\$" "$NLOG"; }
count() { grep -c " $1\$" "$NLOG" || true; }
at_least() { [[ $(count "$1") -ge $2 ]]; }
seq_of() { grep " $1\$" "$NLOG" | head -n 1 | cut -d' ' -f1; }
status_is() { [[ $(api a GET /v1/status) == 200 ]] && [[ $(jv "$1") == true ]]; }

NOTIFY_SOCKET=$NOTIFY WATCHDOG_USEC=1000000 node_start a
node_start b
wait_for 10 "READY=1" has READY=1
has LINK_BOUND=1 || fail "READY=1 came before the link's port was bound: $(cat "$NLOG")"
grep -q "STATUS=running: udp" "$NLOG" || fail "no STATUS= with READY=1: $(cat "$NLOG")"
ok "READY=1 after the link is up"

wait_for 10 "three WATCHDOG=1 (every 0.5 s with WATCHDOG_USEC=1 s)" at_least WATCHDOG=1 3
grep -q "systemd watchdog: WATCHDOG=1 every 500.000 ms" "${LOG[a]}" ||
  fail "the log does not say the watchdog interval"
ok "WATCHDOG=1 periodically"

# A running loop: its heartbeat is fresh (it sleeps at most 1 ms between
# iterations; 1 s is the generous bound for a loaded machine).
call 200 a GET /v1/status
expect 'd["loop"]["heartbeat_age_s"] < 1.0' "a running loop's heartbeat is fresh"
expect 'abs(d["snapshot"]["taken_at"] - __import__("time").time()) < 5' "snapshot.taken_at is now"
metrics a
[[ $(mv_of a srdx_poller_heartbeat_age_seconds) != absent ]] || fail "no srdx_poller_heartbeat_age_seconds"
ok "a running loop's heartbeat age is small, the snapshot's time is now"

# ---- a hung poll loop: its thread stopped, the API still answering ---------------------
"$PY" "$HERE/sdnotify.py" freeze "${PID[a]}" srdx-poll "$WORK/release" >"$WORK/freeze.out" 2>&1 &
freezer=$!
BACKGROUND+=("$freezer")
wait_for 5 "the poll thread frozen" grep -q frozen "$WORK/freeze.out"
api a GET /v1/status >/dev/null
taken=$(jv 'd["snapshot"]["taken_at"]')
wait_for 5 "heartbeat age past 2 s while the loop is stopped" \
  status_is 'd["loop"]["heartbeat_age_s"] >= 2.0'
expect "d['loop']['heartbeat_age_s'] >= 2.0" "heartbeat age grows"
expect "d['snapshot']['taken_at'] == $taken and d['snapshot']['age_s'] >= 2.0" \
  "the snapshot stays as old as the loop's last turn"
metrics a
age=$(mv_of a srdx_poller_heartbeat_age_seconds)
"$PY" -c "import sys; sys.exit(0 if float('$age') >= 2.0 else 1)" ||
  fail "srdx_poller_heartbeat_age_seconds $age while the loop is stopped"
# WATCHDOG=1 stops: none in a second once the heartbeat is older than 0.5 s.
wd=$(count WATCHDOG=1)
sleep 1
[[ $(count WATCHDOG=1) == "$wd" ]] || fail "WATCHDOG=1 went on while the poll loop was stopped"
grep -q "poll loop stalled: no iteration for .*WATCHDOG=1 withheld" "${LOG[a]}" ||
  fail "the log does not say the loop stalled"
ok "a stopped loop: heartbeat age ${age} s, the snapshot frozen, WATCHDOG=1 withheld, logged"

touch "$WORK/release"
wait "$freezer" || fail "the freezer failed: $(cat "$WORK/freeze.out")"
wait_for 5 "the heartbeat fresh again" status_is 'd["loop"]["heartbeat_age_s"] < 1.0'
wait_for 5 "WATCHDOG=1 again" at_least WATCHDOG=1 $((wd + 1))
wait_for 5 "the log says the loop resumed" grep -q "poll loop running again" "${LOG[a]}"
ok "the loop resumed: heartbeat fresh, WATCHDOG=1 again"

# ---- SIGHUP and SIGTERM ----------------------------------------------------------------
kill -HUP "${PID[a]}"
wait_for 5 "RELOADING=1" has RELOADING=1
wait_for 5 "READY=1 after RELOADING=1" at_least READY=1 2
[[ $(grep ' READY=1$' "$NLOG" | tail -n 1 | cut -d' ' -f1) -gt $(seq_of RELOADING=1) ]] ||
  fail "READY=1 does not follow RELOADING=1: $(cat "$NLOG")"
ok "SIGHUP: RELOADING=1, then READY=1"

node_term a "srdxd a"
has STOPPING=1 || fail "no STOPPING=1 on SIGTERM: $(cat "$NLOG")"
grep -q "STATUS=SIGTERM: draining" "$NLOG" || fail "no STATUS= with STOPPING=1"
ok "SIGTERM: STOPPING=1, exit 0"

# ---- the drain timeout and the unit's stop timeout -------------------------------------
DRAIN_TIMEOUT=60s node_config a b
SRDXD_TIMEOUT_STOP_SEC=10 node_start a
grep -q "daemon.drain-timeout (60.000 s) is longer than the unit's stop timeout allows (SRDXD_TIMEOUT_STOP_SEC=10 s, TimeoutStopSec=): draining for at most 9.000 s" "${LOG[a]}" ||
  fail "no warning for a drain-timeout past the stop timeout: $(grep -i drain "${LOG[a]}")"
kill -TERM "${PID[a]}"
wait "${PID[a]}" || fail "srdxd a: exit $?"
unset 'PID[a]'
grep -q "SIGTERM: draining (at most 9.000 s)" "${LOG[a]}" || fail "the drain was not cut to 9 s"
: >"${LOG[a]}"
DRAIN_TIMEOUT=5s node_config a b
SRDXD_TIMEOUT_STOP_SEC=30 node_start a
grep -q "longer than the unit's stop timeout" "${LOG[a]}" && fail "a warning for a drain that fits"
ok "drain-timeout cut to the unit's stop timeout less 1 s, with a warning; none when it fits"
kill -TERM "${PID[a]}"
wait "${PID[a]}" || fail "srdxd a: exit $?"
unset 'PID[a]'

# ---- a probe racing SIGTERM --------------------------------------------------------------
# A long probe (a million pings, ~10 minutes) posted and SIGTERM sent at
# once, a few times: whichever wins, srdxd exits 0 without waiting out its
# 30 s drain timeout, and a probe it admitted ends cancelled, saying why.
DRAIN_TIMEOUT=30s node_config a b
admitted=0
round=0
for delay in 0.02 0.08 0.3; do
  round=$((round + 1))
  : >"${LOG[a]}"
  node_start a
  api a POST /v1/probes '{"peer":"b","transport":"both","size":64,"count":1000000,"interval_us":500}' \
    >"$WORK/post.code" &
  poster=$!
  sleep "$delay"
  kill -TERM "${PID[a]}"
  rc=0
  wait "${PID[a]}" || rc=$?
  unset 'PID[a]'
  wait "$poster" || true
  [[ $rc == 0 ]] || fail "round $round: srdxd after SIGTERM with a probe: exit $rc"
  grep -q "drain timeout" "${LOG[a]}" && fail "round $round: the probe held the drain to its timeout"
  ms=$(sed -n 's/.*stopped: drained for \([0-9]*\) ms.*/\1/p' "${LOG[a]}")
  [[ -n $ms && $ms -lt 30000 ]] || fail "round $round: no drain summary under 30 s: $(tail -n 2 "${LOG[a]}")"
  if grep -q "probe [0-9]*: both to b" "${LOG[a]}"; then
    grep -q "probe [0-9]* to b cancelled: srdxd is stopping (SIGTERM)" "${LOG[a]}" ||
      fail "round $round: an admitted probe did not end cancelled with its reason: $(tail -n 5 "${LOG[a]}")"
    admitted=$((admitted + 1))
    say "round $round: the probe was admitted, then cancelled (drained in $ms ms)"
  else
    say "round $round: the probe was not admitted (HTTP $(cat "$WORK/post.code")) (drained in $ms ms)"
  fi
done
# 0.3 s is ample for curl to post it.
[[ $admitted -ge 1 ]] || fail "no round admitted its probe before SIGTERM"
ok "a probe racing SIGTERM never holds the drain; an admitted one ends cancelled with its reason"

say "all liveness checks passed"

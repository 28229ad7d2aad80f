#!/bin/bash
# srdxctl and long probes: `probe --detach` prints an id, `probes` lists it,
# `probes ID` shows it, `cancel ID` stops it on the daemon (state cancelled,
# partial results kept and printed); SIGTERM and SIGHUP to a waiting
# `srdxctl probe` cancel the probe like Ctrl-C and exit 128+signal; an
# unknown or missing probe id gets exit 1 or 2 and a message saying so.
#   ctl_cancel.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

node_new a
node_new b
node_config a b
node_config b a
node_start a
node_start b
say "srdxd a on ${CONTROL[a]}, b on ${CONTROL[b]}"

OUT=$WORK/ctl.out
ERR=$WORK/ctl.err
show() { echo "stdout: $(cat "$OUT")"$'\n'"stderr: $(cat "$ERR")"; }
# both_measured NAME ID: has the probe results over srdx and over TCP? (It
# alternates batches of round trips between the transports, srdx first.)
both_measured() {
  [[ $(api "$1" GET "/v1/probes/$2") == 200 ]] &&
    [[ $(jv 'all(d.get("results", {}).get(t, {}).get("count", 0) > 0 for t in ("srdx", "tcp"))') \
      == true ]]
}
running_probe() {
  api a GET /v1/probes >/dev/null &&
    [[ $(jv "[p['id'] for p in d['probes'] if p['state'] == 'running'] != []") == true ]]
}
# One probe at a time on a, so "no probe running" means this one stopped.
no_probe_running() {
  api a GET /v1/probes >/dev/null &&
    [[ $(jv "not any(p['state'] == 'running' for p in d['probes'])") == true ]]
}

# ---- probe --detach, probes, probes ID ----------------------------------------------------
# 100000 round trips 1 ms apart: far longer than this test.
ctl_expect 0 a probe b --count 100000 --interval-us 1000 --detach
id=$(cat "$OUT")
[[ $id =~ ^[1-9][0-9]*$ ]] || fail "probe --detach printed '$id', expected only the probe id ($(show))"
[[ $(probe_state a "$id") == running ]] || fail "probe $id after --detach: not running"
wait_for 20 "probe $id measuring over srdx and tcp" both_measured a "$id"

ctl_expect 0 a probes
grep -Eq "^$id +b +both +running +[0-9]+/100000 " "$OUT" ||
  fail "srdxctl probes: no running probe $id row ($(show))"
ctl_expect 0 a probes "$id"
grep -Eq "^probe $id to b: 100000 x 64 B round trips 1000 us apart, both, running \([0-9]+/100000 done\)$" \
  "$OUT" || fail "srdxctl probes $id: heading ($(show))"
grep -Eq '^p50 +[0-9.]+ (us|ms) +[0-9.]+ (us|ms) ' "$OUT" ||
  fail "srdxctl probes $id: no p50 row for both transports so far ($(show))"
ctl_expect 0 a --json probes "$id"
[[ $(jv "d['id'] == '$id' and d['state'] == 'running'" "$OUT") == true ]] ||
  fail "srdxctl --json probes $id ($(show))"
[[ $(jv 'd["lease_s"] == 0' "$OUT") == true ]] || fail "a detached probe has a lease ($(show))"
ok "probe --detach printed id $id; probes and probes $id show it running"

# ---- (a) cancel ID ----------------------------------------------------------------------------
ctl_expect 0 a cancel "$id"
grep -Eq "^probe $id to b: 100000 x 64 B round trips 1000 us apart, both, cancelled after [0-9]+/100000$" \
  "$OUT" || fail "srdxctl cancel $id: heading ($(show))"
grep -Eq '^p99 +[0-9.]+ (us|ms) +[0-9.]+ (us|ms) +[0-9.]+x$' "$OUT" ||
  fail "srdxctl cancel $id: no p99 row with both transports and a ratio ($(show))"
[[ -s $ERR ]] && fail "srdxctl cancel $id of a running probe wrote to stderr ($(show))"
call 200 a GET "/v1/probes/$id"
expect 'd["state"] == "cancelled"' "probe $id after srdxctl cancel"
expect '0 < d["progress"]["done"] < d["progress"]["count"]' "probe $id stopped part way"
expect 'd["results"]["srdx"]["count"] > 0 and d["results"]["tcp"]["count"] > 0' \
  "probe $id keeps its partial results"
no_probe_running || fail "a probe is still running after srdxctl cancel $id"
ok "srdxctl cancel $id: cancelled on the daemon, partial results printed and kept"

# Cancelling it again changes nothing and says so; --json is the probe's JSON.
ctl_expect 0 a --json cancel "$id"
grep -q "probe $id was already cancelled; nothing to cancel" "$ERR" ||
  fail "second srdxctl cancel $id ($(show))"
[[ $(jv "d['id'] == '$id' and d['state'] == 'cancelled' and d['results']['srdx']['count'] > 0" \
  "$OUT") == true ]] || fail "srdxctl --json cancel $id ($(show))"
# A probe that ran to its end stays done.
ctl_expect 0 a --json probe b --count 20
done_id=$(jv 'd["id"]' "$OUT")
ctl_expect 0 a cancel "$done_id"
grep -q "probe $done_id had already finished (done); nothing to cancel" "$ERR" || fail "cancel of a done probe ($(show))"
grep -q "both, done$" "$OUT" || fail "cancel of a done probe: heading ($(show))"
[[ $(probe_state a "$done_id") == "done" ]] || fail "cancel turned done probe $done_id into another state"
ok "cancel of a finished probe: exit 0, 'already finished', state unchanged"

# --detach --json: the daemon's reply.
ctl_expect 0 a --json probe b --transport srdx --count 100000 --interval-us 1000 --detach
id=$(jv 'd["id"]' "$OUT")
[[ $(jv 'd["state"]' "$OUT") == running ]] || fail "probe --detach --json ($(show))"
ctl_expect 0 a --json cancel "$id"
[[ $(jv 'd["state"] == "cancelled" and "tcp" not in d.get("results", {})' "$OUT") == true ]] ||
  fail "srdxctl --json cancel of an srdx probe ($(show))"
ok "probe --detach --json and cancel --json"

# ---- (b) SIGTERM and SIGHUP to a waiting srdxctl probe ------------------------------------------
# signal_probe SIGNAL TIMES EXIT [SRDXCTL_ARGS...]: starts `srdxctl probe b`
# in the background, waits until its probe has measured something, sends
# SIGNAL TIMES times back to back and expects exit EXIT with the probe
# cancelled on the daemon.
signal_probe() {
  local sig=$1 times=$2 want=$3
  shift 3
  "$SRDXCTL" --api "${CONTROL[a]}" --token-file "${TOKEN_FILE[a]}" "$@" \
    probe b --count 100000 --interval-us 1000 >"$OUT" 2>"$ERR" &
  local pid=$!
  BACKGROUND+=("$pid")
  wait_for 10 "srdxctl's probe running" running_probe
  SIG_ID=$(jv "[p['id'] for p in d['probes'] if p['state'] == 'running'][0]")
  wait_for 20 "probe $SIG_ID measuring over srdx and tcp" both_measured a "$SIG_ID"
  local i
  for ((i = 0; i < times; i++)); do kill -s "$sig" "$pid"; done
  local rc=0
  wait "$pid" || rc=$?
  [[ $rc == "$want" ]] || fail "srdxctl probe after $sig: exit $rc, expected $want ($(show))"
  grep -Eq "^srdxctl: $sig: probe $SIG_ID cancelled after [0-9]+/100000$" "$ERR" ||
    fail "srdxctl probe after $sig: message ($(show))"
  call 200 a GET "/v1/probes/$SIG_ID"
  expect 'd["state"] == "cancelled"' "probe $SIG_ID after $sig to srdxctl"
  expect 'd["results"]["srdx"]["count"] > 0 and d["results"]["tcp"]["count"] > 0' \
    "probe $SIG_ID keeps its partial results"
  no_probe_running || fail "a probe is still running after $sig to srdxctl"
}

# Twice, as timeout(1) does (to srdxctl, then to its process group): the
# second is the same request, not a reason to die before cancelling. (Two
# signals sent back to back may merge into one; the timeout(1) check below
# is the case as users meet it.)
signal_probe SIGTERM 2 143
grep -Eq "^probe $SIG_ID to b: .*, both, cancelled after [0-9]+/100000$" "$OUT" ||
  fail "srdxctl probe after SIGTERM: heading ($(show))"
grep -Eq '^p50 +[0-9.]+ (us|ms) +[0-9.]+ (us|ms) ' "$OUT" ||
  fail "srdxctl probe after SIGTERM: partial results ($(show))"
ok "SIGTERM twice to srdxctl probe: probe $SIG_ID cancelled, partial results printed, exit 143"

signal_probe SIGHUP 1 129 --json
[[ $(jv "d['id'] == '$SIG_ID' and d['state'] == 'cancelled' and d['results']['tcp']['count'] > 0" \
  "$OUT") == true ]] || fail "srdxctl --json probe after SIGHUP: stdout ($(show))"
ok "SIGHUP to srdxctl --json probe: probe $SIG_ID cancelled, its JSON printed, exit 129"

# The issue's case: timeout(1) ends srdxctl with SIGTERM (--preserve-status:
# timeout exits with srdxctl's status instead of 124).
before=$(api a GET /v1/probes >/dev/null && jv 'len(d["probes"])')
rc=0
timeout --preserve-status -s TERM 2 "$SRDXCTL" --api "${CONTROL[a]}" \
  --token-file "${TOKEN_FILE[a]}" probe b --count 100000 --interval-us 1000 >"$OUT" 2>"$ERR" ||
  rc=$?
[[ $rc == 143 ]] || fail "timeout -s TERM srdxctl probe: exit $rc, expected 143 ($(show))"
call 200 a GET /v1/probes
expect "len(d['probes']) == $before + 1" "timeout's srdxctl started one probe"
expect 'd["probes"][-1]["state"] == "cancelled"' "the probe after timeout -s TERM srdxctl"
no_probe_running || fail "a probe is still running after timeout -s TERM srdxctl probe"
ok "timeout -s TERM srdxctl probe: the daemon's probe is cancelled, exit 143"

# A daemon that does not answer: srdxctl waits for it after the first SIGTERM
# (its cancel request is under way); a second one a second later ends it at
# once, by the signal, without a word about cancelling.
"$SRDXCTL" --api "${CONTROL[a]}" --token-file "${TOKEN_FILE[a]}" \
  probe b --count 100000 --interval-us 1000 >"$OUT" 2>"$ERR" &
pid=$!
BACKGROUND+=("$pid")
wait_for 10 "srdxctl's probe running" running_probe
stuck_id=$(jv "[p['id'] for p in d['probes'] if p['state'] == 'running'][0]")
kill -STOP "${PID[a]}"
kill -TERM "$pid"
sleep 3 # well past srdxctl's one second, however late it saw the first
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
kill -CONT "${PID[a]}"
[[ $rc == 143 ]] || fail "srdxctl probe, daemon stopped, SIGTERM twice 3 s apart: exit $rc, expected 143 ($(show))"
grep -q cancelled "$ERR" && fail "srdxctl claims a cancel the stopped daemon never saw ($(show))"
[[ $(probe_state a "$stuck_id") == running ]] || fail "probe $stuck_id: not running after srdxctl gave up"
ctl_expect 0 a cancel "$stuck_id"
no_probe_running || fail "probe $stuck_id still running after srdxctl cancel"
ok "a second SIGTERM a second later ends srdxctl at once while the daemon does not answer"

# ---- (c) unknown, missing and empty probe ids ------------------------------------------------------
for args in "cancel 999999" "probes 999999" "--json cancel abc"; do
  # shellcheck disable=SC2086 # word splitting wanted
  ctl_expect 1 a $args
  want=${args##* }
  grep -q "srdxd: unknown probe '$want' (404, " "$ERR" || fail "srdxctl $args: message ($(show))"
  grep -q "srdxctl probes lists the probes srdxd knows" "$ERR" || fail "srdxctl $args: hint ($(show))"
  [[ -s $OUT ]] && fail "srdxctl $args printed to stdout ($(show))"
done
ctl_expect 2 a cancel
grep -q "cancel needs one probe ID" "$ERR" || fail "srdxctl cancel without an id ($(show))"
ctl_expect 2 a cancel 1 2
ctl_expect 2 a cancel ""
grep -q "the probe ID is empty" "$ERR" || fail "srdxctl cancel '' ($(show))"
ctl_expect 2 a probes 1 2
ctl_expect 2 a probes --detach
ok "unknown probe id: exit 1 with the daemon's message and a hint; bad arguments: exit 2"

"$SRDXCTL" --help >"$OUT"
for text in "cancel ID" "probes \[ID\]" "--detach" "143 SIGTERM" "129 SIGHUP" "Examples:"; do
  grep -q -- "$text" "$OUT" || fail "srdxctl --help does not mention '$text'"
done
ok "srdxctl --help documents cancel, probes ID, --detach and the signal exit statuses"

# ---- the cap on count x interval, and the lease ------------------------------------------------
call 400 a POST /v1/probes '{"peer":"b","count":1000000,"interval_us":1000000}'
expect '"count x interval_us" in d["error"] and "the limit is 3600 s per probe" in d["error"]' \
  "400 naming the count x interval limit"
ctl_expect 1 a probe b --count 3601 --interval-us 1000000 --detach
grep -q "the limit is 3600 s per probe" "$ERR" || fail "srdxctl probe past the cap ($(show))"
ok "count x interval_us past 3600 s: 400 naming the limit (srdxctl exit 1)"

# A probe nobody reads (no GET /v1/probes/ID; the list does not renew) ends
# when its lease runs out, and says why.
code=$(api a POST /v1/probes '{"peer":"b","transport":"both","count":100000,"interval_us":1000,"lease_s":1}')
[[ $code == 202 ]] || fail "POST a probe with lease_s 1: HTTP $code ($(cat "$BODY"))"
leased=$(jv 'd["id"]')
listed_over() {
  api a GET /v1/probes >/dev/null &&
    [[ $(jv "[p['state'] for p in d['probes'] if p['id'] == '$leased'] != ['running']") == true ]]
}
wait_for 30 "probe $leased ended by its lease" listed_over
call 200 a GET "/v1/probes/$leased"
expect 'd["state"] == "cancelled" and "lease expired: not read for 1 s" in d["reason"]' \
  "a probe whose lease ran out is cancelled and says why"
ctl_expect 0 a probes "$leased"
grep -Eq "^probe $leased to b: .*, cancelled after [0-9]+/100000: lease expired: not read for 1 s" "$OUT" ||
  fail "srdxctl probes $leased does not say the lease ended it ($(show))"
# One that is read (as srdxctl probe does every 100 ms) runs to its end.
code=$(api a POST /v1/probes '{"peer":"b","transport":"srdx","count":3000,"interval_us":2000,"lease_s":5}')
[[ $code == 202 ]] || fail "POST a probe with lease_s 5: HTTP $code ($(cat "$BODY"))"
read_one=$(jv 'd["id"]')
wait_for 120 "probe $read_one over" probe_over a "$read_one"
call 200 a GET "/v1/probes/$read_one"
# (Every ping settled, answered or lost: a loaded machine may lose a ping to
# its 1 s deadline; what is checked is that the lease did not end the probe.)
expect 'd["state"] == "done" and "reason" not in d and d["results"]["srdx"]["count"] + d["results"]["srdx"]["lost"] == 3000' \
  "a probe read every 100 ms outlives its 5 s lease"
ok "the lease: a probe not read for lease_s ends (reason says so); one that is read runs on"

say "all srdxctl cancel checks passed"

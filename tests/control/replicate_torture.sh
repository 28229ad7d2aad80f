#!/usr/bin/env bash
# The replication torture test (issue 14): a writer appends to a journal and
# creates files continuously in a's tree, which a continuous durable job
# replicates to b. Barriers acknowledge writes: a write logged before a
# barrier that succeeded is acknowledged as durable at DR. The source and
# the DR daemons are killed with SIGKILL at random moments (one, the other,
# or both) and restarted; after each resume every acknowledged write must be
# present and intact at DR (torture.py check). At the end, with the writer
# stopped: one last barrier, the trees equal (diff -r), verify clean, and
# both audit logs intact.
#
#   replicate_torture.sh SRDXD SRDXCTL          # SRDX_TORTURE_CYCLES cycles (default 20)
#   SRDX_TORTURE_CYCLES=1000 replicate_torture.sh build/control/srdxd build/apps/ctl/srdxctl
source "$(dirname "$0")/lib.sh" "$@"

CYCLES=${SRDX_TORTURE_CYCLES:-20}
TORTURE=$HERE/torture.py
for tool in diff; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

node_new a
node_new b
mkdir -p "$WORK/src" "$WORK/b/dr"
node_config a -- "[peers]" "peer = $(peer_spec b)"
node_config b -- "dr-root = $WORK/b/dr" "[peers]" "peer = $(peer_spec a)"
node_start a
node_start b
DR=$WORK/b/dr/torture
LOGW=$WORK/writes.jsonl
: >"$LOGW"

"$PY" "$TORTURE" write "$WORK/src" "$LOGW" &
WRITER=$!
BACKGROUND+=("$WRITER")
ctl_expect 0 a replicate start torture --source "$WORK/src" --peer b --mode durable

# barrier: asks a for a barrier; on success, the writes logged before the
# ask are acknowledged (ACKED).
ACKED=0
BARRIERS_OK=0
BARRIERS_FAILED=0
barrier() {
  local before
  before=$(wc -l <"$LOGW")
  local t0=$SECONDS
  if [[ $(api a POST /v1/replications/torture/barrier "{}" --max-time 40) == 200 ]] &&
    [[ $(jv 'd["ok"]') == True || $(jv 'd["ok"]') == true ]]; then
    ACKED=$before
    BARRIERS_OK=$((BARRIERS_OK + 1))
    return 0
  fi
  BARRIERS_FAILED=$((BARRIERS_FAILED + 1))
  if ((SECONDS - t0 >= 10)); then
    echo "  a barrier failed after $((SECONDS - t0)) s: $(head -c 300 "$BODY" 2>/dev/null)"
    api a GET /v1/replications/torture >/dev/null
    echo "  the job then: $(head -c 600 "$BODY" 2>/dev/null)"
  fi
  return 1
}

# restart NAME: starts NAME again (after a kill -9).
restart() {
  wait "${PID[$1]}" 2>/dev/null || true
  node_start "$1"
}

check() {
  "$PY" "$TORTURE" check "$LOGW" "$DR" "$ACKED" >"$WORK/check.out" ||
    fail "cycle $1: $(cat "$WORK/check.out")"
}

say "$CYCLES cycles of kill -9"
for ((cycle = 1; cycle <= CYCLES; cycle++)); do
  cycle_start=$SECONDS failed_before=$BARRIERS_FAILED
  # Some replication, and a barrier that may or may not make it.
  sleep "0.$((RANDOM % 8 + 2))"
  barrier || true
  victims=(a b "a b")
  victim=${victims[$((RANDOM % 3))]}
  # The kill lands at a random moment: sometimes mid-barrier.
  (sleep "0.0$((RANDOM % 9))" && for v in $victim; do kill -KILL "${PID[$v]}" 2>/dev/null; done) &
  barrier || true
  wait $! 2>/dev/null || true
  for v in $victim; do restart "$v"; done
  check "$cycle"
  # After the resume: a barrier must get through again (within its 30 s).
  until barrier; do
    [[ $BARRIERS_FAILED -lt $((cycle * 10 + 10)) ]] || fail "cycle $cycle: barriers keep failing"
    sleep 0.5
  done
  check "$cycle"
  echo "cycle $cycle: killed $victim; $ACKED writes acknowledged, all at DR" \
    "($((SECONDS - cycle_start)) s, $((BARRIERS_FAILED - failed_before)) barriers failed)"
done

kill -TERM "$WRITER"
wait "$WRITER" 2>/dev/null || true
barrier || { sleep 1; barrier; } || fail "the last barrier failed"
check final
diff -r --exclude=.srdx "$WORK/src" "$DR" >"$WORK/diff.out" ||
  fail "the trees differ after the last barrier: $(head -20 "$WORK/diff.out")"
ctl_expect 0 a replicate verify "$DR"
ctl_expect 0 a replicate audit "$WORK/a/state/audit.jsonl" --verify
ctl_expect 0 a replicate audit "$WORK/b/state/audit.jsonl" --verify
call 200 a GET /v1/replications/torture
say "resent $(jv 'd["progress"]["chunks_resent"]') chunks of $(jv 'd["progress"]["chunks_sent"]')"
ok "$CYCLES kill -9 cycles: $(wc -l <"$LOGW") writes, $ACKED acknowledged by $BARRIERS_OK barriers ($BARRIERS_FAILED failed while a daemon was down), every acknowledged write at DR after each resume; trees equal, verify and audits clean"

#!/usr/bin/env bash
# DR replication jobs in srdxd (issue 14): two appliances on loopback over the
# srdx engine with encryption on, a (source) and b (DR site with
# replication.dr-root), driven through /v1/replications and srdxctl replicate.
#
# First what needs no data to move: bad requests (clear 400s), a peer
# outside replication.allowed-regions refused (403, logged, audited, counted),
# jobs listed, stopped, persisted in jobs.json and resumed by a restart,
# metrics, srdxctl's usage errors, audit --verify and a tampered line. Then
# the transfer itself: a synthetic EHR tree (scripts/ehr-dataset) replicated
# and caught up, diff -r equal at DR, a barrier, verify (and a flipped byte
# found), restore equal, audit logs on both sides intact, and kill -9 of the
# source daemon mid-transfer then a restart that resumes and completes.
# SRDX_REPLICATE_NO_DATA=1 stops before the transfer part.
#
#   replicate.sh SRDXD SRDXCTL
source "$(dirname "$0")/lib.sh" "$@"

DATASET=$HERE/../../scripts/ehr-dataset
for tool in diff cmp; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

# audit_has EVENT JOB TEXT: does the JSON-lines audit in $WORK/ctl.out hold
# an EVENT record of JOB whose detail contains TEXT?
audit_has() {
  "$PY" - "$WORK/ctl.out" "$@" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if any(r["event"] == sys.argv[2] and r["job"] == sys.argv[3] and
                  sys.argv[4] in r.get("detail", "") for r in recs) else 1)
PYEOF
}

# ---- two appliances, and a third peer in a region a does not allow ---------------
node_new a
node_new b
node_new c # never started: a's job to it is refused before anything is sent
mkdir -p "$WORK/b/dr"
node_config a -- "site = paris-1" "region = eu-west-3" "allowed-regions = eu-west-3,eu-central-1" \
  "[peers]" "peer = $(peer_spec b),site=paris-2,region=eu-west-3" \
  "peer = $(peer_spec c),site=virginia,region=us-east-1"
node_config b -- "dr-root = $WORK/b/dr" "region = eu-west-3" \
  "[peers]" "peer = $(peer_spec a),region=eu-west-3"
node_start a
node_start b
ctl_expect 0 a probe b --transport srdx --count 3 # connects a and b
wait_for 10 "a sees b up" peer_up a b
AUDIT_A=$WORK/a/state/audit.jsonl
AUDIT_B=$WORK/b/state/audit.jsonl
[[ -f $AUDIT_A && -f $AUDIT_B ]] || fail "the audit logs were not created at start"
[[ $(stat -c %a "$WORK/a/state") == 700 ]] || fail "state-dir is not 0700"
call 200 a GET /v1/status
expect 'd["replication"]["accepts_replicas"] == False and d["replication"]["region"] == "eu-west-3"' \
  "a's status"
call 200 b GET /v1/status
expect "d['replication']['accepts_replicas'] and d['replication']['dr_root'] == '$WORK/b/dr'" \
  "b's status"
ok "two appliances: a (source, regions eu-west-3,eu-central-1), b (DR at $WORK/b/dr)"

# ---- bad requests -----------------------------------------------------------------
mkdir -p "$WORK/src"
echo "not a directory" >"$WORK/afile"
bad() { # bad STATUS WHAT BODY PATTERN
  call "$1" a POST /v1/replications "$3"
  grep -q -- "$4" "$BODY" || fail "$2: no '$4' in $(cat "$BODY")"
}
bad 400 "missing source" "{\"name\":\"x\",\"source\":\"$WORK/nope\",\"peer\":\"b\"}" \
  "No such file or directory"
bad 400 "source is a file" "{\"name\":\"x\",\"source\":\"$WORK/afile\",\"peer\":\"b\"}" \
  "is not a directory"
bad 400 "relative source" '{"name":"x","source":"rel/dir","peer":"b"}' "is not an absolute path"
bad 400 "unknown peer" "{\"name\":\"x\",\"source\":\"$WORK/src\",\"peer\":\"zz\"}" \
  "unknown peer 'zz'"
bad 400 "bad mode" "{\"name\":\"x\",\"source\":\"$WORK/src\",\"peer\":\"b\",\"mode\":\"fast\"}" \
  "is not a mode"
bad 400 "bad name" "{\"name\":\"../x\",\"source\":\"$WORK/src\",\"peer\":\"b\"}" \
  "is not a job name"
bad 400 "no peer" "{\"name\":\"x\",\"source\":\"$WORK/src\"}" "peer: required"
bad 400 "bad chunk size" \
  "{\"name\":\"x\",\"source\":\"$WORK/src\",\"peer\":\"b\",\"chunk_size\":1000}" "chunk_size"
bad 400 "unknown field" "{\"name\":\"x\",\"source\":\"$WORK/src\",\"peer\":\"b\",\"dst\":1}" \
  "unknown field"
call 404 a GET /v1/replications/nope
call 404 a DELETE /v1/replications/nope
call 405 a PUT /v1/replications '{}'
call 200 a GET /v1/replications
expect 'd["replications"] == []' "no job was created by a bad request"
ctl_expect 1 a replicate start x --source "$WORK/src" --peer zz
grep -q "unknown peer 'zz'" "$WORK/ctl.err" || fail "srdxctl: $(cat "$WORK/ctl.err")"
ctl_expect 1 a replicate start x --source "$WORK/nope" --peer b
grep -q "No such file or directory" "$WORK/ctl.err" || fail "srdxctl: $(cat "$WORK/ctl.err")"
ctl_expect 2 a replicate start x --peer b
grep -q -- "--source DIR is required" "$WORK/ctl.err" || fail "srdxctl: $(cat "$WORK/ctl.err")"
ctl_expect 2 a replicate start x --source "$WORK/src" --peer b --chunk-size big
ctl_expect 2 a replicate frobnicate
ctl_expect 2 a replicate
ctl_expect 1 a replicate status nope
ctl_expect 0 a replicate --help
grep -q "replicate restore DR_DIR TARGET" "$WORK/ctl.out" || fail "replicate --help"
grep -q "Examples:" "$WORK/ctl.out" || fail "replicate --help has no examples"
ok "bad requests: clear 400s (missing, relative or file source, unknown peer, bad mode, name, fields), 404s; srdxctl exit 1/2"

# ---- a peer outside the allowed regions ------------------------------------------
call 403 a POST /v1/replications "{\"name\":\"far\",\"source\":\"$WORK/src\",\"peer\":\"c\"}"
grep -q "region 'us-east-1', not in replication.allowed-regions (eu-west-3, eu-central-1)" "$BODY" ||
  fail "403 without the reason: $(cat "$BODY")"
grep -q "replication job far refused: peer 'c' is in region 'us-east-1'" "${LOG[a]}" ||
  fail "the refusal is not logged"
ctl_expect 0 a --json replicate audit "$AUDIT_A"
"$PY" - "$WORK/ctl.out" "${PUBKEY[c]}" <<'PYEOF' || fail "no 'refused' audit record for job far"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [x for x in recs if x["event"] == "refused" and x["job"] == "far"]
assert r and r[0]["peer"] == "c key=" + sys.argv[2] and "us-east-1" in r[0]["detail"], recs
PYEOF
metric_at_least a 1 srdx_replication_refused_total || fail "srdx_replication_refused_total"
ctl_expect 1 a replicate start far --source "$WORK/src" --peer c
grep -q "us-east-1" "$WORK/ctl.err" || fail "srdxctl: $(cat "$WORK/ctl.err")"
ok "peer c (us-east-1) refused: 403, logged, audited with its key, counted"

# ---- jobs listed, stopped, persisted, resumed ------------------------------------
echo "hello" >"$WORK/src/one.txt"
ctl_expect 0 a replicate start keep --source "$WORK/src" --peer b --once --mode received
grep -q "replication job [0-9]* (keep) started" "$WORK/ctl.out" || fail "start: $(cat "$WORK/ctl.out")"
call 200 a GET /v1/replications/keep
KEEP_ID=$(jv 'd["id"]')
expect 'd["mode"] == "received" and d["continuous"] == False and d["state"] != "stopped"' "job keep"
expect '"eta_s" in d["progress"] and "lag_seconds" in d["progress"]' "job keep's progress"
call 200 a GET "/v1/replications/$KEEP_ID"
expect 'd["name"] == "keep"' "job by id"
ctl_expect 0 a replicate stop keep
grep -q "stopped" "$WORK/ctl.out" || fail "stop: $(cat "$WORK/ctl.out")"
call 200 a GET /v1/replications/keep
expect 'd["state"] == "stopped"' "a stopped job stays listed"
call 200 a DELETE "/v1/replications/$KEEP_ID"
expect 'd["stopped"] == False' "stopping twice"
call 409 a POST "/v1/replications/keep/barrier" "{}"
ctl_expect 0 a replicate start held --source "$WORK/src" --peer b
call 400 a POST /v1/replications "{\"name\":\"held\",\"source\":\"$WORK/src\",\"peer\":\"b\"}"
grep -q "a job named 'held' is running" "$BODY" || fail "duplicate name: $(cat "$BODY")"
ctl_expect 0 a replicate status
grep -Eq "^$KEEP_ID +keep +b +received +stopped " "$WORK/ctl.out" ||
  fail "status table: $(cat "$WORK/ctl.out")"
grep -Eq " held +b +durable " "$WORK/ctl.out" || fail "status table: $(cat "$WORK/ctl.out")"
ctl_expect 0 a --json replicate status held
[[ $(jv 'd["name"] == "held"' "$WORK/ctl.out") == true ]] || fail "status --json"
metrics a
[[ $(mv_of a srdx_replication_lag_seconds job=held) != absent ]] || fail "no lag metric for held"
[[ $(mv_of a srdx_replication_job_state job=keep state=stopped) == 1 ]] || fail "job state metric"
grep -q '"name": "held"' "$WORK/a/state/jobs.json" || fail "jobs.json does not hold job held"
# A restart keeps the jobs: keep stays stopped, held runs again.
kill -TERM "${PID[a]}"
wait "${PID[a]}" 2>/dev/null || true
node_start a
call 200 a GET /v1/replications/keep
expect "d['state'] == 'stopped' and d['id'] == '$KEEP_ID'" "keep after a restart"
call 200 a GET /v1/replications/held
expect 'd["state"] != "stopped"' "held after a restart"
grep -q "replication: 1 jobs resumed" "${LOG[a]}" || fail "no 'jobs resumed' line"
ctl_expect 0 a --json replicate audit "$AUDIT_A"
audit_has job_stopped keep "stopped by the API" || fail "no job_stopped record for keep"
audit_has job_started held "resumed after a restart" || fail "no resumed job_started record"
ctl_expect 0 a replicate stop held
ok "jobs: listed by name and id, stopped (kept, 409 barrier), duplicate running name refused, persisted and resumed across a restart, audited"

# ---- audit logs: verify, and a tampered line -------------------------------------
ctl_expect 0 a replicate audit "$AUDIT_A" --verify
grep -q "hash chain intact" "$WORK/ctl.out" || fail "audit --verify: $(cat "$WORK/ctl.out")"
ctl_expect 0 b replicate audit "$AUDIT_B" --verify
ctl_expect 0 a replicate audit "$AUDIT_A"
grep -q " refused " "$WORK/ctl.out" || fail "audit table: $(cat "$WORK/ctl.out")"
cp "$AUDIT_A" "$WORK/tampered.jsonl"
sed -i '2s/"job":"\([a-z]*\)"/"job":"\1x"/' "$WORK/tampered.jsonl"
cmp -s "$AUDIT_A" "$WORK/tampered.jsonl" && fail "the tampering did not change the copy"
ctl_expect 1 a replicate audit "$WORK/tampered.jsonl" --verify
grep -q "line 2" "$WORK/ctl.err" || fail "audit --verify does not name line 2: $(cat "$WORK/ctl.err")"
ok "audit logs verified on both sides; an edited line is found (line 2)"

# ---- local tools on what is not a DR store ---------------------------------------
ctl_expect 1 a replicate verify "$WORK/nope"
ctl_expect 2 a replicate restore "$WORK/b/dr" "$WORK/r" --version 2
grep -q -- "--version needs --path" "$WORK/ctl.err" || fail "restore --version without --path"
ctl_expect 2 a replicate restore "$WORK/b/dr" "$WORK/r" --at yesterday
grep -q -- "--at: 'yesterday' is not a time" "$WORK/ctl.err" || fail "restore --at"
ok "verify and restore: usage errors"

# ---- start errors: a broken jobs.json, an audit log that cannot be opened ------
node_new d
node_config d
mkdir -p "$WORK/d/state"
echo '{"jobs": [' >"$WORK/d/state/jobs.json"
start_error() { # start_error PATTERN: srdxd d exits 1 at start, logging PATTERN
  local rc=0
  timeout 10 "$SRDXD" --config "${CONFIG[d]}" >"$WORK/d/start.out" 2>&1 || rc=$?
  [[ $rc == 1 ]] || fail "srdxd d: exit $rc, expected 1: $(cat "$WORK/d/start.out")"
  grep -q -- "$1" "$WORK/d/start.out" || fail "srdxd d: no '$1' in $(cat "$WORK/d/start.out")"
}
start_error "cannot start: $WORK/d/state/jobs.json: not valid JSON"
rm "$WORK/d/state/jobs.json"
node_config d -- "audit-log = $WORK/afile/audit.jsonl"
start_error "cannot start: --replication.audit-log: $WORK/afile/audit.jsonl"
ok "start errors: a broken jobs.json, an audit log that cannot be opened (exit 1, one line)"

if [[ ${SRDX_REPLICATE_NO_DATA:-0} == 1 ]]; then
  say "SRDX_REPLICATE_NO_DATA=1: the transfer checks are skipped"
  exit 0
fi

# ---- the transfer (needs workloads/replicate/session.cc) -------------------------
say "transfer checks: they need the replication protocol (session.cc)"
"$DATASET" "$WORK/ehr" --size 3M --seed 1 --quiet >"$WORK/dataset.log" 2>&1 ||
  { cat "$WORK/dataset.log"; echo "SKIP: scripts/ehr-dataset cannot run here"; exit 77; }
ctl_expect 0 a replicate start ehr --source "$WORK/ehr" --peer b
caught_up() {
  [[ $(api a GET /v1/replications/ehr) == 200 ]] || return 1
  [[ $(jv 'd["state"]') != failed ]] || fail "job ehr failed: $(jv 'd["error"]')"
  [[ $(jv 'd["caught_up"] and d["progress"]["files_total"] > 0') == true ]]
}
wait_for 60 "job ehr caught up" caught_up
timeout 30 "$SRDXCTL" --api "${CONTROL[a]}" --token-file "${TOKEN_FILE[a]}" \
  replicate status ehr --watch >"$WORK/watch.out" 2>"$WORK/watch.err" || fail "status --watch"
grep -q "ehr: watching" "$WORK/watch.err" || fail "no progress line: $(cat "$WORK/watch.err")"
diff -r --exclude=.srdx "$WORK/ehr" "$WORK/b/dr/ehr" >"$WORK/diff.out" ||
  fail "DR copy differs: $(head -20 "$WORK/diff.out")"
ok "ehr (3M) replicated: diff -r equal at DR"
ctl_expect 0 a --json replicate barrier ehr
[[ $(jv 'd["ok"] == True and d["seconds"] >= 0' "$WORK/ctl.out") == true ]] ||
  fail "barrier: $(cat "$WORK/ctl.out")"
metrics a
[[ $(mv_of a srdx_replication_committed_bytes_total job=ehr) != 0 ]] || fail "no committed bytes"
metric_at_least b 1 srdx_replication_sink_commits_total || fail "b counts no commits"
ok "barrier ok in $(jv 'd["seconds"]' "$WORK/ctl.out") s; metrics on both sides"

ctl_expect 0 b replicate verify "$WORK/b/dr/ehr"
ctl_expect 0 b replicate restore "$WORK/b/dr/ehr" "$WORK/restored"
grep -q "equals the manifest's" "$WORK/ctl.out" || fail "restore: no proof lines"
diff -r "$WORK/ehr" "$WORK/restored" >"$WORK/diff.out" || fail "restore differs: $(head "$WORK/diff.out")"
ok "verify ok at DR; restore equal to the source, one proof line per file"
VICTIM=$(cd "$WORK/b/dr/ehr" && find . -path ./.srdx -prune -o -type f -size +1k -print | sort | awk "NR == 1")
VICTIM=${VICTIM#./}
[[ -n $VICTIM ]] || fail "no file at DR to damage"
"$PY" - "$WORK/b/dr/ehr/$VICTIM" <<'PYEOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(100)
    b = f.read(1)
    f.seek(100)
    f.write(bytes([b[0] ^ 1]))
PYEOF
ctl_expect 1 b replicate verify "$WORK/b/dr/ehr"
grep -q "$VICTIM" "$WORK/ctl.out" || fail "verify does not name $VICTIM: $(cat "$WORK/ctl.out")"
ok "a flipped byte in $VICTIM is found by verify (exit 1)"
ctl_expect 0 a replicate audit "$AUDIT_A" --verify
ctl_expect 0 b replicate audit "$AUDIT_B" --verify
ctl_expect 0 b --json replicate audit "$AUDIT_B"
[[ $(grep -c '"event"' "$WORK/ctl.out") -gt 1 ]] || fail "b's audit log records nothing"
ok "audit logs intact on both sides after the transfer"
ctl_expect 0 a replicate stop ehr

# kill -9 of the source daemon mid-transfer, then a restart resumes the job.
"$DATASET" "$WORK/big" --size 40M --seed 2 --quiet >"$WORK/dataset.log" 2>&1 ||
  fail "ehr-dataset 40M: $(cat "$WORK/dataset.log")"
ctl_expect 0 a replicate start big --source "$WORK/big" --peer b --once
started_moving() {
  [[ $(api a GET /v1/replications/big) == 200 ]] && [[ $(jv 'd["progress"]["bytes_done"] > 0') == true ]]
}
wait_for 60 "job big moving" started_moving
[[ $(jv 'd["state"]') != "done" ]] || say "warning: job big finished before the kill"
kill -KILL "${PID[a]}"
wait "${PID[a]}" 2>/dev/null || true
node_start a
wait_for 120 "job big done after the restart" job_state_is a big done
diff -r --exclude=.srdx "$WORK/big" "$WORK/b/dr/big" >"$WORK/diff.out" ||
  fail "DR copy of big differs: $(head -20 "$WORK/diff.out")"
ctl_expect 0 b replicate verify "$WORK/b/dr/big"
ok "kill -9 of a mid-transfer (40M): the job resumed from jobs.json and completed, diff equal"
say "all replication checks passed"

# shellcheck shell=bash
# Shared by the control suite's scripts: real srdxd processes on loopback
# (udp link), each in its own temp dir with its own ports, a 0600 token file
# and a fresh key pair (srdxctl genkey / pubkey; the private key 0600), torn
# down by an EXIT trap whatever happens. Peers are named with their public
# keys (key=), so encryption is on as in production.
#
#   source lib.sh SRDXD SRDXCTL
#   node_new a; node_new b
#   node_config a b; node_config b a     # a names b as its peer, b names a
#   node_start a; node_start b
#   api a GET /v1/status; expect_status 200
#   jv 'd["state"]'                      # a value of the last reply
set -euo pipefail

SRDXD=${1:?usage: $0 SRDXD SRDXCTL}
SRDXCTL=${2:?usage: $0 SRDXD SRDXCTL}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
# Skipped (77), not failed, on a machine without the tools.
for tool in curl "$PY" timeout od; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/srdx-control.XXXXXX")
# The daemons run through a link with another name, so that a `pkill srdxd`
# (or pkill -f) from a developer's shell or another suite does not hit them.
ln -s "$(realpath "$SRDXD")" "$WORK/ctltest-daemon"
SRDXD=$WORK/ctltest-daemon
BODY=$WORK/body        # the last reply's body
STATUS=0               # the last reply's HTTP status

declare -A PID IP LOCAL_PORT CONTROL ECHO_PORT TOKEN_FILE CONFIG LOG KEY_FILE PUBKEY
declare -a BACKGROUND=()   # other processes a test starts (srdxctl, ...)

cleanup() {
  local rc=$?
  local pid
  for pid in "${PID[@]}" "${BACKGROUND[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PID[@]}" "${BACKGROUND[@]}"; do
    for _ in $(seq 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ $rc -ne 0 ]]; then
    local f
    for f in "$WORK"/*/daemon.log; do
      [[ -f $f ]] || continue
      echo "---- $f (last 30 lines)" >&2
      tail -n 30 "$f" >&2
    done
  fi
  # SRDX_TEST_KEEP=1: the work folder (logs, trees) stays for a post-mortem.
  if [[ -n ${SRDX_TEST_KEEP:-} ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "== $*"; }
ok() { echo "ok: $*"; }
fail() {
  echo "FAIL: $*" >&2
  if [[ -s $BODY ]]; then
    echo "last reply ($STATUS): $(head -c 2000 "$BODY")" >&2
  fi
  exit 1
}

# node_new NAME [IP]: ports (link.local, 8 entropy ports, control, tcp echo),
# a token file only the owner can read and a key pair (KEY_FILE: the private
# key, 0600; PUBKEY: its public key, base64). IP (default 127.0.0.1; any of
# 127.0.0.0/8 works on loopback) is the node's srdx and TCP echo address, so
# that a node can be a host that another node does not list as its peer; the
# control API stays on 127.0.0.1.
node_new() {
  local n=$1 base
  base=$("$PY" "$HERE/ctltest.py" ports 11 $$)
  mkdir -p "$WORK/$n"
  IP[$n]=${2:-127.0.0.1}
  LOCAL_PORT[$n]=$base
  CONTROL[$n]=127.0.0.1:$((base + 9))
  ECHO_PORT[$n]=$((base + 10))
  TOKEN_FILE[$n]=$WORK/$n/token
  CONFIG[$n]=$WORK/$n/node.conf
  LOG[$n]=$WORK/$n/daemon.log
  (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"${TOKEN_FILE[$n]}")
  node_newkey "$n"
}

# node_newkey NAME: a fresh key pair for NAME (a restart or reload uses it).
node_newkey() {
  local n=$1
  KEY_FILE[$n]=$WORK/$n/private.key
  (umask 077 && "$SRDXCTL" genkey >"${KEY_FILE[$n]}") || fail "srdxctl genkey failed"
  PUBKEY[$n]=$("$SRDXCTL" pubkey <"${KEY_FILE[$n]}") || fail "srdxctl pubkey failed"
  [[ ${#PUBKEY[$n]} == 44 ]] || fail "srdxctl pubkey printed '${PUBKEY[$n]}', expected 44 characters"
}

# peer_spec NAME: how another node names NAME in [peers] (with its key).
peer_spec() { echo "$1=${IP[$1]}:${LOCAL_PORT[$1]},tcp=${ECHO_PORT[$1]},key=${PUBKEY[$1]}"; }

# node_config NAME [PEER...] [-- EXTRA_INI_LINES]: writes NAME's config file
# (daemon.drain-timeout: $DRAIN_TIMEOUT, default 3s; replication.state-dir:
# $WORK/NAME/state, so the job state and audit log stay in the temp dir).
# The extra lines follow the [replication] section.
node_config() {
  local n=$1 p
  shift
  local peers=() extra=()
  while [[ $# -gt 0 && $1 != -- ]]; do peers+=("$1"); shift; done
  [[ $# -gt 0 ]] && shift
  extra=("$@")
  {
    echo "# srdxd config of node $n (control suite)"
    echo "[link]"
    echo "kind = udp"
    echo "local = ${IP[$n]}:${LOCAL_PORT[$n]}"
    echo "entropy-ports = $((LOCAL_PORT[$n] + 1)):8"
    echo "[keys]"
    echo "private-key-file = ${KEY_FILE[$n]}"
    echo "[peers]"
    for p in "${peers[@]}"; do echo "peer = $(peer_spec "$p")"; done
    echo "[control]"
    echo "listen = ${CONTROL[$n]}"
    echo "token-file = ${TOKEN_FILE[$n]}"
    echo "[services]"
    echo "tcp-echo = ${IP[$n]}:${ECHO_PORT[$n]}"
    echo "[log]"
    echo "level = info"
    echo "[daemon]"
    echo "drain-timeout = ${DRAIN_TIMEOUT:-3s}"
    echo "[replication]"
    echo "state-dir = $WORK/$n/state"
    for p in "${extra[@]}"; do echo "$p"; done
  } >"${CONFIG[$n]}"
}

# node_start NAME: starts srdxd and waits until its API answers.
node_start() {
  local n=$1
  "$SRDXD" --config "${CONFIG[$n]}" >>"${LOG[$n]}" 2>&1 &
  PID[$n]=$!
  local i
  for i in $(seq 200); do
    if ! kill -0 "${PID[$n]}" 2>/dev/null; then
      cat "${LOG[$n]}" >&2
      fail "srdxd $n exited during start-up"
    fi
    if [[ $(api "$n" GET /v1/status) == 200 ]]; then
      return 0
    fi
    sleep 0.05
    [[ $i -eq 200 ]] && fail "srdxd $n's API did not answer within 10 s"
  done
}

# api NAME METHOD PATH [BODY] [CURL_ARGS...]: one request with NAME's token.
# Prints the status (also left in STATUS); the body is in $BODY.
api() {
  local n=$1 method=$2 path=$3
  local body=${4-}
  shift 3
  [[ $# -gt 0 ]] && shift
  local args=(-sS -o "$BODY" -w '%{http_code}' --max-time 10 -X "$method"
    -H "Authorization: Bearer $(cat "${TOKEN_FILE[$n]}")")
  if [[ -n $body ]]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$body")
  fi
  STATUS=$(curl "${args[@]}" "$@" "http://${CONTROL[$n]}$path" 2>/dev/null) || STATUS=000
  echo "$STATUS"
}

# api_noauth NAME METHOD PATH [CURL_ARGS...]: the same without the token.
api_noauth() {
  local n=$1 method=$2 path=$3
  shift 3
  STATUS=$(curl -sS -o "$BODY" -w '%{http_code}' --max-time 10 -X "$method" "$@" \
    "http://${CONTROL[$n]}$path" 2>/dev/null) || STATUS=000
  echo "$STATUS"
}

# jv EXPR [FILE]: a value of the JSON in FILE (default: the last reply).
jv() { "$PY" "$HERE/ctltest.py" json "${2:-$BODY}" "$1"; }

# expect CONDITION_EXPR WHAT: fails unless EXPR is true of the last reply.
expect() {
  local v
  v=$(jv "$1" 2>&1) || fail "$2: cannot evaluate $1 on the reply: $v"
  [[ $v == true ]] || fail "$2: expected $1"
}

# call NAME METHOD PATH [BODY] -> expects STATUS $EXPECTED_STATUS.
call() {
  local want=$1
  shift
  local got
  got=$(api "$@")
  STATUS=$got
  [[ $got == "$want" ]] || fail "$2 $3: HTTP $got, expected $want"
}

# ctl NAME ARGS...: srdxctl against NAME's daemon; output in $WORK/ctl.out
# (stdout) and $WORK/ctl.err; returns srdxctl's exit status in CTL_RC.
CTL_RC=0
ctl() {
  local n=$1
  shift
  CTL_RC=0
  "$SRDXCTL" --api "${CONTROL[$n]}" --token-file "${TOKEN_FILE[$n]}" "$@" \
    >"$WORK/ctl.out" 2>"$WORK/ctl.err" || CTL_RC=$?
}

ctl_expect() {
  local want=$1
  shift
  ctl "$@"
  if [[ $CTL_RC -ne $want ]]; then
    echo "stdout:" >&2
    cat "$WORK/ctl.out" >&2
    echo "stderr:" >&2
    cat "$WORK/ctl.err" >&2
    fail "srdxctl $*: exit $CTL_RC, expected $want"
  fi
}

# wait_for SECONDS WHAT COMMAND...: retries COMMAND every 0.1 s.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    [[ $SECONDS -lt $deadline ]] || fail "$what: not within $secs s"
    sleep 0.1
  done
}

# Is NAME's peer PEER up?
peer_up() {
  [[ $(api "$1" GET /v1/peers) == 200 ]] &&
    [[ $(jv "any(p['name'] == '$2' and p['up'] for p in d['peers'])") == true ]]
}

# Does NAME list PEER at all?
peer_listed() {
  [[ $(api "$1" GET /v1/peers) == 200 ]] &&
    [[ $(jv "any(p['name'] == '$2' for p in d['peers'])") == true ]]
}

# probe_start NAME PEER TRANSPORT COUNT INTERVAL_US -> prints the probe id.
probe_start() {
  local code
  code=$(api "$1" POST /v1/probes \
    "{\"peer\":\"$2\",\"transport\":\"$3\",\"size\":64,\"count\":$4,\"interval_us\":$5}")
  [[ $code == 202 ]] || fail "POST /v1/probes: HTTP $code, expected 202"
  jv 'd["id"]'
}

probe_state() {
  api "$1" GET "/v1/probes/$2" >/dev/null
  jv 'd["state"]'
}

probe_done_count() {
  api "$1" GET "/v1/probes/$2" >/dev/null
  jv 'd["progress"]["done"]'
}

# probe_past NAME ID N: has the probe done more than N pings?
probe_past() { [[ $(probe_done_count "$1" "$2") -gt $3 ]]; }

# probe_over NAME ID: is the probe no longer running?
probe_over() { [[ $(probe_state "$1" "$2") != running ]]; }

# metrics NAME: fetches NAME's /metrics into $WORK/NAME.metrics.
metrics() {
  [[ $(api "$1" GET /metrics) == 200 ]] || fail "GET /metrics on $1: HTTP $STATUS"
  cp "$BODY" "$WORK/$1.metrics"
}

# mv_of NAME METRIC [LABEL=VALUE]...: the value of one sample in NAME's last
# fetched /metrics ("absent" if there is none).
mv_of() {
  local n=$1
  shift
  "$PY" "$HERE/ctltest.py" metric "$WORK/$n.metrics" "$@"
}

# counter NAME EXPR: EXPR (Python, over the reply d) of NAME's /v1/counters.
counter() {
  [[ $(api "$1" GET /v1/counters) == 200 ]] || fail "GET /v1/counters on $1: HTTP $STATUS"
  jv "$2"
}

# refused_probe FROM TO AT REASON: FROM's srdx probe to TO (3 pings) gets no
# answer, and AT counts more drops for REASON, in /v1/counters and in
# srdx_drops_total. REFUSED holds AT's count afterwards.
refused_probe() {
  local from=$1 to=$2 at=$3 reason=$4 before
  local expr="d[\"endpoint\"][\"drops\"][\"$reason\"]"
  before=$(counter "$at" "$expr")
  ctl "$from" --json probe "$to" --transport srdx --count 3
  [[ $(jv 'd["results"]["srdx"]["count"] == 0' "$WORK/ctl.out") == true ]] ||
    fail "$from's srdx probe to $to was answered: $(cat "$WORK/ctl.out")"
  REFUSED=$(counter "$at" "$expr")
  [[ $REFUSED -gt $before ]] || fail "$at did not count $from's packets as $reason ($before -> $REFUSED)"
  metric_at_least "$at" 1 srdx_drops_total "reason=$reason" ||
    fail "srdx_drops_total{reason=$reason} on $at"
}

# metric_at_least NAME MIN METRIC [LABEL=VALUE]...: fetches NAME's /metrics;
# is the sample there with a value of at least MIN?
metric_at_least() {
  local n=$1 min=$2 v
  shift 2
  metrics "$n"
  v=$(mv_of "$n" "$@")
  [[ $v != absent ]] && "$PY" -c "import sys; sys.exit(0 if float('$v') >= $min else 1)"
}

# prom_lint FILE: `promtool check metrics` (Debian prometheus) finds nothing
# to say about the exposition in FILE (names, units, suffixes, HELP, the
# text format); prom_check.py checks what it does not (histogram buckets
# cumulative, +Inf equal to _count, no repeated sample, required families).
prom_lint() {
  command -v promtool >/dev/null ||
    fail "promtool is not installed (package prometheus; scripts/bootstrap installs it)"
  local out rc=0
  out=$(promtool check metrics <"$1" 2>&1) || rc=$?
  [[ $rc == 0 && -z $out ]] || fail "promtool check metrics on $1 (exit $rc): $out"
}

# job_state_is NODE JOB STATE: the replication job JOB on NODE is in STATE
# (for wait_for); a failed job fails the test with its error.
job_state_is() {
  [[ $(api "$1" GET "/v1/replications/$2") == 200 ]] || return 1
  [[ $(jv 'd["state"]') != failed ]] || fail "job $2 failed: $(jv 'd["error"]')"
  [[ $(jv 'd["state"]') == "$3" ]]
}

# dpdk_node_start NAME [WHAT]: node_start for a daemon on the dpdk link: a
# dataplane DPDK cannot start on this machine is a skip (exit 77), any other
# exit during start-up a failure (WHAT says what it means).
dpdk_node_start() {
  local n=$1 what=${2:-srdxd exited during start-up} i
  "$SRDXD" --config "${CONFIG[$n]}" >>"${LOG[$n]}" 2>&1 &
  PID[$n]=$!
  for i in $(seq 300); do
    if ! kill -0 "${PID[$n]}" 2>/dev/null; then
      if grep -q "cannot start the dataplane" "${LOG[$n]}"; then
        echo "SKIP: DPDK could not start here:"
        grep -v '^$' "${LOG[$n]}" | tail -n 5
        exit 77
      fi
      cat "${LOG[$n]}" >&2
      fail "$what"
    fi
    [[ $(api "$n" GET /v1/status) == 200 ]] && return 0
    sleep 0.05
  done
  fail "srdxd's API did not answer within 15 s"
}

# node_term NAME WHAT: SIGTERM to NAME's srdxd, which must exit 0 (WHAT names
# it in the failure); its log is left for the drain summary.
node_term() {
  local n=$1 what=$2 rc=0
  kill -TERM "${PID[$n]}"
  wait "${PID[$n]}" || rc=$?
  unset "PID[$n]"
  [[ $rc == 0 ]] || fail "$what after SIGTERM: exit $rc, expected 0"
}

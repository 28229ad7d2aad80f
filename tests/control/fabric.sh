#!/usr/bin/env bash
# srdxd over the libfabric carrier (carrier.kind = fabric): two daemons on
# loopback probe each other through the provider, as they do over the engine.
#  - udp;ofi_rxd: peers named by IP:PORT; status says which carrier and
#    provider; srdx and tcp probes answer every ping; /metrics is valid
#    Prometheus text and names the carrier; a SIGHUP that removes the peer
#    stops its probes, and one that adds it back makes it answer again.
#  - shm: endpoints name themselves; each daemon learns the other's name from
#    its status (carrier.name) and is given it with fabric-name= by a SIGHUP.
#  - config mistakes: fabric with encryption on, a bad fabric-name, fabric-name
#    with the engine, an unknown carrier: each one clear line, exit 2.
#  - replication over the fabric (udp;ofi_rxd): refused without encryption
#    (403, and a DR site's config is an error) unless
#    replication.allow-unencrypted = on; with it, a tree arrives equal.
# Usage: fabric.sh SRDXD SRDXCTL
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh" "$@"

# fabric_config NAME PROVIDER [PEER_LINE...]: NAME's config, fabric carrier,
# encryption off (the fabric carrier has none), peers as given.
fabric_config() {
  local n=$1 provider=$2
  shift 2
  # FABRIC_REPLICATION: lines for the [replication] section.
  local extra=("${FABRIC_REPLICATION[@]}" "[carrier]" "kind = fabric" "provider = $provider"
    "[endpoint]" "encryption = off" "[peers]")
  local p
  for p in "$@"; do extra+=("peer = $p"); done
  node_config "$n" -- "${extra[@]}"
  # node_config names the node's key pair: unused here (no encryption).
  sed -i '/^private-key-file/d' "${CONFIG[$n]}"
}

# probe_all NAME PEER TRANSPORT COUNT: a probe whose every ping is answered.
probe_all() {
  local n=$1 peer=$2 transport=$3 count=$4 t
  ctl_expect 0 "$n" --json probe "$peer" --transport "$transport" --count "$count" --size 64
  local P=$WORK/ctl.out
  [[ $(jv 'd["state"]' "$P") == done ]] || fail "probe $n -> $peer: $(cat "$P")"
  for t in ${transport/both/srdx tcp}; do
    [[ $(jv "d['results']['$t']['count'] == $count" "$P") == true ]] ||
      fail "probe $n -> $peer over $t: not every ping answered: $(cat "$P")"
  done
  say "probe $n -> $peer ($transport): srdx p50 $(jv 'd["results"]["srdx"]["p50_us"]' "$P") us"
}

# ---- config mistakes ------------------------------------------------------------------
node_new x
check() {
  local want=$1
  shift
  local rc=0
  "$SRDXD" --check-config --config "${CONFIG[x]}" "$@" >"$WORK/check.out" 2>&1 || rc=$?
  [[ $rc == 2 ]] || fail "srdxd --check-config $*: exit $rc, expected 2: $(cat "$WORK/check.out")"
  grep -q -- "$want" "$WORK/check.out" ||
    fail "srdxd --check-config $*: no '$want' in: $(cat "$WORK/check.out")"
  [[ $(wc -l <"$WORK/check.out") -le 2 ]] || fail "more than a line: $(cat "$WORK/check.out")"
}
node_config x
check "fabric does not encrypt" --carrier.kind fabric
check "not a carrier" --carrier.kind tcp
check "only with carrier.kind = fabric" --carrier.provider shm
fabric_config x shm "y=127.0.0.1:9,fabric-name=abc"
check "not an endpoint name"
node_config x -- "[endpoint]" "encryption = off" "[peers]" "peer = y=127.0.0.1:9,fabric-name=abcd"
sed -i '/^private-key-file/d' "${CONFIG[x]}"
check "fabric-name= only with carrier.kind = fabric"
ok "config mistakes: one clear line each, exit 2"

# ---- udp;ofi_rxd: peers by IP:PORT ----------------------------------------------------
node_new a
node_new b
spec() { echo "$1=${IP[$1]}:${LOCAL_PORT[$1]},tcp=${ECHO_PORT[$1]}"; }
fabric_config a "udp;ofi_rxd" "$(spec b)"
fabric_config b "udp;ofi_rxd" "$(spec a)"
node_start a
node_start b
call 200 a GET /v1/status
expect 'd["carrier"]["kind"] == "fabric" and d["carrier"]["provider"] == "udp;ofi_rxd"' \
  "status names the carrier"
expect 'len(d["carrier"]["name"]) > 0 and "ofi_rxd" in d["carrier"]["detail"]' \
  "status gives the endpoint's name and what was opened"
expect 'd["encryption"] == False and d["link"]["kind"] == "fabric"' "status: no encryption"
probe_all a b both 200
probe_all b a srdx 100
wait_for 5 "a sees b up" peer_up a b
call 200 a GET /metrics
cp "$BODY" "$WORK/metrics.txt"
prom_lint "$WORK/metrics.txt"
"$PY" "$HERE/prom_check.py" "$WORK/metrics.txt" \
  --require-sample '^srdx_info\{.*carrier="fabric".*\} 1$' \
  --require-sample '^srdx_peer_up\{peer="b"\} 1$' \
  --require-sample '^srdx_probe_rtt_seconds_count\{peer="b",transport="srdx",source="probe"\} ' \
  --require-sample '^srdx_messages_completed_total [1-9][0-9]*$' \
  --require-sample '^srdx_encryption_enabled 0$' ||
  fail "/metrics over the fabric carrier (saved above)"
call 200 b GET /v1/counters
expect 'd["link"]["backend"]["fabric_segments_received"] > 0' "b counts the provider's segments"
expect 'd["link"]["backend"]["fabric_provider_errors"] == 0' "no provider errors"
ok "udp;ofi_rxd: status, probes over srdx and tcp answered in full, metrics"

# A reload that removes b: it is no longer listed and a probe to it is refused;
# one that adds it back: it answers again.
fabric_config a "udp;ofi_rxd"
kill -HUP "${PID[a]}"
peer_gone() { ! peer_listed "$1" "$2"; }
wait_for 5 "a forgets b" peer_gone a b
ctl_expect 1 a probe b --transport srdx --count 5
grep -qi "b" "$WORK/ctl.err" || fail "probe to a removed peer: $(cat "$WORK/ctl.err")"
fabric_config a "udp;ofi_rxd" "$(spec b)"
kill -HUP "${PID[a]}"
wait_for 5 "a lists b again" peer_listed a b
probe_all a b srdx 100
ok "udp;ofi_rxd: SIGHUP removes the peer and adds it back"

# ---- replication over the fabric carrier (udp;ofi_rxd) ------------------------------
# Health records need encrypted connections: a job is refused over a carrier
# without them, and so is a DR site, unless the operator says the network
# below encrypts (EFA between Nitro instances).
mkdir -p "$WORK/tree/sub" "$WORK/b/dr"
head -c 3000000 /dev/urandom >"$WORK/tree/big.dcm"
for i in $(seq 20); do head -c $((i * 997)) /dev/urandom >"$WORK/tree/sub/m$i.hl7"; done
call 403 a POST /v1/replications "{\"name\":\"ehr\",\"source\":\"$WORK/tree\",\"peer\":\"b\"}"
grep -q "needs encrypted, authenticated connections" "$BODY" || fail "403 without the reason: $(cat "$BODY")"
FABRIC_REPLICATION=("dr-root = $WORK/b/dr")
fabric_config x "udp;ofi_rxd"
rc=0
"$SRDXD" --check-config --config "${CONFIG[x]}" >"$WORK/check.out" 2>&1 || rc=$?
[[ $rc == 2 ]] && grep -q "replication.allow-unencrypted = on" "$WORK/check.out" ||
  fail "an unencrypted DR site was accepted (exit $rc): $(cat "$WORK/check.out")"
ok "replication over an unencrypted carrier: a job is refused (403), a DR site is a config error"

FABRIC_REPLICATION=("allow-unencrypted = on")
fabric_config a "udp;ofi_rxd" "$(spec b)"
FABRIC_REPLICATION=("allow-unencrypted = on" "dr-root = $WORK/b/dr")
fabric_config b "udp;ofi_rxd" "$(spec a)"
FABRIC_REPLICATION=()
for n in a b; do
  kill -TERM "${PID[$n]}"
  wait "${PID[$n]}" 2>/dev/null || true
  node_start "$n"
done
ctl_expect 0 a replicate start ehr --source "$WORK/tree" --peer b --once
wait_for 60 "job ehr done over the fabric" job_state_is a ehr done
diff -r --exclude=.srdx "$WORK/tree" "$WORK/b/dr/ehr" >"$WORK/diff.out" ||
  fail "DR copy over the fabric differs: $(head -20 "$WORK/diff.out")"
ok "replication over the fabric carrier (allow-unencrypted = on): 21 files equal at DR"

# ---- shm: endpoints name themselves ---------------------------------------------------
node_new c
node_new d
fabric_config c shm
fabric_config d shm
node_start c
node_start d
call 200 c GET /v1/status
name_c=$(jv 'd["carrier"]["name"]')
call 200 d GET /v1/status
name_d=$(jv 'd["carrier"]["name"]')
[[ -n $name_c && -n $name_d && $name_c != "$name_d" ]] || fail "shm names: '$name_c' '$name_d'"
fabric_config c shm "$(spec d),fabric-name=$name_d"
fabric_config d shm "$(spec c),fabric-name=$name_c"
kill -HUP "${PID[c]}" "${PID[d]}"
wait_for 5 "c lists d" peer_listed c d
wait_for 5 "d lists c" peer_listed d c
probe_all c d both 200
probe_all d c srdx 100
call 200 c GET /v1/counters
expect 'd["link"]["backend"]["fabric_provider_errors"] == 0' "no provider errors over shm"
ok "shm: names from the status, given with fabric-name=, probes answered in full"

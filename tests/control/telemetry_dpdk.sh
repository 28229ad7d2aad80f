#!/bin/bash
# srdxd on the dpdk link answers the /srdx/* DPDK telemetry commands with the
# same counters as its HTTP API: one daemon on net_null (--no-huge, no NIC),
# a probe to an unreachable peer so that counters move, then
# telemetry_check.py reads /srdx/counters, /srdx/link, /srdx/peers and
# /srdx/paths with dpdk-telemetry.py (if installed) and straight from the
# telemetry socket, and compares them with /v1/counters, /v1/peers and
# /v1/peers/b/paths.
#   telemetry_dpdk.sh SRDXD SRDXCTL    (srdxctl makes the key pairs)
# Skipped (77) when not root or when DPDK cannot start here. EAL's runtime
# directory (--file-prefix of its own, under RUNTIME_DIRECTORY) lives in the
# test's temp dir and goes with it.
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: DPDK (EAL on net_null with --no-huge) needs root; run the test as root"
  exit 77
fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh" "${1:?usage: $0 SRDXD SRDXCTL}" "${2:?usage: $0 SRDXD SRDXCTL}"

PATHS=96 # more than one telemetry reply holds (about 70)
PREFIX=srdx-telemetry-test-$$
export RUNTIME_DIRECTORY=$WORK/run
mkdir -p "$RUNTIME_DIRECTORY"
SOCK=$RUNTIME_DIRECTORY/dpdk/$PREFIX/dpdk_telemetry.v2
if [[ ${#SOCK} -gt 107 ]]; then
  echo "SKIP: the telemetry socket path $SOCK is too long for a unix socket (set a shorter TMPDIR)"
  exit 77
fi

node_new a
# b and c-1 are never there: keys of their own, never used.
node_new b
node_new c-1
cat >"${CONFIG[a]}" <<EOF
# srdxd on the dpdk link (control suite, telemetry)
[link]
kind = dpdk
# no-rx: net_null would hand the poller zeroed frames as fast as it can poll.
device = net_null0,no-rx=1
eal = --no-huge -m 256 --no-pci --file-prefix $PREFIX --log-level=lib.eal:warning
local = 198.18.1.2:${LOCAL_PORT[a]}
entropy-ports = 49152:8
# b's frames go out to net_null at once (no ARP); c-1 is never sent to.
neighbour = 198.18.1.3=02:00:00:00:00:02
[engine]
paths = $PATHS
[keys]
private-key-file = ${KEY_FILE[a]}
[peers]
peer = b=198.18.1.3:47000,key=${PUBKEY[b]}
# A name telemetry cannot carry as a key ('-').
peer = c-1=198.18.1.4:47000,key=${PUBKEY[c-1]}
[control]
listen = ${CONTROL[a]}
token-file = ${TOKEN_FILE[a]}
[services]
tcp-echo = 127.0.0.1:${ECHO_PORT[a]}
[log]
level = info
[daemon]
drain-timeout = 1s
[replication]
state-dir = $WORK/a/state
EOF

dpdk_node_start a
expect 'd["link"]["kind"] == "dpdk"' "status link kind"
grep -q "dpdk telemetry: .* registered" "${LOG[a]}" ||
  wait_for 5 "the telemetry commands registered" grep -q "dpdk telemetry: .* registered" "${LOG[a]}"
say "srdxd on net_null, API on ${CONTROL[a]}, telemetry $SOCK"

# Counters that move: a probe to b (never answered: handshakes, data and
# retransmissions go out to net_null), a 401 and a 404.
ID=$(probe_start a b srdx 3 1000)
wait_for 30 "the probe to b ends" probe_over a "$ID"
[[ $(api_noauth a GET /v1/counters) == 401 ]] || fail "no token: HTTP $STATUS, expected 401"
[[ $(api a GET /v1/nothing) == 404 ]] || fail "GET /v1/nothing: HTTP $STATUS, expected 404"
ok "probe $ID to b ($(probe_state a "$ID")), a 401 and a 404"

"$PY" "$HERE/telemetry_check.py" "$PREFIX" "${CONTROL[a]}" "${TOKEN_FILE[a]}" "$PATHS" ||
  fail "telemetry and the API disagree"
kill -0 "${PID[a]}" || fail "srdxd died"
ok "telemetry_dpdk"

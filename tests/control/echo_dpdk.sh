#!/bin/bash
# srdxd on the dpdk link (net_null, --no-huge) with services.tcp-echo left
# at its default, the link's IP (198.18.1.2, DPDK's and not the kernel's):
# the echo cannot listen there. srdxd says so once in its log, shows it in
# /v1/status (ports.tcp_echo_service: state unavailable, the reason) and
# keeps running, rather than exiting into a systemd restart loop.
#   echo_dpdk.sh SRDXD SRDXCTL
# Skipped (77) when not root or when DPDK cannot start here.
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: DPDK (EAL on net_null with --no-huge) needs root; run the test as root"
  exit 77
fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh" "${1:?usage: $0 SRDXD SRDXCTL}" "${2:?usage: $0 SRDXD SRDXCTL}"

PREFIX=srdx-echo-test-$$
export RUNTIME_DIRECTORY=$WORK/run
mkdir -p "$RUNTIME_DIRECTORY"

node_new a
{
  echo "# srdxd on the dpdk link (control suite, echo_dpdk): no tcp-echo line"
  echo "[link]"
  echo "kind = dpdk"
  echo "device = net_null0,no-rx=1"
  echo "eal = --no-huge -m 256 --no-pci --file-prefix $PREFIX --log-level=lib.eal:warning"
  echo "local = 198.18.1.2:${LOCAL_PORT[a]}"
  echo "entropy-ports = 49152:8"
  echo "[keys]"
  echo "private-key-file = ${KEY_FILE[a]}"
  echo "[control]"
  echo "listen = ${CONTROL[a]}"
  echo "token-file = ${TOKEN_FILE[a]}"
  echo "[log]"
  echo "level = info"
  echo "[daemon]"
  echo "drain-timeout = 1s"
  echo "[replication]"
  echo "state-dir = $WORK/a/state"
} >"${CONFIG[a]}"

dpdk_node_start a "srdxd exited during start-up (the echo's address must not stop it)"
say "srdxd on net_null, API on ${CONTROL[a]}"
expect 'd["link"]["kind"] == "dpdk"' "status link kind"
expect 'd["ports"]["tcp_echo"] == "198.18.1.2:7481"' "the default echo address is the link's IP"
expect 'd["ports"]["tcp_echo_service"]["state"] == "unavailable"' "the echo is unavailable"
expect '"link.kind = dpdk" in d["ports"]["tcp_echo_service"]["reason"]' "the reason names the dpdk link"
[[ $(grep -c "tcp echo: off: cannot listen on 198.18.1.2:7481" "${LOG[a]}") == 1 ]] ||
  fail "the log does not say once that the echo is off: $(grep 'tcp echo' "${LOG[a]}")"
sleep 1
kill -0 "${PID[a]}" 2>/dev/null || fail "srdxd exited"
[[ $(grep -c "tcp echo: off" "${LOG[a]}") == 1 ]] || fail "the echo's warning repeated"
ok "with a dpdk link the default echo address is refused once, shown in /v1/status, srdxd runs on"

kill -TERM "${PID[a]}"
wait "${PID[a]}" || fail "srdxd did not stop cleanly"
unset 'PID[a]'

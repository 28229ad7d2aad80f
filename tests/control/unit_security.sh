#!/bin/bash
# The hardened units as meson installs them, checked without a running
# systemd (systemd-analyze security --offline=yes, systemd 252):
#   - every key known to systemd (no "Unknown key" warning);
#   - the exposure level each reaches: srdxd.service (root, the dpdk link)
#     at most MAX_DPDK, srdxd-udp.service (unprivileged) at most MAX_UDP, and
#     rated "OK" or better; the README quotes the scores;
#   - both are Type=notify with a WatchdogSec=, and TimeoutStopSec= equals the
#     SRDXD_TIMEOUT_STOP_SEC= srdxd reads to bound its drain;
#   - the udp variant: a non-root User=, no capabilities, no devices, no
#     packet or XDP sockets;
#   - srdxd runs as the udp unit would run it, as far as can be done without
#     systemd as PID 1: an unprivileged user (nobody when this runs as root),
#     no capabilities (bounding, inheritable and ambient sets empty),
#     no_new_privs, the unit's SystemCallFilter= as a seccomp filter
#     (syscall_filter.py, from systemd's own @group lists), ports >= 1024;
#     its API answers, its loop beats, it probes its peer and drains on
#     SIGTERM. As root, srdxd on the dpdk link (net_null, --no-huge) under
#     srdxd.service's capability bounding set and syscall filter. (The
#     namespaces, devices and mount protections need systemd itself: not
#     checked here.)
#   unit_security.sh SRDXD SRDXCTL UNIT UDP_UNIT
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
UNIT=${3:?usage: $0 SRDXD SRDXCTL UNIT UDP_UNIT}
UDP_UNIT=${4:?}
# Measured (systemd 252.39): 3.2 and 1.1. A change that weakens either unit
# fails here; one that strengthens it lowers the bound with the README.
MAX_DPDK=3.2
MAX_UDP=1.1
for tool in systemd-analyze setpriv; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

# exposure UNIT: "LEVEL RATING" from systemd-analyze's last line.
exposure() {
  local out
  systemd-analyze security --offline=yes "$1" >"$WORK/analyze.out" 2>"$WORK/analyze.err" ||
    fail "systemd-analyze security $1: $(cat "$WORK/analyze.err")"
  if grep -i "unknown\|ignoring\|invalid" "$WORK/analyze.err"; then
    fail "$1: systemd does not take every setting (above)"
  fi
  out=$(grep "Overall exposure level for" "$WORK/analyze.out") || fail "$1: no overall exposure level"
  [[ $out =~ :\ ([0-9]+\.[0-9])\ ([A-Z]+) ]] || fail "$1: cannot read '$out'"
  echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
}
at_most() { "$PY" -c "import sys; sys.exit(0 if float('$1') <= float('$2') else 1)"; }

read -r level rating <<<"$(exposure "$UNIT")"
at_most "$level" "$MAX_DPDK" || fail "srdxd.service: exposure $level $rating, expected <= $MAX_DPDK"
[[ $rating == OK || $rating == SAFE ]] || fail "srdxd.service rated $rating"
ok "srdxd.service (root, dpdk link): exposure $level $rating (<= $MAX_DPDK)"
read -r level rating <<<"$(exposure "$UDP_UNIT")"
at_most "$level" "$MAX_UDP" || fail "srdxd-udp.service: exposure $level $rating, expected <= $MAX_UDP"
[[ $rating == OK || $rating == SAFE ]] || fail "srdxd-udp.service rated $rating"
ok "srdxd-udp.service (unprivileged, udp link): exposure $level $rating (<= $MAX_UDP)"

for u in "$UNIT" "$UDP_UNIT"; do
  grep -qx 'Type=notify' "$u" || fail "$u: not Type=notify"
  grep -q '^WatchdogSec=[1-9]' "$u" || fail "$u: no WatchdogSec="
  stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$u")
  env=$(sed -n 's/^Environment=SRDXD_TIMEOUT_STOP_SEC=\([0-9]*\)$/\1/p' "$u")
  [[ -n $stop && $stop == "$env" ]] ||
    fail "$u: TimeoutStopSec=$stop and SRDXD_TIMEOUT_STOP_SEC=$env differ (srdxd bounds its drain by the latter)"
  grep -q '^SystemCallFilter=@system-service' "$u" || fail "$u: no SystemCallFilter=@system-service"
  grep -qx 'DevicePolicy=closed' "$u" || fail "$u: no DevicePolicy=closed"
done
grep -qx 'DeviceAllow=char-vfio rw' "$UNIT" || fail "srdxd.service does not allow the VFIO groups"
ok "both Type=notify with a watchdog; TimeoutStopSec= = SRDXD_TIMEOUT_STOP_SEC=; syscall and device filters"

user=$(sed -n 's/^User=//p' "$UDP_UNIT")
[[ -n $user && $user != root && $user != 0 ]] || fail "srdxd-udp.service: User=$user, expected a non-root user"
grep -qx 'CapabilityBoundingSet=' "$UDP_UNIT" || fail "srdxd-udp.service keeps capabilities"
grep -q '^AmbientCapabilities=.' "$UDP_UNIT" && fail "srdxd-udp.service grants ambient capabilities"
grep -qx 'PrivateDevices=yes' "$UDP_UNIT" || fail "srdxd-udp.service sees devices"
grep -qx 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' "$UDP_UNIT" ||
  fail "srdxd-udp.service: $(grep RestrictAddressFamilies "$UDP_UNIT")"
ok "srdxd-udp.service: User=$user, no capabilities, no devices, inet and unix sockets only"

# ---- srdxd as the udp unit runs it ---------------------------------------------------------
node_new a
node_new b
node_config a b
node_config b a
run_as=()
if [[ $(id -u) == 0 ]]; then
  # nobody must read its files: the token and key owned by it, 0600, as the
  # unit's header says for User=srdx; the folder open to it.
  chmod 755 "$WORK" "$WORK/a"
  chown -R nobody: "$WORK/a"
  # The client (root here) reads a copy of its own.
  (umask 077 && cp "${TOKEN_FILE[a]}" "$WORK/a-client.token")
  TOKEN_FILE[a]=$WORK/a-client.token
  run_as=(--reuid=nobody --regid=nogroup --clear-groups --bounding-set=-all)
fi
# node_start, through setpriv. Under the sanitizers (the ASan stage), the
# leak checker at exit needs ptrace and clone flags that a unit's syscall
# filter does not allow (by design): it is off for the filtered daemons; ASan
# itself stays on.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
REAL_SRDXD=$SRDXD
SRDXD=$WORK/unprivileged-srdxd
cat >"$SRDXD" <<EOF
#!/bin/sh
exec setpriv ${run_as[*]} --inh-caps=-all --ambient-caps=-all --no-new-privs \\
  "$PY" "$HERE/syscall_filter.py" "$UDP_UNIT" "$REAL_SRDXD" "\$@"
EOF
chmod 755 "$SRDXD"
node_start a
SRDXD=$REAL_SRDXD
node_start b
pid=${PID[a]}
# The filter is real: a call the unit leaves out (setpriority, in @resources)
# fails, one it keeps works.
"$PY" "$HERE/syscall_filter.py" "$UDP_UNIT" "$PY" -c 'import os; os.setpriority(os.PRIO_PROCESS, 0, 5)' \
  2>"$WORK/filter.err" && fail "setpriority allowed under the udp unit's filter"
grep -q "PermissionError" "$WORK/filter.err" || fail "setpriority under the filter: $(cat "$WORK/filter.err")"
"$PY" "$HERE/syscall_filter.py" "$UDP_UNIT" "$PY" -c 'import os; os.getpid()' 2>/dev/null ||
  fail "getpid refused under the udp unit's filter"
grep -q "Seccomp:.*2" "/proc/${PID[a]}/status" || fail "srdxd runs without a seccomp filter"
# setpriv and python exec() srdxd: the pid is srdxd's own.
[[ $(readlink "/proc/$pid/exe") == "$(realpath "$REAL_SRDXD")" ]] ||
  fail "pid $pid is not srdxd: $(readlink "/proc/$pid/exe")"
status=/proc/$pid/status
for set in CapEff CapPrm CapInh CapAmb; do
  [[ $(awk -v k="$set:" '$1 == k {print $2}' "$status") == 0000000000000000 ]] ||
    fail "srdxd has $set $(grep "$set" "$status")"
done
[[ $(awk '$1 == "NoNewPrivs:" {print $2}' "$status") == 1 ]] || fail "srdxd without no_new_privs"
uid=$(awk '$1 == "Uid:" {print $2}' "$status")
[[ $(id -u) != 0 || $uid != 0 ]] || fail "srdxd runs as root"
ctl_expect 0 a --json probe b --transport both --count 20
[[ $(jv 'd["state"] == "done" and d["results"]["srdx"]["count"] == 20' "$WORK/ctl.out") == true ]] ||
  fail "probe from the unprivileged srdxd: $(cat "$WORK/ctl.out")"
call 200 a GET /v1/status
expect 'd["loop"]["heartbeat_age_s"] < 1.0' "the unprivileged srdxd's loop beats"
node_term a "the unprivileged srdxd"
grep -q "stopped: drained for" "${LOG[a]}" || fail "no drain summary: $(tail -n 3 "${LOG[a]}")"
ok "srdxd as uid $uid with no capabilities, no_new_privs and the unit's syscall filter: up, probes b over srdx and tcp, drains on SIGTERM"

# ---- srdxd on the dpdk link as srdxd.service runs it (root) ---------------------------------
# net_null, --no-huge: EAL's start-up, the port and the poll loop under the
# unit's capability bounding set and its SystemCallFilter=.
if [[ $(id -u) != 0 ]]; then
  say "not root: srdxd on the dpdk link under srdxd.service's limits not checked"
  say "all unit checks passed"
  exit 0
fi
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
bounding=-all
for c in $caps; do
  c=${c#CAP_}
  bounding+=",+${c,,}"
done
PREFIX=srdx-unit-test-$$
export RUNTIME_DIRECTORY=$WORK/run
mkdir -p "$RUNTIME_DIRECTORY"
node_new d
cat >"${CONFIG[d]}" <<EOF
[link]
kind = dpdk
device = net_null0,no-rx=1
eal = --no-huge -m 256 --no-pci --file-prefix $PREFIX --log-level=lib.eal:warning
local = 198.18.1.2:${LOCAL_PORT[d]}
entropy-ports = 49152:8
neighbour = 198.18.1.3=02:00:00:00:00:02
[keys]
private-key-file = ${KEY_FILE[d]}
[peers]
peer = b=198.18.1.3:47000,key=${PUBKEY[b]}
[control]
listen = ${CONTROL[d]}
token-file = ${TOKEN_FILE[d]}
[services]
tcp-echo = 127.0.0.1:${ECHO_PORT[d]}
[daemon]
drain-timeout = 1s
[replication]
state-dir = $WORK/d/state
EOF
SRDXD=$WORK/root-srdxd
cat >"$SRDXD" <<EOF
#!/bin/sh
exec setpriv --bounding-set=$bounding --inh-caps=-all --ambient-caps=-all --no-new-privs \\
  "$PY" "$HERE/syscall_filter.py" "$UNIT" "$REAL_SRDXD" "\$@"
EOF
chmod 755 "$SRDXD"
"$SRDXD" --config "${CONFIG[d]}" >>"${LOG[d]}" 2>&1 &
PID[d]=$!
up=0
for _ in $(seq 100); do
  kill -0 "${PID[d]}" 2>/dev/null || break
  if [[ $(api d GET /v1/status) == 200 ]]; then
    up=1
    break
  fi
  sleep 0.1
done
if [[ $up == 0 ]]; then
  # Only DPDK itself failing here (no EAL on this machine) is forgiven: the
  # same start without the unit's limits must then fail too.
  unset 'PID[d]'
  "$REAL_SRDXD" --config "${CONFIG[d]}" >"$WORK/d-plain.log" 2>&1 &
  plain=$!
  BACKGROUND+=("$plain")
  sleep 3
  if kill -0 "$plain" 2>/dev/null; then
    fail "srdxd on net_null starts without srdxd.service's limits but not with them: $(tail -n 5 "${LOG[d]}")"
  fi
  say "DPDK cannot start on this machine: srdxd on the dpdk link under srdxd.service's limits not checked"
else
  expect 'd["link"]["kind"] == "dpdk" and d["loop"]["heartbeat_age_s"] < 1.0' \
    "srdxd on net_null under the unit's limits"
  grep -q "Seccomp:.*2" "/proc/${PID[d]}/status" || fail "srdxd on net_null without a seccomp filter"
  [[ $(awk '$1 == "CapBnd:" {print $2}' "/proc/${PID[d]}/status") != 000001ffffffffff ]] ||
    fail "srdxd on net_null with every capability"
  node_term d "srdxd on net_null"
  ok "srdxd on the dpdk link (net_null) with srdxd.service's capabilities ($caps) and syscall filter: up, loop beating, drains"
fi

say "all unit checks passed"

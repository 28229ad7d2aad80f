#!/bin/bash
# No plaintext on the wire (issue 10): tshark captures loopback while srdxd a
# probes srdxd b over srdx with 1000-byte messages, and the UDP payload of
# every captured srdx datagram (tshark -T fields -e udp.payload) is searched
# for the probe payload's known pattern. A probe payload's bytes 16 and on
# are (i * 131 + seq) mod 256 (control/probe.cc): each byte is the one
# before it plus 131, whatever the sequence number, so a run of 32 such bytes
# marks plaintext (in ciphertext a given run of 32 happens with odds 2^-248).
#  - with encryption on: not one datagram holds the pattern;
#  - the control, to show the search can fail: the same probe with
#    endpoint.encryption = off, and the pattern is in the data datagrams.
# Skipped (77) without tshark (scripts/bootstrap installs it) or without the
# right to capture on lo.
#   capture.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

command -v tshark >/dev/null || { echo "SKIP: tshark is not installed (scripts/bootstrap)"; exit 77; }

node_new a
node_new b

TSHARK_PID=
# capture_start FILE: tshark on lo, srdx datagrams to a's or b's link port
# only (the TCP echo and the control API are not srdx); returns once it
# captures.
capture_start() {
  local file=$1
  tshark -i lo -f "udp and (dst port ${LOCAL_PORT[a]} or dst port ${LOCAL_PORT[b]})" \
    -F pcap -w "$file" >"$WORK/tshark.err" 2>&1 &
  TSHARK_PID=$!
  BACKGROUND+=("$TSHARK_PID")
  local i
  for i in $(seq 100); do
    grep -q "^Capturing on" "$WORK/tshark.err" && return 0
    if ! kill -0 "$TSHARK_PID" 2>/dev/null; then
      if grep -qi "permission\|not permitted" "$WORK/tshark.err"; then
        echo "SKIP: cannot capture on lo: $(cat "$WORK/tshark.err")"
        exit 77
      fi
      fail "tshark exited: $(cat "$WORK/tshark.err")"
    fi
    sleep 0.1
  done
  fail "tshark did not start capturing within 10 s: $(cat "$WORK/tshark.err")"
}

capture_stop() {
  kill -INT "$TSHARK_PID"
  wait "$TSHARK_PID" || true
}

# scan FILE: "DATAGRAMS MARKED": srdx datagrams captured, and those whose UDP
# payload holds 32 bytes in a row each 131 more than the one before.
scan() {
  tshark -r "$1" -T fields -e udp.payload >"$WORK/payloads" 2>"$WORK/tshark-read.err" ||
    fail "tshark could not read $1: $(cat "$WORK/tshark-read.err")"
  "$PY" - "$WORK/payloads" <<'EOF'
import sys
total = marked = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    total += 1
    b = bytes.fromhex(line.replace(":", ""))
    run = 1
    for i in range(1, len(b)):
        run = run + 1 if (b[i] - b[i - 1]) % 256 == 131 else 1
        if run >= 32:
            marked += 1
            break
print(total, marked)
EOF
}

# run_probe: a probes b over srdx (300 pings of 1000 bytes), all answered.
run_probe() {
  ctl_expect 0 a --json probe b --transport srdx --count 300 --size 1000
  [[ $(jv 'd["state"] == "done" and d["results"]["srdx"]["count"] == 300' "$WORK/ctl.out") == true ]] ||
    fail "a's probe to b: $(cat "$WORK/ctl.out")"
}

# ---- encryption on: no plaintext -----------------------------------------------------------
node_config a b
node_config b a
node_start a
node_start b
capture_start "$WORK/sealed.pcap"
run_probe
capture_stop
read -r total marked < <(scan "$WORK/sealed.pcap")
# 300 pings and 300 echoes (plus acks and the handshake); the capture may
# miss a few at its ends.
[[ $total -ge 300 ]] || fail "encrypted: only $total srdx datagrams captured; expected 300 or more"
[[ $marked == 0 ]] || fail "encrypted: $marked of $total captured datagrams hold the probe's plaintext"
ok "encryption on: $total srdx datagrams captured, none holds the payload pattern"

# ---- the control: encryption off shows the payload -----------------------------------------
for n in a b; do
  kill -TERM "${PID[$n]}"
  wait "${PID[$n]}" || fail "srdxd $n did not stop cleanly"
  unset "PID[$n]"
done
node_config a b -- "[endpoint]" "encryption = off"
node_config b a -- "[endpoint]" "encryption = off"
node_start a
node_start b
capture_start "$WORK/clear.pcap"
run_probe
capture_stop
read -r total marked < <(scan "$WORK/clear.pcap")
[[ $total -ge 300 ]] || fail "clear: only $total srdx datagrams captured; expected 300 or more"
# Every ping and every echo carries the pattern.
[[ $marked -ge 300 ]] || fail "clear: only $marked of $total datagrams hold the pattern; the search cannot be trusted"
ok "encryption off (the control): $marked of $total datagrams hold the payload pattern"

say "all capture checks passed"

#!/bin/bash
# No plaintext on the wire (issue 10): tshark captures loopback while srdxd a
# probes srdxd b over srdx with 1000-byte messages, and the UDP payload of
# every captured srdx datagram (tshark -T fields -e udp.payload; sentinel
# datagrams before and after make sure it saw them all) is searched
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
OUT=
# sentinel NAME: sends one UDP datagram holding "srdx-capture-NAME" to b's
# link port (b drops it: not srdx). Seen in the capture, it proves that
# tshark saw everything sent before it: packets are decoded in order.
sentinel() {
  "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(("srdx-capture-" + sys.argv[1]).encode(), ("127.0.0.1", int(sys.argv[2])))' "$1" "${LOCAL_PORT[b]}"
}
sentinel_seen() { grep -q "$(printf 'srdx-capture-%s' "$1" | od -An -tx1 | tr -d ' \n')" "$OUT"; }

# capture_start FILE: tshark on lo, printing each captured datagram's UDP
# payload (hex) to FILE as it comes (-l); srdx datagrams to a's or b's link
# port only (the TCP echo and the control API are not srdx). Returns once a
# sentinel sent after it started is in FILE.
capture_start() {
  OUT=$1
  tshark -i lo -f "udp and (dst port ${LOCAL_PORT[a]} or dst port ${LOCAL_PORT[b]})" \
    -l -T fields -e udp.payload >"$OUT" 2>"$WORK/tshark.err" &
  TSHARK_PID=$!
  BACKGROUND+=("$TSHARK_PID")
  local i
  for i in $(seq 100); do
    sentinel start
    sentinel_seen start && return 0
    if ! kill -0 "$TSHARK_PID" 2>/dev/null; then
      if grep -qi "permission\|not permitted" "$WORK/tshark.err"; then
        echo "SKIP: cannot capture on lo: $(cat "$WORK/tshark.err")"
        exit 77
      fi
      fail "tshark exited: $(cat "$WORK/tshark.err")"
    fi
    sleep 0.1
  done
  fail "tshark did not capture within 10 s: $(cat "$WORK/tshark.err")"
}

# capture_stop: once the end sentinel is in the output (so is everything
# before it), stops tshark.
capture_stop() {
  sentinel end
  wait_for 30 "tshark printing the end sentinel" sentinel_seen end
  kill -INT "$TSHARK_PID"
  wait "$TSHARK_PID" || true
}

# scan FILE: "DATAGRAMS MARKED": srdx datagrams captured (sentinels aside),
# and those whose UDP payload holds 32 bytes in a row each 131 more than the
# one before.
scan() {
  "$PY" - "$1" <<'EOF'
import sys
total = marked = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    b = bytes.fromhex(line.replace(":", ""))
    if b.startswith(b"srdx-capture-"):
        continue
    total += 1
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

# captured_run FILE [CONFIG LINE]...: a and b started with CONFIG LINEs added
# to both configs, the probe captured into FILE; sets total and marked (srdx
# datagrams, and those holding the payload pattern).
captured_run() {
  local file=$1
  shift
  node_config a b ${1+--} "$@"
  node_config b a ${1+--} "$@"
  node_start a
  node_start b
  capture_start "$file"
  run_probe
  capture_stop
  read -r total marked < <(scan "$file")
}

# ---- encryption on: no plaintext -----------------------------------------------------------
captured_run "$WORK/sealed.txt"
# 300 pings and their 300 echoes (one datagram each), plus acks and the
# handshake.
[[ $total -ge 600 ]] || fail "encrypted: only $total srdx datagrams captured; expected 600 or more"
[[ $marked == 0 ]] || fail "encrypted: $marked of $total captured datagrams hold the probe's plaintext"
ok "encryption on: $total srdx datagrams captured, none holds the payload pattern"

# ---- the control: encryption off shows the payload -----------------------------------------
for n in a b; do
  kill -TERM "${PID[$n]}"
  wait "${PID[$n]}" || fail "srdxd $n did not stop cleanly"
  unset "PID[$n]"
done
captured_run "$WORK/clear.txt" "[endpoint]" "encryption = off"
[[ $total -ge 600 ]] || fail "clear: only $total srdx datagrams captured; expected 600 or more"
# Every ping and every echo carries the pattern.
[[ $marked -ge 600 ]] || fail "clear: only $marked of $total datagrams hold the pattern; the search cannot be trusted"
ok "encryption off (the control): $marked of $total datagrams hold the payload pattern"

say "all capture checks passed"

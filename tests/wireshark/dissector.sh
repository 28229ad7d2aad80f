#!/usr/bin/env bash
# The srdx Wireshark dissector (tools/wireshark/srdx.lua) decodes, through
# tshark, exactly the field values the transport's encoders wrote.
#
#   dissector.sh MAKE_CAPTURE SRDX_LUA
#
# MAKE_CAPTURE (make_capture.cc) writes a pcap of every packet type, version 2
# and 3, plus deliberately broken packets, and a list of expectations (its
# header comment has the format). This script runs tshark with the dissector
# once for fields and once for the full text (-V), then checks:
#   - every expected field value, e.g. msg_id, pn, ack range lo/hi, cids,
#     checksums and their status, close reason, sealed counter, Info column;
#   - every frame, on the default port and on one only the heuristic finds,
#     is srdx (protocol column SRDX); and with no port registered
#     (-o srdx.port:0) the heuristic alone finds every one with a known
#     version;
#   - frames meant to be valid are not marked malformed (_ws.malformed) and
#     carry no expert info at warning or error level; each broken frame (a
#     corrupted byte: bad checksum; cut, bad version, bad field, ...) carries
#     the expected one; there is no Lua error anywhere.
# Exit 77 (skipped) only when tshark is not installed.
set -euo pipefail

if (($# != 2)); then
  echo "usage: $0 MAKE_CAPTURE SRDX_LUA" >&2
  exit 2
fi
make_capture=$1
lua=$2

if ! command -v tshark >/dev/null 2>&1; then
  echo "SKIP: tshark is not installed (scripts/bootstrap installs it)"
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cap=$tmp/srdx.pcap
expect=$tmp/srdx.expect
"$make_capture" "$cap" "$expect"

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# tshark as root warns on stderr; anything else there is reported.
run_tshark() {
  local err=$tmp/tshark.err
  if ! tshark -n -r "$cap" -X lua_script:"$lua" "$@" 2>"$err"; then
    cat "$err" >&2
    echo "FAIL: tshark exited non-zero" >&2
    exit 1
  fi
  if grep -v -e 'Running as user "root"' "$err" | grep -q .; then
    echo "tshark stderr:" >&2
    cat "$err" >&2
    if grep -qi 'lua' "$err"; then
      echo "FAIL: tshark reports a Lua problem" >&2
      exit 1
    fi
  fi
}

# Every field the expectations name, and the ones checked for every frame.
fields=(frame.number _ws.col.Protocol _ws.malformed _ws.expert.message _ws.expert.severity)
while IFS= read -r name; do
  fields+=("$name")
done < <(cut -f2 "$expect" | grep -v -x -e text -e expert | sort -u)
eargs=()
for name in "${fields[@]}"; do
  eargs+=(-e "$name")
done

table=$tmp/fields.tsv
run_tshark -T fields -E separator=/t -E occurrence=a -E aggregator=, -E quote=n "${eargs[@]}" \
  >"$table"
text=$tmp/verbose.txt
run_tshark -V >"$text"

frames=$(cut -f1 "$expect" | sort -n | tail -1)
got_frames=$(wc -l <"$table")
if ((got_frames != frames)); then
  fail "tshark printed $got_frames frames, the capture has $frames"
fi
checks=$(wc -l <"$expect")
echo "capture: $frames frames, $checks expectations"

# Field values: one awk pass over the table and the expectations.
result=$(awk -F'\t' -v names="${fields[*]}" '
  BEGIN { n = split(names, name, " ") }
  FNR == NR { for (i = 1; i <= n; i++) val[$1, name[i]] = $i; next }
  $2 == "text" || $2 == "expert" { next }
  {
    got = (($1, $2) in val) ? val[$1, $2] : "<frame missing>"
    if (got == $3) { ok++ }
    else { printf "FAIL: frame %s %s: expected \"%s\", got \"%s\"\n", $1, $2, $3, got; bad++ }
  }
  END { printf "fields: %d equal, %d differ\n", ok, bad; exit bad > 0 }
' "$table" "$expect") || true
echo "$result"
if grep -q '^FAIL' <<<"$result"; then
  failures=$((failures + $(grep -c '^FAIL' <<<"$result")))
fi

column() {  # column FRAME FIELD: the field's value in the table
  local idx=0 i
  for i in "${!fields[@]}"; do
    if [[ ${fields[$i]} == "$2" ]]; then idx=$((i + 1)); fi
  done
  awk -F'\t' -v f="$1" -v c="$idx" '$1 == f { print $c }' "$table"
}
frame_text() {  # frame_text FRAME: tshark -V's text of that frame
  awk -v want="$1:" '/^Frame [0-9]+:/ { p = ($2 == want) } p' "$text"
}

# Checks on every frame.
broken=" $(awk -F'\t' '$2 == "expert" { printf "%s ", $1 }' "$expect")"
for ((fr = 1; fr <= frames; fr++)); do
  proto=$(column "$fr" _ws.col.Protocol)
  [[ $proto == SRDX ]] || fail "frame $fr: protocol column \"$proto\", not SRDX"
  if [[ $broken != *" $fr "* ]]; then
    malformed=$(column "$fr" _ws.malformed)
    [[ -z $malformed ]] || fail "frame $fr: a valid packet is marked malformed"
    # Wireshark's severities: chat 0x200000, note 0x400000, warn 0x600000,
    # error 0x800000.
    for sev in $(column "$fr" _ws.expert.severity | tr ',' ' '); do
      if ((sev >= 0x600000)); then
        fail "frame $fr: a valid packet has expert info: $(column "$fr" _ws.expert.message)"
        break
      fi
    done
  fi
done
# The heuristic dissector alone (no port registered) finds every frame with
# a known version, whatever its port, and decodes the same type.
heur=$tmp/heuristic.tsv
run_tshark -o srdx.port:0 -T fields -E separator=/t -e frame.number -e _ws.col.Protocol \
  -e srdx.type >"$heur"
unknown_version=" $(awk -F'\t' '$2 == "expert" && $3 ~ /\(bad_version\)/ { printf "%s ", $1 }' \
  "$expect")"
while IFS=$'\t' read -r fr proto type; do
  [[ $unknown_version == *" $fr "* ]] && continue
  if [[ $proto != SRDX || $type != "$(column "$fr" srdx.type)" ]]; then
    fail "frame $fr: with no port registered, protocol \"$proto\" type \"$type\""
  fi
done <"$heur"

if grep -q 'Lua Error' "$text"; then
  fail "a Lua error in the decoded text: $(grep -m1 'Lua Error' "$text")"
fi

# Expert infos and text the expectations name.
while IFS=$'\t' read -r fr kind want; do
  case $kind in
    expert)
      msgs=$(column "$fr" _ws.expert.message)
      if ! grep -qF -- "$want" <<<"$msgs"; then
        fail "frame $fr: no expert info containing \"$want\" (has: \"$msgs\")"
      fi
      worst=0
      for sev in $(column "$fr" _ws.expert.severity | tr ',' ' '); do
        ((sev > worst)) && worst=$sev
      done
      ((worst >= 0x600000)) || fail "frame $fr: the expert info is not a warning or an error"
      ;;
    text)
      frame_text "$fr" | grep -qF -- "$want" || fail "frame $fr: -V output lacks \"$want\""
      ;;
  esac
done <"$expect"

if ((failures > 0)); then
  echo "dissector.sh: $failures check(s) failed"
  exit 1
fi
echo "dissector.sh: all checks passed"

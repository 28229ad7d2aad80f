#!/bin/bash
# Two srdxd appliances with keys (issue 10):
#  - a and b, each with its own key pair (srdxctl genkey / pubkey) and the
#    other's public key, exchange traffic: every probe ping answered, the
#    handshake counted, /v1/status and /metrics say encryption is on and
#    show the appliance's public key;
#  - c holds the WRONG private key (not the one a names): a refuses it and
#    counts it (drops reason unknown_key), c's probe to a gets nothing, and
#    a's probe to c gets nothing either (c cannot open a's hello: bad_auth);
#  - a SIGHUP that gives a c's real key replaces the peer: c is answered; a
#    SIGHUP that finds another private key in a's key file is refused and
#    logged (a keeps its key) while the rest of that reload applies;
#  - rekeying under load: with endpoint.rekey-packets = 1000, thousands of
#    multi-packet probe messages cross many key updates, none lost;
#  - a world-readable key file, a missing one and a peer without a key are
#    refused by --check-config and at start (exit 2, one line naming why).
#   keys.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

node_new a
node_new b
node_new c
node_config a b c
node_config b a
node_config c a
# c runs with another private key than the one a names.
right_c=${PUBKEY[c]}
node_newkey c
[[ ${PUBKEY[c]} != "$right_c" ]] || fail "srdxctl genkey made the same key twice"
node_start a
node_start b
node_start c

# ---- a and b: keys, handshake, traffic ---------------------------------------------------
call 200 a GET /v1/status
expect 'd["encryption"] == True' "a's status: encryption on"
expect "d[\"public_key\"] == \"${PUBKEY[a]}\"" "a's status shows the public key of its key file"
ctl_expect 0 a status
grep -q "public key *${PUBKEY[a]}" "$WORK/ctl.out" || fail "srdxctl status does not show a's public key: $(cat "$WORK/ctl.out")"
grep -q "encryption *on" "$WORK/ctl.out" || fail "srdxctl status does not say encryption on"
grep -q "encryption on: public key ${PUBKEY[a]}" "${LOG[a]}" || fail "a's log does not name its public key"
ctl_expect 0 a --json probe b --transport srdx --count 200
[[ $(jv 'd["state"] == "done" and d["results"]["srdx"]["count"] == 200 and d["results"]["srdx"]["lost"] == 0' "$WORK/ctl.out") == true ]] ||
  fail "a's probe to b: $(cat "$WORK/ctl.out")"
metric_at_least a 1 srdx_encryption_enabled || fail "srdx_encryption_enabled is not 1 on a"
metric_at_least a 1 srdx_handshakes_completed_total || fail "a counted no handshake"
metric_at_least b 1 srdx_handshakes_completed_total || fail "b counted no handshake"
ok "a and b with keys: 200 pings answered, handshakes counted, public key and encryption shown"

# ---- c with the wrong key: refused and counted, both ways -----------------------------------
refused_probe c a a unknown_key
unknown=$REFUSED
call 200 a GET /v1/peers
expect 'not any(p["name"] == "c" and p["up"] for p in d["peers"])' "a's peer c is not up"
refused_probe a c c bad_auth  # a's hellos are sealed to another key than c's
bad=$REFUSED
ok "c with the wrong key: refused by a ($unknown unknown_key drops), a's hellos to c fail ($bad bad_auth)"

# ---- SIGHUP: a peer's key changed -> replaced; the own key changed -> refused ---------------
# a learns c's real key and, in the same file, finds another private key of
# its own: the key change is refused (logged), the peer change applies.
old_a=${PUBKEY[a]}
old_key_file=$WORK/a/private.key.old
cp -p "${KEY_FILE[a]}" "$old_key_file"
node_newkey a
node_config a b c
kill -HUP "${PID[a]}"
wait_for 5 "a's log refusing its new private key" grep -q "holds another private key: refused" "${LOG[a]}"
grep -q "reload: peer c .* removed (its key changed)" "${LOG[a]}" || fail "a's log does not say c was replaced for its key"
call 200 a GET /v1/status
expect "d[\"public_key\"] == \"$old_a\"" "a keeps its public key after a reload that changed the key file"
ok "a SIGHUP with a new private key: refused and logged, a keeps $old_a"
# c's key (the one it runs with) is now the one a names: c is answered.
ctl_expect 0 c --json probe a --transport srdx --count 50
[[ $(jv 'd["state"] == "done" and d["results"]["srdx"]["count"] == 50' "$WORK/ctl.out") == true ]] ||
  fail "c's probe to a after a learned c's key: $(cat "$WORK/ctl.out")"
ok "the same SIGHUP replaced c with its new key: c answered over srdx"
# Back to a's own key file (b names a's old key).
cp -p "$old_key_file" "${KEY_FILE[a]}"
PUBKEY[a]=$old_a
# A reload cannot switch encryption off under a running appliance: a peer
# without a key is refused, the peers are kept.
node_config a b c -- "[endpoint]" "encryption = off"
sed -i "s/^\(peer = c=[^,]*,tcp=[0-9]*\),key=.*/\1/" "${CONFIG[a]}"
grep -q "^peer = c=127.0.0.1:${LOCAL_PORT[c]},tcp=${ECHO_PORT[c]}$" "${CONFIG[a]}" || fail "c's key not removed from a's config"
kill -HUP "${PID[a]}"
wait_for 5 "a refusing a keyless peer" grep -q "SIGHUP: peer c has no key, and this srdxd encrypts" "${LOG[a]}"
ctl_expect 0 c --json probe a --transport srdx --count 10
[[ $(jv 'd["results"]["srdx"]["count"] == 10' "$WORK/ctl.out") == true ]] || fail "c lost a after a refused reload: $(cat "$WORK/ctl.out")"
ok "a reload with a keyless peer is refused while encryption is on; the peers are kept"

# ---- rekeying under load: nothing lost ---------------------------------------------------------
for n in a b; do
  kill -TERM "${PID[$n]}"
  wait "${PID[$n]}" || fail "srdxd $n did not stop cleanly"
  unset "PID[$n]"
done
# The subject is rekeying, not liveness: a generous peer and message timeout,
# so that a sanitizer build on a busy machine (a 200 ms pause is the default
# peer timeout) cannot turn a scheduling stall into a peer-down here.
slow=("[engine]" "peer-timeout = 10s" "message-timeout = 60s")
node_config a b -- "[endpoint]" "rekey-packets = 1000" "${slow[@]}"
node_config b a -- "[endpoint]" "rekey-packets = 1000" "${slow[@]}"
node_start a
node_start b
# Two probes at once, 4000-byte messages (3 packets each), 3000 pings each.
p1=$(probe_start a b srdx 3000 0)
code=$(api a POST /v1/probes '{"peer":"b","transport":"srdx","size":4000,"count":3000,"interval_us":0}')
[[ $code == 202 ]] || fail "second probe: HTTP $code"
p2=$(jv 'd["id"]')
wait_for 120 "a's probes to b done" probe_over a "$p1"
wait_for 120 "a's probes to b done" probe_over a "$p2"
for p in "$p1" "$p2"; do
  call 200 a GET "/v1/probes/$p"
  expect 'd["state"] == "done"' "probe $p under rekeying"
  expect 'd["results"]["srdx"]["count"] == 3000 and d["results"]["srdx"]["lost"] == 0' "probe $p: every ping answered"
done
ka=$(counter a 'd["endpoint"]["key_updates"]')
kb=$(counter b 'd["endpoint"]["key_updates"]')
[[ $ka -ge 5 && $kb -ge 5 ]] || fail "too few key updates under load: a $ka, b $kb (rekey-packets 1000)"
[[ $(counter a 'd["endpoint"]["messages_failed"] == 0 and d["endpoint"]["drops"]["bad_auth"] == 0') == true ]] ||
  fail "a lost messages or failed to open packets while rekeying: $(cat "$BODY")"
[[ $(counter b 'd["endpoint"]["messages_failed"] == 0 and d["endpoint"]["drops"]["bad_auth"] == 0 and d["echo"]["served"] >= 6000') == true ]] ||
  fail "b lost messages or failed to open packets while rekeying: $(cat "$BODY")"
metric_at_least a 5 srdx_key_updates_total || fail "srdx_key_updates_total on a"
ok "rekeying under load: $ka key updates on a, $kb on b, 6000 pings answered, none lost"

# ---- bad key files and missing keys: --check-config and start refuse ------------------------
check_refused() {
  local pattern=$1 rc=0
  timeout 10 "$SRDXD" --check-config --config "${CONFIG[c]}" >"$WORK/check.out" 2>&1 || rc=$?
  [[ $rc == 2 ]] || fail "--check-config: exit $rc, expected 2: $(cat "$WORK/check.out")"
  [[ $(grep -c . "$WORK/check.out") == 1 ]] || fail "--check-config: not one line: $(cat "$WORK/check.out")"
  grep -Eq -- "$pattern" "$WORK/check.out" ||
    fail "--check-config: '$(cat "$WORK/check.out")' does not match '$pattern'"
  rc=0
  timeout 10 "$SRDXD" --config "${CONFIG[c]}" >"$WORK/start.out" 2>&1 || rc=$?
  [[ $rc == 2 ]] || fail "srdxd start: exit $rc, expected 2: $(cat "$WORK/start.out")"
  grep -Eq -- "$pattern" "$WORK/start.out" || fail "srdxd start: '$(cat "$WORK/start.out")' does not match '$pattern'"
}
kill -TERM "${PID[c]}"
wait "${PID[c]}" || fail "srdxd c did not stop cleanly"
unset 'PID[c]'
node_config c a
chmod 0644 "${KEY_FILE[c]}"
check_refused "^srdxd: --keys\.private-key-file: ${KEY_FILE[c]} is world-readable \(mode 0644\); accepted: a file others cannot read"
chmod 0600 "${KEY_FILE[c]}"
echo "notakey" >"${KEY_FILE[c]}"
check_refused "^srdxd: --keys\.private-key-file: ${KEY_FILE[c]}: .*not a private key"
rm -f "${KEY_FILE[c]}"
check_refused "^srdxd: --keys\.private-key-file: ${KEY_FILE[c]}: cannot read \(No such file"
node_newkey c
node_config c a
sed -i '/^private-key-file = /d' "${CONFIG[c]}"
check_refused "^srdxd: --keys\.private-key-file: required with endpoint\.encryption on"
node_config c a
sed -i "s/,key=${PUBKEY[a]//\//\\/}//" "${CONFIG[c]}"
check_refused "^srdxd: --peers\.peer: peer 'a' has no key; with endpoint\.encryption on"
node_config c a
sed -i "s/,key=.*/,key=AAAA/" "${CONFIG[c]}"
check_refused "^srdxd: --peers\.peer: peer 'a': key 'AAAA' is not a key"
ok "world-readable, unreadable, missing and malformed keys refused by --check-config and at start"
# srdxctl's side: genkey warns when it writes to a file others can read;
# pubkey refuses what is not a private key (exit 2, usage).
(umask 022 && "$SRDXCTL" genkey >"$WORK/open.key" 2>"$WORK/genkey.err") || fail "srdxctl genkey failed"
grep -q "warning: writing a private key to a world-readable file" "$WORK/genkey.err" ||
  fail "srdxctl genkey into a 0644 file did not warn: $(cat "$WORK/genkey.err")"
rc=0
echo "notakey" | "$SRDXCTL" pubkey >"$WORK/pub.out" 2>&1 || rc=$?
if [[ $rc != 2 ]] || ! grep -q "pubkey: stdin does not hold a private key" "$WORK/pub.out"; then
  fail "srdxctl pubkey on garbage: exit $rc: $(cat "$WORK/pub.out")"
fi
ok "srdxctl genkey warns about a world-readable file; srdxctl pubkey refuses garbage"

# ---- encryption off: allowed without keys, said loudly ----------------------------------------
node_config c a -- "[endpoint]" "encryption = off"
sed -i '/^private-key-file = /d; s/,key=.*//' "${CONFIG[c]}"
out=$(timeout 10 "$SRDXD" --check-config --config "${CONFIG[c]}" 2>&1) || fail "encryption off without keys: $out"
node_start c
grep -q "ENCRYPTION IS OFF (endpoint.encryption = off): FOR MEASUREMENT ONLY" "${LOG[c]}" ||
  fail "c's log does not warn that encryption is off"
call 200 c GET /v1/status
expect 'd["encryption"] == False' "c's status: encryption off"
metrics c
[[ $(mv_of c srdx_encryption_enabled) == 0 ]] || fail "srdx_encryption_enabled on c is not 0"
ok "encryption off: no keys needed, a loud warning, status and metrics say so"

say "all key checks passed"

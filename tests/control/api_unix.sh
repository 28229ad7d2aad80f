#!/bin/bash
# control.listen = unix:PATH: the API on a unix socket (local control only).
#  - the socket is mode 0660 from the start; curl --unix-socket and
#    srdxctl --api unix:PATH are answered (and 401 without the token);
#  - a second srdxd on the same path refuses to start (in use), naming it;
#  - a socket left by a srdxd killed with -9 is replaced at the next start;
#  - a clean stop removes the socket.
#   api_unix.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

SOCK=$WORK/api.sock
node_new a
node_new b
for n in a b; do
  node_config "$n"
  sed -i "s|^listen = .*|listen = unix:$SOCK|" "${CONFIG[$n]}"
done

# ucall STATUS PATH: GET PATH over the socket with a's token.
ucall() {
  STATUS=$(curl -sS -o "$BODY" -w '%{http_code}' --max-time 10 --unix-socket "$SOCK" \
    -H "Authorization: Bearer $(cat "${TOKEN_FILE[a]}")" "http://srdxd$2" 2>/dev/null) || STATUS=000
  [[ $STATUS == "$1" ]] || fail "GET $2 over $SOCK: HTTP $STATUS, expected $1"
}

start_a() {
  "$SRDXD" --config "${CONFIG[a]}" >>"${LOG[a]}" 2>&1 &
  PID[a]=$!
  wait_for 10 "srdxd a answering on $SOCK" ucall_quiet
}
ucall_quiet() { (ucall 200 /v1/status) >/dev/null 2>&1; }

start_a
say "srdxd a on unix:$SOCK"
[[ $(stat -c %a "$SOCK") == 660 ]] || fail "the socket's mode is $(stat -c %a "$SOCK"), expected 660"
ucall 200 /v1/status
expect 'd["ports"]["control"] == "unix:'"$SOCK"'"' "/v1/status names the socket"
STATUS=$(curl -sS -o "$BODY" -w '%{http_code}' --unix-socket "$SOCK" http://srdxd/v1/status) || true
[[ $STATUS == 401 ]] || fail "no token over the socket: HTTP $STATUS, expected 401"
"$SRDXCTL" --api "unix:$SOCK" --token-file "${TOKEN_FILE[a]}" status >"$WORK/ctl.out" 2>&1 ||
  fail "srdxctl --api unix:$SOCK status: $(cat "$WORK/ctl.out")"
grep -q "running" "$WORK/ctl.out" || fail "srdxctl status over the socket: $(cat "$WORK/ctl.out")"
ok "the socket is 0660; curl and srdxctl --api unix:PATH answered, 401 without the token"

rc=0
timeout 20 "$SRDXD" --config "${CONFIG[b]}" >"${LOG[b]}" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "a second srdxd on the same socket: exit $rc, expected 1"
grep -q "unix:$SOCK is in use" "${LOG[b]}" || fail "b's log: $(tail -n 3 "${LOG[b]}")"
ucall 200 /v1/status
ok "a second srdxd on the socket refused (in use); a still answers"

kill -KILL "${PID[a]}"
wait "${PID[a]}" 2>/dev/null || true
[[ -S $SOCK ]] || fail "kill -9 left no socket (the next check needs one)"
start_a
ok "a socket left by kill -9 is replaced at the next start"

kill -TERM "${PID[a]}"
wait "${PID[a]}" || fail "srdxd a did not stop cleanly"
unset 'PID[a]'
[[ ! -e $SOCK ]] || fail "a clean stop left $SOCK"
ok "a clean stop removes the socket"

#!/bin/bash
# The control API's token scopes and token files (issue 17):
#  - a read-only token (control.read-token-file) reads (GET /v1/status,
#    /metrics) and is refused any change (403, counted, a clear message);
#    the write token does both;
#  - SIGHUP re-reads the token files: a rotated token applies at once, the
#    old one gets 401; a token file that fails a check (a symlink, group-
#    writable, too short) is refused with the reason in the log, and the
#    current token stays;
#  - srdxctl reads its token file with the same checks as srdxd (symlink,
#    group-writable, another owner, too short: each a clear error, exit 2).
#   tokens.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

node_new a
READ_TOKEN=$WORK/a/read-token
(umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$READ_TOKEN")
node_config a -- "[control]" "read-token-file = $READ_TOKEN"
node_start a
say "srdxd a on ${CONTROL[a]}"

# wait_log NAME TEXT: NAME's log says TEXT (within 10 s).
wait_log() { wait_for 10 "srdxd $1 logging '$2'" grep -qF -- "$2" "${LOG[$1]}"; }

# with TOKEN_FILE METHOD PATH [BODY]: one request with the token in TOKEN_FILE.
with() {
  local tf=$1 method=$2 path=$3 body=${4-}
  local args=(-sS -o "$BODY" -w '%{http_code}' --max-time 10 -X "$method"
    -H "Authorization: Bearer $(cat "$tf")")
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  STATUS=$(curl "${args[@]}" "http://${CONTROL[a]}$path" 2>/dev/null) || STATUS=000
  echo "$STATUS"
}

# ---- scopes ------------------------------------------------------------------------------
[[ $(with "$READ_TOKEN" GET /v1/status) == 200 ]] || fail "read-only token, GET /v1/status: HTTP $STATUS"
[[ $(with "$READ_TOKEN" GET /metrics) == 200 ]] || fail "read-only token, GET /metrics: HTTP $STATUS"
grep -q '^srdx_api_forbidden_total 0' "$BODY" || fail "srdx_api_forbidden_total missing or not 0"
[[ $(with "$READ_TOKEN" POST /v1/probes '{"peer":"a"}') == 403 ]] ||
  fail "read-only token, POST /v1/probes: HTTP $STATUS, expected 403"
expect '"read-only" in d["error"] and "control.token-file" in d["error"]' "the 403 says why"
[[ $(with "$READ_TOKEN" DELETE /v1/replications/x) == 403 ]] ||
  fail "read-only token, DELETE: HTTP $STATUS, expected 403"
call 200 a GET /v1/counters
expect "d['api']['forbidden'] == 2" "two 403s counted"
# The write token still changes things (a probe to an unknown peer: 404, not 403).
[[ $(api a POST /v1/probes '{"peer":"nobody"}') == 404 ]] || fail "write token, POST: HTTP $STATUS"
SRDXCTL_READ=("$SRDXCTL" --api "${CONTROL[a]}" --token-file "$READ_TOKEN")
"${SRDXCTL_READ[@]}" status >/dev/null || fail "srdxctl status with the read-only token failed"
ok "scopes: the read-only token reads, and gets 403 (counted) for changes"

# ---- SIGHUP re-reads the tokens ----------------------------------------------------------
OLD=$WORK/a/old-token
cp -p "${TOKEN_FILE[a]}" "$OLD"
(umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"${TOKEN_FILE[a]}.new")
mv "${TOKEN_FILE[a]}.new" "${TOKEN_FILE[a]}"
kill -HUP "${PID[a]}"
code=000
for _ in $(seq 100); do
  code=$(with "$OLD" GET /v1/status)
  [[ $code == 401 ]] && break
  sleep 0.05
done
[[ $code == 401 ]] || fail "the old token still works after a SIGHUP rotated it: HTTP $code"
[[ $(api a GET /v1/status) == 200 ]] || fail "the rotated token: HTTP $STATUS"
wait_log a "the API tokens were re-read and changed"
ok "SIGHUP: a rotated token applies at once; the old one gets 401"

# A token file that fails a check at SIGHUP: refused, the current token stays.
GOOD=$(cat "${TOKEN_FILE[a]}")
refused_at_hup() {
  local what=$1 pattern=$2
  kill -HUP "${PID[a]}"
  wait_log a "$pattern"
  [[ $(with "$WORK/a/good" GET /v1/status) == 200 ]] || fail "$what: the current token stopped working"
}
(umask 077 && echo "$GOOD" >"$WORK/a/good")
mv "${TOKEN_FILE[a]}" "$WORK/a/token.real"
ln -s "$WORK/a/token.real" "${TOKEN_FILE[a]}"
refused_at_hup "a symlink" "is a symbolic link; accepted: a regular file holding the token"
rm "${TOKEN_FILE[a]}"
mv "$WORK/a/token.real" "${TOKEN_FILE[a]}"
chmod 620 "${TOKEN_FILE[a]}"
refused_at_hup "group-writable" "is writable by others than its owner (mode 0620)"
chmod 600 "${TOKEN_FILE[a]}"
echo short >"${TOKEN_FILE[a]}"
refused_at_hup "too short" "the token is 5 characters; accepted: at least 16"
echo "$GOOD" >"${TOKEN_FILE[a]}"
ok "SIGHUP: a symlinked, group-writable or short token file is refused and logged; the token stays"

# ---- srdxctl reads its token file the same way --------------------------------------------
ctl_refuses() {
  local file=$1 pattern=$2 rc=0
  "$SRDXCTL" --api "${CONTROL[a]}" --token-file "$file" status >/dev/null 2>"$WORK/ctl.err" || rc=$?
  [[ $rc == 2 ]] || fail "srdxctl with $file: exit $rc, expected 2"
  grep -q -- "$pattern" "$WORK/ctl.err" || fail "srdxctl with $file: message: $(cat "$WORK/ctl.err")"
}
ln -s "$WORK/a/good" "$WORK/a/link"
ctl_refuses "$WORK/a/link" "is a symbolic link"
(umask 077 && echo "$GOOD" >"$WORK/a/gw") && chmod 660 "$WORK/a/gw"
ctl_refuses "$WORK/a/gw" "writable by others than its owner"
(umask 022 && echo "$GOOD" >"$WORK/a/wr")
ctl_refuses "$WORK/a/wr" "world-readable"
(umask 077 && echo "tooshort" >"$WORK/a/short")
ctl_refuses "$WORK/a/short" "at least 16"
if [[ $EUID == 0 ]]; then
  (umask 077 && echo "$GOOD" >"$WORK/a/other") && chown 12345 "$WORK/a/other"
  ctl_refuses "$WORK/a/other" "owned by uid 12345"
fi
ok "srdxctl: the token file's checks are srdxd's (symlink, writable, readable, short, owner)"

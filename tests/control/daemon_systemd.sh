#!/bin/bash
# The installed srdxd.service and srdxd.conf.example as meson writes them:
# every @PATH@ filled in, the unit's config path, the example's token file and
# srdxd --help under one sysconfdir; a bad config cannot restart-loop (no
# ExecStartPre, RestartPreventExitStatus=2 for the daemon's own exit 2);
# no AmbientCapabilities without User=; reload checks the file before SIGHUP;
# the example itself passes --check-config.
#   daemon_systemd.sh SRDXD UNIT EXAMPLE
set -euo pipefail
SRDXD=${1:?usage: $0 SRDXD UNIT EXAMPLE}
UNIT=${2:?}
EXAMPLE=${3:?}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/srdx-systemd.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() { echo "ok: $*"; }

for f in "$UNIT" "$EXAMPLE"; do
  if grep -n '@[A-Z]*@' "$f"; then fail "$f: a @PATH@ left unfilled"; fi
done
ok "every @PATH@ filled in"

exec_start=$(grep '^ExecStart=' "$UNIT") || fail "no ExecStart= in the unit"
[[ $exec_start =~ ^ExecStart=(/[^ ]*)/srdxd\ --config\ (/[^ ]*)/srdx/srdxd\.conf$ ]] ||
  fail "unexpected $exec_start"
sbindir=${BASH_REMATCH[1]}
sysconfdir=${BASH_REMATCH[2]}
grep -qx "token-file = $sysconfdir/srdx/token" "$EXAMPLE" ||
  fail "the example's token-file is not under $sysconfdir/srdx: $(grep token-file "$EXAMPLE")"
grep -q -- "--config $sysconfdir/srdx/srdxd.conf" "$EXAMPLE" ||
  fail "the example does not name the unit's config file $sysconfdir/srdx/srdxd.conf"
# (Into a file: grep -q leaving a pipe early would fail it under pipefail.)
"$SRDXD" --help >"$WORK/help" || fail "srdxd --help failed"
grep -q -- "--config $sysconfdir/srdx/srdxd.conf" "$WORK/help" ||
  fail "srdxd --help does not name $sysconfdir/srdx/srdxd.conf"
ok "unit, example and --help agree on $sysconfdir/srdx (sbin $sbindir)"

grep -q '^ExecStartPre=' "$UNIT" &&
  fail "ExecStartPre= fails outside RestartPreventExitStatus= (a bad config would restart-loop)"
grep -qx 'RestartPreventExitStatus=2' "$UNIT" || fail "no RestartPreventExitStatus=2"
grep -qx 'Restart=on-failure' "$UNIT" || fail "no Restart=on-failure"
if grep -q '^AmbientCapabilities=' "$UNIT" && ! grep -q '^User=' "$UNIT"; then
  fail "AmbientCapabilities= without User= means nothing"
fi
mapfile -t reload < <(grep '^ExecReload=' "$UNIT")
[[ ${#reload[@]} == 2 && ${reload[0]} == "ExecReload=$sbindir/srdxd --check-config --config $sysconfdir/srdx/srdxd.conf" &&
  ${reload[1]} == 'ExecReload=/bin/kill -HUP $MAINPID' ]] ||
  fail "ExecReload= should check the file, then send SIGHUP: ${reload[*]}"
ok "no restart loop on a bad config; reload checks before SIGHUP; no capabilities without a user"

# The srdxd exit status the unit relies on: 2 for a bad configuration.
rc=0
"$SRDXD" --config "$WORK/none.conf" >"$WORK/out" 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "srdxd with a missing config: exit $rc, expected 2 ($(cat "$WORK/out"))"

# The example is a valid configuration (with a token file and a private key
# of ours; the key is a fixed test key, made once with srdxctl genkey).
grep -qx "private-key-file = $sysconfdir/srdx/private.key" "$EXAMPLE" ||
  fail "the example's private-key-file is not $sysconfdir/srdx/private.key"
(umask 077 && echo s3cret-0123456789abcdef >"$WORK/token" &&
  echo '5dDSLHzURjXoXbJMnP4GHXN/fji+QTleJHydRWE9/mM=' >"$WORK/private.key")
sed -e "s|^token-file = .*|token-file = $WORK/token|" \
  -e "s|^private-key-file = .*|private-key-file = $WORK/private.key|" "$EXAMPLE" >"$WORK/srdxd.conf"
out=$("$SRDXD" --check-config --config "$WORK/srdxd.conf" 2>&1) || fail "the example: $out"
[[ $out == "config ok" ]] || fail "the example: $out"
ok "the example passes --check-config; a missing config exits 2"

#!/bin/bash
# srdxd's configuration checks: `srdxd --check-config` prints "config ok" or
# one line naming what is wrong and exits 0 or 2, and a daemon started with
# the same bad configuration refuses to start the same way (exit 2, that
# one line, nothing listening).
#   config.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

node_new a
node_new b

# check_config WANT_RC PATTERN [SRDXD ARGS...]: --check-config prints exactly
# one line matching PATTERN and exits WANT_RC.
check_config() {
  local want=$1 pattern=$2
  shift 2
  local rc=0
  timeout 10 "$SRDXD" --check-config "$@" >"$WORK/check.out" 2>&1 || rc=$?
  [[ $rc == "$want" ]] || fail "srdxd --check-config $*: exit $rc, expected $want: $(cat "$WORK/check.out")"
  local lines
  lines=$(grep -c . "$WORK/check.out" || true)
  [[ $lines == 1 ]] || fail "srdxd --check-config $*: $lines lines, expected one:
$(cat "$WORK/check.out")"
  grep -Eq -- "$pattern" "$WORK/check.out" ||
    fail "srdxd --check-config $*: '$(cat "$WORK/check.out")' does not match '$pattern'"
}

# refuse_start PATTERN: srdxd --config a's file exits 2 with that one line and
# never answers on its control port.
refuse_start() {
  local pattern=$1 rc=0
  timeout 5 "$SRDXD" --config "${CONFIG[a]}" >"$WORK/start.out" 2>&1 || rc=$?
  [[ $rc == 2 ]] || fail "srdxd with a bad config: exit $rc, expected 2: $(cat "$WORK/start.out")"
  grep -Eq -- "$pattern" "$WORK/start.out" ||
    fail "srdxd with a bad config: '$(cat "$WORK/start.out")' does not match '$pattern'"
  local lines
  lines=$(grep -c . "$WORK/start.out" || true)
  [[ $lines == 1 ]] || fail "srdxd with a bad config printed $lines lines, expected one:
$(cat "$WORK/start.out")"
  [[ $(api a GET /v1/status) == 000 ]] || fail "a refused daemon answered on its control port"
}

# A good configuration, from the file and from the command line alone.
node_config a b
check_config 0 '^config ok$' --config "${CONFIG[a]}"
check_config 0 '^config ok$' --link.kind udp --link.local "127.0.0.1:${LOCAL_PORT[a]}" \
  --link.entropy-ports "$((LOCAL_PORT[a] + 1)):8" --peers.peer "$(peer_spec b)" \
  --control.listen "${CONTROL[a]}" --control.token-file "${TOKEN_FILE[a]}" \
  --keys.private-key-file "${KEY_FILE[a]}" --services.tcp-echo "127.0.0.1:${ECHO_PORT[a]}" --log.level info --daemon.drain-timeout 5s
ok "a good configuration: config ok, exit 0"

# A world-readable token file.
chmod 0644 "${TOKEN_FILE[a]}"
check_config 2 'token' --config "${CONFIG[a]}"
grep -Eqi 'readable|permission|mode|0?6[0-7]4' "$WORK/check.out" ||
  fail "world-readable token: the message does not say why: $(cat "$WORK/check.out")"
refuse_start 'token'
chmod 0600 "${TOKEN_FILE[a]}"
ok "world-readable token file refused (check and start)"

# A missing token file, an empty one.
check_config 2 'token' --link.local "127.0.0.1:${LOCAL_PORT[a]}" \
  --link.entropy-ports "$((LOCAL_PORT[a] + 1)):8" --control.token-file "$WORK/no-such-token"
(umask 077 && : >"$WORK/empty-token")
check_config 2 'token' --link.local "127.0.0.1:${LOCAL_PORT[a]}" \
  --link.entropy-ports "$((LOCAL_PORT[a] + 1)):8" --control.token-file "$WORK/empty-token"
ok "missing and empty token files refused"

# A bad MTU, in the file and on the command line.
node_config a b -- "[link]" "mtu = 100"
check_config 2 'link\.mtu' --config "${CONFIG[a]}"
refuse_start 'link\.mtu'
node_config a b
check_config 2 'link\.mtu' --config "${CONFIG[a]}" --link.mtu 99999
ok "bad mtu refused (check and start)"

# Bad addresses: link.local, a peer, control.listen.
for bad in 300.1.2.3:5000 127.0.0.1:99999 127.0.0.1 localhost:x; do
  node_config a b
  sed -i "s/^local = .*/local = $bad/" "${CONFIG[a]}"
  check_config 2 'link\.local' --config "${CONFIG[a]}"
done
refuse_start 'link\.local'
node_config a b
sed -i "s/^peer = .*/peer = b=999.0.0.1:1/" "${CONFIG[a]}"
check_config 2 'peers\.peer' --config "${CONFIG[a]}"
refuse_start 'peers\.peer'
node_config a b
sed -i "s/^listen = .*/listen = 127.0.0.1:/" "${CONFIG[a]}"
check_config 2 'control\.listen' --config "${CONFIG[a]}"
ok "bad addresses refused (link.local, peers.peer, control.listen)"

# Other mistakes: an unknown option, a bad value, a missing file.
node_config a b -- "[link]" "colour = blue"
check_config 2 'colour' --config "${CONFIG[a]}"
refuse_start 'colour'
node_config a b
check_config 2 'log\.level' --config "${CONFIG[a]}" --log.level chatty
check_config 2 'drain' --config "${CONFIG[a]}" --daemon.drain-timeout soon
check_config 2 'no-such' --config "$WORK/no-such.conf"
check_config 2 "^srdxd: --config: $WORK/a is a directory; accepted: a readable INI file\$" --config "$WORK/a"
ok "unknown option, bad values and a missing config file refused"

say "all configuration checks passed"

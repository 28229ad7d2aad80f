#!/bin/bash
# The control API against slow and greedy clients (control/api.cc): srdxd a
# with control.request-timeout = 2s, 3 workers, no queue, 2 connections per
# client IP. slowclients.py then checks that
#  - a client trickling a header byte every 0.2 s is cut off (408), although
#    no single read ever waits long;
#  - a legitimate request is served while slow clients hold connections;
#  - the (cap+1)th connection from one IP is refused at once (503), while
#    another IP is served;
#  - with every worker busy and no queue, a connection is refused at once (503);
# and that /v1/counters and srdx_api_connections_refused_total{reason} count
# each refusal.
#   slowloris.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

node_new a
node_config a -- "[control]" "request-timeout = 2s" "workers = 3" "queue = 0" \
  "max-connections-per-client = 2"
node_start a
say "srdxd a on ${CONTROL[a]}: request-timeout 2s, 3 workers, queue 0, 2 connections per client"

"$PY" "$HERE/slowclients.py" "${CONTROL[a]}" "${TOKEN_FILE[a]}" 3 2 || fail "slow clients"

call 200 a GET /v1/counters
expect 'd["api"]["connections_refused"]["deadline"] >= 3' "deadline refusals counted (1 + 2 + 3)"
expect 'd["api"]["connections_refused"]["per_client"] >= 1' "per-client refusals counted"
expect 'd["api"]["connections_refused"]["queue_full"] >= 1' "queue-full refusals counted"
refused=$(jv 'd["api"]["connections_refused"]')
for reason in deadline per_client queue_full; do
  metric_at_least a 1 srdx_api_connections_refused_total "reason=$reason" ||
    fail "srdx_api_connections_refused_total{reason=$reason}"
done
grep -q "api: closed a connection from 127.0.0.2 unserved (deadline; 1 so far)" "${LOG[a]}" ||
  fail "the log does not name the first slow client"
ok "refusals counted: $refused"

# The daemon stops promptly although clients hold connections.
"$PY" - "${CONTROL[a]}" <<'PY' &
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
socks = [socket.create_connection((host, int(port))) for _ in range(2)]
time.sleep(30)
PY
BACKGROUND+=($!)
sleep 0.5
kill -TERM "${PID[a]}"
wait "${PID[a]}" || fail "srdxd a did not stop cleanly with idle API connections open"
unset 'PID[a]'
ok "srdxd stopped cleanly with idle API connections open"

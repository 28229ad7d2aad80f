#!/bin/bash
# The udp link's local address going away and coming back, in a network
# namespace of the test's own (unshare --net: it goes when the test ends).
# Two appliances on a veth pair (a 10.77.0.1, b 10.77.0.2); a probes b with
# srdx pings while a's address is deleted and, once a reports its link down,
# added again:
#   - a reports it: /v1/status link.up false, srdx_link_up 0, a log line;
#   - b, whose echoes to a go nowhere meanwhile, stays up;
#   - a reports the link up again, counts one down and one up event;
#   - every message arrives exactly once: b's echoes (60 s deadline) sent =
#     completed = received by a; a's pings (the probe's 1 s deadline) each
#     completed, or failed and counted lost by the probe, none delivered twice.
# Needs root (a network namespace); skipped otherwise.
#   udp_address.sh SRDXD SRDXCTL
set -euo pipefail
if [[ -z ${SRDX_IN_NETNS:-} ]]; then
  if [[ $(id -u) != 0 ]] || ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
    echo "SKIP: needs root, unshare and ip (a network namespace)"
    exit 77
  fi
  SRDX_IN_NETNS=1 exec unshare --net -- "$0" "$@"
fi
ip link set lo up
ip link add v0 type veth peer name v1
ip link set v0 up
ip link set v1 up
ip addr add 10.77.0.1/24 dev v0
ip addr add 10.77.0.2/24 dev v1

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

node_new a 10.77.0.1
node_new b 10.77.0.2
# Peers and messages wait 60 s: the outage below must not fail them.
ENGINE=("[engine]" "peer-timeout = 60s" "message-timeout = 60s")
node_config a b -- "${ENGINE[@]}"
node_config b a -- "${ENGINE[@]}"
node_start a
node_start b
say "a on 10.77.0.1:${LOCAL_PORT[a]}, b on 10.77.0.2:${LOCAL_PORT[b]} (veth, own netns)"

link_up() { [[ $(api "$1" GET /v1/status) == 200 ]] && [[ $(jv 'd["link"].get("up")') == "$2" ]]; }
call 200 a GET /v1/status
expect 'd["link"]["up"] is True' "a's link up at start"

probe=$(probe_start a b srdx 3000 1000)
wait_for 10 "a's probe under way" probe_past a "$probe" 50

ip addr del 10.77.0.1/24 dev v0
wait_for 10 "a reports its link down" link_up a false
expect 'd["link"]["port_events"]["link_down_events"] == 1' "one down event"
metrics a
[[ $(mv_of a srdx_link_up kind=udp) == 0 ]] || fail "srdx_link_up at a: $(mv_of a srdx_link_up kind=udp)"
grep -q "link udp 10.77.0.1:${LOCAL_PORT[a]} down: its local address is no longer the host's" "${LOG[a]}" ||
  fail "a's log does not say its link went down"
sleep 1
call 200 b GET /v1/status
expect 'd["link"]["up"] is True' "b's link stays up while its echoes to a go nowhere"
ok "a's address gone: link.up false, srdx_link_up 0, logged; b unaffected"

ip addr add 10.77.0.1/24 dev v0
wait_for 10 "a reports its link up again" link_up a true
expect 'd["link"]["port_events"]["link_up_events"] == 1 and d["link"]["port_events"]["link_down_events"] == 1' \
  "one down and one up event"
grep -q "link udp 10.77.0.1:${LOCAL_PORT[a]} up again after" "${LOG[a]}" ||
  fail "a's log does not say its link came back"
ok "a's address back: link.up true, logged"

wait_for 60 "a's probe finished" probe_over a "$probe"
call 200 a GET "/v1/probes/$probe"
expect 'd["state"] == "done"' "the probe across the outage completed"

# Exactly once. b's echoes (no deadline of their own: engine.message-timeout,
# 60 s) all arrive, once: b sent = completed = received by a. a's pings carry
# the probe's 1 s deadline: one in flight across the outage may fail by it
# (the probe counts it lost), never vanish; none arrives twice.
lost=$(jv 'd["results"]["srdx"]["lost"]')
settled() {
  local as ac af ar bs bc bf br
  api a GET /v1/counters >/dev/null
  read -r as ac af ar <<<"$(jv "$COUNTS")"
  api b GET /v1/counters >/dev/null
  read -r bs bc bf br <<<"$(jv "$COUNTS")"
  SUMMARY="a sent $as completed $ac failed $af received $ar; b sent $bs completed $bc failed $bf received $br; the probe lost $lost"
  [[ $bs == "$bc" && $bs == "$ar" && $bf == 0 && $((ac + af)) == "$as" ]] || return 1
  [[ $af == "$lost" ]] || fail "a's failed messages are not the probe's lost pings: $SUMMARY"
  [[ $br -ge $ac && $br -le $((ac + af)) ]] || fail "b received a message twice or one never sent: $SUMMARY"
}
COUNTS='" ".join(str(d["endpoint"][k]) for k in ("messages_sent", "messages_completed", "messages_failed", "messages_received"))'
SUMMARY=
wait_for 60 "every message settled" settled
ok "exactly once across the outage: $SUMMARY"

say "all udp address checks passed"

#!/bin/bash
# srdxd a's RSS before and after a probe of N srdx pings (default 300000,
# interval 0) to b on loopback, and how long GET /v1/probes/{id} takes while
# it runs (polled every 100 ms, as srdxctl probe does). Not a test: figures.
#   N=300000 bench/probe_rss.sh build/control/srdxd build/apps/ctl/srdxctl
# shellcheck source-path=SCRIPTDIR source=../tests/control/lib.sh
source "$(dirname "$0")/../tests/control/lib.sh" "$1" "$2"
N=${N:-300000}
node_new a; node_new b; node_config a b; node_config b a
node_start a; node_start b
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/${PID[a]}/status"; }
r0=$(rss)
code=$(api a POST /v1/probes "{\"peer\":\"b\",\"transport\":\"srdx\",\"count\":$N,\"interval_us\":0,\"lease_s\":0}")
[[ $code == 202 ]] || fail "POST /v1/probes: HTTP $code ($(cat "$BODY"))"
id=$(jv 'd["id"]')
times=()
while [[ $(probe_state a "$id") == running ]]; do
  t=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $(cat "${TOKEN_FILE[a]}")" "http://${CONTROL[a]}/v1/probes/$id")
  times+=("$t"); sleep 0.1
done
r1=$(rss)
api a GET "/v1/probes/$id" >/dev/null
echo "pings=$(jv 'd["results"]["srdx"]["count"]') p50_us=$(jv 'd["results"]["srdx"]["p50_us"]') p99_us=$(jv 'd["results"]["srdx"]["p99_us"]') storage_bytes=$(jv 'd["storage_bytes"]')"
echo "rss_kb before=$r0 after=$r1"
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print "GET during probe: n=" NR " median_s=" a[int(NR/2)+1] " max_s=" a[NR]}'

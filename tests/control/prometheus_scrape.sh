#!/bin/bash
# A real Prometheus (Debian prometheus) scrapes srdxd with the read-only
# token (issue 17): srdxd a with control.read-token-file, a Prometheus of
# its own (scrape interval 1 s, the read-only token as its bearer token
# file, storage in the temp dir, listening on a free loopback port), a
# probe from a to b running while it scrapes. Then:
#  - the target is up (/api/v1/targets: health "up", no scrape error);
#  - promtool check metrics finds nothing to say of what it scrapes;
#  - histogram_quantile(0.99, ...) over srdx_probe_rtt_seconds answers a
#    finite, positive value through /api/v1/query (and so does the p50).
# Everything it starts is stopped and its files removed on exit.
#   prometheus_scrape.sh SRDXD SRDXCTL
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

for tool in prometheus promtool; do
  command -v "$tool" >/dev/null ||
    fail "$tool is not installed (package prometheus; scripts/bootstrap installs it)"
done

node_new a
node_new b
READ_TOKEN=$WORK/a/read-token
(umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$READ_TOKEN")
node_config a b -- "[control]" "read-token-file = $READ_TOKEN"
node_config b a
node_start a
node_start b

PROM_PORT=$("$PY" "$HERE/ctltest.py" ports 1 $$)
PROM=127.0.0.1:$PROM_PORT
mkdir -p "$WORK/prometheus/data"
cat >"$WORK/prometheus/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: srdxd
    authorization:
      type: Bearer
      credentials_file: $READ_TOKEN
    static_configs:
      - targets: ['${CONTROL[a]}']
YAML
promtool check config "$WORK/prometheus/prometheus.yml" >/dev/null 2>"$WORK/prometheus/check.err" ||
  fail "promtool check config: $(cat "$WORK/prometheus/check.err")"
prometheus --config.file="$WORK/prometheus/prometheus.yml" \
  --storage.tsdb.path="$WORK/prometheus/data" --web.listen-address="$PROM" \
  --log.level=warn >"$WORK/prometheus/log" 2>&1 &
BACKGROUND+=("$!")
say "srdxd a on ${CONTROL[a]} (read-only token for Prometheus), b on ${CONTROL[b]}, prometheus on $PROM"

# prom PATH [CURL_ARGS...]: a GET of Prometheus's HTTP API into $BODY.
prom() {
  local path=$1
  shift
  STATUS=$(curl -sS -o "$BODY" -w '%{http_code}' --max-time 5 -G "$@" "http://$PROM$path" 2>/dev/null) ||
    STATUS=000
  [[ $STATUS == 200 ]]
}
prom_ready() { prom /-/ready; }
wait_for 30 "prometheus ready (log: $(tail -n 3 "$WORK/prometheus/log" 2>/dev/null))" prom_ready

# A probe that runs through the scrapes (1 ping every 2 ms over each transport).
id=$(probe_start a b srdx 1000000 2000)
id_tcp=$(probe_start a b tcp 1000000 2000)

# The target is up, scraped with the read-only token.
target_up() {
  prom /api/v1/targets &&
    [[ $(jv '[t["health"] for t in d["data"]["activeTargets"] if t["labels"]["job"] == "srdxd"] == ["up"]') == true ]]
}
wait_for 20 "the srdxd target up in /api/v1/targets" target_up
expect 'd["data"]["activeTargets"][0]["lastError"] == ""' "no scrape error"
ok "prometheus scrapes srdxd with the read-only token: target up"

# What it scrapes (the read-only token's /metrics) passes promtool.
STATUS=$(curl -sS -o "$WORK/scraped.txt" -w '%{http_code}' --max-time 10 \
  -H "Authorization: Bearer $(cat "$READ_TOKEN")" "http://${CONTROL[a]}/metrics") || STATUS=000
[[ $STATUS == 200 ]] || fail "GET /metrics with the read-only token: HTTP $STATUS"
prom_lint "$WORK/scraped.txt"
"$PY" "$HERE/prom_check.py" "$WORK/scraped.txt" --require srdx_probe_rtt_seconds >/dev/null ||
  fail "the scraped text is not valid Prometheus text"
ok "promtool check metrics: clean"

# histogram_quantile over the probe histograms answers (once two scrapes
# with samples between them are in).
QUERY='histogram_quantile(0.99, sum by (le, instance) (rate(srdx_probe_rtt_seconds_bucket{job="srdxd",transport="srdx"}[1m])))'
quantile_answers() {
  prom /api/v1/query --data-urlencode "query=$1" &&
    [[ $(jv 'd["status"] == "success" and len(d["data"]["result"]) == 1 and 0 < float(d["data"]["result"][0]["value"][1]) < 1') == true ]]
}
wait_for 20 "$QUERY: one finite, positive value" quantile_answers "$QUERY"
p99=$(jv 'd["data"]["result"][0]["value"][1]')
expect "d['data']['result'][0]['metric'] == {'instance': '${CONTROL[a]}'}" "the result keeps instance"
quantile_answers "${QUERY/0.99/0.5}" || fail "the p50 query: $(head -c 500 "$BODY")"
p50=$(jv 'd["data"]["result"][0]["value"][1]')
QUERY_TCP=${QUERY/transport=\"srdx\"/transport=\"tcp\"}
quantile_answers "$QUERY_TCP" || fail "the tcp p99 query: $(head -c 500 "$BODY")"
ok "histogram_quantile over srdx_probe_rtt_seconds: srdx p50 ${p50}s, p99 ${p99}s"

# Every query of the Grafana dashboard is PromQL this Prometheus evaluates
# (its variables replaced by what Grafana would put there).
"$PY" - "$HERE/../../dashboards/srdx-grafana.json" "$PROM" <<'PYEOF' || fail "dashboard queries Prometheus refuses (above)"
import json, sys, urllib.parse, urllib.request
sys.path.insert(0, sys.argv[1].rsplit("/dashboards/", 1)[0] + "/tests/control")
from dashboard_check import exprs
bad, n = [], 0
for title, expr in exprs(json.load(open(sys.argv[1], encoding="utf-8"))):
    q = expr
    for var, value in (("$__rate_interval", "1m"), ("$__range", "5m"), ("$instance", ".*"),
                       ("$peer", ".*"), ("$source", ".*")):
        q = q.replace(var, value)
    url = f"http://{sys.argv[2]}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    try:
        status = json.load(urllib.request.urlopen(url, timeout=5))["status"]
    except Exception as e:  # 400 with the parse error
        status = str(e)
    n += 1
    if status != "success":
        bad.append(f"{title}: {q}: {status}")
print("\n".join(bad) or f"{n} dashboard queries evaluated", file=sys.stderr if bad else sys.stdout)
sys.exit(1 if bad else 0)
PYEOF
ok "every dashboard query evaluates"

for p in "$id" "$id_tcp"; do call 200 a DELETE "/v1/probes/$p"; done

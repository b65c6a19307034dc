#!/usr/bin/env bash
# Prometheus against a running prickle (issue 17 item 6): starts Debian's
# `prometheus` with a generated configuration in a temporary directory,
# scraping `<BASE_URL>/metrics` every second; makes N requests to prickle
# (N GET /_health, and N authenticated GET /api/users/@me/ when a key is
# given); then reads the counters back through Prometheus's HTTP API and
# waits until each grew by exactly N: `http_requests_total` and the
# histogram's `http_request_duration_seconds_count` for that route template.
# Exits 0 when every counter grew by exactly N, non-zero with a message
# otherwise; Prometheus is always stopped and its directory removed.
#
# Usage: scripts/prometheus_check.sh BASE_URL [KEY]
#   PRICKLE_METRICS_URL     where the metrics are (default BASE_URL/metrics; set
#                           it when the server runs with PRICKLE_METRICS_BIND)
#   PRICKLE_PROM_REQUESTS   N (default 10)
#   PRICKLE_PROM_TIMEOUT    seconds to wait for Prometheus and the counters (default 20)
#   PRICKLE_PROM_DASHBOARD  a Grafana dashboard (docs/grafana-dashboard.json): every
#                           query of it must parse in this Prometheus too
#   PROMETHEUS_BIN          the binary (default: `prometheus` on PATH)
# Needs curl and python3.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 BASE_URL [KEY]" >&2
  exit 2
fi
base="${1%/}"
key="${2:-}"
metrics_url="${PRICKLE_METRICS_URL:-${base}/metrics}"
requests="${PRICKLE_PROM_REQUESTS:-10}"
timeout="${PRICKLE_PROM_TIMEOUT:-20}"
prometheus="${PROMETHEUS_BIN:-$(command -v prometheus || true)}"
[ -x "$prometheus" ] || {
  echo "prometheus_check: no prometheus binary (apt-get install prometheus, or set PROMETHEUS_BIN)" >&2
  exit 2
}

fail() {
  echo "prometheus_check: FAIL: $*" >&2
  exit 1
}

work="$(mktemp -d)"
prom_pid=""
stop_prometheus() {
  if [ -n "$prom_pid" ]; then
    kill "$prom_pid" 2>/dev/null || true
    wait "$prom_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop_prometheus EXIT

# The scrape target from the metrics URL: scheme, host:port, path.
read -r scheme target metrics_path < <(python3 - "$metrics_url" <<'EOF'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
if u.scheme not in ("http", "https") or not u.netloc:
    sys.exit("not an http(s) URL: " + sys.argv[1])
port = u.port or (443 if u.scheme == "https" else 80)
print(u.scheme, f"{u.hostname}:{port}", u.path or "/")
EOF
) || fail "cannot read the metrics URL ${metrics_url}"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
prom="http://127.0.0.1:${port}"
cat >"${work}/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: prickle
    scheme: ${scheme}
    metrics_path: "${metrics_path}"
    static_configs:
      - targets: ["${target}"]
EOF

"$prometheus" --config.file="${work}/prometheus.yml" \
  --storage.tsdb.path="${work}/data" \
  --web.listen-address="127.0.0.1:${port}" \
  --log.level=warn >"${work}/prometheus.log" 2>&1 &
prom_pid=$!

deadline=$((SECONDS + timeout))
prometheus_log() {
  if [ -s "${work}/prometheus.log" ]; then
    echo "--- prometheus log (last lines)" >&2
    tail -n 20 "${work}/prometheus.log" >&2
  fi
}
until curl -fsS -o /dev/null "${prom}/-/ready" 2>/dev/null; do
  kill -0 "$prom_pid" 2>/dev/null || { prometheus_log; fail "prometheus exited on start"; }
  [ "$SECONDS" -lt "$deadline" ] || { prometheus_log; fail "prometheus not ready within ${timeout}s"; }
  sleep 0.2
done

# The value of an instant query: the sum of its samples, "absent" when it has none.
query() {
  curl -fsS -G --data-urlencode "query=$1" "${prom}/api/v1/query" | python3 -c '
import json, sys
body = json.load(sys.stdin)
if body.get("status") != "success":
    sys.exit("query failed: %s" % body)
result = body["data"]["result"]
if not result:
    print("absent")
else:
    total = sum(float(r["value"][1]) for r in result)
    print(int(total) if total.is_integer() else total)
'
}

# A first successful scrape, so that the counters read next were taken
# before the requests below.
while [ "$(query 'up{job="prickle"}')" != "1" ]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    prometheus_log
    error="$(curl -fsS "${prom}/api/v1/targets" | python3 -c '
import json, sys
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    print(t.get("scrapeUrl"), t.get("health"), t.get("lastError"))
' || true)"
    fail "prometheus could not scrape ${metrics_url} within ${timeout}s: ${error}"
  fi
  sleep 0.2
done

# What is checked: one entry per (route template, the request that reaches it).
routes=("/_health")
paths=("/_health")
if [ -n "$key" ]; then
  routes+=("/api/users/{uuid}")
  paths+=("/api/users/@me/")
fi
exprs=()
for route in "${routes[@]}"; do
  labels="job=\"prickle\",method=\"GET\",route=\"${route}\",status=\"200\""
  exprs+=("sum(http_requests_total{${labels}})" "sum(http_request_duration_seconds_count{${labels}})")
done
before=()
for expr in "${exprs[@]}"; do
  value="$(query "$expr")" || fail "cannot query prometheus: ${expr}"
  [ "$value" = "absent" ] && value=0
  before+=("$value")
done

for i in "${!paths[@]}"; do
  auth=()
  [ "${paths[$i]}" = "/_health" ] || auth=(-H "Authorization: Bearer ${key}")
  for _ in $(seq 1 "$requests"); do
    curl -fsS -o /dev/null ${auth[@]+"${auth[@]}"} "${base}${paths[$i]}" ||
      fail "GET ${paths[$i]} failed"
  done
done

for i in "${!exprs[@]}"; do
  want=$((before[i] + requests))
  while :; do
    value="$(query "${exprs[$i]}")" || fail "cannot query prometheus: ${exprs[$i]}"
    if [ "$value" = "absent" ]; then
      [ "$SECONDS" -lt "$deadline" ] ||
        fail "prometheus has no series for ${exprs[$i]} after ${timeout}s (expected ${want}): does ${metrics_url} export it?"
      sleep 0.25
      continue
    fi
    [ "$value" = "$want" ] && break
    case "$value" in
    *[!0-9]*) fail "${exprs[$i]} is ${value}, not a whole number" ;;
    esac
    [ "$value" -le "$want" ] ||
      fail "${exprs[$i]} grew from ${before[$i]} to ${value} after ${requests} requests (expected exactly ${requests})"
    [ "$SECONDS" -lt "$deadline" ] ||
      fail "${exprs[$i]} is ${value} after ${timeout}s, expected ${want} (${before[$i]} + ${requests} requests)"
    sleep 0.25
  done
  echo "prometheus_check: ${exprs[$i]}: ${before[$i]} -> ${value} (+${requests})"
done
if [ -n "${PRICKLE_PROM_DASHBOARD:-}" ]; then
  # Grafana's variables as a dashboard showing everything sets them.
  python3 - "$PRICKLE_PROM_DASHBOARD" "$prom" <<'EOF' || fail "a query of ${PRICKLE_PROM_DASHBOARD} does not parse"
import json, sys, urllib.error, urllib.parse, urllib.request
dashboard, prom = json.load(open(sys.argv[1])), sys.argv[2]
def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))
exprs = [(p["title"], t["expr"]) for p in panels(dashboard["panels"]) for t in p.get("targets", [])]
for v in dashboard.get("templating", {}).get("list", []):
    q = v.get("query", {})
    q = q.get("query", "") if isinstance(q, dict) else q
    if q.startswith("label_values(") and "," in q:
        exprs.append(("variable " + v["name"], q[len("label_values("):q.rindex(",")]))
bad = 0
for title, expr in exprs:
    e = expr.replace("$__rate_interval", "1m").replace("$job", ".*").replace("$instance", ".*")
    try:
        urllib.request.urlopen(prom + "/api/v1/query?" + urllib.parse.urlencode({"query": e}))
    except urllib.error.HTTPError as err:
        bad += 1
        print(f"prometheus_check: {title!r}: {expr}: {json.load(err).get('error')}", file=sys.stderr)
print(f"prometheus_check: {len(exprs)} dashboard queries, {bad} refused")
sys.exit(1 if bad else 0)
EOF
fi
echo "prometheus_check: OK (Prometheus read every counter back, each grew by exactly ${requests})"

#!/usr/bin/env bash
# Alerting rules and dashboards against Prometheus itself:
#   1. promtool check rules (the plain file and the PrometheusRule's groups), promtool check config
#      (the docker-compose Prometheus), promtool test rules (every alert fires and stays silent);
#   2. a real Prometheus on 127.0.0.1 scraping a running `$FORGE_BIN serve` (target label
#      service="forge-api", as the Prometheus Operator sets it), the rules loaded; then every
#      dashboard query and every rule expression evaluated through /api/v1/query with data required,
#      every rule healthy, no alert firing on a healthy service;
#   3. broken copies (bad duration, bad PromQL, a loosened threshold, a misspelt metric) must fail.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

need_cmd promtool prometheus curl node || { finish; exit 1; }
need_node_modules || { finish; exit 1; }

MON="$FORGE_SRC/deploy/monitoring"
RULES="$MON/alerts.yaml"
DASH="$MON/dashboards/forge.json"
UNIT="$DEPLOY_TESTS_DIR/promtool/alerts_test.yml"
tmp="$(make_tmp)"

# ---- 1. static checks ----------------------------------------------------------------------------
check "promtool check rules deploy/monitoring/alerts.yaml" promtool check rules "$RULES"
NODE_PATH="$NODE_MODULES" node -e '
  const Y = require("yaml"), fs = require("fs");
  const pr = Y.parse(fs.readFileSync(process.argv[1], "utf8"));
  fs.writeFileSync(process.argv[2], Y.stringify({ groups: pr.spec.groups }));
' "$MON/prometheusrule.yaml" "$tmp/from-crd.yaml"
check "promtool check rules on the PrometheusRule's spec.groups" promtool check rules "$tmp/from-crd.yaml"
check "promtool test rules (every alert fires with its labels/annotations, and stays silent)" \
    promtool test rules "$UNIT"
sed "s#/etc/prometheus/alerts.yaml#$RULES#" "$MON/prometheus/prometheus.yml" >"$tmp/compose-prometheus.yml"
check "promtool check config of the docker-compose Prometheus" promtool check config "$tmp/compose-prometheus.yml"

# unit tests cover every alert: each alertname appears in an alert_rule_test with exp_alerts
alerts="$(grep -E '^\s*- alert: ' "$RULES" | awk '{print $3}' | sort -u)"
missing=""
for a in $alerts; do
    grep -Eq "alertname: $a\$" "$UNIT" || missing="$missing $a"
done
if [ -z "$missing" ]; then pass "promtool unit tests name every alert ($(echo $alerts | wc -w))"; else fail "alerts without unit tests:$missing"; fi

# ---- 3a. static negatives --------------------------------------------------------------------------
sed '0,/for: 5m/ s/for: 5m/for: 5 minutes/' "$RULES" >"$tmp/bad-for.yaml"
check_fails_matching "rule with 'for: 5 minutes' is rejected" 'not a valid duration|unknown unit|cannot unmarshal' \
    promtool check rules "$tmp/bad-for.yaml"
sed 's/forge:sli_error_ratio:rate5m > 0.05/(forge:sli_error_ratio:rate5m > 0.05/' "$RULES" >"$tmp/bad-promql.yaml"
check_fails_matching "rule with unbalanced PromQL is rejected" 'parse error|unclosed' promtool check rules "$tmp/bad-promql.yaml"
# a loosened threshold must make the unit tests fail (they have teeth)
mkdir -p "$tmp/neg/deploy/monitoring" "$tmp/neg/tests/deploy/promtool"
sed 's/forge:sli_error_ratio:rate5m > 0.05/forge:sli_error_ratio:rate5m > 0.5/' "$RULES" >"$tmp/neg/deploy/monitoring/alerts.yaml"
cp "$UNIT" "$tmp/neg/tests/deploy/promtool/alerts_test.yml"
check_fails_matching "unit tests catch HighErrorRate loosened to 50 %" 'alertname: HighErrorRate' \
    promtool test rules "$tmp/neg/tests/deploy/promtool/alerts_test.yml"
# and a missing `for:` (alert pages on a single bad scrape)
sed '/- alert: PodNotReady/,/for: 5m/ s/        for: 5m/        for: 0s/' "$RULES" >"$tmp/neg/deploy/monitoring/alerts.yaml"
check_fails_matching "unit tests catch PodNotReady without its 5m 'for'" 'alertname: PodNotReady' \
    promtool test rules "$tmp/neg/tests/deploy/promtool/alerts_test.yml"

# ---- 2. real Prometheus scraping a running forge ---------------------------------------------------
if [ ! -x "$FORGE_BIN" ]; then
    fail "FORGE_BIN ($FORGE_BIN) is not an executable: cannot run the scrape test"
    finish
    exit 1
fi
fport="$(free_port)"
pport="$(free_port)"
mkdir -p "$tmp/forge" "$tmp/prom"
(
    cd "$tmp/forge"
    exec env -i PATH="$PATH" HOME="$tmp/forge" ENVIRONMENT=development LOG_LEVEL=warning \
        FORGE_ADMIN_EMAIL=admin@forge.test FORGE_ADMIN_PASSWORD=Adm1nPassw0rd! \
        DATABASE_URL="sqlite://$tmp/forge/forge.db" "$FORGE_BIN" serve --host 127.0.0.1 --port "$fport"
) >"$tmp/forge.log" 2>&1 &
forge_pid=$!
on_exit "kill $forge_pid; wait $forge_pid"
F="http://127.0.0.1:$fport"
if wait_http "$F/health/ready" 30; then
    pass "forge serve is ready on 127.0.0.1:$fport"
else
    fail "forge serve did not become ready"
    sed 's/^/    | /' "$tmp/forge.log" | tail -n 20
    finish
    exit 1
fi
# Overlay series exist only once an overlay ran (their labels name it): register, activate and
# invoke a trivial overlay once successfully and once failing, so the overlay panels and the
# ForgeOverlayFailures alert are evaluated against real series.
check "overlay traffic for the overlay panels and alert" python3 - "$F" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["data"]
tok = call("POST", "/api/v1/auth/login",
           {"email": "admin@forge.test", "password": "Adm1nPassw0rd!"})["access_token"]
ov = call("POST", "/api/v1/overlays", {"manifest": {"name": "probe", "version": "1.0.0",
          "capabilities": []}, "source": "function process(input) if input and input.fail then error('probe failure') end "
          "return {ok = true} end"}, tok)
call("POST", "/api/v1/overlays/%s/activate" % ov["id"], None, tok)
ok = call("POST", "/api/v1/overlays/%s/invoke" % ov["id"], {"function": "process"}, tok)
bad = call("POST", "/api/v1/overlays/%s/invoke" % ov["id"],
           {"function": "process", "input": {"fail": True}}, tok)
assert ok["success"] is True and bad["success"] is False, (ok, bad)
PY

# rules as deployed, but evaluated every second (the SLO group's 30 s interval would make the test wait)
NODE_PATH="$NODE_MODULES" node -e '
  const Y = require("yaml"), fs = require("fs");
  const d = Y.parse(fs.readFileSync(process.argv[1], "utf8"));
  for (const g of d.groups) delete g.interval;
  fs.writeFileSync(process.argv[2], Y.stringify(d));
' "$RULES" "$tmp/rules.yaml"
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $tmp/rules.yaml
scrape_configs:
  # job name deliberately not "forge-api": dashboards and alerts must select on the service label
  - job_name: forge-test
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:$fport"]
        labels:
          service: forge-api
EOF
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom" \
    --web.listen-address="127.0.0.1:$pport" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!
on_exit "kill $prom_pid; wait $prom_pid"
P="http://127.0.0.1:$pport"
if wait_http "$P/-/ready" 30; then pass "prometheus ready on 127.0.0.1:$pport"; else
    fail "prometheus did not start"
    tail -n 20 "$tmp/prometheus.log" | sed 's/^/    | /'
    finish
    exit 1
fi

# steady, bounded API traffic (2xx and 4xx) so rates and histograms have something to show
(
    for _ in $(seq 1 900); do
        curl -s -o /dev/null --max-time 2 "$F/openapi.json" || true
        curl -s -o /dev/null --max-time 2 "$F/api/v1/does-not-exist" || true
        sleep 0.1
    done
) &
traffic_pid=$!
on_exit "kill $traffic_pid"

q() { curl -fsS --get --data-urlencode "query=$1" "$P/api/v1/query"; }
nonempty() { q "$1" | grep -q '"result":\[{'; }
# poll_until DESCRIPTION SECONDS QUERY — a query returning data, polled (no blind sleeps)
poll_until() {
    local desc="$1" secs="$2" query="$3" i
    for ((i = 0; i < secs * 4; i++)); do
        if nonempty "$query"; then
            pass "$desc"
            return 0
        fi
        sleep 0.25
    done
    fail "$desc (after $secs s: $query)"
    return 1
}
poll_until "first scrape: up{service=\"forge-api\"} == 1" 30 'up{service="forge-api"} == 1' || true
poll_until "5 scrapes stored (rates computable)" 30 'count_over_time(up{service="forge-api"}[1m]) >= 5' || true
poll_until "recording rules evaluated on real data" 30 'forge:sli_error_ratio:rate5m' || true
poll_until "API traffic visible in the request histogram" 30 \
    'sum(rate(http_request_duration_seconds_count{service="forge-api",route!~"/health.*|/metrics"}[1m])) > 0' || true

if out="$(node "$DEPLOY_TESTS_DIR/lib/eval-promql.js" "$P" --dashboard "$DASH" --rules "$RULES" 2>&1)"; then
    pass "every dashboard query and every rule expression returns data from the live scrape"
    printf '%s\n' "$out" | tail -n 1 | sed 's/^/    | /'
else
    fail "dashboard/rule expressions without data from the live scrape"
    printf '%s\n' "$out" | grep -v '^ok' | head -n 40 | sed 's/^/    | /'
fi

if nonempty 'count({exported_service!=""})'; then
    fail "some series carry exported_service: the app exposes a 'service' label that collides with the target's"
else
    pass "no series has exported_service (service comes from the scrape target only)"
fi
rules_json="$(curl -fsS "$P/api/v1/rules")"
bad_rules="$(printf '%s' "$rules_json" | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const bad = [], all = [];
    for (const g of JSON.parse(s).data.groups) for (const r of g.rules) {
      all.push(r.name);
      if (r.health !== "ok") bad.push(`${r.name}: ${r.health} ${r.lastError || ""}`);
    }
    console.log(all.length < 19 ? `only ${all.length} rules loaded` : bad.join("; "));
  });')"
if [ -z "$bad_rules" ]; then pass "Prometheus evaluates every rule with health ok"; else fail "unhealthy rules: $bad_rules"; fi
active="$(curl -fsS "$P/api/v1/alerts" | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    console.log(JSON.parse(s).data.alerts.map((a) => `${a.labels.alertname}(${a.state})`).join(" "));
  });')"
if [ -z "$active" ]; then pass "no alert pending or firing on a healthy forge"; else fail "alerts active on a healthy forge: $active"; fi

# ---- 3b. live negatives: a misspelt metric in a dashboard / an alert has no data -------------------
sed 's/forge_capsules_total{/forge_capsule_total{/' "$DASH" >"$tmp/bad-dash.json"
check_fails_matching "dashboard query on a misspelt metric finds no data" 'FAIL .*no data' \
    node "$DEPLOY_TESTS_DIR/lib/eval-promql.js" "$P" --dashboard "$tmp/bad-dash.json"
sed 's/forge_ready{service="forge-api"} == 0 or/forge_readyy{service="forge-api"} == 0 or/' "$RULES" >"$tmp/bad-alert.yaml"
check_fails_matching "alert reading a misspelt metric finds no data" 'FAIL alert PodNotReady reads forge_readyy' \
    node "$DEPLOY_TESTS_DIR/lib/eval-promql.js" "$P" --rules "$tmp/bad-alert.yaml"
sed 's/namespace=~\\"\$namespace\\"/namespace=~\\"$cluster\\"/' "$DASH" >"$tmp/bad-var.json"
check_fails_matching "dashboard using an undefined variable is caught" 'unknown Grafana variable' \
    node "$DEPLOY_TESTS_DIR/lib/eval-promql.js" "$P" --dashboard "$tmp/bad-var.json"

finish

#!/usr/bin/env bash
# Grafana dashboard (Grafana itself is not available offline): the JSON Schema of @grafana/schema's
# Dashboard type (committed, and shown to be exactly what the pinned package generates), validated
# with ajv; current panel types only, unique panel ids, every panel with queries; the docker-compose
# provisioning and the Kubernetes ConfigMap point at the same file. Broken copies must fail.
# (test_prometheus.sh evaluates every panel query against a real Prometheus.)
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

need_cmd node cmp || { finish; exit 1; }
need_node_modules || { finish; exit 1; }

SCHEMA="$DEPLOY_TESTS_DIR/schemas/grafana-dashboard.schema.json"
V="$DEPLOY_TESTS_DIR/lib/validate-dashboard.js"
tmp="$(make_tmp)"
mapfile -t dashboards < <(ls "$FORGE_SRC"/deploy/monitoring/dashboards/*.json)

check "committed schema is what ts-json-schema-generator makes from the pinned @grafana/schema" \
    bash -c "bash '$DEPLOY_TESTS_DIR/gen-grafana-schema.sh' '$tmp/schema.json' >/dev/null && cmp '$tmp/schema.json' '$SCHEMA'"
check "${#dashboards[@]} dashboard(s) valid against the Grafana Dashboard schema + panel checks" \
    node "$V" "$SCHEMA" "${dashboards[@]}"

# Provisioning (compose) reads the directory the file is in; the datasource uid exists.
prov="$FORGE_SRC/deploy/monitoring/grafana/provisioning"
if grep -q 'path: /etc/grafana/dashboards/forge' "$prov/dashboards/forge.yaml" &&
    grep -q '\./monitoring/dashboards:/etc/grafana/dashboards/forge' "$FORGE_SRC/deploy/docker-compose.yml"; then
    pass "compose Grafana provisions deploy/monitoring/dashboards"
else
    fail "compose Grafana provisioning does not point at deploy/monitoring/dashboards"
fi
if grep -q 'type: prometheus' "$prov/datasources/prometheus.yaml"; then
    pass "compose Grafana has a Prometheus datasource (the dashboard's \${datasource} variable picks it)"
else
    fail "no Prometheus datasource provisioned"
fi

# ---- negative: broken copies ---------------------------------------------------------------------
mutate_json() { # mutate_json OUT JS-EXPRESSION-ON-d
    NODE_PATH="$NODE_MODULES" node -e '
      const fs = require("fs"); const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
      (new Function("d", process.argv[3]))(d);
      fs.writeFileSync(process.argv[2], JSON.stringify(d, null, 2));
    ' "${dashboards[0]}" "$1" "$2"
}
mutate_json "$tmp/graph.json" 'd.panels.find(p => p.type === "timeseries").type = "graph"'
check_fails_matching "deprecated 'graph' panel is rejected" 'deprecated panel type "graph"' node "$V" "$SCHEMA" "$tmp/graph.json"
mutate_json "$tmp/dupid.json" 'd.panels[3].id = d.panels[2].id'
check_fails_matching "duplicate panel id is rejected" 'also used by' node "$V" "$SCHEMA" "$tmp/dupid.json"
mutate_json "$tmp/notargets.json" 'd.panels.find(p => p.type === "stat").targets = []'
check_fails_matching "panel without queries is rejected" 'no queries' node "$V" "$SCHEMA" "$tmp/notargets.json"
mutate_json "$tmp/emptyexpr.json" 'd.panels.find(p => p.type === "gauge").targets[0].expr = ""'
check_fails_matching "query with an empty expr is rejected" 'has no expr' node "$V" "$SCHEMA" "$tmp/emptyexpr.json"
mutate_json "$tmp/typo.json" 'd.titel = d.title'
check_fails_matching "misspelt dashboard field fails the schema" 'must NOT have additional properties \(titel\)' \
    node "$V" "$SCHEMA" "$tmp/typo.json"
mutate_json "$tmp/gridpos.json" 'd.panels[1].gridPos.w = "12"'
check_fails_matching "string gridPos width fails the schema" 'gridPos/w must be number' node "$V" "$SCHEMA" "$tmp/gridpos.json"
mutate_json "$tmp/overlap.json" 'd.panels[2].gridPos = Object.assign({}, d.panels[1].gridPos)'
check_fails_matching "overlapping panels are rejected" 'overlaps panel' node "$V" "$SCHEMA" "$tmp/overlap.json"
mutate_json "$tmp/noschemaver.json" 'delete d.schemaVersion'
check_fails_matching "dashboard without schemaVersion fails the schema" "required property 'schemaVersion'" \
    node "$V" "$SCHEMA" "$tmp/noschemaver.json"
printf '{"title": "x", ' >"$tmp/trunc.json"
check_fails_matching "truncated JSON is rejected" 'not valid JSON' node "$V" "$SCHEMA" "$tmp/trunc.json"

finish

#!/usr/bin/env bash
# Documents tell the truth (issue 20): no configuration variable is parsed but used by nothing,
# no document names an API route the router does not serve (unless the line says **planned**),
# and no alert or dashboard queries a metric the server never exports. Checked against the source
# tree and a running `forge serve` (its /openapi.json and /metrics); broken copies must fail.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

need_cmd python3 curl || { finish; exit 1; }
T="$DEPLOY_TESTS_DIR/lib/truth.py"
tmp="$(make_tmp)"

check "every configuration variable is used by the code" python3 "$T" config "$FORGE_SRC"

if [ ! -x "$FORGE_BIN" ]; then
    fail "FORGE_BIN ($FORGE_BIN) is not an executable"
    finish
    exit 1
fi
fport="$(free_port)"
mkdir -p "$tmp/forge"
(
    cd "$tmp/forge"
    exec env -i PATH="$PATH" HOME="$tmp/forge" ENVIRONMENT=development LOG_LEVEL=warning \
        DATABASE_URL="sqlite://$tmp/forge/forge.db" "$FORGE_BIN" serve --host 127.0.0.1 --port "$fport"
) >"$tmp/forge.log" 2>&1 &
forge_pid=$!
on_exit "kill $forge_pid; wait $forge_pid"
F="http://127.0.0.1:$fport"
if ! wait_http "$F/health/ready" 30; then
    fail "forge serve did not become ready"
    sed 's/^/    | /' "$tmp/forge.log" | tail -n 20
    finish
    exit 1
fi
curl -fsS "$F/openapi.json" >"$tmp/openapi.json"
curl -fsS "$F/metrics" >"$tmp/metrics.txt"

check "every route named in docs/ is served" python3 "$T" routes "$FORGE_SRC" "$tmp/openapi.json"
check "every metric an alert or dashboard queries is exported" \
    python3 "$T" metrics "$FORGE_SRC" "$tmp/metrics.txt"

# ---- negatives: broken copies fail for the right reason --------------------------------------
neg="$tmp/neg"
mkdir -p "$neg/src/util" "$neg/docs/operations/runbooks" "$neg/deploy/monitoring/dashboards"
cp -r "$FORGE_SRC/src" "$neg/"
sed 's|^};$|    I("FORGE_UNUSED_KNOB", unused_knob, "0", 0, 1, "read by nothing"),\n};|' \
    "$FORGE_SRC/src/util/config.c" >"$neg/src/util/config.c"
check_fails_matching "a variable parsed but used by nothing is caught" \
    'FORGE_UNUSED_KNOB .* used by nothing' python3 "$T" config "$neg"

cp -r "$FORGE_SRC/docs" "$neg/"
printf '\nCall `POST /api/v1/overlays/{id}/frobnicate` to fix it.\n' \
    >>"$neg/docs/operations/runbooks/HighLatency.md"
check_fails_matching "a runbook calling a route the router does not serve is caught" \
    'frobnicate, which the router does not serve' python3 "$T" routes "$neg" "$tmp/openapi.json"

cp -r "$FORGE_SRC/deploy" "$neg/"
sed 's|expr: |expr: forge_never_exported_total > 0 or |' \
    "$FORGE_SRC/deploy/monitoring/alerts.yaml" >"$neg/deploy/monitoring/alerts.yaml"
check_fails_matching "an alert querying a metric the server never exports is caught" \
    'forge_never_exported_total, which the server never exports' \
    python3 "$T" metrics "$neg" "$tmp/metrics.txt"

finish

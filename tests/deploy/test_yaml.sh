#!/usr/bin/env bash
# yamllint on every YAML file of the repository (tests/deploy/yamllint.yml: default rules, 120
# columns, `on:` keys allowed), plus broken copies that must be rejected.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

CONF="$DEPLOY_TESTS_DIR/yamllint.yml"
need_cmd yamllint || { finish; exit 1; }

cd "$FORGE_SRC"
if git rev-parse --git-dir >/dev/null 2>&1; then
    # tracked and new (not ignored) files, so a file not yet committed is checked too
    mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.yml' '*.yaml' | sort -u)
else
    mapfile -t files < <(find . \( -name node_modules -o -name '.git' -o -name 'build*' \) -prune -o \
        -type f \( -name '*.yml' -o -name '*.yaml' \) -print | sed 's#^\./##' | sort)
fi
existing=()
for f in "${files[@]}"; do [ -f "$f" ] && existing+=("$f"); done
if [ "${#existing[@]}" -lt 10 ]; then
    fail "found only ${#existing[@]} YAML files: expected the deploy/ and .github/ trees"
fi
check "yamllint --strict on ${#existing[@]} YAML files" yamllint --strict -c "$CONF" "${existing[@]}"

# ---- negative: broken copies must fail --------------------------------------------------------
tmp="$(make_tmp)"
# duplicate key (the second silently wins in most parsers)
sed 's/^  replicas: 3$/  replicas: 3\n  replicas: 2/' deploy/k8s/base/deployment.yaml >"$tmp/dup.yaml"
check_fails "duplicate key in a Deployment is rejected" yamllint --strict -c "$CONF" "$tmp/dup.yaml"
# bad indentation
sed 's/^      containers:$/     containers:/' deploy/k8s/base/deployment.yaml >"$tmp/indent.yaml"
check_fails "broken indentation is rejected" yamllint --strict -c "$CONF" "$tmp/indent.yaml"
# YAML 1.1 truthy value (`yes` means true to some parsers and a string to others)
sed 's/^  RATE_LIMIT_ENABLED: "true"$/  RATE_LIMIT_ENABLED: yes/' deploy/k8s/base/configmap.yaml >"$tmp/truthy.yaml"
check_fails "yes/no truthy value is rejected" yamllint --strict -c "$CONF" "$tmp/truthy.yaml"
# syntax error
printf 'services:\n  api: [unclosed\n' >"$tmp/syntax.yml"
check_fails "YAML syntax error is rejected" yamllint --strict -c "$CONF" "$tmp/syntax.yml"
# over-long line
{ cat .github/workflows/ci.yml; printf '# %s\n' "$(printf 'word %.0s' {1..30})"; } >"$tmp/long.yml"
check_fails "line over 120 columns is rejected" yamllint --strict -c "$CONF" "$tmp/long.yml"

finish

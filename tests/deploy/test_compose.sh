#!/usr/bin/env bash
# docker-compose file: `docker-compose config -q` (Debian's docker-compose v1; the Docker engine
# does not run here) with a generated env file, the resolved file checked for the shape we rely
# on (lib/check-compose.js), the committed .env.example shown to hold no usable secret, and broken
# copies rejected.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

need_cmd docker-compose node || { finish; exit 1; }
need_node_modules || { finish; exit 1; }

D="$FORGE_SRC/deploy"
tmp="$(make_tmp)"
rand() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
jwt="$(rand 32)"
cat >"$tmp/test.env" <<EOF
POSTGRES_PASSWORD=$(rand 12)
REDIS_PASSWORD=$(rand 12)
JWT_SECRET=$jwt
FORGE_MASTER_KEY=$(rand 32)
GRAFANA_ADMIN_PASSWORD=$(rand 12)
EOF
dc() { docker-compose --env-file "$1" -f "$2" "${@:3}"; }

check "docker-compose config -q with every secret set" dc "$tmp/test.env" "$D/docker-compose.yml" config -q
if dc "$tmp/test.env" "$D/docker-compose.yml" config >"$tmp/resolved.yml" 2>"$tmp/err"; then
    check "resolved compose file: 6 services, healthchecks, depends_on healthy, named volumes, loopback ports" \
        env EXPECT_JWT_SECRET="$jwt" node "$DEPLOY_TESTS_DIR/lib/check-compose.js" "$tmp/resolved.yml" "$D"
else
    fail "docker-compose config"
    sed 's/^/    | /' "$tmp/err"
fi
check_fails_matching "the committed .env.example holds no secret: config refuses it" 'set [A-Z_]+ in deploy/.env' \
    dc "$D/.env.example" "$D/docker-compose.yml" config -q
if ! git -C "$FORGE_SRC" rev-parse --git-dir >/dev/null 2>&1; then
    pass "deploy/.env ignore rule not checked (not a git checkout)"
elif git -C "$FORGE_SRC" check-ignore -q deploy/.env; then
    pass "deploy/.env is git-ignored"
else
    fail "deploy/.env would be committed: add it to .gitignore"
fi

# ---- negative: broken copies (in the temp dir; --project-directory keeps relative paths) ----------
dc() { docker-compose --env-file "$1" --project-directory "$D" -f "$2" "${@:3}"; }
broken() { # broken NAME SED-EXPR — an edited copy of the compose file
    local f="$tmp/docker-compose.broken-$1.yml"
    sed -e "$2" "$D/docker-compose.yml" >"$f"
    printf '%s\n' "$f"
}
f="$(broken depends 's/^      redis:$/      rediss:/')"
check_fails_matching "depends_on an undefined service is rejected" 'rediss' dc "$tmp/test.env" "$f" config -q
f="$(broken key 's/^    healthcheck:$/    healthchek:/')"
check_fails_matching "misspelt service key is rejected" 'healthchek' dc "$tmp/test.env" "$f" config -q
f="$(broken cond 's/condition: service_healthy/condition: service_happy/')"
check_fails_matching "invalid depends_on condition is rejected" 'service_happy' dc "$tmp/test.env" "$f" config -q
f="$(broken yaml 's/^  api:$/  api: [/')"
check_fails_matching "YAML syntax error is rejected" 'yaml|YAML|while parsing|expected' dc "$tmp/test.env" "$f" config -q
f="$(broken shape '/^      kafka:$/,/condition: service_healthy/d')"
check_fails_matching "api no longer waiting for a healthy kafka is caught" 'api depends_on kafka' \
    bash -c "docker-compose --env-file '$tmp/test.env' --project-directory '$D' -f '$f' config >'$tmp/shape.yml' && EXPECT_JWT_SECRET='$jwt' node '$DEPLOY_TESTS_DIR/lib/check-compose.js' '$tmp/shape.yml' '$D'"

finish

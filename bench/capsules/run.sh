#!/usr/bin/env bash
# bench/capsules: create and get throughput of capsules through HTTP with a bearer token.
# Starts `forge serve` on a fresh SQLite file (synchronous=FULL, the production setting), registers
# a user and logs in, then runs wrk: POST /api/v1/capsules (create.lua), then GET
# /api/v1/capsules/{id} over the created ids (get.lua). Prints req/s and latency percentiles.
#
# usage: bench/capsules/run.sh [duration_s=10] [connections=16]
# env:   FORGE_BIN (default build/forge), THREADS (wrk threads, 2), WORKERS (server threads, 2×cores)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
DUR="${1:-10}"
CONNS="${2:-16}"
THREADS="${THREADS:-2}"
FORGE="${FORGE_BIN:-$root/build/forge}"
PY=/usr/bin/python3
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
[ -x "$FORGE" ] || { echo "no forge binary at $FORGE (make, or set FORGE_BIN)" >&2; exit 1; }

tmp="$(mktemp -d)"
cleanup() {
    [ -n "${fpid:-}" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
port="$($PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"

# The per-user rate limit (1000/min for standard users) would rightly refuse the bench: off.
env -i PATH="$PATH" HOME="$tmp" HOST=127.0.0.1 PORT="$port" LOG_LEVEL=warning \
    ENVIRONMENT=development DATABASE_URL="sqlite://$tmp/forge.db" RATE_LIMIT_ENABLED=false \
    ${WORKERS:+WORKERS=$WORKERS} JWT_SECRET=bench-capsules-secret-0123456789abcdef \
    FORGE_ENV_FILE=/dev/null "$FORGE" serve >"$tmp/forge.log" 2>&1 &
fpid=$!
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.05; done
curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null || { cat "$tmp/forge.log"; exit 1; }

# a user and its access token
export FORGE_TOKEN="$($PY - "$port" <<'EOF'
import json, sys, urllib.request
base = "http://127.0.0.1:%s/api/v1/auth/" % sys.argv[1]
def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
cred = {"email": "bench@forge.test", "password": "Bench-passw0rd"}
post("register", cred)
print(post("login", cred)["data"]["access_token"])
EOF
)"
export FORGE_IDS="$tmp/ids.txt"

echo "# bench/capsules $(date -u +%FT%TZ) $(nproc) cores, wrk -t$THREADS -c$CONNS -d${DUR}s, $("$FORGE" version)"
wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency -s "$here/create.lua" \
    "http://127.0.0.1:$port" >"$tmp/create.txt"
$PY - "$tmp/forge.db" "$FORGE_IDS" <<'EOF'
import sqlite3, sys
h = sqlite3.connect(sys.argv[1])
ids = [r[0] for r in h.execute("SELECT id FROM capsules")]
open(sys.argv[2], "w").write("\n".join(ids) + "\n")
print("capsules stored: %d" % len(ids))
EOF
wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency -s "$here/get.lua" \
    "http://127.0.0.1:$port" >"$tmp/get.txt"

for op in create get; do
    rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/$op.txt")
    bad=$(awk '/Non-2xx/ {print $NF}' "$tmp/$op.txt")
    printf '%-6s %10s req/s   %s   non-2xx: %s\n' "$op" "$rps" \
        "$(grep -E "^$op:" "$tmp/$op.txt" | sed "s/^$op: //")" "${bad:-0}"
done
grep -h "Socket errors" "$tmp"/create.txt "$tmp"/get.txt || true

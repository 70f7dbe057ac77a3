#!/usr/bin/env bash
# bench/overlays: the overlay sandbox, measured in one run (see README.md).
#   1. sb_bench: trivial invocations/s in-process (fresh lua_State per call) and through one
#      sandbox worker process (the path `forge serve` uses), with CPU time per call;
#   2. HTTP: POST /api/v1/overlays/{id}/invoke of the same trivial overlay with wrk;
#   3. POST /api/v1/capsules p50/p99 without any validator, then with one active trivial
#      validation hook (validate returns allow = true);
#   4. anchor: redis-server's embedded Lua, EVAL of the same trivial script via redis-benchmark.
# usage: bench/overlays/run.sh [duration_s=5] [repeats=3]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
DUR="${1:-5}"
REP="${2:-3}"
FORGE="${FORGE_BIN:-$root/build/forge}"
PY=/usr/bin/python3
command -v wrk >/dev/null || { echo "wrk missing" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server missing" >&2; exit 1; }
make -s -C "$here" sb_bench

tmp="$(mktemp -d)"
cleanup() {
    [ -n "${fpid:-}" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null || true
    [ -n "${rpid:-}" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
freeport() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

echo "# bench/overlays $(date -u +%FT%TZ) $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## 1. sandbox runtime (sb_bench, ${DUR}s x $REP)"
for i in $(seq "$REP"); do "$here/sb_bench" "$DUR"; done

port="$(freeport)"
env -i PATH="$PATH" HOME="$tmp" HOST=127.0.0.1 PORT="$port" LOG_LEVEL=warning \
    ENVIRONMENT=development DATABASE_URL="sqlite://$tmp/forge.db" RATE_LIMIT_ENABLED=false \
    FORGE_ADMIN_EMAIL=admin@bench.test FORGE_ADMIN_PASSWORD=Bench-passw0rd \
    JWT_SECRET=bench-overlays-secret-0123456789abcdef FORGE_ENV_FILE=/dev/null \
    "$FORGE" serve >"$tmp/forge.log" 2>&1 &
fpid=$!
for _ in $(seq 400); do curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.05; done
curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null || { cat "$tmp/forge.log"; exit 1; }

# admin token, the trivial overlay (active), the validator (registered, pending)
read -r FORGE_TOKEN FORGE_OVERLAY VALIDATOR < <($PY - "$port" <<'PYEOF'
import json, sys, urllib.request
base = "http://127.0.0.1:%s/api/v1/" % sys.argv[1]
def post(path, body, tok=None):
    h = {"Content-Type": "application/json"}
    if tok: h["Authorization"] = "Bearer " + tok
    req = urllib.request.Request(base + path, json.dumps(body).encode(), h)
    return json.load(urllib.request.urlopen(req))["data"]
tok = post("auth/login", {"email": "admin@bench.test", "password": "Bench-passw0rd"})["access_token"]
ov = post("overlays", {"manifest": {"name": "trivial", "version": "1.0.0"},
                       "source": "function process(x) return x end"}, tok)
post("overlays/%s/activate" % ov["id"], {}, tok)
va = post("overlays", {"manifest": {"name": "allow-all", "version": "1.0.0",
                                    "entry_points": ["validate"], "validates": ["capsule.create"]},
                       "source": "function validate(c) return {allow = true} end"}, tok)
print(tok, ov["id"], va["id"])
PYEOF
)
export FORGE_TOKEN FORGE_OVERLAY
echo "## 2. HTTP invoke of the trivial overlay (wrk -t2 -c8 -d${DUR}s x $REP)"
for i in $(seq "$REP"); do
    wrk -t2 -c8 -d"${DUR}s" -s "$here/invoke.lua" "http://127.0.0.1:$port" | grep '^invoke:'
done
echo "## 3. POST /api/v1/capsules without / with a trivial validation hook (wrk -t2 -c8 -d${DUR}s)"
for i in $(seq "$REP"); do
    printf 'without: '; wrk -t2 -c8 -d"${DUR}s" -s "$root/bench/capsules/create.lua" \
        "http://127.0.0.1:$port" | grep '^create:'
done
curl -fs -X POST -H "Authorization: Bearer $FORGE_TOKEN" \
    "http://127.0.0.1:$port/api/v1/overlays/$VALIDATOR/activate" >/dev/null
for i in $(seq "$REP"); do
    printf 'with:    '; wrk -t2 -c8 -d"${DUR}s" -s "$root/bench/capsules/create.lua" \
        "http://127.0.0.1:$port" | grep '^create:'
done

echo "## 4. anchor: redis-server EVAL 'return ARGV[1]' (redis-benchmark -c8 -n N x $REP)"
rport="$(freeport)"
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    >"$tmp/redis.log" 2>&1 &
rpid=$!
for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
for i in $(seq "$REP"); do
    redis-benchmark -p "$rport" -c 8 -n 100000 -q eval 'return ARGV[1]' 0 1 | tr '\r' '\n' | grep -v '^$' | tail -1
done

#!/usr/bin/env bash
# bench/search: time to ready and POST /api/v1/capsules/search throughput on N capsules.
#
#  1. `forge serve` on a fresh SQLite file: register a user, log in (token for wrk), stop.
#  2. bench/search/seed writes N capsules with their embeddings through the store (one
#     transaction) and 1 000 queries.
#  3. cold start: no checkpoint, the index is rebuilt from the stored embeddings (no embedding);
#     SIGTERM writes the checkpoint.
#  4. warm starts (REPEAT times): checkpoint load + change-feed replay; time from exec to the
#     first 200 of /health/ready.
#  5. wrk on each mode (semantic, keyword, hybrid).
#
# usage: bench/search/run.sh [capsules=100000] [duration_s=10] [connections=16]
# env:   FORGE_BIN (build/forge), SEED_BIN (bench/search/seed), THREADS (wrk, 2), REPEAT (3),
#        QUANTIZE (true), WORKERS (server threads), KEEP=1 keeps the temp dir
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
N="${1:-100000}"
DUR="${2:-10}"
CONNS="${3:-16}"
THREADS="${THREADS:-2}"
REPEAT="${REPEAT:-3}"
FORGE="${FORGE_BIN:-$root/build/forge}"
SEED="${SEED_BIN:-$here/seed}"
PY=/usr/bin/python3
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
[ -x "$FORGE" ] || { echo "no forge binary at $FORGE (make, or set FORGE_BIN)" >&2; exit 1; }
[ -x "$SEED" ] || { echo "no seeder at $SEED (make -C bench/search)" >&2; exit 1; }

tmp="$(mktemp -d)"
fpid=""
cleanup() {
    [ -n "$fpid" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
port="$($PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"

start() { # start LOG_LEVEL: starts the server in the background, sets fpid and t_start
    t_start=$(date +%s.%N)
    env -i PATH="$PATH" HOME="$tmp" HOST=127.0.0.1 PORT="$port" LOG_LEVEL="$1" LOG_FORMAT=json \
        ENVIRONMENT=development DATABASE_URL="sqlite://$tmp/forge.db" RATE_LIMIT_ENABLED=false \
        VECTOR_INDEX_QUANTIZE="${QUANTIZE:-true}" ${WORKERS:+WORKERS=$WORKERS} \
        JWT_SECRET=bench-search-secret-0123456789abcdefgh FORGE_ENV_FILE=/dev/null \
        "$FORGE" serve >>"$tmp/forge.log" 2>&1 &
    fpid=$!
}
wait_ready() { # prints seconds from start to the first 200 of /health/ready
    for _ in $(seq 60000); do
        if curl -fs -o /dev/null "$url/health/ready"; then
            $PY -c "import sys;print('%.3f' % ($(date +%s.%N) - $t_start))"
            return 0
        fi
        kill -0 "$fpid" 2>/dev/null || { tail -20 "$tmp/forge.log" >&2; return 1; }
        sleep 0.01
    done
    return 1
}
stop() { # not in a subshell ($(...) cannot wait for our child): sets stop_s
    local t0; t0=$(date +%s.%N)
    kill -TERM "$fpid"; wait "$fpid" || true; fpid=""
    stop_s=$($PY -c "print('%.2f' % ($(date +%s.%N) - $t0))")
}
last_ready_line() { grep '"event":"index_ready"' "$tmp/forge.log" | tail -1; }

echo "# bench/search $(date -u +%FT%TZ) $(nproc) cores, $N capsules, $("$FORGE" version)," \
     "quantize=${QUANTIZE:-true}"
start info
wait_ready >/dev/null
creds="$($PY - "$port" <<'EOF'
import json, sys, urllib.request
base = "http://127.0.0.1:%s/api/v1/auth/" % sys.argv[1]
def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
cred = {"email": "bench@forge.test", "password": "Bench-passw0rd"}
uid = post("register", cred)["data"]["id"]
print(uid, post("login", cred)["data"]["access_token"])
EOF
)"
uid="${creds%% *}"
export FORGE_TOKEN="${creds#* }"
stop

t0=$(date +%s.%N)
"$SEED" "$tmp/forge.db" "$uid" "$N" "$tmp/queries.txt" 2>"$tmp/seed.log"
echo "seed: $N capsules with embeddings in $($PY -c "print('%.1f' % ($(date +%s.%N) - $t0))") s" \
     "(db $(du -m "$tmp/forge.db" | cut -f1) MB)"

start info
cold=$(wait_ready)
echo "cold start (rebuild from stored embeddings): ready in ${cold} s"
echo "  $(last_ready_line)"
stop
echo "shutdown with checkpoint: ${stop_s} s, checkpoint $(du -cm "$tmp"/forge.index* | tail -1 | cut -f1) MB"

for r in $(seq "$REPEAT"); do
    start info
    warm=$(wait_ready)
    echo "warm start $r (checkpoint): ready in ${warm} s, server RSS" \
         "$(awk '/VmRSS/ {printf "%d MB", $2 / 1024}' /proc/$fpid/status)"
    echo "  $(last_ready_line)"
    stop
done

export FORGE_QUERIES="$tmp/queries.txt"
start warning
wait_ready >/dev/null
for mode in semantic keyword hybrid; do
    SEARCH_MODE=$mode wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency -s "$here/search.lua" \
        "$url" >"$tmp/wrk-$mode.txt"
    rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk-$mode.txt")
    printf '%-8s %9s req/s   %s\n' "$mode" "$rps" "$(grep -E "^$mode:" "$tmp/wrk-$mode.txt")"
    grep -h "Socket errors" "$tmp/wrk-$mode.txt" || true
done
stop

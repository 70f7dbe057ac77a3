#!/usr/bin/env bash
# bench/search/ab.sh: the three search modes over HTTP for two forge binaries, alternately, on a
# database that run.sh already seeded (KEEP=1 bench/search/run.sh keeps it), so both builds
# are measured in the same minutes of a shared machine.
#
# usage: bench/search/ab.sh DIR BIN_A BIN_B [rounds=2] [duration_s=10] [connections=16]
#   DIR: the kept run.sh directory (forge.db, forge.index*, queries.txt)
# Per round and binary: start (time to /health/ready), wrk on semantic, keyword, hybrid
# (search.lua, 2 threads), stop. Prints one line per measurement and the load average.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
DIR="$1"
A="$2"
B="$3"
ROUNDS="${4:-2}"
DUR="${5:-10}"
CONNS="${6:-16}"
PY=/usr/bin/python3
port="$($PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
fpid=""
trap '[ -n "$fpid" ] && kill "$fpid" 2>/dev/null; wait 2>/dev/null || true' EXIT

start() { # start BIN
    t_start=$(date +%s.%N)
    env -i PATH="$PATH" HOME="$DIR" HOST=127.0.0.1 PORT="$port" LOG_LEVEL=warning \
        LOG_FORMAT=json ENVIRONMENT=development DATABASE_URL="sqlite://$DIR/forge.db" \
        RATE_LIMIT_ENABLED=false VECTOR_INDEX_QUANTIZE=true \
        JWT_SECRET=bench-search-secret-0123456789abcdefgh FORGE_ENV_FILE=/dev/null \
        "$1" serve >>"$DIR/ab.log" 2>&1 &
    fpid=$!
    for _ in $(seq 60000); do
        if curl -fs -o /dev/null "$url/health/ready"; then
            ready=$($PY -c "print('%.2f' % ($(date +%s.%N) - $t_start))")
            return 0
        fi
        sleep 0.01
    done
    return 1
}
stop() { kill -TERM "$fpid"; wait "$fpid" || true; fpid=""; }

echo "# bench/search/ab $(date -u +%FT%TZ) $(nproc) cores; A=$A B=$B; ${DUR}s x ${CONNS} conns"
for r in $(seq "$ROUNDS"); do
    for which in A B; do
        bin=$A
        [ "$which" = B ] && bin=$B
        start "$bin"
        FORGE_TOKEN="$($PY - "$port" <<'EOF'
import json, sys, urllib.request
req = urllib.request.Request("http://127.0.0.1:%s/api/v1/auth/login" % sys.argv[1],
                             json.dumps({"email": "bench@forge.test",
                                         "password": "Bench-passw0rd"}).encode(),
                             {"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req))["data"]["access_token"])
EOF
)"
        export FORGE_TOKEN FORGE_QUERIES="$DIR/queries.txt"
        echo "round $r $which: ready in ${ready} s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
        for mode in semantic keyword hybrid; do
            SEARCH_MODE=$mode wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s "$here/search.lua" \
                "$url" >"$DIR/ab-wrk.txt"
            rps=$(awk '/Requests\/sec/ {print $2}' "$DIR/ab-wrk.txt")
            printf '  %s %-8s %9s req/s   %s\n' "$which" "$mode" "$rps" \
                "$(grep -E "^$mode:" "$DIR/ab-wrk.txt")"
        done
        stop
    done
done

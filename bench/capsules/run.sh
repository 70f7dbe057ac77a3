#!/usr/bin/env bash
# bench/capsules: create and get throughput of capsules through HTTP, Forge against a FastAPI
# anchor in the same run (issue 13).
#
# Forge: `forge serve` on a fresh SQLite file (synchronous=FULL, the production setting), a
# registered user's bearer token on every request (auth, validation, embedding, index follower,
# full-text, audit chain, outbox, durable group commit).
# Anchor: anchor.py — FastAPI + uvicorn, 2 workers, async handlers, SQLite WAL synchronous=NORMAL,
# no auth (Debian python3-fastapi, python3-uvicorn).
# Per round and server: wrk POST /api/v1/capsules (create.lua, CONTENT_BYTES of content), then GET
# /api/v1/capsules/{id} over the created ids (get.lua). Rounds alternate the two servers; the
# summary gives medians, the range, and Forge/anchor ratios.
#
# usage: bench/capsules/run.sh [duration_s=10] [connections=64] [rounds=3]
# env:   FORGE_BIN (default build/forge), THREADS (wrk threads, 2), WORKERS (server threads),
#        CONTENT_BYTES (500), ANCHOR=0 skips the anchor
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
DUR="${1:-10}"
CONNS="${2:-64}"
ROUNDS="${3:-3}"
THREADS="${THREADS:-2}"
FORGE="${FORGE_BIN:-$root/build/forge}"
PY=/usr/bin/python3
export CONTENT_BYTES="${CONTENT_BYTES:-500}"
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
[ -x "$FORGE" ] || { echo "no forge binary at $FORGE (make, or set FORGE_BIN)" >&2; exit 1; }
if [ "${ANCHOR:-1}" = 1 ] && ! $PY -c 'import fastapi, uvicorn' 2>/dev/null; then
    echo "anchor needs python3-fastapi python3-uvicorn (apt-get install -y ...), or ANCHOR=0" >&2
    exit 1
fi

tmp="$(mktemp -d)"
spid=""
stop_server() { [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null || true; spid=""; }
cleanup() { stop_server; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_up() { # URL
    for _ in $(seq 400); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done
    return 1
}

start_forge() { # DIR PORT
    env -i PATH="$PATH" HOME="$1" HOST=127.0.0.1 PORT="$2" LOG_LEVEL=warning \
        ENVIRONMENT=development DATABASE_URL="sqlite://$1/forge.db" RATE_LIMIT_ENABLED=false \
        ${WORKERS:+WORKERS=$WORKERS} JWT_SECRET=bench-capsules-secret-0123456789abcdef \
        FORGE_ENV_FILE=/dev/null "$FORGE" serve >"$1/server.log" 2>&1 &
    spid=$!
    wait_up "http://127.0.0.1:$2/health/ready" || { cat "$1/server.log"; exit 1; }
    # a user and its access token (the per-user rate limit is off: it would refuse the bench)
    FORGE_TOKEN="$($PY - "$2" <<'PYEOF'
import json, sys, urllib.request
base = "http://127.0.0.1:%s/api/v1/auth/" % sys.argv[1]
def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
cred = {"email": "bench@forge.test", "password": "Bench-passw0rd"}
post("register", cred)
print(post("login", cred)["data"]["access_token"])
PYEOF
)"
    export FORGE_TOKEN
}

start_anchor() { # DIR PORT
    (cd "$here" && ANCHOR_DB="$1/forge.db" exec $PY -m uvicorn anchor:app --host 127.0.0.1 \
        --port "$2" --workers 2 --log-level warning >"$1/server.log" 2>&1) &
    spid=$!
    export FORGE_TOKEN=none
    for _ in $(seq 400); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/api/v1/capsules/x" || true)
        [ "$code" = 404 ] && return 0
        sleep 0.05
    done
    cat "$1/server.log"; exit 1
}

# Where the time of one create goes (issue 13 item 4): the deltas of Forge's own metrics over the
# create phase — forge_capsule_write_stage_seconds (stages inside the request, wall time, mean
# per create), http_request_duration_seconds of POST /api/v1/capsules (the whole request), and
# forge_index_stage_seconds_total (the follower, after the answer: CPU off the request path).
# Waits (≤ 60 s) until the index has caught up with the capsules created.
breakdown() { # PORT DIR ROUND
    local url="http://127.0.0.1:$1/metrics"
    for _ in $(seq 600); do
        curl -fs "$url" >"$2/metrics1.txt"
        awk '/^forge_capsules_total /{c=$2} /^forge_index_vectors /{v=$2} END{exit !(c>0 && v>=c)}' \
            "$2/metrics1.txt" && break
        sleep 0.1
    done
    $PY - "$2/metrics0.txt" "$2/metrics1.txt" "$3" <<'PYEOF' | tee -a "$tmp/breakdown.txt"
import re, sys
def load(path):
    out = {}
    for line in open(path):
        m = re.match(r'^([a-z_]+)(\{[^}]*\})? ([0-9.eE+-]+)$', line.strip())
        if m:
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
d = lambda k: b.get(k, 0.0) - a.get(k, 0.0)
n = d(("forge_capsule_operations_total", '{op="create"}'))
if n <= 0:
    sys.exit(0)
http = d(("http_request_duration_seconds_sum", '{method="POST",route="/api/v1/capsules"}'))
print("  round %s forge create breakdown, mean per create over %d creates (µs):" % (sys.argv[3], n))
stages = ["validate", "hooks", "begin", "insert", "outbox", "audit", "commit"]
inreq = 0.0
row = []
for st in stages:
    v = d(("forge_capsule_write_stage_seconds_sum", '{op="create",stage="%s"}' % st)) / n * 1e6
    inreq += v
    row.append("%s %.0f" % (st, v))
print("    request %.0f = core stages %.0f (%s) + HTTP, auth, JSON %.0f" % (
    http / n * 1e6, inreq, ", ".join(row), http / n * 1e6 - inreq))
row = ["%s %.0f" % (st, d(("forge_index_stage_seconds_total", '{stage="%s"}' % st)) / n * 1e6)
       for st in ["feed", "keyword", "embed", "embedding_write", "hnsw"]]
print("    follower, after the answer: %s" % ", ".join(row))
PYEOF
}

measure() { # NAME ROUND
    local dir="$tmp/$1-$2" port
    mkdir -p "$dir"
    port="$(free_port)"
    "start_$1" "$dir" "$port"
    [ "$1" = forge ] && curl -fs "http://127.0.0.1:$port/metrics" >"$dir/metrics0.txt"
    wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency -s "$here/create.lua" \
        "http://127.0.0.1:$port" >"$dir/create.txt"
    [ "$1" = forge ] && breakdown "$port" "$dir" "$2"
    $PY - "$dir/forge.db" "$dir/ids.txt" <<'PYEOF'
import sqlite3, sys
h = sqlite3.connect(sys.argv[1])
ids = [r[0] for r in h.execute("SELECT id FROM capsules")]
open(sys.argv[2], "w").write("\n".join(ids) + "\n")
PYEOF
    FORGE_IDS="$dir/ids.txt" wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency \
        -s "$here/get.lua" "http://127.0.0.1:$port" >"$dir/get.txt"
    stop_server
    for op in create get; do
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$op" \
            "$(awk '/Requests\/sec/ {print $2}' "$dir/$op.txt")" \
            "$(grep -E "^$op:" "$dir/$op.txt" | sed -E 's/.*p50 ([0-9.]+) ms, p99 ([0-9.]+) ms.*/\1\t\2/')" \
            >>"$tmp/results.tsv"
        printf '  round %s %-6s %-6s %10s req/s   %s   non-2xx: %s\n' "$2" "$1" "$op" \
            "$(awk '/Requests\/sec/ {print $2}' "$dir/$op.txt")" \
            "$(grep -E "^$op:" "$dir/$op.txt" | sed "s/^$op: //")" \
            "$(awk '/Non-2xx/ {print $NF}' "$dir/$op.txt" | grep . || echo 0)"
    done
}

echo "# bench/capsules $(date -u +%FT%TZ) $(nproc) cores, wrk -t$THREADS -c$CONNS -d${DUR}s," \
    "$CONTENT_BYTES-byte content, $ROUNDS rounds, $("$FORGE" version); load average $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$tmp/results.tsv"
for r in $(seq "$ROUNDS"); do
    measure forge "$r"
    [ "${ANCHOR:-1}" = 1 ] && measure anchor "$r"
done
$PY - "$tmp/results.tsv" <<'PYEOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
def series(name, op, col):
    return [float(r[col]) for r in rows if r[0] == name and r[2] == op and r[col]]
print("summary (median of the rounds, [min-max]):")
for op in ("create", "get"):
    f, a = series("forge", op, 3), series("anchor", op, 3)
    fp99 = series("forge", op, 5)
    line = "  %-6s forge %8.0f req/s [%.0f-%.0f], p99 %.1f ms" % (
        op, statistics.median(f), min(f), max(f), statistics.median(fp99))
    if a:
        ap99 = series("anchor", op, 5)
        line += " | anchor %8.0f req/s [%.0f-%.0f], p99 %.1f ms | ratio forge/anchor %.2f [%.2f-%.2f]" % (
            statistics.median(a), min(a), max(a), statistics.median(ap99),
            statistics.median(f) / statistics.median(a),
            min(x / y for x, y in zip(f, a)), max(x / y for x, y in zip(f, a)))
    print(line)
PYEOF
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

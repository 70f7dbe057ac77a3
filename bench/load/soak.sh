#!/usr/bin/env bash
# bench/load/soak.sh: the mixed workload of run.sh held at a fixed rate for a long time against
# the embedded default, sampling the server every INTERVAL seconds: RSS, open file descriptors,
# threads, the SQLite WAL size, live capsules, and the p50/p99 of the requests of that interval.
# Writes bench/load/results/soak.{tsv,png,md} (the plot needs gnuplot: apt-get install gnuplot-nox).
#
# usage: bench/load/soak.sh [minutes=30] [rate=1000] [interval_s=10]
# env:   FORGE_BIN (default build/forge), CONNECTIONS (64), MIX (see README.md), WARMUP_MIN (5),
#        REFRESH_S (600: token refresh period; access tokens live 15 min)
#
# Loopback only; the generator runs back to back in interval-long windows (open loop inside each
# window, see loadgen.py), so each sample's latency is that window's; the server is stopped at
# the end.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
MIN="${1:-30}"
RATE="${2:-1000}"
IVL="${3:-10}"
WARMUP_MIN="${WARMUP_MIN:-5}"
FORGE="${FORGE_BIN:-$root/build/forge}"
CONNS="${CONNECTIONS:-64}"
MIX="${MIX:-read=55,list=15,search=15,write=14.95,login=0.05}"
PY=/usr/bin/python3

[ -x "$FORGE" ] || { echo "no forge binary at $FORGE (make, or set FORGE_BIN)" >&2; exit 1; }
tmp="$(mktemp -d)"
cleanup() {
    [ -n "${fpid:-}" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
port="$($PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
source "$here/lib.sh"

mkdir -p "$here/results"
tsv="$here/results/soak.tsv"
printf 't_s\trss_mb\tfds\tthreads\twal_mb\tdb_mb\tcapsules\trps\tp50_ms\tp99_ms\terrors\tload1\n' >"$tsv"
echo "soak: ${MIN} min at ${RATE} req/s, a sample every ${IVL} s; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# Access tokens live ACCESS_TOKEN_TTL_S (15 min by default): like a real client, the soak
# rotates every user's tokens through POST /api/v1/auth/refresh every REFRESH_S seconds (no
# Argon2: a refresh is a token check and a session update), outside the measured windows.
REFRESH_S="${REFRESH_S:-600}"
refresh_tokens() {
    $PY - "$port" "$tmp/setup.json" <<'EOF'
import json, sys, urllib.request
port, path = int(sys.argv[1]), sys.argv[2]
setup = json.load(open(path))
for i, rt in enumerate(setup["refresh_tokens"]):
    req = urllib.request.Request("http://127.0.0.1:%d/api/v1/auth/refresh" % port, method="POST",
                                 data=json.dumps({"refresh_token": rt}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        d = json.loads(r.read())["data"]
    setup["tokens"][i], setup["refresh_tokens"][i] = d["access_token"], d["refresh_token"]
json.dump(setup, open(path + ".new", "w"))
EOF
    mv "$tmp/setup.json.new" "$tmp/setup.json"
}
t0=$(date +%s)
end=$((t0 + MIN * 60))
last_refresh=$t0
while [ "$(date +%s)" -lt "$end" ]; do
    if [ $(( $(date +%s) - last_refresh )) -ge "$REFRESH_S" ]; then
        refresh_tokens
        last_refresh=$(date +%s)
    fi
    $PY "$here/loadgen.py" --port "$port" --setup "$tmp/setup.json" --connections "$CONNS" \
        --mix "$MIX" --rate "$RATE" --duration "$IVL" --json "$tmp/w.json" >/dev/null
    kill -0 "$fpid" 2>/dev/null || { echo "the server died" >&2; tail -20 "$tmp/forge.log" >&2; exit 1; }
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$fpid/status")
    thr=$(awk '/^Threads:/ {print $2}' "/proc/$fpid/status")
    fds=$(ls "/proc/$fpid/fd" | wc -l)
    wal=$(stat -c %s "$tmp/forge.db-wal" 2>/dev/null || echo 0)
    db=$(stat -c %s "$tmp/forge.db")
    live=$(sqlite3 -readonly "file:$tmp/forge.db?mode=ro" 'SELECT count(*) FROM capsules WHERE is_deleted = 0' 2>/dev/null || echo NaN)
    $PY - "$tmp/w.json" "$(( $(date +%s) - t0 ))" "$rss" "$fds" "$thr" "$wal" "$db" "$live" \
        "$(cut -d' ' -f1 /proc/loadavg)" >>"$tsv" <<'EOF'
import json, sys
w = json.load(open(sys.argv[1]))
t, rss, fds, thr, wal, db, live, load1 = sys.argv[2:]
print("\t".join([t, "%.1f" % (int(rss) / 1024), fds, thr, "%.1f" % (int(wal) / 2**20),
                 "%.1f" % (int(db) / 2**20), live, str(w["achieved_rps"]), str(w["all"]["p50_ms"]),
                 str(w["all"]["p99_ms"]), str(w["all"]["errors"]), load1]))
EOF
    tail -1 "$tsv"
done

# summary: after the warm-up, each series' spread around its median
$PY - "$tsv" "$WARMUP_MIN" "$MIN" "$RATE" "$IVL" "$here/results/soak.md" "$("$FORGE" version 2>/dev/null || echo '?')" "$MIX" <<'EOF'
import csv, datetime, os, statistics, sys
tsv, warm, mins, rate, ivl, out, version, mix = sys.argv[1:]
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
after = [r for r in rows if float(r["t_s"]) >= float(warm) * 60]
def spread(key):
    v = [float(r[key]) for r in after if r[key] not in ("NaN", "nan")]
    if not v:
        return None
    med = statistics.median(v)
    return med, min(v), max(v), (max(v) - min(v)) / med * 100 if med else 0.0
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
lines = ["# bench/load soak — %s min at %s req/s" % (mins, rate), "",
         "%s · %s · %d cores shared with the generator · embedded default · mix `%s` · a sample every %s s · "
         "%d samples, %d after the %s-minute warm-up" % (now, version.strip(), os.cpu_count(), mix, ivl,
                                                       len(rows), len(after), warm), "",
         "| series | median after warm-up | min | max | (max − min) / median |", "|---|---:|---:|---:|---:|"]
for key, label in (("rss_mb", "RSS (MB)"), ("fds", "open file descriptors"), ("threads", "threads"),
                   ("wal_mb", "WAL (MB)"), ("db_mb", "database file (MB)"), ("capsules", "live capsules"),
                   ("rps", "achieved req/s"), ("p50_ms", "p50 (ms)"), ("p99_ms", "p99 (ms)"),
                   ("errors", "errors per window"), ("load1", "load average (1 min)")):
    s = spread(key)
    if s:
        lines.append("| %s | %.1f | %.1f | %.1f | %.0f %% |" % ((label,) + s))
if after:
    c0, c1 = float(after[0]["capsules"]), float(after[-1]["capsules"])
    r0, r1 = float(after[0]["rss_mb"]), float(after[-1]["rss_mb"])
    if c1 > c0:
        lines += ["", "RSS grew %.1f MB while the store grew by %d live capsules after the warm-up: %.2f KB "
                  "per added capsule (the in-memory vector and keyword indexes hold every live capsule)."
                  % (r1 - r0, c1 - c0, (r1 - r0) * 1024 / (c1 - c0))]
lines += ["", "Raw samples: `soak.tsv`; plot: `soak.png`."]
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF

if command -v gnuplot >/dev/null; then
    gnuplot <<EOF
set terminal pngcairo size 1200,1000 font "DejaVu Sans,10"
set output "$here/results/soak.png"
set datafile separator "\t"
set key autotitle columnhead
set multiplot layout 3,2 title "Forge soak: ${MIN} min at ${RATE} req/s (embedded default)"
set xlabel "minutes"
set grid
plot "$tsv" using (\$1/60):2 with lines title "RSS (MB)", "" using (\$1/60):(\$7/1000) with lines title "live capsules (thousands)"
plot "$tsv" using (\$1/60):3 with lines title "open fds", "" using (\$1/60):4 with lines title "threads"
plot "$tsv" using (\$1/60):5 with lines title "WAL (MB)"
plot "$tsv" using (\$1/60):10 with lines title "p99 (ms)", "" using (\$1/60):9 with lines title "p50 (ms)"
plot "$tsv" using (\$1/60):8 with lines title "achieved req/s"
plot "$tsv" using (\$1/60):12 with lines title "load average (1 min)"
unset multiplot
EOF
    echo "plot: $here/results/soak.png"
else
    echo "gnuplot not installed (apt-get install gnuplot-nox): no plot" >&2
fi

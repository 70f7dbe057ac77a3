#!/usr/bin/env bash
# bench/http: wrk against forge's GET /health and against nginx serving the same JSON body from a
# static file, in the same run, with the same threads/connections/duration. Prints both req/s and
# the ratio forge/nginx. Usage: bench/http/run.sh [duration_s] [connections]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
DUR=${1:-10}
CONNS=${2:-64}
THREADS=${THREADS:-2}
FORGE=${FORGE_BIN:-$root/build/forge}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk"; exit 1; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "nginx missing: apt-get install -y nginx-light"; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d)
cleanup() {
  [ -n "${fpid:-}" ] && kill "$fpid" 2>/dev/null || true
  [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
  sleep 0.2
  rm -rf "$tmp"
}
trap cleanup EXIT

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
FPORT=$(port); NPORT=$(port)

HOST=127.0.0.1 PORT=$FPORT WORKERS=${WORKERS:-2} LOG_LEVEL=warning FORGE_ENV_FILE=/dev/null \
  DATABASE_URL="sqlite:///$tmp/forge.db" JWT_SECRET=bench-secret-0123456789-0123456789 \
  "$FORGE" serve >"$tmp/forge.log" 2>&1 &
fpid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$FPORT/health" >/dev/null && break; sleep 0.05; done
body=$(curl -fs "http://127.0.0.1:$FPORT/health")

mkdir -p "$tmp/www"
printf '%s' "$body" >"$tmp/www/health"
cat >"$tmp/nginx.conf" <<CONF
worker_processes ${WORKERS:-2};
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp; proxy_temp_path $tmp; fastcgi_temp_path $tmp;
  uwsgi_temp_path $tmp; scgi_temp_path $tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NPORT;
    root $tmp/www;
    location = /health { default_type application/json; }
  }
}
CONF
"$NGINX" -c "$tmp/nginx.conf" -p "$tmp"
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$NPORT/health" >/dev/null && break; sleep 0.05; done
[ "$(curl -fs "http://127.0.0.1:$NPORT/health")" = "$body" ] || { echo "nginx body differs"; exit 1; }

rps() { wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency "$1" | tee -a "$tmp/wrk.txt" | awk '/Requests\/sec/ {print $2}'; }
echo "# bench/http $(date -u +%FT%TZ) $(nproc) cores, wrk -t$THREADS -c$CONNS -d${DUR}s, workers ${WORKERS:-2}"
# alternate the two so drift on a shared machine hits both
f1=$(rps "http://127.0.0.1:$FPORT/health"); n1=$(rps "http://127.0.0.1:$NPORT/health")
n2=$(rps "http://127.0.0.1:$NPORT/health"); f2=$(rps "http://127.0.0.1:$FPORT/health")
python3 - "$f1" "$f2" "$n1" "$n2" <<'PY'
import sys
f1, f2, n1, n2 = map(float, sys.argv[1:])
f, n = (f1 + f2) / 2, (n1 + n2) / 2
print("forge  GET /health : %10.0f req/s  (runs %.0f, %.0f)" % (f, f1, f2))
print("nginx  static file : %10.0f req/s  (runs %.0f, %.0f)" % (n, n1, n2))
print("ratio forge/nginx  : %10.2f" % (f / n))
PY
grep -h "Non-2xx\|Socket errors" "$tmp/wrk.txt" || echo "no errors reported by wrk"

# bench/load/lib.sh: sourced by run.sh and soak.sh. Needs $FORGE, $tmp, $port, $PY set;
# starts `forge serve` on the embedded default (pid in $fpid), seeds 20 signed-in users and 1000
# capsules, and writes $tmp/setup.json for loadgen.py.

# Forge's own rate limits would (rightly) refuse one client sending 1000 req/s: off for the bench.
env -i PATH="$PATH" HOME="$tmp" HOST=127.0.0.1 PORT="$port" LOG_LEVEL=warning ENVIRONMENT=development \
    DATABASE_URL="sqlite://$tmp/forge.db" RATE_LIMIT_ENABLED=false ${FORGE_EXTRA_ENV:-} \
    JWT_SECRET=bench-load-secret-0123456789abcdef0123 "$FORGE" serve >"$tmp/forge.log" 2>&1 &
fpid=$!
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.05; done
curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null || { cat "$tmp/forge.log"; exit 1; }

# seed: 20 users (signed in), 1000 capsules; find the search endpoint in the OpenAPI document
$PY - "$port" "$tmp/setup.json" <<'EOF'
import json, sys, urllib.request
port, out = int(sys.argv[1]), sys.argv[2]
base = "http://127.0.0.1:%d" % port
def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")
users, tokens, refresh, ids = [], [], [], []
for i in range(20):
    email, pw = "load%02d@example.com" % i, "Load-test-passw0rd-%02d" % i
    call("POST", "/api/v1/auth/register", {"email": email, "password": pw})
    d = call("POST", "/api/v1/auth/login", {"email": email, "password": pw})["data"]
    tokens.append(d["access_token"])
    refresh.append(d["refresh_token"])
    users.append([email, pw])
words = ["decision", "incident", "runbook", "design", "retention", "latency", "index", "vote",
         "overlay", "lineage", "backup", "capsule", "policy", "search", "memory", "review"]
for i in range(1000):
    c = call("POST", "/api/v1/capsules", {"content": "seed %d: %s %s %s" % (
        i, words[i % 16], words[(i * 7) % 16], words[(i * 11) % 16]), "type": "knowledge"},
        tokens[i % len(tokens)])
    ids.append(c["data"]["id"])
paths = call("GET", "/openapi.json")["paths"]
search = None
for p, ops in paths.items():
    if "search" in p and "{" not in p:
        search = {"method": "POST" if "post" in ops else "GET", "path": p}
        break
json.dump({"users": users, "tokens": tokens, "refresh_tokens": refresh, "capsule_ids": ids,
           "search": search}, open(out, "w"))
print("seeded %d users, %d capsules; search endpoint: %s" % (len(users), len(ids), search))
EOF


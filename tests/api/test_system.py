"""Service foundation through the real binary: endpoints, errors, headers, limits, config, logs,
graceful shutdown."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

from forgetest import FORGE_BIN, Forge, assert_error, free_port, main

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_health(f):
    r = f.get("/health")
    assert r.status == 200, r
    assert r.json["status"] == "healthy" and r.json["version"], r.json
    assert r.header("Content-Type") == "application/json"
    assert UUID_RE.match(r.header("X-Correlation-ID")), r.headers
    assert r.header("X-Content-Type-Options") == "nosniff"
    assert r.header("X-Frame-Options") == "DENY"
    assert "default-src 'none'" in r.header("Content-Security-Policy")
    assert r.header("Strict-Transport-Security") is None  # development: plain HTTP
    r = f.request("HEAD", "/health")
    assert r.status == 200 and r.body == "", r


def test_correlation_id_echo(f):
    r = f.get("/health", headers={"X-Correlation-ID": "abc-123_DEF.9"})
    assert r.header("X-Correlation-ID") == "abc-123_DEF.9"
    for bad in ["has space", "x" * 65, "semi;colon", "<script>"]:
        r = f.get("/health", headers={"X-Correlation-ID": bad})
        assert UUID_RE.match(r.header("X-Correlation-ID")), (bad, r.headers)


def test_ready(f):
    r = f.get("/health/ready")
    assert r.status == 200, r
    assert r.json["status"] == "ready"
    assert r.json["checks"]["store"] == "ok"


def test_not_found_and_method(f):
    r = f.get("/api/v1/nothing-here")
    assert_error(r, 404, "not_found")
    r = f.post("/health", body={})
    assert_error(r, 405, "method_not_allowed")
    assert r.header("Allow") == "GET, HEAD, OPTIONS", r.headers
    r = f.request("BREW", "/health")
    assert_error(r, 405)
    for path in ["//health", "/health/", "/" + "a/" * 40, "/%00", "/health?x=%ff"]:
        r = f.get(path)
        assert r.status in (200, 404), (path, r)
        if r.status == 404:
            assert_error(r, 404, "not_found")


def test_metrics(f):
    for _ in range(3):
        f.get("/health")
    f.get("/api/v1/nothing-here")
    r = f.get("/metrics")
    assert r.status == 200
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4")
    text = r.body
    for family in ["http_requests_total", "http_request_duration_seconds",
                   "http_requests_in_flight", "process_resident_memory_bytes",
                   "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds",
                   "forge_build_info", "forge_ready", "forge_capsules_total",
                   "forge_search_duration_seconds", "forge_immune_responses_total"]:
        assert "# TYPE %s " % family in text, family
    m = re.search(r'^http_requests_total\{method="GET",route="/health",status="200"\} (\d+)$',
                  text, re.M)
    assert m and int(m.group(1)) >= 3, text[:2000]
    assert re.search(r'^http_requests_total\{method="GET",route="unmatched",status="404"\} 1$',
                     text, re.M)
    for le in ["0.001", "0.005", "0.1", "1", "10", "+Inf"]:
        assert 'http_request_duration_seconds_bucket{method="GET",route="/health",le="%s"}' % le \
            in text, le
    assert "service=" not in text  # the service label comes from the scrape target
    rss = int(re.search(r"^process_resident_memory_bytes (\d+)", text, re.M).group(1))
    assert rss > 1 << 20


def test_write_stage_metrics(f):
    """The per-stage breakdown of a capsule create (issue 13 item 4) counts real work: every stage
    observed once per create, the follower's stages grow once the index has the capsules."""
    def metrics():
        text = f.get("/metrics").body
        out = {}
        for m in re.finditer(r'^forge_capsule_write_stage_seconds_(count|sum)'
                             r'\{op="create",stage="([a-z_]+)"\} ([0-9.e+-]+)$', text, re.M):
            out[(m.group(2), m.group(1))] = float(m.group(3))
        for m in re.finditer(r'^forge_index_stage_seconds_total\{stage="([a-z_]+)"\} ([0-9.e+-]+)$',
                             text, re.M):
            out[(m.group(1), "follower")] = float(m.group(2))
        return out
    stages = ["validate", "hooks", "begin", "insert", "outbox", "audit", "commit"]
    before = metrics()
    assert all((st, "count") in before for st in stages), before
    tok = f.make_user()["access_token"]
    ids = []
    for i in range(5):
        r = f.post("/api/v1/capsules", {"content": "stage metrics %d" % i}, token=tok)
        assert r.status == 201, r
        ids.append(r.json["data"]["id"])
    r = f.post("/api/v1/capsules", {"content": ""}, token=tok)  # refused: no stage after validate
    assert r.status == 422, r
    after = metrics()
    for st in stages:
        assert after[(st, "count")] - before[(st, "count")] == 5, (st, before, after)
    assert after[("commit", "sum")] > before[("commit", "sum")]  # an fsync takes time
    # the follower: a search reads its own writes, so the index has applied the five by then
    r = f.post("/api/v1/capsules/search", {"query": "stage metrics", "mode": "hybrid"}, token=tok)
    assert r.status == 200, r
    after = metrics()
    for st in ["feed", "keyword", "embed", "hnsw"]:
        assert after[(st, "follower")] > before.get((st, "follower"), 0.0), (st, before, after)


def test_openapi(f):
    r = f.get("/openapi.json")
    assert r.status == 200
    doc = r.json
    assert doc["openapi"].startswith("3.1")
    assert "/health" in doc["paths"] and "get" in doc["paths"]["/health"]
    assert "Error" in doc["components"]["schemas"]
    ids = [op["operationId"] for p in doc["paths"].values() for op in p.values()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_docs_not_in_production():
    f = Forge()
    try:
        r = f.get("/docs")
        assert r.status == 200 and r.header("Content-Type").startswith("text/html")
        assert "/openapi.json" in r.body
    finally:
        f.close()
    f = Forge(env={"ENVIRONMENT": "production",
                   "FORGE_MASTER_KEY": "ab" * 32,
                   "JWT_SECRET": "p" * 40})
    try:
        assert_error(f.get("/docs"), 404, "not_found")
        r = f.get("/health")
        assert r.header("Strict-Transport-Security"), r.headers
        # production logs are JSON lines
        assert any(l.get("event") == "listening" for l in f.log_lines()), f.log()
    finally:
        f.close()


def test_body_limit():
    f = Forge(env={"MAX_BODY_BYTES": "4096"})
    try:
        r = f.request("POST", "/api/v1/anything", raw=b"x" * 5000,
                      headers={"Content-Type": "application/json"})
        assert_error(r, 413, "payload_too_large")
        assert r.json["details"]["max_bytes"] == 4096
        # chunked body without Content-Length, larger than the cap
        s = socket.create_connection(("127.0.0.1", f.port))
        s.sendall(b"POST /api/v1/anything HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Type: application/json\r\n\r\n")
        for _ in range(5):
            s.sendall(b"400\r\n" + b"y" * 1024 + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        data = s.recv(65536).decode()
        s.close()
        assert data.startswith("HTTP/1.1 413"), data[:200]
        assert f.get("/health").status == 200
    finally:
        f.close()


def test_cors():
    f = Forge(env={"CORS_ORIGINS": "https://app.example, https://other.example"})
    try:
        r = f.get("/health", headers={"Origin": "https://app.example"})
        assert r.header("Access-Control-Allow-Origin") == "https://app.example"
        assert "X-Correlation-ID" in r.header("Access-Control-Expose-Headers")
        r = f.get("/health", headers={"Origin": "https://evil.example"})
        assert r.header("Access-Control-Allow-Origin") is None
        r = f.request("OPTIONS", "/openapi.json", headers={
            "Origin": "https://other.example", "Access-Control-Request-Method": "GET"})
        assert r.status == 204, r
        assert "GET" in r.header("Access-Control-Allow-Methods")
        assert "Authorization" in r.header("Access-Control-Allow-Headers")
        r = f.request("OPTIONS", "/nope", headers={"Origin": "https://other.example"})
        assert_error(r, 404)
    finally:
        f.close()


def run_cli(env, *args):
    e = {"PATH": os.environ.get("PATH", ""), "FORGE_ENV_FILE": "/dev/null"}
    e.update(env)
    return subprocess.run([FORGE_BIN] + list(args), env=e, capture_output=True, text=True,
                          timeout=30, cwd="/tmp")


def test_bad_config_stops_start():
    cases = [({"PORT": "eighty"}, "PORT"), ({"PORT": "0"}, "PORT"),
             ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL"),
             ({"ENVIRONMENT": "production"}, "JWT_SECRET"),
             ({"ENVIRONMENT": "production", "JWT_SECRET": "short"}, "JWT_SECRET"),
             ({"WORKERS": "many"}, "WORKERS"),
             ({"MAX_BODY_BYTES": "1"}, "MAX_BODY_BYTES")]
    for env, var in cases:
        p = run_cli(env, "serve")
        assert p.returncode == 2, (env, p.returncode, p.stderr)
        assert var in p.stderr, (env, p.stderr)
    p = run_cli({"LOG_LEVEL": "verbose"}, "serve")
    assert "debug, info, warning, error" in p.stderr, p.stderr
    p = run_cli({}, "serve", "--port")
    assert p.returncode == 2
    p = run_cli({}, "serve", "--bogus")
    assert p.returncode == 2 and "unknown option" in p.stderr


def test_port_in_use():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        p = run_cli({"DATABASE_URL": "sqlite:////tmp/forge-port-test-%d.db" % port},
                    "serve", "--port", str(port))
        assert p.returncode == 2 and "PORT" in p.stderr, p.stderr
    finally:
        s.close()
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove("/tmp/forge-port-test-%d.db%s" % (port, suffix))
            except OSError:
                pass


def test_config_check():
    p = run_cli({"JWT_SECRET": "sup3r-secret-sup3r-secret-sup3r-secret",
                 "DATABASE_URL": "postgresql://forge:hunter2@db/forge",
                 "OPENAI_API_KEY": "sk-live-xyz"}, "config", "check")
    assert p.returncode == 0, p.stderr
    assert "sup3r-secret" not in p.stdout and "hunter2" not in p.stdout
    assert "sk-live-xyz" not in p.stdout
    assert re.search(r"^PORT\s+= 8000", p.stdout, re.M), p.stdout
    assert "postgresql://forge:******@db/forge" in p.stdout
    p = run_cli({"PORT": "x"}, "config", "check")
    assert p.returncode == 2 and "PORT" in p.stderr


def test_configuration_doc_up_to_date():
    p = run_cli({}, "config", "docs")
    assert p.returncode == 0
    doc = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "configuration.md")
    with open(doc) as fh:
        assert fh.read() == p.stdout, "docs/configuration.md is stale: run " \
            "./build/forge config docs > docs/configuration.md"
    for var in ["ENVIRONMENT", "DEBUG", "LOG_LEVEL", "HOST", "PORT", "WORKERS", "DATABASE_URL",
                "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "JWT_SECRET", "FORGE_MASTER_KEY",
                "EMBEDDING_PROVIDER", "OPENAI_API_KEY", "CORS_ORIGINS",
                "RATE_LIMIT_REQUESTS_PER_MINUTE", "FEATURE_GOVERNANCE_ENABLED",
                "FEATURE_OVERLAYS_ENABLED", "FEATURE_COMPLIANCE_LOGGING"]:
        assert "| `%s` |" % var in p.stdout, var


def test_request_log_fields(f):
    f.get("/api/v1/nothing", headers={"Authorization": "Bearer SECRET-TOKEN-123",
                                      "X-Correlation-ID": "log-check-1"})
    time.sleep(0.1)
    lines = [l for l in f.log_lines() if l.get("event") == "http_request"]
    mine = [l for l in lines if l.get("correlation_id") == "log-check-1"]
    assert mine, f.log()
    l = mine[0]
    for k in ["time", "level", "event", "correlation_id", "method", "route", "status",
              "duration_ms", "user_id"]:
        assert k in l, (k, l)
    assert l["status"] == 404 and l["method"] == "GET" and l["route"] == "unmatched"
    assert "SECRET-TOKEN-123" not in f.log()
    assert "127.0.0.1" not in json.dumps(mine)  # no client IPs (personal data) in logs


def test_console_logs_in_development():
    f = Forge(env={"LOG_FORMAT": "auto"})
    try:
        f.get("/nope")
        time.sleep(0.1)
        text = f.log()
        assert re.search(r"info\s+http_request correlation_id=\S+ method=GET route=unmatched", text), text
    finally:
        f.close()


def test_sigterm_finishes_inflight_request(f):
    # A request whose body is still arriving when SIGTERM comes must be answered.
    s = socket.create_connection(("127.0.0.1", f.port))
    body = b'{"a":' + b'1' * 50 + b'}'
    s.sendall(b"POST /api/v1/anything HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    time.sleep(0.2)
    f.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    # new connections are refused while draining
    refused = False
    try:
        socket.create_connection(("127.0.0.1", f.port), timeout=1).close()
    except OSError:
        refused = True
    assert refused, "listener still accepting after SIGTERM"
    s.sendall(body[10:])
    data = s.recv(65536).decode()
    s.close()
    assert data.startswith("HTTP/1.1 404"), data[:200]
    assert "Connection: close" in data
    assert f.proc.wait(30) == 0
    assert "shutdown_complete" in f.log()


def test_sigterm_under_load(f):
    import http.client
    stop = time.time() + 50
    results = {"ok": 0, "refused": 0, "broken": []}
    lock = threading.Lock()

    def worker():
        conn = None
        while time.time() < stop:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", f.port, timeout=10)
                    conn.connect()
            except OSError:
                with lock:
                    results["refused"] += 1
                return  # server gone: stop
            try:
                conn.request("GET", "/health")
                r = conn.getresponse()
                r.read()
                with lock:
                    results["ok"] += 1
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                # a keep-alive connection the server closed between requests: not an
                # accepted request; reconnect
                conn.close()
                conn = None
                with lock:
                    results["broken"].append(repr(e))
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    # load first (a busy ASan run may need more than a second for 100 answers), then SIGTERM
    deadline = time.time() + 20
    while time.time() < deadline:
        with lock:
            if results["ok"] > 100:
                break
        time.sleep(0.05)
    assert results["ok"] > 100, results
    f.send_signal(signal.SIGTERM)
    rc = f.proc.wait(30)
    for t in threads:
        t.join()
    assert rc == 0, (rc, f.log()[-3000:])
    # every answered request was complete; only idle keep-alive connections may be closed
    assert len(results["broken"]) <= 8, results


def test_slow_clients_cut_off():
    f = Forge(env={"CONNECTION_TIMEOUT_S": "1", "REQUEST_TIMEOUT_S": "2"})
    try:
        # idle connection: closed after the idle timeout
        s = socket.create_connection(("127.0.0.1", f.port))
        s.settimeout(5)
        t0 = time.time()
        assert s.recv(100) == b""
        assert time.time() - t0 < 4
        s.close()
        # body dribbled byte by byte: cut off by the request deadline even though never idle
        s = socket.create_connection(("127.0.0.1", f.port))
        s.settimeout(10)
        s.sendall(b"POST /api/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        t0 = time.time()
        got = b""
        try:
            while time.time() - t0 < 8:
                s.sendall(b"a")
                time.sleep(0.3)
                s.setblocking(False)
                try:
                    chunk = s.recv(4096)
                    if chunk == b"":
                        break
                    got += chunk
                    if b"\r\n\r\n" in got:
                        break
                except BlockingIOError:
                    pass
                s.setblocking(True)
        except OSError:
            pass
        s.close()
        assert time.time() - t0 < 6, "slow body not cut off"
        assert got == b"" or got.startswith(b"HTTP/1.1 408"), got[:100]
        assert f.get("/health").status == 200
    finally:
        f.close()


def test_header_limit():
    f = Forge(env={"MAX_HEADER_BYTES": "8192"})
    try:
        s = socket.create_connection(("127.0.0.1", f.port))
        s.settimeout(5)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        data = b""
        try:
            data = s.recv(1000)
        except OSError:
            pass
        s.close()
        assert data == b"" or data.split(b" ")[1] in (b"413", b"414", b"431"), data[:100]
        assert f.get("/health").status == 200
    finally:
        f.close()


if __name__ == "__main__":
    main(globals())

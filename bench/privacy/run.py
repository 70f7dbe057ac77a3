#!/usr/bin/env python3
"""bench/privacy: GDPR export and erasure of one user with many capsules (issue 14).

Starts `forge serve` on a fresh SQLite file (or the PostgreSQL database of $DATABASE_URL, which
must be empty), registers a user, creates N capsules through the API (every 10th edited once, so
it has a revision), then
  1. streams GET /api/v1/me/data to nowhere while sampling the server's VmRSS every 5 ms:
     reports the export size, its time, the RSS before and the peak RSS during the export;
  2. erases the user (POST /api/v1/admin/users/{id}/erase) and reports the time.

usage: bench/privacy/run.py [N=10000]      env: FORGE_BIN (default build/forge), DATABASE_URL,
                                            CONTENT_BYTES (size of each capsule, default ~250)
Standard library only. Run it niced on a shared machine: nice -n 19 bench/privacy/run.py
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FORGE = os.environ.get("FORGE_BIN") or os.path.join(ROOT, "build", "forge")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
ADMIN = ("admin@bench.test", "Bench-Adm1n-passw0rd")
FILL = "lorem ipsum " * (max(int(os.environ.get("CONTENT_BYTES", "240")), 12) // 12)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Client:
    def __init__(self, port):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def req(self, method, path, body=None, token=None):
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        for attempt in range(3):  # the server closes idle or long-lived keep-alive connections
            try:
                self.c.request(method, path, json.dumps(body) if body is not None else None, h)
                r = self.c.getresponse()
                data = r.read()
                return r.status, (json.loads(data) if data else None)
            except (OSError, http.client.HTTPException):
                self.c.close()
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
                if attempt == 2:
                    raise


def main():
    tmp = tempfile.mkdtemp(prefix="forge-bench-privacy-")
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "HOST": "127.0.0.1",
           "PORT": str(port), "LOG_LEVEL": "warning", "ENVIRONMENT": "development",
           "DATABASE_URL": os.environ.get("DATABASE_URL", "sqlite://%s/forge.db" % tmp),
           "RATE_LIMIT_ENABLED": "false", "FORGE_ENV_FILE": "/dev/null",
           "JWT_SECRET": "bench-privacy-secret-0123456789abcdef",
           "ACCESS_TOKEN_TTL_S": "86400",
           "FORGE_ADMIN_EMAIL": ADMIN[0], "FORGE_ADMIN_PASSWORD": ADMIN[1]}
    log = open(os.path.join(tmp, "forge.log"), "wb")
    proc = subprocess.Popen([FORGE, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(400):
            try:
                if Client(port).req("GET", "/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        c = Client(port)
        cred = {"email": "bench-user@bench.test", "password": "Bench-passw0rd"}
        st, r = c.req("POST", "/api/v1/auth/register", cred)
        assert st == 201, r
        uid = r["data"]["id"]
        tok = c.req("POST", "/api/v1/auth/login", cred)[1]["data"]["access_token"]
        adm = c.req("POST", "/api/v1/auth/login",
                    {"email": ADMIN[0], "password": ADMIN[1]})[1]["data"]["access_token"]

        t0 = time.time()
        def worker(k, nthreads):
            cl = Client(port)
            for i in range(k, N, nthreads):
                st, r = cl.req("POST", "/api/v1/capsules",
                               {"content": "bench capsule %d " % i + FILL}, tok)
                assert st == 201, r
                if i % 10 == 0:
                    st, _ = cl.req("PUT", "/api/v1/capsules/" + r["data"]["id"],
                                   {"content": "edited bench capsule %d" % i}, tok)
                    assert st == 200
        ths = [threading.Thread(target=worker, args=(k, 4)) for k in range(4)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        print("# bench/privacy %s, %d cores, store %s, %s" % (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), os.cpu_count(),
            env["DATABASE_URL"].split(":")[0],
            subprocess.run([FORGE, "version"], capture_output=True, text=True).stdout.strip()))
        print("setup: %d capsules (%d with a revision) created in %.1f s" % (
            N, (N + 9) // 10, time.time() - t0))

        time.sleep(0.5)
        before = rss_kb(proc.pid)
        peak = [before]
        stop = threading.Event()
        def sampler():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kb(proc.pid))
                time.sleep(0.005)
        s = threading.Thread(target=sampler)
        s.start()
        t0 = time.time()
        ec = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        ec.request("GET", "/api/v1/me/data", headers={"Authorization": "Bearer " + tok})
        resp = ec.getresponse()
        size = 0
        first = resp.read(200)
        size += len(first)
        while True:
            chunk = resp.read(65536)
            if not chunk:
                break
            size += len(chunk)
        dt = time.time() - t0
        stop.set()
        s.join()
        assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
        print("export: %d bytes (%.1f MiB) in %.2f s; server VmRSS before %.1f MiB, peak during "
              "the export %.1f MiB (+%.1f MiB)" % (size, size / 1048576, dt, before / 1024,
                                                  peak[0] / 1024, (peak[0] - before) / 1024))

        t0 = time.time()
        st, r = c.req("POST", "/api/v1/admin/users/%s/erase" % uid, {"confirmation": "ERASE"},
                      adm)
        dt = time.time() - t0
        assert st == 200, r
        d = r["data"]
        print("erasure: %d capsules removed, %d tombstoned in %.2f s (batches of 500)" % (
            d["capsules_removed"], d["capsules_tombstoned"], dt))
    finally:
        proc.terminate()
        proc.wait()
        log.close()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()

"""Property test: random and mutated bytes thrown at the request path (method, path, headers,
body) must never crash the server; it keeps answering /health with the documented format.
Seeded (FUZZ_SEED) so a failure can be replayed; FUZZ_CASES sets the count."""
import concurrent.futures
import os
import random
import socket
import time

from forgetest import Forge, main

SEED = int(os.environ.get("FUZZ_SEED", "20261126"))
CASES = int(os.environ.get("FUZZ_CASES", "1500"))

METHODS = [b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"HEAD", b"OPTIONS", b"TRACE",
           b"CONNECT", b"G\x00T", b"", b"get", b"X" * 300]
PATHS = [b"/health", b"/metrics", b"/openapi.json", b"/api/v1/capsules", b"/api/v1/capsules/",
         b"/api/v1/capsules/%s" % b"0" * 36, b"/api/v1/auth/login", b"/api/v1/auth/register",
         b"/api/v1/capsules/search", b"/api/v1/capsules/x/lineage?max_depth=-1",
         b"/%2e%2e/%2e%2e/etc/passwd", b"/" + b"a" * 5000, b"*", b"", b"/\xff\xfe",
         b"/health?" + b"&".join(b"k%d=v" % i for i in range(200))]
HEADERS = [b"Content-Type: application/json", b"Content-Length: 5", b"Content-Length: -1",
           b"Content-Length: 99999999999999999999", b"Transfer-Encoding: chunked",
           b"Authorization: Bearer a.b.c", b"Authorization: Bearer " + b"A" * 3000,
           b"Authorization: Basic Zm9vOmJhcg==", b"X-Correlation-ID: \x00\x01",
           b"X-Forwarded-For: 1.2.3.4, ::1, garbage", b"Origin: null", b"Expect: 100-continue",
           b"Host:", b": novalue", b"NoColon", b"Connection: close", b"Content-Type: text/plain"]
BODIES = [b"", b"{}", b"[]", b"null", b'{"a":', b'{"email":"a@b.c","password":"x"}',
          b"\x00" * 10, b'{"a":"\\ud800"}', b"[" * 5000 + b"]" * 5000, b'{"a":1e999999}',
          b'{"content":"' + b"\xc3\x28" * 10 + b'"}', b'{"a":1,"a":2}']


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(0, 4)):
        if not data:
            break
        op = rng.random()
        i = rng.randrange(len(data))
        if op < 0.4:
            data[i] = rng.randrange(256)
        elif op < 0.7:
            del data[i]
        else:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(data)


def build(rng):
    if rng.random() < 0.1:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 2000)))
    method = rng.choice(METHODS)
    path = rng.choice(PATHS)
    version = rng.choice([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1", b"HTTX/1.1"])
    body = rng.choice(BODIES)
    hdrs = [b"Host: 127.0.0.1"] + rng.sample(HEADERS, rng.randint(0, 5))
    if rng.random() < 0.7:
        hdrs.append(b"Content-Length: %d" % len(body))
    req = method + b" " + path + b" " + version + b"\r\n" + b"\r\n".join(hdrs) + b"\r\n\r\n" + body
    if rng.random() < 0.5:
        req = mutate(rng, req)
    return req


def send(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out
    except OSError:
        return b""
    finally:
        s.close()


def test_random_requests():
    f = Forge(env={"MAX_BODY_BYTES": "65536", "CONNECTION_TIMEOUT_S": "1",
                   "RATE_LIMIT_ENABLED": "false"})
    try:
        rng = random.Random(SEED)
        cases = [build(rng) for _ in range(CASES)]
        statuses = {}
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            outs = list(pool.map(lambda d: send(f.port, d), cases))
        for i, (data, out) in enumerate(zip(cases, outs)):
            if out.startswith(b"HTTP/1."):
                code = out[9:12]
                statuses[code] = statuses.get(code, 0) + 1
                assert not code.startswith(b"5") or code in (b"503", b"505"), \
                    (i, data[:200], out[:300])
        assert f.proc.poll() is None, "server died"
        r = f.get("/health")
        assert r.status == 200 and r.json["status"] == "healthy"
        print("cases=%d seed=%d statuses=%s %.1fs" % (CASES, SEED, statuses, time.time() - t0))
        assert len(statuses) >= 3, statuses
    finally:
        f.close()


if __name__ == "__main__":
    main(globals())

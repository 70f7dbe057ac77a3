"""Issue 11, transport findings, with real sockets on loopback (bounded counts and times):
4 slow clients (per-IP cap, header deadline, room for others), 5 X-Forwarded-For over several
lines, 8 Argon2 off the request workers, 9 chunked body over the cap refused early, 10 request
smuggling primitives refused with 400 + close.
"""
import http.client
import json
import os
import select
import socket
import statistics
import threading
import time

from forgetest import Forge, assert_error, main


def xff_request(f, method, path, xff_lines, body=None):
    """A request carrying several X-Forwarded-For header lines (http.client keeps repeats)."""
    c = http.client.HTTPConnection("127.0.0.1", f.port, timeout=30)
    try:
        c.putrequest(method, path)
        for v in xff_lines:
            c.putheader("X-Forwarded-For", v)
        data = json.dumps(body).encode() if body is not None else b""
        c.putheader("Content-Type", "application/json")
        c.putheader("Content-Length", str(len(data)))
        c.endheaders(data)
        r = c.getresponse()
        raw = r.read()
        return r.status, json.loads(raw) if raw else None
    finally:
        c.close()


def raw_exchange(port, data, wait=3.0, src=None):
    """Sends raw bytes, reads until EOF or `wait` seconds of silence. Returns (bytes, eof)."""
    s = socket.socket()
    if src:
        s.bind((src, 0))
    s.settimeout(wait)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                return out, False
            except ConnectionResetError:
                return out, True
            if not b:
                return out, True
            out += b
    finally:
        s.close()


def health_latency(port, src="127.0.0.1", timeout=10.0):
    """Seconds for one fresh-connection GET /health (raises on failure)."""
    t0 = time.monotonic()
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    finally:
        s.close()
    assert out.startswith(b"HTTP/1.1 200"), out[:200]
    return time.monotonic() - t0


# ---- finding 5: X-Forwarded-For on several lines ------------------------------------------------
def test_xff_several_lines_rate_limit_not_bypassed():
    f = Forge(env={"TRUSTED_PROXIES": "127.0.0.1", "RATE_LIMIT_REQUESTS_PER_MINUTE": "5"})
    try:
        statuses = []
        for i in range(8):
            # the attacker's own line first (new address each time), the proxy's line last
            st, _ = xff_request(f, "POST", "/api/v1/auth/refresh",
                                ["198.51.100.%d" % i, "203.0.113.7"], {})
            statuses.append(st)
        assert statuses[:5] == [422] * 5 and statuses[5:] == [429] * 3, statuses
        # another client behind the same proxy is not affected
        st, _ = xff_request(f, "POST", "/api/v1/auth/refresh", ["203.0.113.8"], {})
        assert st == 422, st
        # one list split over lines == the same list on one line
        st, _ = xff_request(f, "POST", "/api/v1/auth/refresh", ["198.51.100.1, 203.0.113.7"], {})
        assert st == 429, st
    finally:
        f.close()


def test_xff_several_lines_ip_block_not_bypassed():
    f = Forge(env={"TRUSTED_PROXIES": "127.0.0.1", "IP_MAX_FAILURES": "3",
                   "LOGIN_MAX_FAILURES": "1000"})
    try:
        body = {"email": "nobody@example.com", "password": "Wr0ngPassword"}
        for i in range(3):
            st, _ = xff_request(f, "POST", "/api/v1/auth/login", ["198.51.100.%d" % i,
                                                                  "203.0.113.7"], body)
            assert st == 401, st
        # blocked, whatever the attacker puts on the first line
        st, b = xff_request(f, "POST", "/api/v1/auth/login", ["198.51.100.200", "203.0.113.7"],
                            body)
        assert st == 403 and b["details"]["rule"] == "ip_block", (st, b)
        st, b = xff_request(f, "GET", "/api/v1/auth/me", ["192.0.2.1", "203.0.113.7"])
        assert st == 403, (st, b)
        # the proxy itself and other clients behind it are not blocked
        st, _ = xff_request(f, "POST", "/api/v1/auth/refresh", ["203.0.113.9"], {})
        assert st == 422, st
        assert f.post("/api/v1/auth/refresh", {}).status == 422
    finally:
        f.close()


if __name__ == "__main__":
    main(globals())

"""Black-box test harness: starts the real `forge` binary on a free loopback port with a temp
data dir, speaks HTTP to it, and stops it. Standard library only (Debian's /usr/bin/python3).

Usage in a test file:
    from forgetest import Forge, main
    def test_x(f: Forge): ...
    if __name__ == "__main__": main(globals())
"""
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

FORGE_BIN = os.path.abspath(os.environ.get("FORGE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "forge"))


# FORGE_TEST_STORE=postgresql runs the same black-box tests on a real PostgreSQL: one throwaway
# cluster per test process, a fresh database per Forge instance (see services.PgServer).
STORE = os.environ.get("FORGE_TEST_STORE", "sqlite")
_pg_cluster = None
_pg_count = 0


def _pg_database_url():
    global _pg_cluster, _pg_count
    import atexit
    from services import PgServer
    if _pg_cluster is None:
        _pg_cluster = PgServer()
        atexit.register(_pg_cluster.close)
    _pg_count += 1
    name = "forge_t%d" % _pg_count
    _pg_cluster.psql("CREATE DATABASE %s" % name, db="postgres")
    return "postgresql://forge:%s@127.0.0.1:%d/%s" % (_pg_cluster.password, _pg_cluster.port,
                                                     name)


def sqlite_only(fn):
    """Marks a test that is about the embedded SQLite store itself (file, WAL, kill -9, backup
    file format): skipped when FORGE_TEST_STORE=postgresql."""
    fn.sqlite_only = True
    return fn


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class Forge:
    """One running server. env: extra environment variables."""

    ADMIN_EMAIL = "admin@forge.test"
    ADMIN_PASSWORD = "Adm1nPassw0rd!"

    def __init__(self, env=None, data_dir=None, start=True, args=None):
        self.dir = data_dir or tempfile.mkdtemp(prefix="forge-test-")
        self._own_dir = data_dir is None
        self.port = free_port()
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith(("FORGE_", "DATABASE_", "JWT_", "REDIS_", "KAFKA_", "EMBEDDING_")) \
                    and k not in ("FORGE_BIN",):
                del self.env[k]
        self.env.update({
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "DATABASE_URL": "sqlite:///" + os.path.join(self.dir, "forge.db"),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",
            "JWT_SECRET": "test-secret-0123456789-0123456789-abcdef",
            "FORGE_ENV_FILE": "/dev/null",
            # bootstrap admin (created on first start; see admin_token/make_user)
            "FORGE_ADMIN_EMAIL": self.ADMIN_EMAIL,
            "FORGE_ADMIN_PASSWORD": self.ADMIN_PASSWORD,
            # every test client is 127.0.0.1: keep the anonymous per-IP limit out of the way
            # (tests of the limit set it explicitly)
            "RATE_LIMIT_REQUESTS_PER_MINUTE": "100000",
        })
        self.env.update(env or {})
        if STORE == "postgresql" and not (env or {}).get("DATABASE_URL"):
            self.env["DATABASE_URL"] = _pg_database_url()
        self.args = args or []
        self.proc = None
        self.log_path = os.path.join(self.dir, "server.log")
        if start:
            self.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, wait_ready=True, timeout=20):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([FORGE_BIN, "serve"] + self.args, env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + timeout
        path = "/health/ready" if wait_ready else "/health"
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("forge exited with %d:\n%s" % (self.proc.returncode, self.log()))
            try:
                r = self.request("GET", path, timeout=2)
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("forge did not become ready:\n" + self.log())

    def log(self):
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_lines(self):
        out = []
        for line in self.log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def request(self, method, path, body=None, headers=None, token=None, timeout=30, raw=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {}
        data = None
        if raw is not None:
            data = raw
        elif body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            payload = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()},
                            payload.decode("utf-8", "replace"))
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # ---- identity helpers -------------------------------------------------------------
    def login(self, email, password, mfa_code=None, **kw):
        """POST /api/v1/auth/login; returns the Response."""
        body = {"email": email, "password": password}
        if mfa_code is not None:
            body["mfa_code"] = mfa_code
        return self.post("/api/v1/auth/login", body, **kw)

    def admin_token(self):
        """Access token of the bootstrap admin (FORGE_ADMIN_EMAIL/PASSWORD), cached per instance
        and renewed shortly before it expires."""
        tok = getattr(self, "_admin_token", None)
        if tok is None or token_claims(tok).get("exp", 0) - time.time() < 10:
            r = self.login(self.env["FORGE_ADMIN_EMAIL"], self.env["FORGE_ADMIN_PASSWORD"])
            assert r.status == 200, "admin login failed: %r" % r
            tok = self._admin_token = r.json["data"]["access_token"]
        return tok

    def make_user(self, role="user", trust="standard", email=None, password="Passw0rd!x"):
        """Registers a user through the API; when role (a name or a list of names) or trust
        differ from the defaults, the admin sets them; then logs in (one Argon2 verify) so the
        token carries the final claims. Returns dict(id, email, password, access_token,
        refresh_token)."""
        email = email or "user-%s@forge.test" % uuid.uuid4().hex[:12]
        r = self.post("/api/v1/auth/register", {"email": email, "password": password})
        assert r.status == 201, "register failed: %r" % r
        uid = r.json["data"]["id"]
        roles = [role] if isinstance(role, str) else list(role)
        if roles != ["user"]:
            r = self.put("/api/v1/admin/users/%s/roles" % uid, {"roles": roles},
                         token=self.admin_token())
            assert r.status == 200, "setting roles failed: %r" % r
        if trust != "standard":
            r = self.put("/api/v1/admin/users/%s/trust" % uid, {"trust_level": trust},
                         token=self.admin_token())
            assert r.status == 200, "setting trust failed: %r" % r
        r = self.login(email, password)
        assert r.status == 200, "login failed: %r" % r
        d = r.json["data"]
        return dict(id=uid, email=email, password=password, access_token=d["access_token"],
                    refresh_token=d["refresh_token"])

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the server; returns its exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def close(self):
        self.stop()
        if self._own_dir and not os.environ.get("FORGE_KEEP_TEST_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def cli(self, *args, input=None, env=None, timeout=60):
        e = dict(self.env)
        e.update(env or {})
        return subprocess.run([FORGE_BIN] + list(args), env=e, input=input, capture_output=True,
                              timeout=timeout, cwd=self.dir, text=True)


def token_claims(token):
    """The (unverified) claims of a JWT, for assertions in tests."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def assert_error(r, status, code=None, field=None):
    """Checks the documented error format {"code","message","details"}."""
    assert r.status == status, "expected %d, got %r" % (status, r)
    assert isinstance(r.json, dict), "error body is not JSON: %r" % r
    assert set(r.json) == {"code", "message", "details"}, "error keys: %r" % r.json
    assert isinstance(r.json["message"], str) and r.json["message"], r
    assert isinstance(r.json["details"], dict), r
    if code:
        assert r.json["code"] == code, "expected code %s: %r" % (code, r)
    if field:
        assert r.json["details"].get("field") == field, "expected field %s: %r" % (field, r)
    assert r.header("X-Correlation-ID"), "missing X-Correlation-ID"


def main(g, fixture_env=None):
    """Runs every test_* function of module globals `g`. A function taking an argument gets a
    fresh Forge (one per test); one taking none runs as is. Prints 'N passed, N failed'."""
    tests = sorted((k, v) for k, v in g.items() if k.startswith("test_") and callable(v))
    only = sys.argv[1:]
    passed = failed = skipped = 0
    for name, fn in tests:
        if only and name not in only:
            continue
        if STORE != "sqlite" and getattr(fn, "sqlite_only", False):
            skipped += 1
            print("SKIP %s (SQLite-specific; store=%s)" % (name, STORE), flush=True)
            continue
        t0 = time.time()
        f = None
        try:
            if fn.__code__.co_argcount:
                f = Forge(env=fixture_env)
                fn(f)
            else:
                fn()
            passed += 1
            print("PASS %s (%.2fs)" % (name, time.time() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s (%.2fs)" % (name, time.time() - t0), flush=True)
            traceback.print_exc()
            if f is not None:
                print("---- server log (tail) ----\n" + "\n".join(f.log().splitlines()[-40:]))
        finally:
            if f is not None:
                f.close()
    if skipped:
        print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    else:
        print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)

"""Helpers for the black-box tests of the `forge` client (tests/api/test_cli*.py): a Client runs
the real binary with its own configuration directory against a Forge started by forgetest."""
import base64
import hashlib
import hmac
import json
import os
import struct
import subprocess
import tempfile
import time

from forgetest import FORGE_BIN


class Client:
    """`forge` client invocations with a private $XDG_CONFIG_HOME (and $HOME)."""

    def __init__(self, f=None, env=None):
        self.f = f
        self.home = tempfile.mkdtemp(prefix="forge-cli-")
        self.cfg = os.path.join(self.home, "cfg")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("FORGE_", "NO_COLOR", "VISUAL", "EDITOR"))}
        self.env.update({"HOME": self.home, "XDG_CONFIG_HOME": self.cfg, "TERM": "dumb"})
        self.env.update(env or {})

    @property
    def creds_path(self):
        return os.path.join(self.cfg, "forge", "credentials.json")

    def creds(self):
        with open(self.creds_path) as fh:
            return json.load(fh)

    def run(self, *args, input=None, env=None, timeout=120, check=None):
        e = dict(self.env)
        e.update(env or {})
        r = subprocess.run([FORGE_BIN] + [str(a) for a in args], env=e, input=input,
                           capture_output=True, timeout=timeout, text=True,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if check is not None:
            assert r.returncode == check, "forge %s -> %d (expected %d)\nstdout: %s\nstderr: %s" % (
                " ".join(map(str, args)), r.returncode, check, r.stdout[-3000:], r.stderr[-3000:])
        return r

    def ok(self, *args, **kw):
        return self.run(*args, check=0, **kw)

    def json(self, *args, **kw):
        r = self.run(*args, "--json", check=0, **kw)
        return json.loads(r.stdout)

    def login(self, email, password, url=None, *extra):
        return self.run("login", url or self.f.url, "--email", email, "--password-stdin", *extra,
                        input=password + "\n")


def totp(secret_b32, t, digits=6, step=30):
    """RFC 6238 TOTP (HMAC-SHA-1), independent of the server."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(t // step)), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 10 ** digits
    return "%0*d" % (digits, code)


def wait_step_margin(offset_s):
    """Waits until the TOTP step at real time + offset has >= 4 s left."""
    while (time.time() + offset_s) % 30 > 26:
        time.sleep(0.2)


def api_list(f, token, path):
    """Every item of a paginated API list."""
    out, page = [], 1
    while True:
        sep = "&" if "?" in path else "?"
        r = f.get("%s%spage=%d&per_page=100" % (path, sep, page), token=token)
        assert r.status == 200, r
        out += r.json["data"]
        if page >= r.json["meta"]["pages"]:
            return out
        page += 1

# forge-test: stores=sqlite,postgresql
"""The `forge overlay` commands against a real `forge serve` (docs/overlays.md, docs/cli.md):
register from a manifest file and a Lua file (validation messages with the field), list with
stats, show, versions, activate/suspend/deprecate/quarantine/release with their permissions,
invoke (result, failure kinds, exit 4 on success:false), invocations of an event hook. Each in
human, --json and -q form."""
import json
import os
import time

from clitest import Client
from forgetest import Forge, main

ADMIN = (Forge.ADMIN_EMAIL, Forge.ADMIN_PASSWORD)
O = "/api/v1/overlays"

SRC = """
function process(x) forge.log("got input") return {echo = x} end
function fail(x) error("boom") end
function spin(x) while true do end end
function on_event(ev) return true end
"""


def files(c, manifest, src=SRC):
    m = os.path.join(c.home, "manifest-%s-%s.json" % (manifest.get("name"),
                                                      manifest.get("version")))
    with open(m, "w") as fh:
        json.dump(manifest, fh)
    s = os.path.join(c.home, "overlay.lua")
    with open(s, "w") as fh:
        fh.write(src)
    return m, s


def mf(name="echo", version="1.0.0", **kw):
    m = {"name": name, "version": version, "capabilities": ["log"],
         "entry_points": ["process", "fail", "spin"], "max_execution_ms": 500,
         "max_fuel": 100000}
    m.update(kw)
    return m


def test_register_list_show_versions(f: Forge):
    admin = Client(f)
    admin.login(*ADMIN).check_returncode()
    atok = f.admin_token()
    u = f.make_user()
    user = Client(f)
    user.login(u["email"], u["password"]).check_returncode()

    # validation errors name the field (422 -> 1); source errors too; users may not (403 -> 4)
    m, s = files(admin, mf(name="Bad Name"))
    r = admin.run("overlay", "register", m, s, check=1)
    assert "manifest.name" in r.stderr, r.stderr
    m, s = files(admin, mf(), "function (")
    assert "source" in admin.run("overlay", "register", m, s, check=1).stderr
    m, s = files(admin, mf())
    r = user.run("overlay", "register", m, s, check=4)
    assert "permission" in r.stderr or "forbidden" in r.stderr.lower(), r.stderr
    bad = os.path.join(admin.home, "bad.json")
    with open(bad, "w") as fh:
        fh.write("[1, 2")
    assert "is not a JSON object" in admin.run("overlay", "register", bad, s, check=1).stderr
    assert "cannot read" in admin.run("overlay", "register", m, "/nonexistent.lua",
                                      check=1).stderr

    # register: human, -q, --json
    r = admin.ok("overlay", "register", m, s)
    assert r.stdout.startswith("Registered overlay echo 1.0.0 ("), r.stdout
    assert "status pending" in r.stdout
    oid = r.stdout.split("(")[1].split(")")[0]
    assert admin.run("overlay", "register", m, s, check=4).returncode == 4  # name+version taken
    m2, s2 = files(admin, mf(version="1.1.0"))
    oid2 = admin.ok("overlay", "register", m2, s2, "-q").stdout.strip()
    m3, s3 = files(admin, mf(name="other"))
    j = admin.json("overlay", "register", m3, s3)
    assert j["data"]["name"] == "other" and j["data"]["status"] == "pending"
    assert j["data"]["manifest"]["max_memory_mb"] == 64  # normalised with defaults

    # list with stats
    r = admin.ok("overlay", "list")
    for col in ("NAME", "STATUS", "CALLS", "FAILURES", "FAIL RATE", "MEAN MS", "echo", "other",
                "pending", "1.1.0"):
        assert col in r.stdout, (col, r.stdout)
    assert "3 overlays" in r.stdout or "(3 overlays)" in r.stdout, r.stdout
    assert set(admin.ok("overlay", "list", "--name", "echo", "-q").stdout.split()) == {oid, oid2}
    api = f.get(O + "?page=1&per_page=20", token=atok).json
    assert admin.json("overlay", "list") == api
    assert admin.ok("overlay", "list", "--status", "active", "-q").stdout.strip() == ""
    # show: fields, stats, manifest, source for the registrant
    r = admin.ok("overlay", "show", oid)
    assert "echo" in r.stdout and "pending" in r.stdout and "0 calls" in r.stdout, r.stdout
    assert '"max_fuel": 100000' in r.stdout and "function process" in r.stdout
    api = f.get("%s/%s" % (O, oid), token=atok).json
    assert admin.json("overlay", "show", oid) == api
    assert admin.ok("overlay", "show", oid, "-q").stdout.strip() == oid
    assert admin.run("overlay", "show", "00000000-0000-4000-8000-000000000000").returncode == 2
    assert "not an overlay id" in admin.run("overlay", "show", "x/y", check=1).stderr
    # versions of the name
    assert set(admin.ok("overlay", "versions", oid, "-q").stdout.split()) == {oid, oid2}
    r = admin.ok("overlay", "versions", oid2)
    assert "1.0.0" in r.stdout and "1.1.0" in r.stdout and "other" not in r.stdout


def test_lifecycle_and_invoke(f: Forge):
    admin = Client(f)
    admin.login(*ADMIN).check_returncode()
    atok = f.admin_token()
    u = f.make_user()
    user = Client(f)
    user.login(u["email"], u["password"]).check_returncode()
    m, s = files(admin, mf(name="life"))
    oid = admin.ok("overlay", "register", m, s, "-q").stdout.strip()

    # pending does not run: success false -> exit 4 (human and json)
    r = user.run("overlay", "invoke", oid, check=4)
    assert "failed: not_active" in r.stdout, r.stdout
    r = user.run("overlay", "invoke", oid, "--json", check=4)
    assert json.loads(r.stdout)["data"]["error"]["kind"] == "not_active"
    assert "not_active" in r.stderr
    # only admins activate (403 -> 4)
    r = user.run("overlay", "activate", oid, check=4)
    assert "overlay:manage" in r.stderr or "admin" in r.stderr, r.stderr
    r = admin.ok("overlay", "activate", oid, "--reason", "reviewed")
    assert r.stdout.strip() == "Overlay %s: status active" % oid, r.stdout
    assert admin.run("overlay", "activate", oid, check=4).returncode == 4  # already active

    # invoke: result, fuel, time, logs; --input JSON, --file, -q compact result
    r = user.ok("overlay", "invoke", oid, "--input", '{"x": [1, 2]}')
    assert r.stdout.startswith("success\n"), r.stdout
    assert '"echo": {' in r.stdout and "fuel" in r.stdout and " ms, " in r.stdout, r.stdout
    assert "log: got input" in r.stdout
    assert user.ok("overlay", "invoke", oid, "-i", "7", "-q").stdout.strip() == '{"echo":7}'
    inp = os.path.join(user.home, "in.json")
    with open(inp, "w") as fh:
        fh.write('"from a file"')
    j = user.json("overlay", "invoke", oid, "--file", inp)
    assert j["data"]["success"] is True and j["data"]["result"] == {"echo": "from a file"}
    assert j["data"]["fuel_consumed"] >= 0 and "execution_time_ms" in j["data"]
    r = user.run("overlay", "invoke", oid, "--input", "{nope", check=1)
    assert "--input is not JSON" in r.stderr
    # failures: runtime error, fuel, unknown entry point -> exit 4 with the kind
    r = user.run("overlay", "invoke", oid, "--function", "fail", check=4)
    assert "failed: runtime_error" in r.stdout and "boom" in r.stdout, r.stdout
    r = user.run("overlay", "invoke", oid, "--function", "spin", check=4)
    assert "failed: fuel_exhausted" in r.stdout or "failed: timeout" in r.stdout, r.stdout
    r = user.run("overlay", "invoke", oid, "--function", "nothere", check=4)
    assert "no_such_entry_point" in r.stdout
    # stats follow
    r = admin.ok("overlay", "show", oid)
    assert "last error" in r.stdout, r.stdout
    st = admin.json("overlay", "show", oid)["data"]["stats"]
    assert st["invocations"] >= 5 and st["failures"] >= 2, st

    # suspend (users may not), deprecate, quarantine/release (admins, reason required)
    user.run("overlay", "suspend", oid, check=4)
    assert admin.json("overlay", "suspend", oid)["data"]["status"] == "suspended"
    assert "not_active" in user.run("overlay", "invoke", oid, check=4).stdout
    admin.ok("overlay", "activate", oid)
    assert "--reason is required" in admin.run("overlay", "quarantine", oid, check=1).stderr
    r = admin.ok("overlay", "quarantine", oid, "--reason", "misbehaves")
    assert "status quarantined" in r.stdout, r.stdout
    assert f.get("%s/%s" % (O, oid), token=atok).json["data"]["status"] == "quarantined"
    admin.run("overlay", "quarantine", oid, "--reason", "again", check=4)
    assert admin.ok("overlay", "release", oid, "--reason", "fixed", "-q").stdout.strip() == oid
    assert f.get("%s/%s" % (O, oid), token=atok).json["data"]["status"] == "active"
    r = admin.ok("overlay", "deprecate", oid)
    assert "status deprecated" in r.stdout
    assert admin.run("overlay", "suspend", oid).returncode == 4


def test_invocations_of_an_event_hook(f: Forge):
    admin = Client(f)
    admin.login(*ADMIN).check_returncode()
    m, s = files(admin, mf(name="hook", events=["capsule.created"],
                           entry_points=["on_event", "process"]))
    oid = admin.ok("overlay", "register", m, s, "-q").stdout.strip()
    admin.ok("overlay", "activate", oid)
    assert admin.ok("overlay", "invocations", oid, "-q").stdout.strip() == ""
    admin.ok("capsule", "create", "an event for the hook")
    deadline = time.time() + 30
    while time.time() < deadline:  # the hook runs asynchronously from the outbox
        ids = admin.ok("overlay", "invocations", oid, "-q").stdout.split()
        if ids:
            break
        time.sleep(0.3)
    assert len(ids) >= 1, "no invocation logged"
    r = admin.ok("overlay", "invocations", oid)
    assert "capsule.created" in r.stdout and "ok" in r.stdout and "OUTCOME" in r.stdout, r.stdout
    j = admin.json("overlay", "invocations", oid)
    assert j["data"][0]["event_type"] == "capsule.created" and j["meta"]["total"] >= 1


if __name__ == "__main__":
    main(globals())

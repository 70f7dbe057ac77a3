# forge-test: stores=sqlite,postgresql
"""Overlays (SPEC §8, §7.1, issue 15): registry, lifecycle, invoke with every failure kind,
capabilities and trust, self-quarantine with its immune response and metric, validation hooks
(with the secret-scanner example), FEATURE_OVERLAYS_ENABLED, and hostile overlays never stalling
/health."""
import json
import os
import shutil
import subprocess
import time

from forgetest import Forge, assert_error, main

O = "/api/v1/overlays"
C = "/api/v1/capsules"
EX = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "overlays")


def manifest(name="echo", version="1.0.0", **kw):
    m = {"name": name, "version": version, "capabilities": []}
    m.update(kw)
    return m


def example(name):
    d = os.path.join(EX, name)
    with open(os.path.join(d, "manifest.json")) as fh:
        m = json.load(fh)
    with open(os.path.join(d, "overlay.lua")) as fh:
        src = fh.read()
    return m, src


def register(f, tok, m, src, status=201):
    r = f.post(O, {"manifest": m, "source": src}, token=tok)
    assert r.status == status, r
    return r.json["data"] if status == 201 else r


def active(f, admin, m, src):
    ov = register(f, admin, m, src)
    r = f.post("%s/%s/activate" % (O, ov["id"]), token=admin)
    assert r.status == 200 and r.json["data"]["status"] == "active", r
    return ov


def invoke(f, tok, oid, fn=None, inp=None):
    body = {}
    if fn:
        body["function"] = fn
    if inp is not None:
        body["input"] = inp
    r = f.post("%s/%s/invoke" % (O, oid), body, token=tok)
    assert r.status == 200, r
    return r.json["data"]


def test_registry_validation_and_lifecycle(f: Forge):
    admin = f.admin_token()
    user = f.make_user()
    trusted = f.make_user(role="trusted", trust="trusted")
    src = "function process(x) return {echo = x} end"
    # permission: users cannot register
    assert_error(f.post(O, {"manifest": manifest(), "source": src}, token=user["access_token"]),
                 403, "authorization_error")
    # field errors
    for bad, field in [
        (manifest(name="Bad Name"), "manifest.name"),
        (manifest(version="1.0"), "manifest.version"),
        (manifest(capabilities=["os:exec"]), "manifest.capabilities"),
        (manifest(max_memory_mb=513), "manifest.max_memory_mb"),
        (manifest(max_execution_ms=50), "manifest.max_execution_ms"),
        (manifest(entry_points=["1x"]), "manifest.entry_points"),
        (manifest(validates=["capsule.delete"]), "manifest.validates"),
        (manifest(events=["capsule.created"]), "manifest.entry_points"),
        (manifest(failure_policy="maybe"), "manifest.failure_policy"),
        (manifest(description="x" * 1001), "manifest.description"),
        (manifest(color="red"), "manifest.color"),
    ]:
        assert_error(f.post(O, {"manifest": bad, "source": src}, token=admin), 422,
                     "validation_error", field)
    assert_error(f.post(O, {"manifest": manifest(), "source": "function ("}, token=admin), 422,
                 "validation_error", "source")
    assert_error(f.post(O, {"manifest": manifest(), "source": ""}, token=admin), 422,
                 "validation_error", "source")
    r = f.post(O, {"manifest": manifest(), "source": "-- " + "x" * 270000}, token=admin)
    assert_error(r, 413, "payload_too_large")

    ov = register(f, trusted["access_token"], manifest(), src)
    assert ov["status"] == "pending" and ov["trust_level"] == "sandbox"
    assert len(ov["sha256"]) == 64 and ov["manifest"]["max_memory_mb"] == 64
    assert ov["manifest"]["max_execution_ms"] == 5000 and ov["manifest"]["max_fuel"] == 1000000
    assert ov["manifest"]["entry_points"] == ["process"]
    assert_error(f.post(O, {"manifest": manifest(), "source": src}, token=admin), 409, "conflict")
    v2 = register(f, admin, manifest(version="1.1.0"), src)

    # pending does not run
    d = invoke(f, user["access_token"], ov["id"], inp=1)
    assert d["success"] is False and d["error"]["kind"] == "not_active"
    # activation is for admins
    assert_error(f.post("%s/%s/activate" % (O, ov["id"]), token=trusted["access_token"]), 403,
                 "authorization_error")
    r = f.post("%s/%s/activate" % (O, ov["id"]), token=admin)
    assert r.status == 200 and r.json["data"]["status"] == "active"
    assert_error(f.post("%s/%s/activate" % (O, ov["id"]), token=admin), 409, "conflict")
    d = invoke(f, user["access_token"], ov["id"], inp={"a": [1, 2]})
    assert d["success"] is True and d["result"] == {"echo": {"a": [1, 2]}}, d
    assert d["error"] is None
    assert d["execution_time_ms"] > 0 and d["memory_peak_bytes"] > 0
    assert isinstance(d["fuel_consumed"], int)
    d = invoke(f, user["access_token"], ov["id"], fn="nope")
    assert d["error"]["kind"] == "no_such_entry_point"

    # get with stats; source only for the registrant / managers
    g = f.get("%s/%s" % (O, ov["id"]), token=user["access_token"]).json["data"]
    assert g["stats"]["invocations"] == 1 and g["stats"]["failures"] == 0
    assert "source" not in g
    g = f.get("%s/%s" % (O, ov["id"]), token=trusted["access_token"]).json["data"]
    assert g["source"] == src
    vs = f.get("%s/%s/versions" % (O, ov["id"]), token=user["access_token"])
    assert vs.status == 200 and vs.json["meta"]["total"] == 2
    assert {x["version"] for x in vs.json["data"]} == {"1.0.0", "1.1.0"}
    lst = f.get(O + "?status=active", token=user["access_token"]).json
    assert [x["id"] for x in lst["data"]] == [ov["id"]]
    assert_error(f.get("%s/%s" % (O, "0190a000-0000-7000-8000-0000000fffff"),
                       token=admin), 404, "not_found")

    # suspend (operator+) and deprecate
    assert_error(f.post("%s/%s/suspend" % (O, ov["id"]), token=user["access_token"]), 403,
                 "authorization_error")
    r = f.post("%s/%s/suspend" % (O, ov["id"]), {"reason": "testing"}, token=admin)
    assert r.status == 200 and r.json["data"]["status"] == "suspended"
    assert invoke(f, user["access_token"], ov["id"])["error"]["kind"] == "not_active"
    r = f.post("%s/%s/deprecate" % (O, v2["id"]), token=admin)
    assert r.status == 200 and r.json["data"]["status"] == "deprecated"

    # audited, events in the outbox
    au = f.get("/api/v1/admin/audit?resource_type=overlay", token=admin)
    actions = {e["action"] for e in au.json["data"]}
    assert {"overlay.register", "overlay.activate", "overlay.suspend",
            "overlay.deprecate"} <= actions, actions


FAILURES = [
    ("runtime", "function process() error('boom') end", "runtime_error"),
    ("fuel", "function process() while true do end end", "fuel_exhausted"),
    ("memory", "function process() local t = {} for i = 1, 1e8 do t[i] = i end end",
     "memory_exceeded"),
    ("clock", "function process() local s = string.rep('a', 1048576) "
              "return s:find('.-.-.-.-.-.-b') end", "timeout"),
    ("denied", "function process() return forge.capsule.get('x') end", "capability_denied"),
    ("badresult", "function process() return function() end end", "bad_result"),
    ("noentry", "function other() end", "no_such_entry_point"),
    ("escape", "function process() return os.execute('id') end", "runtime_error"),
    ("load", "function process() return load('return 1')() end", "runtime_error"),
    ("dump", "function process() return string.dump(process) end", "runtime_error"),
]


def test_failure_kinds_and_self_quarantine(f: Forge):
    admin = f.admin_token()
    for name, src, kind in FAILURES:
        ov = active(f, admin, manifest(name="f-" + name, max_execution_ms=300, max_memory_mb=8,
                                       max_fuel=1000000), src)
        t0 = time.time()
        d = invoke(f, admin, ov["id"])
        took = time.time() - t0
        assert d["success"] is False and d["error"]["kind"] == kind, (name, d)
        assert took < 0.6 + 0.5, (name, took)  # 2x the limit plus HTTP
        assert d["error"]["message"]
    # the server survived all of it
    assert f.get("/health").status == 200

    # self-quarantine: >= 10 invocations, > 50 % failures in the window
    ov = active(f, admin, manifest(name="flaky"),
                "function process(n) if n % 3 ~= 0 then error('flake') end return n end")
    kinds = []
    for i in range(1, 13):
        d = invoke(f, admin, ov["id"], inp=i)
        kinds.append(d["error"]["kind"] if d["error"] else "ok")
        g = f.get("%s/%s" % (O, ov["id"]), token=admin).json["data"]
        if i < 10:
            assert g["status"] == "active", (i, g)
    g = f.get("%s/%s" % (O, ov["id"]), token=admin).json["data"]
    assert g["status"] == "quarantined", g
    assert g["stats"]["failures"] >= 6 and "flake" in g["stats"]["last_error"]
    assert "not_active" in kinds  # runs stop once quarantined
    r = f.get("/api/v1/immune/responses?target_type=overlay", token=admin)
    resp = [x for x in r.json["data"] if x["target_id"] == ov["id"]]
    assert resp and resp[0]["threat_type"] == "overlay_failure", r.json
    assert resp[0]["action"] == "quarantine_overlay"
    m = f.get("/metrics").body
    assert 'forge_overlay_invocations_total{overlay="flaky",outcome="runtime_error",' \
           'status="failure"}' in m, m[-2000:]
    assert 'forge_immune_responses_total{threat_type="overlay_failure"} 1' in m
    # release through the immune routes, manual quarantine too
    r = f.post("/api/v1/immune/release", {"target_type": "overlay", "target_id": ov["id"],
                                          "reason": "fixed upstream"}, token=admin)
    assert r.status == 200 and r.json["data"]["status"] == "active", r
    r = f.post("/api/v1/immune/quarantine", {"target_type": "overlay", "target_id": ov["id"],
                                             "reason": "manual"}, token=admin)
    assert r.status == 201 and r.json["data"]["status"] == "quarantined", r
    assert_error(f.post("/api/v1/immune/quarantine", {"target_type": "overlay",
                                                      "target_id": ov["id"], "reason": "again"},
                        token=admin), 409, "conflict")


def test_capabilities_and_trust(f: Forge):
    admin = f.admin_token()
    user = f.make_user()
    # a standard capsule (trust 60) is above the overlay's sandbox trust (40)
    r = f.post(C, {"content": "standard knowledge about lua overlays", "type": "knowledge"},
               token=user["access_token"])
    assert r.status == 201, r
    std_id = r.json["data"]["id"]
    ov = active(f, admin, manifest(name="reader", capabilities=["capsule:read", "log"]),
                "function process(id) local c = forge.capsule.get(id) forge.log('read') "
                "return {found = c ~= nil} end")
    d = invoke(f, user["access_token"], ov["id"], inp=std_id)
    assert d["success"] and d["result"] == {"found": False}, d
    assert d["logs"] == ["read"]
    # writing without capsule:write is capability_denied even when the error is caught
    ov2 = active(f, admin, manifest(name="writer-denied", capabilities=["capsule:read"]),
                 "function process() pcall(function() return forge.capsule.create({}) end) "
                 "return 1 end")
    d = invoke(f, user["access_token"], ov2["id"])
    assert d["error"]["kind"] == "capability_denied", d
    # an overlay with capsule:write creates at its own trust (sandbox), owned by its registrant
    ov3 = active(f, admin, manifest(name="writer", capabilities=["capsule:write",
                                                                 "capsule:read"]),
                 "function process(t) local c = forge.capsule.create({content = t}) "
                 "return {id = c.id, trust = c.trust_level, back = forge.capsule.get(c.id).id} end")
    d = invoke(f, user["access_token"], ov3["id"], inp="written by an overlay")
    assert d["success"], d
    assert d["result"]["trust"] == "sandbox" and d["result"]["back"] == d["result"]["id"]
    # a caller below the overlay's trust cannot invoke it: quarantine the user first
    low = f.make_user(trust="sandbox")
    d = invoke(f, low["access_token"], ov["id"], inp=std_id)  # sandbox == sandbox: allowed
    assert d["success"]


def test_validation_hooks_secret_scanner(f: Forge):
    admin = f.admin_token()
    user = f.make_user()
    m, src = example("secret-scanner")
    ov = register(f, admin, m, src)
    # pending validators do not run
    r = f.post(C, {"content": "password = hunter2"}, token=user["access_token"])
    assert r.status == 201, r
    assert f.post("%s/%s/activate" % (O, ov["id"]), token=admin).status == 200
    for bad in ["my password = hunter2", "key AKIAABCDEFGHIJKLMNOP here",
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "Authorization: Bearer abcdefghijklmnop"]:
        r = f.post(C, {"content": bad}, token=user["access_token"])
        assert_error(r, 422, "validation_error", "overlay")
        assert "secret-scanner" in r.json["message"], r.json
    r = f.post(C, {"content": "how we rotate credentials safely"}, token=user["access_token"])
    assert r.status == 201, r
    cid = r.json["data"]["id"]
    assert r.json["data"]["metadata"].get("secret_scan") == "clean", r.json
    # updates are validated too
    r = f.patch("%s/%s" % (C, cid), {"content": "pwd: s3cr3t"}, token=user["access_token"])
    assert_error(r, 422, "validation_error", "overlay")
    r = f.patch("%s/%s" % (C, cid), {"content": "rotation every 90 days"},
                token=user["access_token"])
    assert r.status == 200, r
    # a 1 MB capsule scans within the limit
    r = f.post(C, {"content": "a" * (1024 * 1024 - 10)}, token=user["access_token"])
    assert r.status == 201, r


def test_validation_failure_policy(f: Forge):
    admin = f.admin_token()
    user = f.make_user()
    closed = active(f, admin, manifest(name="broken-closed", entry_points=["validate"],
                                       validates=["capsule.create"], max_execution_ms=200),
                    "function validate(c) while true do end end")
    r = f.post(C, {"content": "anything"}, token=user["access_token"])
    assert_error(r, 422, "validation_error", "overlay")
    assert "broken-closed" in r.json["message"] and "closed" in r.json["message"]
    f.post("%s/%s/suspend" % (O, closed["id"]), token=admin)
    active(f, admin, manifest(name="broken-open", entry_points=["validate"],
                              validates=["capsule.create"], max_execution_ms=200,
                              failure_policy="open"),
           "function validate(c) error('bug') end")
    t0 = time.time()
    r = f.post(C, {"content": "anything"}, token=user["access_token"])
    assert r.status == 201, r
    assert time.time() - t0 < 2
    active(f, admin, manifest(name="tagger-validator", entry_points=["validate"],
                              validates=["capsule.create"]),
           "function validate(c) return {allow = true, metadata = {len = #c.content}} end")
    r = f.post(C, {"content": "12345", "metadata": {"k": "v"}}, token=user["access_token"])
    assert r.status == 201 and r.json["data"]["metadata"] == {"k": "v", "len": 5}, r


def test_validator_stats_batched_and_self_quarantine(f: Forge):
    """Validator stats are written in batches off the write path, yet a GET right after the
    writes shows them, and a validator failing most of the time still quarantines itself."""
    admin = f.admin_token()
    user = f.make_user()
    ok = active(f, admin, manifest(name="counting-validator", entry_points=["validate"],
                                   validates=["capsule.create"]),
                "function validate(c) return {allow = true} end")
    for i in range(5):
        r = f.post(C, {"content": "note %d" % i}, token=user["access_token"])
        assert r.status == 201, r
    g = f.get("%s/%s" % (O, ok["id"]), token=admin).json["data"]
    assert g["stats"]["invocations"] == 5 and g["stats"]["failures"] == 0, g
    f.post("%s/%s/suspend" % (O, ok["id"]), token=admin)
    bad = active(f, admin, manifest(name="failing-validator", entry_points=["validate"],
                                    validates=["capsule.create"], failure_policy="open"),
                 "function validate(c) error('always broken') end")
    for i in range(10):
        r = f.post(C, {"content": "more %d" % i}, token=user["access_token"])
        assert r.status == 201, r  # failure policy open: writes go on
    g = f.get("%s/%s" % (O, bad["id"]), token=admin).json["data"]
    assert g["stats"]["invocations"] == 10 and g["stats"]["failures"] == 10, g
    assert g["status"] == "quarantined", g
    assert "always broken" in g["stats"]["last_error"]
    # once quarantined it no longer runs: a further write is not counted
    r = f.post(C, {"content": "after"}, token=user["access_token"])
    assert r.status == 201, r
    g = f.get("%s/%s" % (O, bad["id"]), token=admin).json["data"]
    assert g["stats"]["invocations"] == 10, g


def test_related_linker_example(f: Forge):
    admin = f.admin_token()
    user = f.make_user(trust="sandbox")  # capsules at the overlay's trust are visible to it
    ids = []
    for text in ["postgres vacuum tuning for large tables", "postgres replication lag alerts",
                 "kubernetes ingress certificates"]:
        r = f.post(C, {"content": text}, token=user["access_token"])
        assert r.status == 201, r
        ids.append(r.json["data"]["id"])
    m, src = example("related-linker")
    ov = active(f, admin, m, src)
    d = invoke(f, admin, ov["id"], inp={"capsule_id": ids[0], "limit": 3})
    assert d["success"], d
    rel = [x["id"] for x in d["result"]["related"]]
    assert ids[1] in rel and ids[0] not in rel, d
    assert "postgres" in d["result"]["keywords"]


def test_auto_tagger_rules_via_invoke(f: Forge):
    admin = f.admin_token()
    m, src = example("auto-tagger")
    ov = active(f, admin, m, src)
    d = invoke(f, admin, ov["id"], fn="tags_for", inp="Postgres outage after deploy")
    assert d["success"] and d["result"] == ["database", "incident", "ops"], d


def wait_for(fn, timeout=20):
    t_end = time.time() + timeout
    while time.time() < t_end:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("condition not met within %ss" % timeout)


def test_event_hook_auto_tagger(f: Forge):
    admin = f.admin_token()
    user = f.make_user(trust="sandbox")  # the tagger (trust sandbox) sees these capsules
    m, src = example("auto-tagger")
    ov = active(f, admin, m, src)
    ids = []
    for text in ["postgres outage during deploy", "notes on lua", "nothing in particular"]:
        r = f.post(C, {"content": text}, token=user["access_token"])
        assert r.status == 201, r
        ids.append(r.json["data"]["id"])

    def tagged():
        caps = [f.get("%s/%s" % (C, i), token=admin).json["data"] for i in ids]
        return caps if all("auto_tags" in c["metadata"] for c in caps) else None
    caps = wait_for(tagged)
    assert caps[0]["metadata"]["auto_tags"] == ["database", "incident", "ops"]
    assert caps[1]["metadata"]["auto_tags"] == ["overlays"]
    assert caps[2]["metadata"]["auto_tags"] == ["untagged"]
    # the invocation log: one successful attempt per event, in outbox order (the hook's own write
    # commits before the dispatcher records the attempt: wait for the third row)
    def invocations():
        r = f.get("%s/%s/invocations" % (O, ov["id"]), token=admin)
        assert r.status == 200, r
        return r.json["data"] if len(r.json["data"]) >= 3 else None
    rows = wait_for(invocations)
    assert len(rows) == 3 and all(x["outcome"] == "ok" and x["attempt"] == 1 for x in rows), rows
    seqs = [x["event_seq"] for x in reversed(rows)]
    assert seqs == sorted(seqs)
    # a failing hook is retried and logged per attempt
    bad = active(f, admin, manifest(name="bad-hook", entry_points=["on_event"],
                                    events=["capsule.created"]),
                 "function on_event(e) error('nope') end")
    f.post(C, {"content": "one more"}, token=user["access_token"])
    rows = wait_for(lambda: (lambda d: d if len(d) >= 3 else None)(
        f.get("%s/%s/invocations" % (O, bad["id"]), token=admin).json["data"]))
    assert sorted(x["attempt"] for x in rows) == [1, 2, 3], rows
    assert all(x["outcome"] == "runtime_error" for x in rows)


def two_replicas(key_hex):
    """Two servers on one store; they share the master key of their key store."""
    key = {"FORGE_MASTER_KEY": key_hex * 32}
    a = Forge(env=key)
    env = dict(key, DATABASE_URL=a.env["DATABASE_URL"])
    if env["DATABASE_URL"].startswith("sqlite"):
        env["INDEX_PATH"] = os.path.join(a.dir, "b.index")
    return a, Forge(env=env)


def test_event_hooks_once_across_replicas():
    """Two replicas on one store: every event runs its hook once (the lease holder)."""
    a, b = two_replicas("5e")
    try:
        admin = a.admin_token()
        ov = active(a, admin, manifest(name="counter", entry_points=["on_event"],
                                       events=["capsule.created"]),
                    "function on_event(e) return e.resource_id end")
        n = 8
        for i in range(n):
            srv = a if i % 2 else b
            r = srv.post(C, {"content": "replica event %d" % i}, token=srv.admin_token())
            assert r.status == 201, r

        # Each event succeeds exactly once across both replicas. A failed attempt (e.g. the
        # first call timing out while a sandbox worker starts on a slow machine) is logged and
        # retried by the same lease holder: attempts may be > n, successes must be exactly n.
        def oks(d):
            return [x["event_id"] for x in d["data"] if x["outcome"] == "ok"]

        def logged():
            d = a.get("%s/%s/invocations?per_page=100" % (O, ov["id"]), token=admin).json
            return d if len(oks(d)) >= n else None
        d = wait_for(logged)
        time.sleep(1.0)  # give a duplicate the chance to appear
        d = a.get("%s/%s/invocations?per_page=100" % (O, ov["id"]), token=admin).json
        events = oks(d)
        assert len(events) == n and len(set(events)) == n, d
        for x in d["data"]:
            if x["outcome"] != "ok":  # every failed attempt was retried to success
                assert x["event_id"] in events, d
    finally:
        b.close()
        a.close()


def test_validators_cached_across_replicas():
    """The write path caches the active validators (1 s): a status change applies at once on the
    replica that made it, and within the cache's second on the other one."""
    a, b = two_replicas("5f")
    try:
        admin_a, admin_b = a.admin_token(), b.admin_token()
        # both replicas have read (and cached) the empty validator set
        for srv, tok in ((a, admin_a), (b, admin_b)):
            assert srv.post(C, {"content": "before FORBIDDEN"}, token=tok).status == 201
        ov = active(a, admin_a, manifest(name="no-forbidden", entry_points=["validate"],
                                         validates=["capsule.create"]),
                    "function validate(c) return {allow = not c.content:find('FORBIDDEN'),"
                    " message = 'forbidden word'} end")
        # the replica that activated it: at once
        assert_error(a.post(C, {"content": "FORBIDDEN now"}, token=admin_a), 422,
                     "validation_error", "overlay")

        def refused_on_b():
            r = b.post(C, {"content": "FORBIDDEN on b"}, token=admin_b)
            return r if r.status == 422 else None
        t0 = time.time()
        r = wait_for(refused_on_b, timeout=5)
        assert "no-forbidden" in r.json["message"], r.json
        assert time.time() - t0 < 3, time.time() - t0
        assert a.post("%s/%s/suspend" % (O, ov["id"]), token=admin_a).status == 200
        assert a.post(C, {"content": "FORBIDDEN again"}, token=admin_a).status == 201

        def accepted_on_b():
            r = b.post(C, {"content": "FORBIDDEN on b again"}, token=admin_b)
            return r if r.status == 201 else None
        t0 = time.time()
        wait_for(accepted_on_b, timeout=5)
        assert time.time() - t0 < 3, time.time() - t0
    finally:
        b.close()
        a.close()


def test_governance_executes_overlay_proposals():
    from test_governance import community, propose, activate as gactivate, approve
    c = community()
    f = c.f
    src = "function process(x) return x end"
    v1 = register(f, c.t, manifest(name="gov-ov", version="1.0.0"), src)
    v2 = register(f, c.t, manifest(name="gov-ov", version="1.1.0"), src)
    pid = propose(c, c.t, "overlay_registration", {"overlay_id": v1["id"], "name": "gov-ov",
                                                   "version": "1.0.0", "reason": "useful"})
    gactivate(c, c.t, pid)
    p = approve(c, pid)
    assert p["status"] == "executed", p
    assert p["execution_result"]["overlay_id"] == v1["id"]
    assert f.get("%s/%s" % (O, v1["id"]), token=c.admin).json["data"]["status"] == "active"
    # overlay_update activates the new version and deprecates the old one
    pid = propose(c, c.t, "overlay_update", {"overlay_id": v2["id"], "version": "1.1.0"})
    gactivate(c, c.t, pid)
    p = approve(c, pid)
    assert p["status"] == "executed" and p["execution_result"]["deprecated"] == [v1["id"]], p
    assert f.get("%s/%s" % (O, v2["id"]), token=c.admin).json["data"]["status"] == "active"
    assert f.get("%s/%s" % (O, v1["id"]), token=c.admin).json["data"]["status"] == "deprecated"
    # a mismatching name fails the proposal; trust_adjustment of an overlay is real
    pid = propose(c, c.t, "overlay_update", {"overlay_id": v1["id"], "version": "9.9.9"})
    gactivate(c, c.t, pid)
    p = approve(c, pid)
    assert p["status"] == "failed" and "not the name/version" in p["execution_result"]["reason"]
    pid = propose(c, c.t, "trust_adjustment", {"target_type": "overlay", "target_id": v2["id"],
                                               "proposed_trust": "standard",
                                               "reason": "reviewed and stable for months"})
    gactivate(c, c.t, pid)
    p = approve(c, pid)
    assert p["status"] == "executed", p
    assert f.get("%s/%s" % (O, v2["id"]), token=c.admin).json["data"]["trust_level"] == "standard"
    au = f.get("/api/v1/admin/audit?resource_type=overlay&action=overlay.activate",
               token=c.admin).json["data"]
    assert any(e["details"].get("proposal_id") for e in au), au


def test_feature_flag_off():
    f = Forge(env={"FEATURE_OVERLAYS_ENABLED": "false"})
    try:
        admin = f.admin_token()
        for method, path in [("GET", O), ("POST", O), ("GET", O + "/0190a000-0000-7000-8000-0000000fffff"),
                             ("POST", O + "/0190a000-0000-7000-8000-0000000fffff/invoke")]:
            r = f.request(method, path, {} if method == "POST" else None, token=admin)
            assert_error(r, 404, "not_found")
        r = f.post(C, {"content": "password = x"}, token=admin)
        assert r.status == 201
    finally:
        f.close()


def test_hostile_overlays_while_wrk_hits_health(f: Forge):
    wrk = shutil.which("wrk")
    assert wrk, "wrk is a test dependency (scripts/install-deps.sh --test)"
    admin = f.admin_token()
    ids = []
    for name, src, _ in FAILURES[:4]:
        ids.append(active(f, admin, manifest(name="h-" + name, max_execution_ms=300,
                                             max_memory_mb=16), src)["id"])
    p = subprocess.Popen([wrk, "-t1", "-c4", "-d4s", f.url + "/health"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    n = 0
    t_end = time.time() + 3.5
    while time.time() < t_end:
        for oid in ids:
            d = invoke(f, admin, oid)
            assert d["success"] is False
            n += 1
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 0, out
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    reqs = [l for l in out.splitlines() if "requests in" in l]
    assert reqs and int(reqs[0].split()[0]) > 100, out
    print("hostile invocations during wrk: %d; wrk: %s" % (n, reqs[0].strip()))
    assert f.get("/health").status == 200


if __name__ == "__main__":
    main(globals())

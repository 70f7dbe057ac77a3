"""GDPR rights (issue 14 item 3, docs/privacy.md): access/portability export (streamed, schema
version, attachment, `forge admin export-user`), erasure (DELETE /api/v1/me with password and
confirmation, POST /api/v1/admin/users/{id}/erase): capsules removed with their revisions, lineage
tombstones, votes anonymised with closed tallies unchanged, account anonymised and unable to log
in, audit entry without personal data, idempotent, resumed after kill -9, re-applied by
`forge restore` of a backup taken before it; consents (typed purposes, history, audit)."""
import json
import os
import signal
import threading
import time

# forge-test: stores=sqlite,postgresql
from forgetest import Forge, assert_error, main

ENV = {
    "RATE_LIMIT_ENABLED": "false",
    "FORGE_TEST_CLOCK": "1",
    "ACCESS_TOKEN_TTL_S": "86400",
    "GOVERNANCE_CLOSE_INTERVAL_S": "1",
}
CAPS = "/api/v1/capsules"
P = "/api/v1/governance/proposals"
ERASE = {"confirmation": "ERASE"}


def mk(f, token, content, parent=None):
    body = {"content": content}
    if parent:
        body["parent_id"] = parent
    r = f.post(CAPS, body, token=token)
    assert r.status == 201, r
    return r.json["data"]["id"]


def owned_total(f, uid):
    r = f.get(CAPS + "?owner_id=%s&per_page=1" % uid, token=f.admin_token())
    assert r.status == 200, r
    return r.json["meta"]["total"]


def audit(f, **q):
    qs = "&".join("%s=%s" % kv for kv in q.items())
    r = f.get("/api/v1/admin/audit?per_page=100&" + qs, token=f.admin_token())
    assert r.status == 200, r
    return r.json["data"]


def test_export_everything_streamed_with_schema(f: Forge):
    u = f.make_user()
    t = u["access_token"]
    a = mk(f, t, "first version of a")
    r = f.put(CAPS + "/" + a, {"content": "second version of a"}, token=t)
    assert r.status == 200, r
    mk(f, t, "capsule b")
    assert f.put("/api/v1/me/consents", {"consents": {"research": True}}, token=t).status == 200
    r = f.get("/api/v1/me/data", token=t)
    assert r.status == 200, r
    assert r.header("Transfer-Encoding") == "chunked", r.headers  # streamed
    assert r.header("Content-Disposition") is None
    doc = json.loads(r.body)
    d = doc["data"]
    assert doc["meta"]["schema_version"] == 1 and d["schema"] == "forge.user-export"
    assert d["schema_version"] == 1
    assert d["user"]["id"] == u["id"] and d["user"]["email"] == u["email"]
    assert "password_hash" not in json.dumps(d) and "mfa_secret" not in json.dumps(d)
    caps = {c["id"]: c for c in d["capsules"]}
    assert len(caps) == 2 and caps[a]["content"] == "second version of a"
    assert [x["content"] for x in caps[a]["revisions"]] == ["first version of a"]
    assert len(d["sessions"]) >= 1 and "refresh_jti" not in json.dumps(d["sessions"])
    assert [(c["purpose"], c["granted"]) for c in d["consents"]] == [("research", True)]
    assert any(x["action"] == "auth.register" for x in d["audit"])
    assert d["votes"] == [] and d["proposals"] == []
    # portability: the same document as a file
    r2 = f.get("/api/v1/me/data?download=1", token=t)
    assert r2.status == 200
    assert r2.header("Content-Disposition").startswith("attachment; filename=\"forge-export-")
    d2 = json.loads(r2.body)["data"]
    assert [c["id"] for c in d2["capsules"]] == [c["id"] for c in d["capsules"]]
    r3 = f.get("/api/v1/me/data", token=t, headers={"Accept": "application/octet-stream"})
    assert r3.header("Content-Disposition") is not None
    assert_error(f.get("/api/v1/me/data"), 401)
    assert_error(f.get("/api/v1/me/data?download=maybe", token=t), 422, field="download")
    # many capsules: pages are stitched into one valid document
    for i in range(45):
        mk(f, t, "bulk %d" % i)
    d = json.loads(f.get("/api/v1/me/data", token=t).body)["data"]
    assert len(d["capsules"]) == 47 and len({c["id"] for c in d["capsules"]}) == 47


def test_admin_export_user_cli(f: Forge):
    u = f.make_user()
    mk(f, u["access_token"], "exported by the admin tool")
    out = os.path.join(f.dir, "export.json")
    p = f.cli("admin", "export-user", u["email"], "--out", out)
    assert p.returncode == 0, p.stderr
    d = json.load(open(out))["data"]
    assert d["user"]["id"] == u["id"] and d["capsules"][0]["content"] == "exported by the admin tool"
    p = f.cli("admin", "export-user", u["id"])
    assert p.returncode == 0 and json.loads(p.stdout)["data"]["user"]["email"] == u["email"]
    p = f.cli("admin", "export-user", "nobody@forge.test")
    assert p.returncode == 1 and "no such user" in p.stderr
    assert f.cli("admin", "export-user").returncode == 2


def test_consents_typed_history_audited(f: Forge):
    u = f.make_user()
    t = u["access_token"]
    r = f.get("/api/v1/me/consents", token=t)
    assert r.status == 200, r
    d = r.json["data"]
    assert d["policy_version"] == "1"
    assert [(p["purpose"], p["granted"]) for p in d["purposes"]] == [
        ("analytics", False), ("marketing", False), ("research", False)]
    assert d["history"] == [] and d["history_total"] == 0
    r = f.put("/api/v1/me/consents", {"consents": {"analytics": True, "marketing": True}}, token=t)
    assert r.status == 200, r
    r = f.put("/api/v1/me/consents", {"consents": {"marketing": False}}, token=t)  # withdrawal
    d = r.json["data"]
    cur = {p["purpose"]: p for p in d["purposes"]}
    assert cur["analytics"]["granted"] is True and cur["marketing"]["granted"] is False
    assert cur["marketing"]["policy_version"] == "1" and cur["marketing"]["updated_at"]
    assert d["history_total"] == 3
    assert [(h["purpose"], h["granted"]) for h in d["history"]][0] == ("marketing", False)
    assert all(h["policy_version"] == "1" and h["at"] for h in d["history"])
    # the withdrawal is what a fresh read sees at once
    cur = {p["purpose"]: p["granted"]
           for p in f.get("/api/v1/me/consents", token=t).json["data"]["purposes"]}
    assert cur["marketing"] is False
    entries = audit(f, action="consent.update", user_id=u["id"])
    assert len(entries) == 2, entries
    assert_error(f.put("/api/v1/me/consents", {"consents": {"telepathy": True}}, token=t), 422,
                 "validation_error", field="consents")
    assert_error(f.put("/api/v1/me/consents", {"consents": {"analytics": "yes"}}, token=t), 422,
                 field="consents")
    assert_error(f.put("/api/v1/me/consents", {"consents": {}}, token=t), 422, field="consents")
    assert_error(f.put("/api/v1/me/consents", {"consent": {}}, token=t), 422)
    assert_error(f.get("/api/v1/me/consents"), 401)


def test_consent_purposes_configurable():
    f = Forge(env=dict(ENV, CONSENT_PURPOSES="newsletter", CONSENT_POLICY_VERSION="2026-12"))
    try:
        t = f.make_user()["access_token"]
        r = f.put("/api/v1/me/consents", {"consents": {"newsletter": True}}, token=t)
        assert r.status == 200, r
        d = r.json["data"]
        assert d["policy_version"] == "2026-12"
        assert [(p["purpose"], p["granted"], p["policy_version"]) for p in d["purposes"]] == [
            ("newsletter", True, "2026-12")]
        assert_error(f.put("/api/v1/me/consents", {"consents": {"analytics": True}}, token=t), 422)
    finally:
        f.close()
    g = Forge(start=False, env=dict(ENV, CONSENT_PURPOSES="Bad Name"))
    try:
        try:
            g.start(timeout=10)
            assert False, "a bad CONSENT_PURPOSES must stop the start"
        except RuntimeError as e:
            assert "CONSENT_PURPOSES" in str(e)
    finally:
        g.close()


def test_erase_me_errors(f: Forge):
    u = f.make_user()
    t = u["access_token"]
    pw = u["password"]
    assert_error(f.delete("/api/v1/me", body={"password": pw, "confirmation": "ERASE"}), 401)
    assert_error(f.delete("/api/v1/me", body={"password": pw}, token=t), 422,
                 field="confirmation")
    assert_error(f.delete("/api/v1/me", body={"password": pw, "confirmation": "yes"}, token=t),
                 422, field="confirmation")
    assert_error(f.delete("/api/v1/me", body={"confirmation": "ERASE"}, token=t), 422,
                 field="password")
    assert_error(f.delete("/api/v1/me", body={"password": "Wrong-passw0rd", "confirmation": "ERASE"},
                          token=t), 422, field="password")
    assert_error(f.delete("/api/v1/me", body={"password": pw, "confirmation": "ERASE", "x": 1},
                          token=t), 422)
    assert f.get("/api/v1/auth/me", token=t).status == 200  # nothing happened
    # the only admin cannot erase themselves
    assert_error(f.delete("/api/v1/me", body={"password": f.ADMIN_PASSWORD, "confirmation": "ERASE"},
                          token=f.admin_token()), 409)


def test_erase_me_removes_and_anonymises(f: Forge):
    u = f.make_user()
    t = u["access_token"]
    other = f.make_user()
    a = mk(f, t, "private note of the erased user")
    f.put(CAPS + "/" + a, {"content": "edited private note"}, token=t)
    leaf = mk(f, t, "derived by the same user", parent=a)
    theirs = mk(f, other["access_token"], "derived by someone else", parent=a)
    f.put("/api/v1/me/consents", {"consents": {"analytics": True}}, token=t)
    time.sleep(1.1)  # as_of below is after the creation of `a` (second precision)
    before_erase = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    r = f.get(CAPS + "/%s?as_of=%s" % (a, before_erase), token=f.admin_token())
    assert r.status == 200 and r.json["data"]["content"] == "edited private note", r
    time.sleep(1.1)
    r = f.delete("/api/v1/me", body={"password": u["password"], "confirmation": "ERASE"}, token=t)
    assert r.status == 200, r
    d = r.json["data"]
    assert d["erased"] is True and d["already_erased"] is False
    assert d["capsules_removed"] == 1 and d["capsules_tombstoned"] == 1, d
    adm = f.admin_token()
    assert_error(f.get(CAPS + "/" + leaf, token=adm), 404)
    assert_error(f.get(CAPS + "/" + a, token=adm), 404)
    assert_error(f.get(CAPS + "/%s/revisions" % a, token=adm), 404)
    assert owned_total(f, u["id"]) == 0
    # lineage stays truthful: the child of someone else keeps a tombstone ancestor
    r = f.get(CAPS + "/%s/lineage" % theirs, token=other["access_token"])
    assert r.status == 200, r
    anc = r.json["data"]["ancestors"]
    assert len(anc) == 1 and anc[0]["id"] == a and anc[0]["erased"] is True, anc
    assert "content_preview" not in anc[0] and "owner_id" not in anc[0]
    r = f.get(CAPS + "/" + theirs, token=adm)
    assert r.status == 200 and r.json["data"]["parent_id"] == a
    # an admin reading deleted capsules sees only the tombstone; time travel never shows it
    r = f.get(CAPS + "/%s?include_deleted=true" % a, token=adm)
    assert r.status == 200 and r.json["data"]["content"] == "[erased]", r
    assert r.json["data"]["metadata"] == {} and r.json["data"]["is_deleted"] is True
    r = f.get(CAPS + "/%s?include_deleted=true&as_of=%s" % (a, before_erase), token=adm)
    assert_error(r, 404)
    # account anonymised; login impossible; the old token refused
    acct = f.get("/api/v1/admin/users/" + u["id"], token=adm).json["data"]
    assert acct["email"] != u["email"] and acct["email"].endswith("@erased.invalid"), acct
    assert acct["display_name"] is None and acct["disabled"] is True and not acct["mfa_enabled"]
    assert_error(f.login(u["email"], u["password"]), 401)
    assert f.get("/api/v1/auth/me", token=t).status == 401
    # the search index forgets the content
    r = f.post(CAPS + "/search", {"query": "private note", "mode": "keyword"}, token=adm)
    assert r.status == 200 and all(x["id"] not in (a, leaf) for x in r.json["data"]), r
    # an audit entry without personal data
    e = audit(f, action="user.erase")
    assert len(e) == 1 and e[0]["resource_id"] == u["id"], e
    blob = json.dumps(e[0])
    assert u["email"] not in blob and "127.0.0.1" not in blob, blob
    assert e[0]["details"]["requested_by"] == "self"
    assert f.get("/api/v1/admin/audit/verify", token=adm).json["data"]["valid"] is True


def test_admin_erase_rules_and_idempotence(f: Forge):
    u = f.make_user()
    for i in range(3):
        mk(f, u["access_token"], "admin-erased %d" % i)
    plain = f.make_user()
    url = "/api/v1/admin/users/%s/erase" % u["id"]
    assert_error(f.post(url, ERASE, token=plain["access_token"]), 403)
    assert_error(f.post(url, ERASE), 401)
    assert_error(f.post(url, {}, token=f.admin_token()), 422, field="confirmation")
    me = f.login(f.ADMIN_EMAIL, f.ADMIN_PASSWORD).json["data"]["access_token"]
    from forgetest import token_claims
    assert_error(f.post("/api/v1/admin/users/%s/erase" % token_claims(me)["sub"], ERASE,
                        token=me), 409)
    assert_error(f.post("/api/v1/admin/users/00000000-0000-7000-8000-000000000000/erase", ERASE,
                        token=f.admin_token()), 404)
    r = f.post(url, ERASE, token=f.admin_token())
    assert r.status == 200 and r.json["data"]["capsules_removed"] == 3, r
    r = f.post(url, ERASE, token=f.admin_token())  # idempotent
    assert r.status == 200 and r.json["data"]["already_erased"] is True, r
    assert r.json["data"]["capsules_removed"] == 3
    assert len(audit(f, action="user.erase")) == 1
    assert audit(f, action="user.erase")[0]["details"]["requested_by"] == "admin"
    assert_error(f.login(u["email"], u["password"]), 401)


def test_votes_anonymised_closed_tallies_unchanged(f: Forge):
    adm = f.admin_token()
    t = f.make_user(role="trusted", trust="trusted")["access_token"]
    x = f.make_user()
    body = {"title": "Proposal about policy", "description": "A description that explains what "
            "changes, why, and what members should expect.", "type": "policy",
            "payload": {"title": "Cite sources", "content": "Every summary cites its source."},
            "voting_duration_hours": 1}
    r = f.post(P, body, token=t)
    assert r.status == 201, r
    pid = r.json["data"]["id"]
    assert f.post(P + "/%s/activate" % pid, token=t).status == 200
    assert f.post(P + "/%s/votes" % pid, {"vote": "for"}, token=adm).status == 201
    r = f.post(P + "/%s/votes" % pid, {"vote": "against", "reasoning": "my private reasons"},
               token=x["access_token"])
    assert r.status == 201, r
    assert f.post("/api/v1/admin/test/clock", {"offset_ms": 3601 * 1000}, token=adm).status == 200
    before = f.get(P + "/" + pid, token=adm).json["data"]
    assert before["status"] not in ("draft", "active"), before
    exp = json.loads(f.get("/api/v1/me/data", token=x["access_token"]).body)["data"]
    assert exp["votes"][0]["proposal_id"] == pid and exp["votes"][0]["vote"] == "against"
    r = f.post("/api/v1/admin/users/%s/erase" % x["id"], ERASE, token=adm)
    assert r.status == 200 and r.json["data"]["votes_anonymised"] == 1, r
    after = f.get(P + "/" + pid, token=adm).json["data"]
    keys = ("status", "votes_for", "votes_against", "votes_abstain", "votes_cast",
            "participation", "approval")
    assert {k: before.get(k) for k in keys} == {k: after.get(k) for k in keys}, (before, after)
    votes = f.get(P + "/%s/votes?per_page=10" % pid, token=adm).json["data"]
    assert len(votes) == 2
    assert "my private reasons" not in json.dumps(votes), votes


def test_kill9_mid_erasure_resumes_at_start():
    n = 1100  # three batches of at most 500
    f = Forge(env=dict(ENV, FORGE_TEST_ERASE_PAUSE_MS="1500"))
    try:
        u = f.make_user()
        t = u["access_token"]
        root = mk(f, t, "root of a long chain")
        for i in range(n - 1):
            mk(f, t, "capsule number %d of the erased user" % i, parent=root if i < 10 else None)
        assert owned_total(f, u["id"]) == n  # also signs the admin in before the race below
        res = {}

        def erase():
            try:
                res["r"] = f.post("/api/v1/admin/users/%s/erase" % u["id"], ERASE,
                                  token=f.admin_token(), timeout=60)
            except OSError as e:  # the server is killed under the request
                res["err"] = e
        th = threading.Thread(target=erase)
        th.start()
        deadline = time.time() + 30
        left = n
        while time.time() < deadline:
            left = owned_total(f, u["id"])
            if left < n:
                break
            time.sleep(0.05)
        assert 0 < left < n, left  # mid-way: one batch committed, more to come
        f.proc.send_signal(signal.SIGKILL)
        f.proc.wait()
        th.join()
        assert "r" not in res or res["r"].status != 200, res
        f.stop()
        f.env.pop("FORGE_TEST_ERASE_PAUSE_MS")
        f.start(timeout=60)  # resumes the job before serving
        assert owned_total(f, u["id"]) == 0
        acct = f.get("/api/v1/admin/users/" + u["id"], token=f.admin_token()).json["data"]
        assert acct["email"].endswith("@erased.invalid") and acct["disabled"] is True, acct
        assert_error(f.login(u["email"], u["password"]), 401)
        assert "erasure_resumed" in f.log()
        assert f.get("/api/v1/admin/audit/verify",
                     token=f.admin_token()).json["data"]["valid"] is True
        r = f.post("/api/v1/admin/users/%s/erase" % u["id"], ERASE, token=f.admin_token())
        assert r.status == 200 and r.json["data"]["already_erased"] is True
        assert r.json["data"]["capsules_removed"] + r.json["data"]["capsules_tombstoned"] == n
    finally:
        f.close()


def test_restore_of_older_backup_reapplies_erasure(f: Forge):
    u = f.make_user()
    keep = f.make_user()
    ids = [mk(f, u["access_token"], "will be erased %d" % i) for i in range(5)]
    kept = mk(f, keep["access_token"], "stays after the restore")
    backup = os.path.join(f.dir, "before-erasure.backup")
    p = f.cli("backup", backup)
    assert p.returncode == 0, p.stderr
    r = f.post("/api/v1/admin/users/%s/erase" % u["id"], ERASE, token=f.admin_token())
    assert r.status == 200, r
    f.stop()
    p = f.cli("restore", backup, "--force")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "erasure ledger re-applied (1 erasure" in p.stdout, p.stdout
    f.start(timeout=60)
    f._admin_token = None  # the restored data predates the session of the cached token
    adm = f.admin_token()
    for cid in ids:
        assert_error(f.get(CAPS + "/" + cid, token=adm), 404)
    assert f.get(CAPS + "/" + kept, token=adm).status == 200
    acct = f.get("/api/v1/admin/users/" + u["id"], token=adm).json["data"]
    assert acct["email"].endswith("@erased.invalid"), acct
    assert_error(f.login(u["email"], u["password"]), 401)
    assert f.login(keep["email"], keep["password"]).status == 200
    # a second restore of the same backup: applied again, nothing else changes
    f.stop()
    p = f.cli("restore", backup, "--force")
    assert p.returncode == 0, p.stderr
    f.start(timeout=60)
    f._admin_token = None
    assert owned_total(f, u["id"]) == 0


def test_openapi_lists_the_routes(f: Forge):
    doc = f.get("/openapi.json").json
    paths = doc["paths"]
    assert "get" in paths["/api/v1/me/data"] and "delete" in paths["/api/v1/me"]
    assert "post" in paths["/api/v1/admin/users/{id}/erase"]
    assert {"get", "put"} <= set(paths["/api/v1/me/consents"])


if __name__ == "__main__":
    main(globals(), fixture_env=ENV)

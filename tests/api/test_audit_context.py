# forge-test: stores=sqlite,postgresql
"""The call context in the audit trail (issue 12): the correlation id of an HTTP request (sent as
X-Request-ID, echoed as X-Correlation-ID) is the correlation id of every audit entry the request
caused — capsules, identity, quarantine — with the acting user and client IP; work done without a
user acts as the system with a real context: governance closes and executes an approved proposal
as "system:governance" under the correlation id of the request that found it due (or a job id
"job-<uuid>" when the background closer did), the CLI acts as "cli" under a job id.
"""
import json
import re
import time
import uuid

from forgetest import Forge, main

ENV = {
    "FORGE_TEST_CLOCK": "1",
    "ACCESS_TOKEN_TTL_S": "86400",
    "GOVERNANCE_CLOSE_INTERVAL_S": "3600",  # the request closes the proposal, not the job
}
CAPS = "/api/v1/capsules"
AUDIT = "/api/v1/admin/audit"
P = "/api/v1/governance/proposals"
DESC = "A description that explains what changes, why, and what members should expect."
JOB_ID = re.compile(r"^job-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")


def rid(tag):
    return "%s-%s" % (tag, uuid.uuid4().hex[:12])


def entries(f, query):
    r = f.get(AUDIT + "?per_page=100&" + query, token=f.admin_token())
    assert r.status == 200, r
    return r.json["data"]


def test_request_id_in_the_audit_entries_it_caused(f: Forge):
    u = f.make_user()
    adm = f.admin_token()
    # capsule (core/capsule.c)
    cid = rid("req-create")
    r = f.post(CAPS, {"content": "correlated"}, token=u["access_token"],
               headers={"X-Request-ID": cid})
    assert r.status == 201 and r.header("X-Correlation-ID") == cid, r
    cap = r.json["data"]["id"]
    got = entries(f, "resource_type=capsule&resource_id=" + cap)
    assert [(e["action"], e["actor_id"], e["correlation_id"], e["client_ip"]) for e in got] == \
        [("capsule.create", u["id"], cid, "127.0.0.1")], got
    # identity (core/identity.c): an admin change and a login
    tid = rid("req-trust")
    r = f.put("/api/v1/admin/users/%s/trust" % u["id"], {"trust_level": "trusted"}, token=adm,
              headers={"X-Request-ID": tid})
    assert r.status == 200 and r.header("X-Correlation-ID") == tid, r
    admin_id = json.loads(f.get("/api/v1/auth/me", token=adm).body)["data"]["id"]
    got = [e for e in entries(f, "action=admin.user_trust_changed&resource_id=" + u["id"])]
    assert len(got) == 1 and got[0]["correlation_id"] == tid, got
    assert got[0]["actor_id"] == admin_id and got[0]["client_ip"] == "127.0.0.1", got
    lid = rid("req-login")
    r = f.login(u["email"], u["password"], headers={"X-Request-ID": lid})
    assert r.status == 200, r
    got = [e for e in entries(f, "action=auth.login&resource_id=" + u["id"])
           if e["correlation_id"] == lid]
    assert len(got) == 1 and got[0]["actor_id"] == u["id"], got
    # quarantine (core/quarantine.c + core/immune.c): one request, two entries, one id
    qid = rid("req-quarantine")
    r = f.post("/api/v1/immune/quarantine", {"target_type": "user", "target_id": u["id"],
                                              "reason": "leaked keys"}, token=adm,
               headers={"X-Request-ID": qid})
    assert r.status == 201, r
    got = [e for e in entries(f, "user_id=" + admin_id) if e["correlation_id"] == qid]
    assert {e["action"] for e in got} >= {"immune.quarantine"}, got
    assert all(e["actor_id"] == admin_id for e in got), got
    # no entry of the instance lacks an actor, except anonymous attempts (none here)
    for e in entries(f, "action=capsule.create") + entries(f, "action=admin.user_trust_changed"):
        assert e["actor_id"] and e["correlation_id"], e


def community(f):
    t = f.make_user(role="trusted", trust="trusted")
    return f.admin_token(), t


def approved_policy(f, adm, t, title):
    body = {"title": title, "description": DESC, "type": "policy",
            "payload": {"title": title, "content": "Every summary capsule cites its source."},
            "voting_duration_hours": 1}
    r = f.post(P, body, token=t["access_token"])
    assert r.status == 201, r
    pid = r.json["data"]["id"]
    r = f.post(P + "/%s/activate" % pid, token=t["access_token"])
    assert r.status == 200, r
    for tok in (adm, t["access_token"]):
        r = f.post(P + "/%s/votes" % pid, {"vote": "for"}, token=tok)
        assert r.status == 201, r
    return pid


def governance_entries(f, pid):
    got = {e["action"]: e for e in entries(f, "resource_type=proposal&resource_id=" + pid)}
    return got


def test_governance_acts_as_the_system_with_the_request_id():
    f = Forge(env=ENV)
    try:
        adm, t = community(f)
        pid = approved_policy(f, adm, t, "Cite sources")
        # the deadline passes; the next read closes and executes it under its request id
        r = f.post("/api/v1/admin/test/clock", {"offset_ms": 3600 * 1000 + 1000}, token=adm)
        assert r.status == 200, r
        gid = rid("req-gov")
        r = f.get(P + "/" + pid, token=t["access_token"], headers={"X-Request-ID": gid})
        assert r.status == 200 and r.json["data"]["status"] == "executed", r
        got = governance_entries(f, pid)
        vote = got["governance.vote"]
        assert vote["actor_id"] and vote["actor_id"] != "system:governance", vote
        for action in ("governance.proposal_close", "governance.proposal_execute"):
            e = got[action]
            assert e["actor_id"] == "system:governance", e
            assert e["correlation_id"] == gid, e
            assert e["client_ip"] is None, e
        assert got["governance.proposal_execute"]["outcome"] == "success"
        # the execution's own change (the policy capsule) carries the same actor and id
        made = [e for e in entries(f, "action=capsule.create") if e["correlation_id"] == gid]
        assert len(made) == 1 and made[0]["actor_id"] == "system:governance", made
    finally:
        f.close()


def test_background_closer_and_cli_use_job_ids():
    env = dict(ENV, GOVERNANCE_CLOSE_INTERVAL_S="1")
    f = Forge(env=env)
    try:
        adm, t = community(f)
        pid = approved_policy(f, adm, t, "Cite sources twice")
        r = f.post("/api/v1/admin/test/clock", {"offset_ms": 3600 * 1000 + 1000}, token=adm)
        assert r.status == 200, r
        # the closer thread closes it (poll the audit trail: reads would close it themselves)
        deadline = time.time() + 20
        got = {}
        while time.time() < deadline and "governance.proposal_execute" not in got:
            got = governance_entries(f, pid)
            time.sleep(0.2)
        close, execute = got["governance.proposal_close"], got["governance.proposal_execute"]
        assert close["actor_id"] == execute["actor_id"] == "system:governance", got
        assert JOB_ID.match(close["correlation_id"]), close
        assert execute["correlation_id"] == close["correlation_id"], got
        # the CLI acts as "cli" under a job id of its own
        r = f.cli("admin", "create-user", "--email", "ctx-cli@example.org",
                  input="0psPassword\n", env={"FORGE_ADMIN_PASSWORD": ""})
        assert r.returncode == 0, (r.stdout, r.stderr)
        uid = json.loads(r.stdout.strip().splitlines()[-1])["id"]
        got = entries(f, "action=admin.create_user&resource_id=" + uid)
        assert len(got) == 1 and got[0]["actor_id"] == "cli", got
        assert JOB_ID.match(got[0]["correlation_id"]), got
    finally:
        f.close()


if __name__ == "__main__":
    main(globals())

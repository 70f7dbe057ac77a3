# forge-test: stores=sqlite,postgresql
"""Governance capture and Sybil votes (issue 11, findings 1 and 2; docs/security.md).

Finding 1: a proposer chose `quorum: 0, approval_threshold: 0`; chained, one trusted user raised
themself to core, quarantined the admin by an emergency proposal and set
GOVERNANCE_MIN_VOTING_HOURS to 0.0001. Every step of that chain is replayed here and refused:
floors a proposal cannot go below (422 naming the field), no self-promotion, emergency needs core
and a real majority, GOVERNANCE_* changes need a supermajority and apply only to proposals
activated after them, the minimum voting time has a floor of 1 h.

Finding 2: accounts registered after the activation out-voted the community (participation 2.09).
Only the electorate fixed at activation votes, with its weight of that moment.

Deadlines are crossed with the admin test clock (FORGE_TEST_CLOCK=1).
"""
from forgetest import Forge, assert_error, main

ENV = {"FORGE_TEST_CLOCK": "1", "ACCESS_TOKEN_TTL_S": "86400", "GOVERNANCE_CLOSE_INTERVAL_S": "1"}
P = "/api/v1/governance/proposals"
DESC = "A description that explains what changes, why, and what members should expect."
POLICY = {"title": "Cite sources", "content": "Every summary capsule cites its source."}


class Community:
    """admin (core, 5), a trusted proposer T (3), the attacker A (trusted role and trust, 3), a
    core member C (5) and six standard members (1 each): eligible weight 22."""

    def __init__(self, f):
        self.f = f
        self.offset = 0
        self.admin = f.admin_token()
        self.admin_id = f.get("/api/v1/auth/me", token=self.admin).json["data"]["id"]
        self.t = f.make_user(role="trusted", trust="trusted")["access_token"]
        a = f.make_user(role="trusted", trust="trusted")
        self.a, self.a_id = a["access_token"], a["id"]
        self.c = f.make_user(role="trusted", trust="core")["access_token"]
        self.members = [f.make_user()["access_token"] for _ in range(6)]

    def shift(self, ms):
        self.offset += ms
        r = self.f.post("/api/v1/admin/test/clock", {"offset_ms": self.offset}, token=self.admin)
        assert r.status == 200, r

    def propose(self, token, type_, payload, status=201, **extra):
        body = {"title": "Proposal about " + type_, "description": DESC, "type": type_,
                "payload": payload, "voting_duration_hours": 1}
        body.update(extra)
        r = self.f.post(P, body, token=token)
        assert r.status == status, r
        return r.json["data"] if status == 201 else r

    def activate(self, token, pid):
        r = self.f.post(P + "/%s/activate" % pid, token=token)
        assert r.status == 200, r
        return r.json["data"]

    def vote(self, token, pid, v, status=201):
        r = self.f.post(P + "/%s/votes" % pid, {"vote": v}, token=token)
        assert r.status == status, r
        return r

    def get(self, pid):
        r = self.f.get(P + "/" + pid, token=self.admin)
        assert r.status == 200, r
        return r.json["data"]

    def close(self, pid, hours=1):
        self.shift(int(hours * 3600 * 1000) + 1000)
        p = self.get(pid)
        assert p["status"] not in ("draft", "active"), p
        return p

    def trust_of(self, token):
        return self.f.get("/api/v1/auth/me", token=token).json["data"]["trust_level"]


def test_1a_floors_refuse_a_laxer_quorum_or_threshold(f):
    c = Community(f)
    for extra, field in (({"quorum": 0}, "quorum"), ({"approval_threshold": 0},
                                                      "approval_threshold"),
                         ({"quorum": 0.05}, "quorum"), ({"approval_threshold": 0.49},
                                                        "approval_threshold"),
                         ({"quorum": 0.29}, "quorum")):
        r = c.propose(c.t, "policy", POLICY, status=422, **extra)
        assert_error(r, 422, "validation_error", field)
        assert "stricter" in r.json["message"], r
    # stricter values are the proposer's to ask for; absent ones are the community's
    p = c.propose(c.t, "policy", POLICY, quorum=0.5, approval_threshold=0.75)
    assert (p["quorum"], p["approval_threshold"], p["supermajority"]) == (0.5, 0.75, False), p
    p = c.propose(c.t, "policy", POLICY)
    assert (p["quorum"], p["approval_threshold"]) == (0.3, 0.5), p
    # the window has a floor too (it went down to 0.0001 h)
    r = c.propose(c.t, "policy", POLICY, status=422, voting_duration_hours=0.0001)
    assert_error(r, 422, "validation_error", "voting_duration_hours")


def test_1b_the_capture_chain_is_refused_step_by_step(f):
    c = Community(f)
    # step 1: the attacker raises themself to core with quorum 0 / threshold 0
    promote = {"target_type": "user", "target_id": c.a_id, "proposed_trust": "core",
               "reason": "I deserve it, trust me on this one"}
    r = c.propose(c.a, "trust_adjustment", promote, status=422, quorum=0, approval_threshold=0)
    assert_error(r, 422, "validation_error", "quorum")
    r = c.propose(c.a, "trust_adjustment", promote, status=403)  # nobody proposes themself
    assert_error(r, 403, "authorization_error")
    assert r.json["details"]["rule"] == "self_promotion", r
    # an accomplice proposes it under the community's rules: 0 for and 11 against is rejected
    # (it was approved with quorum 0 and threshold 0)
    pid = c.propose(c.t, "trust_adjustment", promote)["id"]
    c.activate(c.t, pid)
    for token in [c.admin, c.c] + c.members:
        c.vote(token, pid, "against")
    p = c.close(pid)
    assert p["status"] == "rejected" and p["votes_for"] == 0, p
    assert c.trust_of(c.a) == "trusted"

    # step 2: emergency quarantine of the admin
    quarantine_admin = {"action": "quarantine_user", "target": c.admin_id, "reason": "coup"}
    r = c.propose(c.a, "emergency", quarantine_admin, status=403)  # trusted is not core
    assert r.json["details"]["rule"] == "trust" and r.json["details"]["required"] == "core", r
    r = c.propose(c.c, "emergency", quarantine_admin, status=422, quorum=0, approval_threshold=0)
    assert_error(r, 422, "validation_error", "quorum")
    pid = c.propose(c.c, "emergency", quarantine_admin)["id"]
    c.activate(c.c, pid)
    c.vote(c.c, pid, "for")
    c.vote(c.admin, pid, "against")
    for token in c.members[:3]:
        c.vote(token, pid, "against")
    p = c.close(pid)
    assert p["status"] == "rejected", p
    assert c.trust_of(c.admin) == "core"

    # step 3: the minimum voting time to ~0
    r = c.propose(c.t, "configuration", {"key": "GOVERNANCE_MIN_VOTING_HOURS", "value": 0.0001},
                  status=422)
    assert_error(r, 422, "validation_error", "payload.value")
    r = c.propose(c.t, "configuration", {"key": "GOVERNANCE_QUORUM", "value": 0}, status=422)
    assert_error(r, 422, "validation_error", "payload.value")
    r = c.propose(c.t, "configuration", {"key": "GOVERNANCE_APPROVAL_THRESHOLD", "value": 0.2},
                  status=422)
    assert_error(r, 422, "validation_error", "payload.value")
    # a lawful change of governance's own settings needs a supermajority: a simple majority of
    # 8 for / 5 against (61.5 %, participation 59 %) is not enough
    p = c.propose(c.t, "configuration", {"key": "GOVERNANCE_MIN_VOTING_HOURS", "value": 1.5},
                  quorum=0.3)
    assert p["supermajority"] is True and p["quorum"] == 0.5 and p["approval_threshold"] == \
        0.666666, p
    c.activate(c.t, p["id"])
    c.vote(c.admin, p["id"], "for")
    c.vote(c.t, p["id"], "for")
    for token in c.members[:5]:
        c.vote(token, p["id"], "against")
    p = c.close(p["id"])
    assert p["status"] == "rejected" and p["quorum_reached"] and not p["threshold_reached"], p
    r = c.f.get("/api/v1/auth/me", token=c.admin)
    assert r.status == 200


def test_1c_governance_settings_need_a_supermajority_and_apply_to_later_proposals(f):
    c = Community(f)
    # a proposal activated before the change keeps its rules
    before = c.propose(c.t, "policy", POLICY, voting_duration_hours=1)["id"]
    before = c.activate(c.t, before)
    assert before["quorum"] == 0.3
    # a draft made before the change gets the rules of its activation
    draft = c.propose(c.t, "policy", POLICY, voting_duration_hours=1)["id"]
    # quorum 0.3 → 0.4 and minimum voting time 1 h → 2 h, each with 2/3 or more
    changes = []
    for key, value in (("GOVERNANCE_QUORUM", 0.4), ("GOVERNANCE_MIN_VOTING_HOURS", 2)):
        pid = c.propose(c.t, "configuration", {"key": key, "value": value})["id"]
        p = c.activate(c.t, pid)
        assert (p["quorum"], p["approval_threshold"]) == (0.5, 0.666666), p
        # 5 + 3 + 5 + 3 = 16 for, 5 against of 22: exactly 16/21 ≥ 2/3, participation 95 %
        for token in (c.admin, c.t, c.c, c.a):
            c.vote(token, pid, "for")
        for token in c.members[:5]:
            c.vote(token, pid, "against")
        changes.append(pid)
    c.shift(3600 * 1000 + 1000)
    for pid in changes:
        p = c.get(pid)
        assert p["status"] == "executed", p
    # the active one kept quorum 0.3 and its 1 h window (it closed with the others)
    p = c.get(before["id"])
    assert p["quorum"] == 0.3 and p["voting_duration_hours"] == 1, p
    # new proposals: at least 2 h and quorum 0.4
    r = c.propose(c.t, "policy", POLICY, status=422, voting_duration_hours=1)
    assert_error(r, 422, "validation_error", "voting_duration_hours")
    r = c.propose(c.t, "policy", POLICY, status=422, quorum=0.35, voting_duration_hours=2)
    assert_error(r, 422, "validation_error", "quorum")
    p = c.activate(c.t, draft)
    assert p["quorum"] == 0.4 and p["voting_duration_hours"] == 2, p

    # an exact two-thirds vote passes a governance change: for 10 (admin, core C), against 5
    pid = c.propose(c.t, "configuration", {"key": "GOVERNANCE_APPROVAL_THRESHOLD",
                                           "value": 0.6}, voting_duration_hours=2)["id"]
    c.activate(c.t, pid)
    c.vote(c.admin, pid, "for")
    c.vote(c.c, pid, "for")
    for token in c.members[:5]:
        c.vote(token, pid, "against")
    c.vote(c.t, pid, "abstain")  # participation (10 + 5 + 3) / 22 ≥ 0.5
    p = c.close(pid, hours=2)
    assert p["status"] == "executed" and abs(p["approval"] - 2 / 3) < 1e-9, p


def test_2_only_the_electorate_at_activation_votes(f):
    c = Community(f)
    x = f.make_user(trust="sandbox")
    pid = c.propose(c.t, "policy", POLICY)["id"]
    p = c.activate(c.t, pid)
    assert p["eligible_weight"] == 22.5, p
    # twelve accounts registered after the activation: refused, tallies unchanged
    sybils = [f.make_user()["access_token"] for _ in range(12)]
    for token in sybils:
        r = c.vote(token, pid, "for", status=403)
        assert_error(r, 403, "authorization_error")
        assert r.json["details"]["rule"] == "electorate", r
    p = c.get(pid)
    assert p["votes_cast"] == 0 and p["votes_for"] == 0, p
    # a member promoted after the activation votes with the weight of the activation
    r = f.put("/api/v1/admin/users/%s/trust" % x["id"], {"trust_level": "core"}, token=c.admin)
    assert r.status == 200, r
    r = c.vote(x["access_token"], pid, "for")
    assert r.json["data"]["weight"] == 0.5 and r.json["data"]["voter_trust_level"] == "sandbox", r
    # everybody in the electorate votes: participation is exactly 1, never more
    for token in [c.admin, c.t, c.a, c.c] + c.members:
        c.vote(token, pid, "against")
    p = c.get(pid)
    assert p["participation"] == 1.0 and p["votes_cast"] == 11, p
    assert p["votes_against"] == 22 and p["votes_for"] == 0.5, p
    p = c.close(pid)
    assert p["status"] == "rejected" and p["participation"] == 1.0, p


if __name__ == "__main__":
    main(globals(), fixture_env=ENV)

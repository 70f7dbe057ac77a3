# forge-test: stores=sqlite,postgresql
"""Manual quarantine and release of users (SPEC §7.3, issue 8 item 5): admin only, trust →
quarantine and back to the previous level, recorded as immune responses (listed, counted in
forge_immune_responses_total), the quarantined user cannot vote and gets the quarantine rate
limit; overlay targets are covered by test_overlays.py."""
from forgetest import Forge, assert_error, main

Q = "/api/v1/immune/quarantine"
R = "/api/v1/immune/release"
P = "/api/v1/governance/proposals"


def test_quarantine_and_release():
    f = Forge()
    try:
        admin = f.admin_token()
        proposer = f.make_user(role="trusted", trust="trusted")
        u = f.make_user(trust="trusted")
        body = {"target_type": "user", "target_id": u["id"], "reason": "leaked an API key"}

        # admin only; validation; unknown users; overlays
        r = f.post(Q, body, token=u["access_token"])
        assert_error(r, 403, "authorization_error")
        assert_error(f.post(Q, dict(body, reason=""), token=admin), 422, "validation_error",
                     "reason")
        assert_error(f.post(Q, dict(body, level="apocalyptic"), token=admin), 422,
                     "validation_error", "level")
        r = f.post(Q, dict(body, target_id="0190a000-0000-7000-8000-0000000fffff"), token=admin)
        assert_error(r, 404, "not_found")
        r = f.post(Q, {"target_type": "overlay", "target_id": "summariser", "reason": "x"},
                   token=admin)
        assert_error(r, 404, "not_found")  # overlays are addressed by their UUID
        me = f.get("/api/v1/auth/me", token=admin).json["data"]["id"]
        r = f.post(Q, dict(body, target_id=me), token=admin)
        assert_error(r, 409, "conflict")
        assert_error(f.post(R, body, token=admin), 409, "conflict")  # not quarantined

        # an open proposal the user will try to vote on
        r = f.post(P, {"title": "t", "description": "d", "type": "policy",
                       "payload": {"title": "t", "content": "c"}},
                   token=proposer["access_token"])
        pid = r.json["data"]["id"]
        assert f.post(P + "/%s/activate" % pid, token=proposer["access_token"]).status == 200

        r = f.post(Q, body, token=admin)
        assert r.status == 201, r
        d = r.json["data"]
        assert (d["trust_level"], d["previous_trust_level"]) == ("quarantine", "trusted"), d
        assert d["response"]["threat_type"] == "manual"
        assert d["response"]["action"] == "quarantine_user"
        assert d["response"]["reason"] == "leaked an API key"
        assert_error(f.post(Q, body, token=admin), 409, "conflict")  # already

        # the quarantined user: live trust on the next request, no vote, quarantine rate limit
        r = f.get("/api/v1/auth/me", token=u["access_token"])
        assert r.json["data"]["trust_level"] == "quarantine", r
        assert r.header("X-RateLimit-Limit") == "10", r.headers
        r = f.post(P + "/%s/votes" % pid, {"vote": "for"}, token=u["access_token"])
        assert_error(r, 403, "authorization_error")
        assert r.json["details"]["rule"] == "quarantine"

        # release restores trusted; the vote goes through
        r = f.post(R, dict(body, reason="key rotated"), token=admin)
        assert r.status == 200, r
        assert r.json["data"]["trust_level"] == "trusted"
        assert r.json["data"]["response"]["action"] == "release_user"
        r = f.post(P + "/%s/votes" % pid, {"vote": "for"}, token=u["access_token"])
        assert r.status == 201 and r.json["data"]["weight"] == 3, r
        assert_error(f.post(R, body, token=admin), 409, "conflict")

        # listed and counted
        r = f.get("/api/v1/immune/responses?threat_type=manual&target_type=user", token=admin)
        actions = sorted(x["action"] for x in r.json["data"] if x["target_id"] == u["id"])
        assert actions == ["quarantine_user", "release_user"], r
        assert 'forge_immune_responses_total{threat_type="manual"} 2' in f.get("/metrics").body
        r = f.get("/api/v1/admin/audit?action=immune.quarantine", token=admin)
        if r.status == 200:
            assert r.json["meta"]["total"] >= 1, r

        # trust set to quarantine directly (no record of the previous trust): release refuses
        v = f.make_user()
        r = f.put("/api/v1/admin/users/%s/trust" % v["id"], {"trust_level": "quarantine"},
                  token=admin)
        assert r.status == 200, r
        r = f.post(R, {"target_type": "user", "target_id": v["id"], "reason": "appeal"},
                   token=admin)
        assert_error(r, 409, "conflict")
        assert "previous trust" in r.json["message"]
    finally:
        f.close()


if __name__ == "__main__":
    main(globals())

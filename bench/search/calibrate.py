#!/usr/bin/python3
"""Calibration of the default semantic min_score through the API (docs/search.md "Calibration").

Starts `forge serve` (local embedder unless EMBEDDING_* says otherwise), stores a labelled corpus
of 40 knowledge-base passages as capsules, and runs 40 queries with one known relevant passage
each through POST /api/v1/capsules/search (mode semantic, min_score 0, limit 100), so every
(query, passage) pair gets its cosine score as the API reports it. Prints the score distributions
of relevant and irrelevant pairs, the share of each kept at candidate thresholds, and how often
the relevant passage is first. With --long every passage is diluted with three generic sentences
(a relevant passage inside a longer capsule).

usage: FORGE_BIN=build/forge bench/search/calibrate.py [--long]
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "api"))
from forgetest import Forge  # noqa: E402

# (passage, query, kind): kind "lexical" = natural query sharing words or word forms,
# "typo" = lexical with a misspelling, "paraphrase" = no shared content word.
CORPUS = [
    ("Rotate the TLS certificates on the ingress controller before they expire; cert-manager "
     "renews them thirty days ahead.", "when do TLS certificates get renewed", "lexical"),
    ("To reset a forgotten password, open the login page, choose forgot password and follow the "
     "emailed link, which expires after one hour.", "reset forgotten password", "lexical"),
    ("Database backups run every night with pg_dump and are kept for thirty days in object "
     "storage.", "how long are database backups kept", "lexical"),
    ("The API rate limiter allows one thousand requests per minute for standard users.",
     "API rate limit for standard users", "lexical"),
    ("We chose PostgreSQL over MongoDB for billing because we need transactions and foreign "
     "keys.", "why postgresql for billing", "lexical"),
    ("Kubernetes restarts a pod when its liveness probe fails three times in a row.",
     "liveness probe failures restart pods", "lexical"),
    ("Production deploys are frozen from December 20 to January 3; emergency fixes need two "
     "approvals.", "deploy freeze december", "lexical"),
    ("The on-call engineer acknowledges pages within fifteen minutes and escalates after thirty.",
     "on-call page acknowledgement time", "lexical"),
    ("Customer data is encrypted at rest with AES-256 and keys are rotated every ninety days.",
     "encryption keys rotation period", "lexical"),
    ("Feature flags older than six months must be removed or made permanent.",
     "cleanup of old feature flags", "lexical"),
    ("Invoices are generated on the first business day of each month and sent by email.",
     "when are invoices generated", "lexical"),
    ("New laptops are ordered through the IT portal and arrive within five working days.",
     "ordering a new laptop", "lexical"),
    ("The search service caches query embeddings for seven days keyed by model and text.",
     "embedding cache duration", "lexical"),
    ("Pull requests need one approving review and a green CI run before merging to main.",
     "requirements for merging pull requests", "lexical"),
    ("Log retention is fourteen days for debug logs and one year for audit logs.",
     "audit log retention", "lexical"),
    ("Vendor contracts above fifty thousand euros require legal review before signature.",
     "legal review of vendor contracts", "lexical"),
    ("The mobile app supports iOS 16 and Android 12 or newer.",
     "supported android versions for the mobile app", "lexical"),
    ("Incident postmortems are blameless and published within five days of the incident.",
     "postmortem publication deadline", "lexical"),
    ("Office access badges are deactivated on an employee's last working day.",
     "badge deactivation when leaving", "lexical"),
    ("The data warehouse refreshes every hour from the replica, never from the primary database.",
     "data warehouse refresh source", "lexical"),
    ("Expense reports must include receipts for every item over twenty five euros.",
     "receipts needed for expense reports", "lexical"),
    ("Our Kafka topics keep events for seven days with three replicas each.",
     "kafka topic retention and replicas", "lexical"),
    ("Accessibility: every page must meet WCAG 2.1 AA and be usable with a keyboard alone.",
     "WCAG accessibility level required", "lexical"),
    ("Latency budget for the checkout API is 300 milliseconds at the 99th percentile.",
     "checkout latency budget p99", "lexical"),
    ("Interview loops for engineers have four sessions: coding, design, debugging and values.",
     "engineering interview sessions", "lexical"),
    ("Staging is reset from anonymised production data every Sunday night.",
     "how staging data is refreshed", "lexical"),
    ("The design system uses an eight pixel spacing grid and the Inter typeface.",
     "design system spacing grid", "lexical"),
    ("Secrets are stored in Vault; never commit them to the repository.",
     "where to store secrets", "lexical"),
    ("Customer support answers tickets within one business day for paid plans.",
     "support response time paid plans", "lexical"),
    ("The quarterly planning meeting sets objectives and key results for each team.",
     "quarterly objectives planning", "lexical"),
    ("Microservices communicate through gRPC internally and expose REST externally.",
     "microservices communicaton protocol grpc", "typo"),
    ("Terraform state is stored in a locked S3 bucket with versioning enabled.",
     "terrafrom state storage", "typo"),
    ("GDPR erasure requests are completed within thirty days and confirmed by email.",
     "gdpr erasure requsts deadline", "typo"),
    ("Load tests run against the staging cluster before every major release.",
     "load testting before release", "typo"),
    ("Dependencies are scanned for vulnerabilities nightly and critical ones block the build.",
     "dependancy vulnerability scanning", "typo"),
    ("Memory limits for API pods are 512 mebibytes; exceeding them gets the pod killed.",
     "memmory limit api pods", "typo"),
    ("Employees may work remotely up to three days a week.",
     "home office policy", "paraphrase"),
    ("Purchasing a house near the office is reimbursed by the relocation programme.",
     "buying a home close to work", "paraphrase"),
    ("The cafeteria serves vegetarian meals every day.",
     "food without meat at lunch", "paraphrase"),
    ("Automobiles parked in the garage overnight need a permit.",
     "leaving a car in the car park", "paraphrase"),
]
FILLER = (" This note was written during the quarterly review. Ask the team lead if anything is "
          "unclear. It is reviewed once a year.")
THRESHOLDS = [0.10, 0.15, 0.18, 0.20, 0.25, 0.30]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))]


def row(name, xs):
    if not xs:
        return "| %s | 0 | | | | | | | |" % name
    return "| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |" % (
        name, len(xs), min(xs), pct(xs, 5), statistics.median(xs), statistics.mean(xs),
        pct(xs, 95), pct(xs, 99), max(xs))


def main():
    long_ = "--long" in sys.argv
    env = {k: v for k, v in os.environ.items() if k.startswith("EMBEDDING_")}
    f = Forge(env=env)
    try:
        tok = f.make_user()["access_token"]
        ids = []
        for passage, _, _ in CORPUS:
            r = f.post("/api/v1/capsules", {"content": passage + (FILLER if long_ else "")},
                       token=tok)
            assert r.status == 201, r
            ids.append(r.json["data"]["id"])
        rel = {"lexical": [], "typo": [], "paraphrase": []}
        irrelevant = []
        top1 = {"lexical": 0, "typo": 0, "paraphrase": 0}
        n = {"lexical": 0, "typo": 0, "paraphrase": 0}
        rel_by_q = {}
        for i, (_, query, kind) in enumerate(CORPUS):
            r = f.post("/api/v1/capsules/search",
                       {"query": query, "min_score": 0, "limit": 100}, token=tok)
            assert r.status == 200, r
            scores = {x["capsule"]["id"]: x["score"] for x in r.json["data"]}
            # Pairs below 0 are not returned (min_score 0): count them as their true floor.
            for j, cid in enumerate(ids):
                s = scores.get(cid, 0.0)
                if j == i:
                    rel_by_q[i] = s
                (rel[kind] if j == i else irrelevant).append(s)
            n[kind] += 1
            top1[kind] += bool(r.json["data"]) and r.json["data"][0]["capsule"]["id"] == ids[i]
        print("## %s passages (%s)" % ("long" if long_ else "short",
                                       f.get("/health/ready").json["checks"]["index"]))
        print()
        print("| pairs | n | min | p05 | median | mean | p95 | p99 | max |")
        print("|---|---|---|---|---|---|---|---|---|")
        print(row("relevant, lexical", rel["lexical"]))
        print(row("relevant, typo", rel["typo"]))
        print(row("relevant, paraphrase", rel["paraphrase"]))
        print(row("irrelevant", irrelevant))
        print()
        lex = rel["lexical"] + rel["typo"]
        print("| min_score | relevant kept (lexical+typo) | paraphrase kept | irrelevant kept |")
        print("|---|---|---|---|")
        for t in THRESHOLDS:
            print("| %.2f | %.0f%% | %d/%d | %.2f%% |" % (
                t, 100.0 * sum(s >= t for s in lex) / len(lex),
                sum(s >= t for s in rel["paraphrase"]), len(rel["paraphrase"]),
                100.0 * sum(s >= t for s in irrelevant) / len(irrelevant)))
        print()
        print("top-1: lexical %d/%d, typo %d/%d, paraphrase %d/%d" % (
            top1["lexical"], n["lexical"], top1["typo"], n["typo"], top1["paraphrase"],
            n["paraphrase"]))
        low = [(CORPUS[i][1], rel_by_q[i]) for i in range(len(CORPUS))
               if CORPUS[i][2] != "paraphrase" and rel_by_q[i] < 0.18]
        for q, sc in low:
            print("relevant pair below 0.18: %.3f  %r" % (sc, q))
        d = f.post("/api/v1/capsules/search", {"query": "x y"}, token=tok).json["meta"]
        print("default min_score reported by the API: %s" % d["min_score"])
    finally:
        f.close()


if __name__ == "__main__":
    main()

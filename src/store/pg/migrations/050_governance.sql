-- Governance (SPEC §6): proposals and trust-weighted votes; quarantine records (SPEC §7.3).
-- PostgreSQL dialect of sqlite/migrations/050_governance.sql.
--
-- Times are BIGINT milliseconds since the Unix epoch (UTC); NULL = not yet.
-- Weights are integers in half units (core 10, trusted 6, standard 2, sandbox 1) so sums are
-- exact; quorum and approval threshold are parts per million. Tallies are not stored: they are
-- summed from `votes` on every read. Runtime settings changed by approved configuration
-- proposals are persisted in `settings` (001_init.sql) under the key "config:<NAME>".
-- JSON columns are TEXT checked with forge_json_valid() (015_immune.sql; redefined here so this
-- file stands alone).

CREATE OR REPLACE FUNCTION forge_json_valid(t TEXT) RETURNS BOOLEAN
    LANGUAGE plpgsql IMMUTABLE STRICT AS $fn$
BEGIN
    PERFORM t::json;
    RETURN TRUE;
EXCEPTION WHEN others THEN
    RETURN FALSE;
END
$fn$;

CREATE TABLE proposals (
    id                    TEXT COLLATE "C" PRIMARY KEY,
    title                 TEXT NOT NULL,
    description           TEXT NOT NULL,
    type                  TEXT NOT NULL CHECK (type IN ('configuration', 'policy',
                              'trust_adjustment', 'overlay_registration', 'overlay_update',
                              'emergency')),
    payload               TEXT NOT NULL CHECK (forge_json_valid(payload)),
    proposer_id           TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    status                TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active',
                              'approved', 'rejected', 'executed', 'failed', 'cancelled')),
    voting_duration_hours DOUBLE PRECISION NOT NULL CHECK (voting_duration_hours > 0),
    quorum_ppm            INTEGER NOT NULL CHECK (quorum_ppm BETWEEN 0 AND 1000000),
    threshold_ppm         INTEGER NOT NULL CHECK (threshold_ppm BETWEEN 0 AND 1000000),
    eligible_weight2      BIGINT CHECK (eligible_weight2 >= 0),
    review                TEXT CHECK (review IS NULL OR forge_json_valid(review)),
    execution_result      TEXT CHECK (execution_result IS NULL OR
                                      forge_json_valid(execution_result)),
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    activated_at          BIGINT,
    voting_ends_at        BIGINT,
    closed_at             BIGINT,
    executed_at           BIGINT,
    cancelled_at          BIGINT
);
CREATE INDEX proposals_created ON proposals (created_at, id);
CREATE INDEX proposals_status ON proposals (status, created_at);
CREATE INDEX proposals_proposer ON proposals (proposer_id, created_at);
CREATE INDEX proposals_due ON proposals (voting_ends_at) WHERE status = 'active';

-- One vote per voter per proposal (the primary key); changing a vote replaces the row.
CREATE TABLE votes (
    proposal_id TEXT COLLATE "C" NOT NULL REFERENCES proposals (id),
    voter_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    vote        TEXT NOT NULL CHECK (vote IN ('for', 'against', 'abstain')),
    weight2     INTEGER NOT NULL CHECK (weight2 BETWEEN 0 AND 10),
    voter_trust INTEGER NOT NULL,
    reasoning   TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (proposal_id, voter_id)
);
CREATE INDEX votes_order ON votes (proposal_id, created_at, voter_id);

-- Quarantine of a user (or later an overlay): the trust to restore on release. At most one open
-- record per target.
CREATE TABLE quarantines (
    id             TEXT COLLATE "C" PRIMARY KEY, -- the immune response that opened it
    target_type    TEXT NOT NULL,
    target_id      TEXT NOT NULL,
    previous_trust INTEGER NOT NULL,
    reason         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    released_at    BIGINT,
    release_id     TEXT
);
CREATE UNIQUE INDEX quarantines_open ON quarantines (target_type, target_id)
    WHERE released_at IS NULL;

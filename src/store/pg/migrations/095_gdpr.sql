-- GDPR rights (issue 14 item 3, docs/privacy.md): erasure jobs, erased markers, consent records,
-- and the erasure ledger.
--
-- Times are BIGINT milliseconds since the Unix epoch (UTC).
-- An erasure runs as a job of small transactions (capsules in batches, then votes, then the
-- account); the row records how far it got, so a server killed mid-way resumes it at start.

CREATE TABLE erasure_jobs (
    user_id      TEXT COLLATE "C" PRIMARY KEY,
    state        TEXT NOT NULL CHECK (state IN ('capsules', 'votes', 'account', 'done')),
    requested_by TEXT NOT NULL CHECK (requested_by IN ('self', 'admin', 'ledger')),
    started_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    capsules_removed    BIGINT NOT NULL DEFAULT 0,
    capsules_tombstoned BIGINT NOT NULL DEFAULT 0,
    votes_anonymised    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX erasure_jobs_pending ON erasure_jobs (started_at) WHERE state <> 'done';

ALTER TABLE users ADD COLUMN erased_at BIGINT;
ALTER TABLE capsules ADD COLUMN erased_at BIGINT;

CREATE TABLE consents (
    seq            BIGSERIAL PRIMARY KEY,
    user_id        TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    purpose        TEXT NOT NULL,
    granted        SMALLINT NOT NULL CHECK (granted IN (0, 1)),
    policy_version TEXT NOT NULL,
    at             BIGINT NOT NULL
);
CREATE INDEX consents_user ON consents (user_id, purpose, seq);

-- Keyset pages of the export (GET /api/v1/me/data): each page is one index range, never a sort.
CREATE INDEX capsules_owner_id ON capsules (owner_id, id);
CREATE INDEX votes_voter ON votes (voter_id, proposal_id);
CREATE INDEX proposals_proposer_id ON proposals (proposer_id, id);
CREATE INDEX sessions_user ON sessions (user_id, id);

-- The erasure ledger (ids only) lives in its own schema: `forge backup` leaves it out of the
-- data dump (pg_dump --exclude-schema=forge_ledger) and `forge restore` therefore never rolls it
-- back; restore re-applies every erasure it lists. Append-only: back it up separately
-- (docs/privacy.md "Erasure and backups").
CREATE SCHEMA IF NOT EXISTS forge_ledger;
CREATE TABLE IF NOT EXISTS forge_ledger.erasures (
    user_id   TEXT COLLATE "C" PRIMARY KEY,
    erased_at BIGINT NOT NULL
);

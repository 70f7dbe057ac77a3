-- GDPR rights (issue 14 item 3, docs/privacy.md): erasure jobs, erased markers, consent records.
--
-- Times are INTEGER milliseconds since the Unix epoch (UTC).
-- An erasure runs as a job of small transactions (capsules in batches, then votes, then the
-- account); the row records how far it got, so a server killed mid-way resumes it at start.
-- The erasure ledger (ids only) is NOT here: it lives in erasures.db beside the data file, so
-- that restoring an old copy of this file cannot roll it back (forge restore re-applies it).

CREATE TABLE erasure_jobs (
    user_id      TEXT PRIMARY KEY NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('capsules', 'votes', 'account', 'done')),
    requested_by TEXT NOT NULL CHECK (requested_by IN ('self', 'admin', 'ledger')),
    started_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    capsules_removed    INTEGER NOT NULL DEFAULT 0,
    capsules_tombstoned INTEGER NOT NULL DEFAULT 0,
    votes_anonymised    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX erasure_jobs_pending ON erasure_jobs (started_at) WHERE state <> 'done';

-- Set when the account has been anonymised (email, display name, MFA, password, sessions gone).
ALTER TABLE users ADD COLUMN erased_at INTEGER;
-- Set on a capsule kept as a lineage tombstone: its content, metadata and revisions are gone,
-- only the id (and parent link) stays so that derived capsules still show {id, erased: true}.
ALTER TABLE capsules ADD COLUMN erased_at INTEGER;

-- Consent (Art. 7): append-only history; the current state of a purpose is its newest row.
CREATE TABLE consents (
    seq            INTEGER PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id),
    purpose        TEXT NOT NULL,
    granted        INTEGER NOT NULL CHECK (granted IN (0, 1)),
    policy_version TEXT NOT NULL,
    at             INTEGER NOT NULL
) STRICT;
CREATE INDEX consents_user ON consents (user_id, purpose, seq);

-- Keyset pages of the export (GET /api/v1/me/data): each page is one index range, never a sort.
CREATE INDEX capsules_owner_id ON capsules (owner_id, id);
CREATE INDEX votes_voter ON votes (voter_id, proposal_id);
CREATE INDEX proposals_proposer_id ON proposals (proposer_id, id);
CREATE INDEX sessions_user ON sessions (user_id, id);

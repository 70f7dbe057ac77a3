-- Security fixes of issue 11 (docs/security.md).
--
-- 1. The electorate of a proposal (SPEC §6): the accounts eligible when it was activated, with
--    the weight (half units: core 10, trusted 6, standard 2, sandbox 1) and the trust they had
--    then. Only these accounts may vote on it, with this weight, so participation never exceeds
--    1 and accounts registered (or promoted) after the activation change nothing.
-- 2. capsules.origin_proposal_id: set by the server when an approved governance proposal created
--    the capsule (a `policy` capsule); never taken from a client.

CREATE TABLE proposal_electorate (
    proposal_id TEXT NOT NULL REFERENCES proposals (id),
    user_id     TEXT NOT NULL REFERENCES users (id),
    weight2     INTEGER NOT NULL CHECK (weight2 BETWEEN 1 AND 10),
    trust       INTEGER NOT NULL,
    PRIMARY KEY (proposal_id, user_id)
) STRICT, WITHOUT ROWID;

ALTER TABLE capsules ADD COLUMN origin_proposal_id TEXT;

-- Knowledge graph (SPEC §4.4): typed edges between capsules besides DERIVED_FROM (which stays in
-- capsule_edges, migration 020). One row per (source, target, type); `supersedes` is kept acyclic
-- by the core (src/core/graph.c) inside the writing transaction.
--
-- Rows reference capsules with ON DELETE CASCADE so a hard delete (erasure, retention) takes its
-- edges along; a soft delete removes them in the deleting transaction (core/graph.c), each with
-- an `edge.deleted` event and audit entry.

CREATE TABLE capsule_links (
    id         TEXT PRIMARY KEY NOT NULL,                  -- UUIDv7
    source_id  TEXT NOT NULL REFERENCES capsules (id) ON DELETE CASCADE,
    target_id  TEXT NOT NULL REFERENCES capsules (id) ON DELETE CASCADE,
    type       TEXT NOT NULL CHECK (type IN ('supports', 'contradicts', 'supersedes',
                                             'related_to', 'references')),
    note       TEXT CHECK (note IS NULL OR length(note) <= 1000),
    weight     REAL NOT NULL DEFAULT 1.0 CHECK (weight >= 0.0 AND weight <= 1.0),
    creator_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK (source_id <> target_id),
    UNIQUE (source_id, target_id, type)
) STRICT;

-- Outgoing edges (the UNIQUE index above: source, target, type) serve the walk out of a capsule
-- and the duplicate check; incoming edges need their own index.
CREATE INDEX capsule_links_target ON capsule_links (target_id, type, source_id);
-- Live contradictions, newest first; and "who supersedes X" reads the target index.
CREATE INDEX capsule_links_type_created ON capsule_links (type, created_at, id);

-- Knowledge graph (SPEC §4.4), PostgreSQL dialect of sqlite/migrations/070_graph.sql: typed edges
-- between capsules besides DERIVED_FROM (which stays in capsule_edges, migration 020).

CREATE TABLE capsule_links (
    id         TEXT PRIMARY KEY NOT NULL,
    source_id  TEXT NOT NULL REFERENCES capsules (id) ON DELETE CASCADE,
    target_id  TEXT NOT NULL REFERENCES capsules (id) ON DELETE CASCADE,
    type       TEXT NOT NULL CHECK (type IN ('supports', 'contradicts', 'supersedes',
                                             'related_to', 'references')),
    note       TEXT CHECK (note IS NULL OR char_length(note) <= 1000),
    weight     DOUBLE PRECISION NOT NULL DEFAULT 1.0 CHECK (weight >= 0.0 AND weight <= 1.0),
    creator_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (source_id <> target_id),
    UNIQUE (source_id, target_id, type)
);

CREATE INDEX capsule_links_target ON capsule_links (target_id, type, source_id);
CREATE INDEX capsule_links_type_created ON capsule_links (type, created_at, id);

-- Knowledge engine (SPEC §4.1–4.2): capsules, their revision history, DERIVED_FROM edges and the
-- change feed that the search index, the vector index and replica followers read.
--
-- Times are INTEGER milliseconds since the Unix epoch (UTC). Ids are UUIDv7 text (time-sortable).
-- owner_id references users (migration 010, identity); erasure (GDPR) anonymises the account
-- rather than deleting the row, so the reference stays valid.

CREATE TABLE capsules (
    id                 TEXT PRIMARY KEY NOT NULL,
    content            TEXT NOT NULL CHECK (length(CAST(content AS BLOB)) BETWEEN 1 AND 1048576),
    type               TEXT NOT NULL CHECK (type IN ('knowledge', 'code', 'decision', 'insight',
                                                     'config', 'policy')),
    metadata           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)
                                                         AND json_type(metadata) = 'object'),
    version            TEXT NOT NULL DEFAULT '1.0.0',
    owner_id           TEXT NOT NULL REFERENCES users (id),
    trust_level        INTEGER NOT NULL CHECK (trust_level BETWEEN 0 AND 100),
    parent_id          TEXT REFERENCES capsules (id),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    is_deleted         INTEGER NOT NULL DEFAULT 0 CHECK (is_deleted IN (0, 1)),
    deleted_at         INTEGER,
    embedding          BLOB,              -- float32 little-endian; filled by the search subsystem
    content_hash       TEXT NOT NULL,     -- SHA-256 (hex) of content
    version_created_at INTEGER NOT NULL,  -- when the current version's content was written
    version_author_id  TEXT NOT NULL      -- who wrote the current version's content
) STRICT;

-- List filters (SPEC §4.2): newest first over live capsules, optionally narrowed by one column.
CREATE INDEX capsules_live_created ON capsules (created_at, id) WHERE is_deleted = 0;
CREATE INDEX capsules_live_type ON capsules (type, created_at) WHERE is_deleted = 0;
CREATE INDEX capsules_live_trust ON capsules (trust_level, created_at) WHERE is_deleted = 0;
CREATE INDEX capsules_owner ON capsules (owner_id, created_at);
-- Children, cascade and "has live children": all by parent.
CREATE INDEX capsules_parent ON capsules (parent_id, created_at);

-- Superseded versions (content changes). The current version is the capsule row itself.
CREATE TABLE capsule_revisions (
    seq           INTEGER PRIMARY KEY,
    capsule_id    TEXT NOT NULL REFERENCES capsules (id),
    version       TEXT NOT NULL,
    content       TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    created_at    INTEGER NOT NULL,   -- when this version was written
    author        TEXT NOT NULL,      -- who wrote it
    superseded_at INTEGER NOT NULL,
    superseded_by TEXT NOT NULL,
    UNIQUE (capsule_id, version)
) STRICT;
CREATE INDEX capsule_revisions_capsule ON capsule_revisions (capsule_id, seq);

-- Lineage (isnad): child DERIVED_FROM parent, with the reason and time of the derivation.
-- A capsule has at most one parent today (capsules.parent_id); the edge table keeps the relation
-- with its attributes and is what lineage walks read, in both directions.
CREATE TABLE capsule_edges (
    child_id   TEXT NOT NULL REFERENCES capsules (id),
    parent_id  TEXT NOT NULL REFERENCES capsules (id),
    relation   TEXT NOT NULL DEFAULT 'DERIVED_FROM' CHECK (relation IN ('DERIVED_FROM')),
    reason     TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (child_id, parent_id, relation)
) STRICT, WITHOUT ROWID;
CREATE INDEX capsule_edges_parent ON capsule_edges (parent_id, child_id);

-- Change feed: one row per change to a capsule's searchable state, in commit order. Followers
-- (keyword index, vector index, other replicas) remember the last seq they applied.
-- Written by triggers so that no writer (API, governance, GDPR erasure, retention) can forget it.
-- Embedding updates are deliberately not changes (the index writing its own output back).
CREATE TABLE capsule_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    capsule_id TEXT NOT NULL,
    op         TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete', 'purge')),
    at         INTEGER NOT NULL
) STRICT;
CREATE INDEX capsule_changes_capsule ON capsule_changes (capsule_id, seq);

CREATE TRIGGER capsules_feed_insert AFTER INSERT ON capsules
BEGIN
    INSERT INTO capsule_changes (capsule_id, op, at)
    VALUES (NEW.id, CASE WHEN NEW.is_deleted THEN 'delete' ELSE 'create' END, NEW.created_at);
END;

CREATE TRIGGER capsules_feed_update AFTER UPDATE OF content, type, metadata, version, owner_id,
    trust_level, parent_id, is_deleted ON capsules
WHEN OLD.content IS NOT NEW.content OR OLD.type IS NOT NEW.type
  OR OLD.metadata IS NOT NEW.metadata OR OLD.version IS NOT NEW.version
  OR OLD.owner_id IS NOT NEW.owner_id OR OLD.trust_level IS NOT NEW.trust_level
  OR OLD.parent_id IS NOT NEW.parent_id OR OLD.is_deleted IS NOT NEW.is_deleted
BEGIN
    INSERT INTO capsule_changes (capsule_id, op, at)
    VALUES (NEW.id, CASE WHEN NEW.is_deleted AND NOT OLD.is_deleted THEN 'delete' ELSE 'update' END,
            NEW.updated_at);
END;

CREATE TRIGGER capsules_feed_delete AFTER DELETE ON capsules
BEGIN
    INSERT INTO capsule_changes (capsule_id, op, at)
    VALUES (OLD.id, 'purge', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

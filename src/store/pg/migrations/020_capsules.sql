-- Knowledge engine (SPEC §4.1–4.2), PostgreSQL dialect of sqlite/migrations/020_capsules.sql:
-- capsules, their revision history, DERIVED_FROM edges and the change feed that the search index,
-- the vector index and replica followers read.
--
-- Times are BIGINT milliseconds since the Unix epoch (UTC). Ids are UUIDv7 text (time-sortable).
-- metadata stays TEXT (checked to be a JSON object) so it is returned byte for byte as written.

-- One lock serialises the writers of every ordered log: the capsule change feed (triggers
-- below), the audit hash chain and the event outbox (store/pg/audit.c). A BIGSERIAL alone can
-- commit out of order (seq 7 visible before seq 6), and a follower that has read 7 would skip 6
-- for ever. Taking this transaction-scoped lock before a seq is drawn means seqs are drawn and
-- committed in the same order. One lock (not one per log) so that transactions writing several
-- of them cannot deadlock on each other.
CREATE FUNCTION forge_write_lock() RETURNS void LANGUAGE sql VOLATILE
AS $$ SELECT pg_advisory_xact_lock(4242000020) $$;

CREATE TABLE capsules (
    id                 TEXT PRIMARY KEY NOT NULL,
    content            TEXT NOT NULL CHECK (octet_length(content) BETWEEN 1 AND 1048576),
    type               TEXT NOT NULL CHECK (type IN ('knowledge', 'code', 'decision', 'insight',
                                                     'config', 'policy')),
    metadata           TEXT NOT NULL DEFAULT '{}' CHECK (json_typeof(metadata::json) = 'object'),
    version            TEXT NOT NULL DEFAULT '1.0.0',
    owner_id           TEXT NOT NULL REFERENCES users (id),
    trust_level        INTEGER NOT NULL CHECK (trust_level BETWEEN 0 AND 100),
    parent_id          TEXT REFERENCES capsules (id),
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    is_deleted         SMALLINT NOT NULL DEFAULT 0 CHECK (is_deleted IN (0, 1)),
    deleted_at         BIGINT,
    embedding          BYTEA,             -- float32 little-endian; filled by the search subsystem
    content_hash       TEXT NOT NULL,     -- SHA-256 (hex) of content
    version_created_at BIGINT NOT NULL,   -- when the current version's content was written
    version_author_id  TEXT NOT NULL      -- who wrote the current version's content
);

-- List filters (SPEC §4.2): newest first over live capsules, optionally narrowed by one column.
CREATE INDEX capsules_live_created ON capsules (created_at, id) WHERE is_deleted = 0;
CREATE INDEX capsules_live_type ON capsules (type, created_at) WHERE is_deleted = 0;
CREATE INDEX capsules_live_trust ON capsules (trust_level, created_at) WHERE is_deleted = 0;
CREATE INDEX capsules_owner ON capsules (owner_id, created_at);
CREATE INDEX capsules_parent ON capsules (parent_id, created_at);

CREATE TABLE capsule_revisions (
    seq           BIGSERIAL PRIMARY KEY,
    capsule_id    TEXT NOT NULL REFERENCES capsules (id),
    version       TEXT NOT NULL,
    content       TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    author        TEXT NOT NULL,
    superseded_at BIGINT NOT NULL,
    superseded_by TEXT NOT NULL,
    UNIQUE (capsule_id, version)
);
CREATE INDEX capsule_revisions_capsule ON capsule_revisions (capsule_id, seq);

CREATE TABLE capsule_edges (
    child_id   TEXT NOT NULL REFERENCES capsules (id),
    parent_id  TEXT NOT NULL REFERENCES capsules (id),
    relation   TEXT NOT NULL DEFAULT 'DERIVED_FROM' CHECK (relation IN ('DERIVED_FROM')),
    reason     TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (child_id, parent_id, relation)
);
CREATE INDEX capsule_edges_parent ON capsule_edges (parent_id, child_id);

-- Change feed: one row per change to a capsule's searchable state, in commit order (see
-- forge_write_lock). Written by triggers so that no writer can forget it. Embedding updates are
-- deliberately not changes.
CREATE TABLE capsule_changes (
    seq        BIGSERIAL PRIMARY KEY,
    capsule_id TEXT NOT NULL,
    op         TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete', 'purge')),
    at         BIGINT NOT NULL
);
CREATE INDEX capsule_changes_capsule ON capsule_changes (capsule_id, seq);

CREATE FUNCTION capsules_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM forge_write_lock();
    IF TG_OP = 'INSERT' THEN
        INSERT INTO capsule_changes (capsule_id, op, at)
        VALUES (NEW.id, CASE WHEN NEW.is_deleted <> 0 THEN 'delete' ELSE 'create' END,
                NEW.created_at);
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO capsule_changes (capsule_id, op, at)
        VALUES (NEW.id, CASE WHEN NEW.is_deleted <> 0 AND OLD.is_deleted = 0 THEN 'delete'
                             ELSE 'update' END,
                NEW.updated_at);
    ELSE
        INSERT INTO capsule_changes (capsule_id, op, at)
        VALUES (OLD.id, 'purge', (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER capsules_feed_insert AFTER INSERT ON capsules
    FOR EACH ROW EXECUTE FUNCTION capsules_feed();

CREATE TRIGGER capsules_feed_update AFTER UPDATE OF content, type, metadata, version, owner_id,
    trust_level, parent_id, is_deleted ON capsules
    FOR EACH ROW
    WHEN (OLD.content IS DISTINCT FROM NEW.content OR OLD.type IS DISTINCT FROM NEW.type
          OR OLD.metadata IS DISTINCT FROM NEW.metadata OR OLD.version IS DISTINCT FROM NEW.version
          OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
          OR OLD.trust_level IS DISTINCT FROM NEW.trust_level
          OR OLD.parent_id IS DISTINCT FROM NEW.parent_id
          OR OLD.is_deleted IS DISTINCT FROM NEW.is_deleted)
    EXECUTE FUNCTION capsules_feed();

CREATE TRIGGER capsules_feed_delete AFTER DELETE ON capsules
    FOR EACH ROW EXECUTE FUNCTION capsules_feed();

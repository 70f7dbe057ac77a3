-- Audit log and event outbox (SPEC §9), PostgreSQL dialect of sqlite/migrations/030_audit_outbox.sql.
--
-- audit_log is append-only and hash-chained (src/core/audit.c defines the serialisation);
-- audit_chain keeps the chain's two ends (base: where verification starts; head: the last entry
-- appended). Appends are serialised by forge_write_lock() (migration 020) taken before the head
-- is read, so two writers — threads or replicas — never take the same seq or chain onto the same
-- hash; the outbox takes the same lock so its seq order is its commit order.
CREATE TABLE audit_log (
    seq            BIGINT PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    at             BIGINT NOT NULL,             -- ms since the epoch
    actor_id       TEXT,
    action         TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT,
    client_ip      TEXT,
    correlation_id TEXT,
    outcome        TEXT NOT NULL,
    details        TEXT NOT NULL DEFAULT '{}',  -- compact JSON, keys sorted
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_resource ON audit_log (resource_type, resource_id, seq);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE audit_chain (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    base_seq  BIGINT NOT NULL,
    base_hash TEXT NOT NULL,
    head_seq  BIGINT NOT NULL,
    head_hash TEXT NOT NULL
);
INSERT INTO audit_chain (id, base_seq, base_hash, head_seq, head_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000',
        0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Transactional outbox: every change writes its typed event here in the same transaction; the
-- delivery worker sends pending rows in seq order and sets delivered_at.
CREATE TABLE outbox (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,      -- event id (UUIDv7), stable across redeliveries
    type         TEXT NOT NULL,
    resource_id  TEXT,                      -- Kafka key: events of one resource stay ordered
    payload      TEXT NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL,
    delivered_at BIGINT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;

-- Audit log and event outbox (SPEC §9).
--
-- audit_log is append-only and hash-chained: hash = SHA-256 over the canonical serialisation of
-- the entry including prev_hash (src/core/audit.c defines the serialisation). audit_chain keeps
-- the chain's two ends: `base` (where verification starts: seq 0 and the all-zero hash, or the
-- last entry removed by a retention purge) and `head` (the last entry appended), so removing
-- entries at either end is detected as well as edits and gaps in the middle.
CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    at             INTEGER NOT NULL,            -- ms since the epoch
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
) STRICT;
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_resource ON audit_log (resource_type, resource_id, seq);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE audit_chain (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    base_seq  INTEGER NOT NULL,
    base_hash TEXT NOT NULL,
    head_seq  INTEGER NOT NULL,
    head_hash TEXT NOT NULL
) STRICT;
INSERT INTO audit_chain (id, base_seq, base_hash, head_seq, head_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000',
        0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Transactional outbox: every change writes its typed event here in the same transaction; a
-- delivery worker (Kafka, issue 6) sends pending rows in seq order and sets delivered_at.
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,      -- event id (UUIDv7), stable across redeliveries
    type         TEXT NOT NULL,             -- "capsule.created", "user.registered", ...
    resource_id  TEXT,                      -- Kafka key: events of one resource stay ordered
    payload      TEXT NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
) STRICT;
CREATE INDEX outbox_pending ON outbox (seq) WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;

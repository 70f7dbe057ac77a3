-- Overlays (SPEC §8): registered Lua modules, one row per name+version, with running stats and
-- the self-quarantine window (SPEC §7.1). Times are INTEGER milliseconds since the Unix epoch.
CREATE TABLE overlays (
    id                 TEXT PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL,
    version            TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'active', 'suspended',
                                                       'deprecated', 'quarantined')),
    trust_level        INTEGER NOT NULL,
    manifest           TEXT NOT NULL CHECK (json_valid(manifest)),
    source             TEXT NOT NULL,
    sha256             TEXT NOT NULL,
    owner_id           TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    invocations        INTEGER NOT NULL DEFAULT 0,
    failures           INTEGER NOT NULL DEFAULT 0,
    total_ms           REAL NOT NULL DEFAULT 0,
    last_error         TEXT,
    window_start       INTEGER NOT NULL DEFAULT 0,
    window_invocations INTEGER NOT NULL DEFAULT 0,
    window_failures    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name, version)
) STRICT;
CREATE INDEX overlays_status ON overlays (status);

-- Event hooks: one dispatcher (the holder of the lease) runs the hooks of each outbox event in seq
-- order and moves the cursor after each event, so every event runs once per deployment (at
-- least once across a crash) whatever the number of replicas.
CREATE TABLE overlay_hook_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq    INTEGER NOT NULL,
    holder      TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO overlay_hook_state (id, last_seq) SELECT 1, coalesce(max(seq), 0) FROM outbox;

-- The invocation log of event hooks (GET /api/v1/overlays/{id}/invocations).
CREATE TABLE overlay_invocations (
    id          TEXT PRIMARY KEY NOT NULL,
    overlay_id  TEXT NOT NULL REFERENCES overlays (id),
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    event_seq   INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    error       TEXT,
    elapsed_ms  REAL NOT NULL,
    holder      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX overlay_invocations_overlay ON overlay_invocations (overlay_id, created_at);

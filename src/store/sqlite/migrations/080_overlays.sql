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

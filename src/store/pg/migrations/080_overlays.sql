-- Overlays (SPEC §8): registered Lua modules, one row per name+version, with running stats and
-- the self-quarantine window (SPEC §7.1). Times are bigint milliseconds since the Unix epoch.
CREATE TABLE overlays (
    id                 text PRIMARY KEY,
    name               text NOT NULL,
    version            text NOT NULL,
    status             text NOT NULL CHECK (status IN ('pending', 'active', 'suspended',
                                                       'deprecated', 'quarantined')),
    trust_level        integer NOT NULL,
    manifest           jsonb NOT NULL,
    source             text NOT NULL,
    sha256             text NOT NULL,
    owner_id           text,
    created_at         bigint NOT NULL,
    updated_at         bigint NOT NULL,
    invocations        bigint NOT NULL DEFAULT 0,
    failures           bigint NOT NULL DEFAULT 0,
    total_ms           double precision NOT NULL DEFAULT 0,
    last_error         text,
    window_start       bigint NOT NULL DEFAULT 0,
    window_invocations bigint NOT NULL DEFAULT 0,
    window_failures    bigint NOT NULL DEFAULT 0,
    UNIQUE (name, version)
);
CREATE INDEX overlays_status ON overlays (status);

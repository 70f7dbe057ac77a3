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

-- Event hooks: see sqlite/migrations/080_overlays.sql.
CREATE TABLE overlay_hook_state (
    id          integer PRIMARY KEY CHECK (id = 1),
    last_seq    bigint NOT NULL,
    holder      text,
    lease_until bigint NOT NULL DEFAULT 0
);
INSERT INTO overlay_hook_state (id, last_seq) SELECT 1, coalesce(max(seq), 0) FROM outbox;

CREATE TABLE overlay_invocations (
    id          text PRIMARY KEY,
    overlay_id  text NOT NULL REFERENCES overlays (id),
    event_id    text NOT NULL,
    event_type  text NOT NULL,
    event_seq   bigint NOT NULL,
    attempt     integer NOT NULL,
    outcome     text NOT NULL,
    error       text,
    elapsed_ms  double precision NOT NULL,
    holder      text NOT NULL,
    created_at  bigint NOT NULL
);
CREATE INDEX overlay_invocations_overlay ON overlay_invocations (overlay_id, created_at);

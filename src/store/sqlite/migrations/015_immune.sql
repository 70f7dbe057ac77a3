-- Immune system (SPEC §7): every response with threat type, level, target, action, reason and
-- time. IP blocks are responses with action 'block_ip' and an expiry; they are reloaded into the
-- shared state on start so a restart does not lift them.
-- Times are INTEGER milliseconds since the Unix epoch (UTC); expires_at NULL = no expiry.

CREATE TABLE immune_responses (
    id          TEXT PRIMARY KEY NOT NULL,
    threat_type TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('low', 'medium', 'high', 'critical')),
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    action      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
) STRICT;
CREATE INDEX immune_responses_created ON immune_responses (created_at, id);
CREATE INDEX immune_responses_active ON immune_responses (action, expires_at);

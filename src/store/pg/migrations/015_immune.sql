-- Immune system (SPEC §7): every response with threat type, level, target, action, reason and
-- time (PostgreSQL dialect of sqlite/migrations/015_immune.sql). IP blocks are responses with
-- action 'block_ip' and an expiry; they are reloaded into the shared state on start so a restart
-- does not lift them.
-- Times are BIGINT milliseconds since the Unix epoch (UTC); expires_at NULL = no expiry.
-- JSON columns are TEXT kept byte for byte as written; forge_json_valid() is SQLite's
-- json_valid() (a CHECK violation, not a cast error, on bad JSON).

CREATE OR REPLACE FUNCTION forge_json_valid(t TEXT) RETURNS BOOLEAN
    LANGUAGE plpgsql IMMUTABLE STRICT AS $fn$
BEGIN
    PERFORM t::json;
    RETURN TRUE;
EXCEPTION WHEN others THEN
    RETURN FALSE;
END
$fn$;

CREATE TABLE immune_responses (
    id          TEXT COLLATE "C" PRIMARY KEY,
    threat_type TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('low', 'medium', 'high', 'critical')),
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    action      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}' CHECK (forge_json_valid(details)),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT
);
CREATE INDEX immune_responses_created ON immune_responses (created_at, id);
CREATE INDEX immune_responses_active ON immune_responses (action, expires_at);

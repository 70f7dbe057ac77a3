-- Identity (SPEC §3): accounts and sessions.
--
-- Times are INTEGER milliseconds since the Unix epoch (UTC). Ids are UUIDv7 text.
-- email is stored lower-cased by the application and unique without regard to case.
-- roles is the bit set of src/core/authz.h: 1 user, 2 trusted, 4 operator, 8 admin.
-- A session is one login (a refresh-token family): refresh_jti is the only refresh token of the
-- family still accepted; presenting an older one revokes the session (reuse detection).

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL COLLATE NOCASE UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
    display_name  TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    trust_level   INTEGER NOT NULL DEFAULT 60 CHECK (trust_level BETWEEN 0 AND 100),
    roles         INTEGER NOT NULL DEFAULT 1 CHECK (roles BETWEEN 0 AND 15),
    is_disabled   INTEGER NOT NULL DEFAULT 0 CHECK (is_disabled IN (0, 1)),
    mfa_enabled   INTEGER NOT NULL DEFAULT 0 CHECK (mfa_enabled IN (0, 1)),
    mfa_secret    TEXT,
    mfa_last_step INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_login_at INTEGER
) STRICT;
CREATE INDEX users_created ON users (created_at, id);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id),
    refresh_jti   TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    revoke_reason TEXT
) STRICT;
CREATE INDEX sessions_user_active ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expires ON sessions (expires_at);

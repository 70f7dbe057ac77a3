-- Identity (SPEC §3): accounts and sessions (PostgreSQL dialect of sqlite/migrations/010_users.sql).
--
-- Times are BIGINT milliseconds since the Unix epoch (UTC). Ids are UUIDv7 text (COLLATE "C":
-- byte order, as SQLite compares them).
-- email is stored lower-cased by the application and unique without regard to ASCII case (as
-- SQLite's NOCASE: lower() under the "C" collation folds ASCII only).
-- roles is the bit set of src/core/authz.h: 1 user, 2 trusted, 4 operator, 8 admin.
-- A session is one login (a refresh-token family): refresh_jti is the only refresh token of the
-- family still accepted; presenting an older one revokes the session (reuse detection).

CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    email         TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    display_name  TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    trust_level   INTEGER NOT NULL DEFAULT 60 CHECK (trust_level BETWEEN 0 AND 100),
    roles         INTEGER NOT NULL DEFAULT 1 CHECK (roles BETWEEN 0 AND 15),
    is_disabled   SMALLINT NOT NULL DEFAULT 0 CHECK (is_disabled IN (0, 1)),
    mfa_enabled   SMALLINT NOT NULL DEFAULT 0 CHECK (mfa_enabled IN (0, 1)),
    mfa_secret    TEXT,
    mfa_last_step BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    last_login_at BIGINT
);
CREATE UNIQUE INDEX users_email_nocase ON users (lower(email COLLATE "C"));
CREATE INDEX users_created ON users (created_at, id);

CREATE TABLE sessions (
    id            TEXT COLLATE "C" PRIMARY KEY,
    user_id       TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    refresh_jti   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    revoke_reason TEXT
);
CREATE INDEX sessions_user_active ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

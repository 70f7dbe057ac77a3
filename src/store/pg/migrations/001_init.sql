-- Base: key/value settings of the instance (PostgreSQL dialect of sqlite/migrations/001_init.sql).
CREATE TABLE IF NOT EXISTS settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Encryption at rest (issue 14, docs/privacy.md; PostgreSQL dialect of
-- sqlite/migrations/090_crypt.sql): users.email holds the keyed blind index of the email,
-- email_enc the sealed email; display_name and mfa_secret hold sealed values. The data keys live
-- in the separate schema forge_keys (store/pg/keys.c), not in these migrations.
ALTER TABLE users ADD COLUMN email_enc TEXT NOT NULL DEFAULT '';

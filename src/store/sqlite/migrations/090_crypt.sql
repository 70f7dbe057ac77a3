-- Encryption at rest (issue 14, docs/privacy.md): users.email now holds the keyed blind index of
-- the email (64 hex chars, still unique), email_enc the sealed email; display_name and mfa_secret
-- hold sealed values ("$fe1$..."). Rows written before this migration are sealed in place at
-- start-up (core/crypt_store.c, fg_crypt_encrypt_existing).
ALTER TABLE users ADD COLUMN email_enc TEXT NOT NULL DEFAULT '';

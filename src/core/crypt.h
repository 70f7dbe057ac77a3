/*
 * Envelope encryption of personal data at rest (SPEC §9, docs/privacy.md).
 *
 *   master key (FORGE_MASTER_KEY, 32 bytes; development: a generated key file)
 *     └─ KEK version v = crypto_kdf(master, subkey v, "forgeKEK")       never stored
 *          └─ per-owner data key (random 32 bytes), wrapped with XChaCha20-Poly1305 under the
 *             KEK and stored in the key store (store/keys.h), apart from the data
 *               └─ each personal value: XChaCha20-Poly1305, associated data binding it to
 *                  its owner (user id), its column and the data key version
 *
 * A sealed value is text: "$fe1$<owner>$<dk version>$<base64url(nonce ‖ ciphertext ‖ tag)>".
 * The "$fe1$" prefix versions the format and tells sealed values from plaintext rows written
 * before encryption existed (they are sealed in place by fg_crypt_encrypt_existing).
 * Owners: a user id, FG_CRYPT_SYSTEM for data that belongs to no account (IP blocks, entries
 * about unknown accounts), and "_bidx" for the blind-index key.
 *
 * Blind index: HMAC-SHA-256 (crypto_auth_hmacsha256) of the normalised (lower-cased) email under
 * a random key kept wrapped in the key store like a data key; hex; unique-indexed by the store.
 *
 * Unwrapped keys are cached in memory (bounded, direct-mapped; evicted keys are wiped with
 * sodium_memzero). Thread-safe after fg_crypt_open.
 */
#ifndef CORE_CRYPT_H
#define CORE_CRYPT_H

#include <stddef.h>

#include "util/err.h"

struct fg_config;
struct store;
struct store_keystore;

#define FG_CRYPT_PREFIX      "$fe1$"
#define FG_CRYPT_SYSTEM      "_s"
#define FG_CRYPT_BIDX_HEX    64
#define FG_CRYPT_CACHE_SLOTS 4096

/**
 * Loads the master key (FORGE_MASTER_KEY, or in development/staging without one a generated key
 * file with a warning; production without one never gets here: config validation refuses),
 * opens the key store of DATABASE_URL and checks that the master key matches it. Idempotent for
 * the same DATABASE_URL. FORGE_MASTER_KEY_NEW (optional) is a second master key accepted for
 * key versions it matches (rotation, see fg_crypt_rotate). -1 + message on error.
 */
int fg_crypt_open(const struct fg_config *cfg, char *err, size_t errlen);
/** Wipes the keys and closes the key store. */
void fg_crypt_close(void);
/** 1 once fg_crypt_open succeeded. */
int fg_crypt_ready(void);
/** The open key store (NULL before fg_crypt_open). */
struct store_keystore *fg_crypt_keystore(void);
/** Current KEK version. */
int fg_crypt_kek_version(void);

/** 1 when `s` carries the sealed-value prefix. */
int fg_crypt_is_sealed(const char *s);
/** Bytes needed to seal `plen` plaintext bytes for `owner` (including the NUL). */
size_t fg_crypt_sealed_len(const char *owner, size_t plen);
/** Seals plain[0..plen) for owner/column into out (NUL-terminated). -1 when out is too small or
 * the key is unavailable. Creates the owner's data key on first use. */
int fg_crypt_seal(const char *owner, const char *column, const char *plain, size_t plen, char *out,
                  size_t cap);
/** The same, malloc'd (NULL on error). */
char *fg_crypt_seal_alloc(const char *owner, const char *column, const char *plain);
/**
 * Opens a sealed value of `column` into out (NUL-terminated); a value without the prefix
 * (plaintext written before encryption) is copied as is. -1 when the value was tampered with,
 * belongs to another column/owner/key version, its key was destroyed, or out is too small.
 */
int fg_crypt_unseal(const char *column, const char *text, char *out, size_t cap);
/** The same, malloc'd (NULL on error). */
char *fg_crypt_unseal_alloc(const char *column, const char *text);
/** The owner named in a sealed value into out; -1 when `text` is not sealed. */
int fg_crypt_sealed_owner(const char *text, char *out, size_t cap);

/** Blind index of an email (lower-cased here) as 64 hex chars. -1 when no key. */
int fg_crypt_blind_index(const char *email, char out[FG_CRYPT_BIDX_HEX + 1]);

/** Destroys the owner's data key (crypto-shredding) and forgets its cached copy. */
enum fg_err fg_crypt_destroy_key(const char *owner);

/**
 * Re-wraps every data key under a new KEK derived from `new_master_hex` (64 hex chars), online:
 * servers keep running (give them FORGE_MASTER_KEY_NEW first so they can read re-wrapped keys).
 * Resumable: the target version and the last owner done are recorded in the key store; running
 * it again continues, and when every key is done it makes the new version current.
 * *rewrapped = keys re-wrapped by this run. -1 + message on error.
 */
int fg_crypt_rotate(const char *new_master_hex, long long *rewrapped, char *err, size_t errlen);

/* ---- the store decorator (core/crypt_store.c) ------------------------------------------ */

/** Wraps s->users, s->audit and s->immune so personal columns are sealed on write and opened
 * on read (called by store_open). */
void fg_crypt_wrap_store(struct store *s);
/**
 * Seals every plaintext personal value left by a database written before encryption (users,
 * audit log, immune responses, outbox payloads), in batches of `batch` rows, each batch in its
 * own transaction: resumable after a kill (sealed rows are skipped). *sealed = rows changed.
 */
enum fg_err fg_crypt_encrypt_existing(struct store *s, int batch, long long *sealed);

#endif

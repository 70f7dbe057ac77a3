/*
 * The key store (SPEC §9, docs/privacy.md): wrapped per-user data keys and the key-encryption-key
 * bookkeeping, kept APART from the data so that a backup of the data alone decrypts nothing and
 * destroying a key shreds what it protected.
 *
 *   SQLite:     its own database file `keys.db` in the directory of the data file (own WAL, own
 *               backup: store/sqlite/keys.c).
 *   PostgreSQL: its own schema `forge_keys` (tables data_keys, meta) in the DATABASE_URL
 *               database, reached over its own connection and left out of `forge backup`'s
 *               data dump (store/pg/keys.c).
 *
 * Only wrapped keys are stored (XChaCha20-Poly1305 under the KEK, core/crypt.c); plaintext keys
 * never reach this layer. Every call is thread-safe (one connection behind a mutex: the crypt
 * module caches unwrapped keys, so this is off the hot path).
 */
#ifndef STORE_KEYS_H
#define STORE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct fg_config;
struct store_keystore;

#define STORE_KEY_OWNER_MAX   64
#define STORE_KEY_WRAPPED_MAX 128

struct store_wrapped_key {
    char owner[STORE_KEY_OWNER_MAX + 1]; /* user id, or "_s" (system), "_bidx" (blind index) */
    int dk_version;                      /* data key version (bound into every ciphertext) */
    int kek_version;                     /* version of the KEK that wrapped it */
    unsigned char wrapped[STORE_KEY_WRAPPED_MAX];
    size_t wrapped_len;
    int64_t created_at;
};

typedef int (*store_key_cb)(const struct store_wrapped_key *k, void *ctx);

struct store_keystore_ops {
    void (*close)(struct store_keystore *ks);
    /** FG_ENOTFOUND when the owner has no key. */
    enum fg_err (*get)(struct store_keystore *ks, const char *owner, struct store_wrapped_key *out);
    /** Inserts unless the owner already has a key (then nothing changes: read it back). */
    enum fg_err (*insert)(struct store_keystore *ks, const struct store_wrapped_key *k);
    /** Replaces the wrapping of k->owner only while it is still wrapped by `old_kek_version`;
     * *changed = 0 otherwise. */
    enum fg_err (*rewrap)(struct store_keystore *ks, const struct store_wrapped_key *k,
                          int old_kek_version, int *changed);
    /** Keys whose kek_version != `kek_version`, owner > `after` (may be ""), owner order, at
     * most `limit`. */
    enum fg_err (*list_other_kek)(struct store_keystore *ks, int kek_version, const char *after,
                                  int limit, store_key_cb cb, void *ctx);
    /** Destroys the owner's key (crypto-shredding); FG_ENOTFOUND when absent. */
    enum fg_err (*destroy)(struct store_keystore *ks, const char *owner);
    /** Small named values (KEK version, KEK check values, progress). FG_ENOTFOUND when absent. */
    enum fg_err (*meta_get)(struct store_keystore *ks, const char *name, char *val, size_t cap);
    enum fg_err (*meta_set)(struct store_keystore *ks, const char *name, const char *val);
    /** Consistent online copy of the key store to `path` (SQLite backup API; PostgreSQL: a
     * pg_dump of the forge_keys schema). */
    enum fg_err (*backup)(struct store_keystore *ks, const char *path, char *err, size_t errlen);
    /** Number of keys. */
    enum fg_err (*count)(struct store_keystore *ks, long long *n);
};

struct store_keystore {
    const struct store_keystore_ops *ops;
    void *impl;
};

/** Opens (creating on first use) the key store that belongs to DATABASE_URL. */
enum fg_err store_keystore_open(const struct fg_config *cfg, struct store_keystore **out, char *err,
                                size_t errlen);
/** The path of the SQLite key store for a sqlite:// DATABASE_URL ("" for other stores). */
void store_keystore_sqlite_path(const char *database_url, char *out, size_t cap);

#endif

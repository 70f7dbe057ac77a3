/* Envelope encryption (core/crypt.h). */
#include "core/crypt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store/keys.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"

#define KEY_BYTES   32
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES   crypto_aead_xchacha20poly1305_ietf_ABYTES
#define MAX_KEKS    4
#define KDF_CTX     "forgeKEK"

struct kek {
    int version;
    unsigned char key[KEY_BYTES];
};

struct cache_slot {
    char owner[STORE_KEY_OWNER_MAX + 1];
    int dk_version;
    unsigned char key[KEY_BYTES];
};

/* Key material lives in sodium_malloc'd memory (guard pages, mlock where allowed, wiped). */
struct crypt_secrets {
    unsigned char master[KEY_BYTES];
    unsigned char master_new[KEY_BYTES];
    struct kek keks[MAX_KEKS];
    unsigned char bidx[KEY_BYTES];
};

/* Ordinary heap (so leak checkers see the pointers it holds). */
struct crypt_state {
    struct store_keystore *ks;
    char url[4096];
    pthread_mutex_t mu; /* guards keks, the cache and bidx */
    struct crypt_secrets *sec;
    int have_new;
    int nkeks;
    int current; /* KEK version that wraps new keys */
    int have_bidx;
    struct cache_slot *cache; /* FG_CRYPT_CACHE_SLOTS, sodium_malloc'd */
};

static struct crypt_state *G;

/* ---- small helpers ------------------------------------------------------------------ */

static void derive_kek(const unsigned char master[KEY_BYTES], int version,
                       unsigned char out[KEY_BYTES])
{
    crypto_kdf_derive_from_key(out, KEY_BYTES, (uint64_t)version, KDF_CTX, master);
}

static void kek_check(const unsigned char kek[KEY_BYTES], char out[65])
{
    unsigned char tag[crypto_auth_hmacsha256_BYTES];
    static const char msg[] = "forge-kek-check-v1";
    crypto_auth_hmacsha256(tag, (const unsigned char *)msg, sizeof msg - 1, kek);
    sodium_bin2hex(out, 65, tag, sizeof tag);
}

static int parse_master(const char *hex, unsigned char out[KEY_BYTES])
{
    size_t n = 0;
    if (!hex || strlen(hex) != 64 || sodium_hex2bin(out, KEY_BYTES, hex, 64, NULL, &n, NULL) != 0 ||
        n != KEY_BYTES)
        return -1;
    return 0;
}

static const struct kek *find_kek(int version)
{
    for (int i = 0; i < G->nkeks; i++)
        if (G->sec->keks[i].version == version)
            return &G->sec->keks[i];
    return NULL;
}

/* Finds which master key opens KEK `version` (checked against the key store) and remembers it.
 * Call with G->mu held. 0 when usable. */
static int learn_kek(int version)
{
    if (find_kek(version))
        return 0;
    if (G->nkeks >= MAX_KEKS)
        return -1;
    char name[48], want[80];
    snprintf(name, sizeof name, "kek_check_%d", version);
    if (G->ks->ops->meta_get(G->ks, name, want, sizeof want) != FG_OK)
        return -1;
    const unsigned char *masters[2] = {G->sec->master, G->have_new ? G->sec->master_new : NULL};
    for (int m = 0; m < 2; m++) {
        if (!masters[m])
            continue;
        struct kek k = {.version = version};
        char got[65];
        derive_kek(masters[m], version, k.key);
        kek_check(k.key, got);
        if (strlen(want) == 64 && sodium_memcmp(got, want, 64) == 0) {
            G->sec->keks[G->nkeks++] = k;
            sodium_memzero(&k, sizeof k);
            return 0;
        }
        sodium_memzero(&k, sizeof k);
    }
    return -1;
}

static void wrap_ad(const char *owner, int dk_version, int kek_version, char *ad, size_t cap)
{
    snprintf(ad, cap, "forge-dk-v1\n%s\n%d\n%d", owner, dk_version, kek_version);
}

static int wrap_key(const struct kek *kek, const char *owner, int dk_version,
                    const unsigned char key[KEY_BYTES], struct store_wrapped_key *w)
{
    char ad[128];
    wrap_ad(owner, dk_version, kek->version, ad, sizeof ad);
    memset(w, 0, sizeof *w);
    snprintf(w->owner, sizeof w->owner, "%s", owner);
    w->dk_version = dk_version;
    w->kek_version = kek->version;
    randombytes_buf(w->wrapped, NONCE_BYTES);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(w->wrapped + NONCE_BYTES, &clen, key, KEY_BYTES,
                                               (const unsigned char *)ad, strlen(ad), NULL,
                                               w->wrapped, kek->key);
    w->wrapped_len = NONCE_BYTES + (size_t)clen;
    return 0;
}

static int unwrap_key(const struct kek *kek, const struct store_wrapped_key *w,
                      unsigned char key[KEY_BYTES])
{
    if (w->wrapped_len != NONCE_BYTES + KEY_BYTES + TAG_BYTES)
        return -1;
    char ad[128];
    wrap_ad(w->owner, w->dk_version, w->kek_version, ad, sizeof ad);
    unsigned long long plen = 0;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(
               key, &plen, NULL, w->wrapped + NONCE_BYTES, w->wrapped_len - NONCE_BYTES,
               (const unsigned char *)ad, strlen(ad), w->wrapped, kek->key) == 0 &&
                   plen == KEY_BYTES
               ? 0
               : -1;
}

static size_t slot_of(const char *owner)
{
    unsigned char h[8];
    crypto_generichash(h, sizeof h, (const unsigned char *)owner, strlen(owner), NULL, 0);
    uint64_t v = 0;
    memcpy(&v, h, sizeof v);
    return (size_t)(v % FG_CRYPT_CACHE_SLOTS);
}

/* The owner's data key (from the cache, else unwrapped from the key store; created when `create`
 * and absent). 0 on success. */
static int data_key(const char *owner, int create, int want_version, unsigned char key[KEY_BYTES],
                    int *dk_version)
{
    if (!G || strlen(owner) > STORE_KEY_OWNER_MAX)
        return -1;
    size_t slot = slot_of(owner);
    pthread_mutex_lock(&G->mu);
    struct cache_slot *cs = &G->cache[slot];
    if (cs->owner[0] && strcmp(cs->owner, owner) == 0 &&
        (want_version == 0 || want_version == cs->dk_version)) {
        memcpy(key, cs->key, KEY_BYTES);
        *dk_version = cs->dk_version;
        pthread_mutex_unlock(&G->mu);
        return 0;
    }
    pthread_mutex_unlock(&G->mu);

    struct store_wrapped_key w;
    enum fg_err e = G->ks->ops->get(G->ks, owner, &w);
    if (e == FG_ENOTFOUND && create) {
        unsigned char fresh[KEY_BYTES];
        randombytes_buf(fresh, sizeof fresh);
        pthread_mutex_lock(&G->mu);
        const struct kek *kek = find_kek(G->current);
        struct store_wrapped_key nw;
        int ok = kek && wrap_key(kek, owner, 1, fresh, &nw) == 0;
        pthread_mutex_unlock(&G->mu);
        sodium_memzero(fresh, sizeof fresh);
        if (!ok)
            return -1;
        nw.created_at = fg_now_ms();
        e = G->ks->ops->insert(G->ks, &nw); /* a concurrent creator may win: read it back */
        sodium_memzero(&nw, sizeof nw);
        if (e == FG_OK)
            e = G->ks->ops->get(G->ks, owner, &w);
    }
    if (e != FG_OK)
        return -1;
    if (want_version && w.dk_version != want_version) {
        sodium_memzero(&w, sizeof w);
        return -1;
    }
    pthread_mutex_lock(&G->mu);
    const struct kek *kek = find_kek(w.kek_version);
    if (!kek && learn_kek(w.kek_version) == 0) /* a rotation made a new version meanwhile */
        kek = find_kek(w.kek_version);
    int rc = kek ? unwrap_key(kek, &w, key) : -1;
    if (rc == 0) {
        cs = &G->cache[slot];
        sodium_memzero(cs, sizeof *cs); /* eviction wipes the previous key */
        snprintf(cs->owner, sizeof cs->owner, "%s", owner);
        cs->dk_version = w.dk_version;
        memcpy(cs->key, key, KEY_BYTES);
        *dk_version = w.dk_version;
    }
    pthread_mutex_unlock(&G->mu);
    sodium_memzero(&w, sizeof w);
    if (rc != 0)
        fg_log(FG_LOG_ERROR, "data_key_unwrap_failed", FG_LF_STR("owner", owner), FG_LF_END);
    return rc;
}

/* ---- sealed values ---------------------------------------------------------------------- */

static void value_ad(const char *owner, const char *column, int dk_version, char *ad, size_t cap)
{
    snprintf(ad, cap, "forge-fe1\n%s\n%s\n%d", owner, column, dk_version);
}

int fg_crypt_is_sealed(const char *s)
{
    return s && strncmp(s, FG_CRYPT_PREFIX, sizeof FG_CRYPT_PREFIX - 1) == 0;
}

size_t fg_crypt_sealed_len(const char *owner, size_t plen)
{
    size_t raw = NONCE_BYTES + plen + TAG_BYTES;
    return sizeof FG_CRYPT_PREFIX - 1 + strlen(owner) + 1 + 11 + 1 +
           sodium_base64_ENCODED_LEN(raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int fg_crypt_seal(const char *owner, const char *column, const char *plain, size_t plen, char *out,
                  size_t cap)
{
    unsigned char key[KEY_BYTES];
    int dkv = 0;
    if (!owner || !*owner || data_key(owner, 1, 0, key, &dkv) != 0)
        return -1;
    size_t raw_len = NONCE_BYTES + plen + TAG_BYTES;
    char head[STORE_KEY_OWNER_MAX + 32];
    int hk = snprintf(head, sizeof head, FG_CRYPT_PREFIX "%s$%d$", owner, dkv);
    if ((size_t)hk + sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING) >
        cap) {
        sodium_memzero(key, sizeof key);
        return -1;
    }
    unsigned char stackbuf[1024];
    unsigned char *raw = raw_len <= sizeof stackbuf ? stackbuf : fg_xmalloc(raw_len);
    char ad[256];
    value_ad(owner, column, dkv, ad, sizeof ad);
    randombytes_buf(raw, NONCE_BYTES);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        raw + NONCE_BYTES, &clen, (const unsigned char *)plain, plen, (const unsigned char *)ad,
        strlen(ad), NULL, raw, key);
    sodium_memzero(key, sizeof key);
    int k = snprintf(out, cap, FG_CRYPT_PREFIX "%s$%d$", owner, dkv);
    sodium_bin2base64(out + k, cap - (size_t)k, raw, NONCE_BYTES + (size_t)clen,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (raw != stackbuf)
        free(raw);
    return 0;
}

char *fg_crypt_seal_alloc(const char *owner, const char *column, const char *plain)
{
    size_t plen = strlen(plain);
    size_t cap = fg_crypt_sealed_len(owner, plen);
    char *out = fg_xmalloc(cap);
    if (fg_crypt_seal(owner, column, plain, plen, out, cap) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

int fg_crypt_sealed_owner(const char *text, char *out, size_t cap)
{
    if (!fg_crypt_is_sealed(text))
        return -1;
    const char *o = text + sizeof FG_CRYPT_PREFIX - 1;
    const char *d = strchr(o, '$');
    if (!d || d == o || (size_t)(d - o) >= cap || (size_t)(d - o) > STORE_KEY_OWNER_MAX)
        return -1;
    memcpy(out, o, (size_t)(d - o));
    out[d - o] = '\0';
    return 0;
}

int fg_crypt_unseal(const char *column, const char *text, char *out, size_t cap)
{
    if (!text) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    if (!fg_crypt_is_sealed(text)) {
        size_t n = strlen(text);
        if (n >= cap)
            return -1;
        memcpy(out, text, n + 1);
        return 0;
    }
    char owner[STORE_KEY_OWNER_MAX + 1];
    if (fg_crypt_sealed_owner(text, owner, sizeof owner) != 0)
        return -1;
    const char *v = text + sizeof FG_CRYPT_PREFIX - 1 + strlen(owner) + 1;
    char *end = NULL;
    long dkv = strtol(v, &end, 10);
    if (!end || *end != '$' || dkv <= 0 || dkv > 1000000)
        return -1;
    const char *b64 = end + 1;
    size_t b64len = strlen(b64);
    size_t maxraw = b64len / 4 * 3 + 3;
    unsigned char stackbuf[1024];
    unsigned char *raw = maxraw <= sizeof stackbuf ? stackbuf : fg_xmalloc(maxraw);
    size_t raw_len = 0;
    int rc = -1;
    unsigned char key[KEY_BYTES];
    int have = 0;
    if (sodium_base642bin(raw, maxraw, b64, b64len, NULL, &raw_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
        raw_len >= NONCE_BYTES + TAG_BYTES && raw_len - NONCE_BYTES - TAG_BYTES < cap) {
        int got = 0;
        if (data_key(owner, 0, (int)dkv, key, &got) == 0)
            have = 1;
    }
    if (have) {
        char ad[256];
        value_ad(owner, column, (int)dkv, ad, sizeof ad);
        unsigned long long plen = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                (unsigned char *)out, &plen, NULL, raw + NONCE_BYTES, raw_len - NONCE_BYTES,
                (const unsigned char *)ad, strlen(ad), raw, key) == 0) {
            out[plen] = '\0';
            rc = memchr(out, '\0', plen) ? -1 : 0; /* text values never hold NUL */
        }
        sodium_memzero(key, sizeof key);
    }
    if (raw != stackbuf)
        free(raw);
    if (rc != 0 && cap)
        out[0] = '\0';
    return rc;
}

char *fg_crypt_unseal_alloc(const char *column, const char *text)
{
    size_t cap = strlen(text) + 1;
    char *out = fg_xmalloc(cap);
    if (fg_crypt_unseal(column, text, out, cap) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

int fg_crypt_blind_index(const char *email, char out[FG_CRYPT_BIDX_HEX + 1])
{
    if (!G || !G->have_bidx)
        return -1;
    crypto_auth_hmacsha256_state st;
    unsigned char tag[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, G->sec->bidx, KEY_BYTES);
    static const char dom[] = "forge-email-bidx-v1\n";
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)dom, sizeof dom - 1);
    for (const char *p = email; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch >= 'A' && ch <= 'Z')
            ch = (unsigned char)(ch - 'A' + 'a');
        crypto_auth_hmacsha256_update(&st, &ch, 1);
    }
    crypto_auth_hmacsha256_final(&st, tag);
    sodium_bin2hex(out, FG_CRYPT_BIDX_HEX + 1, tag, sizeof tag);
    return 0;
}

enum fg_err fg_crypt_destroy_key(const char *owner)
{
    if (!G)
        return FG_EINVAL;
    enum fg_err e = G->ks->ops->destroy(G->ks, owner);
    pthread_mutex_lock(&G->mu);
    struct cache_slot *cs = &G->cache[slot_of(owner)];
    if (strcmp(cs->owner, owner) == 0)
        sodium_memzero(cs, sizeof *cs);
    pthread_mutex_unlock(&G->mu);
    return e;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

/* Development/staging without FORGE_MASTER_KEY: the key file (created 0600 on first use). */
static int dev_key_file(const struct fg_config *cfg, unsigned char out[KEY_BYTES], char *err,
                        size_t errlen)
{
    char path[4200];
    char ks[4096];
    store_keystore_sqlite_path(cfg->database_url, ks, sizeof ks);
    if (ks[0]) {
        size_t n = strlen(ks) - strlen("keys.db");
        snprintf(path, sizeof path, "%.*sforge-master.key", (int)n, ks);
    } else {
        snprintf(path, sizeof path, "forge-master.key");
    }
    char hex[80] = {0};
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(hex, 1, sizeof hex - 1, f);
        fclose(f);
        hex[n] = '\0';
        while (n && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
            hex[--n] = '\0';
        int rc = parse_master(hex, out);
        sodium_memzero(hex, sizeof hex);
        if (rc != 0) {
            snprintf(err, errlen, "master key file %s: expected 64 hexadecimal characters", path);
            return -1;
        }
        fg_log(FG_LOG_WARN, "master_key_from_file", FG_LF_STR("path", path),
               FG_LF_STR("hint", "set FORGE_MASTER_KEY outside development"), FG_LF_END);
        return 0;
    }
    randombytes_buf(out, KEY_BYTES);
    sodium_bin2hex(hex, sizeof hex, out, KEY_BYTES);
    /* written whole to a private name, then linked into place: another process starting at the
     * same moment either links first (we read theirs) or reads a complete file */
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    int ok = fd >= 0 && write(fd, hex, 64) == 64 && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int saved = errno, lost_race = 0;
    if (fd >= 0)
        close(fd);
    sodium_memzero(hex, sizeof hex);
    if (ok && link(tmp, path) != 0) {
        saved = errno;
        lost_race = saved == EEXIST;
        ok = 0;
    }
    if (fd >= 0)
        unlink(tmp);
    if (lost_race) /* another process made it first: read theirs */
        return dev_key_file(cfg, out, err, errlen);
    if (!ok) {
        snprintf(err, errlen, "cannot write the generated master key file %s: %s", path,
                 strerror(saved));
        return -1;
    }
    fg_log(FG_LOG_WARN, "master_key_generated", FG_LF_STR("path", path),
           FG_LF_STR("hint", "development only: set FORGE_MASTER_KEY and back it up"), FG_LF_END);
    return 0;
}

static void free_state(struct crypt_state *s)
{
    if (!s)
        return;
    if (s->ks)
        s->ks->ops->close(s->ks);
    if (s->cache)
        sodium_free(s->cache);
    if (s->sec)
        sodium_free(s->sec);
    pthread_mutex_destroy(&s->mu);
    sodium_memzero(s, sizeof *s);
    free(s);
}

void fg_crypt_close(void)
{
    struct crypt_state *s = G;
    G = NULL;
    free_state(s);
}

int fg_crypt_ready(void)
{
    return G != NULL;
}

struct store_keystore *fg_crypt_keystore(void)
{
    return G ? G->ks : NULL;
}

int fg_crypt_kek_version(void)
{
    return G ? G->current : 0;
}

int fg_crypt_open(const struct fg_config *cfg, char *err, size_t errlen)
{
    if (G && strcmp(G->url, cfg->database_url) == 0)
        return 0;
    fg_crypt_close();
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    struct crypt_state *s = fg_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->sec = sodium_malloc(sizeof *s->sec);
    if (!s->sec) {
        snprintf(err, errlen, "out of memory");
        free_state(s);
        return -1;
    }
    memset(s->sec, 0, sizeof *s->sec);
    snprintf(s->url, sizeof s->url, "%s", cfg->database_url);
    s->cache = sodium_malloc(sizeof *s->cache * FG_CRYPT_CACHE_SLOTS);
    if (!s->cache) {
        snprintf(err, errlen, "out of memory");
        free_state(s);
        return -1;
    }
    memset(s->cache, 0, sizeof *s->cache * FG_CRYPT_CACHE_SLOTS);
    if (cfg->master_key && cfg->master_key[0]) {
        if (parse_master(cfg->master_key, s->sec->master) != 0) {
            snprintf(err, errlen, "FORGE_MASTER_KEY: expected 64 hexadecimal characters");
            free_state(s);
            return -1;
        }
    } else if (cfg->environment == FG_ENV_PRODUCTION) {
        snprintf(err, errlen, "FORGE_MASTER_KEY: required in production");
        free_state(s);
        return -1;
    } else if (dev_key_file(cfg, s->sec->master, err, errlen) != 0) {
        free_state(s);
        return -1;
    }
    const char *nk = getenv("FORGE_MASTER_KEY_NEW");
    if (nk && *nk) {
        if (parse_master(nk, s->sec->master_new) != 0) {
            snprintf(err, errlen, "FORGE_MASTER_KEY_NEW: expected 64 hexadecimal characters");
            free_state(s);
            return -1;
        }
        s->have_new = 1;
    }
    if (store_keystore_open(cfg, &s->ks, err, errlen) != FG_OK) {
        s->ks = NULL;
        free_state(s);
        return -1;
    }
    G = s;
    char v[32];
    enum fg_err e = s->ks->ops->meta_get(s->ks, "kek_version", v, sizeof v);
    long long nkeys = 0;
    if (e == FG_ENOTFOUND && s->ks->ops->count(s->ks, &nkeys) != FG_OK) {
        snprintf(err, errlen, "key store unavailable");
        goto fail;
    }
    if (e == FG_ENOTFOUND && nkeys != 0) {
        /* Replicas starting together bootstrap one shared key store. Every writer records
         * kek_version before it creates the first key, so keys present means a peer finished
         * that step after our first read: read it again. Still absent is a damaged store. */
        e = s->ks->ops->meta_get(s->ks, "kek_version", v, sizeof v);
        if (e == FG_ENOTFOUND) {
            snprintf(err, errlen, "key store: keys present but no KEK version recorded");
            goto fail;
        }
    }
    if (e == FG_ENOTFOUND) {
        struct kek k = {.version = 1};
        char check[65];
        derive_kek(s->sec->master, 1, k.key);
        kek_check(k.key, check);
        sodium_memzero(&k, sizeof k);
        if (s->ks->ops->meta_set(s->ks, "kek_check_1", check) != FG_OK ||
            s->ks->ops->meta_set(s->ks, "kek_version", "1") != FG_OK) {
            snprintf(err, errlen, "key store: cannot record the KEK version");
            goto fail;
        }
        snprintf(v, sizeof v, "1");
    } else if (e != FG_OK) {
        snprintf(err, errlen, "key store unavailable");
        goto fail;
    }
    s->current = (int)strtol(v, NULL, 10);
    if (s->current <= 0 || learn_kek(s->current) != 0) {
        snprintf(err, errlen,
                 "FORGE_MASTER_KEY does not open the key store (KEK version %s): wrong master "
                 "key, or the key store belongs to another deployment",
                 v);
        goto fail;
    }
    char to[32];
    if (s->ks->ops->meta_get(s->ks, "rotate_to", to, sizeof to) == FG_OK) {
        int t = (int)strtol(to, NULL, 10);
        if (t > s->current && learn_kek(t) == 0)
            s->current = t; /* a rotation is under way and we hold its key: wrap with it */
    }
    int dkv = 0;
    if (data_key("_bidx", 1, 0, s->sec->bidx, &dkv) != 0) {
        snprintf(err, errlen, "key store: cannot load the blind-index key");
        goto fail;
    }
    s->have_bidx = 1;
    return 0;
fail:
    fg_crypt_close();
    return -1;
}

/* ---- rotation ------------------------------------------------------------------------- */

struct rot {
    const struct kek *to;
    long long done;
    char last[STORE_KEY_OWNER_MAX + 1];
    int failed;
};

static int rot_one(const struct store_wrapped_key *w, void *ctx)
{
    struct rot *r = ctx;
    snprintf(r->last, sizeof r->last, "%s", w->owner);
    pthread_mutex_lock(&G->mu);
    const struct kek *from = find_kek(w->kek_version);
    if (!from && learn_kek(w->kek_version) == 0)
        from = find_kek(w->kek_version);
    unsigned char key[KEY_BYTES];
    int ok = from && unwrap_key(from, w, key) == 0;
    struct store_wrapped_key nw;
    if (ok)
        wrap_key(r->to, w->owner, w->dk_version, key, &nw);
    pthread_mutex_unlock(&G->mu);
    sodium_memzero(key, sizeof key);
    if (!ok) {
        fg_log(FG_LOG_ERROR, "rotate_unwrap_failed", FG_LF_STR("owner", w->owner), FG_LF_END);
        r->failed = 1;
        return 1;
    }
    int changed = 0;
    enum fg_err e = G->ks->ops->rewrap(G->ks, &nw, w->kek_version, &changed);
    sodium_memzero(&nw, sizeof nw);
    if (e != FG_OK) {
        r->failed = 1;
        return 1;
    }
    r->done += changed;
    return 0;
}

int fg_crypt_rotate(const char *new_master_hex, long long *rewrapped, char *err, size_t errlen)
{
    *rewrapped = 0;
    if (!G) {
        snprintf(err, errlen, "key store not open");
        return -1;
    }
    unsigned char nm[KEY_BYTES];
    if (parse_master(new_master_hex, nm) != 0) {
        snprintf(err, errlen, "FORGE_MASTER_KEY_NEW: expected 64 hexadecimal characters");
        return -1;
    }
    if (sodium_memcmp(nm, G->sec->master, KEY_BYTES) == 0) {
        sodium_memzero(nm, sizeof nm);
        snprintf(err, errlen, "FORGE_MASTER_KEY_NEW equals FORGE_MASTER_KEY");
        return -1;
    }
    struct store_keystore *ks = G->ks;
    char v[32];
    int cur = 0, target = 0;
    if (ks->ops->meta_get(ks, "kek_version", v, sizeof v) == FG_OK)
        cur = (int)strtol(v, NULL, 10);
    if (ks->ops->meta_get(ks, "rotate_to", v, sizeof v) == FG_OK)
        target = (int)strtol(v, NULL, 10); /* resuming */
    if (target <= cur)
        target = cur + 1;
    struct kek to = {.version = target};
    derive_kek(nm, target, to.key);
    sodium_memzero(nm, sizeof nm);
    char name[48], check[65], have[80];
    kek_check(to.key, check);
    snprintf(name, sizeof name, "kek_check_%d", target);
    if (ks->ops->meta_get(ks, name, have, sizeof have) == FG_OK) {
        if (strlen(have) != 64 || sodium_memcmp(have, check, 64) != 0) {
            sodium_memzero(&to, sizeof to);
            snprintf(err, errlen,
                     "a rotation to KEK version %d was started with another new master key; "
                     "finish it with that key",
                     target);
            return -1;
        }
    } else if (ks->ops->meta_set(ks, name, check) != FG_OK) {
        sodium_memzero(&to, sizeof to);
        snprintf(err, errlen, "key store: cannot record the new KEK");
        return -1;
    }
    snprintf(v, sizeof v, "%d", target);
    ks->ops->meta_set(ks, "rotate_to", v);
    /* resume point: keys are visited in owner order; a key re-wrapped already no longer
     * matches "kek_version <> target", so restarting from "" only re-reads progress */
    char progress_name[48];
    snprintf(progress_name, sizeof progress_name, "rotate_progress_%d", target);
    struct rot r = {.to = &to};
    if (ks->ops->meta_get(ks, progress_name, r.last, sizeof r.last) != FG_OK)
        r.last[0] = '\0';
    for (int pass = 0; pass < 2; pass++) {
        for (;;) {
            char before[STORE_KEY_OWNER_MAX + 1];
            snprintf(before, sizeof before, "%s", r.last);
            enum fg_err e = ks->ops->list_other_kek(ks, target, r.last, 200, rot_one, &r);
            if (e != FG_OK || r.failed) {
                sodium_memzero(&to, sizeof to);
                snprintf(err, errlen, "re-wrapping stopped (resumable: run again)");
                *rewrapped = r.done;
                return -1;
            }
            if (strcmp(before, r.last) == 0)
                break;
            ks->ops->meta_set(ks, progress_name, r.last);
        }
        r.last[0] = '\0'; /* second pass: keys created behind the cursor meanwhile */
    }
    snprintf(v, sizeof v, "%d", target);
    ks->ops->meta_set(ks, "kek_version", v);
    ks->ops->meta_set(ks, "rotate_to", "0");
    pthread_mutex_lock(&G->mu);
    if (!find_kek(target) && G->nkeks < MAX_KEKS)
        G->sec->keks[G->nkeks++] = to;
    G->current = target;
    pthread_mutex_unlock(&G->mu);
    sodium_memzero(&to, sizeof to);
    *rewrapped = r.done;
    return 0;
}

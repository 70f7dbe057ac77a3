/*
 * Vector index manager: checkpoint, change-feed follower, label table. Contract in index.h,
 * design in docs/search.md ("Index lifecycle").
 *
 * Applying a change is state-based, not op-based: for every capsule named by a batch of feed
 * rows the current row is read from the store and the index is made to match it (absent or
 * deleted → no vector; live → a vector for its current content, type and trust). That makes
 * replay idempotent, lets a batch coalesce many changes of one capsule, and means a checkpoint
 * only needs the seq it is consistent with.
 *
 * Where a vector comes from, cheapest first: the label already holds a vector for the same
 * content hash (metadata-only change: only type/trust are updated); the embedding stored with
 * the capsule (any process may have computed it); the embedder (then the result is written back
 * with set_embedding, guarded by the content hash, so others need not embed it again).
 *
 * Checkpoint files: the manifest at INDEX_PATH (header, label table, BLAKE2b-256 of both) names
 * the graph file "<INDEX_PATH>.<gen>.hnsw" (hnsw_save format). The graph is written first, then
 * the manifest replaces the old one by rename, then the previous graph is removed: a crash at
 * any point leaves a manifest whose graph exists. Only the holder of "<INDEX_PATH>.lock" writes.
 *
 * Locks: apply_mu serialises every writer of the index (apply, retry, rebuild, checkpoint) and
 * is never taken by searches. meta_lock (rwlock) protects the label table and the `hnsw`
 * pointer: searches hold it for reading across hnsw_search (the filter reads the table) and the
 * label → id resolution; writers take it for writing only around table updates, never while
 * calling into the HNSW index, so the lock order is always meta_lock → hnsw lock.
 * A label is freed only after its vector left the HNSW index, and freed labels are reused only
 * by the (single) applying thread, so a search can never resolve a label to the wrong capsule.
 */
#include "core/index.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/capsule.h"
#include "core/metrics.h"
#include "kw/kw.h"
#include "store/capsules.h"
#include "store/search.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"
#include "vec/hnsw.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "stored embeddings and checkpoints are little-endian; add byte swapping for this target"
#endif

#define PATH_MAX_LEN        4096
#define MANIFEST_MAGIC      "FGIDXM1\n"
#define MANIFEST_VERSION    1u
#define MANIFEST_MAX_LABELS (1u << 28)
#define LOAD_RETRY_S        2.0
#define PROGRESS_LOG_S      10.0

/* ---- label table ----------------------------------------------------------------------- */

enum { LBL_FREE = 0, LBL_LIVE = 1, LBL_PENDING = 2, LBL_NEW = 3 };

struct ix_label {
    char id[37];
    uint8_t state; /* LBL_* */
    uint8_t type;  /* index in fg_capsule_types */
    uint8_t trust;
    uint64_t hash8; /* first 8 bytes of the content hash of the indexed vector; 0 = unknown */
};
_Static_assert(sizeof(struct ix_label) == 48, "label layout is part of the checkpoint format");

struct ix_manifest {
    char magic[8];
    uint32_t version;
    uint32_t header_bytes;
    uint64_t seq; /* change-feed seq the checkpoint is consistent with */
    uint64_t gen; /* graph file generation */
    uint32_t dims, M, quantize, n_labels;
    uint64_t n_live, n_pending;
    char seq_capsule_id[40]; /* capsule of the feed row at seq: detects another database */
    char space[128];
    uint8_t reserved[64];
};
_Static_assert(sizeof(struct ix_manifest) == 296, "manifest header layout");

struct fg_index {
    struct store *st;
    embedder_t *emb;
    struct fg_index_options o;
    char *path, *dir, *base; /* manifest path, its directory and file name (NULL: none) */
    char space[128];
    unsigned dims;
    int lock_fd, owner;

    pthread_mutex_t apply_mu;
    pthread_rwlock_t meta_lock;
    hnsw_index_t *hnsw;
    struct fg_kw *kw; /* keyword index: same capsules, same feed position (own lock) */
    struct ix_label *labels;
    size_t n_labels, cap_labels;
    uint32_t *free_labels;
    size_t n_free, cap_free;
    uint32_t *map; /* open addressing, value label + 1, 0 = empty; capacity map_cap (2^k) */
    size_t map_cap, map_n;
    size_t n_live, n_pending;

    atomic_int state;
    pthread_mutex_t reason_mu;
    char reason[300];
    atomic_llong applied_seq;
    char applied_id[40];
    uint64_t gen;
    long long ckpt_seq, changes_since_ckpt;
    int dirty, force_embed;
    double last_ckpt, last_retry, last_space_check;
    long long embedded; /* texts embedded (for load info) */
    struct fg_index_load_info info;

    pthread_t thread;
    int thread_started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    int stop;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static uint32_t map_find(const struct fg_index *ix, const char *id)
{
    if (!ix->map_cap)
        return UINT32_MAX;
    size_t m = ix->map_cap - 1;
    for (size_t i = fnv1a(id) & m; ix->map[i]; i = (i + 1) & m) {
        uint32_t l = ix->map[i] - 1;
        if (strcmp(ix->labels[l].id, id) == 0)
            return l;
    }
    return UINT32_MAX;
}

static void map_put_raw(uint32_t *map, size_t cap, const struct ix_label *labels, uint32_t l)
{
    size_t m = cap - 1;
    size_t i = fnv1a(labels[l].id) & m;
    while (map[i])
        i = (i + 1) & m;
    map[i] = l + 1;
}

static void map_put(struct fg_index *ix, uint32_t l)
{
    if ((ix->map_n + 1) * 2 > ix->map_cap) {
        size_t cap = ix->map_cap ? ix->map_cap * 2 : 1024;
        uint32_t *nm = fg_xcalloc(cap, sizeof *nm);
        for (size_t i = 0; i < ix->map_cap; i++)
            if (ix->map[i])
                map_put_raw(nm, cap, ix->labels, ix->map[i] - 1);
        free(ix->map);
        ix->map = nm;
        ix->map_cap = cap;
    }
    map_put_raw(ix->map, ix->map_cap, ix->labels, l);
    ix->map_n++;
}

/* Linear probing deletion with backward shift (no tombstones). */
static void map_del(struct fg_index *ix, uint32_t l)
{
    size_t m = ix->map_cap - 1;
    size_t i = fnv1a(ix->labels[l].id) & m;
    while (ix->map[i] && ix->map[i] != l + 1)
        i = (i + 1) & m;
    if (!ix->map[i])
        return;
    ix->map[i] = 0;
    ix->map_n--;
    for (size_t j = (i + 1) & m; ix->map[j]; j = (j + 1) & m) {
        size_t home = fnv1a(ix->labels[ix->map[j] - 1].id) & m;
        /* Move j back to i when its home is not in the cyclic range (i, j]. */
        int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            ix->map[i] = ix->map[j];
            ix->map[j] = 0;
            i = j;
        }
    }
}

/* Caller holds meta_lock for writing. Returns a label in state LBL_NEW. */
static uint32_t label_alloc(struct fg_index *ix, const char *id)
{
    uint32_t l;
    if (ix->n_free) {
        l = ix->free_labels[--ix->n_free];
    } else {
        if (ix->n_labels == ix->cap_labels) {
            ix->cap_labels = ix->cap_labels ? ix->cap_labels * 2 : 1024;
            ix->labels = fg_xrealloc(ix->labels, ix->cap_labels * sizeof *ix->labels);
        }
        l = (uint32_t)ix->n_labels++;
    }
    struct ix_label *L = &ix->labels[l];
    memset(L, 0, sizeof *L);
    snprintf(L->id, sizeof L->id, "%s", id);
    L->state = LBL_NEW;
    map_put(ix, l);
    return l;
}

/* Caller holds meta_lock for writing. */
static void label_free(struct fg_index *ix, uint32_t l)
{
    struct ix_label *L = &ix->labels[l];
    if (L->state == LBL_LIVE)
        ix->n_live--;
    else if (L->state == LBL_PENDING)
        ix->n_pending--;
    map_del(ix, l);
    L->state = LBL_FREE;
    L->id[0] = '\0';
    if (ix->n_free == ix->cap_free) {
        ix->cap_free = ix->cap_free ? ix->cap_free * 2 : 256;
        ix->free_labels = fg_xrealloc(ix->free_labels, ix->cap_free * sizeof *ix->free_labels);
    }
    ix->free_labels[ix->n_free++] = l;
}

static void set_state_locked(struct fg_index *ix, uint32_t l, uint8_t st)
{
    struct ix_label *L = &ix->labels[l];
    if (L->state == LBL_LIVE)
        ix->n_live--;
    else if (L->state == LBL_PENDING)
        ix->n_pending--;
    L->state = st;
    if (st == LBL_LIVE)
        ix->n_live++;
    else if (st == LBL_PENDING)
        ix->n_pending++;
}

/* ---- small helpers --------------------------------------------------------------------- */

unsigned fg_index_type_code(const char *type)
{
    if (!type)
        return FG_INDEX_TYPE_ANY;
    for (unsigned i = 0; fg_capsule_types[i]; i++)
        if (strcmp(fg_capsule_types[i], type) == 0)
            return i;
    return FG_INDEX_TYPE_ANY;
}

void fg_index_space_name(embedder_t *emb, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s:%u", embed_model_id(emb), embed_dimensions(emb));
}

unsigned fg_index_dimensions(const struct fg_index *ix)
{
    return ix->dims;
}

static uint64_t hash8_of(const char *hex)
{
    uint64_t v = 0;
    if (!hex)
        return 0;
    for (int i = 0; i < 16; i++) {
        char ch = hex[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            d = (unsigned)(ch - 'A' + 10);
        else
            return 0;
        v = v << 4 | d;
    }
    return v ? v : 1;
}

static uint8_t trust_u8(int t)
{
    return (uint8_t)(t < 0 ? 0 : t > 255 ? 255 : t);
}

/* A stored embedding usable as a vector of `dims`: right size, finite, not all zero. */
static int blob_usable(const void *blob, size_t len, unsigned dims)
{
    if (!blob || len != (size_t)dims * sizeof(float))
        return 0;
    const unsigned char *p = blob;
    int nonzero = 0;
    for (unsigned i = 0; i < dims; i++) {
        float f;
        memcpy(&f, p + (size_t)i * 4, 4);
        if (!isfinite(f))
            return 0;
        nonzero |= f != 0.0f;
    }
    return nonzero;
}

static void set_reason(struct fg_index *ix, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_reason(struct fg_index *ix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&ix->reason_mu);
    vsnprintf(ix->reason, sizeof ix->reason, fmt, ap);
    pthread_mutex_unlock(&ix->reason_mu);
    va_end(ap);
}

static void update_gauge(struct fg_index *ix)
{
    if (fgm.index_vectors)
        fg_metric_set(fgm.index_vectors, NULL, (double)ix->n_live);
}

/* 1 once fg_index_free has asked the follower to stop: long loops (rebuild, replay) give up so
 * a shutdown during a cold start does not wait for it. */
static int stopping(struct fg_index *ix)
{
    pthread_mutex_lock(&ix->stop_mu);
    int s = ix->stop;
    pthread_mutex_unlock(&ix->stop_mu);
    return s;
}

/* ---- vectors in and out ---------------------------------------------------------------- */

/* Adds the seconds since *t to the follower's `stage` (forge_index_stage_seconds_total) and
 * restarts the clock. */
static void ix_stage(const char *stage, double *t)
{
    double now = fg_mono_s();
    if (fgm.index_stage) {
        const char *v[] = {stage};
        fg_metric_add(fgm.index_stage, v, now - *t);
    }
    *t = now;
}

/* Inserts or replaces the vector of capsule `id` and marks it live with the given metadata.
 * Called with apply_mu held. */
static enum fg_err upsert_vec(struct fg_index *ix, const char *id, uint8_t type, uint8_t trust,
                              uint64_t hash8, const float *vec)
{
    uint32_t l = map_find(ix, id);
    int created = 0;
    if (l == UINT32_MAX) {
        pthread_rwlock_wrlock(&ix->meta_lock);
        l = label_alloc(ix, id);
        pthread_rwlock_unlock(&ix->meta_lock);
        created = 1;
    }
    double t = fg_mono_s();
    enum fg_err e = hnsw_insert(ix->hnsw, l, vec);
    ix_stage("hnsw", &t);
    pthread_rwlock_wrlock(&ix->meta_lock);
    if (e != FG_OK) {
        if (created || ix->labels[l].state != LBL_LIVE)
            label_free(ix, l);
    } else {
        struct ix_label *L = &ix->labels[l];
        L->type = type;
        L->trust = trust;
        L->hash8 = hash8;
        set_state_locked(ix, l, LBL_LIVE);
    }
    pthread_rwlock_unlock(&ix->meta_lock);
    return e;
}

/* The capsule has no vector for its current content (its embedding failed): keep it in the
 * table as pending so the retry loop picks it up, and take any old vector out. */
static void mark_pending(struct fg_index *ix, const char *id, uint8_t type, uint8_t trust)
{
    uint32_t l = map_find(ix, id);
    int had_vec = 0;
    pthread_rwlock_wrlock(&ix->meta_lock);
    if (l == UINT32_MAX)
        l = label_alloc(ix, id);
    had_vec = ix->labels[l].state == LBL_LIVE;
    ix->labels[l].type = type;
    ix->labels[l].trust = trust;
    ix->labels[l].hash8 = 0;
    set_state_locked(ix, l, LBL_PENDING);
    pthread_rwlock_unlock(&ix->meta_lock);
    if (had_vec)
        hnsw_delete(ix->hnsw, l);
}

static void remove_id(struct fg_index *ix, const char *id)
{
    uint32_t l = map_find(ix, id);
    if (l == UINT32_MAX)
        return;
    int had_vec = ix->labels[l].state == LBL_LIVE;
    pthread_rwlock_wrlock(&ix->meta_lock);
    /* Invisible to searches from here on; reused only after hnsw_delete below (same thread). */
    label_free(ix, l);
    pthread_rwlock_unlock(&ix->meta_lock);
    if (had_vec)
        hnsw_delete(ix->hnsw, l);
}

/* ---- embedding batches ------------------------------------------------------------------ */

struct eitem {
    char id[37];
    char hash[65];
    uint8_t type, trust;
    char *text;
    size_t len;
};

struct ebatch {
    struct eitem *v;
    size_t n, cap, bytes;
};

static void ebatch_add(struct ebatch *b, const char *id, const char *hash, uint8_t type,
                       uint8_t trust, const char *text, size_t len)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->v = fg_xrealloc(b->v, b->cap * sizeof *b->v);
    }
    struct eitem *it = &b->v[b->n++];
    snprintf(it->id, sizeof it->id, "%s", id);
    snprintf(it->hash, sizeof it->hash, "%s", hash ? hash : "");
    it->type = type;
    it->trust = trust;
    it->text = fg_xstrndup(text, len);
    it->len = len;
    b->bytes += len;
}

static void ebatch_clear(struct ebatch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i].text);
    b->n = 0;
    b->bytes = 0;
}

static int ebatch_full(const struct ebatch *b)
{
    return b->n >= FG_INDEX_EMBED_BATCH || b->bytes >= FG_INDEX_EMBED_BATCH_BYTES;
}

static void count_embed(struct fg_index *ix, size_t n, int failed)
{
    const char *pv[] = {embed_provider_name(ix->emb)};
    if (failed) {
        if (fgm.embedding_errors)
            fg_metric_add(fgm.embedding_errors, pv, 1);
    } else {
        if (fgm.embeddings)
            fg_metric_add(fgm.embeddings, pv, (double)n);
        ix->embedded += (long long)n;
    }
}

/* Writes the embeddings of a batch back to the store in one transaction (best effort: the index
 * has the vectors either way; a content change since the read is skipped by the hash guard). */
static void store_embeddings(struct fg_index *ix, const struct ebatch *b, const float *vecs,
                             const unsigned char *ok)
{
    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(ix->st, &e);
    if (!c)
        return;
    if ((e = store_begin(ix->st, c)) != FG_OK)
        goto out;
    size_t bytes = (size_t)ix->dims * sizeof(float);
    for (size_t i = 0; i < b->n; i++) {
        if (!ok[i])
            continue;
        e = ix->st->capsules->set_embedding(c, b->v[i].id, vecs + (size_t)i * ix->dims, bytes,
                                            b->v[i].hash[0] ? b->v[i].hash : NULL);
        if (e != FG_OK && e != FG_ECONFLICT && e != FG_ENOTFOUND)
            break;
        e = FG_OK;
    }
    if (e == FG_OK)
        e = store_commit(ix->st, c);
    else
        store_rollback(ix->st, c);
out:
    if (e != FG_OK)
        fg_log(FG_LOG_WARN, "index_store_embeddings_failed", FG_LF_STR("error", fg_err_name(e)),
               FG_LF_INT("count", b->n), FG_LF_END);
    store_release(ix->st, c);
}

/* Embeds the batch, stores the embeddings, inserts the vectors. Items whose embedding failed
 * because the provider is unavailable become pending; items the embedder rejects (FG_EINVAL)
 * are left out of the index with a warning. Called with apply_mu held. */
static void ebatch_flush(struct fg_index *ix, struct ebatch *b)
{
    if (!b->n)
        return;
    size_t n = b->n;
    const char **texts = fg_xmalloc(n * sizeof *texts);
    size_t *lens = fg_xmalloc(n * sizeof *lens);
    float *vecs = fg_xmalloc(n * (size_t)ix->dims * sizeof *vecs);
    unsigned char *ok = fg_xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        texts[i] = b->v[i].text;
        lens[i] = b->v[i].len;
    }
    char eb[300];
    double t = fg_mono_s();
    enum fg_err e = embed_texts(ix->emb, texts, lens, n, vecs, eb, sizeof eb);
    count_embed(ix, n, e != FG_OK);
    if (e == FG_OK) {
        memset(ok, 1, n);
    } else if (e == FG_EINVAL && n > 1) {
        /* One bad text fails the call: embed one by one to isolate it. */
        for (size_t i = 0; i < n; i++) {
            enum fg_err e1 =
                embed_texts(ix->emb, &texts[i], &lens[i], 1, vecs + i * ix->dims, eb, sizeof eb);
            count_embed(ix, 1, e1 != FG_OK);
            ok[i] = e1 == FG_OK;
            if (e1 == FG_EUNAVAIL)
                e = FG_EUNAVAIL;
        }
    }
    ix_stage("embed", &t);
    size_t n_ok = 0;
    for (size_t i = 0; i < n; i++)
        n_ok += ok[i];
    if (n_ok)
        store_embeddings(ix, b, vecs, ok);
    ix_stage("embedding_write", &t);
    for (size_t i = 0; i < n; i++) {
        struct eitem *it = &b->v[i];
        if (ok[i]) {
            enum fg_err ei = upsert_vec(ix, it->id, it->type, it->trust, hash8_of(it->hash),
                                        vecs + i * ix->dims);
            if (ei != FG_OK)
                fg_log(FG_LOG_ERROR, "index_insert_failed", FG_LF_STR("capsule_id", it->id),
                       FG_LF_STR("error", fg_err_name(ei)), FG_LF_END);
        } else if (e == FG_EUNAVAIL) {
            mark_pending(ix, it->id, it->type, it->trust);
        } else {
            fg_log(FG_LOG_WARN, "index_embed_rejected", FG_LF_STR("capsule_id", it->id),
                   FG_LF_STR("error", eb), FG_LF_END);
            remove_id(ix, it->id);
        }
    }
    if (n_ok < n && e == FG_EUNAVAIL)
        fg_log(FG_LOG_WARN, "index_embed_unavailable", FG_LF_INT("pending", n - n_ok),
               FG_LF_STR("error", eb), FG_LF_END);
    free(texts);
    free(lens);
    free(vecs);
    free(ok);
    ebatch_clear(b);
}

/* Makes the index match one live capsule, or queues its text in `b` for embedding. Returns 1
 * when the batch is full (the caller flushes it, without holding a store connection). Called
 * with apply_mu held. */
static int process_live(struct fg_index *ix, const char *id, const char *content,
                        size_t content_len, const char *hash, const char *type, int trust,
                        const void *blob, size_t blob_len, struct ebatch *b)
{
    uint8_t tc = (uint8_t)fg_index_type_code(type), tr = trust_u8(trust);
    uint64_t h8 = hash8_of(hash);
    uint32_t l = map_find(ix, id);
    if (!ix->force_embed && l != UINT32_MAX && ix->labels[l].state == LBL_LIVE && h8 &&
        ix->labels[l].hash8 == h8) {
        /* Same content: metadata only (type, trust). */
        pthread_rwlock_wrlock(&ix->meta_lock);
        ix->labels[l].type = tc;
        ix->labels[l].trust = tr;
        pthread_rwlock_unlock(&ix->meta_lock);
        return 0;
    }
    if (!ix->force_embed && blob_usable(blob, blob_len, ix->dims)) {
        float *v = fg_xmalloc((size_t)ix->dims * sizeof *v);
        memcpy(v, blob, blob_len);
        enum fg_err e = upsert_vec(ix, id, tc, tr, h8, v);
        free(v);
        if (e == FG_OK)
            return 0;
    }
    ebatch_add(b, id, hash, tc, tr, content, content_len);
    return ebatch_full(b);
}

/* ---- change feed ------------------------------------------------------------------------ */

struct feed_row {
    long long seq;
    char id[37];
};

struct feed_page {
    struct feed_row *v;
    size_t n, cap;
};

static int feed_cb(const struct store_change *ch, void *ctx)
{
    struct feed_page *p = ctx;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : FG_INDEX_FEED_BATCH;
        p->v = fg_xrealloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n].seq = ch->seq;
    snprintf(p->v[p->n].id, sizeof p->v[p->n].id, "%s", ch->capsule_id ? ch->capsule_id : "");
    p->n++;
    return 0;
}

/* Capsule id of the feed row at `seq` ("" if there is none). */
static enum fg_err feed_id_at(struct store_conn *c, const struct store *st, long long seq,
                              char *out, size_t outlen)
{
    out[0] = '\0';
    if (seq <= 0)
        return FG_OK;
    struct feed_page p = {0};
    enum fg_err e = st->capsules->changes(c, seq - 1, 1, feed_cb, &p);
    if (e == FG_OK && p.n == 1 && p.v[0].seq == seq)
        snprintf(out, outlen, "%s", p.v[0].id);
    free(p.v);
    return e;
}

/* Keeps the keyword index in step with a live capsule (content and metadata text). */
static void kw_upsert_cap(struct fg_index *ix, const struct store_capsule *cap)
{
    const char *meta = cap->metadata ? cap->metadata : "{}";
    fg_kw_upsert(ix->kw, cap->id, fg_index_type_code(cap->type), cap->trust_level, cap->content,
                 cap->content_len, meta, strlen(meta));
}

/* Applies the feed rows in (applied_seq, upto]. Called with apply_mu held. */
static enum fg_err apply_until(struct fg_index *ix, long long upto)
{
    double t0 = fg_mono_s(), t_log = t0;
    long long from = atomic_load(&ix->applied_seq);
    enum fg_err e = FG_OK;
    struct feed_page page = {0};
    struct ebatch b = {0};
    struct store_conn *c = NULL;
    while (atomic_load(&ix->applied_seq) < upto) {
        if (stopping(ix)) {
            e = FG_EUNAVAIL;
            goto out;
        }
        page.n = 0;
        double t = fg_mono_s();
        if (!(c = store_acquire(ix->st, &e)))
            goto out;
        e = ix->st->capsules->changes(c, atomic_load(&ix->applied_seq), FG_INDEX_FEED_BATCH,
                                      feed_cb, &page);
        ix_stage("feed", &t);
        if (e != FG_OK || page.n == 0)
            goto out;
        for (size_t i = 0; i < page.n; i++) {
            if (page.v[i].seq > upto) {
                page.n = i;
                break;
            }
            /* The same capsule later in the page: its state is read once, then. */
            int later = 0;
            for (size_t j = i + 1; j < page.n && !later; j++)
                later = page.v[j].seq <= upto && strcmp(page.v[j].id, page.v[i].id) == 0;
            if (later || !page.v[i].id[0])
                continue;
            struct store_capsule cap;
            memset(&cap, 0, sizeof cap);
            t = fg_mono_s();
            e = ix->st->capsules->get(c, page.v[i].id, STORE_CAPSULE_WITH_EMBEDDING, &cap);
            ix_stage("feed", &t);
            if (e == FG_ENOTFOUND || (e == FG_OK && cap.is_deleted)) {
                remove_id(ix, page.v[i].id);
                fg_kw_remove(ix->kw, page.v[i].id);
                e = FG_OK;
            } else if (e == FG_OK) {
                kw_upsert_cap(ix, &cap);
                ix_stage("keyword", &t);
                if (process_live(ix, cap.id, cap.content, cap.content_len, cap.content_hash,
                                 cap.type, cap.trust_level, cap.embedding, cap.embedding_len, &b)) {
                    store_release(ix->st, c); /* the flush writes on a connection of its own */
                    c = NULL;
                    ebatch_flush(ix, &b);
                    if (!(c = store_acquire(ix->st, &e))) {
                        store_capsule_clear(&cap);
                        goto out;
                    }
                }
            }
            store_capsule_clear(&cap);
            if (e != FG_OK)
                goto out;
        }
        store_release(ix->st, c);
        c = NULL;
        ebatch_flush(ix, &b);
        if (page.n == 0)
            break;
        struct feed_row *last = &page.v[page.n - 1];
        snprintf(ix->applied_id, sizeof ix->applied_id, "%s", last->id);
        atomic_store(&ix->applied_seq, last->seq);
        ix->changes_since_ckpt += (long long)page.n;
        ix->dirty = 1;
        if (fg_mono_s() - t_log >= PROGRESS_LOG_S) {
            t_log = fg_mono_s();
            fg_log(FG_LOG_INFO, "index_replay_progress", FG_LF_INT("seq", last->seq),
                   FG_LF_INT("head", upto), FG_LF_INT("applied", last->seq - from),
                   FG_LF_DBL("seconds", t_log - t0), FG_LF_END);
        }
    }
out:
    store_release(ix->st, c);
    ebatch_flush(ix, &b); /* applied_seq did not move past them: harmless if re-applied */
    free(b.v);
    free(page.v);
    update_gauge(ix);
    return e;
}

static enum fg_err feed_head(struct fg_index *ix, long long *head)
{
    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(ix->st, &e);
    if (!c)
        return e;
    e = ix->st->capsules->changes_head(c, head);
    store_release(ix->st, c);
    return e;
}

/* Retries the capsules whose embedding failed. Called with apply_mu held. */
static void retry_pending(struct fg_index *ix)
{
    if (!ix->n_pending)
        return;
    size_t n = 0;
    char(*ids)[37] = fg_xmalloc(ix->n_pending * sizeof *ids);
    for (size_t l = 0; l < ix->n_labels && n < ix->n_pending; l++)
        if (ix->labels[l].state == LBL_PENDING)
            snprintf(ids[n++], 37, "%s", ix->labels[l].id);
    struct ebatch b = {0};
    enum fg_err e = FG_OK;
    for (size_t i = 0; i < n; i++) {
        struct store_conn *c = store_acquire(ix->st, &e);
        if (!c)
            break;
        struct store_capsule cap;
        memset(&cap, 0, sizeof cap);
        e = ix->st->capsules->get(c, ids[i], STORE_CAPSULE_WITH_EMBEDDING, &cap);
        store_release(ix->st, c);
        if (e == FG_ENOTFOUND || (e == FG_OK && cap.is_deleted))
            remove_id(ix, ids[i]);
        else if (e == FG_OK &&
                 process_live(ix, cap.id, cap.content, cap.content_len, cap.content_hash, cap.type,
                              cap.trust_level, cap.embedding, cap.embedding_len, &b))
            ebatch_flush(ix, &b);
        store_capsule_clear(&cap);
    }
    ebatch_flush(ix, &b);
    free(b.v);
    free(ids);
    ix->dirty = 1;
    update_gauge(ix);
}

/* ---- building ------------------------------------------------------------------------------ */

static hnsw_index_t *new_hnsw(struct fg_index *ix, size_t capacity)
{
    struct hnsw_params p = {
        .dim = ix->dims,
        .M = ix->o.M,
        .ef_construction = ix->o.ef_construction,
        .quantize_int8 = ix->o.quantize,
        .seed = FG_INDEX_SEED,
        .initial_capacity =
            capacity < HNSW_INITIAL_CAPACITY_DEFAULT ? HNSW_INITIAL_CAPACITY_DEFAULT : capacity,
        .float_dir = ix->dir,
    };
    return hnsw_new(&p);
}

/* Replaces the index and the label table (both may be NULL/empty). Called with apply_mu held. */
static void swap_in(struct fg_index *ix, hnsw_index_t *h, struct ix_label *labels, size_t n)
{
    pthread_rwlock_wrlock(&ix->meta_lock);
    hnsw_index_t *old = ix->hnsw;
    ix->hnsw = h;
    free(ix->labels);
    free(ix->map);
    ix->labels = labels;
    ix->n_labels = ix->cap_labels = n;
    ix->map = NULL;
    ix->map_cap = ix->map_n = 0;
    ix->n_free = ix->n_live = ix->n_pending = 0;
    for (size_t l = 0; l < n; l++) {
        uint8_t s = labels[l].state;
        if (s == LBL_LIVE || s == LBL_PENDING) {
            labels[l].id[36] = '\0';
            map_put(ix, (uint32_t)l);
            if (s == LBL_LIVE)
                ix->n_live++;
            else
                ix->n_pending++;
        } else {
            labels[l].state = LBL_FREE;
            labels[l].id[0] = '\0';
            if (ix->n_free == ix->cap_free) {
                ix->cap_free = ix->cap_free ? ix->cap_free * 2 : 256;
                ix->free_labels =
                    fg_xrealloc(ix->free_labels, ix->cap_free * sizeof *ix->free_labels);
            }
            ix->free_labels[ix->n_free++] = (uint32_t)l;
        }
    }
    pthread_rwlock_unlock(&ix->meta_lock);
    hnsw_free(old);
}

struct scan_item {
    char id[37];
    char hash[65];
    uint8_t type, trust;
    float *vec; /* usable stored embedding, or NULL */
    char *text; /* content when it has to be embedded */
    size_t len;
};

struct scan_page {
    struct fg_index *ix;
    struct scan_item *v;
    size_t n, cap, text_bytes;
    char last[37];
};

static int scan_cb(const struct store_search_doc *d, void *ctx)
{
    struct scan_page *p = ctx;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : FG_INDEX_SCAN_PAGE;
        p->v = fg_xrealloc(p->v, p->cap * sizeof *p->v);
    }
    struct scan_item *it = &p->v[p->n++];
    memset(it, 0, sizeof *it);
    snprintf(it->id, sizeof it->id, "%s", d->id);
    snprintf(it->hash, sizeof it->hash, "%s", d->content_hash);
    snprintf(p->last, sizeof p->last, "%s", d->id);
    it->type = (uint8_t)fg_index_type_code(d->type);
    it->trust = trust_u8(d->trust_level);
    fg_kw_upsert(p->ix->kw, d->id, it->type, d->trust_level, d->content, d->content_len,
                 d->metadata ? d->metadata : "{}", d->metadata ? d->metadata_len : 2);
    if (!p->ix->force_embed && blob_usable(d->embedding, d->embedding_len, p->ix->dims)) {
        it->vec = fg_xmalloc(d->embedding_len);
        memcpy(it->vec, d->embedding, d->embedding_len);
    } else {
        it->text = fg_xstrndup(d->content, d->content_len);
        it->len = d->content_len;
        p->text_bytes += d->content_len;
    }
    /* Bound the memory of one page by the text it copies. */
    return p->text_bytes >= 2 * FG_INDEX_EMBED_BATCH_BYTES;
}

/* Builds a fresh index from the live capsules (stored embeddings, or the embedder when
 * force_embed or none is usable), consistent with the feed head read before the scan.
 * Called with apply_mu held. */
static enum fg_err rebuild(struct fg_index *ix, fg_index_progress_fn progress, void *pctx)
{
    enum fg_err e = FG_OK;
    long long head = 0, total = 0, done = 0;
    char head_id[40] = "";
    struct store_conn *c = store_acquire(ix->st, &e);
    if (!c)
        return e;
    if ((e = ix->st->capsules->changes_head(c, &head)) == FG_OK &&
        (e = feed_id_at(c, ix->st, head, head_id, sizeof head_id)) == FG_OK)
        e = ix->st->capsules->count_live(c, &total);
    store_release(ix->st, c);
    if (e != FG_OK)
        return e;
    hnsw_index_t *h = new_hnsw(ix, (size_t)total + 1024);
    if (!h) {
        fg_log(FG_LOG_ERROR, "index_create_failed", FG_LF_INT("dims", ix->dims), FG_LF_END);
        return FG_EIO;
    }
    swap_in(ix, h, NULL, 0);
    fg_kw_clear(ix->kw);
    double t0 = fg_mono_s(), t_log = t0;
    struct scan_page p = {.ix = ix};
    struct ebatch b = {0};
    for (;;) {
        if (stopping(ix)) {
            e = FG_EUNAVAIL;
            break;
        }
        p.n = 0;
        p.text_bytes = 0;
        if (!(c = store_acquire(ix->st, &e)))
            break;
        char after[37];
        snprintf(after, sizeof after, "%s", p.last);
        e = ix->st->search->scan_live(c, after, FG_INDEX_SCAN_PAGE, !ix->force_embed, scan_cb, &p);
        store_release(ix->st, c);
        if (e != FG_OK || p.n == 0)
            break;
        for (size_t i = 0; i < p.n; i++) {
            struct scan_item *it = &p.v[i];
            if (it->vec) {
                e = upsert_vec(ix, it->id, it->type, it->trust, hash8_of(it->hash), it->vec);
                ix->info.from_store += e == FG_OK;
                if (e != FG_OK)
                    fg_log(FG_LOG_ERROR, "index_insert_failed", FG_LF_STR("capsule_id", it->id),
                           FG_LF_STR("error", fg_err_name(e)), FG_LF_END);
                e = FG_OK;
            } else {
                ebatch_add(&b, it->id, it->hash, it->type, it->trust, it->text, it->len);
                if (ebatch_full(&b))
                    ebatch_flush(ix, &b);
            }
            free(it->vec);
            free(it->text);
        }
        ebatch_flush(ix, &b);
        done += (long long)p.n;
        if (progress)
            progress(done, total, pctx);
        if (fg_mono_s() - t_log >= PROGRESS_LOG_S) {
            t_log = fg_mono_s();
            fg_log(FG_LOG_INFO, "index_rebuild_progress", FG_LF_INT("done", done),
                   FG_LF_INT("total", total), FG_LF_DBL("seconds", t_log - t0), FG_LF_END);
        }
    }
    ebatch_flush(ix, &b);
    free(b.v);
    free(p.v);
    if (e == FG_OK) {
        atomic_store(&ix->applied_seq, head);
        snprintf(ix->applied_id, sizeof ix->applied_id, "%s", head_id);
        ix->dirty = 1;
    }
    update_gauge(ix);
    return e;
}

/* ---- checkpoint ------------------------------------------------------------------------- */

static void graph_path(const struct fg_index *ix, uint64_t gen, char *out, size_t n)
{
    snprintf(out, n, "%s.%llu.hnsw", ix->path, (unsigned long long)gen);
}

/* The keyword index of a checkpoint generation (fg_kw_save format). */
static void kw_path(const struct fg_index *ix, uint64_t gen, char *out, size_t n)
{
    snprintf(out, n, "%s.%llu.kw", ix->path, (unsigned long long)gen);
}

/* Rebuilds only the keyword index from a scan of the live capsules (a checkpoint without a
 * usable keyword file: written by an older version, or damaged). The change-feed replay that
 * follows is state-based, so scanning a state newer than the checkpoint's seq is harmless.
 * Called with apply_mu held. */
struct kw_scan {
    struct fg_index *ix;
    char last[37];
    size_t n;
};

static int kw_scan_cb(const struct store_search_doc *d, void *ctx)
{
    struct kw_scan *k = ctx;
    fg_kw_upsert(k->ix->kw, d->id, fg_index_type_code(d->type), d->trust_level, d->content,
                 d->content_len, d->metadata ? d->metadata : "{}",
                 d->metadata ? d->metadata_len : 2);
    snprintf(k->last, sizeof k->last, "%s", d->id);
    k->n++;
    return 0;
}

static enum fg_err kw_rebuild(struct fg_index *ix)
{
    double t0 = fg_mono_s();
    struct kw_scan k = {.ix = ix};
    enum fg_err e = FG_OK;
    fg_kw_clear(ix->kw);
    for (;;) {
        if (stopping(ix))
            return FG_EUNAVAIL;
        size_t before = k.n;
        struct store_conn *c = store_acquire(ix->st, &e);
        if (!c)
            return e;
        char after[37];
        snprintf(after, sizeof after, "%s", k.last);
        e = ix->st->search->scan_live(c, after, FG_INDEX_SCAN_PAGE * 4, 0, kw_scan_cb, &k);
        store_release(ix->st, c);
        if (e != FG_OK || k.n == before)
            break;
    }
    fg_log(FG_LOG_INFO, "index_keyword_rebuilt", FG_LF_INT("documents", k.n),
           FG_LF_DBL("seconds", fg_mono_s() - t0), FG_LF_END);
    return e;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Called with apply_mu held. */
static enum fg_err save_checkpoint(struct fg_index *ix)
{
    if (!ix->path || !ix->owner)
        return FG_EFORBIDDEN;
    if (!ix->hnsw)
        return FG_EINVAL;
    double t0 = fg_mono_s();
    char graph[PATH_MAX_LEN], tmp[PATH_MAX_LEN], old[PATH_MAX_LEN];
    uint64_t gen = ix->gen + 1;
    graph_path(ix, gen, graph, sizeof graph);
    enum fg_err e = hnsw_save(ix->hnsw, graph);
    if (e != FG_OK) {
        fg_log(FG_LOG_ERROR, "index_checkpoint_failed", FG_LF_STR("step", "graph"),
               FG_LF_STR("error", fg_err_name(e)), FG_LF_END);
        return e;
    }
    char kwp[PATH_MAX_LEN];
    kw_path(ix, gen, kwp, sizeof kwp);
    if ((e = fg_kw_save(ix->kw, kwp)) != FG_OK) {
        fg_log(FG_LOG_ERROR, "index_checkpoint_failed", FG_LF_STR("step", "keyword"),
               FG_LF_STR("error", fg_err_name(e)), FG_LF_END);
        unlink(graph);
        return e;
    }
    struct ix_manifest h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MANIFEST_MAGIC, 8);
    h.version = MANIFEST_VERSION;
    h.header_bytes = sizeof h;
    h.seq = (uint64_t)atomic_load(&ix->applied_seq);
    h.gen = gen;
    h.dims = ix->dims;
    h.M = ix->o.M;
    h.quantize = (uint32_t)ix->o.quantize;
    h.n_labels = (uint32_t)ix->n_labels;
    h.n_live = ix->n_live;
    h.n_pending = ix->n_pending;
    snprintf(h.seq_capsule_id, sizeof h.seq_capsule_id, "%s", ix->applied_id);
    snprintf(h.space, sizeof h.space, "%s", ix->space);
    crypto_generichash_state hs;
    unsigned char digest[32];
    crypto_generichash_init(&hs, NULL, 0, sizeof digest);
    crypto_generichash_update(&hs, (const unsigned char *)&h, sizeof h);
    size_t lbytes = ix->n_labels * sizeof *ix->labels;
    if (lbytes)
        crypto_generichash_update(&hs, (const unsigned char *)ix->labels, lbytes);
    crypto_generichash_final(&hs, digest, sizeof digest);

    snprintf(tmp, sizeof tmp, "%s.tmp", ix->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int bad = fd < 0;
    if (!bad)
        bad = write_all(fd, &h, sizeof h) || (lbytes && write_all(fd, ix->labels, lbytes)) ||
              write_all(fd, digest, sizeof digest) || fsync(fd) != 0;
    if (fd >= 0)
        close(fd);
    if (!bad)
        bad = rename(tmp, ix->path) != 0;
    if (bad) {
        fg_log(FG_LOG_ERROR, "index_checkpoint_failed", FG_LF_STR("step", "manifest"),
               FG_LF_STR("error", strerror(errno)), FG_LF_END);
        unlink(tmp);
        unlink(graph);
        unlink(kwp);
        return FG_EIO;
    }
    fsync_dir(ix->dir);
    if (ix->gen) {
        graph_path(ix, ix->gen, old, sizeof old);
        unlink(old);
        kw_path(ix, ix->gen, old, sizeof old);
        unlink(old);
    }
    ix->gen = gen;
    ix->ckpt_seq = (long long)h.seq;
    ix->changes_since_ckpt = 0;
    ix->dirty = 0;
    ix->last_ckpt = fg_mono_s();
    fg_log(FG_LOG_INFO, "index_checkpoint", FG_LF_INT("seq", h.seq),
           FG_LF_INT("vectors", ix->n_live), FG_LF_INT("pending", ix->n_pending),
           FG_LF_DBL("seconds", ix->last_ckpt - t0), FG_LF_END);
    return FG_OK;
}

/* Reads and checks the manifest; on success *labels (caller frees) and *h are set. The reason
 * for a refusal goes to why. */
static enum fg_err read_manifest(struct fg_index *ix, struct ix_manifest *h,
                                 struct ix_label **labels, char *why, size_t whylen)
{
    *labels = NULL;
    int fd = open(ix->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "%s", errno == ENOENT ? "no checkpoint" : strerror(errno));
        return FG_ENOTFOUND;
    }
    struct stat sb;
    enum fg_err e = FG_EINVAL;
    unsigned char *buf = NULL;
    if (fstat(fd, &sb) != 0 || sb.st_size < (off_t)(sizeof *h + 32)) {
        snprintf(why, whylen, "checkpoint too short");
        goto out;
    }
    size_t size = (size_t)sb.st_size;
    buf = fg_xmalloc(size);
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got != size) {
        snprintf(why, whylen, "checkpoint unreadable");
        e = FG_EIO;
        goto out;
    }
    memcpy(h, buf, sizeof *h);
    if (memcmp(h->magic, MANIFEST_MAGIC, 8) != 0 || h->version != MANIFEST_VERSION ||
        h->header_bytes != sizeof *h || h->n_labels > MANIFEST_MAX_LABELS ||
        size != sizeof *h + (size_t)h->n_labels * sizeof(struct ix_label) + 32) {
        snprintf(why, whylen, "checkpoint header invalid");
        goto out;
    }
    unsigned char digest[32];
    crypto_generichash(digest, sizeof digest, buf, size - 32, NULL, 0);
    if (sodium_memcmp(digest, buf + size - 32, 32) != 0) {
        snprintf(why, whylen, "checkpoint checksum mismatch");
        goto out;
    }
    h->space[sizeof h->space - 1] = '\0';
    h->seq_capsule_id[sizeof h->seq_capsule_id - 1] = '\0';
    if (h->n_labels) {
        *labels = fg_xmalloc((size_t)h->n_labels * sizeof **labels);
        memcpy(*labels, buf + sizeof *h, (size_t)h->n_labels * sizeof **labels);
    }
    e = FG_OK;
out:
    free(buf);
    close(fd);
    return e;
}

/* Loads the checkpoint if it is usable for this store and configuration. Called with apply_mu
 * held. */
/* The keyword file of a checkpoint, loaded in a thread of its own while the graph loads. */
struct kw_loader {
    struct fg_kw *kw;
    char path[PATH_MAX_LEN];
    enum fg_err e;
    pthread_t th;
    int started;
};

static void *kw_loader_main(void *arg)
{
    struct kw_loader *l = arg;
    l->e = fg_kw_load(l->kw, l->path);
    return NULL;
}

static void kw_loader_start(struct fg_index *ix, struct kw_loader *l, uint64_t gen)
{
    kw_path(ix, gen, l->path, sizeof l->path);
    if (!l->kw)
        l->kw = fg_kw_new();
    l->e = FG_EIO;
    l->started = pthread_create(&l->th, NULL, kw_loader_main, l) == 0;
    if (!l->started)
        kw_loader_main(l);
}

static void kw_loader_join(struct kw_loader *l)
{
    if (l->started)
        pthread_join(l->th, NULL);
    l->started = 0;
}

static enum fg_err load_checkpoint(struct fg_index *ix, char *why, size_t whylen)
{
    if (!ix->path) {
        snprintf(why, whylen, "no INDEX_PATH");
        return FG_ENOTFOUND;
    }
    struct ix_manifest h;
    struct ix_label *labels = NULL;
    enum fg_err e = FG_OK;
    hnsw_index_t *g = NULL;
    struct kw_loader kl = {0};
    /* A writer in another process may replace the pair between our two reads: retry once. */
    for (int attempt = 0; attempt < 2; attempt++) {
        free(labels);
        labels = NULL;
        if ((e = read_manifest(ix, &h, &labels, why, whylen)) != FG_OK)
            goto fail;
        if (strcmp(h.space, ix->space) != 0 || h.dims != ix->dims) {
            snprintf(why, whylen, "checkpoint is for embedding space %s, configured %s", h.space,
                     ix->space);
            e = FG_ECONFLICT;
            goto fail;
        }
        if (h.quantize != (uint32_t)ix->o.quantize || h.M != ix->o.M) {
            snprintf(why, whylen, "index parameters changed (M %u→%u, quantize %u→%d)", h.M,
                     ix->o.M, h.quantize, ix->o.quantize);
            e = FG_ECONFLICT;
            goto fail;
        }
        char graph[PATH_MAX_LEN];
        graph_path(ix, h.gen, graph, sizeof graph);
        struct hnsw_params lo = {.float_dir = ix->dir};
        enum fg_err le = FG_OK;
        kw_loader_start(ix, &kl, h.gen); /* the two files load in parallel */
        g = hnsw_load_with(graph, &lo, &le);
        kw_loader_join(&kl);
        if (g)
            break;
        snprintf(why, whylen, "graph file %.300s: %s", graph, fg_err_name(le));
        e = le == FG_OK ? FG_EIO : le;
    }
    if (!g)
        goto fail;
    /* The checkpoint must belong to this database's timeline. */
    long long head = 0;
    char at[40] = "";
    struct store_conn *c = store_acquire(ix->st, &e);
    if (!c)
        goto fail;
    e = ix->st->capsules->changes_head(c, &head);
    if (e == FG_OK)
        e = feed_id_at(c, ix->st, (long long)h.seq, at, sizeof at);
    store_release(ix->st, c);
    if (e != FG_OK)
        goto fail;
    if ((long long)h.seq > head || strcmp(at, h.seq_capsule_id) != 0) {
        snprintf(why, whylen,
                 "checkpoint (seq %llu) is not from this database's history (feed head %lld%s)",
                 (unsigned long long)h.seq, head,
                 (long long)h.seq > head ? "" : ", another capsule at that seq");
        e = FG_ECONFLICT;
        goto fail;
    }
    size_t live = 0;
    for (size_t l = 0; l < h.n_labels; l++)
        live += labels[l].state == LBL_LIVE;
    if (hnsw_count(g) != live || hnsw_memory_bytes(g) == 0) {
        snprintf(why, whylen, "checkpoint label table does not match its graph (%zu vs %zu)", live,
                 hnsw_count(g));
        e = FG_EINVAL;
        goto fail;
    }
    swap_in(ix, g, labels, h.n_labels);
    enum fg_err ke = kl.e;
    int kw_rebuilt = ke != FG_OK;
    if (ke == FG_OK)
        fg_kw_swap(ix->kw, kl.kw);
    fg_kw_free(kl.kw); /* the previous contents, or the failed load */
    kl.kw = NULL;
    if (ke != FG_OK) {
        fg_log(FG_LOG_WARN, "index_keyword_checkpoint_unusable", FG_LF_STR("path", kl.path),
               FG_LF_STR("error", fg_err_name(ke)), FG_LF_END);
        if ((e = kw_rebuild(ix)) != FG_OK)
            return e; /* the caller fails the load; swap_in's state is replaced on retry */
    }
    ix->gen = h.gen;
    ix->ckpt_seq = (long long)h.seq;
    atomic_store(&ix->applied_seq, (long long)h.seq);
    snprintf(ix->applied_id, sizeof ix->applied_id, "%s", h.seq_capsule_id);
    ix->dirty = kw_rebuilt; /* the next checkpoint brings a keyword file again */
    ix->changes_since_ckpt = 0;
    update_gauge(ix);
    return FG_OK;
fail:
    kw_loader_join(&kl);
    fg_kw_free(kl.kw);
    hnsw_free(g);
    free(labels);
    return e;
}

/* Removes graph files of older generations and temp files (owner, at start). */
static void remove_stale_files(struct fg_index *ix)
{
    if (!ix->path || !ix->owner)
        return;
    DIR *d = opendir(ix->dir);
    if (!d)
        return;
    size_t bl = strlen(ix->base);
    char keep[64];
    snprintf(keep, sizeof keep, ".%llu.hnsw", (unsigned long long)ix->gen);
    char keepkw[64];
    snprintf(keepkw, sizeof keepkw, ".%llu.kw", (unsigned long long)ix->gen);
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        size_t nl = strlen(n);
        if (nl <= bl || strncmp(n, ix->base, bl) != 0)
            continue;
        const char *rest = n + bl;
        int graph = nl > bl + 5 && strcmp(n + nl - 5, ".hnsw") == 0 && rest[0] == '.';
        int kwf = nl > bl + 3 && strcmp(n + nl - 3, ".kw") == 0 && rest[0] == '.';
        int tmp = strcmp(rest, ".tmp") == 0 || (nl > 7 && strcmp(n + nl - 7, ".kw.tmp") == 0);
        if ((graph && (!ix->gen || strcmp(rest, keep) != 0)) ||
            (kwf && (!ix->gen || strcmp(rest, keepkw) != 0)) || tmp) {
            char p[PATH_MAX_LEN];
            snprintf(p, sizeof p, "%s/%s", ix->dir, n);
            unlink(p);
        }
    }
    closedir(d);
}

/* ---- loading -------------------------------------------------------------------------------- */

/* Compares the stored embeddings' space with the configured one (adopting it when nothing would
 * have to be re-embedded). FG_ECONFLICT with the reason set when a reindex is required. */
static enum fg_err check_space(struct fg_index *ix, int adopt)
{
    enum fg_err e = FG_OK;
    char db[STORE_SEARCH_SPACE_MAX];
    struct store_conn *c = store_acquire(ix->st, &e);
    if (!c)
        return e;
    if ((e = ix->st->search->space_get(c, db, sizeof db)) != FG_OK)
        goto out;
    if (strcmp(db, ix->space) == 0)
        goto out;
    long long live = 0;
    if (adopt && (e = ix->st->capsules->count_live(c, &live)) != FG_OK)
        goto out;
    if (adopt && (!db[0] || live == 0)) {
        e = ix->st->search->space_set(c, ix->space);
        if (e == FG_OK && db[0])
            fg_log(FG_LOG_INFO, "index_space_adopted", FG_LF_STR("previous", db),
                   FG_LF_STR("space", ix->space), FG_LF_END);
        goto out;
    }
    if (strncmp(db, "reindexing:", 11) == 0)
        set_reason(ix, "forge reindex to %s is running or was interrupted (run it again)", db + 11);
    else
        set_reason(ix,
                   "stored embeddings are %s but the configured embedder is %s: run forge "
                   "reindex",
                   db, ix->space);
    e = FG_ECONFLICT;
out:
    store_release(ix->st, c);
    return e;
}

/* Loads (checkpoint + replay, or rebuild) and marks the index ready. apply_mu held. */
static enum fg_err load_locked(struct fg_index *ix)
{
    double t0 = fg_mono_s();
    atomic_store(&ix->state, FG_INDEX_LOADING);
    set_reason(ix, "loading");
    memset(&ix->info, 0, sizeof ix->info);
    ix->embedded = 0;
    enum fg_err e = check_space(ix, 1);
    if (e == FG_ECONFLICT) {
        atomic_store(&ix->state, FG_INDEX_REINDEX_REQUIRED);
        char r[sizeof ix->reason];
        pthread_mutex_lock(&ix->reason_mu);
        snprintf(r, sizeof r, "%s", ix->reason);
        pthread_mutex_unlock(&ix->reason_mu);
        fg_log(FG_LOG_ERROR, "index_reindex_required", FG_LF_STR("reason", r), FG_LF_END);
        return e;
    }
    if (e != FG_OK)
        goto fail;
    char why[400] = "";
    const char *source = "checkpoint";
    long long start_seq = 0;
    e = load_checkpoint(ix, why, sizeof why);
    if (e != FG_OK) {
        if (e != FG_ENOTFOUND)
            fg_log(FG_LOG_WARN, "index_checkpoint_unusable", FG_LF_STR("reason", why),
                   FG_LF_STR("path", ix->path ? ix->path : ""), FG_LF_END);
        set_reason(ix, "rebuilding the index from the store");
        if ((e = rebuild(ix, NULL, NULL)) != FG_OK)
            goto fail;
        source = ix->n_live || ix->n_pending ? "rebuild" : "empty";
    }
    start_seq = atomic_load(&ix->applied_seq);
    long long head = 0;
    if ((e = feed_head(ix, &head)) != FG_OK)
        goto fail;
    if (strcmp(source, "checkpoint") == 0 && head - start_seq > ix->o.replay_max &&
        head - start_seq > (long long)ix->n_live) {
        /* Replaying costs a capsule read per feed row; a scan is cheaper past this point. */
        fg_log(FG_LOG_INFO, "index_checkpoint_too_old", FG_LF_INT("seq", start_seq),
               FG_LF_INT("head", head), FG_LF_INT("vectors", ix->n_live), FG_LF_END);
        set_reason(ix, "rebuilding the index from the store");
        if ((e = rebuild(ix, NULL, NULL)) != FG_OK)
            goto fail;
        source = "rebuild";
        start_seq = atomic_load(&ix->applied_seq);
        if ((e = feed_head(ix, &head)) != FG_OK)
            goto fail;
    }
    if ((e = apply_until(ix, head)) != FG_OK)
        goto fail;
    remove_stale_files(ix);
    ix->info.source = source;
    ix->info.replayed = atomic_load(&ix->applied_seq) - start_seq;
    ix->info.embedded = ix->embedded;
    ix->info.seconds = fg_mono_s() - t0;
    ix->last_ckpt = ix->last_retry = ix->last_space_check = fg_mono_s();
    set_reason(ix, "%s", "");
    atomic_store(&ix->state, FG_INDEX_READY);
    fg_log(FG_LOG_INFO, "index_ready", FG_LF_STR("source", source),
           FG_LF_INT("vectors", ix->n_live), FG_LF_INT("pending", ix->n_pending),
           FG_LF_INT("seq", atomic_load(&ix->applied_seq)),
           FG_LF_INT("replayed", ix->info.replayed), FG_LF_INT("embedded", ix->info.embedded),
           FG_LF_INT("from_store", ix->info.from_store), FG_LF_STR("space", ix->space),
           FG_LF_INT("owner", ix->owner), FG_LF_DBL("seconds", ix->info.seconds), FG_LF_END);
    if (strcmp(source, "checkpoint") != 0 && ix->owner && ix->path)
        save_checkpoint(ix); /* the next start loads instead of rebuilding */
    return FG_OK;
fail:
    atomic_store(&ix->state, FG_INDEX_FAILED);
    set_reason(ix, "loading failed (%s); retrying", fg_err_name(e));
    if (stopping(ix))
        fg_log(FG_LOG_INFO, "index_load_interrupted", FG_LF_STR("msg", "shutting down"), FG_LF_END);
    else
        fg_log(FG_LOG_ERROR, "index_load_failed", FG_LF_STR("error", fg_err_name(e)), FG_LF_END);
    return e;
}

enum fg_err fg_index_load(struct fg_index *ix)
{
    pthread_mutex_lock(&ix->apply_mu);
    enum fg_err e = load_locked(ix);
    pthread_mutex_unlock(&ix->apply_mu);
    return e;
}

/* ---- follower thread --------------------------------------------------------------------- */

/* Sleeps up to ms; returns 1 when asked to stop. */
static int wait_stop(struct fg_index *ix, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ix->stop_mu);
    while (!ix->stop)
        if (pthread_cond_timedwait(&ix->stop_cv, &ix->stop_mu, &ts) == ETIMEDOUT)
            break;
    int s = ix->stop;
    pthread_mutex_unlock(&ix->stop_mu);
    return s;
}

/* One round of following while ready. apply_mu held. */
static void follow_round(struct fg_index *ix)
{
    double now = fg_mono_s();
    if (now - ix->last_space_check >= FG_INDEX_SPACE_CHECK_S) {
        ix->last_space_check = now;
        if (check_space(ix, 0) == FG_ECONFLICT) {
            atomic_store(&ix->state, FG_INDEX_REINDEX_REQUIRED);
            fg_log(FG_LOG_ERROR, "index_reindex_required",
                   FG_LF_STR("reason", "the stored embedding space changed"), FG_LF_END);
            return;
        }
    }
    long long head = 0;
    if (feed_head(ix, &head) == FG_OK && head > atomic_load(&ix->applied_seq))
        apply_until(ix, head);
    if (ix->n_pending && now - ix->last_retry >= FG_INDEX_RETRY_S) {
        ix->last_retry = now;
        retry_pending(ix);
    }
    if (ix->owner && ix->path && ix->dirty &&
        (ix->changes_since_ckpt >= ix->o.checkpoint_changes ||
         now - ix->last_ckpt >= (double)ix->o.checkpoint_s))
        save_checkpoint(ix);
}

static void *thread_main(void *arg)
{
    struct fg_index *ix = arg;
    double last_load = -1e9;
    while (!stopping(ix)) {
        int st = atomic_load(&ix->state);
        if (st == FG_INDEX_READY) {
            pthread_mutex_lock(&ix->apply_mu);
            follow_round(ix);
            pthread_mutex_unlock(&ix->apply_mu);
        } else if (fg_mono_s() - last_load >=
                   (st == FG_INDEX_LOADING
                        ? 0
                        : (st == FG_INDEX_REINDEX_REQUIRED ? FG_INDEX_SPACE_CHECK_S
                                                           : LOAD_RETRY_S))) {
            last_load = fg_mono_s();
            int quiet = st == FG_INDEX_REINDEX_REQUIRED;
            if (quiet) {
                /* Only reload once the store's space matches again. */
                pthread_mutex_lock(&ix->apply_mu);
                enum fg_err e = check_space(ix, 1);
                pthread_mutex_unlock(&ix->apply_mu);
                if (e != FG_OK)
                    goto sleep;
            }
            fg_index_load(ix);
        }
    sleep:
        if (wait_stop(ix, ix->o.poll_ms))
            break;
    }
    return NULL;
}

/* ---- public API ------------------------------------------------------------------------- */

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return fg_xstrdup(".");
    if (slash == path)
        return fg_xstrdup("/");
    return fg_xstrndup(path, (size_t)(slash - path));
}

struct fg_index *fg_index_new(struct store *st, embedder_t *emb, const struct fg_index_options *o,
                              char *err, size_t errlen)
{
    if (!st || !st->capsules || !st->search || !emb || !o) {
        snprintf(err, errlen, "vector index: the store has no search support");
        return NULL;
    }
    if (o->M < HNSW_M_MIN || o->M > HNSW_M_MAX || o->ef_construction > HNSW_EF_CONSTRUCTION_MAX ||
        o->poll_ms < 0 || o->poll_ms > FG_INDEX_POLL_MS_MAX || o->checkpoint_changes < 0 ||
        o->checkpoint_s < 0) {
        snprintf(err, errlen, "vector index: invalid parameters");
        return NULL;
    }
    if (o->path && strlen(o->path) > PATH_MAX_LEN - 64) {
        snprintf(err, errlen, "INDEX_PATH: too long");
        return NULL;
    }
    struct fg_index *ix = fg_xcalloc(1, sizeof *ix);
    ix->st = st;
    ix->emb = emb;
    ix->o = *o;
    ix->o.path = NULL;
    if (!ix->o.poll_ms)
        ix->o.poll_ms = FG_INDEX_POLL_MS_DEFAULT;
    if (!ix->o.checkpoint_changes)
        ix->o.checkpoint_changes = FG_INDEX_CHECKPOINT_CHANGES_DEFAULT;
    if (!ix->o.checkpoint_s)
        ix->o.checkpoint_s = FG_INDEX_CHECKPOINT_S_DEFAULT;
    if (ix->o.replay_max <= 0)
        ix->o.replay_max = FG_INDEX_REPLAY_MAX;
    ix->dims = embed_dimensions(emb);
    fg_index_space_name(emb, ix->space, sizeof ix->space);
    ix->lock_fd = -1;
    if (o->path && o->path[0]) {
        ix->path = fg_xstrdup(o->path);
        ix->dir = dir_of(ix->path);
        const char *slash = strrchr(ix->path, '/');
        ix->base = fg_xstrdup(slash ? slash + 1 : ix->path);
        mkdir(ix->dir, 0750); /* the default (next to the database) exists already */
        char lp[PATH_MAX_LEN];
        snprintf(lp, sizeof lp, "%s.lock", ix->path);
        ix->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
        if (ix->lock_fd >= 0 && flock(ix->lock_fd, LOCK_EX | LOCK_NB) == 0) {
            ix->owner = 1;
        } else {
            fg_log(FG_LOG_INFO, "index_checkpoint_reader",
                   FG_LF_STR("msg", ix->lock_fd < 0
                                        ? "cannot open the checkpoint lock: not writing checkpoints"
                                        : "another process writes the checkpoint; this one only "
                                          "reads it"),
                   FG_LF_STR("path", ix->path), FG_LF_END);
        }
    } else {
        ix->dir = fg_xstrdup(".");
    }
    ix->kw = fg_kw_new();
    pthread_mutex_init(&ix->apply_mu, NULL);
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&ix->meta_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&ix->reason_mu, NULL);
    pthread_mutex_init(&ix->stop_mu, NULL);
    pthread_cond_init(&ix->stop_cv, NULL);
    atomic_init(&ix->state, FG_INDEX_LOADING);
    atomic_init(&ix->applied_seq, 0);
    snprintf(ix->reason, sizeof ix->reason, "loading");
    return ix;
}

enum fg_err fg_index_start(struct fg_index *ix)
{
    if (ix->thread_started)
        return FG_EINVAL;
    if (pthread_create(&ix->thread, NULL, thread_main, ix) != 0)
        return FG_EINTERNAL;
    ix->thread_started = 1;
    return FG_OK;
}

void fg_index_free(struct fg_index *ix)
{
    if (!ix)
        return;
    pthread_mutex_lock(&ix->stop_mu);
    ix->stop = 1;
    pthread_cond_broadcast(&ix->stop_cv);
    pthread_mutex_unlock(&ix->stop_mu);
    if (ix->thread_started)
        pthread_join(ix->thread, NULL);
    pthread_mutex_lock(&ix->apply_mu);
    if (atomic_load(&ix->state) == FG_INDEX_READY && ix->owner && ix->path && ix->dirty)
        save_checkpoint(ix);
    pthread_mutex_unlock(&ix->apply_mu);
    hnsw_free(ix->hnsw);
    fg_kw_free(ix->kw);
    free(ix->labels);
    free(ix->map);
    free(ix->free_labels);
    if (ix->lock_fd >= 0)
        close(ix->lock_fd);
    pthread_mutex_destroy(&ix->apply_mu);
    pthread_rwlock_destroy(&ix->meta_lock);
    pthread_mutex_destroy(&ix->reason_mu);
    pthread_mutex_destroy(&ix->stop_mu);
    pthread_cond_destroy(&ix->stop_cv);
    free(ix->path);
    free(ix->dir);
    free(ix->base);
    free(ix);
}

enum fg_err fg_index_sync(struct fg_index *ix)
{
    if (atomic_load(&ix->state) != FG_INDEX_READY)
        return FG_EUNAVAIL;
    long long head = 0;
    enum fg_err e = feed_head(ix, &head);
    if (e != FG_OK || head <= atomic_load(&ix->applied_seq))
        return e;
    /* Someone else (the follower, another request) is applying: wait a bounded time for it, then
     * search what is there rather than pile up behind a slow embedding provider. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += FG_INDEX_SYNC_WAIT_MS / 1000;
    until.tv_nsec += (FG_INDEX_SYNC_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (pthread_mutex_timedlock(&ix->apply_mu, &until) != 0)
        return FG_OK;
    if (atomic_load(&ix->state) == FG_INDEX_READY)
        e = apply_until(ix, head);
    else
        e = FG_EUNAVAIL;
    pthread_mutex_unlock(&ix->apply_mu);
    return e;
}

struct filter_ctx {
    const struct ix_label *labels;
    size_t n;
    int max_trust;
    unsigned type;
};

static int filter(uint64_t label, void *ctx)
{
    const struct filter_ctx *f = ctx;
    if (label >= f->n)
        return 0;
    const struct ix_label *L = &f->labels[label];
    return L->state == LBL_LIVE && (int)L->trust <= f->max_trust &&
           (f->type == FG_INDEX_TYPE_ANY || L->type == f->type);
}

size_t fg_index_search(struct fg_index *ix, const float *q, size_t k, int max_trust,
                       unsigned type_code, struct fg_index_hit *out)
{
    if (!k || atomic_load(&ix->state) != FG_INDEX_READY)
        return 0;
    struct hnsw_hit *hits = fg_xmalloc(k * sizeof *hits);
    size_t n = 0, ef = ix->o.ef_search > k ? ix->o.ef_search : k;
    pthread_rwlock_rdlock(&ix->meta_lock);
    if (ix->hnsw) {
        struct filter_ctx f = {ix->labels, ix->n_labels, max_trust, type_code};
        size_t got = hnsw_search(ix->hnsw, q, k, ef, filter, &f, hits);
        for (size_t i = 0; i < got; i++) {
            if (hits[i].label >= ix->n_labels || ix->labels[hits[i].label].state != LBL_LIVE)
                continue;
            snprintf(out[n].id, sizeof out[n].id, "%s", ix->labels[hits[i].label].id);
            out[n].score = hits[i].score;
            n++;
        }
    }
    pthread_rwlock_unlock(&ix->meta_lock);
    free(hits);
    return n;
}

enum fg_err fg_index_keyword(struct fg_index *ix, const struct fg_kw_query *q, size_t k,
                             int max_trust, unsigned type_code, struct fg_kw_hit *out, size_t *n)
{
    *n = 0;
    if (atomic_load(&ix->state) != FG_INDEX_READY)
        return FG_EUNAVAIL;
    *n = fg_kw_search(ix->kw, q, k, max_trust, type_code, out);
    return FG_OK;
}

enum fg_err fg_index_checkpoint(struct fg_index *ix)
{
    pthread_mutex_lock(&ix->apply_mu);
    enum fg_err e = atomic_load(&ix->state) == FG_INDEX_READY ? save_checkpoint(ix) : FG_EUNAVAIL;
    pthread_mutex_unlock(&ix->apply_mu);
    return e;
}

void fg_index_get_status(struct fg_index *ix, struct fg_index_status *out)
{
    memset(out, 0, sizeof *out);
    out->state = (enum fg_index_state)atomic_load(&ix->state);
    pthread_mutex_lock(&ix->reason_mu);
    snprintf(out->reason, sizeof out->reason, "%s", ix->reason);
    pthread_mutex_unlock(&ix->reason_mu);
    out->applied_seq = atomic_load(&ix->applied_seq);
    if (feed_head(ix, &out->head_seq) != FG_OK)
        out->head_seq = -1;
    pthread_rwlock_rdlock(&ix->meta_lock);
    out->vectors = ix->n_live;
    out->pending = ix->n_pending;
    pthread_rwlock_unlock(&ix->meta_lock);
    out->owner = ix->owner;
    snprintf(out->space, sizeof out->space, "%s", ix->space);
}

void fg_index_get_load_info(struct fg_index *ix, struct fg_index_load_info *out)
{
    pthread_mutex_lock(&ix->apply_mu);
    *out = ix->info;
    pthread_mutex_unlock(&ix->apply_mu);
}

enum fg_err fg_index_reindex(struct fg_index *ix, fg_index_progress_fn progress, void *ctx,
                             char *err, size_t errlen)
{
    if (ix->path && !ix->owner) {
        snprintf(err, errlen,
                 "another process (a running forge serve?) holds %s.lock: stop it before "
                 "reindexing",
                 ix->path);
        return FG_ECONFLICT;
    }
    err[0] = '\0';
    pthread_mutex_lock(&ix->apply_mu);
    double t0 = fg_mono_s();
    enum fg_err e = FG_OK;
    char marker[STORE_SEARCH_SPACE_MAX];
    long long cleared = 0, head = 0;
    snprintf(marker, sizeof marker, "reindexing:%s", ix->space);
    atomic_store(&ix->state, FG_INDEX_LOADING);
    struct store_conn *c = store_acquire(ix->st, &e);
    if (!c)
        goto out;
    /* Servers that still run (on other hosts) stop serving stale vectors while we work. */
    e = ix->st->search->space_set(c, marker);
    store_release(ix->st, c);
    if (e != FG_OK)
        goto out;
    ix->force_embed = 1;
    memset(&ix->info, 0, sizeof ix->info);
    ix->embedded = 0;
    if ((e = rebuild(ix, progress, ctx)) != FG_OK)
        goto out;
    if ((e = feed_head(ix, &head)) != FG_OK || (e = apply_until(ix, head)) != FG_OK)
        goto out;
    if (ix->n_pending) {
        snprintf(err, errlen, "%zu capsule(s) could not be embedded (provider unavailable)",
                 ix->n_pending);
        e = FG_EUNAVAIL;
        goto out;
    }
    if (!(c = store_acquire(ix->st, &e)))
        goto out;
    e = ix->st->search->clear_deleted_embeddings(c, &cleared);
    if (e == FG_OK)
        e = ix->st->search->space_set(c, ix->space);
    store_release(ix->st, c);
    if (e != FG_OK)
        goto out;
    ix->force_embed = 0;
    atomic_store(&ix->state, FG_INDEX_READY);
    set_reason(ix, "%s", "");
    if (ix->path && (e = save_checkpoint(ix)) != FG_OK) {
        snprintf(err, errlen, "the index was rebuilt but its checkpoint could not be written");
        goto out;
    }
    ix->info.source = "reindex";
    ix->info.embedded = ix->embedded;
    ix->info.seconds = fg_mono_s() - t0;
    fg_log(FG_LOG_INFO, "reindex_complete", FG_LF_INT("vectors", ix->n_live),
           FG_LF_INT("embedded", ix->embedded), FG_LF_INT("cleared", cleared),
           FG_LF_STR("space", ix->space), FG_LF_DBL("seconds", ix->info.seconds), FG_LF_END);
out:
    ix->force_embed = 0;
    if (e != FG_OK) {
        if (!err[0])
            snprintf(err, errlen, "reindex failed: %s", fg_err_name(e));
        atomic_store(&ix->state, FG_INDEX_FAILED);
    }
    pthread_mutex_unlock(&ix->apply_mu);
    return e;
}

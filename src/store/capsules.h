/*
 * Store area: capsules, revisions, DERIVED_FROM edges and the capsule change feed (SPEC §4).
 *
 * Every function takes a connection (store.h) so a change, its outbox event and its audit entry
 * commit together. Functions that change data must run inside store_begin/store_commit. Rules
 * (who may do what, trust inheritance, version bumps) live in src/core/capsule.c; this layer
 * stores and fetches. Times are ms since the epoch.
 *
 * Ownership: `struct store_capsule` owns its heap fields (content, metadata, embedding); release
 * with store_capsule_clear. Callback rows are borrowed for the duration of the callback.
 */
#ifndef STORE_CAPSULES_H
#define STORE_CAPSULES_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

struct store_conn;

#define STORE_CAPSULE_TYPE_MAX 16
#define STORE_VERSION_MAX      32

struct store_capsule {
    char id[37];
    char *content; /* NUL-terminated UTF-8; content_len bytes */
    size_t content_len;
    char type[STORE_CAPSULE_TYPE_MAX];
    char *metadata; /* JSON object text */
    char version[STORE_VERSION_MAX];
    char owner_id[37];
    int trust_level;
    char parent_id[37]; /* "" when none */
    int64_t created_at, updated_at;
    int is_deleted;
    int64_t deleted_at; /* 0 when live */
    char content_hash[65];
    int64_t version_created_at;
    char version_author_id[37];
    void *embedding; /* only with STORE_CAPSULE_WITH_EMBEDDING; NULL when none */
    size_t embedding_len;
    /* issue 11 (docs/security.md) */
    char origin_proposal_id[37]; /* set by the server for capsules governance created; "" none */
    int owner_trust;             /* read only: the owner's current trust (visibility rule) */
};

static inline void store_capsule_clear(struct store_capsule *c)
{
    free(c->content);
    free(c->metadata);
    free(c->embedding);
    memset(c, 0, sizeof *c);
}

/* Flags of get(). */
#define STORE_CAPSULE_WITH_EMBEDDING 0x1u

/** List filters; NULL / 0 / -1 fields do not filter. */
struct store_capsule_filter {
    int max_trust;        /* visibility: only capsules with trust_level <= max_trust */
    const char *type;     /* NULL: any */
    int trust_level;      /* -1: any */
    const char *owner_id; /* NULL: any */
    const char *parent_id;
    int64_t created_after;  /* exclusive; 0: none */
    int64_t created_before; /* exclusive; 0: none */
    /* 0: leave out capsules whose owner is quarantined now (trust below sandbox); 1: include
     * them (admins). Issue 11, docs/security.md. */
    int include_quarantined_owners;
};

/** One superseded version (capsule_revisions row). */
struct store_revision {
    const char *capsule_id;
    const char *version;
    const char *content;
    size_t content_len;
    const char *metadata;
    const char *content_hash;
    int64_t created_at;
    const char *author;
    int64_t superseded_at;
    const char *superseded_by;
};

/** One lineage step: `cap` is the ancestor at `depth` hops; the edge is (previous → cap). */
struct store_ancestor {
    int depth;
    const struct store_capsule *cap;
    const char *reason; /* edge reason, may be NULL */
    int64_t derived_at; /* edge time */
    /* issue 11: cap->content holds only the first STORE_ANCESTOR_PREVIEW_CHARS characters (the
     * walk never loads whole contents); this is the full content's length in bytes */
    size_t content_bytes;
    /* GDPR erasure (docs/privacy.md): a tombstone — only cap->id is meaningful */
    int erased;
};
#define STORE_ANCESTOR_PREVIEW_CHARS 200

/** One row of the change feed. */
struct store_change {
    long long seq;
    const char *capsule_id;
    const char *op; /* "create" | "update" | "delete" | "purge" */
    int64_t at;
};

/* Callbacks return 0 to continue, non-zero to stop (the function then returns FG_OK). */
typedef int (*store_capsule_cb)(const struct store_capsule *cap, void *ctx);
typedef int (*store_revision_cb)(const struct store_revision *rev, void *ctx);
typedef int (*store_ancestor_cb)(const struct store_ancestor *a, void *ctx);
typedef int (*store_change_cb)(const struct store_change *ch, void *ctx);
typedef int (*store_id_cb)(const char *id, void *ctx);

struct store_capsule_ops {
    /** Inserts a capsule (trust, version, times, hash already decided); with a parent also the
     * DERIVED_FROM edge with `reason` (may be NULL). FG_ECONFLICT on a duplicate id. */
    enum fg_err (*insert)(struct store_conn *c, const struct store_capsule *cap,
                          const char *reason);
    /** Fetches one capsule, deleted or not. FG_ENOTFOUND when absent. `out` must be zeroed. */
    enum fg_err (*get)(struct store_conn *c, const char *id, unsigned flags,
                       struct store_capsule *out);
    /** Live capsules matching `f`, newest first (created_at, id descending), rows
     * [offset, offset+limit) through cb; *total = count of all matching rows. */
    enum fg_err (*list)(struct store_conn *c, const struct store_capsule_filter *f,
                        long long offset, long long limit, store_capsule_cb cb, void *ctx,
                        long long *total);
    /** Writes the new state of content/type/metadata/version/hash/updated_at (and the
     * version_* fields) of cap->id; when `prev` is not NULL stores it as a revision first.
     * A content change clears the stored embedding. FG_ENOTFOUND if absent or deleted. */
    enum fg_err (*update)(struct store_conn *c, const struct store_capsule *cap,
                          const struct store_revision *prev);
    /** Sets the trust level of a live capsule. */
    enum fg_err (*set_trust)(struct store_conn *c, const char *id, int trust, int64_t at);
    /** Number of live direct children. */
    enum fg_err (*live_children)(struct store_conn *c, const char *id, long long *n);
    /** Soft-deletes `id` (and with `subtree` every live descendant); cb gets each id deleted,
     * root first. FG_ENOTFOUND if `id` is absent or already deleted. */
    enum fg_err (*soft_delete)(struct store_conn *c, const char *id, int subtree, int64_t at,
                               store_id_cb cb, void *ctx);
    /** Ancestors of `id` nearest first, up to `max_depth` hops, through the DERIVED_FROM edges.
     * Deleted ancestors and those with trust_level > max_trust are walked through but not
     * reported (the caller filters quarantined owners with cap->owner_trust). *truncated = 1 when
     * the chain continues past max_depth. */
    enum fg_err (*ancestors)(struct store_conn *c, const char *id, int max_depth, int max_trust,
                             store_ancestor_cb cb, void *ctx, int *truncated);
    /** Superseded versions of `id`, newest first; *total = their number. */
    enum fg_err (*revisions)(struct store_conn *c, const char *id, long long offset,
                             long long limit, store_revision_cb cb, void *ctx, long long *total);
    /** Change feed rows with seq > after_seq, ascending, at most `limit`. */
    enum fg_err (*changes)(struct store_conn *c, long long after_seq, long long limit,
                           store_change_cb cb, void *ctx);
    /** Highest seq of the change feed (0 when empty). */
    enum fg_err (*changes_head)(struct store_conn *c, long long *seq);
    /** Stores (or with blob NULL clears) the embedding of a capsule; not a change-feed event.
     * With `expected_hash` set, stores only while the capsule's content_hash still equals it
     * (FG_ECONFLICT otherwise: the content changed after the text was embedded). */
    enum fg_err (*set_embedding)(struct store_conn *c, const char *id, const void *blob, size_t len,
                                 const char *expected_hash);
    /** Number of live capsules. */
    enum fg_err (*count_live)(struct store_conn *c, long long *n);

    /* ---- issue 11 (docs/security.md) ---- */
    /** For a delete by a reader with `max_trust` (include_quarantined_owners as in
     * store_capsule_filter): *hidden = live descendants of `id` (any depth, through the edges
     * as soft_delete walks them) the reader may not see; *visible_children = live direct
     * children the reader may see. */
    enum fg_err (*subtree_visibility)(struct store_conn *c, const char *id, int max_trust,
                                      int include_quarantined_owners, long long *hidden,
                                      long long *visible_children);

    /* ---- issue 17 (docs/search.md): the final page of a search in one store call ---- */
    /** Fetches the capsules `ids[0..n)` (deleted or not) in one round trip: out[i] is filled and
     * found[i] = 1 for each id present, found[i] = 0 (out[i] untouched) for an absent one. `out`
     * must be zeroed; the caller clears each found entry with store_capsule_clear. n <=
     * STORE_GET_MANY_MAX. */
    enum fg_err (*get_many)(struct store_conn *c, const char *const *ids, size_t n, unsigned flags,
                            struct store_capsule *out, unsigned char *found);
};

/** Most ids one get_many call takes. */
#define STORE_GET_MANY_MAX 128

#endif

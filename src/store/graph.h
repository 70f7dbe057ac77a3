/*
 * Store area: the knowledge graph (SPEC §4.4) — typed edges between capsules (capsule_links,
 * migration 070) read together with the DERIVED_FROM edges of capsule_edges (migration 020), and
 * the revision lookups of time travel.
 *
 * Visibility is applied in SQL: a row is reported only when the capsule at its far end is live and
 * has trust_level <= max_trust. Rules (who may link, cycles, limits) live in src/core/graph.c.
 *
 * Ownership: rows passed to callbacks are borrowed for the duration of the callback.
 */
#ifndef STORE_GRAPH_H
#define STORE_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/err.h"

struct store_conn;

/* Edge types as bits (type filters). DERIVED_FROM is the lineage edge of capsule_edges. */
enum store_edge_type {
    STORE_EDGE_SUPPORTS = 1u << 0,
    STORE_EDGE_CONTRADICTS = 1u << 1,
    STORE_EDGE_SUPERSEDES = 1u << 2,
    STORE_EDGE_RELATED_TO = 1u << 3,
    STORE_EDGE_REFERENCES = 1u << 4,
    STORE_EDGE_DERIVED_FROM = 1u << 5,
};
#define STORE_EDGE_ALL   0x3fu
#define STORE_EDGE_TYPES 6

/* Directions relative to the capsules asked about. */
#define STORE_DIR_OUT  1u /* edges whose source is the capsule */
#define STORE_DIR_IN   2u /* edges whose target is the capsule */
#define STORE_DIR_BOTH 3u

/** One edge. `id` is "" for DERIVED_FROM edges (they are identified by their ends). For
 * DERIVED_FROM the source is the child, the target the parent, `note` the derivation reason and
 * creator the child's owner. */
struct store_edge {
    char id[37];
    char source_id[37];
    char target_id[37];
    char type[16]; /* "supports" … "references", "derived_from" */
    const char *note;
    double weight;
    char creator_id[37];
    int64_t created_at;
};

/** A capsule as the graph reports it (no content). */
struct store_node {
    char id[37];
    char type[16];
    char version[32];
    int trust_level;
    char owner_id[37];
    int64_t created_at, updated_at;
};

/** An edge found while expanding `from` (one of the asked ids), leading to `node` (the far end,
 * visible). */
struct store_step {
    const char *from;
    const struct store_edge *edge;
    const struct store_node *node;
};

/** One revision row (time travel). */
struct store_version {
    const char *version;
    const char *content;
    size_t content_len;
    const char *metadata;
    const char *content_hash;
    int64_t created_at;    /* when this version was written */
    const char *author;    /* who wrote it */
    int64_t superseded_at; /* 0 for the current version */
};

typedef int (*store_edge_cb)(const struct store_edge *e, void *ctx);
typedef int (*store_step_cb)(const struct store_step *s, void *ctx);
typedef int (*store_node_cb)(const struct store_node *n, void *ctx);
typedef int (*store_pair_cb)(const char *a, const char *b, void *ctx);
typedef int (*store_version_cb)(const struct store_version *v, void *ctx);

/** An expansion (one BFS level, or the edge list of one capsule). */
struct store_expand {
    const char *const *ids; /* capsules to expand (already known visible) */
    size_t n;
    unsigned dir;     /* STORE_DIR_* */
    unsigned types;   /* STORE_EDGE_* mask */
    int max_trust;    /* far ends with trust_level > max_trust (or deleted) are left out */
    long long limit;  /* rows at most */
    long long offset; /* with `ordered` only */
    int ordered;      /* newest first (created_at, id descending); else any order (fast) */
    long long *total; /* with ordered: count of all matching rows (may be NULL) */
};

struct store_graph_ops {
    /** Inserts a typed edge (not derived_from). FG_ECONFLICT on a duplicate. */
    enum fg_err (*insert)(struct store_conn *c, const struct store_edge *e);
    /** Fetches a typed edge by id (note copied into note_buf, "" when none). */
    enum fg_err (*get)(struct store_conn *c, const char *id, struct store_edge *out, char *note_buf,
                       size_t note_len);
    /** The id of the edge (source, target, type), FG_ENOTFOUND when none. */
    enum fg_err (*find)(struct store_conn *c, const char *source, const char *target,
                        const char *type, char id_out[37]);
    /** Deletes a typed edge; FG_ENOTFOUND when absent. */
    enum fg_err (*remove)(struct store_conn *c, const char *id);
    /** Number of typed edges leaving `source`. */
    enum fg_err (*count_out)(struct store_conn *c, const char *source, long long *n);
    /** Edges of the capsules in `q` (visible far ends only). */
    enum fg_err (*expand)(struct store_conn *c, const struct store_expand *q, store_step_cb cb,
                          void *ctx);
    /** Deletes every typed edge touching `capsule_id`; cb gets each deleted edge first. */
    enum fg_err (*remove_touching)(struct store_conn *c, const char *capsule_id, store_edge_cb cb,
                                   void *ctx);
    /** `contradicts` edges whose both ends are live and readable, newest first. */
    enum fg_err (*contradictions)(struct store_conn *c, int max_trust, long long offset,
                                  long long limit, store_edge_cb cb, void *ctx, long long *total);
    /** For each id of `ids` superseded by a live readable capsule: cb(id, successor id), the
     * newest successor first (cb may stop after the first of an id by returning 0 anyway). */
    enum fg_err (*successors)(struct store_conn *c, const char *const *ids, size_t n, int max_trust,
                              store_pair_cb cb, void *ctx);
    /** Node summaries of the visible capsules among `ids`. */
    enum fg_err (*nodes)(struct store_conn *c, const char *const *ids, size_t n, int max_trust,
                         store_node_cb cb, void *ctx);
    /** The superseded version `version` of capsule `id` (capsule_revisions); FG_ENOTFOUND. */
    enum fg_err (*revision)(struct store_conn *c, const char *id, const char *version,
                            store_version_cb cb, void *ctx);
    /** The superseded version of `id` that was current at `at` (created_at <= at <
     * superseded_at); FG_ENOTFOUND when none. */
    enum fg_err (*revision_at)(struct store_conn *c, const char *id, int64_t at,
                               store_version_cb cb, void *ctx);
};

/** The name of a single type bit; NULL when not exactly one known bit. */
static inline const char *store_edge_type_name(unsigned bit)
{
    static const char *const names[STORE_EDGE_TYPES] = {
        "supports", "contradicts", "supersedes", "related_to", "references", "derived_from"};
    for (unsigned i = 0; i < STORE_EDGE_TYPES; i++)
        if (bit == 1u << i)
            return names[i];
    return NULL;
}

/** "supports" → STORE_EDGE_SUPPORTS …; 0 when unknown. */
static inline unsigned store_edge_type_bit(const char *name)
{
    for (unsigned i = 0; name && i < STORE_EDGE_TYPES; i++)
        if (strcmp(store_edge_type_name(1u << i), name) == 0)
            return 1u << i;
    return 0;
}

#endif

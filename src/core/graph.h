/*
 * Knowledge graph (SPEC §4.4): typed edges between capsules, traversal, contradictions and the
 * `superseded_by` mark. Store in store/graph.h; HTTP in api/graph.c; docs/knowledge-graph.md.
 *
 * Rules:
 *  - Who may link: anyone who may update the source capsule (capsule:update is checked by the
 *    API; here: source visible, owner or admin) and read the target (visible). Invisible capsules
 *    answer FG_ENOTFOUND (why->what "capsule" or "target capsule").
 *  - Types: supports, contradicts, supersedes, related_to, references. DERIVED_FROM edges
 *    (lineage) are read with the others as "derived_from" but only created with a capsule.
 *  - No duplicates: (source, target, type) once; for the symmetric types contradicts and
 *    related_to also (target, source, type). FG_ECONFLICT rule "duplicate_edge".
 *  - supersedes stays acyclic: FG_ECONFLICT rule "supersedes_cycle".
 *  - Limits: note ≤ 1000 characters, weight 0..1 (default 1), ≤ 1000 typed edges out of one
 *    capsule (FG_ECONFLICT rule "edge_limit").
 *  - Visibility: an edge is shown and counted only when both ends are live and readable.
 *  - Every change: outbox event edge.created | edge.deleted and an audit entry edge.create |
 *    edge.delete in the same transaction. Deleting a capsule deletes its typed edges (events and
 *    audit entries with details.cascade_root).
 */
#ifndef CORE_GRAPH_H
#define CORE_GRAPH_H

#include <stddef.h>

#include <jansson.h>

#include "core/capsule.h"
#include "store/graph.h"
#include "util/uuid.h"

struct fg_app;

#define FG_GRAPH_NOTE_MAX           1000 /* characters */
#define FG_GRAPH_EDGES_OUT_MAX      1000 /* typed edges leaving one capsule */
#define FG_GRAPH_DEPTH_MAX          5    /* neighbors depth */
#define FG_GRAPH_NODES_DEFAULT      100  /* neighbors: nodes returned by default */
#define FG_GRAPH_NODES_MAX          1000 /* neighbors: nodes returned at most */
#define FG_GRAPH_PATH_DEPTH_DEFAULT 6
#define FG_GRAPH_PATH_DEPTH_MAX     10
#define FG_GRAPH_PATH_VISIT_MAX     50000 /* capsules a path search may visit */
#define FG_GRAPH_SUPERSEDES_WALK    100000
/* Search: the score of a capsule superseded by a live readable capsule is multiplied by this. */
#define FG_GRAPH_SUPERSEDED_FACTOR 0.5

/** A new edge (borrowed strings). */
struct fg_edge_input {
    const char *target_id;
    const char *type;
    const char *note; /* NULL: none */
    double weight;    /* 0..1 */
};

/** Parses "supports,contradicts" into a type mask (empty/NULL → all). -1 on an unknown name
 * (copied into bad). */
int fg_graph_parse_types(const char *csv, unsigned *mask, char *bad, size_t badlen);

/** Creates an edge from `source_id`; *out = the edge JSON (caller decrefs). why->edge_id is set
 * for "duplicate_edge". */
enum fg_err fg_graph_link(struct fg_app *app, const struct fg_ctx *a, const char *source_id,
                          const struct fg_edge_input *in, json_t **out, struct fg_capsule_why *why,
                          char dup_id[37]);

/** Deletes edge `edge_id` leaving `source_id` (FG_ENOTFOUND when it does not, or when either end
 * is not visible). */
enum fg_err fg_graph_unlink(struct fg_app *app, const struct fg_ctx *a, const char *source_id,
                            const char *edge_id, struct fg_capsule_why *why);

/** Edges of a visible capsule (both ends visible), newest first, appended to `items`. */
enum fg_err fg_graph_edges(struct fg_app *app, const struct fg_ctx *a, const char *id, unsigned dir,
                           unsigned types, long long page, long long per_page, json_t *items,
                           long long *total);

/** Breadth-first neighbourhood of a visible capsule: *out = {id, depth, nodes[], edges[],
 * truncated}. At most max_nodes nodes (start included) and 4 × max_nodes edges. */
enum fg_err fg_graph_neighbors(struct fg_app *app, const struct fg_ctx *a, const char *id,
                               int depth, unsigned types, unsigned dir, int max_nodes,
                               json_t **out);

/** Shortest undirected path (over the `types` edges, through readable capsules only) between
 * two visible capsules: *out = {from, to, found, length, nodes[], edges[], truncated}. */
enum fg_err fg_graph_path(struct fg_app *app, const struct fg_ctx *a, const char *from,
                          const char *to, int max_depth, unsigned types, json_t **out);

/** Live readable contradicts pairs, newest first: items {edge…, source, target}. */
enum fg_err fg_graph_contradictions(struct fg_app *app, const struct fg_ctx *a, long long page,
                                    long long per_page, json_t *items, long long *total);

/** Sets "superseded_by" (id of the newest live readable capsule superseding it, or null) on a
 * capsule JSON object or on each object of an array (objects need "id"). Best effort: on a store
 * error the field stays null. */
void fg_graph_annotate(struct fg_app *app, const struct fg_ctx *a, json_t *caps);

/** Length of a capsule id with its NUL (UUID text). */
#define FG_GRAPH_ID_LEN (FG_UUID_STRLEN + 1)

/** Writes to succ[i] the id of the live capsule readable with max_trust that supersedes ids[i]
 * (the one fg_graph_annotate would report), or "" when none does; on connection `c`. */
enum fg_err fg_graph_superseded(struct fg_app *app, struct store_conn *c, const char *const *ids,
                                size_t n, int max_trust, char (*succ)[FG_GRAPH_ID_LEN]);

/** Inside the transaction deleting capsule `id` (cascade root `root`): deletes its typed edges
 * with an edge.deleted event and an edge.delete audit entry each. */
enum fg_err fg_graph_on_capsule_deleted(struct fg_app *app, struct store_conn *c,
                                        const struct fg_ctx *a, const char *id, const char *root);

/** Reported by fg_graph_hops: a capsule `d` hops from the start, with the strength of the best
 * shortest path to it (product of the type weights along it, 0..1). */
typedef int (*fg_hop_cb)(const char *id, int d, double strength, void *ctx);

/**
 * The hop walk of the hybrid search boost (SPEC §4.3 extended to every edge type): breadth-first
 * in both directions from `id` over the edge types whose weight (config SEARCH_HOP_WEIGHT_*) is
 * above 0, through capsules readable with max_trust, up to max_hops; at most max_nodes capsules
 * (*truncated = 1 then). The start is reported with d = 0 and strength 1.
 */
enum fg_err fg_graph_hops(struct fg_app *app, struct store_conn *c, const char *id, int max_hops,
                          int max_trust, size_t max_nodes, fg_hop_cb cb, void *ctx, int *truncated);

/** JSON of an edge. */
json_t *fg_edge_json(const struct store_edge *e);
/** JSON of a node summary (no content). */
json_t *fg_node_json(const struct store_node *n);

#endif

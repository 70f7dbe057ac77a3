/*
 * Knowledge graph rules and traversal (graph.h). Changes follow the capsule pattern: one
 * transaction holds the checks (read inside it), the edge row, the outbox event and the audit
 * entry. Traversal is breadth-first in C over the store's level expansion (one query per level,
 * visibility in SQL), with a hash set of visited capsules so cycles end the walk; every walk is
 * bounded in nodes, edges and rows read.
 */
#include "core/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/app.h"
#include "core/audit.h"
#include "core/authz.h"
#include "core/events.h"
#include "store/store.h"
#include "util/config.h"
#include "util/mem.h"
#include "util/time.h"
#include "util/uuid.h"

/* ---- a string-keyed map of visited capsules ------------------------------------------------ */

struct gent {
    char id[37];
    int depth;
    int side; /* path: 1 from the start, 2 from the goal */
    char pred[37];
    struct store_edge edge; /* the edge from pred (note: heap copy in note_own) */
    char *note_own;
    struct store_node node;
    double strength; /* hop walk */
};

struct gmap {
    struct gent *v;
    size_t cap, n; /* cap: power of two; empty slot: id[0] == 0 */
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static struct gent *gmap_find(const struct gmap *m, const char *id)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = fnv(id) & mask; m->v[i].id[0]; i = (i + 1) & mask)
        if (strcmp(m->v[i].id, id) == 0)
            return &m->v[i];
    return NULL;
}

static struct gent *gmap_put_raw(struct gmap *m, const char *id)
{
    size_t mask = m->cap - 1, i = fnv(id) & mask;
    while (m->v[i].id[0])
        i = (i + 1) & mask;
    snprintf(m->v[i].id, sizeof m->v[i].id, "%s", id);
    m->n++;
    return &m->v[i];
}

/* Adds `id` (absent); the returned entry is zeroed except id. Pointers into the map are
 * invalidated by the next add. */
static struct gent *gmap_add(struct gmap *m, const char *id)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct gmap g = {.cap = m->cap ? m->cap * 2 : 64};
        g.v = fg_xcalloc(g.cap, sizeof *g.v);
        for (size_t i = 0; i < m->cap; i++)
            if (m->v[i].id[0])
                *gmap_put_raw(&g, m->v[i].id) = m->v[i];
        free(m->v);
        *m = g;
    }
    return gmap_put_raw(m, id);
}

static void gmap_free(struct gmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->v[i].note_own);
    free(m->v);
    memset(m, 0, sizeof *m);
}

/* A growable list of ids (a BFS frontier). */
struct idv {
    char (*v)[37];
    size_t n, cap;
};

static void idv_add(struct idv *l, const char *id)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->v = fg_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    snprintf(l->v[l->n++], 37, "%s", id);
}

/* Pointer array view of an idv for the store. */
static const char **idv_ptrs(const struct idv *l)
{
    const char **p = fg_xcalloc(l->n ? l->n : 1, sizeof *p);
    for (size_t i = 0; i < l->n; i++)
        p[i] = l->v[i];
    return p;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static json_t *iso(int64_t ms)
{
    char b[40];
    fg_time_iso(ms, b, sizeof b);
    return json_string(b);
}

json_t *fg_edge_json(const struct store_edge *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", e->id[0] ? json_string(e->id) : json_null());
    json_object_set_new(o, "source_id", json_string(e->source_id));
    json_object_set_new(o, "target_id", json_string(e->target_id));
    json_object_set_new(o, "type", json_string(e->type));
    json_object_set_new(o, "note", e->note ? json_string(e->note) : json_null());
    json_object_set_new(o, "weight", json_real(e->weight));
    json_object_set_new(o, "creator_id",
                        e->creator_id[0] ? json_string(e->creator_id) : json_null());
    json_object_set_new(o, "created_at", iso(e->created_at));
    return o;
}

json_t *fg_node_json(const struct store_node *n)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(n->id));
    json_object_set_new(o, "type", json_string(n->type));
    json_object_set_new(o, "version", json_string(n->version));
    json_object_set_new(o, "trust_level", json_string(fg_trust_name(n->trust_level)));
    json_object_set_new(o, "owner_id", json_string(n->owner_id));
    json_object_set_new(o, "created_at", iso(n->created_at));
    json_object_set_new(o, "updated_at", iso(n->updated_at));
    return o;
}

int fg_graph_parse_types(const char *csv, unsigned *mask, char *bad, size_t badlen)
{
    *mask = 0;
    if (!csv || !*csv) {
        *mask = STORE_EDGE_ALL;
        return 0;
    }
    const char *p = csv;
    while (*p) {
        const char *q = strchr(p, ',');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        char name[32];
        unsigned bit = 0;
        if (n > 0 && n < sizeof name) {
            memcpy(name, p, n);
            name[n] = '\0';
            bit = store_edge_type_bit(name);
        }
        if (!bit) {
            snprintf(bad, badlen, "%.*s", (int)(n < 40 ? n : 40), p);
            return -1;
        }
        *mask |= bit;
        p = q ? q + 1 : p + n;
        if (q && !*p) { /* trailing comma */
            snprintf(bad, badlen, "%s", "");
            return -1;
        }
    }
    return 0;
}

/* ---- transactions -------------------------------------------------------------------------- */

static enum fg_err need_store(struct fg_app *app)
{
    return (app && app->store && app->store->capsules && app->store->graph) ? FG_OK : FG_EUNAVAIL;
}

static const char *actor_id(const struct fg_ctx *a)
{
    return a->user_id ? a->user_id : FG_SYSTEM_ACTOR_ID;
}

static enum fg_err audit_edge(struct fg_app *app, struct store_conn *c, const struct fg_ctx *a,
                              const char *action, const char *edge_id, const char *outcome,
                              json_t *details_new)
{
    struct fg_audit_entry en = {
        .actor_id = a->user_id,
        .action = action,
        .resource_type = "edge",
        .resource_id = edge_id,
        .client_ip = a->client_ip,
        .correlation_id = a->correlation_id,
        .outcome = outcome,
        .details = details_new,
    };
    enum fg_err r = fg_audit_record(app, c, &en);
    json_decref(details_new);
    return r;
}

static enum fg_err emit_edge(struct fg_app *app, struct store_conn *c, const char *type,
                             const struct store_edge *ed, json_t *extra_new)
{
    json_t *p = json_pack("{sssssssssfsssI}", "id", ed->id, "source_id", ed->source_id, "target_id",
                          ed->target_id, "type", ed->type, "weight", ed->weight, "creator_id",
                          ed->creator_id, "created_at", (json_int_t)ed->created_at);
    if (extra_new)
        json_object_update(p, extra_new);
    json_decref(extra_new);
    enum fg_err r = fg_event_emit(app, c, type, ed->id, p);
    json_decref(p);
    return r;
}

/* `id` live and readable by `a`, read on `c`. */
static enum fg_err load_visible(struct fg_app *app, struct store_conn *c, const struct fg_ctx *a,
                                const char *id, struct store_capsule *cap)
{
    enum fg_err e = app->store->capsules->get(c, id, 0, cap);
    if (e == FG_OK && (cap->is_deleted || cap->trust_level > fg_ctx_read_trust(a))) {
        store_capsule_clear(cap);
        e = FG_ENOTFOUND;
    }
    return e;
}

static enum fg_err may_update(const struct fg_ctx *a, const struct store_capsule *cap,
                              struct fg_capsule_why *why)
{
    if (a->admin || (a->user_id && strcmp(a->user_id, cap->owner_id) == 0))
        return FG_OK;
    why->rule = "owner_or_admin";
    snprintf(why->message, sizeof why->message,
             "only the owner of the source capsule or an admin may change its edges");
    return FG_EFORBIDDEN;
}

static enum fg_err conflict(struct fg_capsule_why *why, const char *rule, const char *msg)
{
    why->rule = rule;
    snprintf(why->message, sizeof why->message, "%s", msg);
    return FG_ECONFLICT;
}

/* ---- supersedes cycle check ----------------------------------------------------------------- */

struct reach_ctx {
    struct gmap seen;
    struct idv next;
    const char *goal;
    int found;
};

static int reach_step(const struct store_step *s, void *vctx)
{
    struct reach_ctx *x = vctx;
    const char *far = s->node->id;
    if (strcmp(far, x->goal) == 0) {
        x->found = 1;
        return 1;
    }
    if (gmap_find(&x->seen, far))
        return 0;
    if (x->seen.n >= FG_GRAPH_SUPERSEDES_WALK) {
        x->found = -1;
        return 1;
    }
    gmap_add(&x->seen, far);
    idv_add(&x->next, far);
    return 0;
}

/* *found = 1 when `goal` is reachable from `from` along supersedes edges (source → target) over
 * every live capsule whatever its trust (the invariant is global); -1 when the walk reached its
 * bound. Breadth-first with a visited set: ends on any graph. */
static enum fg_err supersedes_reaches(struct fg_app *app, struct store_conn *c, const char *from,
                                      const char *goal, int *found)
{
    struct reach_ctx x = {.goal = goal};
    gmap_add(&x.seen, from);
    struct idv frontier = {0};
    idv_add(&frontier, from);
    enum fg_err e = FG_OK;
    while (e == FG_OK && frontier.n && !x.found) {
        const char **ptrs = idv_ptrs(&frontier);
        struct store_expand q = {
            .ids = ptrs,
            .n = frontier.n,
            .dir = STORE_DIR_OUT,
            .types = STORE_EDGE_SUPERSEDES,
            .max_trust = FG_TRUST_CORE,
            .limit = FG_GRAPH_SUPERSEDES_WALK + 1,
        };
        e = app->store->graph->expand(c, &q, reach_step, &x);
        free(ptrs);
        free(frontier.v);
        frontier = x.next;
        memset(&x.next, 0, sizeof x.next);
    }
    free(frontier.v);
    free(x.next.v);
    gmap_free(&x.seen);
    *found = x.found;
    return e;
}

/* ---- link / unlink ------------------------------------------------------------------------- */

enum fg_err fg_graph_link(struct fg_app *app, const struct fg_ctx *a, const char *source_id,
                          const struct fg_edge_input *in, json_t **out, struct fg_capsule_why *why,
                          char dup_id[37])
{
    enum fg_err e;
    *out = NULL;
    dup_id[0] = '\0';
    if ((e = need_store(app)) != FG_OK)
        return e;
    unsigned bit = store_edge_type_bit(in->type);
    if (!bit || bit == STORE_EDGE_DERIVED_FROM) {
        why->field = "type";
        snprintf(why->message, sizeof why->message,
                 "type must be one of: supports, contradicts, supersedes, related_to, "
                 "references (derived_from is set when a capsule is created from a parent)");
        return FG_EINVAL;
    }
    if (strcmp(source_id, in->target_id) == 0) {
        why->field = "target_id";
        snprintf(why->message, sizeof why->message, "a capsule cannot be linked to itself");
        return FG_EINVAL;
    }
    if (!(in->weight >= 0.0 && in->weight <= 1.0)) {
        why->field = "weight";
        snprintf(why->message, sizeof why->message, "weight must be between 0 and 1");
        return FG_EINVAL;
    }
    const struct store_graph_ops *g = app->store->graph;
    struct store_capsule src, dst;
    memset(&src, 0, sizeof src);
    memset(&dst, 0, sizeof dst);
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    if ((e = load_visible(app, c, a, source_id, &src)) != FG_OK) {
        why->what = "capsule";
        goto out;
    }
    if ((e = may_update(a, &src, why)) != FG_OK)
        goto out;
    if ((e = load_visible(app, c, a, in->target_id, &dst)) != FG_OK) {
        why->what = "target capsule";
        goto out;
    }
    e = g->find(c, source_id, in->target_id, in->type, dup_id);
    if (e == FG_ENOTFOUND && (bit == STORE_EDGE_CONTRADICTS || bit == STORE_EDGE_RELATED_TO))
        e = g->find(c, in->target_id, source_id, in->type, dup_id);
    if (e == FG_OK) {
        e = conflict(why, "duplicate_edge", "an edge of this type already links these capsules");
        goto out;
    }
    if (e != FG_ENOTFOUND)
        goto out;
    dup_id[0] = '\0';
    long long nout = 0;
    if ((e = g->count_out(c, source_id, &nout)) != FG_OK)
        goto out;
    if (nout >= FG_GRAPH_EDGES_OUT_MAX) {
        e = conflict(why, "edge_limit", "the source capsule already has 1000 outgoing edges");
        goto out;
    }
    if (bit == STORE_EDGE_SUPERSEDES) {
        int found = 0;
        if ((e = supersedes_reaches(app, c, in->target_id, source_id, &found)) != FG_OK)
            goto out;
        if (found) {
            e = conflict(why, "supersedes_cycle",
                         found > 0 ? "the target already supersedes the source (directly or "
                                     "through a chain): supersedes edges may not form a cycle"
                                   : "the supersedes chain of the target is too long to check");
            goto out;
        }
    }
    struct store_edge ed = {.note = in->note, .weight = in->weight, .created_at = fg_now_ms()};
    fg_uuid7(ed.id);
    snprintf(ed.source_id, sizeof ed.source_id, "%s", source_id);
    snprintf(ed.target_id, sizeof ed.target_id, "%s", in->target_id);
    snprintf(ed.type, sizeof ed.type, "%s", in->type);
    snprintf(ed.creator_id, sizeof ed.creator_id, "%s", actor_id(a));
    if ((e = g->insert(c, &ed)) != FG_OK) {
        if (e == FG_ECONFLICT) /* lost a race with an identical insert */
            conflict(why, "duplicate_edge", "an edge of this type already links these capsules");
        goto out;
    }
    if ((e = emit_edge(app, c, "edge.created", &ed, NULL)) != FG_OK)
        goto out;
    e = audit_edge(app, c, a, "edge.create", ed.id, "success",
                   json_pack("{ssssss}", "source_id", ed.source_id, "target_id", ed.target_id,
                             "type", ed.type));
    if (e == FG_OK)
        *out = fg_edge_json(&ed);
out:
    store_capsule_clear(&src);
    store_capsule_clear(&dst);
    e = store_tx_close(app->store, c, e);
    if (e != FG_OK) {
        json_decref(*out);
        *out = NULL;
        if (e == FG_EFORBIDDEN)
            audit_edge(app, NULL, a, "edge.create", NULL, "denied",
                       json_pack("{ssssss}", "rule", why->rule ? why->rule : "forbidden",
                                 "source_id", source_id, "target_id", in->target_id));
    }
    return e;
}

enum fg_err fg_graph_unlink(struct fg_app *app, const struct fg_ctx *a, const char *source_id,
                            const char *edge_id, struct fg_capsule_why *why)
{
    enum fg_err e;
    if ((e = need_store(app)) != FG_OK)
        return e;
    const struct store_graph_ops *g = app->store->graph;
    struct store_capsule src, dst;
    memset(&src, 0, sizeof src);
    memset(&dst, 0, sizeof dst);
    struct store_edge ed;
    memset(&ed, 0, sizeof ed);
    char note[4 * FG_GRAPH_NOTE_MAX + 1];
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    why->what = "capsule";
    if ((e = load_visible(app, c, a, source_id, &src)) != FG_OK)
        goto out;
    why->what = "edge";
    if ((e = g->get(c, edge_id, &ed, note, sizeof note)) != FG_OK)
        goto out;
    if (strcmp(ed.source_id, source_id) != 0 ||
        (e = load_visible(app, c, a, ed.target_id, &dst)) != FG_OK) {
        e = FG_ENOTFOUND;
        goto out;
    }
    if ((e = may_update(a, &src, why)) != FG_OK)
        goto out;
    if ((e = g->remove(c, edge_id)) != FG_OK)
        goto out;
    if ((e = emit_edge(app, c, "edge.deleted", &ed,
                       json_pack("{sssb}", "actor_id", actor_id(a), "cascade", 0))) != FG_OK)
        goto out;
    e = audit_edge(app, c, a, "edge.delete", ed.id, "success",
                   json_pack("{ssssss}", "source_id", ed.source_id, "target_id", ed.target_id,
                             "type", ed.type));
out:
    store_capsule_clear(&src);
    store_capsule_clear(&dst);
    e = store_tx_close(app->store, c, e);
    if (e == FG_EFORBIDDEN)
        audit_edge(app, NULL, a, "edge.delete", edge_id, "denied",
                   json_pack("{ss}", "rule", why->rule ? why->rule : "forbidden"));
    return e;
}

struct cascade_ctx {
    struct fg_app *app;
    struct store_conn *c;
    const struct fg_ctx *a;
    const char *capsule_id, *root;
    enum fg_err err;
};

static int on_cascade(const struct store_edge *ed, void *vctx)
{
    struct cascade_ctx *x = vctx;
    x->err = emit_edge(x->app, x->c, "edge.deleted", ed,
                       json_pack("{sssbssss}", "actor_id", actor_id(x->a), "cascade", 1,
                                 "cascade_root", x->root, "capsule_id", x->capsule_id));
    if (x->err == FG_OK)
        x->err = audit_edge(x->app, x->c, x->a, "edge.delete", ed->id, "success",
                            json_pack("{ssssssssss}", "source_id", ed->source_id, "target_id",
                                      ed->target_id, "type", ed->type, "cascade_root", x->root,
                                      "capsule_id", x->capsule_id));
    return x->err != FG_OK;
}

enum fg_err fg_graph_on_capsule_deleted(struct fg_app *app, struct store_conn *c,
                                        const struct fg_ctx *a, const char *id, const char *root)
{
    if (!app || !app->store || !app->store->graph)
        return FG_OK;
    struct cascade_ctx x = {
        .app = app, .c = c, .a = a, .capsule_id = id, .root = root ? root : id, .err = FG_OK};
    enum fg_err e = app->store->graph->remove_touching(c, id, on_cascade, &x);
    return e != FG_OK ? e : x.err;
}

/* ---- reads --------------------------------------------------------------------------------- */

/* Opens a read connection and checks `id` is visible. */
static struct store_conn *read_open(struct fg_app *app, const struct fg_ctx *a, const char *id,
                                    enum fg_err *e)
{
    if ((*e = need_store(app)) != FG_OK)
        return NULL;
    struct store_conn *c = store_acquire(app->store, e);
    if (!c)
        return NULL;
    struct store_capsule cap;
    memset(&cap, 0, sizeof cap);
    if (id && (*e = load_visible(app, c, a, id, &cap)) != FG_OK) {
        store_release(app->store, c);
        return NULL;
    }
    store_capsule_clear(&cap);
    return c;
}

static int append_step_edge(const struct store_step *s, void *ctx)
{
    json_array_append_new(ctx, fg_edge_json(s->edge));
    return 0;
}

enum fg_err fg_graph_edges(struct fg_app *app, const struct fg_ctx *a, const char *id, unsigned dir,
                           unsigned types, long long page, long long per_page, json_t *items,
                           long long *total)
{
    enum fg_err e;
    struct store_conn *c = read_open(app, a, id, &e);
    if (!c)
        return e;
    const char *ids[] = {id};
    struct store_expand q = {
        .ids = ids,
        .n = 1,
        .dir = dir,
        .types = types,
        .max_trust = fg_ctx_read_trust(a),
        .limit = per_page,
        .offset = (page - 1) * per_page,
        .ordered = 1,
        .total = total,
    };
    e = app->store->graph->expand(c, &q, append_step_edge, items);
    store_release(app->store, c);
    return e;
}

/* An edge key for de-duplication: the id, or "source>target" for derived_from. */
static void edge_key(const struct store_edge *ed, char *out, size_t n)
{
    if (ed->id[0])
        snprintf(out, n, "%s", ed->id);
    else
        snprintf(out, n, "%s>%s", ed->source_id, ed->target_id);
}

struct nb_ctx {
    struct gmap nodes; /* visited capsules, depth */
    struct gmap edges; /* edge keys already reported */
    struct idv next;   /* the next frontier */
    json_t *jnodes, *jedges;
    int depth; /* of the level being added */
    size_t max_nodes, max_edges;
    long long rows;
    int truncated;
};

static int nb_step(const struct store_step *s, void *vctx)
{
    struct nb_ctx *x = vctx;
    x->rows++;
    const char *far = s->node->id;
    if (!gmap_find(&x->nodes, far)) {
        if (x->nodes.n >= x->max_nodes) {
            x->truncated = 1; /* the result is full: stop reading */
            return 1;
        }
        struct gent *g = gmap_add(&x->nodes, far);
        g->depth = x->depth;
        idv_add(&x->next, far);
        json_t *o = fg_node_json(s->node);
        json_object_set_new(o, "depth", json_integer(x->depth));
        json_array_append_new(x->jnodes, o);
    }
    char key[80];
    edge_key(s->edge, key, sizeof key);
    if (gmap_find(&x->edges, key))
        return 0;
    if (x->edges.n >= x->max_edges) {
        x->truncated = 1;
        return 1;
    }
    gmap_add(&x->edges, key);
    json_array_append_new(x->jedges, fg_edge_json(s->edge));
    return 0;
}

static int nb_start(const struct store_node *n, void *ctx)
{
    json_t *o = fg_node_json(n);
    json_object_set_new(o, "depth", json_integer(0));
    json_array_append_new(ctx, o);
    return 1;
}

enum fg_err fg_graph_neighbors(struct fg_app *app, const struct fg_ctx *a, const char *id,
                               int depth, unsigned types, unsigned dir, int max_nodes, json_t **out)
{
    enum fg_err e;
    *out = NULL;
    struct store_conn *c = read_open(app, a, id, &e);
    if (!c)
        return e;
    int trust = fg_ctx_read_trust(a);
    struct nb_ctx x = {
        .jnodes = json_array(),
        .jedges = json_array(),
        .max_nodes = (size_t)max_nodes,
        .max_edges = (size_t)max_nodes * 4,
    };
    const char *start[] = {id};
    e = app->store->graph->nodes(c, start, 1, trust, nb_start, x.jnodes);
    gmap_add(&x.nodes, id)->depth = 0;
    struct idv frontier = {0};
    idv_add(&frontier, id);
    for (int d = 1; e == FG_OK && d <= depth && frontier.n && !x.truncated; d++) {
        x.depth = d;
        const char **ptrs = idv_ptrs(&frontier);
        /* Rows read per level: enough for every node and edge still allowed, plus one to learn
         * that there are more. */
        struct store_expand q = {
            .ids = ptrs,
            .n = frontier.n,
            .dir = dir,
            .types = types,
            .max_trust = trust,
            .limit = (long long)(x.max_edges - x.edges.n) * 2 + 1,
        };
        x.rows = 0;
        e = app->store->graph->expand(c, &q, nb_step, &x);
        if (x.rows >= q.limit)
            x.truncated = 1;
        free(ptrs);
        free(frontier.v);
        frontier = x.next;
        memset(&x.next, 0, sizeof x.next);
    }
    free(frontier.v);
    free(x.next.v);
    store_release(app->store, c);
    if (e == FG_OK) {
        *out =
            json_pack("{sssisoso}", "id", id, "depth", depth, "nodes", x.jnodes, "edges", x.jedges);
        json_object_set_new(*out, "truncated", json_boolean(x.truncated));
    } else {
        json_decref(x.jnodes);
        json_decref(x.jedges);
    }
    gmap_free(&x.nodes);
    gmap_free(&x.edges);
    return e;
}

/* ---- shortest path: bidirectional breadth-first search -------------------------------------- */

struct path_ctx {
    struct gmap seen; /* side 1 (from the start) and side 2 (from the goal) */
    struct idv next;
    int side, depth;
    size_t max_visit;
    int truncated;
    /* best meeting so far: the edge between a (side 1) and b (side 2) */
    int best;
    char meet_a[37], meet_b[37];
    struct store_edge meet_edge;
    char *meet_note;
};

static void set_note(char **dst, const char *note)
{
    free(*dst);
    *dst = note ? fg_xstrdup(note) : NULL;
}

static int path_step(const struct store_step *s, void *vctx)
{
    struct path_ctx *x = vctx;
    const char *far = s->node->id;
    struct gent *g = gmap_find(&x->seen, far);
    if (g && g->side == x->side)
        return 0;
    if (g) {
        /* Reached the other side. The first meeting is a shortest path: a meeting through a
         * node nearer the other start would have been seen when that side expanded it. */
        struct gent *from = gmap_find(&x->seen, s->from);
        x->best = (from ? from->depth : 0) + 1 + g->depth;
        snprintf(x->meet_a, sizeof x->meet_a, "%s", x->side == 1 ? s->from : far);
        snprintf(x->meet_b, sizeof x->meet_b, "%s", x->side == 1 ? far : s->from);
        x->meet_edge = *s->edge;
        set_note(&x->meet_note, s->edge->note);
        return 1;
    }
    if (x->seen.n >= x->max_visit) {
        x->truncated = 1;
        return 1;
    }
    g = gmap_add(&x->seen, far);
    g->side = x->side;
    g->depth = x->depth;
    snprintf(g->pred, sizeof g->pred, "%s", s->from);
    g->edge = *s->edge;
    g->note_own = s->edge->note ? fg_xstrdup(s->edge->note) : NULL;
    g->edge.note = g->note_own;
    g->node = *s->node;
    idv_add(&x->next, far);
    return 0;
}

static int path_seed(const struct store_node *n, void *ctx)
{
    struct gmap *m = ctx;
    struct gent *g = gmap_find(m, n->id);
    if (g)
        g->node = *n;
    return 0;
}

/* Appends the chain of side `side` from `id` back to its root: nodes and the edges between. */
static void chain(const struct gmap *m, const char *id, json_t *nodes, json_t *edges, int reverse)
{
    json_t *ns = json_array(), *es = json_array();
    const struct gent *g = gmap_find(m, id);
    while (g) {
        json_array_append_new(ns, fg_node_json(&g->node));
        if (!g->pred[0])
            break;
        json_array_append_new(es, fg_edge_json(&g->edge));
        g = gmap_find(m, g->pred);
    }
    /* ns runs from `id` to the root; side 1 is wanted root first. */
    size_t n = json_array_size(ns);
    for (size_t i = 0; i < n; i++)
        json_array_append(nodes, json_array_get(ns, reverse ? n - 1 - i : i));
    n = json_array_size(es);
    for (size_t i = 0; i < n; i++)
        json_array_append(edges, json_array_get(es, reverse ? n - 1 - i : i));
    json_decref(ns);
    json_decref(es);
}

enum fg_err fg_graph_path(struct fg_app *app, const struct fg_ctx *a, const char *from,
                          const char *to, int max_depth, unsigned types, json_t **out)
{
    enum fg_err e;
    *out = NULL;
    struct store_conn *c = read_open(app, a, from, &e);
    if (!c)
        return e;
    struct store_capsule cap;
    memset(&cap, 0, sizeof cap);
    if ((e = load_visible(app, c, a, to, &cap)) != FG_OK) {
        store_release(app->store, c);
        return e;
    }
    store_capsule_clear(&cap);
    int trust = fg_ctx_read_trust(a);
    struct path_ctx x = {.max_visit = FG_GRAPH_PATH_VISIT_MAX};
    gmap_add(&x.seen, from)->side = 1;
    if (strcmp(from, to) != 0)
        gmap_add(&x.seen, to)->side = 2;
    const char *ends[] = {from, to};
    e = app->store->graph->nodes(c, ends, 2, trust, path_seed, &x.seen);
    struct idv front[3] = {{0}, {0}, {0}};
    idv_add(&front[1], from);
    idv_add(&front[2], to);
    int depth[3] = {0, 0, 0};
    int same = strcmp(from, to) == 0;
    while (e == FG_OK && !same && !x.best && !x.truncated && depth[1] + depth[2] < max_depth &&
           front[1].n && front[2].n) {
        int side = front[1].n <= front[2].n ? 1 : 2;
        x.side = side;
        x.depth = depth[side] + 1;
        const char **ptrs = idv_ptrs(&front[side]);
        struct store_expand q = {
            .ids = ptrs,
            .n = front[side].n,
            .dir = STORE_DIR_BOTH,
            .types = types,
            .max_trust = trust,
            .limit = (long long)FG_GRAPH_PATH_VISIT_MAX * 4,
        };
        e = app->store->graph->expand(c, &q, path_step, &x);
        free(ptrs);
        free(front[side].v);
        front[side] = x.next;
        memset(&x.next, 0, sizeof x.next);
        depth[side]++;
    }
    store_release(app->store, c);
    for (int i = 0; i < 3; i++)
        free(front[i].v);
    if (e == FG_OK) {
        json_t *nodes = json_array(), *edges = json_array();
        int found = same || (x.best && x.best <= max_depth);
        if (same) {
            chain(&x.seen, from, nodes, edges, 1);
        } else if (found) {
            chain(&x.seen, x.meet_a, nodes, edges, 1);
            x.meet_edge.note = x.meet_note;
            json_array_append_new(edges, fg_edge_json(&x.meet_edge));
            chain(&x.seen, x.meet_b, nodes, edges, 0);
        }
        *out = json_pack("{sssssbsososb}", "from", from, "to", to, "found", found, "nodes", nodes,
                         "edges", edges, "truncated", x.truncated && !found);
        json_object_set_new(*out, "length",
                            found ? json_integer((json_int_t)json_array_size(edges)) : json_null());
        json_object_set_new(*out, "max_depth", json_integer(max_depth));
    }
    free(x.meet_note);
    gmap_free(&x.seen);
    return e;
}

/* ---- contradictions ------------------------------------------------------------------------ */

static int append_edge(const struct store_edge *ed, void *ctx)
{
    json_array_append_new(ctx, fg_edge_json(ed));
    return 0;
}

static int node_into(const struct store_node *n, void *ctx)
{
    json_object_set_new(ctx, n->id, fg_node_json(n));
    return 0;
}

enum fg_err fg_graph_contradictions(struct fg_app *app, const struct fg_ctx *a, long long page,
                                    long long per_page, json_t *items, long long *total)
{
    enum fg_err e;
    struct store_conn *c = read_open(app, a, NULL, &e);
    if (!c)
        return e;
    int trust = fg_ctx_read_trust(a);
    e = app->store->graph->contradictions(c, trust, (page - 1) * per_page, per_page, append_edge,
                                          items, total);
    size_t n = json_array_size(items);
    if (e == FG_OK && n) {
        const char **ids = fg_xcalloc(n * 2, sizeof *ids);
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_array_get(items, i);
            ids[2 * i] = json_string_value(json_object_get(o, "source_id"));
            ids[2 * i + 1] = json_string_value(json_object_get(o, "target_id"));
        }
        json_t *byid = json_object();
        e = app->store->graph->nodes(c, ids, n * 2, trust, node_into, byid);
        for (size_t i = 0; e == FG_OK && i < n; i++) {
            json_t *o = json_array_get(items, i);
            json_object_set(o, "source", json_object_get(byid, ids[2 * i]));
            json_object_set(o, "target", json_object_get(byid, ids[2 * i + 1]));
        }
        json_decref(byid);
        free(ids);
    }
    store_release(app->store, c);
    return e;
}

/* ---- superseded_by ------------------------------------------------------------------------- */

void fg_graph_annotate(struct fg_app *app, const struct fg_ctx *a, json_t *caps)
{
    if (!caps)
        return;
    size_t n = json_is_array(caps) ? json_array_size(caps) : 1;
    const char **ids = fg_xcalloc(n ? n : 1, sizeof *ids);
    json_t **objs = fg_xcalloc(n ? n : 1, sizeof *objs);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_is_array(caps) ? json_array_get(caps, i) : caps;
        if (!json_is_object(o))
            continue;
        json_object_set_new(o, "superseded_by", json_null());
        const char *id = json_string_value(json_object_get(o, "id"));
        if (id) {
            objs[k] = o;
            ids[k++] = id;
        }
    }
    enum fg_err e;
    struct store_conn *c = k && need_store(app) == FG_OK ? store_acquire(app->store, &e) : NULL;
    if (c) {
        char(*succ)[FG_GRAPH_ID_LEN] = fg_xcalloc(k, sizeof *succ);
        if (fg_graph_superseded(app, c, ids, k, fg_ctx_read_trust(a), succ) == FG_OK)
            for (size_t i = 0; i < k; i++)
                if (succ[i][0])
                    json_object_set_new(objs[i], "superseded_by", json_string(succ[i]));
        store_release(app->store, c);
        free(succ);
    }
    free(objs);
    free(ids);
}

struct sup_ctx {
    const char *const *ids;
    size_t n;
    char (*succ)[FG_GRAPH_ID_LEN];
};

/* Keeps the first successor the store reports for each id: the same one fg_graph_annotate's
 * first_successor keeps. */
static int note_successor(const char *id, const char *succ, void *vctx)
{
    struct sup_ctx *x = vctx;
    for (size_t i = 0; i < x->n; i++)
        if (!x->succ[i][0] && strcmp(x->ids[i], id) == 0)
            snprintf(x->succ[i], FG_GRAPH_ID_LEN, "%s", succ);
    return 0;
}

enum fg_err fg_graph_superseded(struct fg_app *app, struct store_conn *c, const char *const *ids,
                                size_t n, int max_trust, char (*succ)[FG_GRAPH_ID_LEN])
{
    memset(succ, 0, n * sizeof *succ);
    if (!app || !app->store || !app->store->graph || n == 0)
        return FG_OK;
    struct sup_ctx x = {.ids = ids, .n = n, .succ = succ};
    return app->store->graph->successors(c, ids, n, max_trust, note_successor, &x);
}

/* ---- weighted hop walk (hybrid search) ------------------------------------------------------ */

struct hop_ctx {
    struct gmap seen;
    struct idv next;
    double w[STORE_EDGE_TYPES];
    int depth;
    size_t max_nodes;
    int truncated;
};

static int hop_step(const struct store_step *s, void *vctx)
{
    struct hop_ctx *x = vctx;
    unsigned bit = store_edge_type_bit(s->edge->type);
    double w = 0;
    for (unsigned i = 0; i < STORE_EDGE_TYPES; i++)
        if (bit == 1u << i)
            w = x->w[i];
    const struct gent *from = gmap_find(&x->seen, s->from);
    double strength = (from ? from->strength : 1.0) * w;
    struct gent *g = gmap_find(&x->seen, s->node->id);
    if (g) {
        if (g->depth == x->depth && strength > g->strength)
            g->strength = strength; /* another shortest path, stronger */
        return 0;
    }
    if (x->seen.n >= x->max_nodes) {
        x->truncated = 1;
        return 1;
    }
    g = gmap_add(&x->seen, s->node->id);
    g->depth = x->depth;
    g->strength = strength;
    idv_add(&x->next, s->node->id);
    return 0;
}

enum fg_err fg_graph_hops(struct fg_app *app, struct store_conn *c, const char *id, int max_hops,
                          int max_trust, size_t max_nodes, fg_hop_cb cb, void *ctx, int *truncated)
{
    *truncated = 0;
    if (!app || !app->store || !app->store->graph)
        return FG_EUNAVAIL;
    const struct fg_config *cfg = app->cfg;
    struct hop_ctx x = {.max_nodes = max_nodes ? max_nodes : 1};
    /* order of the STORE_EDGE_* bits */
    double def[STORE_EDGE_TYPES] = {1, 1, 1, 1, 1, 1};
    if (cfg) {
        def[0] = cfg->hop_weight_supports;
        def[1] = cfg->hop_weight_contradicts;
        def[2] = cfg->hop_weight_supersedes;
        def[3] = cfg->hop_weight_related_to;
        def[4] = cfg->hop_weight_references;
        def[5] = cfg->hop_weight_derived_from;
    }
    unsigned types = 0;
    for (unsigned i = 0; i < STORE_EDGE_TYPES; i++) {
        x.w[i] = def[i];
        if (def[i] > 0)
            types |= 1u << i;
    }
    struct gent *g0 = gmap_add(&x.seen, id);
    g0->strength = 1.0;
    struct idv frontier = {0};
    idv_add(&frontier, id);
    enum fg_err e = FG_OK;
    for (int d = 1; types && d <= max_hops && frontier.n && !x.truncated; d++) {
        x.depth = d;
        const char **ptrs = idv_ptrs(&frontier);
        struct store_expand q = {
            .ids = ptrs,
            .n = frontier.n,
            .dir = STORE_DIR_BOTH,
            .types = types,
            .max_trust = max_trust,
            .limit = (long long)x.max_nodes * 8,
        };
        e = app->store->graph->expand(c, &q, hop_step, &x);
        free(ptrs);
        free(frontier.v);
        frontier = x.next;
        memset(&x.next, 0, sizeof x.next);
        if (e != FG_OK)
            break;
    }
    free(frontier.v);
    free(x.next.v);
    *truncated = x.truncated;
    for (size_t i = 0; e == FG_OK && i < x.seen.cap; i++)
        if (x.seen.v[i].id[0] && cb(x.seen.v[i].id, x.seen.v[i].depth, x.seen.v[i].strength, ctx))
            break;
    gmap_free(&x.seen);
    return e;
}

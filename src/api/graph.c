/*
 * Knowledge graph routes (SPEC §4.4, docs/knowledge-graph.md): typed edges of a capsule,
 * neighbours, shortest path and contradictions. Rules in core/graph.c; errors as in
 * api/capsules.c (a capsule the caller may not read answers 404 like a missing one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/authn.h"
#include "api/capsules_int.h"
#include "api/error.h"
#include "api/routes.h"
#include "api/validate.h"
#include "core/authz.h"
#include "core/graph.h"
#include "http/reply.h"

static const char *const directions[] = {"out", "in", "both", NULL};

static unsigned dir_bits(const char *d)
{
    if (!d || strcmp(d, "both") == 0)
        return STORE_DIR_BOTH;
    return strcmp(d, "out") == 0 ? STORE_DIR_OUT : STORE_DIR_IN;
}

/* `types` (comma-separated) → mask; -1 after replying 422. */
static int q_types(struct http_req *req, struct http_resp *resp, const char *name, unsigned *mask)
{
    const char *s = http_query(req, name);
    char bad[48];
    if (s && strlen(s) > 200) {
        http_reply_invalid(resp, name, "%s is too long", name);
        return -1;
    }
    if (fg_graph_parse_types(s, mask, bad, sizeof bad) != 0) {
        http_reply_invalid(resp, name,
                           "%s must be a comma-separated list of: supports, contradicts, "
                           "supersedes, related_to, references, derived_from",
                           name);
        return -1;
    }
    return 0;
}

static void graph_error(struct http_resp *resp, enum fg_err e, struct fg_capsule_why *why,
                        const char *dup_id)
{
    struct fg_why w;
    api_capsule_why(&w, why);
    if (e == FG_ECONFLICT && why->rule)
        w.edge_id = dup_id; /* a duplicate edge names the edge that exists */
    api_reply_err(resp, e, &w);
}

static void h_link(struct http_req *req, struct http_resp *resp)
{
    const char *id;
    if (api_require_or_reply(req, resp, "capsule:update") ||
        p_uuid_or_reply(req, resp, "id", "capsule", &id))
        return;
    json_t *body = http_json_body_or_reply(req, resp);
    if (!body)
        return;
    static const char *const known[] = {"target_id", "type", "note", "weight", NULL};
    static const char *const types[] = {"supports",   "contradicts", "supersedes",
                                        "related_to", "references",  NULL};
    struct fg_edge_input in = {.weight = 1.0};
    if (v_no_unknown(resp, body, known) || v_uuid(resp, body, "target_id", 1, &in.target_id) < 0 ||
        v_enum(resp, body, "type", 1, types, &in.type) < 0 ||
        v_string(resp, body, "note", 0, 0, FG_GRAPH_NOTE_MAX, &in.note) < 0 ||
        v_number(resp, body, "weight", 0, 0.0, 1.0, &in.weight) < 0)
        return;
    const struct fg_ctx *a = api_ctx(req);
    struct fg_capsule_why why = {0};
    json_t *edge = NULL;
    char dup[37];
    enum fg_err e = fg_graph_link(req->app, a, id, &in, &edge, &why, dup);
    if (e != FG_OK) {
        graph_error(resp, e, &why, dup);
        return;
    }
    char loc[160];
    snprintf(loc, sizeof loc, "/api/v1/capsules/%s/edges/%s", id,
             json_string_value(json_object_get(edge, "id")));
    http_reply_data(resp, 201, edge, NULL);
    http_resp_header(resp, "Location", loc);
}

static void h_edges(struct http_req *req, struct http_resp *resp)
{
    const char *id, *dir = NULL;
    long long page, per_page;
    unsigned types;
    if (api_require_or_reply(req, resp, "capsule:read") ||
        p_uuid_or_reply(req, resp, "id", "capsule", &id) ||
        api_page_params(req, resp, &page, &per_page) ||
        q_enum(req, resp, "direction", directions, &dir) < 0 || q_types(req, resp, "type", &types))
        return;
    const struct fg_ctx *a = api_ctx(req);
    json_t *items = json_array();
    long long total = 0;
    enum fg_err e =
        fg_graph_edges(req->app, a, id, dir_bits(dir), types, page, per_page, items, &total);
    if (e != FG_OK) {
        json_decref(items);
        struct fg_capsule_why why = {.what = "capsule"};
        api_capsule_error(resp, e, &why);
        return;
    }
    http_reply_page(resp, items, total, page, per_page);
}

static void h_unlink(struct http_req *req, struct http_resp *resp)
{
    const char *id, *edge_id;
    if (api_require_or_reply(req, resp, "capsule:update") ||
        p_uuid_or_reply(req, resp, "id", "capsule", &id) ||
        p_uuid_or_reply(req, resp, "edge_id", "edge", &edge_id))
        return;
    const struct fg_ctx *a = api_ctx(req);
    struct fg_capsule_why why = {0};
    enum fg_err e = fg_graph_unlink(req->app, a, id, edge_id, &why);
    if (e != FG_OK) {
        graph_error(resp, e, &why, NULL);
        return;
    }
    http_reply_data(resp, 200, json_pack("{sssb}", "id", edge_id, "deleted", 1), NULL);
}

static void h_neighbors(struct http_req *req, struct http_resp *resp)
{
    const char *id, *dir = NULL;
    long long depth, limit;
    unsigned types;
    if (api_require_or_reply(req, resp, "capsule:read") ||
        p_uuid_or_reply(req, resp, "id", "capsule", &id) ||
        q_int(req, resp, "depth", 1, 1, FG_GRAPH_DEPTH_MAX, &depth) < 0 ||
        q_int(req, resp, "limit", FG_GRAPH_NODES_DEFAULT, 1, FG_GRAPH_NODES_MAX, &limit) < 0 ||
        q_enum(req, resp, "direction", directions, &dir) < 0 || q_types(req, resp, "types", &types))
        return;
    const struct fg_ctx *a = api_ctx(req);
    json_t *out = NULL;
    enum fg_err e =
        fg_graph_neighbors(req->app, a, id, (int)depth, types, dir_bits(dir), (int)limit, &out);
    if (e != FG_OK) {
        struct fg_capsule_why why = {.what = "capsule"};
        api_capsule_error(resp, e, &why);
        return;
    }
    json_object_set_new(out, "direction", json_string(dir ? dir : "both"));
    fg_graph_annotate(req->app, a, json_object_get(out, "nodes"));
    http_reply_data(resp, 200, out, NULL);
}

static void h_path(struct http_req *req, struct http_resp *resp)
{
    const char *from = NULL, *to = NULL;
    long long max_depth;
    unsigned types;
    if (api_require_or_reply(req, resp, "capsule:read") || q_uuid(req, resp, "from", &from) < 0 ||
        q_uuid(req, resp, "to", &to) < 0 ||
        q_int(req, resp, "max_depth", FG_GRAPH_PATH_DEPTH_DEFAULT, 1, FG_GRAPH_PATH_DEPTH_MAX,
              &max_depth) < 0 ||
        q_types(req, resp, "types", &types))
        return;
    if (!from || !to) {
        http_reply_invalid(resp, from ? "to" : "from", "%s is required", from ? "to" : "from");
        return;
    }
    const struct fg_ctx *a = api_ctx(req);
    json_t *out = NULL;
    enum fg_err e = fg_graph_path(req->app, a, from, to, (int)max_depth, types, &out);
    if (e != FG_OK) {
        struct fg_capsule_why why = {.what = "capsule"};
        api_capsule_error(resp, e, &why);
        return;
    }
    http_reply_data(resp, 200, out, NULL);
}

static void h_contradictions(struct http_req *req, struct http_resp *resp)
{
    long long page, per_page;
    if (api_require_or_reply(req, resp, "capsule:read") ||
        api_page_params(req, resp, &page, &per_page))
        return;
    const struct fg_ctx *a = api_ctx(req);
    json_t *items = json_array();
    long long total = 0;
    enum fg_err e = fg_graph_contradictions(req->app, a, page, per_page, items, &total);
    if (e != FG_OK) {
        json_decref(items);
        struct fg_capsule_why why = {0};
        api_capsule_error(resp, e, &why);
        return;
    }
    http_reply_page(resp, items, total, page, per_page);
}

/* ---- route table ------------------------------------------------------------------------ */

#define EDGE_SCHEMA                                                                                \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":[\"string\",\"null\"],"                 \
    "\"description\":\"null for derived_from (lineage) edges\"},"                                  \
    "\"source_id\":{\"type\":\"string\"},\"target_id\":{\"type\":\"string\"},"                     \
    "\"type\":{\"enum\":[\"supports\",\"contradicts\",\"supersedes\",\"related_to\","              \
    "\"references\",\"derived_from\"]},\"note\":{\"type\":[\"string\",\"null\"]},"                 \
    "\"weight\":{\"type\":\"number\"},\"creator_id\":{\"type\":[\"string\",\"null\"]},"            \
    "\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"}}}"
#define LINK_SCHEMA                                                                                \
    "{\"type\":\"object\",\"required\":[\"target_id\",\"type\"],\"additionalProperties\":false,"   \
    "\"properties\":{\"target_id\":{\"type\":\"string\",\"format\":\"uuid\"},"                     \
    "\"type\":{\"enum\":[\"supports\",\"contradicts\",\"supersedes\",\"related_to\","              \
    "\"references\"]},\"note\":{\"type\":\"string\",\"maxLength\":1000},"                          \
    "\"weight\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1,\"default\":1}}}"
#define GRAPH_SCHEMA                                                                               \
    "{\"type\":\"object\",\"properties\":{\"nodes\":{\"type\":\"array\"},"                         \
    "\"edges\":{\"type\":\"array\",\"items\":" EDGE_SCHEMA                                         \
    "},\"truncated\":{\"type\":\"boolean\"}}}"

#define AUTH HTTP_AUTH_REQUIRED

const struct http_route api_graph_routes[] = {
    {"POST", "/api/v1/capsules/{id}/edges", h_link, AUTH,
     "Link this capsule to another (may update this one and read the target); 409 on a "
     "duplicate or a supersedes cycle",
     "graph", "capsule:update", 201, LINK_SCHEMA, EDGE_SCHEMA, NULL},
    {"GET", "/api/v1/capsules/{id}/edges", h_edges, AUTH,
     "Edges of the capsule whose other end the caller may read, newest first", "graph",
     "capsule:read", 200, NULL, EDGE_SCHEMA, "direction,type,page,per_page"},
    {"DELETE", "/api/v1/capsules/{id}/edges/{edge_id}", h_unlink, AUTH,
     "Delete an edge leaving this capsule (owner of the source or admin)", "graph",
     "capsule:update", 200, NULL, NULL, NULL},
    {"GET", "/api/v1/capsules/{id}/neighbors", h_neighbors, AUTH,
     "Breadth-first neighbourhood (depth 1-5, readable capsules only, bounded by limit)", "graph",
     "capsule:read", 200, NULL, GRAPH_SCHEMA, "depth,types,direction,limit"},
    {"GET", "/api/v1/graph/path", h_path, AUTH,
     "Shortest undirected path between two capsules through readable capsules", "graph",
     "capsule:read", 200, NULL, GRAPH_SCHEMA, "from,to,max_depth,types"},
    {"GET", "/api/v1/graph/contradictions", h_contradictions, AUTH,
     "Live contradicts edges between readable capsules, newest first", "graph", "capsule:read", 200,
     NULL, EDGE_SCHEMA, "page,per_page"},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};

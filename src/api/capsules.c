/*
 * /api/v1/capsules (SPEC §4, §10): create, get, list, update, delete, lineage, children,
 * revisions. Handlers check the permission, validate the JSON shape of the input, call the rules
 * in core/capsule.c and core/lineage.c, and map their outcome to HTTP:
 *   FG_EINVAL → 422 (details.field), FG_ENOTFOUND → 404, FG_EFORBIDDEN → 403 (details.rule),
 *   FG_ECONFLICT → 409, FG_EUNAVAIL → 503, anything else → 500.
 * A capsule the caller may not read answers 404 like a missing one (docs/knowledge-engine.md).
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
#include "core/capsule.h"
#include "core/graph.h"
#include "core/history.h"
#include "core/lineage.h"
#include "http/reply.h"
#include "util/time.h"

#define PAGE_MAX         1000000
#define PER_PAGE_DEFAULT 20
#define PER_PAGE_MAX     100

void api_capsule_why(struct fg_why *w, const struct fg_capsule_why *why)
{
    /* capsule, history and graph still fill their own why: carried over to the one mapper */
    *w = (struct fg_why){.field = why->field,
                         .what = why->what ? why->what : "capsule",
                         .rule = why->rule,
                         .required_trust = why->required_trust,
                         .actual_trust = why->actual_trust,
                         .children = why->children};
    snprintf(w->message, sizeof w->message, "%s", why->message);
}

void api_capsule_error(struct http_resp *resp, enum fg_err e, const struct fg_capsule_why *why)
{
    struct fg_why w;
    api_capsule_why(&w, why);
    api_reply_err(resp, e, &w);
}

/* Fields the server owns: a clear 422 instead of "unknown field". */
static int reject_server_fields(struct http_resp *resp, json_t *body)
{
    static const char *const owned[] = {"id",         "owner_id",   "version", "created_at",
                                        "updated_at", "is_deleted", NULL};
    for (size_t i = 0; owned[i]; i++)
        if (json_object_get(body, owned[i])) {
            http_reply_invalid(resp, owned[i], "%s is set by the server", owned[i]);
            return -1;
        }
    if (json_object_get(body, "trust_level")) {
        http_reply_invalid(resp, "trust_level",
                           "trust_level is derived (from the parent and the creator) and changed "
                           "only by an admin: PUT /api/v1/admin/capsules/{id}/trust");
        return -1;
    }
    return 0;
}

/* Reads content/type/metadata of a create or update body into `in`. `meta_text` receives the
 * serialised metadata (caller frees). Returns -1 after replying. */
static int read_fields(struct http_resp *resp, json_t *body, int creating,
                       struct fg_capsule_input *in, char **meta_text)
{
    json_t *v = json_object_get(body, "content");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) {
            http_reply_invalid(resp, "content", "content must be a string");
            return -1;
        }
        in->content = json_string_value(v);
        in->content_len = json_string_length(v);
    } else if (creating) {
        http_reply_invalid(resp, "content", "content is required");
        return -1;
    }
    if (v_enum(resp, body, "type", 0, fg_capsule_types, &in->type) < 0)
        return -1;
    json_t *meta = NULL;
    int r = v_object(resp, body, "metadata", 0, FG_CAPSULE_METADATA_MAX, &meta);
    if (r < 0)
        return -1;
    if (r == 0)
        *meta_text = json_dumps(meta, JSON_COMPACT);
    in->metadata = *meta_text;
    return 0;
}

static void reply_capsule(struct http_req *req, struct http_resp *resp, int status,
                          const struct store_capsule *cap, int with_embedding)
{
    json_t *o = fg_capsule_json(cap, with_embedding);
    const struct fg_ctx *a = api_ctx(req);
    fg_graph_annotate(req->app, a, o);
    http_reply_data(resp, status, o, NULL);
}

static void h_create(struct http_req *req, struct http_resp *resp)
{
    if (api_require_or_reply(req, resp, "capsule:create"))
        return;
    json_t *body = http_json_body_or_reply(req, resp);
    if (!body)
        return;
    static const char *const known[] = {"content", "type", "metadata", "parent_id", "reason", NULL};
    if (reject_server_fields(resp, body) || v_no_unknown(resp, body, known))
        return;
    struct fg_capsule_input in = {0};
    char *meta = NULL;
    if (read_fields(resp, body, 1, &in, &meta) ||
        v_uuid(resp, body, "parent_id", 0, &in.parent_id) < 0 ||
        v_string(resp, body, "reason", 0, 1, FG_CAPSULE_REASON_MAX, &in.reason) < 0)
        goto out;
    if (in.reason && !in.parent_id) {
        http_reply_invalid(resp, "reason", "reason describes the derivation from parent_id");
        goto out;
    }
    const struct fg_ctx *a = api_ctx(req);
    struct fg_capsule_why why = {0};
    struct store_capsule cap = {0};
    enum fg_err e = fg_capsule_create(req->app, a, &in, &cap, &why);
    if (e != FG_OK) {
        api_capsule_error(resp, e, &why);
        goto out;
    }
    char loc[96];
    snprintf(loc, sizeof loc, "/api/v1/capsules/%s", cap.id);
    reply_capsule(req, resp, 201, &cap, 0);
    http_resp_header(resp, "Location", loc);
    store_capsule_clear(&cap);
out:
    free(meta);
}

static void h_get(struct http_req *req, struct http_resp *resp)
{
    static const char *const includes[] = {"embedding", NULL};
    const char *id, *include = NULL;
    int include_deleted = 0;
    long long as_of = 0;
    int as_of_given;
    if (api_require_or_reply(req, resp, "capsule:read") ||
        p_uuid_or_reply(req, resp, "id", "capsule", &id) ||
        q_enum(req, resp, "include", includes, &include) < 0 ||
        q_bool(req, resp, "include_deleted", 0, &include_deleted) < 0 ||
        (as_of_given = q_time(req, resp, "as_of", &as_of)) < 0)
        return;
    if (as_of_given == 0 && include) {
        http_reply_invalid(resp, "include", "include=embedding is not available with as_of");
        return;
    }
    const struct fg_ctx *a = api_ctx(req);
    struct store_capsule cap = {0};
    enum fg_err e =
        as_of_given == 0
            ? fg_history_as_of(req->app, a, id, as_of, include_deleted && a->admin, &cap)
            : fg_capsule_get(req->app, a, id, include ? STORE_CAPSULE_WITH_EMBEDDING : 0,
                             include_deleted, &cap);
    if (e != FG_OK) {
        struct fg_capsule_why why = {.what = "capsule"};
        api_capsule_error(resp, e, &why);
        return;
    }
    reply_capsule(req, resp, 200, &cap, include != NULL);
    store_capsule_clear(&cap);
}

/* A page of capsules within the response content budget (core/capsule.h). */
struct page_ctx {
    json_t *items;
    struct fg_content_budget budget;
};

static int append_capsule(const struct store_capsule *cap, void *vctx)
{
    struct page_ctx *x = vctx;
    json_array_append_new(x->items, fg_capsule_json_budget(cap, &x->budget));
    return 0;
}

int api_page_params(struct http_req *req, struct http_resp *resp, long long *page,
                    long long *per_page)
{
    if (q_int(req, resp, "page", 1, 1, PAGE_MAX, page) < 0 ||
        q_int(req, resp, "per_page", PER_PAGE_DEFAULT, 1, PER_PAGE_MAX, per_page) < 0)
        return -1;
    return 0;
}

static const char *const trust_names[] = {"core",    "trusted",    "standard",
                                          "sandbox", "quarantine", NULL};

static void h_list(struct http_req *req, struct http_resp *resp)
{
    long long page, per_page, after = 0, before = 0;
    const char *type = NULL, *trust = NULL, *owner = NULL, *parent = NULL;
    if (api_require_or_reply(req, resp, "capsule:read") ||
        api_page_params(req, resp, &page, &per_page) ||
        q_enum(req, resp, "type", fg_capsule_types, &type) < 0 ||
        q_enum(req, resp, "trust_level", trust_names, &trust) < 0 ||
        q_uuid(req, resp, "owner_id", &owner) < 0 || q_uuid(req, resp, "parent_id", &parent) < 0 ||
        q_time(req, resp, "created_after", &after) < 0 ||
        q_time(req, resp, "created_before", &before) < 0)
        return;
    struct store_capsule_filter f = {
        .type = type,
        .trust_level = trust ? fg_trust_from_name(trust) : -1,
        .owner_id = owner,
        .parent_id = parent,
        .created_after = after,
        .created_before = before,
    };
    const struct fg_ctx *a = api_ctx(req);
    json_t *items = json_array();
    long long total = 0;
    struct page_ctx x = {.items = items};
    fg_content_budget_init(&x.budget);
    enum fg_err e = fg_capsule_list(req->app, a, &f, page, per_page, append_capsule, &x, &total);
    if (e != FG_OK) {
        json_decref(items);
        struct fg_capsule_why why = {0};
        api_capsule_error(resp, e, &why);
        return;
    }
    fg_graph_annotate(req->app, a, items);
    http_reply_page(resp, items, total, page, per_page);
}

static void h_update(struct http_req *req, struct http_resp *resp)
{
    const char *id;
    if (api_require_or_reply(req, resp, "capsule:update") ||
        p_uuid_or_reply(req, resp, "id", "capsule", &id))
        return;
    json_t *body = http_json_body_or_reply(req, resp);
    if (!body)
        return;
    static const char *const known[] = {"content", "type", "metadata", NULL};
    if (reject_server_fields(resp, body))
        return;
    if (json_object_get(body, "parent_id") || json_object_get(body, "reason")) {
        http_reply_invalid(resp, json_object_get(body, "parent_id") ? "parent_id" : "reason",
                           "the lineage of a capsule cannot change; create a derived capsule");
        return;
    }
    if (v_no_unknown(resp, body, known))
        return;
    struct fg_capsule_input in = {0};
    char *meta = NULL;
    if (read_fields(resp, body, 0, &in, &meta))
        goto out;
    if (!in.content && !in.type && !in.metadata) {
        http_reply_invalid(resp, "content", "nothing to update: give content, type or metadata");
        goto out;
    }
    const struct fg_ctx *a = api_ctx(req);
    struct fg_capsule_why why = {0};
    struct store_capsule cap = {0};
    enum fg_err e = fg_capsule_update(req->app, a, id, &in, &cap, &why);
    if (e != FG_OK) {
        api_capsule_error(resp, e, &why);
        goto out;
    }
    reply_capsule(req, resp, 200, &cap, 0);
    store_capsule_clear(&cap);
out:
    free(meta);
}

static void h_delete(struct http_req *req, struct http_resp *resp)
{
    const char *id;
    int cascade = 0;
    if (api_require_or_reply(req, resp, "capsule:delete") ||
        p_uuid_or_reply(req, resp, "id", "capsule", &id) ||
        q_bool(req, resp, "cascade", 0, &cascade) < 0)
        return;
    const struct fg_ctx *a = api_ctx(req);
    struct fg_capsule_why why = {0};
    long long n = 0;
    enum fg_err e = fg_capsule_delete(req->app, a, id, cascade, &n, &why);
    if (e != FG_OK) {
        api_capsule_error(resp, e, &why);
        return;
    }
    http_reply_data(resp, 200,
                    json_pack("{sssbsI}", "id", id, "deleted", 1, "deleted_count", (json_int_t)n),
                    NULL);
}

struct lineage_ctx {
    json_t *items;
};

/* A summary of an ancestor (issue 11: lineage no longer returns whole contents by default):
 * id, type, version, trust, owner, origin, a preview of the content, its size, hop and reason. */
static int append_ancestor(const struct store_ancestor *an, void *vctx)
{
    struct lineage_ctx *x = vctx;
    const struct store_capsule *cap = an->cap;
    if (an->erased) { /* GDPR erasure: the ancestor existed, its content is gone */
        json_array_append_new(x->items,
                              json_pack("{sssbsisssn}", "id", cap->id, "erased", 1, "depth",
                                        an->depth, "relation", "DERIVED_FROM", "reason"));
        return 0;
    }
    size_t pv = fg_utf8_prefix(cap->content ? cap->content : "", cap->content_len,
                               FG_CONTENT_PREVIEW_CHARS);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(cap->id));
    json_object_set_new(o, "type", json_string(cap->type));
    json_object_set_new(o, "version", json_string(cap->version));
    json_object_set_new(o, "trust_level", json_string(fg_trust_name(cap->trust_level)));
    json_object_set_new(o, "owner_id", json_string(cap->owner_id));
    json_object_set_new(o, "origin",
                        json_string(cap->origin_proposal_id[0] ? "governance" : "member"));
    json_object_set_new(o, "parent_id",
                        cap->parent_id[0] ? json_string(cap->parent_id) : json_null());
    json_object_set_new(o, "content_preview", json_stringn(cap->content ? cap->content : "", pv));
    json_object_set_new(o, "content_bytes", json_integer((json_int_t)an->content_bytes));
    json_object_set_new(o, "depth", json_integer(an->depth));
    json_object_set_new(o, "relation", json_string("DERIVED_FROM"));
    json_object_set_new(o, "reason", an->reason ? json_string(an->reason) : json_null());
    json_array_append_new(x->items, o);
    return 0;
}

/* ?include=content: the whole contents, nearest ancestor first, while they fit the response
 * content budget; past it `content` is null and `content_omitted` true. Each ancestor is read
 * again (visibility rechecked), one at a time, so memory stays within the budget. */
static enum fg_err add_contents(struct http_req *req, const struct fg_ctx *a, json_t *items,
                                int *capped)
{
    struct fg_content_budget b;
    fg_content_budget_init(&b);
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        if (json_is_true(json_object_get(o, "erased")))
            continue;
        size_t bytes = (size_t)json_integer_value(json_object_get(o, "content_bytes"));
        if (bytes > b.left) {
            b.capped = 1;
            json_object_set_new(o, "content", json_null());
            json_object_set_new(o, "content_omitted", json_true());
            continue;
        }
        struct store_capsule cap;
        memset(&cap, 0, sizeof cap);
        enum fg_err e =
            fg_capsule_get(req->app, a, json_string_value(json_object_get(o, "id")), 0, 0, &cap);
        if (e == FG_ENOTFOUND) { /* deleted or hidden since the walk */
            json_object_set_new(o, "content", json_null());
            json_object_set_new(o, "content_omitted", json_true());
            continue;
        }
        if (e != FG_OK)
            return e;
        if (cap.content_len > b.left) {
            b.capped = 1;
            json_object_set_new(o, "content", json_null());
            json_object_set_new(o, "content_omitted", json_true());
        } else {
            b.left -= cap.content_len;
            json_object_set_new(o, "content", json_stringn(cap.content, cap.content_len));
        }
        store_capsule_clear(&cap);
    }
    *capped = b.capped;
    return FG_OK;
}

static void h_lineage(struct http_req *req, struct http_resp *resp)
{
    static const char *const includes[] = {"content", NULL};
    const char *id, *include = NULL;
    long long max_depth;
    if (api_require_or_reply(req, resp, "capsule:read") ||
        p_uuid_or_reply(req, resp, "id", "capsule", &id) ||
        q_int(req, resp, "max_depth", FG_LINEAGE_DEPTH_DEFAULT, 1, FG_LINEAGE_DEPTH_MAX,
              &max_depth) < 0 ||
        q_enum(req, resp, "include", includes, &include) < 0)
        return;
    const struct fg_ctx *a = api_ctx(req);
    struct lineage_ctx x = {.items = json_array()};
    int truncated = 0;
    int capped = 0;
    enum fg_err e =
        fg_lineage_ancestors(req->app, a, id, (int)max_depth, append_ancestor, &x, &truncated);
    if (e == FG_OK && include)
        e = add_contents(req, a, x.items, &capped);
    if (e != FG_OK) {
        json_decref(x.items);
        struct fg_capsule_why why = {.what = "capsule"};
        api_capsule_error(resp, e, &why);
        return;
    }
    fg_graph_annotate(req->app, a, x.items);
    size_t n = json_array_size(x.items);
    http_reply_data(resp, 200,
                    json_pack("{sssosIsbsb}", "id", id, "ancestors", x.items, "max_depth",
                              (json_int_t)max_depth, "truncated", truncated, "content_capped",
                              capped),
                    json_pack("{sIsIsb}", "count", (json_int_t)n, "max_depth",
                              (json_int_t)max_depth, "truncated", truncated));
}

static void h_children(struct http_req *req, struct http_resp *resp)
{
    const char *id;
    long long page, per_page;
    if (api_require_or_reply(req, resp, "capsule:read") ||
        p_uuid_or_reply(req, resp, "id", "capsule", &id) ||
        api_page_params(req, resp, &page, &per_page))
        return;
    const struct fg_ctx *a = api_ctx(req);
    json_t *items = json_array();
    long long total = 0;
    struct page_ctx x = {.items = items};
    fg_content_budget_init(&x.budget);
    enum fg_err e =
        fg_capsule_children(req->app, a, id, page, per_page, append_capsule, &x, &total);
    if (e != FG_OK) {
        json_decref(items);
        struct fg_capsule_why why = {.what = "capsule"};
        api_capsule_error(resp, e, &why);
        return;
    }
    fg_graph_annotate(req->app, a, items);
    http_reply_page(resp, items, total, page, per_page);
}

static json_t *iso_json(int64_t ms)
{
    char b[40];
    fg_time_iso(ms, b, sizeof b);
    return json_string(b);
}

static json_t *meta_json(const char *text)
{
    json_t *m = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(m)) {
        json_decref(m);
        m = json_object();
    }
    return m;
}

struct rev_ctx {
    json_t *items;
    struct fg_content_budget budget;
};

static void set_content(json_t *o, const char *content, size_t len, struct fg_content_budget *b)
{
    size_t keep = fg_content_budget_take(b, content, len);
    json_object_set_new(o, "content", json_stringn(content ? content : "", keep));
    if (keep < len) {
        json_object_set_new(o, "content_truncated", json_true());
        json_object_set_new(o, "content_bytes", json_integer((json_int_t)len));
    }
}

static int append_revision(const struct store_revision *r, void *vctx)
{
    struct rev_ctx *x = vctx;
    json_t *o = json_object();
    json_object_set_new(o, "version", json_string(r->version));
    set_content(o, r->content, r->content_len, &x->budget);
    json_object_set_new(o, "metadata", meta_json(r->metadata));
    json_object_set_new(o, "content_hash", json_string(r->content_hash));
    json_object_set_new(o, "author_id", json_string(r->author));
    json_object_set_new(o, "created_at", iso_json(r->created_at));
    json_object_set_new(o, "superseded_at", iso_json(r->superseded_at));
    json_object_set_new(o, "superseded_by", json_string(r->superseded_by));
    json_object_set_new(o, "current", json_false());
    json_array_append_new(x->items, o);
    return 0;
}

static void h_revisions(struct http_req *req, struct http_resp *resp)
{
    const char *id;
    long long page, per_page;
    if (api_require_or_reply(req, resp, "capsule:read") ||
        p_uuid_or_reply(req, resp, "id", "capsule", &id) ||
        api_page_params(req, resp, &page, &per_page))
        return;
    const struct fg_ctx *a = api_ctx(req);
    json_t *items = json_array();
    struct store_capsule cur = {0};
    long long total = 0;
    int with_current = 0;
    struct rev_ctx x = {.items = items};
    fg_content_budget_init(&x.budget);
    if (page == 1) /* the current version comes first on page 1: it is spent first */
        x.budget.left = FG_RESPONSE_CONTENT_BUDGET / 2;
    enum fg_err e = fg_capsule_revisions(req->app, a, id, page, per_page, &cur, &with_current,
                                         append_revision, &x, &total);
    if (e != FG_OK) {
        json_decref(items);
        store_capsule_clear(&cur);
        struct fg_capsule_why why = {.what = "capsule"};
        api_capsule_error(resp, e, &why);
        return;
    }
    if (with_current) {
        json_t *o = json_object();
        json_object_set_new(o, "version", json_string(cur.version));
        struct fg_content_budget cb;
        fg_content_budget_init(&cb);
        cb.left = FG_RESPONSE_CONTENT_BUDGET / 2;
        set_content(o, cur.content, cur.content_len, &cb);
        json_object_set_new(o, "metadata", meta_json(cur.metadata));
        json_object_set_new(o, "content_hash", json_string(cur.content_hash));
        json_object_set_new(o, "author_id", json_string(cur.version_author_id));
        json_object_set_new(o, "created_at", iso_json(cur.version_created_at));
        json_object_set_new(o, "superseded_at", json_null());
        json_object_set_new(o, "superseded_by", json_null());
        json_object_set_new(o, "current", json_true());
        json_array_insert_new(items, 0, o);
    }
    store_capsule_clear(&cur);
    http_reply_page(resp, items, total, page, per_page);
}

/* ---- route table ------------------------------------------------------------------------ */

#define CAPSULE_SCHEMA                                                                             \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\",\"format\":\"uuid\"},"       \
    "\"content\":{\"type\":\"string\"},\"type\":{\"enum\":[\"knowledge\",\"code\",\"decision\","   \
    "\"insight\",\"config\",\"policy\"]},\"metadata\":{\"type\":\"object\"},"                      \
    "\"version\":{\"type\":\"string\"},\"owner_id\":{\"type\":\"string\"},"                        \
    "\"trust_level\":{\"enum\":[\"core\",\"trusted\",\"standard\",\"sandbox\",\"quarantine\"]},"   \
    "\"parent_id\":{\"type\":[\"string\",\"null\"]},\"created_at\":{\"type\":\"string\","          \
    "\"format\":\"date-time\"},\"updated_at\":{\"type\":\"string\",\"format\":\"date-time\"},"     \
    "\"is_deleted\":{\"type\":\"boolean\"},\"origin\":{\"enum\":[\"member\",\"governance\"]},"     \
    "\"origin_proposal_id\":{\"type\":[\"string\",\"null\"]}}}"
#define CREATE_SCHEMA                                                                              \
    "{\"type\":\"object\",\"required\":[\"content\"],\"additionalProperties\":false,"              \
    "\"properties\":{\"content\":{\"type\":\"string\",\"minLength\":1,"                            \
    "\"description\":\"1 byte to 1 MB of UTF-8\"},\"type\":{\"enum\":[\"knowledge\",\"code\","     \
    "\"decision\",\"insight\",\"config\"],\"default\":\"knowledge\"},"                             \
    "\"metadata\":{\"type\":\"object\",\"description\":\"at most 64 KB as JSON\"},"                \
    "\"parent_id\":{\"type\":\"string\",\"format\":\"uuid\"},\"reason\":{\"type\":\"string\","     \
    "\"maxLength\":1000}}}"
#define UPDATE_SCHEMA                                                                              \
    "{\"type\":\"object\",\"additionalProperties\":false,\"minProperties\":1,"                     \
    "\"properties\":{\"content\":{\"type\":\"string\",\"minLength\":1},\"type\":{\"enum\":["       \
    "\"knowledge\",\"code\",\"decision\",\"insight\",\"config\"]},"                                \
    "\"metadata\":{\"type\":\"object\"}}}"
#define LIST_PARAMS "page,per_page,type,trust_level,owner_id,parent_id,created_after,created_before"

#define AUTH HTTP_AUTH_REQUIRED

const struct http_route api_capsule_routes[] = {
    {"POST", "/api/v1/capsules", h_create, AUTH,
     "Create a capsule (optionally derived from a parent)", "capsules", "capsule:create", 201,
     CREATE_SCHEMA, CAPSULE_SCHEMA, NULL},
    {"GET", "/api/v1/capsules", h_list, AUTH,
     "List readable capsules, newest first (filters, pagination)", "capsules", "capsule:read", 200,
     NULL, CAPSULE_SCHEMA, LIST_PARAMS},
    {"GET", "/api/v1/capsules/{id}", h_get, AUTH,
     "Get a capsule (?include=embedding; ?as_of=RFC 3339: as it was then)", "capsules",
     "capsule:read", 200, NULL, CAPSULE_SCHEMA, "include,include_deleted,as_of"},
    {"PATCH", "/api/v1/capsules/{id}", h_update, AUTH,
     "Update content, type or metadata (owner or admin; content change bumps the minor version)",
     "capsules", "capsule:update", 200, UPDATE_SCHEMA, CAPSULE_SCHEMA, NULL},
    {"PUT", "/api/v1/capsules/{id}", h_update, AUTH, "Same as PATCH (fields given are replaced)",
     "capsules", "capsule:update", 200, UPDATE_SCHEMA, CAPSULE_SCHEMA, NULL},
    {"DELETE", "/api/v1/capsules/{id}", h_delete, AUTH,
     "Soft-delete (owner or admin); live children need cascade=true (else 409)", "capsules",
     "capsule:delete", 200, NULL, NULL, "cascade"},
    {"GET", "/api/v1/capsules/{id}/lineage", h_lineage, AUTH,
     "Ancestor summaries via DERIVED_FROM, nearest first (max_depth 1-50, default 10; "
     "include=content for whole contents within 4 MiB)",
     "capsules", "capsule:read", 200, NULL, NULL, "max_depth,include"},
    {"GET", "/api/v1/capsules/{id}/children", h_children, AUTH,
     "Live capsules derived directly from this one", "capsules", "capsule:read", 200, NULL,
     CAPSULE_SCHEMA, "page,per_page"},
    {"GET", "/api/v1/capsules/{id}/revisions", h_revisions, AUTH,
     "Versions of the capsule, current first", "capsules", "capsule:read", 200, NULL, NULL,
     "page,per_page"},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};

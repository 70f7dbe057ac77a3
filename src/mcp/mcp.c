/*
 * MCP JSON-RPC core (mcp.h, docs/mcp.md): lifecycle, tools, resources and prompts. Every tool is
 * one or more calls of the HTTP API through the connection's callback; API refusals become tool
 * results with isError (the model reads the API's code, message and details), never a protocol
 * failure of the session.
 */
#include "mcp/mcp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

static const char *const protocols[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05",
                                        NULL};

static const char *const capsule_types[] = {"knowledge", "code",   "decision", "insight",
                                            "config",    "policy", NULL};
static const char *const search_modes[] = {"hybrid", "semantic", "keyword", NULL};
static const char *const proposal_statuses[] = {"draft",    "active",   "passed",  "rejected",
                                                "executed", "canceled", "expired", NULL};
static const char *const vote_values[] = {"for", "against", "abstain", NULL};
static const char *const edge_types[] = {"supports",   "contradicts",  "supersedes", "related_to",
                                         "references", "derived_from", NULL};
static const char *const directions[] = {"out", "in", "both", NULL};

#define MCP_RESOURCE_PAGE   50
#define MCP_RESOURCE_PREFIX "forge://capsules/"
#define MCP_NAME_PREVIEW    80 /* bytes of content used as a resource's name */
#define MCP_QUESTION_MAX    4000

int mcp_protocol_supported(const char *v)
{
    for (int i = 0; v && protocols[i]; i++)
        if (strcmp(protocols[i], v) == 0)
            return 1;
    return 0;
}

void mcp_conn_init(struct mcp_conn *c, mcp_api_fn api, void *ud)
{
    memset(c, 0, sizeof *c);
    c->api = api;
    c->ud = ud;
}

/* ---- JSON-RPC envelopes ------------------------------------------------------------------- */

json_t *mcp_error_new(json_t *id, int code, const char *message, json_t *data_new)
{
    json_t *e = json_pack("{siss}", "code", code, "message", message);
    if (data_new)
        json_object_set_new(e, "data", data_new);
    return json_pack("{sssOso}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", e);
}

static json_t *result_new(json_t *id, json_t *result_new_)
{
    return json_pack("{sssOso}", "jsonrpc", "2.0", "id", id, "result", result_new_);
}

static int in_list(const char *const *list, const char *v)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], v) == 0)
            return 1;
    return 0;
}

static int is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char ch = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-')
                return 0;
        } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                     (ch >= 'A' && ch <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

/* ---- tool results -------------------------------------------------------------------------- */

static json_t *text_content(const char *text)
{
    return json_pack("[{ssss}]", "type", "text", "text", text);
}

/* Success: structuredContent plus the same JSON as text (for clients without structured output). */
static json_t *tool_ok(json_t *structured_new)
{
    char *s = json_dumps(structured_new, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_t *r = json_pack("{sosOsb}", "content", text_content(s ? s : "{}"), "structuredContent",
                          structured_new, "isError", 0);
    free(s);
    json_decref(structured_new);
    return r;
}

/* A refusal the model can read: one text block with a sentence and the error as JSON. */
static json_t *tool_error(long status, const char *code, const char *message, json_t *details,
                          const char *hint)
{
    json_t *err = json_pack("{ssss}", "code", code, "message", message);
    json_object_set_new(err, "details", details ? json_incref(details) : json_object());
    if (status)
        json_object_set_new(err, "status", json_integer(status));
    char *j = json_dumps(err, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char head[160];
    if (status)
        snprintf(head, sizeof head, "Forge refused the request (HTTP %ld, %s)", status, code);
    else
        snprintf(head, sizeof head, "The call failed (%s)", code);
    size_t n = strlen(head) + strlen(message) + strlen(j ? j : "") + (hint ? strlen(hint) : 0) + 32;
    char *text = fg_xmalloc(n);
    snprintf(text, n, "%s: %s\n%s%s%s", head, message, j ? j : "", hint ? "\n" : "",
             hint ? hint : "");
    json_t *r = json_pack("{sosb}", "content", text_content(text), "isError", 1);
    free(text);
    free(j);
    json_decref(err);
    return r;
}

static json_t *tool_invalid(const char *field, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static json_t *tool_invalid(const char *field, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *d = json_pack("{ssss}", "field", field, "reason", msg);
    json_t *r = tool_error(0, "validation_error", msg, d,
                           "Fix this argument (see the tool's inputSchema) and call again.");
    json_decref(d);
    return r;
}

/* API error (status ≥ 300 or 0) → tool error. body is the API's error JSON (borrowed, may be
 * NULL). */
static json_t *tool_api_error(long status, json_t *body)
{
    const char *code = json_string_value(json_object_get(body, "code"));
    const char *msg = json_string_value(json_object_get(body, "message"));
    json_t *details = json_object_get(body, "details");
    const char *hint = NULL;
    if (status == 0) {
        return tool_error(0, "unreachable", msg ? msg : "the Forge server could not be reached",
                          details, "The Forge server is down or unreachable; try again later.");
    }
    if (status == 401)
        hint = "The access token is invalid, expired or revoked: the user has to log in again "
               "(`forge login`) or configure a new token. Retrying will not help.";
    else if (status == 403)
        hint = "The account's role or trust level does not allow this; do not retry.";
    else if (status == 404)
        hint = "No such item, or the account may not see it. Check the id (search finds ids).";
    else if (status == 409)
        hint = "The request conflicts with the current state (see details.rule).";
    else if (status == 422 || status == 400)
        hint = "Fix the argument named in details.field and call again.";
    else if (status == 429)
        hint = "Rate limited: wait before calling again.";
    else if (status >= 500)
        hint = "Server-side problem; try again later.";
    return tool_error(status, code ? code : "error", msg ? msg : "request failed",
                      json_is_object(details) ? details : NULL, hint);
}

/* ---- API calls ----------------------------------------------------------------------------- */

/* Calls the API; on 2xx returns 1 and sets *data (new ref, the response's "data") and, when meta
 * is given, *meta. Otherwise returns 0 and *err gets the tool error result. */
static int api(struct mcp_conn *c, const char *method, const char *path, json_t *body,
               json_t **data, json_t **meta, json_t **err)
{
    json_t *out = NULL;
    long status = c->api(c->ud, method, path, body, &out);
    *data = NULL;
    if (meta)
        *meta = NULL;
    if (status >= 200 && status < 300) {
        *data = json_incref(json_object_get(out, "data"));
        if (!*data)
            *data = json_object();
        if (meta)
            *meta = json_incref(json_object_get(out, "meta"));
        json_decref(out);
        return 1;
    }
    *err = tool_api_error(status, out);
    json_decref(out);
    return 0;
}

/* ---- argument checks ----------------------------------------------------------------------- */

struct targs {
    json_t *args; /* borrowed, an object */
    json_t *err;  /* first error as a tool result */
};

static void a_fail(struct targs *t, json_t *err)
{
    if (!t->err)
        t->err = err;
    else
        json_decref(err);
}

static void a_known(struct targs *t, const char *const *known)
{
    const char *k;
    json_t *v;
    json_object_foreach(t->args, k, v)
    {
        (void)v;
        if (!in_list(known, k)) {
            a_fail(t, tool_invalid(k, "unknown argument '%.80s'", k));
            return;
        }
    }
}

static const char *a_str(struct targs *t, const char *name, int required, size_t minlen,
                         size_t maxlen)
{
    json_t *v = json_object_get(t->args, name);
    if (!v || json_is_null(v)) {
        if (required)
            a_fail(t, tool_invalid(name, "%s is required", name));
        return NULL;
    }
    if (!json_is_string(v)) {
        a_fail(t, tool_invalid(name, "%s must be a string", name));
        return NULL;
    }
    size_t n = json_string_length(v);
    if (n < minlen || n > maxlen) {
        a_fail(t, tool_invalid(name, "%s must be %zu to %zu bytes long (got %zu)", name, minlen,
                               maxlen, n));
        return NULL;
    }
    if (strlen(json_string_value(v)) != n) {
        a_fail(t, tool_invalid(name, "%s must not contain NUL characters", name));
        return NULL;
    }
    return json_string_value(v);
}

static const char *a_enum(struct targs *t, const char *name, int required, const char *const *list)
{
    const char *s = a_str(t, name, required, 1, 64);
    if (s && !in_list(list, s)) {
        char allowed[256] = "";
        size_t off = 0;
        for (int i = 0; list[i] && off < sizeof allowed; i++)
            off += (size_t)snprintf(allowed + off, sizeof allowed - off, "%s%s", i ? ", " : "",
                                    list[i]);
        a_fail(t, tool_invalid(name, "%s must be one of: %s", name, allowed));
        return NULL;
    }
    return s;
}

static const char *a_uuid(struct targs *t, const char *name, int required)
{
    const char *s = a_str(t, name, required, 1, 64);
    if (s && !is_uuid(s)) {
        a_fail(t, tool_invalid(name, "%s must be a capsule/proposal id (a UUID)", name));
        return NULL;
    }
    return s;
}

static long long a_int(struct targs *t, const char *name, long long def, long long lo, long long hi)
{
    json_t *v = json_object_get(t->args, name);
    if (!v || json_is_null(v))
        return def;
    long long x;
    if (json_is_integer(v))
        x = json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v))
        x = (long long)json_real_value(v);
    else {
        a_fail(t, tool_invalid(name, "%s must be an integer from %lld to %lld", name, lo, hi));
        return def;
    }
    if (x < lo || x > hi) {
        a_fail(t, tool_invalid(name, "%s must be an integer from %lld to %lld (got %lld)", name, lo,
                               hi, x));
        return def;
    }
    return x;
}

static json_t *a_obj(struct targs *t, const char *name)
{
    json_t *v = json_object_get(t->args, name);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_object(v)) {
        a_fail(t, tool_invalid(name, "%s must be an object", name));
        return NULL;
    }
    return v;
}

static json_t *or_null(json_t *v)
{
    return v ? v : json_null();
}

/* ---- capsule shaping ----------------------------------------------------------------------- */

static void add_uri(json_t *cap)
{
    const char *id = json_string_value(json_object_get(cap, "id"));
    if (!id)
        return;
    char uri[96];
    snprintf(uri, sizeof uri, MCP_RESOURCE_PREFIX "%s", id);
    json_object_set_new(cap, "uri", json_string(uri));
}

/* The fields a model needs from a capsule (a new object). */
static json_t *capsule_view(json_t *cap)
{
    static const char *const keep[] = {"id",
                                       "type",
                                       "content",
                                       "content_truncated",
                                       "metadata",
                                       "version",
                                       "parent_id",
                                       "trust_level",
                                       "owner_id",
                                       "created_at",
                                       "updated_at",
                                       "is_deleted",
                                       "superseded_by",
                                       NULL};
    json_t *o = json_object();
    for (int i = 0; keep[i]; i++) {
        json_t *v = json_object_get(cap, keep[i]);
        if (v)
            json_object_set(o, keep[i], v);
    }
    add_uri(o);
    return o;
}

/* ---- tools --------------------------------------------------------------------------------- */

typedef json_t *(*tool_fn)(struct mcp_conn *c, struct targs *t);

static json_t *t_search(struct mcp_conn *c, struct targs *t)
{
    static const char *const known[] = {"query", "mode", "limit", "type", NULL};
    a_known(t, known);
    const char *q = a_str(t, "query", 1, 1, 10000);
    const char *mode = a_enum(t, "mode", 0, search_modes);
    long long limit = a_int(t, "limit", 10, 1, 50);
    const char *type = a_enum(t, "type", 0, capsule_types);
    if (t->err)
        return t->err;
    json_t *body = json_pack("{sssssI}", "query", q, "mode", mode ? mode : "hybrid", "limit",
                             (json_int_t)limit);
    if (type)
        json_object_set_new(body, "type", json_string(type));
    json_t *data, *meta, *err;
    int ok = api(c, "POST", "/api/v1/capsules/search", body, &data, &meta, &err);
    json_decref(body);
    if (!ok)
        return err;
    json_t *results = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(data, i, r)
    {
        json_t *v = capsule_view(json_object_get(r, "capsule"));
        json_object_set(v, "score", json_object_get(r, "score"));
        json_array_append_new(results, v);
    }
    json_decref(data);
    json_t *out = json_pack("{sosIss}", "results", results, "count",
                            (json_int_t)json_array_size(results), "mode", mode ? mode : "hybrid");
    json_decref(meta);
    return tool_ok(out);
}

static json_t *t_get_capsule(struct mcp_conn *c, struct targs *t)
{
    static const char *const known[] = {"id", NULL};
    a_known(t, known);
    const char *id = a_uuid(t, "id", 1);
    if (t->err)
        return t->err;
    char path[128];
    snprintf(path, sizeof path, "/api/v1/capsules/%s", id);
    json_t *data, *err;
    if (!api(c, "GET", path, NULL, &data, NULL, &err))
        return err;
    json_t *v = capsule_view(data);
    json_decref(data);
    return tool_ok(v);
}

static json_t *t_remember(struct mcp_conn *c, struct targs *t)
{
    static const char *const known[] = {"content",      "type",   "metadata",
                                        "derived_from", "reason", NULL};
    a_known(t, known);
    const char *content = a_str(t, "content", 1, 1, 1u << 20);
    const char *type = a_enum(t, "type", 0, capsule_types);
    json_t *meta = a_obj(t, "metadata");
    const char *parent = a_uuid(t, "derived_from", 0);
    const char *reason = a_str(t, "reason", 0, 1, 2000);
    if (!t->err && reason && !parent)
        a_fail(t, tool_invalid("reason", "reason explains derived_from; give derived_from too"));
    if (t->err)
        return t->err;
    json_t *body = json_pack("{ssss}", "content", content, "type", type ? type : "knowledge");
    if (meta)
        json_object_set(body, "metadata", meta);
    if (parent)
        json_object_set_new(body, "parent_id", json_string(parent));
    if (reason)
        json_object_set_new(body, "reason", json_string(reason));
    json_t *data, *err;
    int ok = api(c, "POST", "/api/v1/capsules", body, &data, NULL, &err);
    json_decref(body);
    if (!ok)
        return err;
    json_t *v = capsule_view(data);
    json_decref(data);
    return tool_ok(v);
}

static json_t *t_update(struct mcp_conn *c, struct targs *t)
{
    static const char *const known[] = {"id", "content", "type", "metadata", NULL};
    a_known(t, known);
    const char *id = a_uuid(t, "id", 1);
    const char *content = a_str(t, "content", 0, 1, 1u << 20);
    const char *type = a_enum(t, "type", 0, capsule_types);
    json_t *meta = a_obj(t, "metadata");
    if (!t->err && !content && !type && !meta)
        a_fail(t, tool_invalid("content", "give at least one of content, type, metadata"));
    if (t->err)
        return t->err;
    json_t *body = json_object();
    if (content)
        json_object_set_new(body, "content", json_string(content));
    if (type)
        json_object_set_new(body, "type", json_string(type));
    if (meta)
        json_object_set(body, "metadata", meta);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/capsules/%s", id);
    json_t *data, *err;
    int ok = api(c, "PATCH", path, body, &data, NULL, &err);
    json_decref(body);
    if (!ok)
        return err;
    json_t *v = capsule_view(data);
    json_decref(data);
    return tool_ok(v);
}

static json_t *views_of(json_t *arr)
{
    json_t *out = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        json_array_append_new(out, capsule_view(x));
    }
    return out;
}

static json_t *t_lineage(struct mcp_conn *c, struct targs *t)
{
    static const char *const known[] = {"id", "max_depth", NULL};
    a_known(t, known);
    const char *id = a_uuid(t, "id", 1);
    long long depth = a_int(t, "max_depth", 10, 1, 50);
    if (t->err)
        return t->err;
    char path[160];
    snprintf(path, sizeof path, "/api/v1/capsules/%s/lineage?max_depth=%lld&include=content", id,
             depth);
    json_t *data, *err, *kids, *kmeta;
    if (!api(c, "GET", path, NULL, &data, NULL, &err))
        return err;
    snprintf(path, sizeof path, "/api/v1/capsules/%s/children?per_page=50", id);
    if (!api(c, "GET", path, NULL, &kids, &kmeta, &err)) {
        json_decref(data);
        return err;
    }
    json_t *total = json_object_get(kmeta, "total");
    json_t *out =
        json_pack("{sssoso}", "id", id, "ancestors", views_of(json_object_get(data, "ancestors")),
                  "children", views_of(kids));
    json_object_set(out, "truncated",
                    json_boolean(json_is_true(json_object_get(data, "truncated"))));
    json_object_set_new(out, "children_total",
                        json_integer(json_is_integer(total) ? json_integer_value(total)
                                                            : (json_int_t)json_array_size(kids)));
    json_decref(data);
    json_decref(kids);
    json_decref(kmeta);
    return tool_ok(out);
}

static json_t *t_related(struct mcp_conn *c, struct targs *t)
{
    static const char *const known[] = {"id", "depth", "types", "direction", "limit", NULL};
    a_known(t, known);
    const char *id = a_uuid(t, "id", 1);
    long long depth = a_int(t, "depth", 1, 1, 3);
    long long limit = a_int(t, "limit", 25, 1, 100);
    const char *dir = a_enum(t, "direction", 0, directions);
    char types[160] = "";
    json_t *tv = json_object_get(t->args, "types");
    if (tv && !json_is_null(tv)) {
        size_t i = 0, off = 0;
        json_t *x = NULL;
        if (!json_is_array(tv) || json_array_size(tv) > 6)
            a_fail(t, tool_invalid("types", "types must be an array of edge types"));
        else
            json_array_foreach(tv, i, x)
            {
                if (!json_is_string(x) || !in_list(edge_types, json_string_value(x))) {
                    a_fail(t, tool_invalid("types",
                                           "types must contain only: supports, contradicts, "
                                           "supersedes, related_to, references, derived_from"));
                    break;
                }
                off += (size_t)snprintf(types + off, sizeof types - off, "%s%s", off ? "," : "",
                                        json_string_value(x));
            }
    }
    if (t->err)
        return t->err;
    char path[320];
    snprintf(path, sizeof path,
             "/api/v1/capsules/%s/neighbors?depth=%lld&limit=%lld&direction=%s%s%s", id, depth,
             limit, dir ? dir : "both", types[0] ? "&types=" : "", types);
    json_t *nb, *edges, *err;
    if (!api(c, "GET", path, NULL, &nb, NULL, &err))
        return err;
    snprintf(path, sizeof path, "/api/v1/capsules/%s/edges?per_page=100&direction=%s%s%s", id,
             dir ? dir : "both", types[0] ? "&type=" : "", types);
    if (!api(c, "GET", path, NULL, &edges, NULL, &err)) {
        json_decref(nb);
        return err;
    }
    json_t *nodes = json_object_get(nb, "nodes");
    json_t *paths = json_object_get(nb, "edges");
    json_t *out = json_pack("{sssIsosOso}", "id", id, "depth", (json_int_t)depth, "nodes",
                            views_of(nodes), "edges", edges, "paths",
                            json_is_array(paths) ? json_incref(paths) : json_array());
    json_decref(nb);
    json_decref(edges);
    return tool_ok(out);
}

static json_t *t_recent(struct mcp_conn *c, struct targs *t)
{
    static const char *const known[] = {"limit", "type", NULL};
    a_known(t, known);
    long long limit = a_int(t, "limit", 10, 1, 100);
    const char *type = a_enum(t, "type", 0, capsule_types);
    if (t->err)
        return t->err;
    char path[160];
    snprintf(path, sizeof path, "/api/v1/capsules?page=1&per_page=%lld%s%s", limit,
             type ? "&type=" : "", type ? type : "");
    json_t *data, *meta, *err;
    if (!api(c, "GET", path, NULL, &data, &meta, &err))
        return err;
    json_t *total = json_object_get(meta, "total");
    json_t *out =
        json_pack("{sosI}", "capsules", views_of(data), "total",
                  (json_int_t)(json_is_integer(total) ? json_integer_value(total)
                                                      : (json_int_t)json_array_size(data)));
    json_decref(data);
    json_decref(meta);
    return tool_ok(out);
}

static json_t *t_list_proposals(struct mcp_conn *c, struct targs *t)
{
    static const char *const known[] = {"status", "page", "per_page", NULL};
    a_known(t, known);
    const char *status = a_enum(t, "status", 0, proposal_statuses);
    long long page = a_int(t, "page", 1, 1, 100000);
    long long per = a_int(t, "per_page", 20, 1, 100);
    if (t->err)
        return t->err;
    char path[200];
    snprintf(path, sizeof path, "/api/v1/governance/proposals?page=%lld&per_page=%lld%s%s", page,
             per, status ? "&status=" : "", status ? status : "");
    json_t *data, *meta, *err;
    if (!api(c, "GET", path, NULL, &data, &meta, &err))
        return err;
    json_t *total = json_object_get(meta, "total");
    json_t *out =
        json_pack("{sOsIsI}", "proposals", data, "total",
                  (json_int_t)(json_is_integer(total) ? json_integer_value(total)
                                                      : (json_int_t)json_array_size(data)),
                  "page", (json_int_t)page);
    json_decref(data);
    json_decref(meta);
    return tool_ok(out);
}

static json_t *t_vote(struct mcp_conn *c, struct targs *t)
{
    static const char *const known[] = {"proposal_id", "vote", "reasoning", NULL};
    a_known(t, known);
    const char *id = a_uuid(t, "proposal_id", 1);
    const char *vote = a_enum(t, "vote", 1, vote_values);
    const char *reasoning = a_str(t, "reasoning", 0, 0, 4000);
    if (t->err)
        return t->err;
    json_t *body = json_pack("{ss}", "vote", vote);
    if (reasoning)
        json_object_set_new(body, "reasoning", json_string(reasoning));
    char path[160];
    snprintf(path, sizeof path, "/api/v1/governance/proposals/%s/votes", id);
    json_t *data, *err;
    int ok = api(c, "POST", path, body, &data, NULL, &err);
    json_decref(body);
    if (!ok)
        return err;
    return tool_ok(json_pack("{ssso}", "proposal_id", id, "vote", data));
}

/* ---- tool table ---------------------------------------------------------------------------- */

#define TYPES_ENUM "[\"knowledge\",\"code\",\"decision\",\"insight\",\"config\",\"policy\"]"
#define CAPSULE_PROPS                                                                              \
    "\"id\":{\"type\":\"string\",\"description\":\"capsule id (UUID)\"},"                          \
    "\"type\":{\"type\":\"string\"},\"content\":{\"type\":\"string\"},"                            \
    "\"content_truncated\":{\"type\":\"boolean\"},"                                                \
    "\"metadata\":{\"type\":\"object\"},\"version\":{\"type\":\"string\"},"                        \
    "\"parent_id\":{\"type\":[\"string\",\"null\"]},"                                              \
    "\"trust_level\":{\"type\":\"string\"},\"owner_id\":{\"type\":\"string\"},"                    \
    "\"created_at\":{\"type\":\"string\"},\"updated_at\":{\"type\":\"string\"},"                   \
    "\"superseded_by\":{},\"uri\":{\"type\":\"string\",\"description\":\"MCP resource URI\"}"
#define CAPSULE_SCHEMA                                                                             \
    "{\"type\":\"object\",\"properties\":{" CAPSULE_PROPS "},\"required\":[\"id\",\"type\","       \
    "\"content\"]}"
#define ID_PROP(what)                                                                              \
    "\"id\":{\"type\":\"string\",\"format\":\"uuid\",\"description\":\"" what "\"}"

struct tool {
    const char *name, *title, *description;
    const char *input_schema, *output_schema;
    int read_only, idempotent;
    tool_fn run;
};

static const struct tool tools[] = {
    {"search", "Search memory",
     "Search the team's long-term memory (Forge capsules) for what is known about a topic. Use "
     "this first, before answering from general knowledge or before remembering something that "
     "may already be stored. Write the query as a natural-language question or phrase; mode "
     "\"hybrid\" (default) combines meaning and exact words, \"semantic\" matches meaning only, "
     "\"keyword\" matches words only (good for identifiers and error messages). Results are "
     "ordered by score (0-1, higher is better) and each has the capsule id to cite.",
     "{\"type\":\"object\",\"properties\":{"
     "\"query\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":10000,\"description\":"
     "\"what to look for\"},"
     "\"mode\":{\"type\":\"string\",\"enum\":[\"hybrid\",\"semantic\",\"keyword\"],\"default\":"
     "\"hybrid\"},"
     "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50,\"default\":10},"
     "\"type\":{\"type\":\"string\",\"enum\":" TYPES_ENUM
     ",\"description\":\"only capsules of this type\"}},"
     "\"required\":[\"query\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"results\":{\"type\":\"array\",\"items\":{\"type\":"
     "\"object\",\"properties\":{" CAPSULE_PROPS ",\"score\":{\"type\":\"number\"}},"
     "\"required\":[\"id\",\"content\",\"score\"]}},\"count\":{\"type\":\"integer\"},"
     "\"mode\":{\"type\":\"string\"}},\"required\":[\"results\",\"count\"]}",
     1, 1, t_search},
    {"get_capsule", "Read a capsule",
     "Read one memory capsule in full by its id (search results may show a truncated content). "
     "Returns its content, type, metadata, version, trust level and parent.",
     "{\"type\":\"object\",\"properties\":{" ID_PROP(
         "the capsule id") "},\"required\":[\"id\"],"
                           "\"additionalProperties\":false}",
     CAPSULE_SCHEMA, 1, 1, t_get_capsule},
    {"remember", "Remember",
     "Store a new memory capsule: a fact, decision, insight, code snippet, configuration or "
     "policy worth keeping for later sessions and for colleagues. Write self-contained content "
     "(it is read without this conversation). Search first to avoid duplicates; when the new "
     "memory refines or corrects an existing capsule, give that capsule's id as derived_from "
     "and say why in reason, so the lineage is recorded. Returns the stored capsule with its id.",
     "{\"type\":\"object\",\"properties\":{"
     "\"content\":{\"type\":\"string\",\"minLength\":1,\"description\":\"the memory, "
     "self-contained (Markdown allowed)\"},"
     "\"type\":{\"type\":\"string\",\"enum\":" TYPES_ENUM ",\"default\":\"knowledge\"},"
     "\"metadata\":{\"type\":\"object\",\"description\":\"optional key/value pairs, e.g. "
     "source or tags\"},"
     "\"derived_from\":{\"type\":\"string\",\"format\":\"uuid\",\"description\":\"id of the "
     "capsule this one refines or corrects (lineage)\"},"
     "\"reason\":{\"type\":\"string\",\"description\":\"why it derives from derived_from\"}},"
     "\"required\":[\"content\"],\"additionalProperties\":false}",
     CAPSULE_SCHEMA, 0, 0, t_remember},
    {"update_capsule", "Update a capsule",
     "Change an existing capsule you may edit: new content (a new version; the old one stays in "
     "the history), type or metadata (replaces the stored metadata). Prefer remember with "
     "derived_from when the old statement should stay visible as history of a new one.",
     "{\"type\":\"object\",\"properties\":{" ID_PROP(
         "the capsule id") ","
                           "\"content\":{\"type\":\"string\",\"minLength\":1},"
                           "\"type\":{\"type\":\"string\",\"enum\":" TYPES_ENUM "},"
                           "\"metadata\":{\"type\":\"object\"}},\"required\":[\"id\"],"
                           "\"additionalProperties\":false}",
     CAPSULE_SCHEMA, 0, 1, t_update},
    {"lineage", "Lineage of a capsule",
     "Where a memory comes from and what was built on it: the chain of ancestors (each derived "
     "from the next, nearest first) and the direct children of a capsule. Use it to judge "
     "whether a statement is current or was refined later.",
     "{\"type\":\"object\",\"properties\":{" ID_PROP(
         "the capsule id") ","
                           "\"max_depth\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50,"
                           "\"default\":10}},"
                           "\"required\":[\"id\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},\"ancestors\":{\"type\":"
     "\"array\",\"items\":{\"type\":\"object\"}},\"children\":{\"type\":\"array\",\"items\":{"
     "\"type\":\"object\"}},\"children_total\":{\"type\":\"integer\"},\"truncated\":{\"type\":"
     "\"boolean\"}},\"required\":[\"id\",\"ancestors\",\"children\"]}",
     1, 1, t_lineage},
    {"related", "Related capsules",
     "Capsules connected to one capsule in the knowledge graph: what supports it, contradicts "
     "it, supersedes it, references it or derives from it, up to depth hops away. Check this "
     "before relying on a capsule: a contradicts or supersedes edge means it may be outdated.",
     "{\"type\":\"object\",\"properties\":{" ID_PROP(
         "the capsule id") ","
                           "\"depth\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":3,"
                           "\"default\":1},"
                           "\"types\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"enum\":["
                           "\"supports\","
                           "\"contradicts\",\"supersedes\",\"related_to\",\"references\",\"derived_"
                           "from\"]}},"
                           "\"direction\":{\"type\":\"string\",\"enum\":[\"out\",\"in\",\"both\"],"
                           "\"default\":\"both\"},"
                           "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,"
                           "\"default\":25}},"
                           "\"required\":[\"id\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},\"depth\":{\"type\":"
     "\"integer\"},\"nodes\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},\"edges\":{"
     "\"type\":\"array\",\"items\":{\"type\":\"object\"}},\"paths\":{\"type\":\"array\"}},"
     "\"required\":[\"id\",\"nodes\",\"edges\"]}",
     1, 1, t_related},
    {"recent", "Recent memories",
     "The newest capsules (newest first), optionally of one type. Use it to see what was "
     "recorded lately, e.g. at the start of a session.",
     "{\"type\":\"object\",\"properties\":{"
     "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,\"default\":10},"
     "\"type\":{\"type\":\"string\",\"enum\":" TYPES_ENUM "}},\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"capsules\":{\"type\":\"array\",\"items\":{\"type\":"
     "\"object\",\"properties\":{" CAPSULE_PROPS "}}},\"total\":{\"type\":\"integer\"}},"
     "\"required\":[\"capsules\",\"total\"]}",
     1, 1, t_recent},
    {"list_proposals", "List governance proposals",
     "Governance proposals of this Forge (trust changes, configuration, policies), optionally "
     "only those in one status; \"active\" ones are open for voting.",
     "{\"type\":\"object\",\"properties\":{"
     "\"status\":{\"type\":\"string\",\"enum\":[\"draft\",\"active\",\"passed\",\"rejected\","
     "\"executed\",\"canceled\",\"expired\"]},"
     "\"page\":{\"type\":\"integer\",\"minimum\":1,\"default\":1},"
     "\"per_page\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,\"default\":20}},"
     "\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"proposals\":{\"type\":\"array\",\"items\":{\"type\":"
     "\"object\"}},\"total\":{\"type\":\"integer\"},\"page\":{\"type\":\"integer\"}},"
     "\"required\":[\"proposals\",\"total\"]}",
     1, 1, t_list_proposals},
    {"vote", "Vote on a proposal",
     "Cast (or change) this account's vote on an active governance proposal: for, against or "
     "abstain, with optional reasoning. Only accounts whose role and trust allow voting may vote; "
     "otherwise the call is refused with the reason. Vote only when the user asked you to.",
     "{\"type\":\"object\",\"properties\":{"
     "\"proposal_id\":{\"type\":\"string\",\"format\":\"uuid\"},"
     "\"vote\":{\"type\":\"string\",\"enum\":[\"for\",\"against\",\"abstain\"]},"
     "\"reasoning\":{\"type\":\"string\"}},\"required\":[\"proposal_id\",\"vote\"],"
     "\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"proposal_id\":{\"type\":\"string\"},\"vote\":{"
     "\"type\":\"object\"}},\"required\":[\"proposal_id\",\"vote\"]}",
     0, 1, t_vote},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static json_t *schema(const char *text)
{
    json_error_t e;
    json_t *s = json_loads(text, 0, &e);
    return s ? s : json_object(); /* unreachable: test_mcp parses every schema */
}

static json_t *m_tools_list(struct mcp_conn *c)
{
    json_t *arr = json_array();
    int new_rev = strcmp(c->protocol, "2025-03-26") >= 0; /* annotations since 2025-03-26 */
    int has_output = strcmp(c->protocol, "2025-06-18") >= 0;
    for (const struct tool *t = tools; t->name; t++) {
        json_t *o = json_pack("{ssssssso}", "name", t->name, "title", t->title, "description",
                              t->description, "inputSchema", schema(t->input_schema));
        if (has_output)
            json_object_set_new(o, "outputSchema", schema(t->output_schema));
        if (new_rev)
            json_object_set_new(o, "annotations",
                                json_pack("{sssbsbsbsb}", "title", t->title, "readOnlyHint",
                                          t->read_only, "destructiveHint", 0, "idempotentHint",
                                          t->idempotent, "openWorldHint", 0));
        json_array_append_new(arr, o);
    }
    return json_pack("{so}", "tools", arr);
}

/* ---- resources ----------------------------------------------------------------------------- */

static char *preview(const char *s)
{
    size_t n = strcspn(s, "\n"); /* the first line */
    if (n > MCP_NAME_PREVIEW) {
        n = MCP_NAME_PREVIEW;                                 /* s[n] exists: the line is longer */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) /* not inside a UTF-8 sequence */
            n--;
    }
    return fg_xstrndup(s, n);
}

/* API failure as a JSON-RPC error of a resource method. */
static json_t *resource_api_error(json_t *id, long status, json_t *body, const char *uri)
{
    if (status == 404)
        return mcp_error_new(id, MCP_E_RESOURCE_NOT_FOUND, "Resource not found",
                             json_pack("{ss}", "uri", uri ? uri : ""));
    const char *msg = json_string_value(json_object_get(body, "message"));
    json_t *data = json_pack("{sI}", "status", (json_int_t)status);
    if (json_is_object(body))
        json_object_set(data, "error", body);
    return mcp_error_new(id, status == 0 ? MCP_E_INTERNAL : -32001,
                         msg ? msg : "the Forge API refused the request", data);
}

static json_t *m_resources_list(struct mcp_conn *c, json_t *id, json_t *params)
{
    long long page = 1;
    json_t *cur = json_object_get(params, "cursor");
    if (cur && !json_is_null(cur)) {
        char *end;
        const char *s = json_string_value(cur);
        page = s ? strtoll(s, &end, 10) : 0;
        if (!s || !*s || *end || page < 1 || page > 1000000)
            return mcp_error_new(id, MCP_E_INVALID_PARAMS, "invalid cursor", NULL);
    }
    char path[128];
    snprintf(path, sizeof path, "/api/v1/capsules?page=%lld&per_page=%d", page, MCP_RESOURCE_PAGE);
    json_t *out = NULL;
    long st = c->api(c->ud, "GET", path, NULL, &out);
    if (st < 200 || st >= 300) {
        json_t *e = resource_api_error(id, st, out, NULL);
        json_decref(out);
        return e;
    }
    json_t *items = json_object_get(out, "data"), *meta = json_object_get(out, "meta");
    json_t *list = json_array();
    size_t i;
    json_t *cap;
    json_array_foreach(items, i, cap)
    {
        const char *cid = json_string_value(json_object_get(cap, "id"));
        const char *content = json_string_value(json_object_get(cap, "content"));
        const char *type = json_string_value(json_object_get(cap, "type"));
        if (!cid)
            continue;
        char uri[96], desc[96];
        snprintf(uri, sizeof uri, MCP_RESOURCE_PREFIX "%s", cid);
        snprintf(desc, sizeof desc, "Forge %s capsule", type ? type : "");
        char *name = preview(content ? content : "");
        json_array_append_new(list,
                              json_pack("{ssssssss}", "uri", uri, "name", name[0] ? name : cid,
                                        "description", desc, "mimeType", "text/markdown"));
        free(name);
    }
    json_t *res = json_pack("{so}", "resources", list);
    json_int_t pages = json_integer_value(json_object_get(meta, "pages"));
    if (page < pages) {
        char next[24];
        snprintf(next, sizeof next, "%lld", page + 1);
        json_object_set_new(res, "nextCursor", json_string(next));
    }
    json_decref(out);
    return result_new(id, res);
}

static json_t *m_resources_read(struct mcp_conn *c, json_t *id, json_t *params)
{
    const char *uri = json_string_value(json_object_get(params, "uri"));
    if (!uri)
        return mcp_error_new(id, MCP_E_INVALID_PARAMS, "params.uri (a string) is required", NULL);
    size_t pl = strlen(MCP_RESOURCE_PREFIX);
    if (strncmp(uri, MCP_RESOURCE_PREFIX, pl) != 0 || !is_uuid(uri + pl))
        return mcp_error_new(
            id, MCP_E_RESOURCE_NOT_FOUND, "Resource not found",
            json_pack("{ssss}", "uri", uri, "reason", "expected forge://capsules/{id}"));
    char path[128];
    snprintf(path, sizeof path, "/api/v1/capsules/%s", uri + pl);
    json_t *out = NULL;
    long st = c->api(c->ud, "GET", path, NULL, &out);
    if (st < 200 || st >= 300) {
        json_t *e = resource_api_error(id, st, out, uri);
        json_decref(out);
        return e;
    }
    json_t *cap = json_object_get(out, "data");
    const char *content = json_string_value(json_object_get(cap, "content"));
    json_t *meta = json_object();
    static const char *const keys[] = {"type", "version", "trust_level", "parent_id", NULL};
    for (int i = 0; keys[i]; i++)
        json_object_set(meta, keys[i], or_null(json_object_get(cap, keys[i])));
    json_t *res = json_pack("{s[{sssssssO}]}", "contents", "uri", uri, "mimeType", "text/markdown",
                            "text", content ? content : "", "_meta", meta);
    json_decref(meta);
    json_decref(out);
    return result_new(id, res);
}

static json_t *m_templates_list(void)
{
    return json_pack("{s[{ssssssss}]}", "resourceTemplates", "uriTemplate",
                     MCP_RESOURCE_PREFIX "{id}", "name", "capsule", "description",
                     "A Forge memory capsule by id (its content as Markdown)", "mimeType",
                     "text/markdown");
}

/* ---- prompts ------------------------------------------------------------------------------- */

static json_t *m_prompts_list(void)
{
    return json_pack("{s[{sssssss[{sssssb}]}]}", "prompts", "name", "answer_from_memory", "title",
                     "Answer from memory with sources", "description",
                     "Answer a question from the Forge memory only, citing the capsule ids used",
                     "arguments", "name", "question", "description", "the question to answer",
                     "required", 1);
}

static json_t *m_prompts_get(json_t *id, json_t *params)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    if (!name)
        return mcp_error_new(id, MCP_E_INVALID_PARAMS, "params.name (a string) is required", NULL);
    if (strcmp(name, "answer_from_memory") != 0)
        return mcp_error_new(id, MCP_E_INVALID_PARAMS, "unknown prompt",
                             json_pack("{ss}", "name", name));
    json_t *args = json_object_get(params, "arguments");
    const char *q = json_string_value(json_object_get(args, "question"));
    if (!q || !*q)
        return mcp_error_new(id, MCP_E_INVALID_PARAMS, "argument 'question' is required", NULL);
    if (strlen(q) > MCP_QUESTION_MAX)
        return mcp_error_new(id, MCP_E_INVALID_PARAMS, "argument 'question' is too long",
                             json_pack("{si}", "max_bytes", MCP_QUESTION_MAX));
    static const char head[] =
        "Answer the question below from the team's Forge memory, not from general knowledge.\n"
        "1. Call the `search` tool with the question (mode \"hybrid\"). If the results do not "
        "cover it, search again with other words.\n"
        "2. Read a result in full with `get_capsule` when its content is truncated; use "
        "`related` or `lineage` when a capsule may be contradicted or superseded.\n"
        "3. Answer only with what the capsules say. After each statement cite the capsule id it "
        "comes from in square brackets, e.g. [capsule 0b6c1e2a-...]. Prefer capsules whose "
        "trust_level is core or trusted, and point out contradictions between capsules.\n"
        "4. If the memory holds nothing relevant, say so plainly instead of guessing.\n\n"
        "Question: ";
    size_t n = sizeof head + strlen(q);
    char *text = fg_xmalloc(n);
    snprintf(text, n, "%s%s", head, q);
    json_t *res = json_pack("{sss[{sss{ssss}}]}", "description", "Answer from memory with sources",
                            "messages", "role", "user", "content", "type", "text", "text", text);
    free(text);
    return result_new(id, res);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static json_t *m_initialize(struct mcp_conn *c, json_t *id, json_t *params)
{
    const char *v = json_string_value(json_object_get(params, "protocolVersion"));
    if (!v)
        return mcp_error_new(id, MCP_E_INVALID_PARAMS,
                             "params.protocolVersion (a string) is required", NULL);
    if (c->initialized)
        return mcp_error_new(id, MCP_E_INVALID_REQUEST, "already initialized", NULL);
    snprintf(c->protocol, sizeof c->protocol, "%s",
             mcp_protocol_supported(v) ? v : MCP_PROTOCOL_LATEST);
    const char *cn =
        json_string_value(json_object_get(json_object_get(params, "clientInfo"), "name"));
    snprintf(c->client_name, sizeof c->client_name, "%s", cn ? cn : "");
    c->initialized = 1;
    json_t *res = json_pack(
        "{sss{s{sb}s{sbsb}s{sb}}s{ssssss}ss}", "protocolVersion", c->protocol, "capabilities",
        "tools", "listChanged", 0, "resources", "subscribe", 0, "listChanged", 0, "prompts",
        "listChanged", 0, "serverInfo", "name", "forge", "title", "Forge memory", "version",
        FORGE_VERSION, "instructions",
        "Forge is the team's long-term memory (capsules with lineage, trust and governance). "
        "Search it before answering questions about the team's systems, decisions and "
        "conventions, cite capsule ids, and remember new durable facts and decisions (search "
        "first to avoid duplicates; use derived_from when refining an existing capsule).");
    return result_new(id, res);
}

static json_t *m_tools_call(struct mcp_conn *c, json_t *id, json_t *params)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    if (!name)
        return mcp_error_new(id, MCP_E_INVALID_PARAMS, "params.name (a string) is required", NULL);
    const struct tool *t = tools;
    while (t->name && strcmp(t->name, name) != 0)
        t++;
    if (!t->name)
        return mcp_error_new(id, MCP_E_INVALID_PARAMS, "Unknown tool",
                             json_pack("{ss}", "name", name));
    json_t *args = json_object_get(params, "arguments");
    if (args && !json_is_null(args) && !json_is_object(args))
        return mcp_error_new(id, MCP_E_INVALID_PARAMS, "params.arguments must be an object", NULL);
    size_t size = args ? json_dumpb(args, NULL, 0, JSON_COMPACT) : 0;
    if (size > MCP_MAX_ARGUMENT_BYTES)
        return mcp_error_new(id, MCP_E_INVALID_PARAMS, "arguments too large",
                             json_pack("{sIsI}", "limit_bytes", (json_int_t)MCP_MAX_ARGUMENT_BYTES,
                                       "size_bytes", (json_int_t)size));
    json_t *empty = json_object();
    struct targs ta = {.args = json_is_object(args) ? args : empty};
    json_t *res = t->run(c, &ta);
    json_decref(empty);
    return result_new(id, res);
}

static json_t *dispatch(struct mcp_conn *c, json_t *msg, int in_batch)
{
    if (!json_is_object(msg))
        return mcp_error_new(NULL, MCP_E_INVALID_REQUEST, "Invalid Request: not an object", NULL);
    json_t *id = json_object_get(msg, "id");
    json_t *jv = json_object_get(msg, "jsonrpc");
    json_t *method = json_object_get(msg, "method");
    int valid_id = id && (json_is_string(id) || json_is_integer(id));
    if (!json_is_string(jv) || strcmp(json_string_value(jv), "2.0") != 0)
        return mcp_error_new(valid_id ? id : NULL, MCP_E_INVALID_REQUEST,
                             "Invalid Request: jsonrpc must be \"2.0\"", NULL);
    if (!method) {
        /* a response to a server request (we send none) */
        if (json_object_get(msg, "result") || json_object_get(msg, "error"))
            return NULL;
        return mcp_error_new(valid_id ? id : NULL, MCP_E_INVALID_REQUEST,
                             "Invalid Request: method is missing", NULL);
    }
    if (!json_is_string(method))
        return mcp_error_new(valid_id ? id : NULL, MCP_E_INVALID_REQUEST,
                             "Invalid Request: method must be a string", NULL);
    if (id && !valid_id)
        return mcp_error_new(NULL, MCP_E_INVALID_REQUEST,
                             "Invalid Request: id must be a string or an integer", NULL);
    json_t *params = json_object_get(msg, "params");
    const char *m = json_string_value(method);
    if (!id) /* notification: never answered (notifications/initialized, cancelled, …) */
        return NULL;
    if (params && !json_is_object(params))
        return mcp_error_new(id, MCP_E_INVALID_PARAMS, "params must be an object", NULL);
    if (strcmp(m, "initialize") == 0) {
        if (in_batch)
            return mcp_error_new(id, MCP_E_INVALID_REQUEST,
                                 "initialize must not be part of a batch", NULL);
        return m_initialize(c, id, params);
    }
    if (strcmp(m, "ping") == 0)
        return result_new(id, json_object());
    if (!c->initialized)
        return mcp_error_new(id, MCP_E_INVALID_REQUEST, "not initialized: send initialize first",
                             NULL);
    if (strcmp(m, "tools/list") == 0)
        return result_new(id, m_tools_list(c));
    if (strcmp(m, "tools/call") == 0)
        return m_tools_call(c, id, params);
    if (strcmp(m, "resources/list") == 0)
        return m_resources_list(c, id, params);
    if (strcmp(m, "resources/read") == 0)
        return m_resources_read(c, id, params);
    if (strcmp(m, "resources/templates/list") == 0)
        return result_new(id, m_templates_list());
    if (strcmp(m, "prompts/list") == 0)
        return result_new(id, m_prompts_list());
    if (strcmp(m, "prompts/get") == 0)
        return m_prompts_get(id, params);
    return mcp_error_new(id, MCP_E_METHOD_NOT_FOUND, "Method not found",
                         json_pack("{ss}", "method", m));
}

json_t *mcp_handle(struct mcp_conn *c, json_t *msg)
{
    if (!json_is_array(msg))
        return dispatch(c, msg, 0);
    if (strcmp(c->protocol, "2025-03-26") != 0) {
        char why[120];
        snprintf(why, sizeof why,
                 "Invalid Request: JSON-RPC batches are not supported on protocol "
                 "revision %s",
                 c->protocol[0] ? c->protocol : "(not initialized)");
        return mcp_error_new(NULL, MCP_E_INVALID_REQUEST, why, NULL);
    }
    size_t n = json_array_size(msg);
    if (n == 0 || n > MCP_MAX_BATCH)
        return mcp_error_new(NULL, MCP_E_INVALID_REQUEST,
                             n ? "Invalid Request: batch too large"
                               : "Invalid Request: empty batch",
                             n ? json_pack("{si}", "max", MCP_MAX_BATCH) : NULL);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *r = dispatch(c, json_array_get(msg, i), 1);
        if (r)
            json_array_append_new(out, r);
    }
    if (json_array_size(out) == 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *mcp_handle_text(struct mcp_conn *c, const char *text, size_t len)
{
    if (len > MCP_MAX_MESSAGE_BYTES)
        return mcp_error_new(NULL, MCP_E_INVALID_REQUEST, "Invalid Request: message too large",
                             json_pack("{sI}", "limit_bytes", (json_int_t)MCP_MAX_MESSAGE_BYTES));
    json_error_t je;
    json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!msg)
        return mcp_error_new(
            NULL, MCP_E_PARSE, "Parse error",
            json_pack("{sssisi}", "reason", je.text, "line", je.line, "column", je.column));
    json_t *r = mcp_handle(c, msg);
    json_decref(msg);
    return r;
}

int mcp_is_initialize(json_t *msg)
{
    if (json_is_array(msg)) {
        size_t i;
        json_t *x;
        json_array_foreach(msg, i, x)
        {
            if (mcp_is_initialize(x))
                return 1;
        }
        return 0;
    }
    const char *m = json_string_value(json_object_get(msg, "method"));
    return m && strcmp(m, "initialize") == 0 && json_object_get(msg, "id");
}

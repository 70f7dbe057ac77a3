/*
 * Time travel routes (SPEC §4.4, docs/knowledge-graph.md): one version of a capsule and the diff
 * of two versions. `GET /capsules/{id}?as_of=` is served by api/capsules.c through
 * core/history.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/authn.h"
#include "api/capsules_int.h"
#include "api/routes.h"
#include "api/validate.h"
#include "core/authz.h"
#include "core/history.h"
#include "http/reply.h"
#include "util/time.h"

/* MAJOR.MINOR.PATCH with at most 31 characters, or "current". */
static int version_ok(const char *v)
{
    if (!v)
        return 0;
    if (strcmp(v, "current") == 0)
        return 1;
    size_t n = strlen(v);
    if (n == 0 || n > 31)
        return 0;
    int dots = 0, digits = 0;
    for (const char *p = v; *p; p++) {
        if (*p == '.') {
            if (!digits)
                return 0;
            dots++;
            digits = 0;
        } else if (*p >= '0' && *p <= '9') {
            digits++;
        } else {
            return 0;
        }
    }
    return dots == 2 && digits > 0;
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

/* Version header (no content). */
static json_t *version_head(const struct fg_version *v)
{
    json_t *o = json_object();
    json_object_set_new(o, "version", json_string(v->version));
    json_object_set_new(o, "content_hash", json_string(v->content_hash));
    json_object_set_new(o, "author_id", json_string(v->author_id));
    json_object_set_new(o, "created_at", iso_json(v->created_at));
    json_object_set_new(o, "superseded_at",
                        v->superseded_at ? iso_json(v->superseded_at) : json_null());
    json_object_set_new(o, "current", json_boolean(v->current));
    return o;
}

static void h_revision(struct http_req *req, struct http_resp *resp)
{
    const char *id;
    if (api_require_or_reply(req, resp, "capsule:read") ||
        p_uuid_or_reply(req, resp, "id", "capsule", &id))
        return;
    const char *version = http_param(req, "version");
    if (!version_ok(version)) {
        http_reply_not_found(resp, "version");
        return;
    }
    const struct fg_ctx *a = api_ctx(req);
    struct fg_version v;
    memset(&v, 0, sizeof v);
    struct fg_capsule_why why = {0};
    enum fg_err e = fg_history_version(req->app, a, id, version, &v, &why);
    if (e != FG_OK) {
        api_capsule_error(resp, e, &why);
        return;
    }
    json_t *o = version_head(&v);
    json_object_set_new(o, "capsule_id", json_string(id));
    json_object_set_new(o, "content", json_stringn(v.content, v.content_len));
    json_object_set_new(o, "metadata", meta_json(v.metadata));
    fg_version_clear(&v);
    http_reply_data(resp, 200, o, NULL);
}

static int q_version(struct http_req *req, struct http_resp *resp, const char *name,
                     const char **out)
{
    const char *s = http_query(req, name);
    if (!s)
        return 1;
    if (!version_ok(s)) {
        http_reply_invalid(resp, name, "%s must be a version (MAJOR.MINOR.PATCH) or \"current\"",
                           name);
        return -1;
    }
    *out = s;
    return 0;
}

static void h_diff(struct http_req *req, struct http_resp *resp)
{
    const char *id, *from = NULL, *to = "current";
    long long context;
    if (api_require_or_reply(req, resp, "capsule:read") ||
        p_uuid_or_reply(req, resp, "id", "capsule", &id) ||
        q_version(req, resp, "from", &from) < 0 || q_version(req, resp, "to", &to) < 0 ||
        q_int(req, resp, "context", FG_DIFF_CONTEXT, 0, 100, &context) < 0)
        return;
    if (!from) {
        http_reply_invalid(resp, "from", "from is required (a version, e.g. 1.0.0)");
        return;
    }
    const struct fg_ctx *a = api_ctx(req);
    struct fg_version va, vb;
    memset(&va, 0, sizeof va);
    memset(&vb, 0, sizeof vb);
    struct fg_capsule_why why = {0};
    enum fg_err e = fg_history_version(req->app, a, id, from, &va, &why);
    if (e == FG_OK)
        e = fg_history_version(req->app, a, id, to, &vb, &why);
    if (e != FG_OK) {
        fg_version_clear(&va);
        fg_version_clear(&vb);
        api_capsule_error(resp, e, &why);
        return;
    }
    long long added = 0, removed = 0;
    int coarse = 0;
    json_t *hunks = fg_diff_hunks(va.content, va.content_len, vb.content, vb.content_len,
                                  (int)context, FG_DIFF_EDITS_MAX, &added, &removed, &coarse);
    json_t *o = json_object();
    json_object_set_new(o, "capsule_id", json_string(id));
    json_object_set_new(o, "from", version_head(&va));
    json_object_set_new(o, "to", version_head(&vb));
    json_object_set_new(o, "hunks", hunks);
    json_object_set_new(o, "lines_added", json_integer(added));
    json_object_set_new(o, "lines_removed", json_integer(removed));
    json_object_set_new(o, "coarse", json_boolean(coarse));
    json_object_set_new(o, "metadata_changes", fg_diff_metadata(va.metadata, vb.metadata));
    fg_version_clear(&va);
    fg_version_clear(&vb);
    http_reply_data(resp, 200, o, NULL);
}

#define VERSION_SCHEMA                                                                             \
    "{\"type\":\"object\",\"properties\":{\"capsule_id\":{\"type\":\"string\"},"                   \
    "\"version\":{\"type\":\"string\"},\"content\":{\"type\":\"string\"},"                         \
    "\"metadata\":{\"type\":\"object\"},\"content_hash\":{\"type\":\"string\"},"                   \
    "\"author_id\":{\"type\":\"string\"},\"created_at\":{\"type\":\"string\"},"                    \
    "\"superseded_at\":{\"type\":[\"string\",\"null\"]},\"current\":{\"type\":\"boolean\"}}}"
#define DIFF_SCHEMA                                                                                \
    "{\"type\":\"object\",\"properties\":{\"from\":{\"type\":\"object\"},"                         \
    "\"to\":{\"type\":\"object\"},\"hunks\":{\"type\":\"array\",\"items\":{\"type\":\"object\","   \
    "\"properties\":{\"old_start\":{\"type\":\"integer\"},\"old_lines\":{\"type\":\"integer\"},"   \
    "\"new_start\":{\"type\":\"integer\"},\"new_lines\":{\"type\":\"integer\"},"                   \
    "\"lines\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}},"                           \
    "\"lines_added\":{\"type\":\"integer\"},\"lines_removed\":{\"type\":\"integer\"},"             \
    "\"coarse\":{\"type\":\"boolean\"},\"metadata_changes\":{\"type\":\"array\"}}}"

#define AUTH HTTP_AUTH_REQUIRED

const struct http_route api_history_routes[] = {
    {"GET", "/api/v1/capsules/{id}/revisions/{version}", h_revision, AUTH,
     "One version of the capsule (exact version or \"current\")", "capsules", "capsule:read", 200,
     NULL, VERSION_SCHEMA, NULL},
    {"GET", "/api/v1/capsules/{id}/diff", h_diff, AUTH,
     "Line diff (unified hunks) and metadata changes between two versions; to defaults to the "
     "current version",
     "capsules", "capsule:read", 200, NULL, DIFF_SCHEMA, "from,to,context"},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};

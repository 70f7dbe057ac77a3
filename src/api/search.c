/*
 * POST /api/v1/capsules/search (SPEC §4.3, docs/search.md): validates the request, runs it
 * through core/search.c and renders the results. Outcomes: FG_EINVAL → 422 (details.field),
 * FG_ENOTFOUND → 404 (context capsule), FG_EUNAVAIL → 503 service_unavailable (embedding
 * provider down, index not loaded, store busy), anything else → 500.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/authn.h"
#include "api/error.h"
#include "api/routes.h"
#include "api/validate.h"
#include "core/authz.h"
#include "core/capsule.h"
#include "core/graph.h"
#include "core/search.h"
#include "http/reply.h"

/* Scores are rounded to 6 decimals: more digits are noise (float32 vectors). */
static json_t *score_json(double v)
{
    return json_real(round(v * 1e6) / 1e6);
}

static json_t *rank_json(int rank)
{
    return rank > 0 ? json_integer(rank) : json_null();
}

static json_t *result_json(const struct fg_search_result *r, enum fg_search_mode mode)
{
    json_t *o = json_object();
    json_t *cap = fg_capsule_json(&r->cap, 0);
    if (r->content_bytes) { /* cut to a preview by the response content budget */
        json_object_set_new(cap, "content_truncated", json_true());
        json_object_set_new(cap, "content_bytes", json_integer((json_int_t)r->content_bytes));
    }
    /* found by the search's own down-ranking of superseded results: no second lookup */
    json_object_set_new(cap, "superseded_by",
                        r->superseded_by[0] ? json_string(r->superseded_by) : json_null());
    json_object_set_new(o, "capsule", cap);
    json_object_set_new(o, "score", score_json(r->score));
    if (mode == FG_SEARCH_KEYWORD) {
        json_object_set_new(o, "keyword_rank", rank_json(r->keyword_rank));
        json_object_set_new(o, "bm25", json_real(r->bm25)); /* tiny on small corpora: unrounded */
    } else if (mode == FG_SEARCH_HYBRID) {
        json_object_set_new(o, "semantic_score",
                            r->has_semantic ? score_json(r->semantic_score) : json_null());
        json_object_set_new(o, "semantic_rank", rank_json(r->semantic_rank));
        json_object_set_new(o, "keyword_rank", rank_json(r->keyword_rank));
        json_object_set_new(o, "hops", r->hops >= 0 ? json_integer(r->hops) : json_null());
    }
    return o;
}

static void h_search(struct http_req *req, struct http_resp *resp)
{
    if (api_require_or_reply(req, resp, "capsule:read"))
        return;
    json_t *body = http_json_body_or_reply(req, resp);
    if (!body)
        return;
    static const char *const known[] = {
        "query", "mode", "limit", "min_score", "type", "context_capsule_id", "max_hops", NULL};
    if (v_no_unknown(resp, body, known))
        return;
    struct fg_search_request rq = {
        .limit = FG_SEARCH_LIMIT_DEFAULT, .min_score = -1, .max_hops = FG_SEARCH_MAX_HOPS_DEFAULT};
    const char *mode = NULL;
    long long limit = 0, hops = 0;
    double min_score = 0;
    int r;
    if (v_string(resp, body, "query", 1, 1, FG_SEARCH_QUERY_MAX_CHARS, &rq.query) < 0 ||
        v_enum(resp, body, "mode", 0, fg_search_modes, &mode) < 0)
        return;
    if ((r = v_int(resp, body, "limit", 0, 1, FG_SEARCH_LIMIT_MAX, &limit)) < 0)
        return;
    if (r == 0)
        rq.limit = (int)limit;
    if ((r = v_number(resp, body, "min_score", 0, 0.0, 1.0, &min_score)) < 0)
        return;
    if (r == 0)
        rq.min_score = min_score;
    if (v_enum(resp, body, "type", 0, fg_capsule_types, &rq.type) < 0 ||
        v_uuid(resp, body, "context_capsule_id", 0, &rq.context_id) < 0)
        return;
    int hops_given = v_int(resp, body, "max_hops", 0, 0, FG_SEARCH_MAX_HOPS_MAX, &hops);
    if (hops_given < 0)
        return;
    if (hops_given == 0)
        rq.max_hops = (int)hops;
    rq.query_len = strlen(rq.query);
    rq.mode = FG_SEARCH_SEMANTIC;
    for (int i = 0; mode && fg_search_modes[i]; i++)
        if (strcmp(fg_search_modes[i], mode) == 0)
            rq.mode = (enum fg_search_mode)i;
    if (rq.mode != FG_SEARCH_HYBRID && (rq.context_id || hops_given == 0)) {
        const char *f = rq.context_id ? "context_capsule_id" : "max_hops";
        http_reply_invalid(resp, f, "%s applies to mode \"hybrid\" only", f);
        return;
    }

    const struct fg_ctx *a = api_ctx(req);
    struct fg_search_response out;
    struct fg_search_why why;
    enum fg_err e = fg_search_run(req->app, a, &rq, &out, &why);
    if (e != FG_OK) {
        /* search still fills its own why: carried over to the one mapper */
        struct fg_why w = {.field = why.position || !why.field ? "query" : why.field,
                           .what = why.what ? why.what : "capsule",
                           .actual_trust = -1,
                           .position = why.position};
        snprintf(w.message, sizeof w.message, "%s",
                 why.message[0] || e != FG_EINVAL ? why.message : "invalid search");
        api_reply_err(resp, e, &w);
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < out.n; i++)
        json_array_append_new(data, result_json(&out.v[i], rq.mode));
    json_t *meta = json_object();
    json_object_set_new(meta, "mode", json_string(fg_search_modes[rq.mode]));
    json_object_set_new(meta, "count", json_integer((json_int_t)out.n));
    json_object_set_new(meta, "took_ms", json_real(round(out.took_ms * 1000.0) / 1000.0));
    json_object_set_new(meta, "min_score",
                        out.min_score >= 0 ? score_json(out.min_score) : json_null());
    if (rq.mode == FG_SEARCH_HYBRID && rq.context_id) {
        json_object_set_new(meta, "context_capsule_id", json_string(rq.context_id));
        json_object_set_new(meta, "max_hops", json_integer(rq.max_hops));
    }
    fg_search_response_clear(&out);
    http_reply_data(resp, 200, data, meta);
}

/* ---- route table --------------------------------------------------------------------------- */

#define SEARCH_REQUEST_SCHEMA                                                                      \
    "{\"type\":\"object\",\"required\":[\"query\"],\"additionalProperties\":false,"                \
    "\"properties\":{\"query\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":10000},"         \
    "\"mode\":{\"enum\":[\"semantic\",\"keyword\",\"hybrid\"],\"default\":\"semantic\"},"          \
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,\"default\":10},"               \
    "\"min_score\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1,\"description\":"              \
    "\"cosine threshold (semantic, hybrid); default SEARCH_MIN_SCORE or the embedder's "           \
    "calibrated value (local 0.18, neural 0.7)\"},"                                                \
    "\"type\":{\"enum\":[\"knowledge\",\"code\",\"decision\",\"insight\",\"config\",\"policy\"]}," \
    "\"context_capsule_id\":{\"type\":\"string\",\"format\":\"uuid\",\"description\":"             \
    "\"hybrid only: boost results near this capsule in DERIVED_FROM hops\"},"                      \
    "\"max_hops\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":5,\"default\":2}}}"
#define SEARCH_RESULT_SCHEMA                                                                       \
    "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"capsule\",\"score\"],"     \
    "\"properties\":{\"capsule\":{\"type\":\"object\"},\"score\":{\"type\":\"number\"},"           \
    "\"semantic_score\":{\"type\":[\"number\",\"null\"]},"                                         \
    "\"semantic_rank\":{\"type\":[\"integer\",\"null\"]},"                                         \
    "\"keyword_rank\":{\"type\":[\"integer\",\"null\"]},\"bm25\":{\"type\":\"number\"},"           \
    "\"hops\":{\"type\":[\"integer\",\"null\"]}}}}"

const struct http_route api_search_routes[] = {
    {"POST", "/api/v1/capsules/search", h_search, HTTP_AUTH_REQUIRED,
     "Search readable capsules: semantic (default), keyword (BM25) or hybrid (rank fusion with "
     "an optional lineage boost)",
     "capsules", "capsule:read", 200, SEARCH_REQUEST_SCHEMA, SEARCH_RESULT_SCHEMA, NULL},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};

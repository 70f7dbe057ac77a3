/*
 * /api/v1/governance (SPEC §6, §10): proposals (create, list, get, activate, cancel), votes (cast
 * or change, list) and the governance metrics. Handlers check the permission, validate the JSON
 * shape of the input, call the rules in core/governance.c and map the outcome to HTTP:
 *   FG_EINVAL → 422 (details.field), FG_ENOTFOUND → 404, FG_EFORBIDDEN → 403 (details.rule),
 *   FG_ECONFLICT → 409 (details.rule: "status" or "deadline"), FG_EUNAVAIL → 503, else 500.
 *
 * Creating needs the permission governance:propose (roles trusted, operator, admin) AND the trust
 * level of the proposal type (configuration/policy/trust_adjustment → trusted, overlay_* →
 * standard, emergency → core); voting needs governance:vote (every role) and a trust level above
 * quarantine. With FEATURE_GOVERNANCE_ENABLED=false every route answers 404.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/authn.h"
#include "api/error.h"
#include "api/routes.h"
#include "api/validate.h"
#include "core/app.h"
#include "core/authz.h"
#include "core/capsule.h"
#include "core/governance.h"
#include "http/reply.h"
#include "util/config.h"

#define PAGE_MAX         1000000
#define PER_PAGE_DEFAULT 20
#define PER_PAGE_MAX     100

static void reply_error(struct http_resp *resp, enum fg_err e, const struct fg_gov_why *why,
                        const char *what)
{
    /* governance still fills its own why: carried over to the one mapper (no "actual" trust) */
    struct fg_why w = {.field = why->field[0] ? why->field : NULL,
                       .what = what,
                       .rule = why->rule,
                       .required_trust = why->required_trust,
                       .actual_trust = -1};
    snprintf(w.message, sizeof w.message, "%s", why->message);
    api_reply_err(resp, e, &w);
}

/* 404 for every governance route while the feature is switched off. */
static int enabled_or_reply(struct http_req *req, struct http_resp *resp)
{
    if (req->app && fg_cfg_int(&req->app->cfg->feature_governance))
        return 0;
    http_reply_error(resp, 404, "not_found",
                     "governance is disabled on this instance (FEATURE_GOVERNANCE_ENABLED=false)",
                     json_pack("{ss}", "path", req->path));
    return -1;
}

static void h_create(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {
        "title",  "description",        "type", "payload", "voting_duration_hours",
        "quorum", "approval_threshold", NULL};
    if (enabled_or_reply(req, resp) || api_require_or_reply(req, resp, "governance:propose"))
        return;
    json_t *b = http_json_body_or_reply(req, resp);
    const char *type, *title, *description;
    if (!b || v_no_unknown(resp, b, known) || v_enum(resp, b, "type", 1, fg_gov_types, &type))
        return;
    /* the trust gate of the type comes before the content is examined */
    int min = fg_gov_min_trust(type);
    if (req->principal->trust < min) {
        char msg[200];
        snprintf(msg, sizeof msg, "proposals of type %s need trust level %s (yours: %s)", type,
                 fg_trust_name(min), fg_trust_name(req->principal->trust));
        http_reply_forbidden(resp, msg,
                             json_pack("{ssssssss}", "rule", "trust", "required",
                                       fg_trust_name(min), "actual",
                                       fg_trust_name(req->principal->trust), "type", type));
        return;
    }
    double hours = 0, quorum = -1, threshold = -1;
    double min_hours = fg_cfg_dbl(&req->app->cfg->governance_min_voting_hours);
    json_t *payload = NULL;
    if (v_string(resp, b, "title", 1, 1, FG_GOV_TITLE_MAX, &title) ||
        v_string(resp, b, "description", 1, 1, FG_GOV_DESCRIPTION_MAX, &description) ||
        v_number(resp, b, "voting_duration_hours", 0, min_hours, FG_GOV_MAX_VOTING_HOURS, &hours) <
            0 ||
        v_number(resp, b, "quorum", 0, 0, 1, &quorum) < 0 ||
        v_number(resp, b, "approval_threshold", 0, 0, 1, &threshold) < 0 ||
        v_object(resp, b, "payload", 1, FG_GOV_PAYLOAD_MAX, &payload))
        return;
    if (hours <= 0) /* absent: the default, but never below the configured minimum */
        hours = FG_GOV_DEFAULT_VOTING_HOURS < min_hours ? min_hours : FG_GOV_DEFAULT_VOTING_HOURS;
    struct fg_gov_new in = {
        .title = title,
        .description = description,
        .type = type,
        .payload = payload,
        .voting_hours = hours,
        .quorum_ppm = quorum >= 0 ? fg_gov_ppm(quorum) : -1,
        .threshold_ppm = threshold >= 0 ? fg_gov_ppm(threshold) : -1,
    };
    const struct fg_ctx *a = api_ctx(req);
    struct fg_gov_why why;
    struct store_proposal p;
    memset(&p, 0, sizeof p);
    enum fg_err e = fg_gov_create(req->app, a, &in, &p, &why);
    if (e != FG_OK) {
        reply_error(resp, e, &why, "proposal");
        return;
    }
    http_reply_data(resp, 201, fg_gov_proposal_json(&p), NULL);
    store_proposal_clear(&p);
}

/* A page of proposals spends at most FG_RESPONSE_CONTENT_BUDGET bytes of payload (a policy
 * payload may be 1 MB): past it the payload is null with payload_truncated (issue 11). */
struct page_ctx {
    json_t *items;
    struct fg_content_budget budget;
};

static int page_cb(const struct store_proposal *p, void *vctx)
{
    struct page_ctx *x = vctx;
    json_t *o = fg_gov_proposal_json(p);
    size_t len = p->payload ? strlen(p->payload) : 0;
    if (fg_content_budget_take(&x->budget, p->payload, len) < len) {
        json_object_set_new(o, "payload", json_null());
        json_object_set_new(o, "payload_truncated", json_true());
        json_object_set_new(o, "payload_bytes", json_integer((json_int_t)len));
    }
    json_array_append_new(x->items, o);
    return 0;
}

static void h_list(struct http_req *req, struct http_resp *resp)
{
    if (enabled_or_reply(req, resp))
        return;
    struct store_proposal_filter f = {0};
    long long page, per_page;
    if (q_int(req, resp, "page", 1, 1, PAGE_MAX, &page) < 0 ||
        q_int(req, resp, "per_page", PER_PAGE_DEFAULT, 1, PER_PAGE_MAX, &per_page) < 0 ||
        q_enum(req, resp, "status", store_proposal_statuses, &f.status) < 0 ||
        q_enum(req, resp, "type", fg_gov_types, &f.type) < 0 ||
        q_uuid(req, resp, "proposer_id", &f.proposer_id) < 0)
        return;
    json_t *items = json_array();
    long long total = 0;
    struct page_ctx x = {.items = items};
    fg_content_budget_init(&x.budget);
    enum fg_err e = fg_gov_list(req->app, api_ctx(req), &f, page, per_page, page_cb, &x, &total);
    if (e != FG_OK) {
        json_decref(items);
        struct fg_gov_why why = {0};
        reply_error(resp, e, &why, "proposal");
        return;
    }
    http_reply_page(resp, items, total, page, per_page);
}

static const char *id_or_reply(struct http_req *req, struct http_resp *resp)
{
    const char *id = NULL;
    if (enabled_or_reply(req, resp) || p_uuid_or_reply(req, resp, "id", "proposal", &id) != 0)
        return NULL;
    return id;
}

static void h_get(struct http_req *req, struct http_resp *resp)
{
    const char *id = id_or_reply(req, resp);
    if (!id)
        return;
    struct store_proposal p;
    memset(&p, 0, sizeof p);
    struct fg_gov_why why = {0};
    enum fg_err e = fg_gov_get(req->app, api_ctx(req), id, &p);
    if (e != FG_OK) {
        reply_error(resp, e, &why, "proposal");
        return;
    }
    http_reply_data(resp, 200, fg_gov_proposal_json(&p), NULL);
    store_proposal_clear(&p);
}

static void transition(struct http_req *req, struct http_resp *resp, int activate)
{
    const char *id = id_or_reply(req, resp);
    if (!id)
        return;
    const struct fg_ctx *a = api_ctx(req);
    struct store_proposal p;
    memset(&p, 0, sizeof p);
    struct fg_gov_why why;
    enum fg_err e = activate ? fg_gov_activate(req->app, a, id, &p, &why)
                             : fg_gov_cancel(req->app, a, id, &p, &why);
    if (e != FG_OK) {
        reply_error(resp, e, &why, "proposal");
        return;
    }
    http_reply_data(resp, 200, fg_gov_proposal_json(&p), NULL);
    store_proposal_clear(&p);
}

static void h_activate(struct http_req *req, struct http_resp *resp)
{
    transition(req, resp, 1);
}

static void h_cancel(struct http_req *req, struct http_resp *resp)
{
    transition(req, resp, 0);
}

static void h_vote(struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"vote", "reasoning", NULL};
    static const char *const votes[] = {"for", "against", "abstain", NULL};
    const char *id = id_or_reply(req, resp);
    if (!id || api_require_or_reply(req, resp, "governance:vote"))
        return;
    json_t *b = http_json_body_or_reply(req, resp);
    const char *vote, *reasoning = NULL;
    if (!b || v_no_unknown(resp, b, known) || v_enum(resp, b, "vote", 1, votes, &vote) ||
        v_string(resp, b, "reasoning", 0, 0, FG_GOV_REASONING_MAX, &reasoning) < 0)
        return;
    const struct fg_ctx *a = api_ctx(req);
    struct fg_gov_why why;
    json_t *v = NULL;
    int created = 0;
    enum fg_err e = fg_gov_vote(req->app, a, id, vote, reasoning, &v, &created, &why);
    if (e != FG_OK) {
        reply_error(resp, e, &why, "proposal");
        return;
    }
    http_reply_data(resp, created ? 201 : 200, v, json_pack("{sb}", "created", created));
}

static int vote_cb(const struct store_vote *v, void *ctx)
{
    json_array_append_new(ctx, fg_gov_vote_json(v));
    return 0;
}

static void h_votes(struct http_req *req, struct http_resp *resp)
{
    const char *id = id_or_reply(req, resp);
    if (!id)
        return;
    long long page, per_page;
    if (q_int(req, resp, "page", 1, 1, PAGE_MAX, &page) < 0 ||
        q_int(req, resp, "per_page", PER_PAGE_DEFAULT, 1, PER_PAGE_MAX, &per_page) < 0)
        return;
    json_t *items = json_array();
    long long total = 0;
    enum fg_err e = fg_gov_votes(req->app, id, page, per_page, vote_cb, items, &total);
    if (e != FG_OK) {
        json_decref(items);
        struct fg_gov_why why = {0};
        reply_error(resp, e, &why, "proposal");
        return;
    }
    http_reply_page(resp, items, total, page, per_page);
}

static void h_metrics(struct http_req *req, struct http_resp *resp)
{
    if (enabled_or_reply(req, resp))
        return;
    struct store_governance_stats st;
    enum fg_err e = fg_gov_stats(req->app, &st);
    if (e != FG_OK) {
        struct fg_gov_why why = {0};
        reply_error(resp, e, &why, "proposal");
        return;
    }
    json_t *by = json_object();
    for (size_t i = 0; store_proposal_statuses[i]; i++)
        json_object_set_new(by, store_proposal_statuses[i], json_integer(st.by_status[i]));
    http_reply_data(resp, 200,
                    json_pack("{sosIsIso}", "proposals_by_status", by, "proposals_total",
                              (json_int_t)st.total, "votes_cast", (json_int_t)st.votes,
                              "mean_participation",
                              st.has_mean ? json_real(st.mean_participation) : json_null()),
                    NULL);
}

#define AUTH HTTP_AUTH_REQUIRED
#define CREATE_BODY                                                                                \
    "{\"type\":\"object\",\"required\":[\"title\",\"description\",\"type\",\"payload\"],"          \
    "\"additionalProperties\":false,\"properties\":{\"title\":{\"type\":\"string\",\"minLength\":" \
    "1,\"maxLength\":200},\"description\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":"     \
    "10000},\"type\":{\"enum\":[\"configuration\",\"policy\",\"trust_adjustment\","                \
    "\"overlay_registration\",\"overlay_update\",\"emergency\"]},\"payload\":{\"type\":"           \
    "\"object\"},\"voting_duration_hours\":{\"type\":\"number\",\"maximum\":168,\"default\":72},"  \
    "\"quorum\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1,\"default\":0.3},"                \
    "\"approval_threshold\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1,\"default\":0.5}}}"
#define VOTE_BODY                                                                                  \
    "{\"type\":\"object\",\"required\":[\"vote\"],\"additionalProperties\":false,\"properties\":"  \
    "{\"vote\":{\"enum\":[\"for\",\"against\",\"abstain\"]},\"reasoning\":{\"type\":\"string\","   \
    "\"maxLength\":2000}}}"
#define PROPOSAL_SCHEMA                                                                            \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},\"status\":{\"enum\":"      \
    "[\"draft\",\"active\",\"approved\",\"rejected\",\"executed\",\"failed\",\"cancelled\"]},"     \
    "\"eligible_weight\":{\"type\":[\"number\",\"null\"]},\"votes_for\":{\"type\":\"number\"},"    \
    "\"votes_against\":{\"type\":\"number\"},\"votes_abstain\":{\"type\":\"number\"},"             \
    "\"participation\":{\"type\":[\"number\",\"null\"]},\"approval\":{\"type\":\"number\"},"       \
    "\"review\":{\"type\":[\"object\",\"null\"]},\"execution_result\":{\"type\":[\"object\","      \
    "\"null\"]}}}"

const struct http_route api_governance_routes[] = {
    {"POST", "/api/v1/governance/proposals", h_create, AUTH,
     "Create a draft proposal (permission governance:propose and the type's trust level)",
     "governance", "governance:propose", 201, CREATE_BODY, PROPOSAL_SCHEMA, NULL},
    {"GET", "/api/v1/governance/proposals", h_list, AUTH,
     "List proposals, newest first (due ones are closed first)", "governance", NULL, 200, NULL,
     NULL, "status,type,proposer_id,page,per_page"},
    {"GET", "/api/v1/governance/proposals/{id}", h_get, AUTH,
     "A proposal with its tallies, participation, approval and advisory review", "governance", NULL,
     200, NULL, PROPOSAL_SCHEMA, NULL},
    {"POST", "/api/v1/governance/proposals/{id}/activate", h_activate, AUTH,
     "Open voting (proposer or admin; draft only): fixes the eligible weight and the deadline",
     "governance", NULL, 200, NULL, PROPOSAL_SCHEMA, NULL},
    {"POST", "/api/v1/governance/proposals/{id}/cancel", h_cancel, AUTH,
     "Cancel a draft or active proposal (proposer only, before the deadline)", "governance", NULL,
     200, NULL, PROPOSAL_SCHEMA, NULL},
    {"POST", "/api/v1/governance/proposals/{id}/votes", h_vote, AUTH,
     "Cast (201) or change (200) your vote, weighted by your trust level", "governance",
     "governance:vote", 201, VOTE_BODY, NULL, NULL},
    {"GET", "/api/v1/governance/proposals/{id}/votes", h_votes, AUTH,
     "Votes of a proposal in the order they were cast", "governance", NULL, 200, NULL, NULL,
     "page,per_page"},
    {"GET", "/api/v1/governance/metrics", h_metrics, AUTH,
     "Proposals by status, votes cast, mean participation of closed proposals", "governance", NULL,
     200, NULL, NULL, NULL},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};

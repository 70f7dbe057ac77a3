/*
 * PUT /api/v1/admin/capsules/{id}/trust (SPEC §4.2): an admin sets a capsule's trust level.
 * Audited (capsule.trust_change; refusals as "denied") and announced (capsule.updated).
 */
#include "api/authn.h"
#include "api/capsules_int.h"
#include "api/routes.h"
#include "api/validate.h"
#include "core/audit.h"
#include "core/authz.h"
#include "core/graph.h"
#include "http/reply.h"
#include "util/uuid.h"

#define ADMIN_PERMISSION "admin:system"

static void h_set_trust(struct http_req *req, struct http_resp *resp)
{
    const char *id = http_param(req, "id");
    if (api_require_or_reply(req, resp, ADMIN_PERMISSION)) {
        if (req->principal) {
            struct fg_audit_entry ae = {.action = "capsule.trust_change",
                                        .resource_type = "capsule",
                                        .resource_id = id && fg_uuid_valid(id) ? id : NULL,
                                        .outcome = "denied"};
            fg_audit_from_ctx(&ae, api_ctx(req));
            fg_audit_record(req->app, NULL, &ae);
        }
        return;
    }
    if (p_uuid_or_reply(req, resp, "id", "capsule", &id))
        return;
    json_t *body = http_json_body_or_reply(req, resp);
    if (!body)
        return;
    static const char *const known[] = {"trust_level", NULL};
    if (v_no_unknown(resp, body, known))
        return;
    /* a level name, or its exact value */
    json_t *v = json_object_get(body, "trust_level");
    int trust = -1;
    if (json_is_string(v))
        trust = fg_trust_from_name(json_string_value(v));
    else if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 100 &&
             fg_trust_from_name(fg_trust_name((int)json_integer_value(v))) == json_integer_value(v))
        trust = (int)json_integer_value(v);
    if (trust < 0) {
        http_reply_invalid(resp, "trust_level",
                           v ? "trust_level must be one of: core, trusted, standard, sandbox, "
                               "quarantine"
                             : "trust_level is required");
        return;
    }
    const struct fg_ctx *a = api_ctx(req);
    struct fg_capsule_why why = {0};
    struct store_capsule cap = {0};
    enum fg_err e = fg_capsule_set_trust(req->app, a, id, trust, &cap, &why);
    if (e != FG_OK) {
        api_capsule_error(resp, e, &why);
        return;
    }
    json_t *o = fg_capsule_json(&cap, 0);
    fg_graph_annotate(req->app, a, o);
    http_reply_data(resp, 200, o, NULL);
    store_capsule_clear(&cap);
}

const struct http_route api_admin_capsule_routes[] = {
    {"PUT", "/api/v1/admin/capsules/{id}/trust", h_set_trust, HTTP_AUTH_REQUIRED,
     "Set a capsule's trust level (admin; audited)", "admin", ADMIN_PERMISSION, 200,
     "{\"type\":\"object\",\"required\":[\"trust_level\"],\"properties\":{\"trust_level\":"
     "{\"enum\":[\"core\",\"trusted\",\"standard\",\"sandbox\",\"quarantine\",100,80,60,40,0]}}}",
     NULL, NULL},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};

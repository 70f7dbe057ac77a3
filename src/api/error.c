/*
 * The one fg_err → HTTP error mapping (see error.h). Before it, seven handlers each carried a
 * copy and the same unavailable store reached clients with four different texts.
 */
#include "api/error.h"

#include <string.h>

#include <jansson.h>

#include "core/authz.h"
#include "http/reply.h"

static const char *text_or(const struct fg_why *why, const char *fallback)
{
    return why && why->message[0] ? why->message : fallback;
}

void api_reply_err(struct http_resp *resp, enum fg_err e, const struct fg_why *why)
{
    static const struct fg_why none = {.actual_trust = -1};
    if (!why)
        why = &none;
    switch (e) {
    case FG_EINVAL:
        if (why->position) /* query syntax: details name the character */
            http_reply_error(resp, 422, "validation_error", text_or(why, "invalid input"),
                             json_pack("{sssssI}", "field", why->field ? why->field : "body",
                                       "reason", text_or(why, "invalid input"), "position",
                                       (json_int_t)why->position));
        else
            http_reply_invalid(resp, why->field ? why->field : "body", "%s",
                               text_or(why, "invalid input"));
        break;
    case FG_ENOTFOUND:
        http_reply_not_found(resp, why->what ? why->what : "resource");
        break;
    case FG_EFORBIDDEN: {
        json_t *d = json_pack("{ss}", "rule", why->rule ? why->rule : "forbidden");
        if (why->rule && strcmp(why->rule, "trust") == 0) {
            json_object_set_new(d, "required", json_string(fg_trust_name(why->required_trust)));
            if (why->actual_trust >= 0)
                json_object_set_new(d, "actual", json_string(fg_trust_name(why->actual_trust)));
        }
        http_reply_forbidden(resp, text_or(why, "forbidden"), d);
        break;
    }
    case FG_ECONFLICT: {
        json_t *d = json_pack("{ss}", "rule", why->rule ? why->rule : "conflict");
        if (why->rule && strcmp(why->rule, "live_children") == 0)
            json_object_set_new(d, "live_children", json_integer(why->children));
        if (why->edge_id && why->edge_id[0])
            json_object_set_new(d, "edge_id", json_string(why->edge_id));
        http_reply_conflict(resp, text_or(why, "conflict"), d);
        break;
    }
    case FG_EUNAVAIL:
    case FG_ETIMEOUT:
        http_reply_unavailable(resp, text_or(why, API_UNAVAILABLE_MSG));
        break;
    default:
        http_reply_internal(resp);
        break;
    }
}

/* Placeholder audit/event sinks until the outbox and the audit table land (see audit.h). */
#include "core/audit.h"
#include "core/events.h"
#include "http/http.h"
#include "util/log.h"

__attribute__((weak)) enum fg_err fg_audit_record(struct fg_app *app, struct store_conn *c,
                                                  const struct fg_audit_entry *e)
{
    (void)app;
    (void)c;
    fg_log(FG_LOG_INFO, "audit", FG_LF_STR("action", e->action),
           FG_LF_STR("resource_type", e->resource_type),
           FG_LF_STR("resource_id", e->resource_id), FG_LF_STR("actor_id", e->actor_id),
           FG_LF_STR("outcome", e->outcome), FG_LF_STR("correlation_id", e->correlation_id),
           FG_LF_END);
    return FG_OK;
}

__attribute__((weak)) void fg_audit_from_req(struct fg_audit_entry *e, struct http_req *req)
{
    e->actor_id = req->principal ? req->principal->user_id : NULL;
    e->client_ip = req->client_ip;
    e->correlation_id = req->correlation_id;
}

__attribute__((weak)) enum fg_err fg_event_emit(struct fg_app *app, struct store_conn *c,
                                                const char *type, const char *resource_id,
                                                json_t *payload)
{
    (void)app;
    (void)c;
    (void)payload;
    fg_log(FG_LOG_DEBUG, "event", FG_LF_STR("type", type), FG_LF_STR("resource_id", resource_id),
           FG_LF_END);
    return FG_OK;
}

/*
 * POST /api/v1/admin/retention/run[?dry_run=true]: one retention pass now (core/retention.h),
 * as the RETENTION_* settings say; the periodic job does the same every RETENTION_INTERVAL_S.
 * Admin only (admin:system). The pass is audited like any purge (audit.retention_purged when
 * audit entries are cut) and counted in forge_retention_purged_total.
 */
#include <string.h>

#include "api/authn.h"
#include "api/capsules_int.h"
#include "api/routes.h"
#include "core/app.h"
#include "core/authz.h"
#include "core/retention.h"
#include "http/reply.h"
#include "util/config.h"
#include "util/time.h"

static void h_run(struct http_req *req, struct http_resp *resp)
{
    if (api_require_or_reply(req, resp, "admin:system"))
        return;
    const char *d = http_query(req, "dry_run");
    int dry = 0;
    if (d) {
        if (strcmp(d, "true") == 0 || strcmp(d, "1") == 0) {
            dry = 1;
        } else if (strcmp(d, "false") != 0 && strcmp(d, "0") != 0) {
            http_reply_invalid(resp, "dry_run", "dry_run must be true or false");
            return;
        }
    }
    struct fg_retention_report r;
    enum fg_err e = fg_retention_run(req->app, api_ctx(req), fg_now_ms(), dry, &r);
    if (e != FG_OK) {
        struct fg_capsule_why why = {0};
        api_capsule_error(resp, e, &why);
        return;
    }
    const struct fg_config *cfg = req->app->cfg;
    json_t *o = json_pack(
        "{sbs{sIsIsI}s{sIsIsI}}", "dry_run", dry, "removed", "capsules", (json_int_t)r.capsules,
        "outbox", (json_int_t)r.outbox, "audit", (json_int_t)r.audit, "days", "capsules",
        (json_int_t)cfg->retention_deleted_capsules_days, "outbox",
        (json_int_t)cfg->retention_outbox_days, "audit", (json_int_t)cfg->retention_audit_days);
    http_reply_data(resp, 200, o, NULL);
}

const struct http_route api_admin_retention_routes[] = {
    {"POST", "/api/v1/admin/retention/run", h_run, HTTP_AUTH_REQUIRED | HTTP_LONG,
     "Run the retention purges once (RETENTION_* settings); dry_run=true only counts", "admin",
     "admin:system", 200, NULL,
     "{\"type\":\"object\",\"properties\":{\"dry_run\":{\"type\":\"boolean\"},\"removed\":"
     "{\"type\":\"object\"},\"days\":{\"type\":\"object\"}}}",
     "dry_run"},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};

/*
 * `forge admin retention [--dry-run] [--json]`: one retention pass (core/retention.h) on the
 * configured store, as the RETENTION_* settings say; with --dry-run the same work is rolled back
 * and only the counts are printed. Exit 0 on success, 1 when the store failed, 2 on bad usage or
 * configuration. Safe while `forge serve` runs (batches are short write transactions).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/commands.h"
#include "core/app.h"
#include "core/retention.h"
#include "store/store.h"
#include "util/config.h"
#include "util/time.h"

int cmd_admin_retention(int argc, char **argv)
{
    int dry = 0, as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else {
            fprintf(stderr, "usage: forge admin retention [--dry-run] [--json]\n");
            return 2;
        }
    }
    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    char err[512];
    struct fg_app app;
    memset(&app, 0, sizeof app);
    app.cfg = &cfg;
    if (store_open(&cfg, &app.store, err, sizeof err) != FG_OK) {
        fprintf(stderr, "forge admin retention: %s\n", err);
        fg_config_free(&cfg);
        return 1;
    }
    int applied = 0;
    if (app.store->ops->migrate(app.store, &applied) != FG_OK) {
        fprintf(stderr, "forge admin retention: migrations failed (see log)\n");
        store_close(app.store);
        fg_config_free(&cfg);
        return 1;
    }
    struct fg_retention_report r;
    struct fg_job_ctx job;
    enum fg_err e = fg_retention_run(&app, fg_ctx_job(&job, FG_CLI_ACTOR), fg_now_ms(), dry, &r);
    store_close(app.store);
    if (e != FG_OK) {
        fprintf(stderr, "forge admin retention: store error (%s)\n", fg_err_name(e));
        fg_config_free(&cfg);
        return 1;
    }
    if (as_json) {
        json_t *o = json_pack(
            "{sbsIsIsIsIsIsIsI}", "dry_run", dry, "capsules", (json_int_t)r.capsules, "outbox",
            (json_int_t)r.outbox, "audit", (json_int_t)r.audit, "capsules_days",
            (json_int_t)cfg.retention_deleted_capsules_days, "outbox_days",
            (json_int_t)cfg.retention_outbox_days, "audit_days",
            (json_int_t)cfg.retention_audit_days, "audit_base_seq", (json_int_t)r.audit_base_seq);
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("%s: %lld soft-deleted capsules (RETENTION_DELETED_CAPSULES_DAYS=%lld), %lld "
               "delivered events (RETENTION_OUTBOX_DAYS=%lld), %lld audit entries "
               "(RETENTION_AUDIT_DAYS=%lld)\n",
               dry ? "would remove" : "removed", r.capsules, cfg.retention_deleted_capsules_days,
               r.outbox, cfg.retention_outbox_days, r.audit, cfg.retention_audit_days);
    }
    fg_config_free(&cfg);
    return 0;
}

/*
 * GDPR administration (docs/privacy.md):
 *   `forge admin export-user ID|EMAIL [--out FILE]`: writes the same JSON document as
 *   GET /api/v1/me/data (schema forge.user-export) for one account, streamed page by page.
 *   cli_privacy_reapply: run by `forge restore` after the data is back, re-applies every erasure
 *   recorded in the ledger whose account is not anonymised in the restored data.
 * Exit 0 done, 1 failure (no such user, store error), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/app.h"
#include "core/identity.h"
#include "core/privacy.h"
#include "store/store.h"
#include "store/users.h"
#include "util/config.h"

static int open_app(struct fg_config *cfg, struct fg_app *app, const char *who)
{
    char err[512];
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    int applied = 0;
    if (store_open(cfg, &app->store, err, sizeof err) != FG_OK) {
        fprintf(stderr, "forge %s: %s\n", who, err);
        return -1;
    }
    if (app->store->ops->migrate(app->store, &applied) != FG_OK) {
        fprintf(stderr, "forge %s: migrations failed\n", who);
        store_close(app->store);
        app->store = NULL;
        return -1;
    }
    return 0;
}

int cli_privacy_reapply(struct fg_config *cfg)
{
    struct fg_app app;
    if (open_app(cfg, &app, "restore") != 0)
        return 1;
    int applied = 0;
    struct fg_job_ctx job;
    enum fg_err e = fg_privacy_reapply(&app, fg_ctx_job(&job, FG_CLI_ACTOR), &applied);
    store_close(app.store);
    if (e != FG_OK) {
        fprintf(stderr,
                "forge restore: re-applying the erasure ledger failed (%s); the server re-applies "
                "it at start\n",
                fg_err_name(e));
        return 1;
    }
    printf("forge restore: erasure ledger re-applied (%d erasure(s) newer than the backup)\n",
           applied);
    return 0;
}

int cmd_admin_export_user(int argc, char **argv)
{
    const char *who = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strncmp(argv[i], "--out=", 6) == 0)
            out = argv[i] + 6;
        else if (argv[i][0] != '-' && !who)
            who = argv[i];
        else
            who = NULL, i = argc;
    }
    if (!who) {
        fprintf(stderr, "usage: forge admin export-user ID|EMAIL [--out FILE]\n");
        return 2;
    }
    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    struct fg_app app;
    if (open_app(&cfg, &app, "admin export-user") != 0) {
        fg_config_free(&cfg);
        return 1;
    }
    rc = 1;
    char id[37] = "";
    struct store_user u;
    enum fg_err e;
    struct store_conn *c = store_acquire(app.store, &e);
    if (c) {
        if (strchr(who, '@')) {
            char email[STORE_EMAIL_MAX + 1];
            e = fg_email_normalize(who, email, sizeof email) == 0
                    ? app.store->users->get_by_email(c, email, &u)
                    : FG_ENOTFOUND;
        } else {
            e = app.store->users->get_by_id(c, who, &u);
        }
        store_release(app.store, c);
        if (e == FG_OK)
            snprintf(id, sizeof id, "%s", u.id);
    }
    FILE *f = NULL;
    struct fg_export *x = NULL;
    if (e == FG_ENOTFOUND) {
        fprintf(stderr, "forge admin export-user: no such user\n");
        goto done;
    }
    if (e != FG_OK || !(x = fg_export_open(&app, id, &e))) {
        fprintf(stderr, "forge admin export-user: failed (%s)\n", fg_err_name(e));
        goto done;
    }
    f = out ? fopen(out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "forge admin export-user: cannot write '%s'\n", out);
        goto done;
    }
    char buf[65536];
    ssize_t n;
    while ((n = fg_export_read(x, buf, sizeof buf)) > 0)
        if (fwrite(buf, 1, (size_t)n, f) != (size_t)n) {
            n = -1;
            break;
        }
    if (n < 0) {
        fprintf(stderr, "forge admin export-user: export incomplete\n");
        goto done;
    }
    rc = 0;
done:
    if (f && f != stdout && fclose(f) != 0)
        rc = 1;
    fg_export_close(x);
    store_close(app.store);
    fg_config_free(&cfg);
    return rc;
}

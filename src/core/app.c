/*
 * Application lifecycle for `forge serve`: open the store and migrate, start subsystems, build the
 * router. Subsystems add their start/stop here.
 */
#include "core/app.h"

#include <stdio.h>
#include <string.h>

#include "api/routes.h"
#include "core/metrics.h"
#include "http/router.h"
#include "store/store.h"
#include "util/log.h"

int fg_app_start(struct fg_app *app, struct fg_config *cfg, char *err, size_t errlen)
{
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    fg_core_metrics_init(cfg->embedding_provider);
    app->router = http_router_new(api_route_tables);
    if (!app->router) {
        snprintf(err, errlen, "internal: malformed route table");
        return -1;
    }
    if (store_open(cfg, &app->store, err, errlen) != FG_OK)
        return -1;
    int applied = 0;
    if (app->store->ops->migrate(app->store, &applied) != FG_OK) {
        snprintf(err, errlen, "DATABASE_URL: migrations failed (see log)");
        return -1;
    }
    return 0;
}

void fg_app_stop(struct fg_app *app)
{
    store_close(app->store);
    app->store = NULL;
    http_router_free(app->router);
    app->router = NULL;
}

/*
 * Application lifecycle for `forge serve`: open the store and migrate, start subsystems, build the
 * router. Subsystems add their start/stop here. The composition root: it sits above the
 * layers and may include any of them (docs/CONTRIBUTING.md, layering).
 */
#include "app/app.h"

#include <stdio.h>
#include <string.h>

#include "api/routes.h"
#include "core/capsule.h"
#include "core/crypt.h"
#include "core/delivery.h"
#include "core/events.h"
#include "core/governance.h"
#include "core/identity.h"
#include "core/metrics.h"
#include "core/retention.h"
#include "core/overlay.h"
#include "core/search.h"
#include "core/privacy.h"
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
    long long sealed = 0; /* rows written before encryption at rest: sealed in place (resumable) */
    if (fg_crypt_encrypt_existing(app->store, 200, &sealed) != FG_OK) {
        snprintf(err, errlen,
                 "FORGE_MASTER_KEY: personal data cannot be opened or sealed with this "
                 "key store and master key (see log; after a restore, restore the "
                 "key store too: forge restore --keys)");
        return -1;
    }
    if (fg_identity_start(app, err, errlen) != 0) /* shared state, IP blocks, bootstrap admin */
        return -1;
    if (fg_gov_start(app, err, errlen) != 0) /* persisted settings, proposal closing thread */
        return -1;
    fg_capsules_start(app);                     /* live capsule gauge */
    if (fg_search_start(app, err, errlen) != 0) /* embedder; index loads in the background */
        return -1;
    fg_events_start(app);                          /* outbox backlog gauge */
    if (fg_retention_start(app, err, errlen) != 0) /* RETENTION_* purges, when any is set */
        return -1;
    /* overlays: sandbox pool (workers start on first use) and the event-hook dispatcher */
    if (fg_overlay_start(app, err, errlen) != 0)
        return -1;
    /* GDPR: finish interrupted erasures, re-apply the erasure ledger (docs/privacy.md) */
    if (fg_privacy_start(app, err, errlen) != 0)
        return -1;
    if (cfg->kafka_bootstrap_servers[0]) {
        struct fg_delivery_config dc = {0};
        dc.bootstrap_servers = cfg->kafka_bootstrap_servers;
        dc.topic_prefix = cfg->kafka_topic_prefix;
        app->events = fg_delivery_start(app->store, &dc, err, errlen);
        if (!app->events)
            return -1;
        fg_log(FG_LOG_INFO, "event_delivery_started", FG_LF_STR("sink", "kafka"), FG_LF_END);
    }
    return 0;
}

void fg_app_stop(struct fg_app *app)
{
    fg_gov_stop(app); /* closing thread: before the store and event delivery go */
    fg_retention_stop(app);
    if (app->events) {
        fg_delivery_stop(app->events, 5000); /* flush what is in flight */
        app->events = NULL;
    }
    /* overlays: the event-hook dispatcher stops, the sandbox workers are killed */
    fg_overlay_stop(app);
    fg_search_stop(app); /* follower stops, final index checkpoint */
    fg_identity_stop(app);
    store_close(app->store);
    app->store = NULL;
    http_router_free(app->router);
    app->router = NULL;
}

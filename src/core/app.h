/*
 * The application context: one per process, built by `forge serve` (src/app/app.c) and reached
 * from every request (req->app). Subsystems hang their handles here. Fields are set before the
 * HTTP server starts and are read-only afterwards, except where a field says otherwise.
 */
#ifndef CORE_APP_H
#define CORE_APP_H

#include <stdatomic.h>

#include "util/config.h"

struct store;
struct http_router;
struct fg_app_metrics;
struct fg_shared_state;
struct fg_delivery;
struct fg_retention;

struct fg_app {
    struct fg_config *cfg;
    struct store *store; /* src/store/store.h */
    struct http_router *router;
    struct fg_app_metrics *metrics;
    void *identity;                 /* identity subsystem state (src/core/identity.h) */
    struct fg_shared_state *shared; /* short-lived shared state (src/core/shared_state.h) */
    void *search;                   /* search subsystem state (src/core/search.h) */
    struct fg_delivery *events;     /* Kafka delivery worker or NULL (src/core/delivery.h) */
    void *governance;               /* governance state (src/core/governance.h) */
    atomic_int ready;               /* 1 once the store is open and the index loaded */
    atomic_int draining;            /* 1 after SIGTERM: responses close their connection */
    double started_mono;
    struct fg_retention *retention; /* retention job or NULL (src/core/retention.h) */
    void *overlays;                 /* overlay subsystem (src/core/overlay.h) */
};

#endif

/*
 * Domain events (SPEC §9): typed, written to the outbox in the same transaction as the change;
 * delivered later (Kafka when configured).
 *
 * Stored in the outbox table (store/audit.h): with a connection, inside the caller's transaction
 * (the event commits or rolls back with the change); with c == NULL, on its own. Delivery (Kafka)
 * reads pending rows in seq order and marks them delivered.
 */
#ifndef CORE_EVENTS_H
#define CORE_EVENTS_H

#include <jansson.h>

#include "util/err.h"

struct fg_app;
struct store_conn;

/** `type`: "capsule.created", "user.registered", ... `payload` is borrowed (may be NULL). */
enum fg_err fg_event_emit(struct fg_app *app, struct store_conn *c, const char *type,
                          const char *resource_id, json_t *payload);

/** Sets the outbox backlog gauge from the store now and keeps it fresh at scrape time. */
void fg_events_start(struct fg_app *app);

#endif

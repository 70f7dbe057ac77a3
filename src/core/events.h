/*
 * Domain events (SPEC §9): typed, written to the outbox in the same transaction as the change;
 * delivered later (Kafka when configured).
 *
 * OWNER: knowledge-engine work (issue 4) makes the outbox real. Until then fg_event_emit logs the
 * event type and resource id at debug level and returns FG_OK.
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

#endif

/*
 * Immune system (SPEC §7): records responses to threats and enforces IP blocks.
 *
 * IP blocking (§7.2): every failed login counts against the client IP in a fixed window
 * (IP_FAILURE_WINDOW_S, starting at the first failure); at IP_MAX_FAILURES the IP is blocked for
 * IP_BLOCK_S — "ipb:<ip>" in the shared state, checked by the first request guard (403 on every
 * route except liveness) — and the block is recorded as an immune response (threat brute_force,
 * level high, target ip, action block_ip) with its expiry, so a restart reloads it.
 */
#ifndef CORE_IMMUNE_H
#define CORE_IMMUNE_H

#include <stdint.h>

#include <jansson.h>

#include "store/immune.h"
#include "util/err.h"

struct fg_app;
struct fg_ctx;
struct store_conn;

/**
 * Records a response: store row, audit entry, `system.immune_response` event and the
 * forge_immune_responses_total metric. `c`: a connection inside the caller's transaction, or
 * NULL for a transaction of its own. `ctx` may be NULL (background jobs). id and created_at are
 * filled when empty; *r is updated with them.
 */
enum fg_err fg_immune_record(struct fg_app *app, struct store_conn *c, const struct fg_ctx *ctx,
                             struct store_immune_response *r);

/** 1 if `ip` is blocked (*until_ms set), 0 if not, -1 if the shared state is unavailable. */
int fg_immune_ip_blocked(struct fg_app *app, const char *ip, int64_t *until_ms);

/** Counts one failed login from the request's client IP; blocks the IP at the threshold. */
void fg_immune_login_failure(struct fg_app *app, const struct fg_ctx *ctx);

/** Reloads unexpired IP blocks from the store into the shared state (start). */
enum fg_err fg_immune_start(struct fg_app *app);

/** JSON of a response (new reference). */
json_t *fg_immune_response_json(const struct store_immune_response *r);

#endif

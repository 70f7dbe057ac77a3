/*
 * Store area: immune-system responses (SPEC §7) — each automatic or manual response with its
 * threat type, level, target, action, reason and time; IP blocks are responses with
 * action "block_ip" and an expiry. Implemented per backend (store/sqlite/immune.c).
 */
#ifndef STORE_IMMUNE_H
#define STORE_IMMUNE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/err.h"

struct store_conn;

struct store_immune_response {
    char id[37];
    char threat_type[32]; /* brute_force | overlay_failure | manual | ... */
    char level[16];       /* low | medium | high | critical */
    char target_type[16]; /* ip | user | overlay */
    char target_id[128];
    char action[32]; /* block_ip | quarantine_user | quarantine_overlay | ... */
    char reason[512];
    char *details; /* JSON object text or NULL ("{}"); borrowed on record, malloc'd on list */
    int64_t created_at;
    int64_t expires_at; /* 0 = no expiry */
};

struct store_immune_filter {
    const char *threat_type; /* NULL = any */
    const char *target_type; /* NULL = any */
    int64_t since;           /* created_at ≥ since; 0 = any */
};

struct store_immune_ops {
    enum fg_err (*record)(struct store_conn *c, const struct store_immune_response *r);
    /** A page, newest first. *items is malloc'd; free with store_immune_free_list. */
    enum fg_err (*list)(struct store_conn *c, const struct store_immune_filter *f, long long offset,
                        long long limit, struct store_immune_response **items, size_t *n,
                        long long *total);
    /** Calls fn for each response with `action` whose expiry is after `now`. */
    enum fg_err (*active)(struct store_conn *c, const char *action, int64_t now,
                          void (*fn)(void *ctx, const struct store_immune_response *r), void *ctx);
};

/** Frees a list returned by store_immune_ops.list. */
static inline void store_immune_free_list(struct store_immune_response *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        free(items[i].details);
    free(items);
}

#endif

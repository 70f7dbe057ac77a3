/*
 * Audit log (SPEC §9): append-only, hash-chained. Every security-relevant action calls
 * fg_audit_record, inside the transaction of the change when there is one.
 *
 * Stored by store/audit.h (table audit_log); the hash and its canonical serialisation are defined
 * in core/audit.c. Verified by `GET /api/v1/admin/audit/verify` and `forge admin audit-verify`.
 */
#ifndef CORE_AUDIT_H
#define CORE_AUDIT_H

#include <jansson.h>

#include "util/err.h"

struct fg_app;
struct store;
struct store_conn;
struct store_audit_row;
struct fg_ctx;

struct fg_audit_entry {
    const char *actor_id;       /* user id, or NULL for anonymous/system */
    const char *action;         /* "capsule.create", "auth.login_failed", ... */
    const char *resource_type;  /* "capsule", "user", "proposal", ... */
    const char *resource_id;    /* may be NULL */
    const char *client_ip;      /* may be NULL; stored encrypted once §9 encryption lands */
    const char *correlation_id; /* may be NULL */
    const char *outcome;        /* "success" | "failure" | "denied" */
    json_t *details;            /* borrowed; may be NULL. Never secrets. */
};

/**
 * Appends an entry. `c`: a connection inside the caller's transaction, or NULL to write in a
 * transaction of its own.
 */
enum fg_err fg_audit_record(struct fg_app *app, struct store_conn *c,
                            const struct fg_audit_entry *e);

/** Fills actor, ip and correlation id from a request. */
void fg_audit_from_ctx(struct fg_audit_entry *e, const struct fg_ctx *ctx);

/** SHA-256 (hex) of an entry's canonical serialisation, prev_hash included. */
void fg_audit_hash(const struct store_audit_row *row, char out[65]);

struct fg_audit_verify {
    int valid;
    long long entries;       /* entries present */
    long long first_bad_seq; /* 0 when valid */
    char reason[96];         /* what was wrong at first_bad_seq */
    long long head_seq;      /* the recorded head: keep a copy elsewhere to detect rewrites */
    char head_hash[65];
};

/** Walks the whole chain in one snapshot: edited, removed, reordered or inserted entries make
 * it invalid. Returns a store error only when the log could not be read. */
enum fg_err fg_audit_verify(struct store *s, struct fg_audit_verify *out);

#endif

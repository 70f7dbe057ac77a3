/*
 * Audit log (SPEC §9): append-only, hash-chained. Every security-relevant action calls
 * fg_audit_record, inside the transaction of the change when there is one.
 *
 * OWNER: knowledge-engine work (issue 4) makes this real (store/audit.h + sqlite). Until then
 * fg_audit_record logs the entry (no PII) and returns FG_OK.
 */
#ifndef CORE_AUDIT_H
#define CORE_AUDIT_H

#include <jansson.h>

#include "util/err.h"

struct fg_app;
struct store_conn;
struct http_req;

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
void fg_audit_from_req(struct fg_audit_entry *e, struct http_req *req);

#endif

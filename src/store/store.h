/*
 * The store: one interface over the embedded SQLite file and PostgreSQL. Nothing above src/store/
 * writes SQL. A `struct store` is shared by all threads; work is done on a `struct store_conn`
 * taken from the store's pool (store_acquire) and given back (store_release). A write that must be
 * atomic runs between store_begin and store_commit on one connection; every area function takes
 * the connection so several areas (capsule + audit + outbox) can share one transaction.
 *
 * Areas (one header each, one vtable each, implemented per backend):
 *   store/users.h      accounts, sessions/refresh tokens, MFA          (identity)
 *   store/capsules.h   capsules, revisions, lineage, full text         (knowledge engine)
 *   store/audit.h      hash-chained audit log, event outbox             (audit, events)
 *   store/immune.h     immune responses, IP blocks                      (immune system)
 *   store/governance.h proposals and votes                              (governance)
 *   store/search.h     full text, hop neighbourhood, index scan         (search)
 *   store/graph.h      typed edges, traversal, revision lookups         (knowledge graph)
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stddef.h>

#include "util/err.h"

struct fg_config;
struct store;
struct store_conn;

struct store_ops {
    const char *name; /* "sqlite" | "postgresql" */
    void (*close)(struct store *s);
    /** Applies pending migrations; *applied = how many. */
    enum fg_err (*migrate)(struct store *s, int *applied);
    /** Cheap reachability check (readiness). */
    enum fg_err (*ping)(struct store *s);
    struct store_conn *(*acquire)(struct store *s, enum fg_err *err);
    void (*release)(struct store *s, struct store_conn *c);
    /** Starts a write transaction (SQLite: BEGIN IMMEDIATE). */
    enum fg_err (*begin)(struct store_conn *c);
    enum fg_err (*commit)(struct store_conn *c);
    void (*rollback)(struct store_conn *c);
    /** Consistent online copy to `path` (SQLite backup API; PostgreSQL: pg_dump). */
    enum fg_err (*backup)(struct store *s, const char *path, char *err, size_t errlen);
    /** Bytes used by the store, or -1. */
    long long (*size_bytes)(struct store *s);
};

struct store_user_ops;
struct store_capsule_ops;
struct store_audit_ops;
struct store_immune_ops;
struct store_governance_ops;
struct store_search_ops;
struct store_retention_ops;
struct store_graph_ops;
struct store_overlay_ops;
struct store_privacy_ops;

struct store {
    const struct store_ops *ops;
    const struct store_user_ops *users;
    const struct store_capsule_ops *capsules;
    const struct store_audit_ops *audit;
    const struct store_immune_ops *immune;
    const struct store_governance_ops *governance;
    const struct store_search_ops *search;       /* store/search.h (NULL: backend has no search) */
    void *impl;                                  /* backend state */
    const struct store_retention_ops *retention; /* store/retention.h */
    const struct store_graph_ops *graph;         /* store/graph.h: typed edges, time travel */
    const struct store_overlay_ops *overlays;    /* store/overlays.h */
    const struct store_privacy_ops *privacy;     /* store/privacy.h: GDPR export, erasure */
};

/**
 * Opens the store named by DATABASE_URL (sqlite:///path, postgresql://...). Does not migrate.
 * On failure returns an error and a message (no secrets) in err.
 */
enum fg_err store_open(const struct fg_config *cfg, struct store **out, char *err, size_t errlen);

/* Thin wrappers over the vtable. */
static inline void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}
static inline struct store_conn *store_acquire(struct store *s, enum fg_err *err)
{
    return s->ops->acquire(s, err);
}
static inline void store_release(struct store *s, struct store_conn *c)
{
    if (c)
        s->ops->release(s, c);
}
static inline enum fg_err store_begin(struct store *s, struct store_conn *c)
{
    return s->ops->begin(c);
}
static inline enum fg_err store_commit(struct store *s, struct store_conn *c)
{
    return s->ops->commit(c);
}
static inline void store_rollback(struct store *s, struct store_conn *c)
{
    s->ops->rollback(c);
}

/** A write transaction on a connection of its own: acquired and begun; NULL and *err on failure. */
static inline struct store_conn *store_tx_open(struct store *s, enum fg_err *err)
{
    struct store_conn *c = store_acquire(s, err);
    if (!c)
        return NULL;
    if ((*err = store_begin(s, c)) != FG_OK) {
        store_release(s, c);
        return NULL;
    }
    return c;
}
/** Ends a store_tx_open transaction: commits when e == FG_OK, else rolls back; releases c.
 * Returns the final status (the commit's failure, or e). c NULL: returns e. */
static inline enum fg_err store_tx_close(struct store *s, struct store_conn *c, enum fg_err e)
{
    if (!c)
        return e;
    if (e == FG_OK)
        e = store_commit(s, c);
    else
        store_rollback(s, c);
    store_release(s, c);
    return e;
}

#endif

/* Private to the PostgreSQL backend: connection wrapper and query helpers for its area files. */
#ifndef STORE_PG_INT_H
#define STORE_PG_INT_H

#include <libpq-fe.h>

#include "store/store.h"

/* A pooled connection. `struct store_conn *` handed to callers points at this struct. */
struct pg_conn {
    PGconn *pg;
    struct pg_conn *next_free;
    int in_tx;
    int broken; /* set when a query failed at the connection level; reset on release */
};

static inline struct pg_conn *pg_conn_of(struct store_conn *c)
{
    return (struct pg_conn *)(void *)c;
}

/**
 * Runs a parameterised statement (text parameters, NULL = SQL NULL). Returns the result (caller
 * PQclear()s it) or NULL on error with *err set: FG_ECONFLICT for unique/foreign-key violations,
 * FG_EUNAVAIL when the connection is gone, FG_EDB otherwise. Never interpolates values into SQL.
 */
PGresult *pg_exec(struct store_conn *c, const char *sql, int nparams, const char *const *params,
                  enum fg_err *err);

#endif

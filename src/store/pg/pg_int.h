/* Private to the PostgreSQL backend: connection wrapper and query helpers for its area files. */
#ifndef STORE_PG_INT_H
#define STORE_PG_INT_H

#include <stdint.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"

/* A pooled connection. `struct store_conn *` handed to callers points at this struct. */
/* A statement this connection has prepared (pg_exec): the text, its hash and the server name. */
struct pg_stmt {
    uint64_t hash;
    char *sql;
    char name[16];
};

#define PG_STMT_CACHE_MAX 256 /* prepared statements per connection; beyond, unnamed (parsed) */

struct pg_conn {
    PGconn *pg;
    struct pg_conn *next_free;
    int in_tx;
    int broken; /* set when a query failed at the connection level; reset on release */
    struct pg_stmt *stmts;
    size_t nstmts;
    unsigned next_stmt; /* names "fg<n>" */
    int stmts_stale;    /* a statement vanished or went stale in a transaction: reset on release */
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

/* ---- value helpers for the area files (text protocol) ---------------------------------- */

/** A decimal integer parameter: `struct pg_num n = pg_num(v);` then pass n.s. */
struct pg_num {
    char s[24];
};
static inline struct pg_num pg_num(long long v)
{
    struct pg_num n;
    snprintf(n.s, sizeof n.s, "%lld", v);
    return n;
}

/** Column (row, col) as an integer; SQL NULL or unparsable → 0. */
static inline long long pg_get_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/** Copies column (row, col) into dst (NULL → ""), truncating to cap. */
static inline void pg_get_text(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", PQgetvalue(r, row, col));
}

/** Column (row, col) as borrowed text (valid until PQclear), NULL for SQL NULL. */
static inline const char *pg_get_opt(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* Defined in store/pg/capsules.c. */
/** bytea parameter text ("\x" + hex) for `len` bytes; caller frees with free(). */
char *pg_bytea_hex(const void *blob, size_t len);
/** Decodes a bytea column value (hex or escape output); caller frees with free(); NULL when
 * malformed. */
void *pg_bytea_decode(const char *text, size_t textlen, size_t *len);
/** Takes forge_write_lock() (migration 020): the transaction-scoped lock that serialises the
 * ordered logs (capsule change feed, audit chain, outbox). Take it before other row locks. */
enum fg_err pg_write_lock(struct store_conn *c);

/** pg_write_lock when a transaction is open on `c`, else nothing (single statements need none). */
enum fg_err pg_tx_write_lock(struct store_conn *c);

/** Runs a statement and drops its result; *changes (may be NULL) = rows changed (0 on error). */
enum fg_err pg_run(struct store_conn *c, const char *sql, int n, const char *const *p,
                   long long *changes);

/** pg_tx_write_lock, then pg_run: a change that must follow the writers' lock order. */
enum fg_err pg_run_locked(struct store_conn *c, const char *sql, int n, const char *const *p,
                          long long *changes);

/** Rows changed by an INSERT/UPDATE/DELETE result. */
static inline long long pg_changes(PGresult *r)
{
    const char *s = PQcmdTuples(r);
    return s && *s ? strtoll(s, NULL, 10) : 0;
}

#endif

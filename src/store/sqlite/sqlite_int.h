/* Private to the SQLite backend: connection pool and statement helpers shared by its area files. */
#ifndef STORE_SQLITE_INT_H
#define STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "store/store.h"

struct store_conn {
    sqlite3 *db; /* while in_tx: the store's writer connection (group commit, sqlite.c) */
    struct store_conn *next_free;
    int in_tx;
    sqlite3 *own_db;       /* this connection's handle (db points elsewhere while in_tx) */
    struct store_conn *wr; /* while in_tx: the writer connection whose statements are used */
};

/** Write transactions of the SQLite backend (the vtable's begin/commit/rollback), for area files
 * that open one of their own: a savepoint in the store's current group-commit batch; commit
 * returns once the batch is durable. */
enum fg_err sq_tx_begin(struct store_conn *c);
enum fg_err sq_tx_commit(struct store_conn *c);
void sq_tx_rollback(struct store_conn *c);

/** Prepares (cached per connection by SQL text) a statement; reset + clear bindings on return.
 * Returns NULL on error (logged). Do not finalize the result. */
sqlite3_stmt *sq_prepare(struct store_conn *c, const char *sql);
/** Maps an SQLite result code to fg_err (SQLITE_CONSTRAINT → FG_ECONFLICT, BUSY → FG_EUNAVAIL). */
enum fg_err sq_err(struct store_conn *c, int rc, const char *what);
/** Steps a statement that returns no rows and resets it; FG_OK on SQLITE_DONE, else sq_err.
 * *changes (may be NULL) = rows changed. */
enum fg_err sq_step_done(struct store_conn *c, sqlite3_stmt *st, const char *what, int *changes);
/** Copies a text column into dst (NUL-terminated, truncated to cap - 1; "" for NULL). */
void sq_col_text(sqlite3_stmt *st, int i, char *dst, size_t cap);
/** Binds text that may be NULL (→ SQL NULL). */
int sq_bind_text(sqlite3_stmt *st, int i, const char *s);

#endif

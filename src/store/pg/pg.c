/*
 * PostgreSQL backend: lifecycle, connection pool, transactions, migrations, backup.
 *
 * Pool: up to DATABASE_POOL_SIZE libpq connections (mutex + condition variable). A connection found
 * broken (server restart, network) is reset on its next acquire, so the service recovers by itself
 * when the database comes back; while it is down, acquire fails with FG_EUNAVAIL (→ HTTP 503).
 * Queries only with separate parameters (never interpolated into SQL): each connection prepares a
 * statement the first time it runs it (PQprepare, named "fg<n>", up to PG_STMT_CACHE_MAX per
 * connection) and executes it by name afterwards, so PostgreSQL parses it once per connection
 * instead of once per query; plans stay per execution (conn_setup).
 * Migrations run under a session advisory lock so replicas starting together apply them once.
 * Backup: pg_dump in custom format (-Fc); restore: pg_restore --clean --if-exists.
 */
#include "store/pg/pg_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/migrations.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#define PG_MIGRATION_LOCK 4242424242LL

struct pg_store {
    struct store base;
    char *url;
    int busy_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pg_conn *free_list;
    int open_conns, max_conns;
};

/* Area vtables (store/pg/<area>.c). */
extern const struct store_user_ops pg_user_ops;             /* users.c */
extern const struct store_immune_ops pg_immune_ops;         /* immune.c */
extern const struct store_overlay_ops pg_overlay_ops;       /* overlays.c */
extern const struct store_governance_ops pg_governance_ops; /* governance.c */
extern const struct store_capsule_ops pg_capsule_ops;       /* capsules.c */
extern const struct store_audit_ops pg_audit_ops;           /* audit.c */
extern const struct store_search_ops pg_search_ops;         /* search.c */
extern const struct store_retention_ops pg_retention_ops;   /* retention.c */
extern const struct store_graph_ops pg_graph_ops;           /* graph.c */
extern const struct store_privacy_ops pg_privacy_ops;       /* privacy.c */

static void notice_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Session settings of every connection (after a connect or a reset). Prepared statements are
 * planned per execution: a generic plan, which PostgreSQL picks after five runs when it looks
 * no dearer, made searches 8x slower and GET's p99 10x longer in bench/stores (the parse is what
 * preparing saves; planning stays per query). Best effort: a server without the setting (< 12)
 * plans as it likes. */
static void conn_setup(PGconn *pg)
{
    PQsetNoticeProcessor(pg, notice_quiet, NULL);
    PQclear(PQexec(pg, "SET plan_cache_mode = force_custom_plan"));
}

static struct pg_conn *conn_open(struct pg_store *s, enum fg_err *err)
{
    PGconn *pg = PQconnectdb(s->url);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        /* the libpq message may contain host names but never the password */
        fg_log(FG_LOG_ERROR, "pg_connect", FG_LF_STR("error", pg ? PQerrorMessage(pg) : "oom"),
               FG_LF_END);
        PQfinish(pg);
        *err = FG_EUNAVAIL;
        return NULL;
    }
    conn_setup(pg);
    struct pg_conn *c = fg_xcalloc(1, sizeof *c);
    c->pg = pg;
    return c;
}

/* ---- prepared statements (per connection) ---------------------------------------------- */

static uint64_t sql_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Forgets the statements (the server's are gone with a reset connection, or are deallocated). */
static void stmts_clear(struct pg_conn *c)
{
    for (size_t i = 0; i < c->nstmts; i++)
        free(c->stmts[i].sql);
    free(c->stmts);
    c->stmts = NULL;
    c->nstmts = 0;
}

/* The prepared statement of `sql` on c, preparing it when new; NULL when it cannot be (cache
 * full: the caller runs the text unnamed) or *prep_err is set to the failed Parse's result. */
static const struct pg_stmt *stmt_get(struct pg_conn *c, const char *sql, int nparams,
                                      PGresult **prep_err)
{
    *prep_err = NULL;
    uint64_t h = sql_hash(sql);
    for (size_t i = 0; i < c->nstmts; i++)
        if (c->stmts[i].hash == h && strcmp(c->stmts[i].sql, sql) == 0)
            return &c->stmts[i];
    if (c->nstmts >= PG_STMT_CACHE_MAX)
        return NULL;
    struct pg_stmt st = {.hash = h};
    snprintf(st.name, sizeof st.name, "fg%u", c->next_stmt++);
    PGresult *r = PQprepare(c->pg, st.name, sql, nparams, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        *prep_err = r ? r : PQmakeEmptyPGresult(c->pg, PGRES_FATAL_ERROR);
        return NULL;
    }
    PQclear(r);
    if (c->nstmts % 16 == 0)
        c->stmts = fg_xrealloc(c->stmts, (c->nstmts + 16) * sizeof *c->stmts);
    st.sql = fg_xstrdup(sql);
    c->stmts[c->nstmts] = st;
    return &c->stmts[c->nstmts++];
}

/* Deallocates every statement of the session and forgets them (outside a transaction). */
static void stmts_reset(struct pg_conn *c)
{
    PQclear(PQexec(c->pg, "DEALLOCATE ALL"));
    stmts_clear(c);
    c->stmts_stale = 0;
}

static int sqlstate_is(const PGresult *r, const char *code)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return state && strcmp(state, code) == 0;
}

/* pg_exec; `prepare` 0: unnamed (transaction control, one-off statements). */
static PGresult *exec_impl(struct store_conn *sc, const char *sql, int nparams,
                           const char *const *params, int prepare, enum fg_err *err)
{
    struct pg_conn *c = pg_conn_of(sc);
    PGresult *r = NULL;
    const struct pg_stmt *ps = prepare ? stmt_get(c, sql, nparams, &r) : NULL;
    if (ps) {
        r = PQexecPrepared(c->pg, ps->name, nparams, params, NULL, NULL, 0);
        /* the statement vanished (DISCARD, a pooler) or its plan's result type changed (DDL):
         * forget them all; outside a transaction run this one unnamed at once */
        if (sqlstate_is(r, "26000") || sqlstate_is(r, "0A000")) {
            if (c->in_tx) {
                c->stmts_stale = 1; /* the transaction fails; pg_release resets */
            } else {
                PQclear(r);
                stmts_reset(c);
                r = PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
            }
        }
    } else if (!r) {
        r = PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
    }
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        *err = FG_OK;
        return r;
    }
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(c->pg) != CONNECTION_OK) {
        c->broken = 1;
        *err = FG_EUNAVAIL;
    } else if (state && (strcmp(state, "23505") == 0 || strcmp(state, "23503") == 0 ||
                         strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)) {
        *err = FG_ECONFLICT; /* unique / FK violation; serialization failure or deadlock: retry */
    } else {
        *err = FG_EDB;
    }
    if (*err != FG_ECONFLICT)
        fg_log(FG_LOG_ERROR, "pg_error", FG_LF_STR("sqlstate", state ? state : "-"),
               FG_LF_STR("error", PQerrorMessage(c->pg)), FG_LF_END);
    PQclear(r);
    return NULL;
}

PGresult *pg_exec(struct store_conn *sc, const char *sql, int nparams, const char *const *params,
                  enum fg_err *err)
{
    return exec_impl(sc, sql, nparams, params, 1, err);
}

enum fg_err pg_run(struct store_conn *c, const char *sql, int n, const char *const *p,
                   long long *changes)
{
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, n, p, &e);
    if (changes)
        *changes = r ? pg_changes(r) : 0;
    PQclear(r);
    return e;
}

enum fg_err pg_tx_write_lock(struct store_conn *c)
{
    return pg_conn_of(c)->in_tx ? pg_write_lock(c) : FG_OK;
}

enum fg_err pg_run_locked(struct store_conn *c, const char *sql, int n, const char *const *p,
                          long long *changes)
{
    enum fg_err e = pg_tx_write_lock(c);
    return e != FG_OK ? e : pg_run(c, sql, n, p, changes);
}

static enum fg_err exec_simple(struct store_conn *c, const char *sql)
{
    enum fg_err e;
    PGresult *r = exec_impl(c, sql, 0, NULL, 0, &e);
    PQclear(r);
    return e;
}

static struct store_conn *pg_acquire(struct store *base, enum fg_err *err)
{
    struct pg_store *s = (struct pg_store *)base;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += s->busy_ms / 1000 + 1;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->free_list) {
            struct pg_conn *c = s->free_list;
            s->free_list = c->next_free;
            pthread_mutex_unlock(&s->mu);
            if (PQstatus(c->pg) != CONNECTION_OK) {
                PQreset(c->pg);
                stmts_clear(c); /* a new server session: nothing is prepared there */
                if (PQstatus(c->pg) == CONNECTION_OK)
                    conn_setup(c->pg);
                if (PQstatus(c->pg) != CONNECTION_OK) {
                    /* still down: give the slot back and report */
                    pthread_mutex_lock(&s->mu);
                    c->next_free = s->free_list;
                    s->free_list = c;
                    pthread_cond_signal(&s->cv);
                    pthread_mutex_unlock(&s->mu);
                    *err = FG_EUNAVAIL;
                    return NULL;
                }
            }
            return (struct store_conn *)(void *)c;
        }
        if (s->open_conns < s->max_conns) {
            s->open_conns++;
            pthread_mutex_unlock(&s->mu);
            struct pg_conn *c = conn_open(s, err);
            if (!c) {
                pthread_mutex_lock(&s->mu);
                s->open_conns--;
                pthread_cond_signal(&s->cv);
                pthread_mutex_unlock(&s->mu);
                return NULL;
            }
            return (struct store_conn *)(void *)c;
        }
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&s->mu);
            *err = FG_EUNAVAIL;
            return NULL;
        }
    }
}

static void pg_release(struct store *base, struct store_conn *sc)
{
    struct pg_store *s = (struct pg_store *)base;
    struct pg_conn *c = pg_conn_of(sc);
    if (c->in_tx) {
        fg_log(FG_LOG_ERROR, "pg_tx_leak", FG_LF_STR("msg", "rolled back an open transaction"),
               FG_LF_END);
        exec_simple(sc, "ROLLBACK");
        c->in_tx = 0;
    }
    if (c->stmts_stale && PQstatus(c->pg) == CONNECTION_OK)
        stmts_reset(c);
    c->broken = 0;
    pthread_mutex_lock(&s->mu);
    c->next_free = s->free_list;
    s->free_list = c;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static enum fg_err pg_begin(struct store_conn *sc)
{
    enum fg_err e = exec_simple(sc, "BEGIN");
    if (e == FG_OK)
        pg_conn_of(sc)->in_tx = 1;
    return e;
}

static enum fg_err pg_commit(struct store_conn *sc)
{
    enum fg_err e = exec_simple(sc, "COMMIT");
    pg_conn_of(sc)->in_tx = 0;
    return e;
}

static void pg_rollback(struct store_conn *sc)
{
    if (pg_conn_of(sc)->in_tx)
        exec_simple(sc, "ROLLBACK");
    pg_conn_of(sc)->in_tx = 0;
}

static enum fg_err pg_migrate(struct store *base, int *applied)
{
    enum fg_err e = FG_OK;
    *applied = 0;
    struct store_conn *c = pg_acquire(base, &e);
    if (!c)
        return e;
    char lock[64];
    snprintf(lock, sizeof lock, "%lld", PG_MIGRATION_LOCK);
    const char *lp[] = {lock};
    PGresult *r = pg_exec(c, "SELECT pg_advisory_lock($1::bigint)", 1, lp, &e);
    PQclear(r);
    if (e)
        goto out;
    e = exec_simple(c, "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, "
                       "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
    if (e)
        goto unlock;
    for (const struct fg_migration *m = fg_pg_migrations; m->name; m++) {
        const char *p[] = {m->name};
        r = pg_exec(c, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, p, &e);
        if (!r)
            goto unlock;
        int done = PQntuples(r) > 0;
        PQclear(r);
        if (done)
            continue;
        if ((e = pg_begin(c)) != FG_OK)
            goto unlock;
        /* migration files hold several statements: the simple-query protocol runs them all */
        PGresult *mr = PQexec(pg_conn_of(c)->pg, m->sql);
        if (PQresultStatus(mr) != PGRES_COMMAND_OK && PQresultStatus(mr) != PGRES_TUPLES_OK) {
            fg_log(FG_LOG_ERROR, "migration_failed", FG_LF_STR("name", m->name),
                   FG_LF_STR("error", PQerrorMessage(pg_conn_of(c)->pg)), FG_LF_END);
            PQclear(mr);
            pg_rollback(c);
            e = FG_EDB;
            goto unlock;
        }
        PQclear(mr);
        r = pg_exec(c, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, p, &e);
        PQclear(r);
        if (e || (e = pg_commit(c)) != FG_OK) {
            pg_rollback(c);
            goto unlock;
        }
        fg_log(FG_LOG_INFO, "migration_applied", FG_LF_STR("name", m->name), FG_LF_END);
        (*applied)++;
    }
unlock:
    r = pg_exec(c, "SELECT pg_advisory_unlock($1::bigint)", 1, lp, &(enum fg_err){FG_OK});
    PQclear(r);
out:
    pg_release(base, c);
    return e;
}

static enum fg_err pg_ping(struct store *base)
{
    enum fg_err e = FG_OK;
    struct store_conn *c = pg_acquire(base, &e);
    if (!c)
        return e;
    PGresult *r = pg_exec(c, "SELECT 1", 0, NULL, &e);
    PQclear(r);
    pg_release(base, c);
    return e == FG_OK ? FG_OK : FG_EUNAVAIL;
}

/* Runs `argv` with PGPASSWORD from the URL in the environment (never on the command line). */
static int run_tool(const char *const *argv, const char *password)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (password)
            setenv("PGPASSWORD", password, 1);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Splits postgresql://user:password@host/db into a password-free URL and the password. */
static void split_password(const char *url, char *clean, size_t len, char *pw, size_t pwlen)
{
    snprintf(clean, len, "%s", url);
    pw[0] = '\0';
    char *scheme = strstr(clean, "://");
    if (!scheme)
        return;
    char *at = strchr(scheme + 3, '@');
    if (!at)
        return;
    char *colon = memchr(scheme + 3, ':', (size_t)(at - (scheme + 3)));
    if (!colon)
        return;
    size_t n = (size_t)(at - colon - 1);
    if (n >= pwlen)
        n = pwlen - 1;
    memcpy(pw, colon + 1, n);
    pw[n] = '\0';
    memmove(colon, at, strlen(at) + 1);
}

static enum fg_err pg_backup(struct store *base, const char *path, char *err, size_t errlen)
{
    struct pg_store *s = (struct pg_store *)base;
    char url[4096], pw[512], tmp[4096];
    split_password(s->url, url, sizeof url, pw, sizeof pw);
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    /* the key store (schema forge_keys, store/pg/keys.c) is backed up on its own; the erasure
     * ledger (schema forge_ledger) is not part of the data backup: a restore must never roll it
     * back (docs/privacy.md "Erasure and backups") */
    const char *argv[] = {"pg_dump",
                          "--format=custom",
                          "--no-owner",
                          "--exclude-schema=forge_keys",
                          "--exclude-schema=forge_ledger",
                          "--file",
                          tmp,
                          "--dbname",
                          url,
                          NULL};
    int rc = run_tool(argv, pw[0] ? pw : NULL);
    if (rc != 0) {
        snprintf(err, errlen, "pg_dump failed (exit %d)", rc);
        remove(tmp);
        return FG_EIO;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot move backup into place: %s", strerror(errno));
        return FG_EIO;
    }
    return FG_OK;
}

enum fg_err store_pg_restore(const char *url_with_pw, const char *path, char *err, size_t errlen);
enum fg_err store_pg_restore(const char *url_with_pw, const char *path, char *err, size_t errlen)
{
    char url[4096], pw[512];
    split_password(url_with_pw, url, sizeof url, pw, sizeof pw);
    const char *argv[] = {
        "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
        "--dbname",   url,       path,          NULL};
    int rc = run_tool(argv, pw[0] ? pw : NULL);
    if (rc != 0) {
        snprintf(err, errlen, "pg_restore failed (exit %d)", rc);
        return FG_EIO;
    }
    return FG_OK;
}

static long long pg_size(struct store *base)
{
    enum fg_err e = FG_OK;
    struct store_conn *c = pg_acquire(base, &e);
    if (!c)
        return -1;
    PGresult *r = pg_exec(c, "SELECT pg_database_size(current_database())", 0, NULL, &e);
    long long n = r && PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    pg_release(base, c);
    return n;
}

static void pg_close(struct store *base)
{
    struct pg_store *s = (struct pg_store *)base;
    while (s->free_list) {
        struct pg_conn *c = s->free_list;
        s->free_list = c->next_free;
        PQfinish(c->pg);
        stmts_clear(c);
        free(c);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    if (s->url)
        memset(s->url, 0, strlen(s->url));
    free(s->url);
    free(s);
}

static const struct store_ops pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .migrate = pg_migrate,
    .ping = pg_ping,
    .acquire = pg_acquire,
    .release = pg_release,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .backup = pg_backup,
    .size_bytes = pg_size,
};

enum fg_err store_pg_open(const char *url, const struct fg_config *cfg, struct store **out,
                          char *err, size_t errlen);
enum fg_err store_pg_open(const char *url, const struct fg_config *cfg, struct store **out,
                          char *err, size_t errlen)
{
    struct pg_store *s = fg_xcalloc(1, sizeof *s);
    s->base.ops = &pg_ops;
    s->base.users = &pg_user_ops;
    s->base.immune = &pg_immune_ops;
    s->base.governance = &pg_governance_ops;
    s->base.capsules = &pg_capsule_ops;
    s->base.audit = &pg_audit_ops;
    s->base.search = &pg_search_ops;
    s->base.retention = &pg_retention_ops;
    s->base.graph = &pg_graph_ops;
    s->base.overlays = &pg_overlay_ops;
    s->base.privacy = &pg_privacy_ops;
    s->url = fg_xstrdup(url);
    s->busy_ms = (int)cfg->database_busy_timeout_ms;
    s->max_conns = (int)cfg->database_pool_size;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    enum fg_err e = FG_OK;
    struct store_conn *c = pg_acquire(&s->base, &e);
    if (!c) {
        snprintf(err, errlen, "DATABASE_URL: cannot connect to PostgreSQL (see log)");
        pg_close(&s->base);
        return e;
    }
    pg_release(&s->base, c);
    *out = &s->base;
    return FG_OK;
}

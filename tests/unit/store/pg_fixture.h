/*
 * Shared fixture of the PostgreSQL store-area unit tests (test_pg_*.c): a migrated store on a
 * real PostgreSQL. FORGE_TEST_PG_URL names a database to use; without it the fixture starts a
 * throwaway cluster through tests/api/pg_launch.py (services.PgServer) and the cluster goes away
 * when the test process exits (the launcher waits for end of file on its stdin).
 */
#ifndef TEST_PG_FIXTURE_H
#define TEST_PG_FIXTURE_H

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "core/app.h"
#include "store/pg/pg_int.h"
#include "store/store.h"
#include "util/config.h"

struct pgfx {
    struct fg_config cfg;
    struct store *store;
    char url[512];
    pid_t launcher;
    int launcher_in; /* write end of the launcher's stdin */
};

static struct pgfx pgfx;

/* tests/api/pg_launch.py, found from this header's path. */
static void pgfx_launcher_path(char *out, size_t len)
{
    char here[PATH_MAX];
    snprintf(here, sizeof here, "%s", __FILE__);
    char *cut = strstr(here, "tests/unit/store/");
    if (cut)
        *cut = '\0';
    else
        snprintf(here, sizeof here, "./");
    snprintf(out, len, "%stests/api/pg_launch.py", here);
}

static int pgfx_launch(void)
{
    char script[PATH_MAX + 32];
    pgfx_launcher_path(script, sizeof script);
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl("/usr/bin/python3", "python3", script, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    pgfx.launcher = pid;
    pgfx.launcher_in = in[1];
    FILE *fp = fdopen(out[0], "r");
    if (!fp || !fgets(pgfx.url, sizeof pgfx.url, fp)) {
        if (fp)
            fclose(fp);
        return -1;
    }
    fclose(fp);
    pgfx.url[strcspn(pgfx.url, "\r\n")] = '\0';
    return strncmp(pgfx.url, "postgresql://", 13) == 0 ? 0 : -1;
}

static int pgfx_setup(void **state)
{
    (void)state;
    memset(&pgfx, 0, sizeof pgfx);
    pgfx.launcher_in = -1;
    const char *env = getenv("FORGE_TEST_PG_URL");
    if (env && *env) {
        snprintf(pgfx.url, sizeof pgfx.url, "%s", env);
    } else if (pgfx_launch() != 0) {
        fprintf(stderr, "cannot start PostgreSQL (tests/api/pg_launch.py)\n");
        return -1;
    }
    char err[512];
    setenv("DATABASE_URL", pgfx.url, 1);
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    if (fg_config_load(&pgfx.cfg, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    if (store_open(&pgfx.cfg, &pgfx.store, err, sizeof err) != FG_OK) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
    int applied = 0;
    if (pgfx.store->ops->migrate(pgfx.store, &applied) != FG_OK) {
        fprintf(stderr, "migrate failed\n");
        return -1;
    }
    return 0;
}

static int pgfx_teardown(void **state)
{
    (void)state;
    store_close(pgfx.store);
    fg_config_free(&pgfx.cfg);
    if (pgfx.launcher_in >= 0) {
        close(pgfx.launcher_in); /* the launcher stops and removes the cluster */
        int st;
        waitpid(pgfx.launcher, &st, 0);
    }
    return 0;
}

static inline struct store_conn *pgfx_conn(void)
{
    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(pgfx.store, &e);
    if (!c)
        fprintf(stderr, "store_acquire: %d\n", (int)e);
    return c;
}

/* A unique id per call (UUID-shaped, sortable by creation within the process). */
static inline void pgfx_id(char out[37])
{
    static unsigned long n;
    snprintf(out, 37, "0190%04x-%04x-7000-8000-%012lx", (unsigned)(getpid() & 0xffff),
             (unsigned)(time(NULL) & 0xffff), ++n);
}

/* Polls until some backend waits on a lock (a statement of another connection is blocked). */
static inline int pgfx_wait_blocked(struct store_conn *c)
{
    for (int i = 0; i < 2000; i++) {
        enum fg_err e;
        PGresult *r = pg_exec(c,
                              "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                              "'Lock' AND datname = current_database()",
                              0, NULL, &e);
        long long n = r ? pg_get_i64(r, 0, 0) : 0;
        PQclear(r);
        if (n > 0)
            return 1;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

#endif

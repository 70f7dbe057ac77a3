/*
 * `forge serve`: configuration → store + subsystems → HTTP server → wait for SIGTERM/SIGINT →
 * drain (≤ SHUTDOWN_TIMEOUT_S) → stop. Signals are blocked in every thread and taken with
 * sigwait() on the main thread, so no code runs in signal-handler context.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "app/app.h"
#include "core/metrics.h"
#include "http/server.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/time.h"

static int parse_flags(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        const char *var = NULL;
        if (strcmp(a, "--host") == 0 || strcmp(a, "--port") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "forge serve: %s needs a value\n", a);
                return 2;
            }
            var = a[2] == 'h' ? "HOST" : "PORT";
            val = argv[++i];
        } else if (strncmp(a, "--host=", 7) == 0) {
            var = "HOST";
            val = a + 7;
        } else if (strncmp(a, "--port=", 7) == 0) {
            var = "PORT";
            val = a + 7;
        } else {
            fprintf(stderr,
                    "forge serve: unknown option '%s'\nusage: forge serve [--host H] [--port P]\n",
                    a);
            return 2;
        }
        setenv(var, val, 1);
    }
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    int rc = parse_flags(argc, argv);
    if (rc)
        return rc;
    struct fg_config cfg;
    if ((rc = cli_load_config(&cfg)) != 0)
        return rc;
    fg_log_set_fd(STDOUT_FILENO); /* the server logs to standard output (12-factor) */

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread created from here on */
    signal(SIGPIPE, SIG_IGN);

    if (cfg.jwt_secret_ephemeral)
        fg_log(FG_LOG_WARN, "jwt_secret_ephemeral",
               FG_LF_STR("msg", "JWT_SECRET is not set: using a random secret; tokens will not "
                                "survive a restart (required in production)"),
               FG_LF_END);

    struct fg_app app;
    char err[512];
    if (fg_app_start(&app, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "forge: cannot start: %s\n", err);
        fg_log(FG_LOG_ERROR, "startup_failed", FG_LF_STR("error", err), FG_LF_END);
        fg_app_stop(&app);
        fg_metrics_shutdown();
        fg_config_free(&cfg);
        return strncmp(err, "internal", 8) == 0 ? 1 : 2;
    }
    struct http_server *srv = http_server_start(&app, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "forge: cannot start: %s\n", err);
        fg_log(FG_LOG_ERROR, "startup_failed", FG_LF_STR("error", err), FG_LF_END);
        fg_app_stop(&app);
        fg_metrics_shutdown();
        fg_config_free(&cfg);
        return 2;
    }
    atomic_store(&app.ready, 1);
    fg_metric_set(fgm.ready, NULL, 1);
    fg_log(FG_LOG_INFO, "listening", FG_LF_STR("host", cfg.host),
           FG_LF_INT("port", http_server_port(srv)), FG_LF_INT("workers", cfg.workers),
           FG_LF_STR("environment", fg_env_name((enum fg_env)cfg.environment)),
           FG_LF_STR("store", app.store->ops->name), FG_LF_STR("version", FORGE_VERSION),
           FG_LF_END);

    int sig = 0;
    sigwait(&set, &sig);
    fg_log(FG_LOG_INFO, "shutdown_started",
           FG_LF_STR("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"),
           FG_LF_INT("in_flight", http_server_inflight(srv)), FG_LF_END);
    atomic_store(&app.ready, 0);
    double t0 = fg_mono_s();
    int left = http_server_drain(srv, (double)cfg.shutdown_timeout_s);
    http_server_stop(srv);
    fg_app_stop(&app);
    fg_log(left ? FG_LOG_WARN : FG_LOG_INFO, "shutdown_complete",
           FG_LF_DBL("drain_seconds", fg_mono_s() - t0), FG_LF_INT("abandoned_requests", left),
           FG_LF_END);
    fg_metrics_shutdown();
    memset(&fgm, 0, sizeof fgm);
    fg_config_free(&cfg);
    return 0;
}

int cmd_migrate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    struct store *st = NULL;
    char err[512];
    int applied = 0;
    if (store_open(&cfg, &st, err, sizeof err) != FG_OK) {
        fprintf(stderr, "forge migrate: %s\n", err);
        fg_config_free(&cfg);
        return 1;
    }
    enum fg_err e = st->ops->migrate(st, &applied);
    store_close(st);
    fg_config_free(&cfg);
    if (e != FG_OK) {
        fprintf(stderr, "forge migrate: failed (%s)\n", fg_err_name(e));
        return 1;
    }
    printf("forge migrate: %d migration(s) applied\n", applied);
    return 0;
}

int cmd_config(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "docs") == 0) {
        fg_config_print_markdown(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "usage: forge config check | forge config docs\n");
        return 2;
    }
    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    fg_config_print(&cfg, stdout);
    printf("# configuration OK\n");
    fg_config_free(&cfg);
    return 0;
}

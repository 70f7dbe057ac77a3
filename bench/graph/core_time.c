/*
 * bench/graph/core_time: the server-side cost of a graph query without HTTP — calls
 * fg_graph_neighbors / fg_graph_path (src/core/graph.c) on a store file loaded by run.py, and
 * reports per-call wall time and this process's CPU time (CLOCK_PROCESS_CPUTIME_ID), the latter
 * being what the query costs when the machine is shared (wall time includes waiting for a core).
 *
 * usage: core_time <forge.db> <ids-file> <queries> [depth=2] [limit=100]
 *   ids-file: one capsule id per line (the starts; consecutive pairs for paths)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/app.h"
#include "core/capsule.h"
#include "core/graph.h"
#include "store/store.h"
#include "util/config.h"

static double now(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("%-34s n=%d p50 %.3f ms  p90 %.3f ms  p99 %.3f ms\n", name, n, v[n / 2],
           v[(int)(n * 0.9)], v[(int)(n * 0.99)]);
}

int main(int argc, char **argv)
{
    if (argc < 4 || sodium_init() < 0)
        return 2;
    int q = atoi(argv[3]), depth = argc > 4 ? atoi(argv[4]) : 2,
        limit = argc > 5 ? atoi(argv[5]) : 100;
    char url[4200], err[512];
    snprintf(url, sizeof url, "sqlite://%s", argv[1]);
    setenv("DATABASE_URL", url, 1);
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    setenv("LOG_LEVEL", "warning", 1);
    struct fg_config cfg;
    if (fg_config_load(&cfg, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "core_time: %s\n", err);
        return 1;
    }
    struct fg_app app;
    memset(&app, 0, sizeof app);
    app.cfg = &cfg;
    if (store_open(&cfg, &app.store, err, sizeof err) != FG_OK) {
        fprintf(stderr, "core_time: %s\n", err);
        return 1;
    }
    FILE *fh = fopen(argv[2], "r");
    if (!fh)
        return 1;
    char(*ids)[40] = calloc((size_t)q * 2, sizeof *ids);
    int n = 0;
    while (n < q * 2 && fgets(ids[n], sizeof ids[n], fh)) {
        ids[n][strcspn(ids[n], "\n")] = '\0';
        n++;
    }
    fclose(fh);
    if (n < q * 2)
        q = n / 2;
    struct fg_actor a = {.user_id = FG_SYSTEM_ACTOR_ID, .trust = 60};
    double *wall = calloc((size_t)q, sizeof *wall), *cpu = calloc((size_t)q, sizeof *cpu);
    char name[80];
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < q; i++) {
            json_t *out = NULL;
            double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
            enum fg_err e = pass == 0 ? fg_graph_neighbors(&app, &a, ids[i], depth, STORE_EDGE_ALL,
                                                           STORE_DIR_BOTH, limit, &out)
                                      : fg_graph_path(&app, &a, ids[2 * i], ids[2 * i + 1], 6,
                                                      STORE_EDGE_ALL, &out);
            wall[i] = now(CLOCK_MONOTONIC) - w0;
            cpu[i] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
            if (e != FG_OK)
                fprintf(stderr, "query %d failed: %d\n", i, (int)e);
            json_decref(out);
        }
        if (pass == 0)
            snprintf(name, sizeof name, "neighbors depth %d limit %d", depth, limit);
        else
            snprintf(name, sizeof name, "path max_depth 6");
        char w[100], c[100];
        snprintf(w, sizeof w, "core %s (wall)", name);
        snprintf(c, sizeof c, "core %s (cpu)", name);
        report(w, wall, q);
        report(c, cpu, q);
    }
    free(wall);
    free(cpu);
    free(ids);
    store_close(app.store);
    fg_config_free(&cfg);
    return 0;
}

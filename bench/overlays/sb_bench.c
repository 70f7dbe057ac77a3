/*
 * bench/overlays/sb_bench: trivial overlay invocations per second through the sandbox runtime,
 * in-process (lua_sb_run: a fresh lua_State per call, one thread = one core) and through the
 * worker pool (lua_sb_pool_run: one worker process, a round trip over a socketpair per call).
 *
 * usage: sb_bench [seconds=5] [inproc|pool|both]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) of another process, from /proc/<pid>/stat. */
static double proc_cpu_s(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    unsigned long ut = 0, st = 0;
    /* fields after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static const char SRC[] = "function process(x) return x end";

static void bench(const char *label, struct lua_sb_pool *pool, double secs)
{
    json_t *in = json_integer(1);
    struct lua_sb_call c = {
        .source = SRC,
        .source_len = sizeof SRC - 1,
        .chunkname = "=trivial",
        .entry = "process",
        .input = in,
        .max_memory = 64u * 1024 * 1024,
        .max_fuel = 1000000,
        .max_ms = 5000,
        .seed = 1,
    };
    long long n = 0, bad = 0;
    int wpid = 0;
    if (pool) { /* start the worker before measuring */
        struct lua_sb_result r;
        lua_sb_pool_run(pool, &c, NULL, NULL, &r);
        lua_sb_result_clear(&r);
        lua_sb_pool_pids(pool, &wpid, 1);
    }
    double w0 = wpid ? proc_cpu_s(wpid) : 0;
    double c0 = cpu_s();
    double t0 = now_s(), t = t0;
    while (t - t0 < secs) {
        for (int i = 0; i < 100; i++) {
            struct lua_sb_result r;
            if (pool) {
                if (lua_sb_pool_run(pool, &c, NULL, NULL, &r) != FG_OK)
                    bad++;
            } else {
                lua_sb_run(&c, NULL, NULL, &r);
            }
            if (r.outcome != LUA_SB_OK)
                bad++;
            lua_sb_result_clear(&r);
            n++;
        }
        t = now_s();
    }
    double cpu = cpu_s() - c0 + (wpid ? proc_cpu_s(wpid) - w0 : 0);
    printf("%s: %lld calls in %.2f s wall = %.0f calls/s wall; CPU %.3f s (this process%s) = "
           "%.1f us CPU/call = %.0f calls per CPU-second; failures %lld\n",
           label, n, t - t0, (double)n / (t - t0), cpu, wpid ? " + worker" : "",
           cpu * 1e6 / (double)n, (double)n / cpu, bad);
    json_decref(in);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? strtod(argv[1], NULL) : 5.0;
    const char *mode = argc > 2 ? argv[2] : "both";
    if (strcmp(mode, "pool") != 0)
        bench("in-process", NULL, secs);
    if (strcmp(mode, "inproc") != 0) {
        struct lua_sb_pool *p = lua_sb_pool_new(1, 1024);
        bench("worker pool (1 worker)", p, secs);
        lua_sb_pool_free(p);
    }
    return 0;
}

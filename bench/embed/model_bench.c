/* bench/embed: the "model" provider (src/embed/model.c) on a model directory.
 * usage: model_bench MODEL_DIR TEXTS.tsv SECS BATCH
 * Embeds the texts of TEXTS.tsv (both columns) in calls of BATCH texts for SECS seconds and prints
 * texts/s, p50/p99 per text (call latency / BATCH) and the RSS growth of loading the model.
 * BLAS threads: OPENBLAS_NUM_THREADS (run.sh sets 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "embed/embedder.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            v = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: model_bench MODEL_DIR TEXTS.tsv SECS BATCH\n");
        return 2;
    }
    double secs = strtod(argv[3], NULL);
    size_t batch = (size_t)strtoul(argv[4], NULL, 10), n = 0;
    static char *texts[4096];
    FILE *f = fopen(argv[2], "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f) && n < 4000) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\r\n")] = 0;
        for (char *t = strtok(line, "\t"); t && n < 4000; t = strtok(NULL, "\t"))
            if (*t)
                texts[n++] = strdup(t);
    }
    if (f)
        fclose(f);
    if (!n || !batch || batch > n)
        return 2;
    long rss0 = rss_kib();
    struct embed_config c = {.provider = "model", .model_path = argv[1]};
    enum fg_err err;
    char msg[512];
    double t0 = now();
    embedder_t *e = embed_new(&c, &err, msg, sizeof msg);
    if (!e) {
        fprintf(stderr, "model: %s\n", msg);
        return 1;
    }
    double load = now() - t0;
    unsigned d = embed_dimensions(e);
    float *out = malloc(sizeof(float) * d * batch);
    if (embed_texts(e, (const char *const *)texts, NULL, batch, out, msg, sizeof msg) != FG_OK)
        return 1;
    long rss1 = rss_kib();
    size_t cap = 1 << 20, nl = 0, done = 0, pos = 0;
    double *lat = malloc(sizeof(double) * cap);
    double start = now(), end = start;
    while (end - start < secs && nl < cap) {
        if (pos + batch > n)
            pos = 0;
        double a = now();
        if (embed_texts(e, (const char *const *)texts + pos, NULL, batch, out, msg, sizeof msg) !=
            FG_OK) {
            fprintf(stderr, "embed: %s\n", msg);
            return 1;
        }
        end = now();
        lat[nl++] = (end - a) / (double)batch;
        done += batch;
        pos += batch;
    }
    qsort(lat, nl, sizeof(double), cmpd);
    printf("forge-model batch=%-3zu texts=%6zu texts/s=%8.1f p50=%8.2fms p99=%8.2fms "
           "load=%.2fs rss+model=%ldMiB id=%s\n",
           batch, done, (double)done / (end - start), lat[nl / 2] * 1e3,
           lat[(size_t)((double)nl * 0.99)] * 1e3, load, (rss1 - rss0) / 1024, embed_model_id(e));
    embed_free(e);
    free(out);
    free(lat);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    return 0;
}

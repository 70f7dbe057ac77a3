/* bench/embed/local_bench: texts/s and per-text latency (p50, p99) of the local embedders on one
 * thread, plus the WordNet cache's size. Texts per CPU-second (the thread's CPU time) is given
 * beside texts per wall-clock second because the latter depends on how busy the machine is.
 *
 * Texts: the passages and queries of tests/unit/embed/data/paraphrase.tsv, repeated. For
 * local-wordnet-v2 two numbers: "cold" is the first pass over the texts with an empty WordNet
 * cache (every new word is looked up in the dictionary), "warm" the following passes.
 *
 * usage: local_bench [seconds per measurement = 5] [tsv path] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "embed/embed_internal.h"
#include "embed/embedder.h"

#define MAX_TEXTS 1024

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static char *texts[MAX_TEXTS];
static size_t ntexts;

static void run(const char *model, double secs, int cold)
{
    struct embed_config c = {.provider = "local", .local_model = model};
    enum fg_err err;
    char eb[1024];
    embedder_t *e = embed_new(&c, &err, eb, sizeof eb);
    if (!e) {
        fprintf(stderr, "%s: %s\n", model, eb);
        exit(1);
    }
    size_t cap = 1 << 20, n = 0;
    double *lat = malloc(cap * sizeof *lat);
    float v[EMBED_LOCAL_DEFAULT_DIMS];
    if (cold)
        embed_wn_cache_clear();
    double t0 = now_s(), c0 = cpu_s();
    for (size_t i = 0; cold ? i < ntexts : now_s() - t0 < secs; i++) {
        const char *t[1] = {texts[i % ntexts]};
        double a = now_s();
        if (embed_texts(e, t, NULL, 1, v, eb, sizeof eb) != FG_OK)
            exit(1);
        if (n < cap)
            lat[n++] = now_s() - a;
    }
    double el = now_s() - t0, cpu = cpu_s() - c0;
    qsort(lat, n, sizeof *lat, cmp_d);
    size_t bytes = 0, words = embed_wn_cache_words(&bytes);
    printf("%-17s %-5s texts=%7zu texts/s=%8.0f (per CPU-s %8.0f) p50=%7.1fus p99=%7.1fus "
           "wordnet_cache=%zu words "
           "%zu KiB\n",
           model, cold ? "cold" : "warm", n, (double)n / el, (double)n / cpu, lat[n / 2] * 1e6,
           lat[(size_t)((double)(n - 1) * 0.99)] * 1e6, words, bytes / 1024);
    free(lat);
    embed_free(e);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? strtod(argv[1], NULL) : 5;
    const char *path = argc > 2 ? argv[2] : "tests/unit/embed/data/paraphrase.tsv";
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    char line[4096];
    while (fgets(line, sizeof line, f) && ntexts + 2 <= MAX_TEXTS) {
        if (line[0] == '#')
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        texts[ntexts++] = strdup(line);
        texts[ntexts++] = strdup(tab + 1);
    }
    fclose(f);
    run(EMBED_LOCAL_MODEL_ID, secs, 0);
    run(EMBED_LOCAL2_MODEL_ID, secs, 1);
    run(EMBED_LOCAL2_MODEL_ID, secs, 0);
    for (size_t i = 0; i < ntexts; i++)
        free(texts[i]);
    return 0;
}

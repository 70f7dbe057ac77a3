/*
 * Metrics registry. Each family keeps its series in an open-addressing hash table keyed by the
 * label values joined with '\x1f'. A family's mutex protects its table and values; scrapes copy
 * under the same mutex. Families are fixed after start, so the family list needs no lock.
 */
#include "util/metrics.h"

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "util/mem.h"

#define MAX_FAMILIES   128
#define MAX_COLLECTORS 16
#define MAX_BUCKETS    24

struct series {
    char *key;               /* values joined with \x1f; NULL: empty slot */
    char *labels;            /* rendered `a="x",b="y"` */
    double value;            /* counter/gauge value, histogram sum */
    uint64_t count;          /* histogram count */
    uint64_t *bucket_counts; /* histogram: per bucket (non-cumulative) */
};

struct fg_metric {
    enum fg_metric_type type;
    char *name, *help;
    char *label_names[METRICS_MAX_LABELS];
    size_t nlabels;
    double buckets[MAX_BUCKETS];
    size_t nbuckets;
    pthread_mutex_t mu;
    struct series *tab;
    size_t cap, used;
};

static struct fg_metric *families[MAX_FAMILIES];
static size_t nfamilies;
static struct {
    fg_metrics_collector_fn fn;
    void *ctx;
} collectors[MAX_COLLECTORS];
static size_t ncollectors;

struct fg_metric *fg_metric_new(enum fg_metric_type type, const char *name, const char *help,
                                const char *labels, const double *buckets, size_t nbuckets)
{
    if (nfamilies >= MAX_FAMILIES || nbuckets > MAX_BUCKETS)
        abort(); /* programming error: registry sized at compile time */
    struct fg_metric *m = fg_xcalloc(1, sizeof *m);
    m->type = type;
    m->name = fg_xstrdup(name);
    m->help = fg_xstrdup(help);
    if (labels && *labels) {
        const char *p = labels;
        while (*p && m->nlabels < METRICS_MAX_LABELS) {
            const char *c = strchr(p, ',');
            size_t n = c ? (size_t)(c - p) : strlen(p);
            m->label_names[m->nlabels++] = fg_xstrndup(p, n);
            p += n + (c ? 1 : 0);
        }
    }
    for (size_t i = 0; i < nbuckets; i++)
        m->buckets[i] = buckets[i];
    m->nbuckets = nbuckets;
    pthread_mutex_init(&m->mu, NULL);
    m->cap = 16;
    m->tab = fg_xcalloc(m->cap, sizeof *m->tab);
    families[nfamilies++] = m;
    return m;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Label value escaping per the exposition format: backslash, double quote, newline. */
static void append_escaped(struct fg_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fg_buf_puts(b, "\\\\");
        else if (*s == '"')
            fg_buf_puts(b, "\\\"");
        else if (*s == '\n')
            fg_buf_puts(b, "\\n");
        else
            fg_buf_append(b, s, 1);
    }
}

static struct series *lookup(struct fg_metric *m, const char *const *values);

/* Shortest representation that reads back as the same double. */
static const char *fmt_double(double v, char *out, size_t len)
{
    snprintf(out, len, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, len, "%.17g", v);
    return out;
}

static void grow(struct fg_metric *m)
{
    struct series *old = m->tab;
    size_t oldcap = m->cap;
    m->cap *= 2;
    m->tab = fg_xcalloc(m->cap, sizeof *m->tab);
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].key)
            continue;
        size_t j = hash_str(old[i].key) & (m->cap - 1);
        while (m->tab[j].key)
            j = (j + 1) & (m->cap - 1);
        m->tab[j] = old[i];
    }
    free(old);
}

/* Caller holds m->mu. Returns NULL when the family is full (the update is dropped). */
static struct series *lookup(struct fg_metric *m, const char *const *values)
{
    char key[1024];
    size_t kl = 0;
    key[0] = '\0';
    for (size_t i = 0; i < m->nlabels; i++) {
        const char *v = values && values[i] ? values[i] : "";
        int n = snprintf(key + kl, sizeof key - kl, "%s%s", i ? "\x1f" : "", v);
        if (n < 0 || (size_t)n >= sizeof key - kl)
            return NULL;
        kl += (size_t)n;
    }
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->tab[j].key) {
        if (strcmp(m->tab[j].key, key) == 0)
            return &m->tab[j];
        j = (j + 1) & (m->cap - 1);
    }
    if (m->used >= METRICS_MAX_SERIES)
        return NULL;
    if ((m->used + 1) * 2 > m->cap) {
        grow(m);
        return lookup(m, values);
    }
    struct series *s = &m->tab[j];
    s->key = fg_xstrdup(key);
    struct fg_buf lb;
    fg_buf_init(&lb, 2048);
    for (size_t i = 0; i < m->nlabels; i++) {
        fg_buf_printf(&lb, "%s%s=\"", i ? "," : "", m->label_names[i]);
        append_escaped(&lb, values && values[i] ? values[i] : "");
        fg_buf_puts(&lb, "\"");
    }
    s->labels = fg_buf_steal(&lb, NULL);
    if (m->type == FG_HISTOGRAM)
        s->bucket_counts = fg_xcalloc(m->nbuckets + 1, sizeof(uint64_t));
    m->used++;
    return s;
}

void fg_metric_add(struct fg_metric *m, const char *const *values, double v)
{
    pthread_mutex_lock(&m->mu);
    struct series *s = lookup(m, values);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&m->mu);
}

void fg_metric_set(struct fg_metric *m, const char *const *values, double v)
{
    pthread_mutex_lock(&m->mu);
    struct series *s = lookup(m, values);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&m->mu);
}

void fg_metric_touch(struct fg_metric *m, const char *const *values)
{
    pthread_mutex_lock(&m->mu);
    lookup(m, values);
    pthread_mutex_unlock(&m->mu);
}

void fg_metric_observe(struct fg_metric *m, const char *const *values, double v)
{
    pthread_mutex_lock(&m->mu);
    struct series *s = lookup(m, values);
    if (s) {
        size_t i = 0;
        while (i < m->nbuckets && v > m->buckets[i])
            i++;
        s->bucket_counts[i]++;
        s->count++;
        s->value += v;
    }
    pthread_mutex_unlock(&m->mu);
}

void fg_metrics_add_collector(fg_metrics_collector_fn fn, void *ctx)
{
    if (ncollectors < MAX_COLLECTORS) {
        collectors[ncollectors].fn = fn;
        collectors[ncollectors].ctx = ctx;
        ncollectors++;
    }
}

static void render_family(struct fg_buf *out, struct fg_metric *m)
{
    static const char *const tn[] = {"counter", "gauge", "histogram"};
    fg_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, tn[m->type]);
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->cap; i++) {
        struct series *s = &m->tab[i];
        if (!s->key)
            continue;
        const char *sep = s->labels[0] ? "," : "";
        char num[40];
        if (m->type != FG_HISTOGRAM) {
            if (s->labels[0])
                fg_buf_printf(out, "%s{%s} %s\n", m->name, s->labels,
                              fmt_double(s->value, num, sizeof num));
            else
                fg_buf_printf(out, "%s %s\n", m->name, fmt_double(s->value, num, sizeof num));
            continue;
        }
        uint64_t cum = 0;
        for (size_t b = 0; b < m->nbuckets; b++) {
            cum += s->bucket_counts[b];
            fg_buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", m->name, s->labels, sep,
                          m->buckets[b], (unsigned long long)cum);
        }
        cum += s->bucket_counts[m->nbuckets];
        fg_buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", m->name, s->labels, sep,
                      (unsigned long long)cum);
        if (s->labels[0]) {
            fg_buf_printf(out, "%s_sum{%s} %s\n", m->name, s->labels,
                          fmt_double(s->value, num, sizeof num));
            fg_buf_printf(out, "%s_count{%s} %llu\n", m->name, s->labels,
                          (unsigned long long)s->count);
        } else {
            fg_buf_printf(out, "%s_sum %s\n%s_count %llu\n", m->name,
                          fmt_double(s->value, num, sizeof num), m->name,
                          (unsigned long long)s->count);
        }
    }
    pthread_mutex_unlock(&m->mu);
}

void fg_metrics_render(struct fg_buf *out)
{
    for (size_t i = 0; i < nfamilies; i++)
        render_family(out, families[i]);
    for (size_t i = 0; i < ncollectors; i++)
        collectors[i].fn(out, collectors[i].ctx);
}

void fg_metrics_shutdown(void)
{
    for (size_t i = 0; i < nfamilies; i++) {
        struct fg_metric *m = families[i];
        for (size_t j = 0; j < m->cap; j++) {
            free(m->tab[j].key);
            free(m->tab[j].labels);
            free(m->tab[j].bucket_counts);
        }
        for (size_t j = 0; j < m->nlabels; j++)
            free(m->label_names[j]);
        free(m->tab);
        free(m->name);
        free(m->help);
        pthread_mutex_destroy(&m->mu);
        free(m);
    }
    nfamilies = 0;
    ncollectors = 0;
}

/* ---- process_* ------------------------------------------------------------------------ */

static double g_start_time;

__attribute__((constructor)) static void record_start(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    g_start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void fg_metrics_process_collector(struct fg_buf *out, void *ctx)
{
    (void)ctx;
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long vsz = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &vsz, &rss) != 2)
            vsz = rss = 0;
        fclose(f);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    long fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                fds++;
        closedir(d);
        fds--; /* the directory handle itself */
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    fg_buf_printf(out,
                  "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                  "# TYPE process_resident_memory_bytes gauge\n"
                  "process_resident_memory_bytes %llu\n"
                  "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                  "# TYPE process_virtual_memory_bytes gauge\n"
                  "process_virtual_memory_bytes %llu\n"
                  "# HELP process_cpu_seconds_total Total user and system CPU time in seconds.\n"
                  "# TYPE process_cpu_seconds_total counter\n"
                  "process_cpu_seconds_total %.6f\n"
                  "# HELP process_open_fds Number of open file descriptors.\n"
                  "# TYPE process_open_fds gauge\n"
                  "process_open_fds %ld\n"
                  "# HELP process_max_fds Maximum number of open file descriptors.\n"
                  "# TYPE process_max_fds gauge\n"
                  "process_max_fds %llu\n"
                  "# HELP process_start_time_seconds Start time of the process since the epoch.\n"
                  "# TYPE process_start_time_seconds gauge\n"
                  "process_start_time_seconds %.3f\n",
                  rss * (unsigned long long)page, vsz * (unsigned long long)page, cpu, fds,
                  (unsigned long long)rl.rlim_cur, g_start_time);
}

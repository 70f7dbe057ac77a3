/* ANN benchmark driver for Forge's HNSW index (src/vec). See bench/ann/README.md.
 *
 *   forge_ann gen  OUT N NQ DIM SEED      synthetic clustered data set (normalised), binary file
 *   forge_ann gt   DATA OUT K THREADS      exact top-K by cosine (vec_exact_search)
 *   forge_ann run  DATA GT MODE TAG [EF...] build, recall@10 / qps per ef, memory, save+load
 *   forge_ann query DATA GT INDEX TAG [EF...] recall@10 / qps of a saved index (e.g. under
 *                                            FORGE_VEC_KERNEL=avx2|scalar to compare kernels)
 * FORGE_ANN_KEEP=PATH makes `run` keep its saved index at PATH; FORGE_ANN_REPS (default 3) is the
 * number of timed passes per ef (the fastest is reported); FORGE_ANN_TMP the temp directory.
 *
 * File formats (little-endian):
 *   data: "FANNDAT1" u32 n, u32 nq, u32 dim, u32 0, then n*dim f32 base, nq*dim f32 queries
 *   gt:   "FANNGT01" u32 nq, u32 k, then nq*k u32 row ids, best first
 * Results are printed as "RESULT key=value ..." lines for report.py. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/mem.h"
#include "vec/hnsw.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "forge_ann: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

static unsigned long parse_ul(const char *s)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end)
        die("bad number");
    return v;
}

/* ---- data generation --------------------------------------------------------------------- */

static uint64_t rng_s;
static uint64_t rnext(void)
{
    uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double runif(void)
{
    return ((double)(rnext() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static float rgauss(void)
{
    return (float)(sqrt(-2.0 * log(runif())) * cos(6.283185307179586 * runif()));
}

/* Embedding-like data: points live near a LATENT-dimensional subspace (random linear map to dim),
 * grouped in CLUSTERS clusters of varying width, plus a little full-dimensional noise, then
 * normalised. Queries come from the same distribution. */
#define GEN_LATENT   64
#define GEN_CLUSTERS 200
#define GEN_NOISE    0.3f
#define GEN_CENTRE   1.0f

static void gen(const char *out, size_t n, size_t nq, unsigned dim, uint64_t seed)
{
    rng_s = seed;
    float *A = fg_xmalloc((size_t)dim * GEN_LATENT * sizeof(float));
    for (size_t i = 0; i < (size_t)dim * GEN_LATENT; i++)
        A[i] = rgauss() / sqrtf((float)GEN_LATENT);
    float *cent = fg_xmalloc((size_t)GEN_CLUSTERS * GEN_LATENT * sizeof(float));
    float width[GEN_CLUSTERS];
    for (size_t i = 0; i < (size_t)GEN_CLUSTERS * GEN_LATENT; i++)
        cent[i] = GEN_CENTRE * rgauss();
    for (int c = 0; c < GEN_CLUSTERS; c++)
        width[c] = 0.5f + (float)runif();
    FILE *f = fopen(out, "wb");
    if (!f)
        die(out);
    uint32_t hd[4] = {(uint32_t)n, (uint32_t)nq, dim, 0};
    if (fwrite("FANNDAT1", 1, 8, f) != 8 || fwrite(hd, sizeof(hd), 1, f) != 1)
        die("write");
    float *x = fg_xmalloc(dim * sizeof(float));
    float z[GEN_LATENT];
    for (size_t i = 0; i < n + nq; i++) {
        int c = (int)(rnext() % GEN_CLUSTERS);
        for (int j = 0; j < GEN_LATENT; j++)
            z[j] = cent[c * GEN_LATENT + j] + width[c] * rgauss();
        double ss = 0;
        for (unsigned d = 0; d < dim; d++) {
            float s = GEN_NOISE * rgauss();
            for (int j = 0; j < GEN_LATENT; j++)
                s += A[(size_t)d * GEN_LATENT + j] * z[j];
            x[d] = s;
            ss += (double)s * s;
        }
        float inv = (float)(1.0 / sqrt(ss));
        for (unsigned d = 0; d < dim; d++)
            x[d] *= inv;
        if (fwrite(x, sizeof(float), dim, f) != dim)
            die("write");
    }
    if (fclose(f) != 0)
        die("close");
    free(A);
    free(cent);
    free(x);
}

struct dataset {
    uint32_t n, nq, dim;
    float *base, *queries;
};

static void load_data(const char *path, struct dataset *ds)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    char magic[8];
    uint32_t hd[4];
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "FANNDAT1", 8) != 0 ||
        fread(hd, sizeof(hd), 1, f) != 1)
        die("bad data file");
    ds->n = hd[0];
    ds->nq = hd[1];
    ds->dim = hd[2];
    size_t tot = ((size_t)ds->n + ds->nq) * ds->dim;
    ds->base = fg_xmalloc(tot * sizeof(float));
    if (fread(ds->base, sizeof(float), tot, f) != tot)
        die("short data file");
    ds->queries = ds->base + (size_t)ds->n * ds->dim;
    fclose(f);
}

/* ---- ground truth ------------------------------------------------------------------------ */

struct gt_job {
    const struct dataset *ds;
    uint32_t k, q0, q1;
    uint32_t *out;
};

static void *gt_worker(void *arg)
{
    struct gt_job *j = arg;
    struct hnsw_hit *h = fg_xmalloc(j->k * sizeof(*h));
    for (uint32_t q = j->q0; q < j->q1; q++) {
        size_t got = vec_exact_search(j->ds->base, j->ds->n, j->ds->dim,
                                      j->ds->queries + (size_t)q * j->ds->dim, j->k, h);
        for (uint32_t i = 0; i < j->k; i++)
            j->out[(size_t)q * j->k + i] = i < got ? (uint32_t)h[i].label : UINT32_MAX;
    }
    free(h);
    return NULL;
}

static void gt(const char *data, const char *out, uint32_t k, unsigned threads)
{
    struct dataset ds;
    load_data(data, &ds);
    uint32_t *ids = fg_xmalloc((size_t)ds.nq * k * sizeof(uint32_t));
    pthread_t th[16];
    struct gt_job jobs[16];
    if (threads < 1 || threads > 16)
        threads = 1;
    double t0 = now();
    for (unsigned t = 0; t < threads; t++) {
        jobs[t] = (struct gt_job){&ds, k, ds.nq * t / threads, ds.nq * (t + 1) / threads, ids};
        pthread_create(&th[t], NULL, gt_worker, &jobs[t]);
    }
    for (unsigned t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    fprintf(stderr, "ground truth: %u queries x %u vectors in %.1f s (%u threads)\n", ds.nq, ds.n,
            now() - t0, threads);
    /* Exact search as a baseline: one thread, up to 200 queries. */
    uint32_t nx = ds.nq < 200 ? ds.nq : 200;
    struct hnsw_hit *h = fg_xmalloc(10 * sizeof(*h));
    double s0 = now();
    for (uint32_t q = 0; q < nx; q++)
        (void)vec_exact_search(ds.base, ds.n, ds.dim, ds.queries + (size_t)q * ds.dim, 10, h);
    printf("RESULT impl=exact kind=exact recall=1.0000 qps=%.1f threads=1\n", nx / (now() - s0));
    free(h);
    FILE *f = fopen(out, "wb");
    uint32_t hd[2] = {ds.nq, k};
    if (!f || fwrite("FANNGT01", 1, 8, f) != 8 || fwrite(hd, sizeof(hd), 1, f) != 1 ||
        fwrite(ids, sizeof(uint32_t), (size_t)ds.nq * k, f) != (size_t)ds.nq * k || fclose(f))
        die("write gt");
    free(ids);
    free(ds.base);
}

/* ---- run --------------------------------------------------------------------------------- */

#define RECALL_K 10

/* recall@10 against the exact top list; with `alive`, the exact top-10 of the surviving rows is
 * the first 10 alive entries of the (longer) ground-truth list. */
static const unsigned char *g_alive;

static double recall_of(const struct hnsw_hit *hits, const size_t *nh, const uint32_t *gtids,
                        uint32_t gtk, uint32_t nq)
{
    size_t found = 0, total = 0;
    for (uint32_t q = 0; q < nq; q++) {
        uint32_t taken = 0;
        for (uint32_t i = 0; i < gtk && taken < RECALL_K; i++) {
            uint32_t id = gtids[(size_t)q * gtk + i];
            if (id == UINT32_MAX || (g_alive && !g_alive[id]))
                continue;
            taken++;
            for (size_t j = 0; j < nh[q]; j++)
                if (hits[(size_t)q * RECALL_K + j].label == id) {
                    found++;
                    break;
                }
        }
        total += taken;
    }
    return total ? (double)found / (double)total : 0.0;
}

/* Resident anonymous / file-backed memory of this process, bytes (from /proc/self/status). */
static void rss(size_t *anon, size_t *file)
{
    *anon = *file = 0;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        unsigned long kb;
        if (sscanf(line, "RssAnon: %lu kB", &kb) == 1)
            *anon = kb * 1024;
        else if (sscanf(line, "RssFile: %lu kB", &kb) == 1)
            *file += kb * 1024;
        else if (sscanf(line, "RssShmem: %lu kB", &kb) == 1)
            *file += kb * 1024;
    }
    if (f)
        fclose(f);
}

static void query_passes(hnsw_index_t *idx, const struct dataset *ds, const uint32_t *gtids,
                         uint32_t gtk, const char *tag, int nef, char **efs)
{
    struct hnsw_hit *hits = fg_xmalloc((size_t)ds->nq * RECALL_K * sizeof(*hits));
    size_t *nh = fg_xmalloc(ds->nq * sizeof(size_t));
    /* Warm-up pass (page faults, scratch allocation). */
    for (uint32_t q = 0; q < ds->nq; q++)
        nh[q] = hnsw_search(idx, ds->queries + (size_t)q * ds->dim, RECALL_K, 64, NULL, NULL,
                            hits + (size_t)q * RECALL_K);
    int reps = getenv("FORGE_ANN_REPS") ? (int)parse_ul(getenv("FORGE_ANN_REPS")) : 3;
    for (int a = 0; a < nef; a++) {
        size_t ef = parse_ul(efs[a]);
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            double s = now();
            for (uint32_t q = 0; q < ds->nq; q++)
                nh[q] = hnsw_search(idx, ds->queries + (size_t)q * ds->dim, RECALL_K, ef, NULL,
                                    NULL, hits + (size_t)q * RECALL_K);
            double e = now() - s;
            if (e < best)
                best = e;
        }
        printf("RESULT impl=%s kind=query ef=%zu recall=%.4f qps=%.0f\n", tag, ef,
               recall_of(hits, nh, gtids, gtk, ds->nq), ds->nq / best);
        fflush(stdout);
    }
    free(hits);
    free(nh);
}

static uint32_t *load_gt(const char *path, const struct dataset *ds, uint32_t *k)
{
    FILE *f = fopen(path, "rb");
    char magic[8];
    uint32_t gh[2];
    if (!f || fread(magic, 1, 8, f) != 8 || memcmp(magic, "FANNGT01", 8) != 0 ||
        fread(gh, sizeof(gh), 1, f) != 1 || gh[0] != ds->nq || gh[1] < RECALL_K)
        die("bad gt file");
    uint32_t *gtids = fg_xmalloc((size_t)gh[0] * gh[1] * sizeof(uint32_t));
    if (fread(gtids, sizeof(uint32_t), (size_t)gh[0] * gh[1], f) != (size_t)gh[0] * gh[1])
        die("short gt");
    fclose(f);
    *k = gh[1];
    return gtids;
}

static void query_saved(int argc, char **argv)
{
    if (argc < 6)
        die("usage: query DATA GT INDEX TAG [EF...]");
    struct dataset ds;
    load_data(argv[2], &ds);
    uint32_t gtk;
    uint32_t *gtids = load_gt(argv[3], &ds, &gtk);
    enum fg_err err;
    hnsw_index_t *idx = hnsw_load(argv[4], &err);
    if (!idx)
        die("load");
    struct hnsw_stats st;
    hnsw_get_stats(idx, &st);
    printf("RESULT impl=%s kind=info kernel=%s\n", argv[5], st.kernel);
    query_passes(idx, &ds, gtids, gtk, argv[5], argc - 6, argv + 6);
    hnsw_free(idx);
    free(gtids);
    free(ds.base);
}

static void run(int argc, char **argv)
{
    if (argc < 6)
        die("usage: run DATA GT float|int8 TAG [EF...]");
    struct dataset ds;
    load_data(argv[2], &ds);
    uint32_t gtk;
    uint32_t *gtids = load_gt(argv[3], &ds, &gtk);
    int int8 = strcmp(argv[4], "int8") == 0;
    const char *tag = argv[5];
    const char *tmpdir = getenv("FORGE_ANN_TMP") ? getenv("FORGE_ANN_TMP") : "/tmp";

    struct hnsw_params p = {.dim = ds.dim,
                            .M = 16,
                            .ef_construction = 200,
                            .quantize_int8 = int8,
                            .seed = 42,
                            .initial_capacity = ds.n,
                            .float_dir = tmpdir};
    size_t anon0, file0, anon1, file1;
    rss(&anon0, &file0);
    hnsw_index_t *idx = hnsw_new(&p);
    if (!idx)
        die("hnsw_new");
    double t0 = now();
    for (uint32_t i = 0; i < ds.n; i++)
        if (hnsw_insert(idx, i, ds.base + (size_t)i * ds.dim) != FG_OK)
            die("insert");
    double build = now() - t0;
    rss(&anon1, &file1);
    struct hnsw_stats st;
    hnsw_get_stats(idx, &st);
    printf(
        "RESULT impl=%s kind=build build_s=%.2f bytes_per_vec=%.1f float_file_bytes_per_vec=%.1f "
        "rss_anon_per_vec=%.1f rss_file_per_vec=%.1f kernel=%s threads=1\n",
        tag, build, (double)st.memory_bytes / ds.n, (double)st.float_file_bytes / ds.n,
        ((double)anon1 - (double)anon0) / ds.n, ((double)file1 - (double)file0) / ds.n, st.kernel);
    fflush(stdout);

    query_passes(idx, &ds, gtids, gtk, tag, argc - 6, argv + 6);

    /* Restart: save, free, load, answer. */
    char path[512];
    const char *keep = getenv("FORGE_ANN_KEEP");
    snprintf(path, sizeof(path), "%s/forge-ann-%s-%d.hnsw", tmpdir, tag, (int)getpid());
    if (keep)
        snprintf(path, sizeof(path), "%s", keep);
    t0 = now();
    if (hnsw_save(idx, path) != FG_OK)
        die("save");
    double save_s = now() - t0;
    struct hnsw_hit ref[RECALL_K];
    size_t nref = hnsw_search(idx, ds.queries, RECALL_K, 64, NULL, NULL, ref);
    hnsw_free(idx);
    t0 = now();
    enum fg_err err;
    idx = hnsw_load(path, &err);
    if (!idx)
        die("load");
    struct hnsw_hit again[RECALL_K];
    size_t nagain = hnsw_search(idx, ds.queries, RECALL_K, 64, NULL, NULL, again);
    double load_s = now() - t0;
    int same = nref == nagain;
    for (size_t i = 0; same && i < nref; i++)
        same = ref[i].label == again[i].label && ref[i].score == again[i].score;
    FILE *pf = fopen(path, "rb");
    long fsize = -1;
    if (pf && fseek(pf, 0, SEEK_END) == 0)
        fsize = ftell(pf);
    if (pf)
        fclose(pf);
    printf("RESULT impl=%s kind=persist save_s=%.3f load_to_first_answer_s=%.3f file_mb=%.1f "
           "identical=%d\n",
           tag, save_s, load_s, (double)fsize / 1e6, same);
    if (!keep)
        unlink(path);

    /* Churn: delete a seeded 10% (crosses the 10% vacuum threshold: the last delete runs the
     * repair pass), then recall against the exact top-10 of the survivors. */
    if (getenv("FORGE_ANN_CHURN") == NULL || strcmp(getenv("FORGE_ANN_CHURN"), "0") != 0) {
        unsigned char *alive = fg_xmalloc(ds.n);
        memset(alive, 1, ds.n);
        rng_s = 4242;
        uint32_t ndel = ds.n / 10 + 1, done = 0;
        double del_s = 0, worst = 0;
        while (done < ndel) {
            uint32_t i = (uint32_t)(rnext() % ds.n);
            if (!alive[i])
                continue;
            double s = now();
            if (hnsw_delete(idx, i) != FG_OK)
                die("delete");
            double e = now() - s;
            del_s += e;
            worst = e > worst ? e : worst;
            alive[i] = 0;
            done++;
        }
        hnsw_get_stats(idx, &st);
        printf("RESULT impl=%s kind=churn deleted=%u delete_total_s=%.2f slowest_delete_s=%.2f "
               "vacuums=%llu tombstones=%zu\n",
               tag, ndel, del_s, worst, (unsigned long long)st.vacuums, st.tombstones);
        g_alive = alive;
        char tag2[128];
        snprintf(tag2, sizeof(tag2), "%s-after-del10%%", tag);
        query_passes(idx, &ds, gtids, gtk, tag2, argc - 6, argv + 6);
        g_alive = NULL;
        free(alive);
    }
    hnsw_free(idx);
    free(gtids);
    free(ds.base);
}

int main(int argc, char **argv)
{
    if (argc >= 7 && strcmp(argv[1], "gen") == 0) {
        gen(argv[2], parse_ul(argv[3]), parse_ul(argv[4]), (unsigned)parse_ul(argv[5]),
            parse_ul(argv[6]));
        return 0;
    }
    if (argc >= 6 && strcmp(argv[1], "gt") == 0) {
        gt(argv[2], argv[3], (uint32_t)parse_ul(argv[4]), (unsigned)parse_ul(argv[5]));
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "query") == 0) {
        query_saved(argc, argv);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "run") == 0) {
        run(argc, argv);
        return 0;
    }
    fprintf(stderr, "usage: forge_ann gen|gt|run ... (see bench/ann/README.md)\n");
    return 2;
}

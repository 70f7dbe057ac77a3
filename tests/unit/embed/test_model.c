/* The "model" provider (src/embed/model.c, wordpiece.c, safetensors.c) against an independent
 * numpy reference: tests/unit/embed/model/gen_tiny_bert.py writes two small random BERTs (mean
 * pooling with plain tensor names and 512 positions; CLS pooling from 1_Pooling/config.json with
 * "bert."-prefixed names and 24 positions) and their reference embeddings. Also hand-checked
 * tokenizer cases and malformed safetensors files. Needs /usr/bin/python3 with numpy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>
#include <jansson.h>

#include "embed/embedder.h"
#include "embed/model_internal.h"

static char g_dir[] = "/tmp/forge-test-model-XXXXXX";
static json_t *g_ref;

static int setup(void **state)
{
    (void)state;
    char script[1024], cmd[2300];
    const char *src = getenv("FORGE_SRC");
    if (src) {
        snprintf(script, sizeof script, "%s/tests/unit/embed/model/gen_tiny_bert.py", src);
    } else {
        const char *f = __FILE__;
        const char *slash = strrchr(f, '/');
        snprintf(script, sizeof script, "%.*s/model/gen_tiny_bert.py", slash ? (int)(slash - f) : 1,
                 slash ? f : ".");
    }
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", script, g_dir);
    if (system(cmd) != 0)
        return -1;
    char path[256];
    snprintf(path, sizeof path, "%s/reference.json", g_dir);
    json_error_t jerr;
    g_ref = json_load_file(path, 0, &jerr);
    return g_ref ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(g_ref);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static embedder_t *open_model(const char *dir)
{
    struct embed_config c = {.provider = "model", .model_path = dir};
    enum fg_err err;
    char msg[512] = "";
    embedder_t *e = embed_new(&c, &err, msg, sizeof msg);
    if (!e)
        print_error("embed_new: %s\n", msg);
    assert_non_null(e);
    return e;
}

static void test_matches_reference(void **state)
{
    (void)state;
    size_t ci;
    json_t *cs;
    json_array_foreach(json_object_get(g_ref, "cases"), ci, cs)
    {
        const char *dir = json_string_value(json_object_get(cs, "dir"));
        json_t *texts = json_object_get(cs, "texts"), *vecs = json_object_get(cs, "vectors");
        json_t *idsj = json_object_get(cs, "ids");
        size_t n = json_array_size(texts);
        embedder_t *e = open_model(dir);
        unsigned d = embed_dimensions(e);
        assert_int_equal(d, 32);
        assert_string_equal(embed_provider_name(e), "model");
        assert_memory_equal(embed_model_id(e), "model:", 6);
        assert_int_equal(strlen(embed_model_id(e)), 22);
        const char **tx = calloc(n, sizeof(*tx));
        for (size_t i = 0; i < n; i++)
            tx[i] = json_string_value(json_array_get(texts, i));
        float *batch = calloc(n * d, sizeof(float)), one[32];
        char msg[256];
        assert_int_equal(embed_texts(e, tx, NULL, n, batch, msg, sizeof msg), FG_OK);
        double maxerr = 0;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(embed_texts(e, &tx[i], NULL, 1, one, msg, sizeof msg), FG_OK);
            json_t *ref = json_array_get(vecs, i);
            for (unsigned k = 0; k < d; k++) {
                double r = json_number_value(json_array_get(ref, k));
                double e1 = fabs(r - batch[i * d + k]), e2 = fabs(r - one[k]);
                maxerr = e1 > maxerr ? e1 : maxerr;
                maxerr = e2 > maxerr ? e2 : maxerr;
            }
        }
        /* the C tokenizer gives the reference tokenizer's ids */
        struct embed_model *m;
        enum fg_err err;
        m = embed_model_open(dir, &err, msg, sizeof msg);
        assert_non_null(m);
        int32_t ids[512];
        for (size_t i = 0; i < n; i++) {
            json_t *ri = json_array_get(idsj, i);
            size_t k = embed_wp_encode(embed_model_tokenizer(m), tx[i], strlen(tx[i]), ids,
                                       embed_model_max_tokens(m));
            assert_int_equal(k, json_array_size(ri));
            for (size_t j = 0; j < k; j++)
                assert_int_equal(ids[j], json_integer_value(json_array_get(ri, j)));
        }
        embed_model_free(m);
        print_message("%s: max abs error %.3g over %zu texts\n", dir, maxerr, n);
        assert_true(maxerr <= 1e-4);
        free(batch);
        free(tx);
        embed_free(e);
    }
}

/* Four threads embed the reference texts at once through one embedder (weights shared, scratch
 * per call): every result equals the single-threaded one
 * (within 1e-6). */
struct worker {
    embedder_t *e;
    const char **tx;
    size_t n;
    const float *want;
    int bad;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    float *v = calloc(w->n * 32, sizeof(float));
    char msg[128];
    for (int r = 0; r < 20; r++) {
        if (embed_texts(w->e, w->tx, NULL, w->n, v, msg, sizeof msg) != FG_OK)
            w->bad = 1;
        /* BLAS may split work differently under contention: equal within rounding */
        for (size_t i = 0; i < w->n * 32; i++)
            if (fabs((double)v[i] - (double)w->want[i]) > 1e-6)
                w->bad = 1;
    }
    free(v);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    json_t *cs = json_array_get(json_object_get(g_ref, "cases"), 0);
    json_t *texts = json_object_get(cs, "texts");
    size_t n = json_array_size(texts);
    const char **tx = calloc(n, sizeof(*tx));
    for (size_t i = 0; i < n; i++)
        tx[i] = json_string_value(json_array_get(texts, i));
    embedder_t *e = open_model(json_string_value(json_object_get(cs, "dir")));
    float *want = calloc(n * 32, sizeof(float));
    char msg[128];
    assert_int_equal(embed_texts(e, tx, NULL, n, want, msg, sizeof msg), FG_OK);
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.e = e, .tx = tx, .n = n, .want = want};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
    free(want);
    free(tx);
    embed_free(e);
}

/* ids of the tiny vocabulary, by token */
static int32_t id(const struct embed_wp *wp, const char *s)
{
    int32_t v = embed_wp_id(wp, s, strlen(s));
    assert_true(v >= 0);
    return v;
}

static void expect(const struct embed_wp *wp, const char *text, size_t max, const char *want)
{
    int32_t ids[600], exp[600];
    size_t ne = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", want);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
        exp[ne++] = id(wp, t);
    size_t n = embed_wp_encode(wp, text, strlen(text), ids, max);
    if (n != ne)
        print_error("%s: %zu ids, expected %zu\n", text, n, ne);
    assert_int_equal(n, ne);
    assert_memory_equal(ids, exp, n * sizeof(int32_t));
}

static void test_tokenizer_cases(void **state)
{
    (void)state;
    char dir[128], msg[256];
    enum fg_err err;
    snprintf(dir, sizeof dir, "%s/mean", g_dir);
    struct embed_model *m = embed_model_open(dir, &err, msg, sizeof msg);
    assert_non_null(m);
    const struct embed_wp *wp = embed_model_tokenizer(m);
    assert_int_equal(embed_model_max_tokens(m), 512);
    /* accents stripped, lowercase, punctuation split */
    expect(wp, "Héllo, WÖRLD!", 512, "[CLS] hello , world ! [SEP]");
    expect(wp, "naïve café RÉSUMÉ", 512, "[CLS] naive cafe resume [SEP]");
    expect(wp, "forge's memory-search.", 512, "[CLS] forge ' s memory - search . [SEP]");
    /* ## continuation, longest match first */
    expect(wp, "running jumps played", 512, "[CLS] run ##ning jump ##s play ##ed [SEP]");
    expect(wp, "unknowable", 512, "[CLS] un ##k ##n ##o ##w ##able [SEP]");
    /* a word with no decomposition is one [UNK]; so is a word over 100 characters */
    expect(wp, "zz9 fire", 512, "[CLS] [UNK] fire [SEP]");
    char longw[200];
    memset(longw, 'a', 101);
    strcpy(longw + 101, " car");
    expect(wp, longw, 512, "[CLS] [UNK] car [SEP]");
    /* CJK ideographs are words of their own; whitespace of every kind separates */
    expect(wp, "日本data", 512, "[CLS] 日 本 data [SEP]");
    expect(wp, "pay\t\n\u00a0car\x07", 512, "[CLS] pay car [SEP]");
    /* truncation: 600 words give 512 ids ending in [SEP] */
    char *big = malloc(600 * 4 + 1);
    big[0] = 0;
    for (int i = 0; i < 600; i++)
        strcat(big, "car ");
    int32_t *ids = malloc(600 * sizeof(int32_t));
    size_t n = embed_wp_encode(wp, big, strlen(big), ids, 512);
    assert_int_equal(n, 512);
    assert_int_equal(ids[0], id(wp, "[CLS]"));
    assert_int_equal(ids[511], id(wp, "[SEP]"));
    assert_int_equal(ids[510], id(wp, "car"));
    /* the embedder accepts it (positions stop at the limit) */
    embedder_t *e = open_model(dir);
    float v[32];
    assert_int_equal(embed_texts(e, (const char *const *)&big, NULL, 1, v, msg, sizeof msg), FG_OK);
    embed_free(e);
    free(ids);
    free(big);
    embed_model_free(m);
}

/* ---- malformed model files ---------------------------------------------------------------- */
static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void st_bytes(const char *hdr, size_t data_len, uint64_t hlen_override, char *out, size_t *n)
{
    uint64_t hl = hlen_override ? hlen_override : strlen(hdr);
    for (int i = 0; i < 8; i++)
        out[i] = (char)(hl >> (8 * i));
    memcpy(out + 8, hdr, strlen(hdr));
    memset(out + 8 + strlen(hdr), 0, data_len);
    *n = 8 + strlen(hdr) + data_len;
}

static void test_malformed_safetensors(void **state)
{
    (void)state;
    static const struct {
        const char *hdr;
        size_t data;
        uint64_t hlen;
        int opens;
    } cases[] = {
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24, 0, 1}, /* ok */
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 20, 0,
         1}, /* short */
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]}}", 24, 0, 1},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[-4,20]}}", 24, 0, 1},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[24,0]}}", 24, 0, 1},
        {"{\"t\":{\"dtype\":\"I64\",\"shape\":[2,3],\"data_offsets\":[0,48]}}", 48, 0, 1},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}}", 24, 0, 1},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0, 1},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24, 0, 1},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,24]}}",
         24, 0, 1},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24,
         UINT64_C(0xffffffffffffff00), 0}, /* header length huge */
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 0, 500, 0},
        {"[1,2,3]", 0, 0, 0},
        {"{\"t\":", 0, 0, 0},
        {"", 0, 0, 0}, /* header length 0 */
    };
    char path[256], buf[512], msg[256];
    snprintf(path, sizeof path, "%s/bad.safetensors", g_dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        st_bytes(cases[i].hdr, cases[i].data, cases[i].hlen, buf, &n);
        write_file(path, buf, n);
        msg[0] = 0;
        struct embed_st *st = embed_st_open(path, msg, sizeof msg);
        assert_int_equal(st != NULL, cases[i].opens);
        if (!st) {
            assert_true(msg[0]);
            continue;
        }
        size_t shape[2] = {2, 3};
        const float *t = embed_st_tensor(st, "t", 2, shape, msg, sizeof msg);
        assert_int_equal(t != NULL, i == 0);
        if (!t)
            assert_true(msg[0]);
        assert_null(embed_st_tensor(st, "missing", 2, shape, msg, sizeof msg));
        embed_st_close(st);
    }
    /* truncated to a few bytes, and a directory instead of a file */
    write_file(path, "\x10\0\0", 3);
    assert_null(embed_st_open(path, msg, sizeof msg));
    assert_null(embed_st_open(g_dir, msg, sizeof msg));

    /* a model directory with a truncated model.safetensors, a wrong shape, no tokenizer */
    char dir[256], cmd[800];
    snprintf(dir, sizeof dir, "%s/broken", g_dir);
    snprintf(cmd, sizeof cmd, "cp -r '%s/mean' '%s' && truncate -s 100000 '%s/model.safetensors'",
             g_dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    struct embed_config c = {.provider = "model", .model_path = dir};
    enum fg_err err;
    assert_null(embed_new(&c, &err, msg, sizeof msg));
    assert_int_equal(err, FG_EINVAL);
    print_message("truncated: %s\n", msg);
    assert_non_null(strstr(msg, "out of range"));
    snprintf(cmd, sizeof cmd,
             "cp '%s/mean/model.safetensors' '%s/' && sed -i 's/\"hidden_size\": 32/"
             "\"hidden_size\": 64/' '%s/config.json'",
             g_dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_null(embed_new(&c, &err, msg, sizeof msg));
    print_message("shape: %s\n", msg);
    assert_non_null(strstr(msg, "shape mismatch"));
    snprintf(cmd, sizeof cmd, "sed -i 's/\"gelu\"/\"relu\"/' '%s/config.json'", dir);
    assert_int_equal(system(cmd), 0);
    assert_null(embed_new(&c, &err, msg, sizeof msg));
    assert_non_null(strstr(msg, "hidden_act"));
    snprintf(cmd, sizeof cmd, "rm '%s/tokenizer.json'", dir);
    assert_int_equal(system(cmd), 0);
    assert_null(embed_new(&c, &err, msg, sizeof msg));
    assert_non_null(strstr(msg, "tokenizer.json"));
    /* a malformed or contradictory optional pooling file is an error too, not ignored */
    snprintf(cmd, sizeof cmd,
             "cp -r '%s/cls' '%s/b2' && printf '{' > '%s/b2/1_Pooling/config.json'", g_dir, g_dir,
             g_dir);
    assert_int_equal(system(cmd), 0);
    snprintf(dir, sizeof dir, "%s/b2", g_dir);
    c.model_path = dir;
    assert_null(embed_new(&c, &err, msg, sizeof msg));
    assert_non_null(strstr(msg, "1_Pooling"));
    snprintf(cmd, sizeof cmd,
             "printf '{\"pooling_mode_cls_token\":true,\"pooling_mode_mean_tokens\":true}' > "
             "'%s/1_Pooling/config.json'",
             dir);
    assert_int_equal(system(cmd), 0);
    assert_null(embed_new(&c, &err, msg, sizeof msg));
    assert_non_null(strstr(msg, "exactly one"));
    c.model_path = NULL;
    assert_null(embed_new(&c, &err, msg, sizeof msg));
    assert_non_null(strstr(msg, "EMBEDDING_MODEL_PATH"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_reference),
        cmocka_unit_test(test_tokenizer_cases),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_malformed_safetensors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* OpenAI / Azure providers against tests/fakes/openai_server.py (real wire format, scripted
 * failures): request shape, retries and backoff, 503 mapping, timeouts, batching, ordering,
 * secret hygiene, cache integration, concurrency. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "embed/embedder.h"

extern char **environ;

#define KEY      "sk-test-0123456789abcdef"
#define BAD_KEY  "sk-test-WRONG-9f8e7d6c5b4a"
#define FAKE_DIM 8

static pid_t g_pid = -1;
static int g_stdin = -1;
static int g_port;
static char g_base[64];

/* ---- fake server lifecycle ----------------------------------------------------------------- */

static void script_path(char *out, size_t n)
{
    const char *src = getenv("FORGE_SRC");
    if (src) {
        snprintf(out, n, "%s/tests/fakes/openai_server.py", src);
        return;
    }
    /* __FILE__ is .../tests/unit/embed/test_openai.c (CMake passes absolute paths) */
    const char *f = __FILE__;
    const char *cut = strstr(f, "tests/unit/embed/test_openai.c");
    snprintf(out, n, "%.*stests/fakes/openai_server.py", cut ? (int)(cut - f) : 0, f);
}

static int start_fake(void **state)
{
    (void)state;
    char script[4096];
    int in[2], out[2];
    posix_spawn_file_actions_t fa;

    script_path(script, sizeof(script));
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char *argv[] = {"/usr/bin/python3", script, NULL};
    int rc = posix_spawn(&g_pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        fprintf(stderr, "cannot start %s: %s\n", script, strerror(rc));
        return -1;
    }
    g_stdin = in[1]; /* closing it makes the server exit */

    char line[32];
    size_t got = 0;
    struct pollfd p = {.fd = out[0], .events = POLLIN};
    while (got < sizeof(line) - 1 && poll(&p, 1, 20000) == 1) {
        ssize_t r = read(out[0], line + got, 1);
        if (r <= 0 || line[got] == '\n')
            break;
        got++;
    }
    line[got] = '\0';
    close(out[0]);
    char *end;
    long port = strtol(line, &end, 10);
    if (end == line || port <= 0 || port > 65535) {
        fprintf(stderr, "fake server did not report its port (got \"%s\")\n", line);
        return -1;
    }
    g_port = (int)port;
    snprintf(g_base, sizeof(g_base), "http://127.0.0.1:%d", g_port);
    return 0;
}

static int stop_fake(void **state)
{
    (void)state;
    if (g_stdin >= 0)
        close(g_stdin);
    if (g_pid > 0) {
        for (int i = 0; i < 100; i++) {
            if (waitpid(g_pid, NULL, WNOHANG) == g_pid)
                return 0;
            struct timespec ts = {0, 50000000L};
            nanosleep(&ts, NULL);
        }
        kill(g_pid, SIGTERM); /* only the process this test started */
        waitpid(g_pid, NULL, 0);
    }
    return 0;
}

/* ---- control endpoint ---------------------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t n;
};

static size_t sb_write(char *d, size_t s, size_t m, void *u)
{
    struct sbuf *b = u;
    char *np = realloc(b->p, b->n + s * m + 1);
    if (!np)
        return 0;
    b->p = np;
    memcpy(b->p + b->n, d, s * m);
    b->n += s * m;
    b->p[b->n] = '\0';
    return s * m;
}

static json_t *control(const char *path, int post)
{
    char url[128];
    struct sbuf b = {0};
    snprintf(url, sizeof(url), "%s%s", g_base, path);
    CURL *h = curl_easy_init();
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    if (post)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sb_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);
    json_t *j = json_loads(b.p ? b.p : "", 0, NULL);
    free(b.p);
    assert_non_null(j);
    return j;
}

static void reset_fake(void)
{
    json_decref(control("/_control/reset", 1));
}

static json_t *fake_stats(void)
{
    return control("/_control/stats", 0);
}

static long fake_requests(void)
{
    json_t *s = fake_stats();
    long n = (long)json_integer_value(json_object_get(s, "requests"));
    json_decref(s);
    return n;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static embedder_t *mk(const char *provider, const char *base, const char *key, const char *model,
                      unsigned dims, long timeout_ms, unsigned retries)
{
    struct embed_config c = {.provider = provider,
                             .base_url = base,
                             .api_key = key,
                             .model = model,
                             .dimensions = dims,
                             .timeout_ms = timeout_ms,
                             .max_retries = retries};
    enum fg_err err;
    char eb[512] = "";
    embedder_t *e = embed_new(&c, &err, eb, sizeof(eb));
    if (!e)
        fprintf(stderr, "embed_new: %s\n", eb);
    assert_non_null(e);
    return e;
}

static embedder_t *mk_openai(const char *model, unsigned retries)
{
    return mk("openai", g_base, KEY, model, FAKE_DIM, 0, retries);
}

/* The fake's embedding of t (see openai_server.py), normalised. */
static void expected(const char *t, unsigned dims, float *out)
{
    unsigned char d[32];
    double n = 0;
    crypto_hash_sha256(d, (const unsigned char *)t, strlen(t));
    for (unsigned j = 0; j < dims; j++) {
        out[j] = (float)((d[j % 32] - 127.5) / 128.0 + 0.001 * j);
        n += (double)out[j] * out[j];
    }
    for (unsigned j = 0; j < dims; j++)
        out[j] = (float)(out[j] / sqrt(n));
}

static void assert_rows(const char *const *texts, size_t n, const float *out, unsigned dims)
{
    float *exp = malloc(sizeof(float) * dims);
    assert_non_null(exp);
    for (size_t i = 0; i < n; i++) {
        expected(texts[i], dims, exp);
        for (unsigned j = 0; j < dims; j++)
            assert_true(fabsf(exp[j] - out[i * dims + j]) < 1e-5f);
    }
    free(exp);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
    close(s); /* nothing listens there now */
    return ntohs(a.sin_port);
}

static const char *const three[] = {"first text", "second text", "third text, with ünïcode"};

/* ---- tests -------------------------------------------------------------------------------- */

static void test_request_shape(void **state)
{
    (void)state;
    reset_fake();
    embedder_t *e = mk_openai("fake-ok", 0);
    assert_int_equal(embed_dimensions(e), FAKE_DIM);
    assert_string_equal(embed_model_id(e), "fake-ok");
    assert_string_equal(embed_provider_name(e), "openai");
    float out[3 * FAKE_DIM];
    char eb[256];
    assert_int_equal(embed_texts(e, three, NULL, 3, out, eb, sizeof(eb)), FG_OK);
    assert_rows(three, 3, out, FAKE_DIM);

    json_t *s = fake_stats();
    assert_int_equal(json_integer_value(json_object_get(s, "requests")), 1);
    json_t *last = json_object_get(s, "last");
    assert_string_equal(json_string_value(json_object_get(last, "path")), "/v1/embeddings");
    json_t *hdr = json_object_get(last, "headers");
    assert_string_equal(json_string_value(json_object_get(hdr, "authorization")), "Bearer " KEY);
    assert_string_equal(json_string_value(json_object_get(hdr, "content-type")),
                        "application/json");
    assert_non_null(strstr(json_string_value(json_object_get(hdr, "user-agent")), "forge/"));
    assert_null(json_object_get(hdr, "expect"));
    json_t *body = json_object_get(last, "body");
    assert_string_equal(json_string_value(json_object_get(body, "model")), "fake-ok");
    assert_int_equal(json_integer_value(json_object_get(body, "dimensions")), FAKE_DIM);
    assert_string_equal(json_string_value(json_object_get(body, "encoding_format")), "float");
    json_t *input = json_object_get(body, "input");
    assert_int_equal(json_array_size(input), 3);
    assert_string_equal(json_string_value(json_array_get(input, 2)), three[2]);
    json_decref(s);

    struct embed_stats st;
    embed_get_stats(e, &st);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.texts, 3);
    assert_int_equal(st.provider_calls, 1);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.errors, 0);
    embed_free(e);
}

static void test_base_url_forms(void **state)
{
    (void)state;
    const char *suffixes[] = {"/", "/v1", "/v1/", "/v1/embeddings"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char base[128];
        snprintf(base, sizeof(base), "%s%s", g_base, suffixes[i]);
        reset_fake();
        embedder_t *e = mk("openai", base, KEY, "fake-ok", FAKE_DIM, 0, 0);
        float out[FAKE_DIM];
        const char *t[1] = {"x"};
        char eb[256];
        assert_int_equal(embed_texts(e, t, NULL, 1, out, eb, sizeof(eb)), FG_OK);
        json_t *s = fake_stats();
        assert_string_equal(json_string_value(json_object_get(json_object_get(s, "last"), "path")),
                            "/v1/embeddings");
        json_decref(s);
        embed_free(e);
    }
}

static void test_native_dims_not_sent(void **state)
{
    (void)state;
    reset_fake();
    /* default model, no EMBEDDING_DIMENSIONS: 1536 and no "dimensions" in the body */
    embedder_t *e = mk("openai", g_base, KEY, NULL, 0, 0, 0);
    assert_int_equal(embed_dimensions(e), 1536);
    assert_string_equal(embed_model_id(e), "text-embedding-3-small");
    float *out = malloc(sizeof(float) * 1536);
    assert_non_null(out);
    const char *t[1] = {"hello"};
    char eb[256];
    assert_int_equal(embed_texts(e, t, NULL, 1, out, eb, sizeof(eb)), FG_OK);
    assert_rows(t, 1, out, 1536);
    json_t *s = fake_stats();
    json_t *body = json_object_get(json_object_get(s, "last"), "body");
    assert_string_equal(json_string_value(json_object_get(body, "model")),
                        "text-embedding-3-small");
    assert_null(json_object_get(body, "dimensions"));
    json_decref(s);
    free(out);
    embed_free(e);
}

static void test_retry_after_429(void **state)
{
    (void)state;
    reset_fake();
    embedder_t *e = mk_openai("fake-429x2", 3);
    float out[3 * FAKE_DIM];
    char eb[256];
    double t0 = now_s();
    assert_int_equal(embed_texts(e, three, NULL, 3, out, eb, sizeof(eb)), FG_OK);
    double dt = now_s() - t0;
    printf("429 x2 with Retry-After: 1 -> ok after %.2f s\n", dt);
    assert_true(dt >= 1.9); /* Retry-After: 1 honoured twice */
    assert_true(dt < 10.0);
    assert_rows(three, 3, out, FAKE_DIM);
    struct embed_stats st;
    embed_get_stats(e, &st);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.provider_calls, 3);
    assert_int_equal(st.errors, 0);
    assert_int_equal(fake_requests(), 3);
    embed_free(e);
}

static void test_500_gives_up(void **state)
{
    (void)state;
    reset_fake();
    embedder_t *e = mk_openai("fake-500", 2);
    float out[3 * FAKE_DIM];
    char eb[512] = "";
    double t0 = now_s();
    assert_int_equal(embed_texts(e, three, NULL, 3, out, eb, sizeof(eb)), FG_EUNAVAIL);
    double dt = now_s() - t0;
    printf("500 always: %s (%.2f s)\n", eb, dt);
    assert_non_null(strstr(eb, "HTTP 500"));
    assert_non_null(strstr(eb, "3 attempts"));
    assert_non_null(strstr(eb, "The server had an error"));
    assert_true(dt < 0.2 + 0.4 + 2.0); /* full jitter: at most 200 + 400 ms of sleep */
    struct embed_stats st;
    embed_get_stats(e, &st);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.provider_calls, 3);
    assert_int_equal(st.errors, 1);
    assert_int_equal(fake_requests(), 3);
    embed_free(e);

    /* EMBED_NO_RETRIES: exactly one attempt */
    reset_fake();
    e = mk_openai("fake-500", EMBED_NO_RETRIES);
    assert_int_equal(embed_texts(e, three, NULL, 1, out, eb, sizeof(eb)), FG_EUNAVAIL);
    assert_int_equal(fake_requests(), 1);
    embed_free(e);
}

static void test_timeout(void **state)
{
    (void)state;
    reset_fake();
    embedder_t *e = mk("openai", g_base, KEY, "fake-slow", FAKE_DIM, 300, 1);
    float out[FAKE_DIM];
    const char *t[1] = {"slow"};
    char eb[256] = "";
    double t0 = now_s();
    assert_int_equal(embed_texts(e, t, NULL, 1, out, eb, sizeof(eb)), FG_EUNAVAIL);
    double dt = now_s() - t0;
    printf("timeout: %s (%.2f s)\n", eb, dt);
    assert_non_null(strstr(eb, "no response within 300 ms"));
    assert_true(dt >= 0.55); /* two attempts of 300 ms */
    assert_true(dt < 2.5);   /* well under one 3 s server delay + slack */
    struct embed_stats st;
    embed_get_stats(e, &st);
    assert_int_equal(st.provider_calls, 2);
    assert_int_equal(st.retries, 1);
    embed_free(e);
}

static void test_bad_key_no_retry_no_leak(void **state)
{
    (void)state;
    reset_fake();
    embedder_t *e = mk("openai", g_base, BAD_KEY, "fake-ok", FAKE_DIM, 0, 3);
    float out[FAKE_DIM];
    const char *t[1] = {"x"};
    char eb[512] = "";
    assert_int_equal(embed_texts(e, t, NULL, 1, out, eb, sizeof(eb)), FG_EUNAVAIL);
    printf("401: %s\n", eb);
    assert_non_null(strstr(eb, "HTTP 401"));
    assert_non_null(strstr(eb, "Incorrect API key provided"));
    assert_null(strstr(eb, BAD_KEY));      /* the fake echoed it: scrubbed */
    assert_null(strstr(eb, "WRONG-9f8e")); /* not even a part */
    assert_non_null(strstr(eb, "[redacted]"));
    struct embed_stats st;
    embed_get_stats(e, &st);
    assert_int_equal(st.provider_calls, 1);
    assert_int_equal(st.retries, 0);
    assert_int_equal(fake_requests(), 1);
    embed_free(e);

    /* a tiny errbuf truncates without leaking a key prefix either */
    e = mk("openai", g_base, BAD_KEY, "fake-ok", FAKE_DIM, 0, EMBED_NO_RETRIES);
    for (size_t len = 1; len < 120; len += 7) {
        char small[128];
        memset(small, 'Z', sizeof(small));
        assert_int_equal(embed_texts(e, t, NULL, 1, out, small, len), FG_EUNAVAIL);
        assert_true(strlen(small) < len);
        assert_null(strstr(small, "sk-test-WRONG"));
    }
    embed_free(e);
}

static void test_400_no_retry(void **state)
{
    (void)state;
    reset_fake();
    embedder_t *e = mk_openai("fake-400", 3);
    float out[FAKE_DIM];
    const char *t[1] = {"x"};
    char eb[512] = "";
    assert_int_equal(embed_texts(e, t, NULL, 1, out, eb, sizeof(eb)), FG_EUNAVAIL);
    assert_non_null(strstr(eb, "HTTP 400"));
    assert_non_null(strstr(eb, "maximum context length"));
    assert_int_equal(fake_requests(), 1);
    embed_free(e);
}

static void test_bad_responses(void **state)
{
    (void)state;
    float out[3 * FAKE_DIM];
    char eb[512] = "";

    reset_fake();
    embedder_t *e = mk_openai("fake-wrongdims", 3);
    assert_int_equal(embed_texts(e, three, NULL, 3, out, eb, sizeof(eb)), FG_EUNAVAIL);
    printf("wrong dims: %s\n", eb);
    assert_non_null(strstr(eb, "9-dimensional"));
    assert_int_equal(fake_requests(), 1); /* not transient: no retry */
    embed_free(e);

    reset_fake();
    e = mk_openai("fake-short", 3);
    assert_int_equal(embed_texts(e, three, NULL, 3, out, eb, sizeof(eb)), FG_EUNAVAIL);
    assert_non_null(strstr(eb, "2 embeddings for 3 inputs"));
    embed_free(e);

    /* nothing listening: transport error, retried, then 503 */
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", free_port());
    e = mk("openai", base, KEY, "fake-ok", FAKE_DIM, 2000, 1);
    assert_int_equal(embed_texts(e, three, NULL, 1, out, eb, sizeof(eb)), FG_EUNAVAIL);
    printf("refused: %s\n", eb);
    assert_non_null(strstr(eb, "cannot reach the provider"));
    struct embed_stats st;
    embed_get_stats(e, &st);
    assert_int_equal(st.provider_calls, 2);
    embed_free(e);
}

static void test_ordering_by_index(void **state)
{
    (void)state;
    reset_fake();
    embedder_t *e = mk_openai("fake-shuffle", 0); /* data[] comes back reversed */
    float out[3 * FAKE_DIM];
    char eb[256];
    assert_int_equal(embed_texts(e, three, NULL, 3, out, eb, sizeof(eb)), FG_OK);
    assert_rows(three, 3, out, FAKE_DIM);
    embed_free(e);
}

static void test_batching(void **state)
{
    (void)state;
    enum { N = 3000 };
    static char bufs[N][24];
    static const char *texts[N];
    for (int i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof(bufs[i]), "text number %d", i);
        texts[i] = bufs[i];
    }
    float *out = malloc(sizeof(float) * N * FAKE_DIM);
    assert_non_null(out);
    reset_fake();
    embedder_t *e = mk_openai("fake-ok", 0);
    char eb[256];
    assert_int_equal(embed_texts(e, texts, NULL, N, out, eb, sizeof(eb)), FG_OK);
    json_t *s = fake_stats();
    json_t *b = json_object_get(s, "batches");
    assert_int_equal(json_integer_value(json_object_get(s, "requests")), 2);
    assert_int_equal(json_integer_value(json_array_get(b, 0)), 2048);
    assert_int_equal(json_integer_value(json_array_get(b, 1)), N - 2048);
    json_decref(s);
    assert_rows(texts, N, out, FAKE_DIM);
    struct embed_stats st;
    embed_get_stats(e, &st);
    assert_int_equal(st.provider_calls, 2);
    embed_free(e);
    free(out);
}

static void test_cache_avoids_http(void **state)
{
    (void)state;
    reset_fake();
    struct embed_mem_cache *mc = embed_mem_cache_new(100);
    struct embed_cache_ops ops = embed_mem_cache_ops(mc);
    embedder_t *e = mk_openai("fake-ok", 0);
    embed_set_cache(e, &ops);
    float a[3 * FAKE_DIM], b[3 * FAKE_DIM];
    char eb[256];

    assert_int_equal(embed_texts(e, three, NULL, 2, a, eb, sizeof(eb)), FG_OK);
    assert_int_equal(fake_requests(), 1);
    assert_int_equal(embed_mem_cache_len(mc), 2);
    /* same texts again: no HTTP call at all */
    assert_int_equal(embed_texts(e, three, NULL, 2, b, eb, sizeof(eb)), FG_OK);
    assert_int_equal(fake_requests(), 1);
    assert_memory_equal(a, b, sizeof(float) * 2 * FAKE_DIM);
    /* one new text among cached ones: only it is sent, rows stay in order */
    assert_int_equal(embed_texts(e, three, NULL, 3, b, eb, sizeof(eb)), FG_OK);
    json_t *s = fake_stats();
    assert_int_equal(json_integer_value(json_object_get(s, "requests")), 2);
    json_t *input = json_object_get(json_object_get(json_object_get(s, "last"), "body"), "input");
    assert_int_equal(json_array_size(input), 1);
    assert_string_equal(json_string_value(json_array_get(input, 0)), three[2]);
    json_decref(s);
    assert_rows(three, 3, b, FAKE_DIM);

    struct embed_stats st;
    embed_get_stats(e, &st);
    assert_int_equal(st.cache_hits, 4);
    assert_int_equal(st.cache_misses, 3);
    assert_int_equal(st.provider_calls, 2);

    /* another model or dimension count never reads these entries */
    embedder_t *e2 = mk("openai", g_base, KEY, "fake-ok", FAKE_DIM * 2, 0, 0);
    embed_set_cache(e2, &ops);
    float c16[2 * FAKE_DIM];
    assert_int_equal(embed_texts(e2, three, NULL, 1, c16, eb, sizeof(eb)), FG_OK);
    assert_int_equal(fake_requests(), 3);
    embed_free(e2);

    /* removing the cache goes back to the provider */
    embed_set_cache(e, NULL);
    assert_int_equal(embed_texts(e, three, NULL, 1, b, eb, sizeof(eb)), FG_OK);
    assert_int_equal(fake_requests(), 4);
    embed_free(e);
    embed_mem_cache_free(mc);
}

static void test_azure(void **state)
{
    (void)state;
    reset_fake();
    char base[128];
    snprintf(base, sizeof(base), "%s/openai/deployments/fake-ok/", g_base);
    struct embed_config c = {.provider = "azure",
                             .base_url = base,
                             .api_key = KEY,
                             .model = "fake-ok",
                             .dimensions = FAKE_DIM};
    enum fg_err err;
    char eb[512] = "";
    embedder_t *e = embed_new(&c, &err, eb, sizeof(eb));
    assert_non_null(e);
    assert_string_equal(embed_provider_name(e), "azure");
    float out[3 * FAKE_DIM];
    assert_int_equal(embed_texts(e, three, NULL, 3, out, eb, sizeof(eb)), FG_OK);
    assert_rows(three, 3, out, FAKE_DIM);
    json_t *s = fake_stats();
    json_t *last = json_object_get(s, "last");
    assert_string_equal(json_string_value(json_object_get(last, "path")),
                        "/openai/deployments/fake-ok/embeddings?api-version=2024-02-01");
    json_t *hdr = json_object_get(last, "headers");
    assert_string_equal(json_string_value(json_object_get(hdr, "api-key")), KEY);
    assert_null(json_object_get(hdr, "authorization"));
    assert_null(json_object_get(json_object_get(last, "body"), "model"));
    json_decref(s);
    embed_free(e);

    /* explicit api version; 429s are retried on Azure too */
    reset_fake();
    snprintf(base, sizeof(base), "%s/openai/deployments/fake-429x2", g_base);
    c.base_url = base;
    c.azure_api_version = "2024-06-01";
    e = embed_new(&c, &err, eb, sizeof(eb));
    assert_non_null(e);
    assert_int_equal(embed_texts(e, three, NULL, 1, out, eb, sizeof(eb)), FG_OK);
    s = fake_stats();
    assert_int_equal(json_integer_value(json_object_get(s, "requests")), 3);
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(s, "last"), "path")),
                           "api-version=2024-06-01"));
    json_decref(s);
    embed_free(e);

    /* wrong key on Azure: 401, scrubbed */
    snprintf(base, sizeof(base), "%s/openai/deployments/fake-ok", g_base);
    c.api_key = BAD_KEY;
    e = embed_new(&c, &err, eb, sizeof(eb));
    assert_non_null(e);
    assert_int_equal(embed_texts(e, three, NULL, 1, out, eb, sizeof(eb)), FG_EUNAVAIL);
    assert_null(strstr(eb, BAD_KEY));
    embed_free(e);
}

static void test_config_errors(void **state)
{
    (void)state;
    enum fg_err err;
    char eb[512];
    struct {
        struct embed_config c;
        const char *msg;
    } cases[] = {
        {{.provider = "openai"}, "OPENAI_API_KEY"}, /* default endpoint needs a key */
        {{.provider = "azure", .api_key = KEY}, "deployment URL"},
        {{.provider = "azure", .base_url = "https://x.openai.azure.com/openai/deployments/d"},
         "API_KEY"},
        {{.provider = "openai", .base_url = "ftp://example.com", .api_key = KEY}, "http"},
        {{.provider = "openai", .base_url = "http://h/v1?x=1", .api_key = KEY}, "query"},
        {{.provider = "openai", .api_key = KEY, .model = "my-model"}, "EMBEDDING_DIMENSIONS"},
        {{.provider = "openai",
          .api_key = KEY,
          .model = "text-embedding-ada-002",
          .dimensions = 256},
         "does not support"},
        {{.provider = "openai", .api_key = KEY, .dimensions = 2000}, "does not support"},
        {{.provider = "openai", .api_key = KEY, .dimensions = EMBED_MAX_DIMS + 1}, "limit"},
        {{.provider = "openai", .api_key = "sk-abc\r\nX-Evil: 1"}, "invalid characters"},
        {{.provider = "openai", .api_key = KEY, .model = "bad model"}, "EMBEDDING_MODEL"},
        {{.provider = "azure",
          .api_key = KEY,
          .base_url = "https://x/openai/deployments/d",
          .azure_api_version = "2024&x=1"},
         "AZURE_OPENAI_API_VERSION"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eb[0] = '\0';
        err = FG_OK;
        embedder_t *e = embed_new(&cases[i].c, &err, eb, sizeof(eb));
        if (e || !strstr(eb, cases[i].msg))
            fprintf(stderr, "case %zu: got \"%s\"\n", i, eb);
        assert_null(e);
        assert_int_equal(err, FG_EINVAL);
        assert_non_null(strstr(eb, cases[i].msg));
        assert_null(strstr(eb, "sk-abc"));
    }
    /* a custom endpoint (self-hosted, OpenAI-compatible) may run without a key */
    reset_fake();
    embedder_t *e = mk("openai", g_base, NULL, "fake-noauth", FAKE_DIM, 0, 0);
    float out[FAKE_DIM];
    assert_int_equal(embed_texts(e, three, NULL, 1, out, eb, sizeof(eb)), FG_OK);
    json_t *s = fake_stats();
    assert_null(
        json_object_get(json_object_get(json_object_get(s, "last"), "headers"), "authorization"));
    json_decref(s);
    embed_free(e);
}

static void test_bad_input_no_http(void **state)
{
    (void)state;
    reset_fake();
    embedder_t *e = mk_openai("fake-ok", 0);
    float out[2 * FAKE_DIM];
    char eb[256];
    const char *empty[2] = {"ok", ""};
    assert_int_equal(embed_texts(e, empty, NULL, 2, out, eb, sizeof(eb)), FG_EINVAL);
    assert_non_null(strstr(eb, "text 1 is empty"));
    const char *bad[1] = {"\xfe"};
    assert_int_equal(embed_texts(e, bad, NULL, 1, out, eb, sizeof(eb)), FG_EINVAL);
    assert_int_equal(fake_requests(), 0);
    /* embedded NUL travels as \u0000 */
    const char *nul[1] = {"a\0b"};
    size_t l[1] = {3};
    assert_int_equal(embed_texts(e, nul, l, 1, out, eb, sizeof(eb)), FG_OK);
    embed_free(e);
}

#define CT_THREADS 6
#define CT_ROUNDS  10

static void *ct_worker(void *p)
{
    embedder_t *e = p;
    float out[3 * FAKE_DIM];
    for (int r = 0; r < CT_ROUNDS; r++) {
        if (embed_texts(e, three, NULL, 3, out, NULL, 0) != FG_OK)
            return (void *)1;
        float exp[FAKE_DIM];
        expected(three[r % 3], FAKE_DIM, exp);
        for (int j = 0; j < FAKE_DIM; j++)
            if (fabsf(exp[j] - out[(r % 3) * FAKE_DIM + j]) > 1e-5f)
                return (void *)2;
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    reset_fake();
    embedder_t *e = mk_openai("fake-ok", 0);
    pthread_t th[CT_THREADS];
    for (int i = 0; i < CT_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, ct_worker, e), 0);
    for (int i = 0; i < CT_THREADS; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    struct embed_stats st;
    embed_get_stats(e, &st);
    assert_int_equal(st.provider_calls, CT_THREADS * CT_ROUNDS);
    assert_int_equal(fake_requests(), CT_THREADS * CT_ROUNDS);
    embed_free(e);
}

static const char *env_lookup(void *ctx, const char *name)
{
    const char *const *kv = ctx;
    for (; *kv; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

static void test_config_from_env(void **state)
{
    (void)state;
    const char *env[] = {"EMBEDDING_PROVIDER",
                         "azure",
                         "EMBEDDING_BASE_URL",
                         "https://x.openai.azure.com/openai/deployments/d",
                         "OPENAI_API_KEY",
                         "sk-openai",
                         "AZURE_OPENAI_API_KEY",
                         "az-key",
                         "EMBEDDING_MODEL",
                         "text-embedding-3-large",
                         "EMBEDDING_DIMENSIONS",
                         "256",
                         "EMBEDDING_TIMEOUT_MS",
                         "1500",
                         "EMBEDDING_MAX_RETRIES",
                         "0",
                         "AZURE_OPENAI_API_VERSION",
                         "2024-06-01",
                         NULL};
    struct embed_config c;
    char eb[256];
    assert_int_equal(embed_config_from_env(&c, env_lookup, (void *)env, eb, sizeof(eb)), FG_OK);
    assert_string_equal(c.provider, "azure");
    assert_string_equal(c.api_key, "az-key");
    assert_string_equal(c.model, "text-embedding-3-large");
    assert_int_equal(c.dimensions, 256);
    assert_int_equal(c.timeout_ms, 1500);
    assert_int_equal(c.max_retries, EMBED_NO_RETRIES);
    assert_string_equal(c.azure_api_version, "2024-06-01");

    const char *bad[] = {"EMBEDDING_DIMENSIONS", "12abc", NULL};
    assert_int_equal(embed_config_from_env(&c, env_lookup, (void *)bad, eb, sizeof(eb)), FG_EINVAL);
    assert_non_null(strstr(eb, "EMBEDDING_DIMENSIONS"));
    const char *neg[] = {"EMBEDDING_TIMEOUT_MS", "-5", NULL};
    assert_int_equal(embed_config_from_env(&c, env_lookup, (void *)neg, eb, sizeof(eb)), FG_EINVAL);
    const char *none[] = {NULL};
    assert_int_equal(embed_config_from_env(&c, env_lookup, (void *)none, eb, sizeof(eb)), FG_OK);
    assert_null(c.provider); /* -> local default */
    assert_int_equal(c.max_retries, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_shape),
        cmocka_unit_test(test_base_url_forms),
        cmocka_unit_test(test_native_dims_not_sent),
        cmocka_unit_test(test_retry_after_429),
        cmocka_unit_test(test_500_gives_up),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_bad_key_no_retry_no_leak),
        cmocka_unit_test(test_400_no_retry),
        cmocka_unit_test(test_bad_responses),
        cmocka_unit_test(test_ordering_by_index),
        cmocka_unit_test(test_batching),
        cmocka_unit_test(test_cache_avoids_http),
        cmocka_unit_test(test_azure),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_bad_input_no_http),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_config_from_env),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (sodium_init() < 0)
        return 1;
    int rc = cmocka_run_group_tests(tests, start_fake, stop_fake);
    curl_global_cleanup();
    return rc;
}

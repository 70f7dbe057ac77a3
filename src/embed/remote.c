/* OpenAI and Azure OpenAI embedding providers over libcurl.
 *
 * Wire format: POST JSON {"model", "input": [...], "dimensions"?, "encoding_format": "float"}
 * (Azure: no "model"; the deployment URL names it), response {"data": [{"index", "embedding"}]}.
 * Retries: 429, 5xx and transport errors, exponential backoff with full jitter (base 200 ms, cap
 * 5 s) or the server's Retry-After (capped), up to max_retries. Other 4xx fail at once.
 * The API key never appears in an error message: provider text is scrubbed of it. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "embed/embed_internal.h"
#include "util/mem.h"

#define EMBED_CURL_POOL_MAX    16  /* idle easy handles kept for connection reuse */
#define EMBED_PROVIDER_MSG_MAX 300 /* bytes of a provider's error message we quote */
#define EMBED_MAX_URL_LEN      2048
#define EMBED_MAX_KEY_LEN      1024

#ifndef FORGE_VERSION
#define FORGE_VERSION "dev"
#endif

struct embed_remote {
    enum embed_remote_kind kind;
    char *url;
    char *model;
    char *key; /* NULL when no auth is sent; only kept to scrub messages; wiped on free */
    struct curl_slist *headers;
    unsigned dims;
    int send_dims;
    long timeout_ms;
    unsigned max_retries;
    pthread_mutex_t pool_mu;
    CURL *pool[EMBED_CURL_POOL_MAX];
    size_t pool_len;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_ok;

static void global_init(void)
{
    global_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK && sodium_init() >= 0;
}

/* ---- helpers ----------------------------------------------------------------------------- */

static int ends_with(const char *s, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n >= k && strncasecmp(s + n - k, suf, k) == 0;
}

static char *concat3(const char *a, size_t alen, const char *b, const char *c)
{
    size_t bl = strlen(b), cl = c ? strlen(c) : 0;
    char *s = fg_xmalloc(alen + bl + cl + 1);
    memcpy(s, a, alen);
    memcpy(s + alen, b, bl);
    if (cl)
        memcpy(s + alen + bl, c, cl);
    s[alen + bl + cl] = '\0';
    return s;
}

static int url_ok(const char *u)
{
    if (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0)
        return 0;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7F)
            return 0;
    return 1;
}

/* Copies a provider message into dst: control characters become spaces, the key (when it
 * appears) becomes "[redacted]", length bounded. */
static void scrub(const char *msg, size_t len, const char *key, char *dst, size_t dstlen)
{
    size_t kl = key ? strlen(key) : 0, o = 0;
    if (!dstlen)
        return;
    if (len > EMBED_PROVIDER_MSG_MAX)
        len = EMBED_PROVIDER_MSG_MAX;
    for (size_t i = 0; i < len && o + 1 < dstlen;) {
        if (kl >= 4 && len - i >= kl && memcmp(msg + i, key, kl) == 0) {
            const char *r = "[redacted]";
            for (; *r && o + 1 < dstlen; r++)
                dst[o++] = *r;
            i += kl;
            continue;
        }
        unsigned char c = (unsigned char)msg[i++];
        dst[o++] = (c < 0x20 || c == 0x7F) ? ' ' : (char)c;
    }
    /* do not end inside a UTF-8 sequence */
    while (o > 0 && ((unsigned char)dst[o - 1] & 0xC0) == 0x80)
        o--;
    if (o > 0 && (unsigned char)dst[o - 1] >= 0xC0)
        o--;
    dst[o] = '\0';
    /* a key cut by the length bound could leave a prefix of it: drop any >= 8-char tail that
     * is a prefix of the key */
    if (kl >= 8) {
        for (size_t start = o > kl ? o - kl : 0; start + 8 <= o; start++) {
            if (memcmp(dst + start, key, o - start) == 0) {
                dst[start] = '\0';
                break;
            }
        }
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void wipe_headers(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        sodium_memzero(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

/* ---- construction ------------------------------------------------------------------------- */

struct embed_remote *embed_remote_new(enum embed_remote_kind kind, const struct embed_config *c,
                                      const char *model, unsigned dims, int send_dims,
                                      enum fg_err *err, char *errbuf, size_t errlen)
{
    struct embed_remote *r = fg_xcalloc(1, sizeof(*r));
    const char *pname = kind == EMBED_REMOTE_OPENAI ? "openai" : "azure";
    const char *base = c->base_url && *c->base_url ? c->base_url : NULL;
    const char *key = c->api_key && *c->api_key ? c->api_key : NULL;

    *err = FG_EINVAL;
    pthread_mutex_init(&r->pool_mu, NULL);
    r->kind = kind;
    r->dims = dims;
    r->send_dims = send_dims;
    r->model = fg_xstrdup(model);
    r->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : EMBED_DEFAULT_TIMEOUT_MS;
    if (r->timeout_ms > EMBED_MAX_TIMEOUT_MS)
        r->timeout_ms = EMBED_MAX_TIMEOUT_MS;
    if (c->max_retries == 0)
        r->max_retries = EMBED_DEFAULT_MAX_RETRIES;
    else if (c->max_retries == EMBED_NO_RETRIES)
        r->max_retries = 0;
    else
        r->max_retries =
            c->max_retries > EMBED_MAX_RETRIES_LIMIT ? EMBED_MAX_RETRIES_LIMIT : c->max_retries;

    pthread_once(&global_once, global_init);
    if (!global_ok) {
        embed_errf(errbuf, errlen, "libcurl/libsodium initialisation failed");
        *err = FG_EINTERNAL;
        goto fail;
    }

    if (kind == EMBED_REMOTE_AZURE && !base) {
        embed_errf(errbuf, errlen,
                   "EMBEDDING_BASE_URL must be the Azure deployment URL "
                   "(https://NAME.openai.azure.com/openai/deployments/DEPLOYMENT)");
        goto fail;
    }
    if (!base)
        base = EMBED_DEFAULT_OPENAI_BASE;
    if (strlen(base) > EMBED_MAX_URL_LEN || !url_ok(base) || strchr(base, '?') ||
        strchr(base, '#')) {
        embed_errf(errbuf, errlen,
                   "EMBEDDING_BASE_URL must be an http:// or https:// URL without query");
        goto fail;
    }
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    if (kind == EMBED_REMOTE_OPENAI) {
        if (ends_with(base, bl, "/v1/embeddings"))
            r->url = concat3(base, bl, "", NULL);
        else if (ends_with(base, bl, "/v1"))
            r->url = concat3(base, bl, "/embeddings", NULL);
        else
            r->url = concat3(base, bl, "/v1/embeddings", NULL);
    } else {
        const char *ver = c->azure_api_version && *c->azure_api_version
                              ? c->azure_api_version
                              : EMBED_DEFAULT_AZURE_VERSION;
        for (const char *p = ver; *p; p++) {
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.') {
                embed_errf(errbuf, errlen, "AZURE_OPENAI_API_VERSION is malformed");
                goto fail;
            }
        }
        if (strlen(ver) > 64) {
            embed_errf(errbuf, errlen, "AZURE_OPENAI_API_VERSION is malformed");
            goto fail;
        }
        if (ends_with(base, bl, "/embeddings"))
            bl -= strlen("/embeddings");
        r->url = concat3(base, bl, "/embeddings?api-version=", ver);
    }

    int default_openai =
        kind == EMBED_REMOTE_OPENAI && strncasecmp(r->url, EMBED_DEFAULT_OPENAI_BASE "/",
                                                   strlen(EMBED_DEFAULT_OPENAI_BASE) + 1) == 0;
    if (!key && (kind == EMBED_REMOTE_AZURE || default_openai)) {
        embed_errf(errbuf, errlen, "%s is not set (required by the %s embedding provider)",
                   kind == EMBED_REMOTE_AZURE ? "AZURE_OPENAI_API_KEY/OPENAI_API_KEY"
                                              : "OPENAI_API_KEY",
                   pname);
        goto fail;
    }
    if (key) {
        if (strlen(key) > EMBED_MAX_KEY_LEN) {
            embed_errf(errbuf, errlen, "the API key is too long");
            goto fail;
        }
        for (const char *p = key; *p; p++) {
            if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7E) {
                embed_errf(errbuf, errlen, "the API key contains invalid characters");
                goto fail;
            }
        }
        r->key = fg_xstrdup(key);
        size_t kl = strlen(key);
        char *h = fg_xmalloc(kl + 32);
        if (kind == EMBED_REMOTE_OPENAI)
            snprintf(h, kl + 32, "Authorization: Bearer %s", key);
        else
            snprintf(h, kl + 32, "api-key: %s", key);
        r->headers = curl_slist_append(r->headers, h);
        sodium_memzero(h, kl + 32);
        free(h);
    }
    r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
    r->headers = curl_slist_append(r->headers, "Accept: application/json");
    r->headers = curl_slist_append(r->headers, "Expect:"); /* no 100-continue round trip */
    if (!r->headers) {
        embed_errf(errbuf, errlen, "out of memory building request headers");
        *err = FG_ENOMEM;
        goto fail;
    }
    *err = FG_OK;
    return r;
fail:
    embed_remote_free(r);
    return NULL;
}

void embed_remote_free(struct embed_remote *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->pool_len; i++)
        curl_easy_cleanup(r->pool[i]);
    pthread_mutex_destroy(&r->pool_mu);
    wipe_headers(r->headers);
    if (r->key) {
        sodium_memzero(r->key, strlen(r->key));
        free(r->key);
    }
    free(r->url);
    free(r->model);
    free(r);
}

size_t embed_remote_batch_max(unsigned dims)
{
    size_t by_resp = EMBED_MAX_RESPONSE_BYTES / ((size_t)dims * EMBED_RESPONSE_BYTES_PER_FLOAT);
    if (by_resp < 1)
        by_resp = 1;
    return by_resp < EMBED_MAX_BATCH ? by_resp : EMBED_MAX_BATCH;
}

/* ---- one HTTP exchange ---------------------------------------------------------------------- */

struct resp {
    char *p;
    size_t len, cap;
    int too_large;
    long retry_after_ms; /* -1: none */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct resp *b = ud;
    size_t n = size * nmemb;
    if (n > EMBED_MAX_RESPONSE_BYTES - b->len) {
        b->too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 16384;
        while (nc < b->len + n + 1)
            nc *= 2;
        b->p = fg_xrealloc(b->p, nc);
        b->cap = nc;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

static long parse_header_num(const char *v, size_t n)
{
    size_t i = 0;
    long x = 0;
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    if (i >= n || !isdigit((unsigned char)v[i]))
        return -1;
    for (; i < n && isdigit((unsigned char)v[i]); i++) {
        if (x > 100000000L)
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct resp *b = ud;
    size_t n = size * nmemb;
    static const char ra[] = "retry-after:", ram[] = "retry-after-ms:";
    if (n > sizeof(ram) - 1 && strncasecmp(data, ram, sizeof(ram) - 1) == 0) {
        long v = parse_header_num(data + sizeof(ram) - 1, n - (sizeof(ram) - 1));
        if (v >= 0)
            b->retry_after_ms = v;
    } else if (n > sizeof(ra) - 1 && strncasecmp(data, ra, sizeof(ra) - 1) == 0) {
        long v = parse_header_num(data + sizeof(ra) - 1, n - (sizeof(ra) - 1));
        if (v >= 0 && b->retry_after_ms < 0) /* retry-after-ms is finer: keep it if seen */
            b->retry_after_ms = v * 1000;
    }
    return n;
}

static CURL *pool_get(struct embed_remote *r)
{
    CURL *h = NULL;
    pthread_mutex_lock(&r->pool_mu);
    if (r->pool_len)
        h = r->pool[--r->pool_len];
    pthread_mutex_unlock(&r->pool_mu);
    if (!h)
        h = curl_easy_init();
    else
        curl_easy_reset(h); /* keeps the connection cache */
    return h;
}

static void pool_put(struct embed_remote *r, CURL *h)
{
    pthread_mutex_lock(&r->pool_mu);
    if (r->pool_len < EMBED_CURL_POOL_MAX) {
        r->pool[r->pool_len++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&r->pool_mu);
    if (h)
        curl_easy_cleanup(h);
}

/* Returns the curl code; *status gets the HTTP status (0 when none). */
static CURLcode do_post(struct embed_remote *r, const char *body, size_t blen, struct resp *b,
                        long *status)
{
    CURL *h = pool_get(r);
    CURLcode cc;
    *status = 0;
    if (!h)
        return CURLE_FAILED_INIT;
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_USERAGENT, "forge/" FORGE_VERSION);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* gzip etc.; cap applies decoded */
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)EMBED_MAX_RESPONSE_BYTES);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, b);
    cc = curl_easy_perform(h);
    if (cc == CURLE_OK || cc == CURLE_WRITE_ERROR || cc == CURLE_FILESIZE_EXCEEDED)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    pool_put(r, h);
    return cc;
}

/* ---- request body and response parsing ---------------------------------------------------------
 */

static char *build_body(const struct embed_remote *r, const char *const *texts, const size_t *lens,
                        size_t n, size_t *blen)
{
    json_t *root = json_object();
    json_t *arr = json_array();
    char *s = NULL;
    if (!root || !arr)
        goto out;
    if (r->kind == EMBED_REMOTE_OPENAI)
        json_object_set_new(root, "model", json_string(r->model));
    for (size_t i = 0; i < n; i++) /* UTF-8 validated by embed_texts */
        if (json_array_append_new(arr, json_stringn_nocheck(texts[i], lens[i])) != 0)
            goto out;
    if (json_object_set(root, "input", arr) != 0)
        goto out;
    if (r->send_dims)
        json_object_set_new(root, "dimensions", json_integer(r->dims));
    json_object_set_new(root, "encoding_format", json_string("float"));
    s = json_dumps(root, JSON_COMPACT);
    if (s)
        *blen = strlen(s);
out:
    json_decref(arr);
    json_decref(root);
    return s;
}

/* Writes the provider's error.message (scrubbed) into dst, or "" when there is none. */
static void provider_message(const struct embed_remote *r, const struct resp *b, char *dst,
                             size_t dstlen)
{
    json_t *root = b->len ? json_loadb(b->p, b->len, 0, NULL) : NULL;
    json_t *msg = NULL;
    dst[0] = '\0';
    if (root) {
        json_t *e = json_object_get(root, "error");
        msg = json_is_object(e) ? json_object_get(e, "message")
                                : (json_is_string(e) ? e : json_object_get(root, "message"));
    }
    if (json_is_string(msg))
        scrub(json_string_value(msg), json_string_length(msg), r->key, dst, dstlen);
    json_decref(root);
}

static enum fg_err parse_response(const struct embed_remote *r, const struct resp *b, size_t n,
                                  float *out, char *errbuf, size_t errlen)
{
    enum fg_err rc = FG_EUNAVAIL;
    json_error_t jerr;
    json_t *root = json_loadb(b->p ? b->p : "", b->len, 0, &jerr);
    unsigned char *seen = fg_xcalloc(n, 1);
    json_t *data = root ? json_object_get(root, "data") : NULL;
    size_t i;
    json_t *item;

    if (!json_is_array(data)) {
        embed_errf(errbuf, errlen, "embedding provider returned a malformed response (no data)");
        goto out;
    }
    if (json_array_size(data) != n) {
        embed_errf(errbuf, errlen, "embedding provider returned %zu embeddings for %zu inputs",
                   json_array_size(data), n);
        goto out;
    }
    json_array_foreach(data, i, item)
    {
        json_t *idx = json_object_get(item, "index");
        json_t *emb = json_object_get(item, "embedding");
        if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
            (json_int_t)json_integer_value(idx) >= (json_int_t)n || seen[json_integer_value(idx)]) {
            embed_errf(errbuf, errlen,
                       "embedding provider returned a malformed response (bad index)");
            goto out;
        }
        size_t at = (size_t)json_integer_value(idx);
        seen[at] = 1;
        if (!json_is_array(emb)) {
            embed_errf(errbuf, errlen,
                       "embedding provider returned a malformed response (embedding is not a "
                       "float array; base64 encoding is not supported)");
            goto out;
        }
        if (json_array_size(emb) != r->dims) {
            embed_errf(errbuf, errlen,
                       "embedding provider returned %zu-dimensional vectors, expected %u "
                       "(check EMBEDDING_MODEL / EMBEDDING_DIMENSIONS)",
                       json_array_size(emb), r->dims);
            goto out;
        }
        float *row = out + at * r->dims;
        for (unsigned k = 0; k < r->dims; k++) {
            json_t *x = json_array_get(emb, k);
            double v = json_is_number(x) ? json_number_value(x) : NAN;
            if (!isfinite(v) || fabs(v) > 1e30) {
                embed_errf(errbuf, errlen,
                           "embedding provider returned a non-numeric vector component");
                goto out;
            }
            row[k] = (float)v;
        }
        if (!embed_l2_normalize(row, r->dims)) {
            embed_errf(errbuf, errlen, "embedding provider returned a zero vector");
            goto out;
        }
    }
    rc = FG_OK;
out:
    free(seen);
    json_decref(root);
    return rc;
}

/* ---- one batch, with retries
 * --------------------------------------------------------------------- */

static long backoff_ms(unsigned attempt, long retry_after_ms)
{
    if (retry_after_ms >= 0)
        return retry_after_ms < EMBED_BACKOFF_CAP_MS ? retry_after_ms : EMBED_BACKOFF_CAP_MS;
    long ceiling = EMBED_BACKOFF_BASE_MS;
    for (unsigned i = 0; i < attempt && ceiling < EMBED_BACKOFF_CAP_MS; i++)
        ceiling *= 2;
    if (ceiling > EMBED_BACKOFF_CAP_MS)
        ceiling = EMBED_BACKOFF_CAP_MS;
    return (long)randombytes_uniform((uint32_t)ceiling + 1); /* full jitter */
}

static enum fg_err post_batch(struct embed_remote *r, const char *const *texts, const size_t *lens,
                              size_t n, float *out, struct embed_counters *ctr, char *errbuf,
                              size_t errlen)
{
    enum fg_err rc = FG_EUNAVAIL;
    size_t blen = 0;
    char *body = build_body(r, texts, lens, n, &blen);
    char last[EMBED_PROVIDER_MSG_MAX + 128] = "";
    unsigned attempts = 0;
    int retryable = 0;

    if (!body) {
        embed_errf(errbuf, errlen, "out of memory building the embedding request");
        return FG_ENOMEM;
    }
    for (;;) {
        struct resp b = {.retry_after_ms = -1};
        long status = 0;
        char pmsg[EMBED_PROVIDER_MSG_MAX + 1];

        attempts++;
        retryable = 0;
        atomic_fetch_add(&ctr->provider_calls, 1);
        CURLcode cc = do_post(r, body, blen, &b, &status);
        if (b.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
            snprintf(last, sizeof(last), "response larger than %u bytes", EMBED_MAX_RESPONSE_BYTES);
        } else if (cc == CURLE_OPERATION_TIMEDOUT) {
            snprintf(last, sizeof(last), "no response within %ld ms", r->timeout_ms);
            retryable = 1;
        } else if (cc != CURLE_OK) {
            snprintf(last, sizeof(last), "cannot reach the provider (%s)", curl_easy_strerror(cc));
            retryable = 1;
        } else if (status >= 200 && status < 300) {
            /* a well-formed HTTP success with a wrong body is not transient: no retry */
            rc = parse_response(r, &b, n, out, errbuf, errlen);
            free(b.p);
            goto out;
        } else {
            provider_message(r, &b, pmsg, sizeof(pmsg));
            snprintf(last, sizeof(last), "HTTP %ld%s%s", status, pmsg[0] ? ": " : "", pmsg);
            retryable = status == 429 || status >= 500;
        }
        free(b.p);
        if (!retryable || attempts > r->max_retries)
            break;
        atomic_fetch_add(&ctr->retries, 1);
        sleep_ms(backoff_ms(attempts - 1, b.retry_after_ms));
    }
    rc = FG_EUNAVAIL;
    if (retryable)
        embed_errf(errbuf, errlen, "embedding provider unavailable after %u attempt%s: %s",
                   attempts, attempts == 1 ? "" : "s", last);
    else
        embed_errf(errbuf, errlen, "embedding provider failed: %s", last);
out:
    free(body);
    return rc;
}

enum fg_err embed_remote_embed(struct embed_remote *r, const char *const *texts, const size_t *lens,
                               size_t n, float *out, struct embed_counters *ctr, char *errbuf,
                               size_t errlen)
{
    size_t max_n = embed_remote_batch_max(r->dims);
    for (size_t i = 0; i < n;) {
        size_t j = i, bytes = 0;
        while (j < n && j - i < max_n && (j == i || bytes + lens[j] <= EMBED_MAX_BATCH_TEXT_BYTES))
            bytes += lens[j++];
        enum fg_err rc =
            post_batch(r, texts + i, lens + i, j - i, out + i * r->dims, ctr, errbuf, errlen);
        if (rc != FG_OK)
            return rc;
        i = j;
    }
    return FG_OK;
}

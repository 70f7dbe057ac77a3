/* Embedder front: config validation, input validation, provider dispatch, cache, counters. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed/embed_internal.h"
#include "embed/model_internal.h"
#include "util/mem.h"

#define EMBED_MAX_MODEL_LEN 200

enum provider { P_LOCAL, P_OPENAI, P_AZURE, P_MODEL };

struct embedder {
    enum provider provider;
    unsigned dims;
    char *model_id;
    long cache_ttl_s;
    int local_version;           /* 1 or 2 */
    struct embed_remote *remote; /* NULL for local */
    struct embed_model *model;   /* P_MODEL only */
    pthread_mutex_t cache_mu;
    struct embed_cache_ops cache; /* cache.get == NULL: none */
    struct embed_counters ctr;
};

/* OpenAI models whose native size is known, so EMBEDDING_DIMENSIONS may be left unset. */
static const struct {
    const char *name;
    unsigned dims;
    int shortenable; /* accepts the "dimensions" parameter */
} known_models[] = {
    {"text-embedding-3-small", 1536, 1},
    {"text-embedding-3-large", 3072, 1},
    {"text-embedding-ada-002", 1536, 0},
};

void embed_errf(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

int embed_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* > U+10FFFF */
        } else {
            return 0;
        }
        if (n - i <= need)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        i += need + 1;
    }
    return 1;
}

int embed_l2_normalize(float *v, unsigned dims)
{
    double norm = 0;
    for (unsigned i = 0; i < dims; i++)
        norm += (double)v[i] * (double)v[i];
    if (!(norm > 0) || !isfinite(norm))
        return 0;
    norm = sqrt(norm);
    for (unsigned i = 0; i < dims; i++)
        v[i] = (float)((double)v[i] / norm);
    return 1;
}

static int printable_ascii(const char *s)
{
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7E)
            return 0;
    return 1;
}

embedder_t *embed_new(const struct embed_config *c, enum fg_err *err, char *errbuf, size_t errlen)
{
    enum fg_err dummy;
    struct embedder *e = NULL;
    const char *prov = c && c->provider && *c->provider ? c->provider : EMBED_DEFAULT_PROVIDER;
    struct embed_config zero = {0};

    if (!err)
        err = &dummy;
    *err = FG_EINVAL;
    if (!c)
        c = &zero;

    e = fg_xcalloc(1, sizeof(*e));
    pthread_mutex_init(&e->cache_mu, NULL);
    e->cache_ttl_s = c->cache_ttl_s > 0 ? c->cache_ttl_s : EMBED_CACHE_DEFAULT_TTL_S;

    if (strcmp(prov, "local") == 0) {
        e->provider = P_LOCAL;
        e->dims = c->dimensions ? c->dimensions : EMBED_LOCAL_DEFAULT_DIMS;
        if (e->dims < EMBED_MIN_DIMS || e->dims > EMBED_MAX_DIMS) {
            embed_errf(errbuf, errlen,
                       "EMBEDDING_DIMENSIONS=%u out of range for the local embedder (%u..%u)",
                       e->dims, EMBED_MIN_DIMS, EMBED_MAX_DIMS);
            goto fail;
        }
        const char *lm =
            c->local_model && *c->local_model ? c->local_model : EMBED_DEFAULT_LOCAL_MODEL;
        if (strcmp(lm, EMBED_LOCAL_MODEL_ID) == 0) {
            e->local_version = 1;
        } else if (strcmp(lm, EMBED_LOCAL2_MODEL_ID) == 0) {
            e->local_version = 2;
            if ((*err = embed_wn_open(errbuf, errlen)) != FG_OK)
                goto fail;
        } else {
            embed_errf(errbuf, errlen, "unknown EMBEDDING_LOCAL_MODEL (expected \"%s\" or \"%s\")",
                       EMBED_LOCAL2_MODEL_ID, EMBED_LOCAL_MODEL_ID);
            goto fail;
        }
        e->model_id = fg_xstrdup(lm);
    } else if (strcmp(prov, "openai") == 0 || strcmp(prov, "azure") == 0) {
        e->provider = prov[0] == 'o' ? P_OPENAI : P_AZURE;
        const char *model = c->model && *c->model ? c->model : EMBED_DEFAULT_MODEL;
        if (strlen(model) > EMBED_MAX_MODEL_LEN || !printable_ascii(model)) {
            embed_errf(errbuf, errlen, "EMBEDDING_MODEL must be 1..%d printable ASCII characters",
                       EMBED_MAX_MODEL_LEN);
            goto fail;
        }
        int known = -1;
        for (size_t i = 0; i < sizeof(known_models) / sizeof(known_models[0]); i++)
            if (strcmp(model, known_models[i].name) == 0)
                known = (int)i;
        int send_dims = 0;
        if (c->dimensions) {
            e->dims = c->dimensions;
            send_dims = 1;
            if (e->dims > EMBED_MAX_DIMS) {
                embed_errf(errbuf, errlen, "EMBEDDING_DIMENSIONS=%u exceeds the limit %u", e->dims,
                           EMBED_MAX_DIMS);
                goto fail;
            }
            if (known >= 0 &&
                (e->dims > known_models[known].dims ||
                 (!known_models[known].shortenable && e->dims != known_models[known].dims))) {
                embed_errf(errbuf, errlen, "model %s does not support EMBEDDING_DIMENSIONS=%u",
                           model, e->dims);
                goto fail;
            }
        } else if (known >= 0) {
            e->dims = known_models[known].dims;
        } else {
            embed_errf(errbuf, errlen,
                       "EMBEDDING_DIMENSIONS must be set for model %s (its size is not known)",
                       model);
            goto fail;
        }
        e->remote =
            embed_remote_new(e->provider == P_OPENAI ? EMBED_REMOTE_OPENAI : EMBED_REMOTE_AZURE, c,
                             model, e->dims, send_dims, err, errbuf, errlen);
        if (!e->remote)
            goto fail;
        e->model_id = fg_xstrdup(model);
    } else if (strcmp(prov, "model") == 0) {
        e->provider = P_MODEL;
        if (!(e->model = embed_model_open(c->model_path, err, errbuf, errlen)))
            goto fail;
        e->dims = embed_model_dims(e->model);
        if (c->dimensions && c->dimensions != e->dims) {
            embed_errf(errbuf, errlen,
                       "EMBEDDING_DIMENSIONS=%u but the model's hidden_size is %u (leave it unset)",
                       c->dimensions, e->dims);
            goto fail;
        }
        e->model_id = fg_xstrdup(embed_model_id_str(e->model));
    } else {
        embed_errf(errbuf, errlen,
                   "unknown EMBEDDING_PROVIDER (expected \"local\", \"openai\", "
                   "\"azure\" or \"model\")");
        goto fail;
    }
    *err = FG_OK;
    return e;
fail:
    if (*err == FG_OK)
        *err = FG_EINVAL;
    embed_free(e);
    return NULL;
}

void embed_free(embedder_t *e)
{
    if (!e)
        return;
    embed_remote_free(e->remote);
    embed_model_free(e->model);
    pthread_mutex_destroy(&e->cache_mu);
    free(e->model_id);
    free(e);
}

unsigned embed_dimensions(const embedder_t *e)
{
    return e->dims;
}

const char *embed_model_id(const embedder_t *e)
{
    return e->model_id;
}

double embed_default_min_score(const embedder_t *e)
{
    if (e->provider != P_LOCAL)
        return EMBED_NEURAL_DEFAULT_MIN_SCORE;
    return e->local_version == 1 ? EMBED_LOCAL_DEFAULT_MIN_SCORE : EMBED_LOCAL2_DEFAULT_MIN_SCORE;
}

const char *embed_provider_name(const embedder_t *e)
{
    switch (e->provider) {
    case P_LOCAL:
        return "local";
    case P_OPENAI:
        return "openai";
    case P_AZURE:
        return "azure";
    case P_MODEL:
        return "model";
    }
    return "local";
}

void embed_set_cache(embedder_t *e, const struct embed_cache_ops *ops)
{
    pthread_mutex_lock(&e->cache_mu);
    if (ops && ops->get && ops->put)
        e->cache = *ops;
    else
        memset(&e->cache, 0, sizeof(e->cache));
    pthread_mutex_unlock(&e->cache_mu);
}

void embed_get_stats(const embedder_t *e, struct embed_stats *out)
{
    struct embed_counters *c = (struct embed_counters *)&e->ctr; /* atomics: loads only */
    out->requests = atomic_load(&c->requests);
    out->texts = atomic_load(&c->texts);
    out->cache_hits = atomic_load(&c->cache_hits);
    out->cache_misses = atomic_load(&c->cache_misses);
    out->errors = atomic_load(&c->errors);
    out->retries = atomic_load(&c->retries);
    out->provider_calls = atomic_load(&c->provider_calls);
}

/* Remote path with the cache: hits are copied, misses go to the provider and are stored. */
static enum fg_err embed_remote_cached(struct embedder *e, const char *const *texts,
                                       const size_t *lens, size_t n, float *out, char *errbuf,
                                       size_t errlen)
{
    struct embed_cache_ops cache;
    enum fg_err rc = FG_OK;
    size_t *miss = NULL;
    uint8_t *keys = NULL;
    const char **sub_texts = NULL;
    size_t *sub_lens = NULL;
    float *tmp = NULL;
    size_t m = 0;
    unsigned d = e->dims;

    pthread_mutex_lock(&e->cache_mu);
    cache = e->cache;
    pthread_mutex_unlock(&e->cache_mu);
    if (!cache.get)
        return embed_remote_embed(e->remote, texts, lens, n, out, &e->ctr, errbuf, errlen);

    miss = fg_xmalloc(n * sizeof(*miss));
    keys = fg_xmalloc(n * 32);
    for (size_t i = 0; i < n; i++) {
        embed_cache_key(e->model_id, d, texts[i], lens[i], keys + 32 * i);
        if (cache.get(cache.ctx, keys + 32 * i, out + i * d, d))
            atomic_fetch_add(&e->ctr.cache_hits, 1);
        else
            miss[m++] = i;
    }
    atomic_fetch_add(&e->ctr.cache_misses, m);
    if (m == 0)
        goto out;

    sub_texts = fg_xmalloc(m * sizeof(*sub_texts));
    sub_lens = fg_xmalloc(m * sizeof(*sub_lens));
    for (size_t j = 0; j < m; j++) {
        sub_texts[j] = texts[miss[j]];
        sub_lens[j] = lens[miss[j]];
    }
    tmp = fg_xmalloc(m * d * sizeof(float));
    rc = embed_remote_embed(e->remote, sub_texts, sub_lens, m, tmp, &e->ctr, errbuf, errlen);
    if (rc != FG_OK)
        goto out;
    for (size_t j = 0; j < m; j++) {
        memcpy(out + miss[j] * d, tmp + j * d, d * sizeof(float));
        cache.put(cache.ctx, keys + 32 * miss[j], tmp + j * d, d, e->cache_ttl_s);
    }
out:
    free(tmp);
    free(sub_lens);
    free(sub_texts);
    free(keys);
    free(miss);
    return rc;
}

enum fg_err embed_texts(embedder_t *e, const char *const *texts, const size_t *lens, size_t n,
                        float *out, char *errbuf, size_t errlen)
{
    enum fg_err rc = FG_OK;
    size_t *own_lens = NULL;

    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!e)
        return FG_EINVAL;
    atomic_fetch_add(&e->ctr.requests, 1);
    atomic_fetch_add(&e->ctr.texts, n);
    if (n == 0)
        return FG_OK;
    if (!texts || !out || n > SIZE_MAX / sizeof(float) / e->dims) {
        embed_errf(errbuf, errlen, "invalid arguments");
        rc = FG_EINVAL;
        goto out;
    }
    if (!lens) {
        own_lens = fg_xmalloc(n * sizeof(*own_lens));
        for (size_t i = 0; i < n; i++)
            own_lens[i] = texts[i] ? strlen(texts[i]) : 0;
        lens = own_lens;
    }
    for (size_t i = 0; i < n; i++) {
        if (!texts[i] || lens[i] == 0) {
            embed_errf(errbuf, errlen, "text %zu is empty", i);
            rc = FG_EINVAL;
            goto out;
        }
        if (lens[i] > EMBED_MAX_TEXT_BYTES) {
            embed_errf(errbuf, errlen, "text %zu is %zu bytes, more than the limit of %u", i,
                       lens[i], EMBED_MAX_TEXT_BYTES);
            rc = FG_EINVAL;
            goto out;
        }
        if (!embed_utf8_valid(texts[i], lens[i])) {
            embed_errf(errbuf, errlen, "text %zu is not valid UTF-8", i);
            rc = FG_EINVAL;
            goto out;
        }
    }

    if (e->provider == P_LOCAL) {
        for (size_t i = 0; i < n; i++) {
            if (e->local_version == 1)
                embed_local_vector(texts[i], lens[i], e->dims, out + i * e->dims);
            else
                embed_local2_vector(texts[i], lens[i], e->dims, NULL, out + i * e->dims);
        }
    } else if (e->provider == P_MODEL) {
        rc = embed_model_embed(e->model, texts, lens, n, out, errbuf, errlen);
    } else {
        rc = embed_remote_cached(e, texts, lens, n, out, errbuf, errlen);
    }
out:
    if (rc != FG_OK)
        atomic_fetch_add(&e->ctr.errors, 1);
    free(own_lens);
    return rc;
}

/* ---- configuration from the environment ------------------------------------------------ */

static const char *env_get(embed_env_lookup_fn lookup, void *ctx, const char *name)
{
    const char *v = lookup ? lookup(ctx, name) : getenv(name);
    return v && *v ? v : NULL;
}

static int parse_ul(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return 0;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return 0;
    *out = v;
    return 1;
}

enum fg_err embed_config_from_env(struct embed_config *c, embed_env_lookup_fn lookup, void *ctx,
                                  char *errbuf, size_t errlen)
{
    const char *v;
    unsigned long n;

    memset(c, 0, sizeof(*c));
    c->provider = env_get(lookup, ctx, "EMBEDDING_PROVIDER");
    c->base_url = env_get(lookup, ctx, "EMBEDDING_BASE_URL");
    c->model = env_get(lookup, ctx, "EMBEDDING_MODEL");
    c->azure_api_version = env_get(lookup, ctx, "AZURE_OPENAI_API_VERSION");
    c->local_model = env_get(lookup, ctx, "EMBEDDING_LOCAL_MODEL");
    c->model_path = env_get(lookup, ctx, "EMBEDDING_MODEL_PATH");
    c->api_key = NULL;
    if (c->provider && strcmp(c->provider, "azure") == 0)
        c->api_key = env_get(lookup, ctx, "AZURE_OPENAI_API_KEY");
    if (!c->api_key)
        c->api_key = env_get(lookup, ctx, "OPENAI_API_KEY");

    if ((v = env_get(lookup, ctx, "EMBEDDING_DIMENSIONS"))) {
        if (!parse_ul(v, EMBED_MAX_DIMS, &n) || n == 0) {
            embed_errf(errbuf, errlen, "EMBEDDING_DIMENSIONS must be an integer in 1..%u",
                       EMBED_MAX_DIMS);
            return FG_EINVAL;
        }
        c->dimensions = (unsigned)n;
    }
    if ((v = env_get(lookup, ctx, "EMBEDDING_TIMEOUT_MS"))) {
        if (!parse_ul(v, EMBED_MAX_TIMEOUT_MS, &n) || n == 0) {
            embed_errf(errbuf, errlen, "EMBEDDING_TIMEOUT_MS must be an integer in 1..%ld",
                       EMBED_MAX_TIMEOUT_MS);
            return FG_EINVAL;
        }
        c->timeout_ms = (long)n;
    }
    if ((v = env_get(lookup, ctx, "EMBEDDING_MAX_RETRIES"))) {
        if (!parse_ul(v, EMBED_MAX_RETRIES_LIMIT, &n)) {
            embed_errf(errbuf, errlen, "EMBEDDING_MAX_RETRIES must be an integer in 0..%u",
                       EMBED_MAX_RETRIES_LIMIT);
            return FG_EINVAL;
        }
        c->max_retries = n == 0 ? EMBED_NO_RETRIES : (unsigned)n;
    }
    return FG_OK;
}

/* In-process BERT-family sentence encoder ("model" provider): config.json, tokenizer.json and
 * model.safetensors of a Hugging Face BertModel (all-MiniLM-L6-v2, bge-small-en, e5-small).
 * Forward pass: word + position + token type embeddings, LayerNorm; per layer self-attention,
 * output dense + residual + LayerNorm, GELU (erf) FFN + residual + LayerNorm; then mean (default)
 * or [CLS] pooling and L2 normalisation. Matrix products go to OpenBLAS (cblas_sgemm).
 *
 * Batches are packed: the tokens of several texts are stacked without padding (at most
 * EMBED_MODEL_BATCH_TOKENS per pass), every dense layer is one sgemm over all of them, and
 * attention runs per text, so no padding token ever exists and no attention mask is needed.
 * Weights are shared read-only; each call allocates its own scratch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <sodium.h>

#include "embed/model_internal.h"
#include "util/mem.h"

#define MODEL_MAX_FILE_JSON (64u * 1024u * 1024u) /* tokenizer.json / config.json */
#define MODEL_MAX_LAYERS    64
#define MODEL_MAX_HIDDEN    4096
#define MODEL_MAX_INTER     16384
#define MODEL_MAX_POS       8192

struct layer {
    const float *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo, *ln1g, *ln1b;
    const float *wi, *bi, *wf, *bf, *ln2g, *ln2b;
};

struct embed_model {
    struct embed_st *st;
    struct embed_wp *wp;
    size_t hidden, heads, inter, layers, vocab, max_pos, type_vocab, max_tokens;
    double eps;
    int cls_pooling;
    const float *wemb, *pemb, *temb, *elng, *elnb;
    struct layer *layer;
    char id[6 + 16 + 1];
};

/* dir/name parsed into *out. Returns 0 on success (*out NULL when an optional file is absent),
 * -1 with a message otherwise. The file is bounded before it is read. */
static int load_json(const char *dir, const char *name, int optional, json_t **out, char *errbuf,
                     size_t errlen)
{
    char path[4096];
    *out = NULL;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        embed_errf(errbuf, errlen, "EMBEDDING_MODEL_PATH too long");
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (optional)
            return 0;
        embed_errf(errbuf, errlen, "model file %s missing (EMBEDDING_MODEL_PATH)", path);
        return -1;
    }
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size < 0 || size > (long)MODEL_MAX_FILE_JSON || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        embed_errf(errbuf, errlen, "%s: not a readable file of at most %u bytes", path,
                   MODEL_MAX_FILE_JSON);
        return -1;
    }
    json_error_t jerr;
    json_t *j = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (!json_is_object(j)) {
        embed_errf(errbuf, errlen, "%s: not a JSON object (%s)", path, j ? "" : jerr.text);
        json_decref(j);
        return -1;
    }
    *out = j;
    return 0;
}

static int get_size(const json_t *cfg, const char *k, size_t dflt, size_t lo, size_t hi,
                    size_t *out, char *errbuf, size_t errlen)
{
    json_t *v = json_object_get(cfg, k);
    if (!v) {
        if (dflt) {
            *out = dflt;
            return 1;
        }
        embed_errf(errbuf, errlen, "config.json: %s missing", k);
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
        json_integer_value(v) > (json_int_t)hi) {
        embed_errf(errbuf, errlen, "config.json: %s must be an integer in %zu..%zu", k, lo, hi);
        return 0;
    }
    *out = (size_t)json_integer_value(v);
    return 1;
}

void embed_model_free(struct embed_model *m)
{
    if (!m)
        return;
    embed_st_close(m->st);
    embed_wp_free(m->wp);
    free(m->layer);
    free(m);
}

unsigned embed_model_dims(const struct embed_model *m)
{
    return (unsigned)m->hidden;
}
const char *embed_model_id_str(const struct embed_model *m)
{
    return m->id;
}
size_t embed_model_max_tokens(const struct embed_model *m)
{
    return m->max_tokens;
}
const struct embed_wp *embed_model_tokenizer(const struct embed_model *m)
{
    return m->wp;
}

/* Tensor "[bert.]name" with shape (d0[, d1]). */
static const float *tensor(struct embed_model *m, const char *prefix, const char *name, size_t d0,
                           size_t d1, char *errbuf, size_t errlen)
{
    char full[256];
    snprintf(full, sizeof(full), "%s%s", prefix, name);
    size_t shape[2] = {d0, d1};
    return embed_st_tensor(m->st, full, d1 ? 2 : 1, shape, errbuf, errlen);
}

static void hash_json(crypto_hash_sha256_state *h, const json_t *j)
{
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    if (s) {
        crypto_hash_sha256_update(h, (const unsigned char *)s, strlen(s));
        free(s);
    }
}

struct embed_model *embed_model_open(const char *dir, enum fg_err *err, char *errbuf, size_t errlen)
{
    struct embed_model *m = fg_xcalloc(1, sizeof(*m));
    json_t *cfg = NULL, *tok = NULL, *pool = NULL, *sbert = NULL;
    *err = FG_EINVAL;
    if (!dir || !*dir) {
        embed_errf(errbuf, errlen, "EMBEDDING_PROVIDER=model needs EMBEDDING_MODEL_PATH");
        goto fail;
    }
    if (load_json(dir, "config.json", 0, &cfg, errbuf, errlen) ||
        load_json(dir, "tokenizer.json", 0, &tok, errbuf, errlen) ||
        load_json(dir, "1_Pooling/config.json", 1, &pool, errbuf, errlen) ||
        load_json(dir, "sentence_bert_config.json", 1, &sbert, errbuf, errlen))
        goto fail;
    const char *act = json_string_value(json_object_get(cfg, "hidden_act"));
    if (act && strcmp(act, "gelu") != 0) {
        embed_errf(errbuf, errlen, "config.json: hidden_act %.32s not supported (gelu)", act);
        goto fail;
    }
    const char *pet = json_string_value(json_object_get(cfg, "position_embedding_type"));
    if (pet && strcmp(pet, "absolute") != 0) {
        embed_errf(errbuf, errlen, "config.json: position_embedding_type %.32s not supported", pet);
        goto fail;
    }
    if (!get_size(cfg, "hidden_size", 0, 1, MODEL_MAX_HIDDEN, &m->hidden, errbuf, errlen) ||
        !get_size(cfg, "num_hidden_layers", 0, 1, MODEL_MAX_LAYERS, &m->layers, errbuf, errlen) ||
        !get_size(cfg, "num_attention_heads", 0, 1, MODEL_MAX_HIDDEN, &m->heads, errbuf, errlen) ||
        !get_size(cfg, "intermediate_size", 0, 1, MODEL_MAX_INTER, &m->inter, errbuf, errlen) ||
        !get_size(cfg, "vocab_size", 0, 1, EMBED_WP_MAX_VOCAB, &m->vocab, errbuf, errlen) ||
        !get_size(cfg, "max_position_embeddings", 0, 2, MODEL_MAX_POS, &m->max_pos, errbuf,
                  errlen) ||
        !get_size(cfg, "type_vocab_size", 2, 1, 16, &m->type_vocab, errbuf, errlen))
        goto fail;
    if (m->hidden % m->heads || m->hidden < EMBED_MIN_DIMS) {
        embed_errf(errbuf, errlen,
                   "config.json: hidden_size %zu must be >= %u and a multiple of "
                   "num_attention_heads %zu",
                   m->hidden, EMBED_MIN_DIMS, m->heads);
        goto fail;
    }
    json_t *eps = json_object_get(cfg, "layer_norm_eps");
    m->eps = json_is_number(eps) ? json_number_value(eps) : 1e-12;
    if (!(m->eps > 0 && m->eps < 1)) {
        embed_errf(errbuf, errlen, "config.json: layer_norm_eps out of range");
        goto fail;
    }
    m->max_tokens = m->max_pos < EMBED_MODEL_MAX_SEQ ? m->max_pos : EMBED_MODEL_MAX_SEQ;
    json_t *msl = json_object_get(sbert, "max_seq_length");
    if (json_is_integer(msl) && json_integer_value(msl) >= 2 &&
        (size_t)json_integer_value(msl) < m->max_tokens)
        m->max_tokens = (size_t)json_integer_value(msl);
    if (pool) {
        int cls = json_is_true(json_object_get(pool, "pooling_mode_cls_token"));
        int mean = json_is_true(json_object_get(pool, "pooling_mode_mean_tokens"));
        if (cls == mean) {
            embed_errf(errbuf, errlen,
                       "1_Pooling/config.json: exactly one of "
                       "pooling_mode_cls_token and pooling_mode_mean_tokens must be true");
            goto fail;
        }
        m->cls_pooling = cls;
    }
    if (!(m->wp = embed_wp_new(tok, errbuf, errlen)))
        goto fail;
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/model.safetensors", dir) >= sizeof(path)) {
        embed_errf(errbuf, errlen, "EMBEDDING_MODEL_PATH too long");
        goto fail;
    }
    if (!(m->st = embed_st_open(path, errbuf, errlen)))
        goto fail;
    const char *pre = embed_st_has(m->st, "bert.embeddings.word_embeddings.weight") ? "bert." : "";
    size_t H = m->hidden, NI = m->inter;
#define T(dst, name, d0, d1)                                                                       \
    if (!((dst) = tensor(m, pre, name, d0, d1, errbuf, errlen)))                                   \
    goto fail
    T(m->wemb, "embeddings.word_embeddings.weight", m->vocab, H);
    T(m->pemb, "embeddings.position_embeddings.weight", m->max_pos, H);
    T(m->temb, "embeddings.token_type_embeddings.weight", m->type_vocab, H);
    T(m->elng, "embeddings.LayerNorm.weight", H, 0);
    T(m->elnb, "embeddings.LayerNorm.bias", H, 0);
    m->layer = fg_xcalloc(m->layers, sizeof(*m->layer));
    for (size_t l = 0; l < m->layers; l++) {
        struct layer *L = &m->layer[l];
        char n[128];
#define TL(dst, suffix, d0, d1)                                                                    \
    snprintf(n, sizeof(n), "encoder.layer.%zu.%s", l, suffix);                                     \
    T(dst, n, d0, d1)
        TL(L->wq, "attention.self.query.weight", H, H);
        TL(L->bq, "attention.self.query.bias", H, 0);
        TL(L->wk, "attention.self.key.weight", H, H);
        TL(L->bk, "attention.self.key.bias", H, 0);
        TL(L->wv, "attention.self.value.weight", H, H);
        TL(L->bv, "attention.self.value.bias", H, 0);
        TL(L->wo, "attention.output.dense.weight", H, H);
        TL(L->bo, "attention.output.dense.bias", H, 0);
        TL(L->ln1g, "attention.output.LayerNorm.weight", H, 0);
        TL(L->ln1b, "attention.output.LayerNorm.bias", H, 0);
        TL(L->wi, "intermediate.dense.weight", NI, H);
        TL(L->bi, "intermediate.dense.bias", NI, 0);
        TL(L->wf, "output.dense.weight", H, NI);
        TL(L->bf, "output.dense.bias", H, 0);
        TL(L->ln2g, "output.LayerNorm.weight", H, 0);
        TL(L->ln2b, "output.LayerNorm.bias", H, 0);
#undef TL
    }
#undef T
    /* every token id the tokenizer can produce must index the embedding table */
    if (embed_wp_vocab_size(m->wp) > m->vocab) {
        embed_errf(errbuf, errlen, "tokenizer.json has %zu tokens, config.json vocab_size %zu",
                   embed_wp_vocab_size(m->wp), m->vocab);
        goto fail;
    }
    crypto_hash_sha256_state h;
    unsigned char dg[crypto_hash_sha256_BYTES];
    size_t blen;
    const void *bytes = embed_st_bytes(m->st, &blen);
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, bytes, blen);
    hash_json(&h, tok);
    hash_json(&h, cfg);
    char extra[64];
    snprintf(extra, sizeof(extra), "|pool=%d|max=%zu", m->cls_pooling, m->max_tokens);
    crypto_hash_sha256_update(&h, (const unsigned char *)extra, strlen(extra));
    crypto_hash_sha256_final(&h, dg);
    memcpy(m->id, "model:", 6);
    for (int i = 0; i < 8; i++)
        snprintf(m->id + 6 + 2 * i, 3, "%02x", dg[i]);
    json_decref(cfg);
    json_decref(tok);
    json_decref(pool);
    json_decref(sbert);
    *err = FG_OK;
    return m;
fail:
    if (*err == FG_OK)
        *err = FG_EINVAL;
    json_decref(cfg);
    json_decref(tok);
    json_decref(pool);
    json_decref(sbert);
    embed_model_free(m);
    return NULL;
}

static void layer_norm(float *x, size_t T, size_t H, const float *g, const float *b, double eps)
{
    for (size_t t = 0; t < T; t++) {
        float *r = x + t * H;
        double mean = 0, var = 0;
        for (size_t i = 0; i < H; i++)
            mean += r[i];
        mean /= (double)H;
        for (size_t i = 0; i < H; i++)
            var += ((double)r[i] - mean) * ((double)r[i] - mean);
        double inv = 1.0 / sqrt(var / (double)H + eps);
        for (size_t i = 0; i < H; i++)
            r[i] = (float)(((double)r[i] - mean) * inv) * g[i] + b[i];
    }
}

/* y[T, out] = x[T, in] W^T + b  (W is [out, in], as in torch.nn.Linear) */
static void linear(const float *x, size_t T, size_t in, const float *w, const float *b, size_t out,
                   float *y)
{
    for (size_t t = 0; t < T; t++)
        memcpy(y + t * out, b, out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)out, (int)in, 1.0f, x,
                (int)in, w, (int)in, 1.0f, y, (int)out);
}

/* Scratch of one pass: T tokens, the longest text S tokens. */
struct scratch {
    float *x, *q, *k, *v, *ctx, *tmp, *inter, *scores;
};

static void forward(const struct embed_model *m, const int32_t *ids, const size_t *off,
                    const size_t *len, size_t ntexts, size_t T, struct scratch *s, float *out)
{
    size_t H = m->hidden, NI = m->inter, nh = m->heads, dh = H / nh;
    float scale = (float)(1.0 / sqrt((double)dh));
    for (size_t j = 0; j < ntexts; j++)
        for (size_t p = 0; p < len[j]; p++) {
            size_t t = off[j] + p;
            const float *we = m->wemb + (size_t)ids[t] * H, *pe = m->pemb + p * H;
            for (size_t i = 0; i < H; i++)
                s->x[t * H + i] = we[i] + pe[i] + m->temb[i];
        }
    layer_norm(s->x, T, H, m->elng, m->elnb, m->eps);
    for (size_t l = 0; l < m->layers; l++) {
        const struct layer *L = &m->layer[l];
        linear(s->x, T, H, L->wq, L->bq, H, s->q);
        linear(s->x, T, H, L->wk, L->bk, H, s->k);
        linear(s->x, T, H, L->wv, L->bv, H, s->v);
        for (size_t j = 0; j < ntexts; j++) {
            int n = (int)len[j];
            size_t o = off[j] * H;
            for (size_t h = 0; h < nh; h++) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, (int)dh, scale,
                            s->q + o + h * dh, (int)H, s->k + o + h * dh, (int)H, 0.0f, s->scores,
                            n);
                for (int r = 0; r < n; r++) {
                    float *row = s->scores + (size_t)r * (size_t)n, mx = row[0];
                    double sum = 0;
                    for (int c = 1; c < n; c++)
                        mx = row[c] > mx ? row[c] : mx;
                    for (int c = 0; c < n; c++)
                        sum += row[c] = expf(row[c] - mx);
                    float inv = (float)(1.0 / sum);
                    for (int c = 0; c < n; c++)
                        row[c] *= inv;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, (int)dh, n, 1.0f,
                            s->scores, n, s->v + o + h * dh, (int)H, 0.0f, s->ctx + o + h * dh,
                            (int)H);
            }
        }
        linear(s->ctx, T, H, L->wo, L->bo, H, s->tmp);
        for (size_t i = 0; i < T * H; i++)
            s->x[i] += s->tmp[i];
        layer_norm(s->x, T, H, L->ln1g, L->ln1b, m->eps);
        linear(s->x, T, H, L->wi, L->bi, NI, s->inter);
        for (size_t i = 0; i < T * NI; i++)
            s->inter[i] = 0.5f * s->inter[i] * (1.0f + erff(s->inter[i] * (float)M_SQRT1_2));
        linear(s->inter, T, NI, L->wf, L->bf, H, s->tmp);
        for (size_t i = 0; i < T * H; i++)
            s->x[i] += s->tmp[i];
        layer_norm(s->x, T, H, L->ln2g, L->ln2b, m->eps);
    }
    for (size_t j = 0; j < ntexts; j++) {
        float *v = out + j * H;
        const float *x = s->x + off[j] * H;
        if (m->cls_pooling) {
            memcpy(v, x, H * sizeof(float));
        } else {
            for (size_t i = 0; i < H; i++) {
                double acc = 0;
                for (size_t p = 0; p < len[j]; p++)
                    acc += x[p * H + i];
                v[i] = (float)(acc / (double)len[j]);
            }
        }
        if (!embed_l2_normalize(v, (unsigned)H))
            memset(v, 0, H * sizeof(float));
    }
}

enum fg_err embed_model_embed(const struct embed_model *m, const char *const *texts,
                              const size_t *lens, size_t n, float *out, char *errbuf, size_t errlen)
{
    size_t H = m->hidden, NI = m->inter, S = m->max_tokens, B = EMBED_MODEL_BATCH_TOKENS;
    if (B < S)
        B = S;
    struct scratch s;
    float *mem = malloc(sizeof(float) * (B * (6 * H + NI) + S * S));
    int32_t *ids = malloc(sizeof(int32_t) * (B + S));
    size_t *off = malloc(sizeof(size_t) * 2 * B), *len = off ? off + B : NULL;
    if (!mem || !ids || !off) {
        free(mem);
        free(ids);
        free(off);
        embed_errf(errbuf, errlen, "out of memory for the model's scratch");
        return FG_EUNAVAIL;
    }
    s.x = mem;
    s.q = s.x + B * H;
    s.k = s.q + B * H;
    s.v = s.k + B * H;
    s.ctx = s.v + B * H;
    s.tmp = s.ctx + B * H;
    s.inter = s.tmp + B * H;
    s.scores = s.inter + B * NI;
    size_t i = 0;
    while (i < n) {
        size_t T = 0, nt = 0, first = i;
        while (i < n) {
            size_t k = embed_wp_encode(m->wp, texts[i], lens[i], ids + T, S);
            if (T + k > B && nt > 0)
                break; /* re-encoded as the first text of the next pass */
            off[nt] = T;
            len[nt] = k;
            T += k;
            nt++;
            i++;
        }
        forward(m, ids, off, len, nt, T, &s, out + first * H);
    }
    free(mem);
    free(ids);
    free(off);
    return FG_OK;
}

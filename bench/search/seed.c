/*
 * bench/search/seed: writes N capsules straight into a Forge SQLite database through the store
 * (one transaction, the real insert path with its triggers: change feed and full-text index),
 * each with its embedding from the local embedder, and prints `queries` search queries.
 *
 *   seed DB_FILE OWNER_ID N QUERIES_FILE [SEED]
 *
 * Text model: 200 topics, each with 24 characteristic words from a 6 000-word synthetic
 * vocabulary; a capsule is one topic's words (12 of them) mixed with 8 general words, 20 words
 * in all. A query is 3 words of one topic. The database must be migrated (start forge once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/capsule.h"
#include "embed/embedder.h"
#include "store/capsules.h"
#include "store/search.h"
#include "store/store.h"
#include "util/config.h"
#include "util/time.h"
#include "util/uuid.h"

#define VOCAB       6000
#define TOPICS      200
#define TOPIC_WORDS 24
#define BATCH       512

static char vocab[VOCAB][16];
static int topic_words[TOPICS][TOPIC_WORDS];
static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void make_vocab(void)
{
    static const char *const syl[] = {"ka",  "to",  "ri",  "mo",  "sen", "da",  "lu", "vi",  "pre",
                                      "gor", "tan", "el",  "qua", "zu",  "bi",  "ne", "shi", "ro",
                                      "fa",  "mir", "ost", "ul",  "wen", "dri", "cal"};
    const size_t ns = sizeof syl / sizeof syl[0];
    for (int i = 0; i < VOCAB; i++) {
        /* three syllables from the index digits in base ns: distinct words */
        size_t a = (size_t)i % ns, b = ((size_t)i / ns) % ns, c = ((size_t)i / ns / ns) % ns;
        snprintf(vocab[i], sizeof vocab[i], "%s%s%s", syl[a], syl[b], syl[c]);
    }
    for (int t = 0; t < TOPICS; t++)
        for (int w = 0; w < TOPIC_WORDS; w++)
            topic_words[t][w] = (int)(rnd() % VOCAB);
}

static size_t make_text(char *out, size_t n, int topic)
{
    size_t o = 0;
    for (int w = 0; w < 20 && o + 20 < n; w++) {
        int word = w % 5 < 3 ? topic_words[topic][rnd() % TOPIC_WORDS] : (int)(rnd() % VOCAB);
        o += (size_t)snprintf(out + o, n - o, "%s%s", w ? " " : "", vocab[word]);
    }
    return o;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: seed DB_FILE OWNER_ID N QUERIES_FILE [SEED]\n");
        return 2;
    }
    long n = strtol(argv[3], NULL, 10);
    rng_state = argc > 5 ? strtoull(argv[5], NULL, 10) : 0x9e3779b97f4a7c15ull;
    if (!rng_state)
        rng_state = 1;
    if (sodium_init() < 0 || n <= 0)
        return 1;
    make_vocab();

    char url[4200], err[512];
    snprintf(url, sizeof url, "sqlite://%s", argv[1]);
    setenv("DATABASE_URL", url, 1);
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    setenv("LOG_LEVEL", "warning", 1);
    struct fg_config cfg;
    if (fg_config_load(&cfg, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "seed: %s\n", err);
        return 1;
    }
    struct store *st = NULL;
    if (store_open(&cfg, &st, err, sizeof err) != FG_OK) {
        fprintf(stderr, "seed: %s\n", err);
        return 1;
    }
    embedder_t *emb = embed_new(NULL, NULL, NULL, 0);
    unsigned dims = embed_dimensions(emb);
    enum fg_err e;
    struct store_conn *c = store_acquire(st, &e);
    if (!c || store_begin(st, c) != FG_OK) {
        fprintf(stderr, "seed: store unavailable\n");
        return 1;
    }
    double t0 = fg_mono_s();
    static char texts[BATCH][400];
    static struct store_capsule caps[BATCH];
    const char *tp[BATCH];
    size_t lens[BATCH];
    float *vecs = malloc((size_t)BATCH * dims * sizeof *vecs);
    int64_t now = fg_now_ms();
    for (long done = 0; done < n;) {
        int m = (int)(n - done < BATCH ? n - done : BATCH);
        for (int i = 0; i < m; i++) {
            struct store_capsule *cap = &caps[i];
            memset(cap, 0, sizeof *cap);
            lens[i] = make_text(texts[i], sizeof texts[i], (int)(rnd() % TOPICS));
            tp[i] = texts[i];
            fg_uuid7(cap->id);
            cap->content = texts[i];
            cap->content_len = lens[i];
            snprintf(cap->type, sizeof cap->type, "%s", fg_capsule_types[rnd() % 6]);
            cap->metadata = "{}";
            snprintf(cap->version, sizeof cap->version, "1.0.0");
            snprintf(cap->owner_id, sizeof cap->owner_id, "%s", argv[2]);
            snprintf(cap->version_author_id, sizeof cap->version_author_id, "%s", argv[2]);
            cap->trust_level = 60;
            cap->created_at = cap->updated_at = cap->version_created_at = now + done + i;
            unsigned char h[crypto_hash_sha256_BYTES];
            crypto_hash_sha256(h, (const unsigned char *)texts[i], lens[i]);
            hex(h, sizeof h, cap->content_hash);
        }
        if (embed_texts(emb, tp, lens, (size_t)m, vecs, err, sizeof err) != FG_OK) {
            fprintf(stderr, "seed: embed: %s\n", err);
            return 1;
        }
        for (int i = 0; i < m; i++) {
            if ((e = st->capsules->insert(c, &caps[i], NULL)) != FG_OK ||
                (e = st->capsules->set_embedding(c, caps[i].id, vecs + (size_t)i * dims,
                                                 dims * sizeof(float), NULL)) != FG_OK) {
                fprintf(stderr, "seed: insert: %s\n", fg_err_name(e));
                return 1;
            }
        }
        done += m;
        if (done % 20000 < BATCH)
            fprintf(stderr, "seed: %ld/%ld\n", done, n);
    }
    char space[160];
    snprintf(space, sizeof space, "%s:%u", embed_model_id(emb), dims);
    if (st->search->space_set(c, space) != FG_OK || store_commit(st, c) != FG_OK) {
        fprintf(stderr, "seed: commit failed\n");
        return 1;
    }
    store_release(st, c);
    fprintf(stderr, "seed: %ld capsules with embeddings in %.1f s\n", n, fg_mono_s() - t0);

    FILE *q = fopen(argv[4], "w");
    if (!q)
        return 1;
    for (int i = 0; i < 1000; i++) {
        int t = (int)(rnd() % TOPICS);
        fprintf(q, "%s %s %s\n", vocab[topic_words[t][rnd() % TOPIC_WORDS]],
                vocab[topic_words[t][rnd() % TOPIC_WORDS]],
                vocab[topic_words[t][rnd() % TOPIC_WORDS]]);
    }
    fclose(q);
    free(vecs);
    embed_free(emb);
    store_close(st);
    fg_config_free(&cfg);
    return 0;
}

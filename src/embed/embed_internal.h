/* Internals shared by the files of src/embed/ (not part of the public interface). */
#ifndef EMBED_INTERNAL_H
#define EMBED_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "embed/embedder.h"

struct embed_counters {
    atomic_uint_fast64_t requests, texts, cache_hits, cache_misses, errors, retries, provider_calls;
};

/** printf into errbuf when it is non-NULL and non-empty; always NUL-terminates. */
void embed_errf(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** 1 when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF). */
int embed_utf8_valid(const char *s, size_t n);

/** Scales v to unit L2 norm. Returns 0 when the norm is zero or not finite (v untouched). */
int embed_l2_normalize(float *v, unsigned dims);

/* ---- local provider (local.c) --------------------------------------------------------------- */
/** Deterministic feature-hashing embedding of text[0..len) into out[0..dims), L2-normalised.
 * Pure function: thread-safe. len may be 0 (gives a fixed unit vector). */
void embed_local_vector(const char *text, size_t len, unsigned dims, float *out);

/* ---- OpenAI / Azure provider (remote.c) ------------------------------------------------------ */
enum embed_remote_kind { EMBED_REMOTE_OPENAI, EMBED_REMOTE_AZURE };
struct embed_remote;

/** Returns NULL with *err/errbuf set on a bad config. dims is already resolved (> 0);
 * send_dims says whether "dimensions" goes into the request body. Caller frees with
 * embed_remote_free(). */
struct embed_remote *embed_remote_new(enum embed_remote_kind kind, const struct embed_config *c,
                                      const char *model, unsigned dims, int send_dims,
                                      enum fg_err *err, char *errbuf, size_t errlen);
void embed_remote_free(struct embed_remote *r);
/** Embeds n texts (already validated) into out (n * dims floats, normalised), in batches. */
enum fg_err embed_remote_embed(struct embed_remote *r, const char *const *texts, const size_t *lens,
                               size_t n, float *out, struct embed_counters *ctr, char *errbuf,
                               size_t errlen);
/** Largest number of inputs one request may carry for this many dimensions. */
size_t embed_remote_batch_max(unsigned dims);

#endif

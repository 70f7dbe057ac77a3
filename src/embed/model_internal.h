/* Internals of the in-process sentence-transformer provider ("model"): safetensors.c, wordpiece.c,
 * model.c. Not part of the public interface. */
#ifndef EMBED_MODEL_INTERNAL_H
#define EMBED_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "embed/embed_internal.h"

/* ---- safetensors.c --------------------------------------------------------------------------- */
struct embed_st;
/** Maps path read-only and parses its header. NULL with a message on any malformed input. */
struct embed_st *embed_st_open(const char *path, char *errbuf, size_t errlen);
void embed_st_close(struct embed_st *st);
/** The tensor name as ndim dimensions of exactly shape[], as floats (F32 in place when aligned;
 * F16/BF16 converted, owned by st). NULL with a message when absent or inconsistent. */
const float *embed_st_tensor(struct embed_st *st, const char *name, int ndim, const size_t *shape,
                             char *errbuf, size_t errlen);
int embed_st_has(const struct embed_st *st, const char *name);
/** The whole mapped file. */
const void *embed_st_bytes(const struct embed_st *st, size_t *len);

/* ---- wordpiece.c ----------------------------------------------------------------------------- */
#define EMBED_WP_MAX_TOKEN_BYTES 200     /* longer vocabulary entries are rejected */
#define EMBED_WP_MAX_VOCAB       1000000 /* entries */
struct embed_wp;
/** Builds a BERT WordPiece tokenizer from a parsed tokenizer.json. NULL with a message when the
 * model is not WordPiece or [CLS]/[SEP]/[UNK] are missing. */
struct embed_wp *embed_wp_new(const json_t *tokenizer, char *errbuf, size_t errlen);
void embed_wp_free(struct embed_wp *wp);
/** Tokenises text[0..len) (valid UTF-8) into ids: [CLS] pieces... [SEP], at most max_tokens (>= 2)
 * ids in all (longer texts are truncated before [SEP]). Returns the number of ids. Thread-safe. */
size_t embed_wp_encode(const struct embed_wp *wp, const char *text, size_t len, int32_t *ids,
                       size_t max_tokens);
/** The id of token s, -1 when absent. */
int32_t embed_wp_id(const struct embed_wp *wp, const char *s, size_t n);
size_t embed_wp_vocab_size(const struct embed_wp *wp);

/* ---- model.c --------------------------------------------------------------------------------- */
#define EMBED_MODEL_MAX_SEQ      512u  /* tokens per text, [CLS] and [SEP] included */
#define EMBED_MODEL_BATCH_TOKENS 2048u /* tokens run through one forward pass */
struct embed_model;
/** Loads dir/{config.json,tokenizer.json,model.safetensors} (and the optional
 * dir/1_Pooling/config.json, dir/sentence_bert_config.json). NULL with *err and a message. */
struct embed_model *embed_model_open(const char *dir, enum fg_err *err, char *errbuf,
                                     size_t errlen);
void embed_model_free(struct embed_model *m);
unsigned embed_model_dims(const struct embed_model *m);
/** "model:" + 16 hex digits of SHA-256 over the files and the pooling mode. */
const char *embed_model_id_str(const struct embed_model *m);
/** Tokens a text is truncated to ([CLS] and [SEP] included). */
size_t embed_model_max_tokens(const struct embed_model *m);
const struct embed_wp *embed_model_tokenizer(const struct embed_model *m);
/** Embeds n valid UTF-8 texts into out (n * dims floats, L2-normalised). Thread-safe. */
enum fg_err embed_model_embed(const struct embed_model *m, const char *const *texts,
                              const size_t *lens, size_t n, float *out, char *errbuf,
                              size_t errlen);

#endif

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

/** Weights of the local v2 embedder (see local.c); embed_local2_default_params() are the shipped
 * ones (pinned by the model id: changing them changes the vectors). */
struct embed_local2_params {
    double w_unigram, w_bigram, w_chars; /* as in v1 */
    double w_sense;                      /* L2 mass of a word's WordNet features */
    double sense_decay;                  /* weight factor per sense rank (0 = first sense) */
    double hyper_decay;                  /* weight factor per hypernym level */
    unsigned max_level;                  /* hypernym levels used, <= EMBED_WN_MAX_LEVEL */
    double w_deriv;                      /* derivationally related synsets, relative weight */
    double w_exp;                        /* L2 mass of a word's synonyms and gloss words */
    double w_gloss;                      /* gloss words relative to synonyms (times idf / 10) */
    double pos_alpha;                    /* POS weight = (tagged senses + 0.5)^pos_alpha */
    unsigned max_senses;                 /* senses per part of speech, <= EMBED_WN_MAX_SENSES */
    double ic_gamma;                     /* concept feature weight *= IC^ic_gamma (0 = off) */
    double w_rel;                        /* similar-to / also-see / entailment, relative weight */
    double tag_beta;                     /* sense weight *= (tag count + 1)^tag_beta */
    double idf_beta;                     /* word's WordNet mass *= (idf / 8)^idf_beta */
    double lesk;                         /* sense weight *= (1 + lesk * overlap with the text) */
};
const struct embed_local2_params *embed_local2_default_params(void);
/** Local v2 (WordNet-aware) embedding; p NULL = defaults. embed_wn_open() must have succeeded.
 * Thread-safe. */
void embed_local2_vector(const char *text, size_t len, unsigned dims,
                         const struct embed_local2_params *p, float *out);
/** Number of content words shared by a and b under v1's tokenizer, stop words and stemmer (used
 * by the paraphrase test to prove that a query shares no content word with its passage). */
int embed_local_is_stop(const char *w, size_t n);
size_t embed_local_shared_words(const char *a, size_t alen, const char *b, size_t blen);

/* ---- WordNet (wordnet.c) ------------------------------------------------------------------- */
#define EMBED_WN_MAX_SENSES      3     /* senses per part of speech kept in the cache */
#define EMBED_WN_MAX_WORD        48    /* longer words are not looked up */
#define EMBED_WN_CACHE_MAX_WORDS 32768 /* cached analyses; beyond, lookups are not cached */
#define EMBED_WN_MAX_LEVEL       4     /* hypernym levels kept in the cache */
#define EMBED_WN_MAX_FEATS       384   /* features kept per word */
#define EMBED_WN_MAX_EXP         192   /* synonyms and gloss words kept per word */
enum { EMBED_WN_SYNSET, EMBED_WN_HYPER, EMBED_WN_DERIV, EMBED_WN_REL };
struct embed_wn_sense {
    uint64_t key;    /* pos << 32 | synset offset */
    uint8_t rank;    /* sense rank within its part of speech, 0 = most frequent */
    uint8_t level;   /* 0 the word's synset, n its n-th hypernym (derivations: 1) */
    uint8_t kind;    /* EMBED_WN_SYNSET / _HYPER / _DERIV */
    uint8_t pos;     /* NOUN 1, VERB 2, ADJ 3, ADV 4 */
    float posw;      /* tagged senses of this part of speech + 0.5 */
    float ic;        /* information content of the synset (0 = "entity", 1 = a leaf) */
    uint16_t tagcnt; /* times the word's sense was tagged in WordNet's corpus (cntlist.rev) */
    uint8_t spos;    /* part of speech of the word's sense it comes from (pos: of the feature) */
};
/* A word that stands for the analysed word: a synonym from its synset or an informative word of
 * its gloss (lemmatised), weighted by the gloss word's rarity (idf) among all glosses. */
enum { EMBED_WN_SYNONYM, EMBED_WN_GLOSS };
struct embed_wn_exp {
    uint32_t off; /* into the entry's xpool */
    uint8_t rank; /* sense it comes from */
    uint8_t kind; /* EMBED_WN_SYNONYM / _GLOSS */
    uint8_t pos;  /* part of speech of that sense */
    float idf;    /* 1 for synonyms */
};
struct embed_wn_entry {
    size_t nsenses, nlemmas, word_len, nexp;
    size_t bytes; /* of this allocation */
    float idf;    /* rarity of the word: log(glosses / glosses using it) */
    struct embed_wn_sense *senses;
    struct embed_wn_exp *exps;
    char *xpool;
    char *lemmas; /* nlemmas NUL-terminated base forms, one after the other */
    char *word;
};
/** Information content (Seco et al. 2004) of synset (pos, off); 1 when unknown. */
float embed_wn_ic(int pos, long off);
/** Opens the WordNet dictionary once per process. FG_EUNAVAIL with a message naming the missing
 * file otherwise. Thread-safe. */
enum fg_err embed_wn_open(char *errbuf, size_t errlen);
/** The analysis of the lower-case ASCII word w[0..n) (no lemma and no sense when WordNet does not
 * know it); NULL when the dictionary is not open or the word is too long. Thread-safe. The entry
 * belongs to the cache, unless *own is set: then the caller frees *own when done. */
const struct embed_wn_entry *embed_wn_lookup(const char *w, size_t n, struct embed_wn_entry **own);
/** Words in the cache, and (bytes != NULL) the memory their analyses take. */
size_t embed_wn_cache_words(size_t *bytes);
/** Empties the cache (tests and benchmarks only: no lookup may run concurrently). */
void embed_wn_cache_clear(void);

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

/* WordNet access for the local v2 embedder (local.c): lemmas, senses and hypernyms of a word.
 *
 * libwordnet (Debian wordnet-dev) keeps global state (open FILE*s, static result buffers) and is
 * not thread-safe, so every call into it happens under one process-wide mutex. Its answers are
 * kept in a per-process cache (word -> analysis) behind a read-write lock, so a word costs the
 * dictionary lookups once; afterwards embedding reads the cache only.
 *
 * The dictionary is found the way libwordnet finds it: $WNSEARCHDIR, else $WNHOME/dict, else
 * /usr/share/wordnet (Debian wordnet-base). embed_wn_open() checks that the files are there and
 * fails with a message naming the directory otherwise. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <wn.h>

#include "embed/embed_internal.h"
#include "util/mem.h"

#define WN_DEFAULT_DIR  "/usr/share/wordnet"
#define WN_MAX_FORMS    4 /* base forms considered per part of speech */
#define WN_MAX_HYPER    2 /* hypernym pointers followed per synset */
#define WN_MAX_FEATS    EMBED_WN_MAX_FEATS
#define WN_MAX_EXP      EMBED_WN_MAX_EXP
#define WN_GLOSS_MAX_DF 0.01 /* gloss words in more than 1% of glosses are not used */
#define WN_DF_SLOTS     (1u << 18)
#define WN_MAX_DERIV    3 /* derivation pointers followed per synset */
#define WN_MAX_FRONT    4 /* synsets followed per hypernym level */
#define WN_CACHE_SLOTS  (1u << 17)
#define WN_CACHE_MAX    EMBED_WN_CACHE_MAX_WORDS

static pthread_mutex_t wn_mu = PTHREAD_MUTEX_INITIALIZER; /* every libwordnet call */
static int wn_state;                                      /* 0 untried, 1 open, -1 failed */
static char wn_error[1200];

/* Cache: open addressing, slots point at immutable entries that live until process exit (or
 * embed_wn_cache_clear, for tests). Readers take the read lock only. */
struct slot {
    uint64_t h;
    struct embed_wn_entry *e;
};
static pthread_rwlock_t cache_mu = PTHREAD_RWLOCK_INITIALIZER;
static struct slot *cache;
static size_t cache_used, cache_bytes;

/* Document frequency of words in WordNet's glosses (how many glosses use the word), computed
 * once when the dictionary is opened: rare gloss words are informative, common ones are noise. */
struct df_slot {
    uint64_t h;
    uint32_t df;
};
static struct df_slot *df_table;
static uint32_t df_glosses;

static uint64_t df_hash(const char *w, size_t n)
{
    uint64_t h = 0x84222325cbf29ce4ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)w[i];
        h *= 0x100000001b3ULL;
    }
    return h | 1;
}

static uint64_t mix_key(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static struct df_slot *df_slot(uint64_t h)
{
    size_t mask = WN_DF_SLOTS - 1;
    for (size_t i = (size_t)(h >> 20) & mask;; i = (i + 1) & mask)
        if (df_table[i].h == h || df_table[i].h == 0)
            return &df_table[i];
}

/* Splits a gloss into lower-case ASCII words (the definition only: the quoted examples after it
 * are skipped) and calls fn for each distinct one. */
static void gloss_words(const char *g, void (*fn)(const char *w, size_t n, void *ctx), void *ctx)
{
    char w[EMBED_WN_MAX_WORD];
    size_t n = 0;
    uint64_t seen[64];
    size_t nseen = 0;
    for (const char *p = g;; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c >= 'a' && c <= 'z') {
            if (n + 1 < sizeof w)
                w[n++] = c;
            continue;
        }
        if (n >= 3) {
            uint64_t h = df_hash(w, n);
            int dup = 0;
            for (size_t i = 0; i < nseen; i++)
                dup |= seen[i] == h;
            if (!dup && nseen < 64) {
                seen[nseen++] = h;
                w[n] = '\0';
                fn(w, n, ctx);
            }
        }
        n = 0;
        if (!c || c == '"' || c == '\n')
            break;
    }
}

static void df_count(const char *w, size_t n, void *ctx)
{
    (void)ctx;
    struct df_slot *s = df_slot(df_hash(w, n));
    if (!s->h) {
        static size_t used;
        if (used >= WN_DF_SLOTS / 2)
            return;
        used++;
        s->h = df_hash(w, n);
    }
    s->df++;
}

/* ---- information content of synsets (Seco et al. 2004) ---------------------------------------
 * IC(s) = 1 - log(hypo(s) + 1) / log(N), hypo(s) the number of distinct synsets below s (its
 * transitive hyponyms, instance hyponyms included; for adjectives the satellites of a head) and N
 * the number of synsets of its part of speech. Computed once when the dictionary is opened from the
 * hypernym pointers of the data files: "entity" gets 0, a leaf 1. Immutable afterwards. */
#define IC_SLOTS (1u << 18)
struct ic_slot {
    uint64_t key; /* pos << 32 | offset, 0 = empty */
    uint32_t id;
};
static struct ic_slot *ic_table;
static float *ic_val;       /* by synset id */
static uint32_t *par_start; /* CSR parents: par[par_start[id] .. par_start[id + 1]) */
static uint32_t *par;
static uint32_t n_syn, n_par, cap_par;
static uint32_t n_pos[NUMPARTS + 1];
static uint64_t *par_keys; /* parent keys while loading, resolved to ids afterwards */
static uint32_t *par_owner;

static int pos_of_char(char c)
{
    switch (c) {
    case 'n':
        return NOUN;
    case 'v':
        return VERB;
    case 'a':
    case 's':
        return ADJ;
    case 'r':
        return ADV;
    default:
        return 0;
    }
}

static struct ic_slot *ic_slot(uint64_t key)
{
    size_t mask = IC_SLOTS - 1;
    for (size_t i = (size_t)mix_key(key) & mask;; i = (i + 1) & mask)
        if (ic_table[i].key == key || ic_table[i].key == 0)
            return &ic_table[i];
}

/* Records one data-file line: its synset and its parents (hypernyms, instance-of, the head of a
 * satellite adjective). */
static void ic_line(const char *line, int pos)
{
    char *end;
    unsigned long off = strtoul(line, &end, 10);
    if (end == line || n_syn >= IC_SLOTS / 2)
        return;
    const char *p = end;
    strtoul(p, &end, 10); /* lex_filenum */
    p = end;
    while (*p == ' ')
        p++;
    int sat = *p == 's';
    p++;
    unsigned long wcnt = strtoul(p, &end, 16);
    p = end;
    for (unsigned long i = 0; i < wcnt * 2; i++) { /* word lex_id pairs */
        while (*p == ' ')
            p++;
        p += strcspn(p, " ");
    }
    unsigned long pcnt = strtoul(p, &end, 10);
    p = end;
    struct ic_slot *s = ic_slot((uint64_t)pos << 32 | off);
    if (s->key)
        return;
    s->key = (uint64_t)pos << 32 | off;
    s->id = n_syn++;
    n_pos[pos]++;
    for (unsigned long i = 0; i < pcnt; i++) {
        char sym[4] = "";
        while (*p == ' ')
            p++;
        size_t k = strcspn(p, " ");
        if (k < sizeof sym)
            memcpy(sym, p, k), sym[k] = '\0';
        p += k;
        unsigned long po = strtoul(p, &end, 10);
        p = end;
        while (*p == ' ')
            p++;
        int pp = pos_of_char(*p);
        p += strcspn(p, " ");
        while (*p == ' ')
            p++;
        p += strcspn(p, " "); /* source/target */
        int parent =
            strcmp(sym, "@") == 0 || strcmp(sym, "@i") == 0 || (sat && strcmp(sym, "&") == 0);
        if (!parent || !pp)
            continue;
        if (n_par == cap_par) {
            cap_par = cap_par ? cap_par * 2 : 65536;
            par_keys = fg_xrealloc(par_keys, cap_par * sizeof *par_keys);
            par_owner = fg_xrealloc(par_owner, cap_par * sizeof *par_owner);
        }
        par_keys[n_par] = (uint64_t)pp << 32 | po;
        par_owner[n_par] = s->id;
        n_par++;
    }
}

/* Counts, for every synset, its distinct descendants: each synset walks up to all its ancestors
 * once (a per-walk mark avoids counting a diamond twice) and adds one to each. */
static void ic_finish(void)
{
    uint32_t *deg = fg_xcalloc((size_t)n_syn + 1, sizeof *deg);
    uint32_t *tmp = fg_xmalloc(((size_t)n_par + 1) * sizeof *tmp);
    uint32_t *ids = fg_xmalloc(((size_t)n_par + 1) * sizeof *ids);
    size_t np = 0;
    for (uint32_t i = 0; i < n_par; i++) {
        const struct ic_slot *s = ic_slot(par_keys[i]);
        if (!s->key)
            continue;
        ids[np] = s->id;
        tmp[np] = par_owner[i];
        deg[par_owner[i]]++;
        np++;
    }
    par_start = fg_xcalloc((size_t)n_syn + 1, sizeof *par_start);
    for (uint32_t i = 0; i < n_syn; i++)
        par_start[i + 1] = par_start[i] + deg[i];
    par = fg_xmalloc((np + 1) * sizeof *par);
    memset(deg, 0, ((size_t)n_syn + 1) * sizeof *deg);
    for (size_t i = 0; i < np; i++)
        par[par_start[tmp[i]] + deg[tmp[i]]++] = ids[i];
    free(tmp);
    free(ids);
    free(par_keys);
    free(par_owner);
    par_keys = NULL;
    par_owner = NULL;
    uint32_t *hypo = fg_xcalloc((size_t)n_syn + 1, sizeof *hypo);
    uint32_t *mark = fg_xcalloc((size_t)n_syn + 1, sizeof *mark);
    uint32_t *stack = fg_xmalloc(((size_t)n_syn + 1) * sizeof *stack);
    for (uint32_t s = 0; s < n_syn; s++) {
        size_t sp = 0;
        for (uint32_t j = par_start[s]; j < par_start[s + 1]; j++)
            stack[sp++] = par[j];
        while (sp) {
            uint32_t a = stack[--sp];
            if (mark[a] == s + 1)
                continue;
            mark[a] = s + 1;
            hypo[a]++;
            for (uint32_t j = par_start[a]; j < par_start[a + 1] && sp < n_syn; j++)
                stack[sp++] = par[j];
        }
    }
    ic_val = fg_xmalloc(((size_t)n_syn + 1) * sizeof *ic_val);
    for (size_t i = 0; i < IC_SLOTS; i++) {
        if (!ic_table[i].key)
            continue;
        int pos = (int)(ic_table[i].key >> 32);
        double n = n_pos[pos] > 1 ? (double)n_pos[pos] : 2.0;
        double ic = 1.0 - log((double)hypo[ic_table[i].id] + 1.0) / log(n);
        ic_val[ic_table[i].id] = (float)(ic < 0 ? 0 : ic);
    }
    free(hypo);
    free(mark);
    free(stack);
    free(deg);
}

float embed_wn_ic(int pos, long off)
{
    if (!ic_table || off < 0)
        return 1.0f;
    const struct ic_slot *s =
        ic_slot((uint64_t)(pos == SATELLITE ? ADJ : pos) << 32 | (uint64_t)(unsigned long)off);
    return s->key ? ic_val[s->id] : 1.0f;
}

/* ---- sense frequencies (cntlist.rev: how often each sense was tagged in WordNet's corpus) ---- */
#define TAG_SLOTS (1u << 17)
struct tag_slot {
    uint64_t h; /* hash of lemma, pos, sense number; 0 = empty */
    uint32_t cnt;
};
static struct tag_slot *tag_table;

static uint64_t tag_hash(const char *lemma, size_t n, int pos, int sense)
{
    uint64_t h = df_hash(lemma, n);
    h = mix_key(h ^ ((uint64_t)pos << 56) ^ ((uint64_t)(unsigned)sense << 40));
    return h | 1;
}

static struct tag_slot *tag_slot(uint64_t h)
{
    size_t mask = TAG_SLOTS - 1;
    for (size_t i = (size_t)(h >> 17) & mask;; i = (i + 1) & mask)
        if (tag_table[i].h == h || tag_table[i].h == 0)
            return &tag_table[i];
}

static void load_tagcounts(const char *dir)
{
    char path[700], line[512];
    tag_table = fg_xcalloc(TAG_SLOTS, sizeof *tag_table);
    snprintf(path, sizeof path, "%s/cntlist.rev", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return; /* optional: without it every sense counts as untagged */
    size_t used = 0;
    while (fgets(line, sizeof line, f) && used < TAG_SLOTS / 2) {
        const char *pct = strchr(line, '%');
        if (!pct)
            continue;
        int ss = pct[1] - '0';
        int pos = ss == 5 ? ADJ : ss;
        const char *sp = strchr(pct, ' ');
        if (!sp || pos < 1 || pos > 4)
            continue;
        char *end;
        long sense = strtol(sp + 1, &end, 10);
        long cnt = strtol(end, NULL, 10);
        if (sense <= 0 || cnt <= 0)
            continue;
        struct tag_slot *t = tag_slot(tag_hash(line, (size_t)(pct - line), pos, (int)sense));
        if (!t->h) {
            t->h = tag_hash(line, (size_t)(pct - line), pos, (int)sense);
            used++;
        }
        t->cnt += (uint32_t)cnt;
    }
    fclose(f);
}

/* Tag count of sense (1-based) of lemma (as in index files: lower case, '_' for spaces). */
static unsigned tag_count(const char *lemma, int pos, int sense)
{
    if (!tag_table)
        return 0;
    const struct tag_slot *t = tag_slot(tag_hash(lemma, strlen(lemma), pos, sense));
    return t->h ? t->cnt : 0;
}

static int build_df(const char *dir)
{
    static const char *const parts[] = {"noun", "verb", "adj", "adv"};
    static const int poses[] = {NOUN, VERB, ADJ, ADV};
    char path[700], line[16384];
    df_table = fg_xcalloc(WN_DF_SLOTS, sizeof *df_table);
    ic_table = fg_xcalloc(IC_SLOTS, sizeof *ic_table);
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/data.%s", dir, parts[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            return -1;
        while (fgets(line, sizeof line, f)) {
            const char *bar = line[0] == ' ' ? NULL : strstr(line, " | ");
            if (!bar)
                continue;
            df_glosses++;
            ic_line(line, poses[i]);
            gloss_words(bar + 3, df_count, NULL);
        }
        fclose(f);
    }
    ic_finish();
    load_tagcounts(dir);
    return 0;
}

static double gloss_idf(const char *w, size_t n)
{
    const struct df_slot *s = df_slot(df_hash(w, n));
    double df = s->h ? (double)s->df : 0.0;
    if (df > WN_GLOSS_MAX_DF * (double)df_glosses)
        return 0;
    return log(((double)df_glosses + 1) / (df + 1));
}

/* libwordnet reads its data and index files with fseek + fgets: two system calls per synset or
 * index probe (tens of them per word), which costs milliseconds per word on a busy machine. Its
 * FILE pointers are public (wn.h), so after wninit() each one is replaced by an in-memory stream
 * over a read-only mapping of the same file: the same library code, no system calls, and the
 * pages are the shared page cache (about 25 MB for the four data and index files together). */
static FILE *mapped_stream(const char *dir, const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    FILE *f = NULL;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            f = fmemopen(m, (size_t)st.st_size, "r"); /* the mapping lives as long as the process */
            if (!f)
                munmap(m, (size_t)st.st_size);
        }
    }
    close(fd);
    return f;
}

static void map_files(const char *dir)
{
    static const char *const parts[] = {"", "noun", "verb", "adj", "adv"};
    char name[32];
    for (int i = 1; i <= NUMPARTS; i++) {
        snprintf(name, sizeof name, "data.%s", parts[i]);
        FILE *d = mapped_stream(dir, name);
        if (d) {
            if (datafps[i])
                fclose(datafps[i]);
            datafps[i] = d;
        }
        snprintf(name, sizeof name, "index.%s", parts[i]);
        FILE *x = mapped_stream(dir, name);
        if (x) {
            if (indexfps[i])
                fclose(indexfps[i]);
            indexfps[i] = x;
        }
    }
}

/* ---- morphology: WordNet's morphy (morph.c) over in-memory exception lists -------------------
 * libwordnet's morphstr reads its exception files with fseek + fgets (a private FILE per part of
 * speech that cannot be replaced), tens of system calls per word. This is the same algorithm
 * (morphy(7WN)): the exception list first, otherwise the first detachment rule whose result is
 * in the dictionary; candidates are checked with index_lookup (in memory after map_files). */
struct exc_list {
    char *buf;
    char **lines; /* sorted, as in the file */
    size_t n;
};
static struct exc_list excs[NUMPARTS + 1];

static int load_exc(const char *dir, int pos, const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    struct exc_list *x = &excs[pos];
    size_t cap = 0, len = 0;
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            x->buf = fg_xrealloc(x->buf, cap);
        }
        memcpy(x->buf + len, chunk, got);
        len += got;
    }
    fclose(f);
    if (!x->buf)
        return 0;
    x->buf[len] = '\0';
    size_t lcap = 1024;
    x->lines = fg_xmalloc(lcap * sizeof *x->lines);
    for (char *p = x->buf; *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (*p) {
            if (x->n == lcap) {
                lcap *= 2;
                x->lines = fg_xrealloc(x->lines, lcap * sizeof *x->lines);
            }
            x->lines[x->n++] = p;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}

static int exc_cmp(const void *k, const void *e)
{
    const char *w = k, *line = *(char *const *)e;
    size_t n = strcspn(line, " ");
    int c = strncmp(w, line, n);
    if (c)
        return c;
    return w[n] ? 1 : 0;
}

static int in_dictionary(const char *w, int pos)
{
    char buf[EMBED_WN_MAX_WORD];
    snprintf(buf, sizeof buf, "%s", w);
    IndexPtr ix = index_lookup(buf, pos);
    if (!ix)
        return 0;
    free_index(ix);
    return 1;
}

/* Base forms of word for pos other than the word itself, into out (at most max). */
static size_t morphy(const char *word, int pos, char out[][64], size_t max)
{
    static const char *const sufx[] = {
        /* noun */ "s", "ses", "xes", "zes", "ches", "shes", "men", "ies",
        /* verb */ "s", "ies", "es",  "es",  "ed",   "ed",   "ing", "ing",
        /* adj */ "er", "est", "er",  "est"};
    static const char *const addr[] = {
        /* noun */ "", "s", "x", "z", "ch", "sh", "man", "y",
        /* verb */ "", "y", "e", "",  "e",  "",   "e",   "",
        /* adj */ "",  "",  "e", "e"};
    static const int offsets[] = {0, 0, 8, 16, 0}, counts[] = {0, 8, 8, 4, 0};
    size_t n = 0, wl = strlen(word);
    const struct exc_list *x = &excs[pos];
    char *const *hit = x->n ? bsearch(word, x->lines, x->n, sizeof *x->lines, exc_cmp) : NULL;
    if (hit) {
        const char *p = *hit + strcspn(*hit, " ");
        while (*p == ' ' && n < max) {
            p++;
            size_t k = strcspn(p, " ");
            if (k && k < 64 && !(k == wl && memcmp(p, word, k) == 0)) {
                memcpy(out[n], p, k);
                out[n][k] = '\0';
                n++;
            }
            p += k;
        }
        return n;
    }
    if (pos == ADV || wl <= 2 || (pos == NOUN && wl > 2 && strcmp(word + wl - 2, "ss") == 0))
        return 0;
    for (int i = 0; i < counts[pos] && n < max; i++) {
        const char *sf = sufx[offsets[pos] + i], *ad = addr[offsets[pos] + i];
        size_t sl = strlen(sf), al = strlen(ad);
        if (wl <= sl || strcmp(word + wl - sl, sf) != 0 || wl - sl + al >= 64)
            continue;
        memcpy(out[n], word, wl - sl);
        memcpy(out[n] + wl - sl, ad, al + 1);
        if (strcmp(out[n], word) != 0 && in_dictionary(out[n], pos))
            return n + 1; /* morphy stops at the first rule that gives a word */
    }
    return n;
}

static int quiet_message(char *msg)
{
    (void)msg; /* libwordnet prints its errors to stderr by default; we report our own */
    return 0;
}

static const char *wn_dir(char *buf, size_t len)
{
    const char *d = getenv("WNSEARCHDIR");
    if (d && *d)
        return d;
    d = getenv("WNHOME");
    if (d && *d) {
        snprintf(buf, len, "%s/dict", d);
        return buf;
    }
    return WN_DEFAULT_DIR;
}

enum fg_err embed_wn_open(char *errbuf, size_t errlen)
{
    pthread_mutex_lock(&wn_mu);
    if (wn_state == 0) {
        char buf[512], path[700];
        const char *dir = wn_dir(buf, sizeof buf);
        static const char *const files[] = {"index.noun", "data.noun", "index.verb", "data.verb",
                                            "index.adj",  "data.adj",  "index.adv",  "data.adv",
                                            "noun.exc",   "verb.exc",  "adj.exc",    "adv.exc"};
        wn_state = 1;
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, files[i]);
            if (access(path, R_OK) != 0) {
                snprintf(wn_error, sizeof wn_error,
                         "the local-wordnet-v2 embedder needs the WordNet dictionary, but %s is "
                         "missing (install Debian's wordnet-base, set WNSEARCHDIR to the "
                         "directory holding index.noun, or set "
                         "EMBEDDING_LOCAL_MODEL=local-hash-v1)",
                         path);
                wn_state = -1;
                break;
            }
        }
        if (wn_state == 1) {
            display_message = quiet_message;
            if (wninit() == 0)
                map_files(dir);
            if (!OpenDB || build_df(dir) != 0 || load_exc(dir, NOUN, "noun.exc") != 0 ||
                load_exc(dir, VERB, "verb.exc") != 0 || load_exc(dir, ADJ, "adj.exc") != 0 ||
                load_exc(dir, ADV, "adv.exc") != 0) {
                snprintf(wn_error, sizeof wn_error,
                         "the WordNet dictionary in %s could not be opened (libwordnet wninit "
                         "failed)",
                         dir);
                wn_state = -1;
            }
        }
        if (wn_state == 1) {
            pthread_rwlock_wrlock(&cache_mu);
            if (!cache)
                cache = fg_xcalloc(WN_CACHE_SLOTS, sizeof *cache);
            pthread_rwlock_unlock(&cache_mu);
        }
    }
    enum fg_err rc = wn_state == 1 ? FG_OK : FG_EUNAVAIL;
    if (rc != FG_OK)
        embed_errf(errbuf, errlen, "%s", wn_error);
    pthread_mutex_unlock(&wn_mu);
    return rc;
}

/* ---- analysis (wn_mu held) ---------------------------------------------------------------- */

struct builder {
    struct embed_wn_sense f[WN_MAX_FEATS];
    size_t nf;
    struct embed_wn_exp x[WN_MAX_EXP];
    size_t nx;
    char xpool[WN_MAX_EXP * 16];
    size_t xlen;
    char lemmas[256];
    size_t llen, nlem;
    int cur_pos; /* part of speech being analysed */
};

static void add_lemma(struct builder *b, const char *l)
{
    size_t n = strlen(l);
    for (size_t off = 0; off < b->llen;) { /* already there? */
        size_t k = strlen(b->lemmas + off);
        if (k == n && memcmp(b->lemmas + off, l, n) == 0)
            return;
        off += k + 1;
    }
    if (b->llen + n + 1 > sizeof b->lemmas)
        return;
    memcpy(b->lemmas + b->llen, l, n + 1);
    b->llen += n + 1;
    b->nlem++;
}

/* Synsets one level up: hypernyms and instance-of for nouns and verbs, the head of a satellite
 * adjective. Writes up to max (pos, offset) pairs. */
static size_t parents(SynsetPtr s, int *ppos, long *poff, size_t max)
{
    size_t n = 0;
    int sat = s->sstype == SATELLITE;
    for (int i = 0; i < s->ptrcount && n < max; i++) {
        int t = s->ptrtyp[i];
        if (t == HYPERPTR || t == INSTANCE || (sat && t == SIMPTR)) {
            ppos[n] = s->ppos[i];
            poff[n] = s->ptroff[i];
            n++;
        }
    }
    return n;
}

static void add_sense(struct builder *b, int pos, long off, unsigned rank, unsigned level,
                      unsigned kind, float posw, unsigned tagcnt)
{
    if (b->nf >= WN_MAX_FEATS || off < 0)
        return;
    /* satellites and head adjectives share one part-of-speech space */
    unsigned p = pos == SATELLITE ? ADJ : (unsigned)pos;
    b->f[b->nf].key = (uint64_t)p << 32 | (uint64_t)(unsigned long)off;
    b->f[b->nf].rank = (uint8_t)rank;
    b->f[b->nf].level = (uint8_t)level;
    b->f[b->nf].kind = (uint8_t)kind;
    b->f[b->nf].pos = (uint8_t)p;
    b->f[b->nf].posw = posw;
    b->f[b->nf].ic = embed_wn_ic((int)p, off);
    b->f[b->nf].tagcnt = tagcnt > 65535 ? 65535 : (uint16_t)tagcnt;
    b->f[b->nf].spos = (uint8_t)(b->cur_pos == SATELLITE ? ADJ : b->cur_pos);
    b->nf++;
}

static void add_exp(struct builder *b, const char *w, size_t n, unsigned rank, unsigned kind,
                    double idf)
{
    if (b->nx >= WN_MAX_EXP || b->xlen + n + 1 > sizeof b->xpool || idf <= 0)
        return;
    b->x[b->nx].off = (uint32_t)b->xlen;
    b->x[b->nx].rank = (uint8_t)rank;
    b->x[b->nx].kind = (uint8_t)kind;
    b->x[b->nx].pos = (uint8_t)b->cur_pos;
    b->x[b->nx].idf = (float)idf;
    memcpy(b->xpool + b->xlen, w, n);
    b->xpool[b->xlen + n] = '\0';
    b->xlen += n + 1;
    b->nx++;
}

struct gloss_ctx {
    struct builder *b;
    unsigned rank;
};

/* A gloss word, lemmatised (noun, then verb), if it is informative. */
static void gloss_word(const char *w, size_t n, void *ctx)
{
    struct gloss_ctx *g = ctx;
    if (embed_local_is_stop(w, n))
        return;
    double idf = gloss_idf(w, n);
    if (idf <= 0)
        return;
    char bases[1][64];
    const char *lemma = w;
    if (morphy(w, NOUN, bases, 1) || morphy(w, VERB, bases, 1))
        lemma = bases[0];
    add_exp(g->b, lemma, strlen(lemma), g->rank, EMBED_WN_GLOSS, idf);
}

/* Synonyms (one-word members of the synset) and the informative words of its gloss. */
static void expand_synset(struct builder *b, SynsetPtr s, const char *word, unsigned rank)
{
    for (int i = 0; i < s->wcount; i++) {
        const char *m = s->words[i];
        size_t n = strcspn(m, "(");
        if (memchr(m, '_', n) || memchr(m, '-', n) || (strlen(word) == n && !memcmp(m, word, n)))
            continue;
        char low[EMBED_WN_MAX_WORD];
        if (n >= sizeof low)
            continue;
        for (size_t k = 0; k < n; k++)
            low[k] = (char)(m[k] >= 'A' && m[k] <= 'Z' ? m[k] + 32 : m[k]);
        add_exp(b, low, n, rank, EMBED_WN_SYNONYM, 1.0);
    }
    if (s->defn) {
        struct gloss_ctx g = {b, rank};
        gloss_words(s->defn[0] == '(' ? s->defn + 1 : s->defn, gloss_word, &g);
    }
}

static void analyse_pos(struct builder *b, const char *word, int pos, unsigned max_senses)
{
    char forms[WN_MAX_FORMS][64];
    size_t nforms = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", word);
    IndexPtr self = index_lookup(buf, pos);
    if (self) {
        snprintf(forms[nforms++], sizeof forms[0], "%s", word);
        free_index(self);
    }
    char bases[WN_MAX_FORMS][64];
    size_t nb = morphy(word, pos, bases, WN_MAX_FORMS);
    for (size_t k = 0; k < nb && nforms < WN_MAX_FORMS; k++) {
        int dup = 0;
        for (size_t i = 0; i < nforms; i++)
            dup |= strcmp(forms[i], bases[k]) == 0;
        if (!dup)
            memcpy(forms[nforms++], bases[k], sizeof forms[0]);
    }
    b->cur_pos = pos;
    for (size_t fi = 0; fi < nforms; fi++) {
        IndexPtr ix = index_lookup(forms[fi], pos);
        if (!ix)
            continue;
        add_lemma(b, forms[fi]);
        /* prominence of this part of speech for the word: its senses seen in the tagged corpus */
        float posw = (float)ix->tagged_cnt + 0.5f;
        unsigned ns = (unsigned)ix->off_cnt;
        if (ns > max_senses)
            ns = max_senses;
        for (unsigned r = 0; r < ns; r++) {
            long off = (long)ix->offset[r];
            unsigned tc = tag_count(forms[fi], pos, (int)r + 1);
            add_sense(b, pos, off, r, 0, EMBED_WN_SYNSET, posw, tc);
            /* derivationally related synsets and pertainyms (sick -> sickness, financial ->
             * finance), and the lateral relations: similar-to and also-see (adjectives),
             * entailment and also-see (verbs) */
            SynsetPtr s = read_synset(pos, off, NULL);
            if (s) {
                expand_synset(b, s, word, r);
                size_t nd = 0, nr = 0;
                for (int k = 0; k < s->ptrcount; k++) {
                    int t = s->ptrtyp[k];
                    if ((t == DERIVATION || t == PERTPTR) && nd < WN_MAX_DERIV) {
                        add_sense(b, s->ppos[k], s->ptroff[k], r, 1, EMBED_WN_DERIV, posw, tc);
                        nd++;
                    } else if ((t == SIMPTR || t == SEEALSOPTR || t == ENTAILPTR || t == CAUSETO) &&
                               nr < WN_MAX_DERIV) {
                        add_sense(b, s->ppos[k], s->ptroff[k], r, 1, EMBED_WN_REL, posw, tc);
                        nr++;
                    }
                }
                free_synset(s);
            }
            /* hypernym levels, breadth first */
            int lp[2][WN_MAX_FRONT];
            long lo[2][WN_MAX_FRONT];
            size_t ln[2] = {1, 0};
            lp[0][0] = pos;
            lo[0][0] = off;
            for (unsigned level = 1; level <= EMBED_WN_MAX_LEVEL; level++) {
                int cur = (level - 1) & 1, nxt = level & 1;
                ln[nxt] = 0;
                for (size_t k = 0; k < ln[cur]; k++) {
                    SynsetPtr h = read_synset(lp[cur][k], lo[cur][k], NULL);
                    if (!h)
                        continue;
                    int pp[WN_MAX_HYPER];
                    long po[WN_MAX_HYPER];
                    size_t np = parents(h, pp, po, WN_MAX_HYPER);
                    free_synset(h);
                    for (size_t j = 0; j < np && ln[nxt] < WN_MAX_FRONT; j++) {
                        add_sense(b, pp[j], po[j], r, level, EMBED_WN_HYPER, posw, tc);
                        lp[nxt][ln[nxt]] = pp[j];
                        lo[nxt][ln[nxt]] = po[j];
                        ln[nxt]++;
                    }
                }
            }
        }
        free_index(ix);
    }
}

static struct embed_wn_entry *analyse(const char *word)
{
    struct builder *b = fg_xcalloc(1, sizeof *b);
    static const int poses[] = {NOUN, VERB, ADJ, ADV};
    for (size_t i = 0; i < 4; i++)
        analyse_pos(b, word, poses[i], EMBED_WN_MAX_SENSES);
    size_t wl = strlen(word);
    const char *lw = b->nlem ? b->lemmas : word;
    const struct df_slot *ds = df_slot(df_hash(lw, strlen(lw)));
    double wdf = ds->h ? (double)ds->df : 0.0;
    struct embed_wn_entry *e =
        fg_xmalloc(sizeof *e + b->nf * sizeof(struct embed_wn_sense) +
                   b->nx * sizeof(struct embed_wn_exp) + b->xlen + b->llen + wl + 1);
    e->idf = (float)log(((double)df_glosses + 1) / (wdf + 1));
    e->nsenses = b->nf;
    e->nlemmas = b->nlem;
    e->senses = (struct embed_wn_sense *)(e + 1);
    if (b->nf)
        memcpy(e->senses, b->f, b->nf * sizeof(struct embed_wn_sense));
    e->nexp = b->nx;
    e->exps = (struct embed_wn_exp *)(e->senses + b->nf);
    if (b->nx)
        memcpy(e->exps, b->x, b->nx * sizeof(struct embed_wn_exp));
    e->xpool = (char *)(e->exps + b->nx);
    if (b->xlen)
        memcpy(e->xpool, b->xpool, b->xlen);
    e->lemmas = e->xpool + b->xlen;
    if (b->llen)
        memcpy(e->lemmas, b->lemmas, b->llen);
    e->word = e->lemmas + b->llen;
    memcpy(e->word, word, wl + 1);
    e->word_len = wl;
    e->bytes = sizeof *e + b->nf * sizeof(struct embed_wn_sense) +
               b->nx * sizeof(struct embed_wn_exp) + b->xlen + b->llen + wl + 1;
    free(b);
    return e;
}

/* ---- cache ----------------------------------------------------------------------------------- */

static uint64_t word_hash(const char *w, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)w[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 29;
    return h;
}

/* Finds w in the cache (cache_mu held, read or write). */
static struct embed_wn_entry *cache_find(uint64_t h, const char *w, size_t n)
{
    size_t mask = WN_CACHE_SLOTS - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct slot *s = &cache[i];
        if (!s->e)
            return NULL;
        if (s->h == h && s->e->word_len == n && memcmp(s->e->word, w, n) == 0)
            return s->e;
    }
}

const struct embed_wn_entry *embed_wn_lookup(const char *w, size_t n, struct embed_wn_entry **own)
{
    *own = NULL;
    if (n == 0 || n >= EMBED_WN_MAX_WORD)
        return NULL;
    uint64_t h = word_hash(w, n);
    pthread_rwlock_rdlock(&cache_mu);
    struct embed_wn_entry *e = cache ? cache_find(h, w, n) : NULL;
    pthread_rwlock_unlock(&cache_mu);
    if (e)
        return e;

    char word[EMBED_WN_MAX_WORD];
    memcpy(word, w, n);
    word[n] = '\0';
    pthread_mutex_lock(&wn_mu);
    if (wn_state != 1) {
        pthread_mutex_unlock(&wn_mu);
        return NULL;
    }
    struct embed_wn_entry *fresh = analyse(word);
    pthread_mutex_unlock(&wn_mu);

    pthread_rwlock_wrlock(&cache_mu);
    if ((e = cache_find(h, w, n))) { /* another thread was faster */
        pthread_rwlock_unlock(&cache_mu);
        free(fresh);
        return e;
    }
    if (cache_used >= WN_CACHE_MAX) { /* full: the caller uses and frees this one */
        pthread_rwlock_unlock(&cache_mu);
        *own = fresh;
        return fresh;
    }
    size_t mask = WN_CACHE_SLOTS - 1, i = h & mask;
    while (cache[i].e)
        i = (i + 1) & mask;
    cache[i].h = h;
    cache[i].e = fresh;
    cache_used++;
    cache_bytes += fresh->bytes;
    pthread_rwlock_unlock(&cache_mu);
    return fresh;
}

size_t embed_wn_cache_words(size_t *bytes)
{
    pthread_rwlock_rdlock(&cache_mu);
    size_t n = cache_used;
    if (bytes)
        *bytes = cache_bytes;
    pthread_rwlock_unlock(&cache_mu);
    return n;
}

void embed_wn_cache_clear(void)
{
    pthread_rwlock_wrlock(&cache_mu);
    if (cache) {
        for (size_t i = 0; i < WN_CACHE_SLOTS; i++)
            free(cache[i].e);
        memset(cache, 0, WN_CACHE_SLOTS * sizeof *cache);
    }
    cache_used = 0;
    cache_bytes = 0;
    pthread_rwlock_unlock(&cache_mu);
}

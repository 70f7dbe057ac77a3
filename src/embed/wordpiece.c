/* BERT WordPiece tokenizer read from a Hugging Face tokenizer.json: BertNormalizer (clean text,
 * spaces around CJK ideographs, accents stripped through NFD, lowercase), BertPreTokenizer
 * (whitespace and punctuation splits), greedy longest-match WordPiece with the "##" continuation
 * prefix, [UNK] for words longer than max_input_chars_per_word or without a decomposition, and
 * [CLS] ... [SEP]. Unicode properties come from libutf8proc. */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "embed/model_internal.h"
#include "util/mem.h"

struct embed_wp {
    size_t nslots, nvocab;
    uint32_t *slot_off; /* into pool; UINT32_MAX = empty */
    int32_t *slot_id;
    char *pool; /* each entry: u8 length, bytes */
    size_t pool_len;
    int32_t cls, sep, unk;
    int lowercase, strip_accents, handle_cjk, clean_text;
    size_t max_word_chars;
    char prefix[16];
    size_t prefix_len;
};

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

int32_t embed_wp_id(const struct embed_wp *wp, const char *s, size_t n)
{
    size_t mask = wp->nslots - 1, i = (size_t)fnv(s, n) & mask;
    for (;;) {
        uint32_t o = wp->slot_off[i];
        if (o == UINT32_MAX)
            return -1;
        if ((unsigned char)wp->pool[o] == n && memcmp(wp->pool + o + 1, s, n) == 0)
            return wp->slot_id[i];
        i = (i + 1) & mask;
    }
}

size_t embed_wp_vocab_size(const struct embed_wp *wp)
{
    return wp->nvocab;
}

void embed_wp_free(struct embed_wp *wp)
{
    if (!wp)
        return;
    free(wp->slot_off);
    free(wp->slot_id);
    free(wp->pool);
    free(wp);
}

static int json_flag(const json_t *o, const char *k, int dflt)
{
    json_t *v = json_object_get(o, k);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static int32_t special(struct embed_wp *wp, const char *name, char *errbuf, size_t errlen)
{
    int32_t id = embed_wp_id(wp, name, strlen(name));
    if (id < 0)
        embed_errf(errbuf, errlen, "tokenizer.json: the vocabulary has no %s", name);
    return id;
}

struct embed_wp *embed_wp_new(const json_t *tok, char *errbuf, size_t errlen)
{
    const json_t *model = json_object_get(tok, "model");
    const char *type = json_string_value(json_object_get(model, "type"));
    const json_t *vocab = json_object_get(model, "vocab");
    if (!type || strcmp(type, "WordPiece") != 0 || !json_is_object(vocab)) {
        embed_errf(errbuf, errlen, "tokenizer.json: model.type must be WordPiece with a vocab");
        return NULL;
    }
    size_t n = json_object_size(vocab);
    if (n == 0 || n > EMBED_WP_MAX_VOCAB) {
        embed_errf(errbuf, errlen, "tokenizer.json: vocabulary size %zu out of range", n);
        return NULL;
    }
    struct embed_wp *wp = fg_xcalloc(1, sizeof(*wp));
    wp->nslots = 16;
    while (wp->nslots < 2 * n)
        wp->nslots *= 2;
    wp->slot_off = fg_xmalloc(wp->nslots * sizeof(uint32_t));
    wp->slot_id = fg_xmalloc(wp->nslots * sizeof(int32_t));
    memset(wp->slot_off, 0xff, wp->nslots * sizeof(uint32_t));
    const char *key;
    json_t *val;
    size_t pool_need = 0;
    json_object_foreach((json_t *)vocab, key, val)
    {
        size_t kl = strlen(key);
        pool_need += (kl > EMBED_WP_MAX_TOKEN_BYTES ? EMBED_WP_MAX_TOKEN_BYTES : kl) + 1;
    }
    wp->pool = fg_xmalloc(pool_need);
    json_object_foreach((json_t *)vocab, key, val)
    {
        size_t kl = strlen(key);
        json_int_t id = json_integer_value(val);
        if (!json_is_integer(val) || id < 0 || id >= (json_int_t)n || kl == 0 ||
            kl > EMBED_WP_MAX_TOKEN_BYTES) {
            embed_errf(errbuf, errlen, "tokenizer.json: bad vocabulary entry (id must be 0..%zu)",
                       n - 1);
            goto fail;
        }
        if (embed_wp_id(wp, key, kl) >= 0)
            continue; /* duplicate keys are rejected by jansson anyway */
        size_t i = (size_t)fnv(key, kl) & (wp->nslots - 1);
        while (wp->slot_off[i] != UINT32_MAX)
            i = (i + 1) & (wp->nslots - 1);
        wp->slot_off[i] = (uint32_t)wp->pool_len;
        wp->slot_id[i] = (int32_t)id;
        wp->pool[wp->pool_len] = (char)kl;
        memcpy(wp->pool + wp->pool_len + 1, key, kl);
        wp->pool_len += kl + 1;
        wp->nvocab++;
    }
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    const char *pre = json_string_value(json_object_get(model, "continuing_subword_prefix"));
    json_t *mw = json_object_get(model, "max_input_chars_per_word");
    if (!pre)
        pre = "##";
    if (strlen(pre) >= sizeof(wp->prefix)) {
        embed_errf(errbuf, errlen, "tokenizer.json: continuing_subword_prefix too long");
        goto fail;
    }
    memcpy(wp->prefix, pre, strlen(pre) + 1);
    wp->prefix_len = strlen(pre);
    wp->max_word_chars = 100;
    if (json_is_integer(mw) && json_integer_value(mw) > 0 && json_integer_value(mw) <= 10000)
        wp->max_word_chars = (size_t)json_integer_value(mw);
    if ((wp->unk = special(wp, unk ? unk : "[UNK]", errbuf, errlen)) < 0 ||
        (wp->cls = special(wp, "[CLS]", errbuf, errlen)) < 0 ||
        (wp->sep = special(wp, "[SEP]", errbuf, errlen)) < 0)
        goto fail;
    const json_t *norm = json_object_get(tok, "normalizer");
    const char *ntype = json_string_value(json_object_get(norm, "type"));
    if (norm && !json_is_null(norm) && (!ntype || strcmp(ntype, "BertNormalizer") != 0)) {
        embed_errf(errbuf, errlen, "tokenizer.json: normalizer %s not supported (BertNormalizer)",
                   ntype ? ntype : "?");
        goto fail;
    }
    wp->lowercase = json_flag(norm, "lowercase", 1);
    /* strip_accents null follows lowercase, as in HF tokenizers */
    wp->strip_accents = json_flag(norm, "strip_accents", wp->lowercase);
    wp->handle_cjk = json_flag(norm, "handle_chinese_chars", 1);
    wp->clean_text = json_flag(norm, "clean_text", 1);
    return wp;
fail:
    embed_wp_free(wp);
    return NULL;
}

static int is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int is_ws(int32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
           utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}

static int is_control(int32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r')
        return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CN ||
           k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CS;
}

static int is_punct(int32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return 1;
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* Output state of one encode call. */
struct wp_out {
    const struct embed_wp *wp;
    int32_t *ids;
    size_t n, cap; /* cap: ids available for pieces (max_tokens - 1 for [SEP]) */
    char word[4 * 128 + 8];
    size_t wlen, wchars;
    int overlong; /* the word does not fit word[] or exceeds max_word_chars */
};

static void push(struct wp_out *o, int32_t id)
{
    if (o->n < o->cap)
        o->ids[o->n++] = id;
}

/* WordPiece of the pending word. */
static void flush_word(struct wp_out *o)
{
    const struct embed_wp *wp = o->wp;
    if (o->wchars == 0)
        return;
    if (o->overlong || o->wchars > wp->max_word_chars) {
        push(o, wp->unk);
    } else {
        int32_t pieces[sizeof(o->word)];
        size_t np = 0, start = 0;
        char buf[sizeof(o->word) + 16];
        int bad = 0;
        while (start < o->wlen) {
            size_t end = o->wlen;
            int32_t found = -1;
            while (end > start) {
                size_t bl = 0;
                if (start > 0) {
                    memcpy(buf, wp->prefix, wp->prefix_len);
                    bl = wp->prefix_len;
                }
                memcpy(buf + bl, o->word + start, end - start);
                bl += end - start;
                if (bl <= EMBED_WP_MAX_TOKEN_BYTES && (found = embed_wp_id(wp, buf, bl)) >= 0)
                    break;
                /* step back one UTF-8 character */
                do
                    end--;
                while (end > start && ((unsigned char)o->word[end] & 0xC0) == 0x80);
            }
            if (found < 0) {
                bad = 1;
                break;
            }
            pieces[np++] = found;
            start = end;
        }
        if (bad)
            push(o, wp->unk);
        else
            for (size_t i = 0; i < np; i++)
                push(o, pieces[i]);
    }
    o->wlen = o->wchars = 0;
    o->overlong = 0;
}

static void add_char(struct wp_out *o, int32_t c)
{
    o->wchars++;
    if (o->overlong)
        return;
    utf8proc_uint8_t b[4];
    utf8proc_ssize_t k = utf8proc_encode_char(c, b);
    if (o->wlen + (size_t)k > sizeof(o->word) || o->wchars > o->wp->max_word_chars) {
        o->overlong = 1;
        return;
    }
    memcpy(o->word + o->wlen, b, (size_t)k);
    o->wlen += (size_t)k;
}

/* One normalised character into the pre-tokenizer. */
static void feed(struct wp_out *o, int32_t c)
{
    if (is_ws(c)) {
        flush_word(o);
    } else if (is_punct(c) || (o->wp->handle_cjk && is_cjk(c))) {
        flush_word(o);
        add_char(o, c);
        flush_word(o);
    } else {
        add_char(o, c);
    }
}

size_t embed_wp_encode(const struct embed_wp *wp, const char *text, size_t len, int32_t *ids,
                       size_t max_tokens)
{
    struct wp_out o = {.wp = wp, .ids = ids, .cap = max_tokens - 1};
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text;
    size_t i = 0;
    push(&o, wp->cls);
    while (i < len && o.n < o.cap) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0) { /* not reached for valid UTF-8 */
            i++;
            continue;
        }
        i += (size_t)k;
        if (wp->clean_text && (c == 0 || c == 0xFFFD || is_control(c)))
            continue;
        if (wp->clean_text && is_ws(c))
            c = ' ';
        utf8proc_int32_t d[8];
        utf8proc_ssize_t nd = 1;
        d[0] = c;
        if (wp->strip_accents) {
            int last = 0;
            nd = utf8proc_decompose_char(c, d, 8, UTF8PROC_DECOMPOSE, &last);
            if (nd < 0 || nd > 8) {
                d[0] = c;
                nd = 1;
            }
        }
        for (utf8proc_ssize_t j = 0; j < nd; j++) {
            int32_t x = d[j];
            if (wp->strip_accents && utf8proc_category(x) == UTF8PROC_CATEGORY_MN)
                continue;
            if (wp->lowercase)
                x = utf8proc_tolower(x);
            feed(&o, x);
        }
    }
    flush_word(&o);
    ids[o.n++] = wp->sep;
    return o.n;
}

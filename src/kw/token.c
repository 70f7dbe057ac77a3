/*
 * Keyword tokeniser: UTF-8 text → folded, stemmed terms with positions. Contract in kw.h.
 *
 * Folding: ASCII and Latin letters are lower-cased and lose their accents through the tables
 * below (Latin-1 Supplement, Latin Extended-A, the Romanian comma letters); Greek and Cyrillic
 * capitals are lower-cased (final sigma → sigma); combining marks (U+0300–036F) inside a word
 * are dropped, so decomposed input folds like precomposed. Other scripts are kept as written.
 * Stemming: Snowball English (libstemmer) for terms made of ASCII letters and digits with at
 * least one letter; one stemmer per thread (libstemmer instances are not thread-safe).
 */
#include "kw/kw.h"

#include <pthread.h>
#include <string.h>

#include <libstemmer.h>

size_t fg_kw_utf8_next(const unsigned char *s, size_t n, long *cp)
{
    unsigned char c = s[0];
    size_t len;
    long v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2;
        v = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        v = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        v = c & 0x07;
    } else {
        *cp = -1;
        return 1;
    }
    if (len > n) {
        *cp = -1;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = v << 6 | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
    if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
        (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff) {
        *cp = -1;
        return 1;
    }
    *cp = v;
    return len;
}

static int is_cjk(long cp)
{
    return (cp >= 0x3040 && cp <= 0x30ff) || /* hiragana, katakana */
           (cp >= 0x3400 && cp <= 0x4dbf) || /* CJK extension A */
           (cp >= 0x4e00 && cp <= 0x9fff) || /* CJK unified ideographs */
           (cp >= 0xac00 && cp <= 0xd7af) || /* hangul syllables */
           (cp >= 0x1100 && cp <= 0x11ff) || /* hangul jamo */
           (cp >= 0x3130 && cp <= 0x318f) || /* hangul compatibility jamo */
           (cp >= 0xf900 && cp <= 0xfaff) || /* CJK compatibility ideographs */
           (cp >= 0x20000 && cp <= 0x2fa1f); /* CJK extensions B–F, supplement */
}

int fg_kw_char_class(long cp)
{
    if (cp < 0)
        return 0;
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    if (cp < 0xc0)
        return cp == 0xaa || cp == 0xb5 || cp == 0xba; /* ª µ º; the rest is symbols/space */
    if (cp == 0xd7 || cp == 0xf7)
        return 0; /* × ÷ */
    if (cp >= 0x300 && cp <= 0x36f)
        return 3;
    if (is_cjk(cp))
        return 2;
    static const long sep[][2] = {
        {0x2000, 0x206f}, /* general punctuation, spaces, zero-width joiners */
        {0x20a0, 0x20cf}, /* currency */
        {0x2100, 0x214f}, /* letterlike symbols */
        {0x2190, 0x2bff}, /* arrows, math operators, technical, box drawing, shapes, dingbats */
        {0x2e00, 0x2e7f}, /* supplemental punctuation */
        {0x3000, 0x303f}, /* CJK symbols and punctuation */
        {0xfe00, 0xfe0f}, /* variation selectors */
        {0xfe30, 0xfe6f}, /* CJK compatibility forms, small forms */
        {0xfeff, 0xfeff}, /* BOM */
        {0xff00, 0xff0f}, /* full-width punctuation */
        {0xff1a, 0xff20},   {0xff3b, 0xff40}, {0xff5b, 0xff65}, {0xfff0, 0xffff}, /* specials */
        {0x1f000, 0x1faff}, /* emoji, pictographs, symbols */
        {0xe0000, 0xe007f}, /* tags */
    };
    for (size_t i = 0; i < sizeof sep / sizeof sep[0]; i++)
        if (cp >= sep[i][0] && cp <= sep[i][1])
            return 0;
    return 1;
}

/* U+00C0–U+00FF: base letter, '*' = special (æ þ ß), '_' = not a letter. */
static const char latin1[] = "aaaaaa*ceeeeiiiidnooooo_ouuuuy**"
                             "aaaaaa*ceeeeiiiidnooooo_ouuuuy*y";
/* U+0100–U+017F: base letter, '*' = ligature (ĳ œ). */
static const char latin_ext_a[] = "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii**jjkkk"
                                  "llllllllllnnnnnnnnnoooooo**rrrrrrsssssssstttttt"
                                  "uuuuuuuuuuuuwwyyyzzzzzzs";

/* Appends the folded form of cp to out (room for 4 bytes at least); returns the byte count. */
static size_t fold(long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
        return 1;
    }
    if (cp >= 0xc0 && cp <= 0xff) {
        char b = latin1[cp - 0xc0];
        if (b != '*' && b != '_') {
            out[0] = b;
            return 1;
        }
        if (cp == 0xc6 || cp == 0xe6) {
            memcpy(out, "ae", 2);
            return 2;
        }
        if (cp == 0xde || cp == 0xfe) {
            memcpy(out, "th", 2);
            return 2;
        }
        if (cp == 0xdf) {
            memcpy(out, "ss", 2);
            return 2;
        }
    } else if (cp >= 0x100 && cp <= 0x17f) {
        char b = latin_ext_a[cp - 0x100];
        if (b != '*') {
            out[0] = b;
            return 1;
        }
        memcpy(out, cp <= 0x133 ? "ij" : "oe", 2);
        return 2;
    } else if (cp >= 0x218 && cp <= 0x21b) {
        out[0] = cp <= 0x219 ? 's' : 't';
        return 1;
    } else if (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2) {
        cp += 0x20; /* Greek capitals */
    } else if (cp == 0x3c2) {
        cp = 0x3c3; /* final sigma */
    } else if (cp >= 0x410 && cp <= 0x42f) {
        cp += 0x20; /* Cyrillic capitals */
    } else if (cp >= 0x400 && cp <= 0x40f) {
        cp += 0x50;
    }
    /* Encode. */
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ---- stemming ------------------------------------------------------------------------- */

static pthread_key_t stem_key;
static pthread_once_t stem_once = PTHREAD_ONCE_INIT;

static void stem_free(void *p)
{
    sb_stemmer_delete(p);
}

static void stem_init(void)
{
    (void)pthread_key_create(&stem_key, stem_free);
}

static struct sb_stemmer *stemmer(void)
{
    pthread_once(&stem_once, stem_init);
    struct sb_stemmer *s = pthread_getspecific(stem_key);
    if (!s) {
        s = sb_stemmer_new("english", NULL);
        if (s)
            (void)pthread_setspecific(stem_key, s);
    }
    return s;
}

/* Stems buf[0..*len) in place when it is an English-looking word. */
static void stem_term(char *buf, size_t *len)
{
    int letter = 0;
    for (size_t i = 0; i < *len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c >= 'a' && c <= 'z')
            letter = 1;
        else if (!(c >= '0' && c <= '9'))
            return;
    }
    if (!letter || *len < 3)
        return;
    struct sb_stemmer *s = stemmer();
    if (!s)
        return;
    const sb_symbol *r = sb_stemmer_stem(s, (const sb_symbol *)buf, (int)*len);
    int rl = sb_stemmer_length(s);
    if (r && rl > 0 && (size_t)rl <= *len) {
        memcpy(buf, r, (size_t)rl);
        *len = (size_t)rl;
        buf[*len] = '\0';
    }
}

/* ---- tokenising ----------------------------------------------------------------------- */

size_t fg_kw_tokenize(const char *text, size_t n, int stem, fg_kw_token_cb cb, void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, count = 0;
    uint32_t pos = 0;
    char buf[FG_KW_TERM_MAX + 8];
    if (!text)
        return 0;
    while (i < n) {
        long cp;
        size_t cl = fg_kw_utf8_next(s + i, n - i, &cp);
        int cls = fg_kw_char_class(cp);
        if (cls == 0 || cls == 3) {
            i += cl;
            continue;
        }
        if (cls == 2) {
            /* A run of CJK characters: overlapping bigrams (a lone character is a unigram). */
            size_t a = i, alen = cl;
            i += cl;
            int emitted = 0;
            for (;;) {
                long cp2 = -1;
                size_t cl2 = i < n ? fg_kw_utf8_next(s + i, n - i, &cp2) : 0;
                if (i >= n || fg_kw_char_class(cp2) != 2) {
                    if (!emitted) {
                        memcpy(buf, s + a, alen);
                        buf[alen] = '\0';
                        count++;
                        if (cb && cb(buf, alen, pos, ctx))
                            return count;
                        pos++;
                    }
                    break;
                }
                memcpy(buf, s + a, alen);
                memcpy(buf + alen, s + i, cl2);
                buf[alen + cl2] = '\0';
                count++;
                if (cb && cb(buf, alen + cl2, pos, ctx))
                    return count;
                pos++;
                emitted = 1;
                a = i;
                alen = cl2;
                i += cl2;
            }
            continue;
        }
        /* A word: fold each character, cut at FG_KW_TERM_MAX bytes on a character boundary. */
        size_t len = 0;
        int full = 0;
        while (i < n) {
            cl = fg_kw_utf8_next(s + i, n - i, &cp);
            cls = fg_kw_char_class(cp);
            if (cls == 3) {
                i += cl;
                continue;
            }
            if (cls != 1)
                break;
            char f[4];
            size_t fl = fold(cp, f);
            if (!full && len + fl <= FG_KW_TERM_MAX) {
                memcpy(buf + len, f, fl);
                len += fl;
            } else {
                full = 1;
            }
            i += cl;
        }
        buf[len] = '\0';
        if (stem)
            stem_term(buf, &len);
        count++;
        if (cb && cb(buf, len, pos, ctx))
            return count;
        pos++;
    }
    return count;
}

#include "core/totp.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <sodium.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_ok;

static void do_init(void)
{
    oath_ok = oath_init() == OATH_OK;
    if (!oath_ok)
        fg_log(FG_LOG_ERROR, "oath_init_failed", FG_LF_END);
    if (sodium_init() < 0)
        fg_log(FG_LOG_ERROR, "sodium_init_failed", FG_LF_END);
}

__attribute__((destructor)) static void totp_done(void)
{
    if (oath_ok)
        oath_done();
}

enum fg_err fg_totp_init(void)
{
    pthread_once(&oath_once, do_init);
    return oath_ok ? FG_OK : FG_EINTERNAL;
}

enum fg_err fg_totp_new_secret(char *out, size_t outlen)
{
    if (fg_totp_init() != FG_OK)
        return FG_EINTERNAL;
    unsigned char raw[FG_TOTP_SECRET_BYTES];
    randombytes_buf(raw, sizeof raw);
    char *b32 = NULL;
    size_t n = 0;
    int rc = oath_base32_encode((const char *)raw, sizeof raw, &b32, &n);
    sodium_memzero(raw, sizeof raw);
    if (rc != OATH_OK || !b32 || n + 1 > outlen) {
        free(b32);
        return FG_EINTERNAL;
    }
    /* 20 bytes are exactly 32 base32 characters: no padding to strip */
    memcpy(out, b32, n);
    out[n] = '\0';
    sodium_memzero(b32, n);
    free(b32);
    return FG_OK;
}

static void pct(struct fg_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || c == '@')
            fg_buf_append(b, s, 1);
        else
            fg_buf_printf(b, "%%%02X", c);
    }
}

char *fg_totp_uri(const char *issuer, const char *account, const char *secret_b32)
{
    struct fg_buf b;
    fg_buf_init(&b, 4096);
    fg_buf_puts(&b, "otpauth://totp/");
    pct(&b, issuer);
    fg_buf_puts(&b, ":");
    pct(&b, account);
    fg_buf_puts(&b, "?secret=");
    fg_buf_puts(&b, secret_b32);
    fg_buf_puts(&b, "&issuer=");
    pct(&b, issuer);
    fg_buf_printf(&b, "&algorithm=SHA1&digits=%d&period=%d", FG_TOTP_DIGITS, FG_TOTP_STEP_S);
    char *s = fg_xstrndup(b.p ? b.p : "", b.len);
    fg_buf_free(&b);
    return s;
}

int fg_totp_check(const char *secret_b32, const char *code, int64_t now_s, int64_t *step)
{
    if (fg_totp_init() != FG_OK || !secret_b32 || !code)
        return -1;
    if (strlen(code) != FG_TOTP_DIGITS || strspn(code, "0123456789") != FG_TOTP_DIGITS)
        return 0;
    char *raw = NULL;
    size_t rawlen = 0;
    if (oath_base32_decode(secret_b32, strlen(secret_b32), &raw, &rawlen) != OATH_OK || !raw ||
        rawlen == 0) {
        free(raw);
        return -1;
    }
    /* Generate the codes of every step in the window and compare each in constant time
     * (liboath's validator compares with strcmp); no early exit, so timing does not tell which
     * step matched or how many digits did. */
    int64_t matched = -1;
    for (int w = -FG_TOTP_WINDOW; w <= FG_TOTP_WINDOW; w++) {
        int64_t t = now_s + (int64_t)w * FG_TOTP_STEP_S;
        char expect[11];
        if (t < 0 || oath_totp_generate(raw, rawlen, (time_t)t, FG_TOTP_STEP_S, 0, FG_TOTP_DIGITS,
                                        expect) != OATH_OK)
            continue;
        if (sodium_memcmp(expect, code, FG_TOTP_DIGITS) == 0)
            matched = t / FG_TOTP_STEP_S;
        sodium_memzero(expect, sizeof expect);
    }
    sodium_memzero(raw, rawlen);
    free(raw);
    if (matched < 0)
        return 0;
    *step = matched;
    return 1;
}

enum fg_err fg_totp_generate(const void *secret, size_t len, int64_t t, unsigned digits,
                             char out[11])
{
    if (fg_totp_init() != FG_OK || digits < 6 || digits > 8)
        return FG_EINVAL;
    return oath_totp_generate(secret, len, (time_t)t, FG_TOTP_STEP_S, 0, digits, out) == OATH_OK
               ? FG_OK
               : FG_EINTERNAL;
}

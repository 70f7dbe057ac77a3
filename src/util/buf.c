#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

void fg_buf_init(struct fg_buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void fg_buf_free(struct fg_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void fg_buf_reset(struct fg_buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

static enum fg_err reserve(struct fg_buf *b, size_t extra)
{
    if (extra > b->max || b->len + extra > b->max)
        return FG_ELIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return FG_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    b->p = fg_xrealloc(b->p, cap);
    b->cap = cap;
    return FG_OK;
}

enum fg_err fg_buf_append(struct fg_buf *b, const void *data, size_t n)
{
    enum fg_err e = reserve(b, n);
    if (e)
        return e;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return FG_OK;
}

enum fg_err fg_buf_puts(struct fg_buf *b, const char *s)
{
    return fg_buf_append(b, s, strlen(s));
}

enum fg_err fg_buf_printf(struct fg_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return FG_EINVAL;
    if ((size_t)n < sizeof tmp)
        return fg_buf_append(b, tmp, (size_t)n);
    enum fg_err e = reserve(b, (size_t)n);
    if (e)
        return e;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return FG_OK;
}

char *fg_buf_steal(struct fg_buf *b, size_t *len)
{
    char *p = b->p ? b->p : fg_xstrdup("");
    if (len)
        *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

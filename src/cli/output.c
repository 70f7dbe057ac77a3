/*
 * Output of the `forge` client: aligned tables (display width counted in code points), colour
 * only when the stream is a terminal and NO_COLOR is unset (decided in cli_client_main), JSON
 * printing for --json, and one-line previews of capsule content.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client.h"
#include "util/buf.h"
#include "util/mem.h"

struct cli_table {
    int ncols;
    char **headers;
    int *cap;
    char ***rows;
    size_t nrows, alloc;
};

struct cli_table *cli_table_new(int ncols, const char *const *headers)
{
    struct cli_table *t = fg_xcalloc(1, sizeof *t);
    t->ncols = ncols;
    t->headers = fg_xcalloc((size_t)ncols, sizeof *t->headers);
    t->cap = fg_xcalloc((size_t)ncols, sizeof *t->cap);
    for (int i = 0; i < ncols; i++)
        t->headers[i] = fg_xstrdup(headers[i]);
    return t;
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
    if (t->nrows == t->alloc) {
        t->alloc = t->alloc ? t->alloc * 2 : 16;
        t->rows = fg_xrealloc(t->rows, t->alloc * sizeof *t->rows);
    }
    char **r = fg_xcalloc((size_t)t->ncols, sizeof *r);
    for (int i = 0; i < t->ncols; i++)
        r[i] = fg_xstrdup(cells[i] ? cells[i] : "");
    t->rows[t->nrows++] = r;
}

void cli_table_cap(struct cli_table *t, int col, int width)
{
    if (col >= 0 && col < t->ncols)
        t->cap[col] = width;
}

int cli_width(const char *s)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80)
            w++;
    return w;
}

/* Byte length of the first `cols` code points of s. */
static size_t prefix_bytes(const char *s, int cols)
{
    const unsigned char *p = (const unsigned char *)s;
    int w = 0;
    size_t i = 0;
    for (; p[i]; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            if (w == cols)
                break;
            w++;
        }
    }
    return i;
}

char *cli_preview(const char *s, int width)
{
    struct fg_buf b;
    fg_buf_init(&b, 1u << 16);
    int space = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && b.len < 4096; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ' || *p < 0x20 || *p == 0x7f) {
            space = b.len > 0;
            continue;
        }
        if (space)
            fg_buf_append(&b, " ", 1);
        space = 0;
        fg_buf_append(&b, p, 1);
    }
    char *out = fg_buf_steal(&b, NULL);
    if (!out)
        out = fg_xstrdup("");
    if (width > 1 && cli_width(out) > width) {
        size_t n = prefix_bytes(out, width - 1);
        char *cut = fg_xmalloc(n + 4);
        memcpy(cut, out, n);
        memcpy(cut + n, "\xe2\x80\xa6", 4); /* … */
        free(out);
        out = cut;
    }
    return out;
}

static void put_cell(FILE *f, const char *s, int width, int pad)
{
    fputs(s, f);
    if (pad)
        for (int i = cli_width(s); i < width; i++)
            fputc(' ', f);
}

void cli_table_print(struct cli_ctx *c, struct cli_table *t)
{
    int *w = fg_xcalloc((size_t)t->ncols, sizeof *w);
    for (size_t r = 0; r < t->nrows; r++)
        for (int i = 0; i < t->ncols; i++) {
            if (t->cap[i] > 1 && cli_width(t->rows[r][i]) > t->cap[i]) {
                char *p = cli_preview(t->rows[r][i], t->cap[i]);
                free(t->rows[r][i]);
                t->rows[r][i] = p;
            }
        }
    for (int i = 0; i < t->ncols; i++) {
        w[i] = cli_width(t->headers[i]);
        for (size_t r = 0; r < t->nrows; r++)
            if (cli_width(t->rows[r][i]) > w[i])
                w[i] = cli_width(t->rows[r][i]);
    }
    fputs(cli_bold(c), stdout);
    for (int i = 0; i < t->ncols; i++) {
        put_cell(stdout, t->headers[i], w[i], i + 1 < t->ncols);
        if (i + 1 < t->ncols)
            fputs("  ", stdout);
    }
    fputs(cli_reset(c), stdout);
    fputc('\n', stdout);
    for (size_t r = 0; r < t->nrows; r++) {
        for (int i = 0; i < t->ncols; i++) {
            put_cell(stdout, t->rows[r][i], w[i], i + 1 < t->ncols);
            if (i + 1 < t->ncols)
                fputs("  ", stdout);
        }
        fputc('\n', stdout);
    }
    free(w);
}

void cli_table_free(struct cli_table *t)
{
    if (!t)
        return;
    for (size_t r = 0; r < t->nrows; r++) {
        for (int i = 0; i < t->ncols; i++)
            free(t->rows[r][i]);
        free(t->rows[r]);
    }
    for (int i = 0; i < t->ncols; i++)
        free(t->headers[i]);
    free(t->headers);
    free(t->cap);
    free(t->rows);
    free(t);
}

void cli_print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    printf("%s\n", s ? s : "null");
    free(s);
}

const char *cli_bold(const struct cli_ctx *c)
{
    return c->color ? "\033[1m" : "";
}
const char *cli_dim(const struct cli_ctx *c)
{
    return c->color ? "\033[2m" : "";
}
const char *cli_green(const struct cli_ctx *c)
{
    return c->color ? "\033[32m" : "";
}
const char *cli_red(const struct cli_ctx *c)
{
    return c->color ? "\033[31m" : "";
}
const char *cli_yellow(const struct cli_ctx *c)
{
    return c->color ? "\033[33m" : "";
}
const char *cli_reset(const struct cli_ctx *c)
{
    return c->color ? "\033[0m" : "";
}

char *cli_scalar(json_t *v)
{
    char tmp[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        return fg_xstrdup(json_string_value(v));
    case JSON_INTEGER:
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
        return fg_xstrdup(tmp);
    case JSON_REAL:
        snprintf(tmp, sizeof tmp, "%.4g", json_real_value(v));
        return fg_xstrdup(tmp);
    case JSON_TRUE:
        return fg_xstrdup("yes");
    case JSON_FALSE:
        return fg_xstrdup("no");
    case JSON_NULL:
        return fg_xstrdup("");
    default: {
        char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        return s ? s : fg_xstrdup("");
    }
    }
}

void cli_print_fields(struct cli_ctx *c, json_t *obj, const char *const *keys)
{
    int w = 0;
    for (const char *const *k = keys; *k; k++)
        if (json_object_get(obj, *k) && (int)strlen(*k) > w)
            w = (int)strlen(*k);
    for (const char *const *k = keys; *k; k++) {
        json_t *v = json_object_get(obj, *k);
        if (!v)
            continue;
        char *s = cli_scalar(v);
        printf("%s%-*s%s  %s\n", cli_dim(c), w, *k, cli_reset(c), s);
        free(s);
    }
}

/*
 * Time travel (history.h): version reads, as-of reads and the line diff.
 */
#include "core/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/app.h"
#include "store/graph.h"
#include "store/store.h"
#include "util/mem.h"

void fg_version_clear(struct fg_version *v)
{
    free(v->content);
    free(v->metadata);
    memset(v, 0, sizeof *v);
}

/* ---- lines --------------------------------------------------------------------------------- */

struct line {
    const char *p;
    size_t n;   /* bytes, newline included */
    uint64_t h; /* FNV-1a of the bytes */
};

static struct line *split_lines(const char *s, size_t len, size_t *count)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    if (len && s[len - 1] != '\n')
        n++;
    struct line *v = fg_xcalloc(n ? n : 1, sizeof *v);
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= len && k < n; i++) {
        if (i == len || s[i] == '\n') {
            size_t end = i < len ? i + 1 : i;
            uint64_t h = 1469598103934665603ull;
            for (size_t j = start; j < end; j++) {
                h ^= (unsigned char)s[j];
                h *= 1099511628211ull;
            }
            v[k++] = (struct line){.p = s + start, .n = end - start, .h = h};
            start = end;
        }
    }
    *count = n;
    return v;
}

static int line_eq(const struct line *x, const struct line *y)
{
    return x->h == y->h && x->n == y->n && memcmp(x->p, y->p, x->n) == 0;
}

/* ---- Myers ---------------------------------------------------------------------------------- */

struct script {
    char *v;
    size_t n, cap;
};

static void put(struct script *s, char op)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = fg_xrealloc(s->v, s->cap);
    }
    s->v[s->n++] = op;
}

/* Appends the reversed edit script of a[0..n) → b[0..m) to `rev`; -1 when more than maxd edits
 * are needed (nothing appended then). */
static int myers(const struct line *a, long n, const struct line *b, long m, long maxd,
                 struct script *rev)
{
    long off = maxd + 1;
    long *V = fg_xcalloc((size_t)(2 * maxd + 3), sizeof *V);
    long **trace = fg_xcalloc((size_t)maxd + 1, sizeof *trace);
    long D = -1;
    for (long d = 0; d <= maxd && D < 0; d++) {
        for (long k = -d; k <= d; k += 2) {
            long x;
            if (k == -d || (k != d && V[off + k - 1] < V[off + k + 1]))
                x = V[off + k + 1];
            else
                x = V[off + k - 1] + 1;
            long y = x - k;
            while (x < n && y < m && line_eq(&a[x], &b[y])) {
                x++;
                y++;
            }
            V[off + k] = x;
            if (x >= n && y >= m) {
                D = d;
                break;
            }
        }
        trace[d] = fg_xmalloc((size_t)(2 * d + 1) * sizeof **trace);
        for (long k = -d; k <= d; k++)
            trace[d][k + d] = V[off + k];
    }
    int ok = D >= 0;
    if (ok) {
        long x = n, y = m;
        for (long d = D; d > 0; d--) {
            const long *prev = trace[d - 1];
            long k = x - y;
            int ins = k == -d || (k != d && prev[k - 1 + (d - 1)] < prev[k + 1 + (d - 1)]);
            long pk = ins ? k + 1 : k - 1;
            long px = prev[pk + (d - 1)];
            long sx = ins ? px : px + 1;
            while (x > sx) {
                put(rev, 'e');
                x--;
                y--;
            }
            if (ins) {
                put(rev, 'i');
                y--;
            } else {
                put(rev, 'd');
                x--;
            }
        }
        while (x > 0 && y > 0) {
            put(rev, 'e');
            x--;
            y--;
        }
    }
    for (long d = 0; d <= maxd; d++)
        free(trace[d]);
    free(trace);
    free(V);
    return ok ? 0 : -1;
}

static void diff_split(const struct line *la, size_t na, const struct line *lb, size_t nb,
                       int max_edits, struct fg_diff *out)
{
    memset(out, 0, sizeof *out);
    size_t pre = 0, suf = 0;
    while (pre < na && pre < nb && line_eq(&la[pre], &lb[pre]))
        pre++;
    while (suf < na - pre && suf < nb - pre && line_eq(&la[na - 1 - suf], &lb[nb - 1 - suf]))
        suf++;
    long n = (long)(na - pre - suf), m = (long)(nb - pre - suf);
    struct script rev = {0};
    long maxd = max_edits < 1 ? 1 : max_edits;
    if (maxd > n + m)
        maxd = n + m;
    if (myers(la + pre, n, lb + pre, m, maxd, &rev) != 0) {
        out->coarse = 1;
        rev.n = 0;
        for (long i = 0; i < m; i++)
            put(&rev, 'i');
        for (long i = 0; i < n; i++)
            put(&rev, 'd');
    }
    struct script s = {0};
    for (size_t i = 0; i < pre; i++)
        put(&s, 'e');
    for (size_t i = rev.n; i > 0; i--)
        put(&s, rev.v[i - 1]);
    for (size_t i = 0; i < suf; i++)
        put(&s, 'e');
    free(rev.v);
    out->ops = s.v;
    out->n = s.n;
}

void fg_diff_lines(const char *a, size_t an, const char *b, size_t bn, int max_edits,
                   struct fg_diff *out)
{
    size_t na, nb;
    struct line *la = split_lines(a, an, &na), *lb = split_lines(b, bn, &nb);
    diff_split(la, na, lb, nb, max_edits, out);
    free(la);
    free(lb);
}

void fg_diff_free(struct fg_diff *d)
{
    free(d->ops);
    memset(d, 0, sizeof *d);
}

static json_t *line_json(char prefix, const struct line *l)
{
    size_t n = l->n;
    if (n && l->p[n - 1] == '\n')
        n--;
    char *s = fg_xmalloc(n + 2);
    s[0] = prefix;
    memcpy(s + 1, l->p, n);
    s[n + 1] = '\0';
    json_t *j = json_stringn(s, n + 1);
    free(s);
    return j ? j : json_string("?");
}

json_t *fg_diff_hunks(const char *a, size_t an, const char *b, size_t bn, int context,
                      int max_edits, long long *added, long long *removed, int *coarse)
{
    size_t na, nb;
    struct line *la = split_lines(a, an, &na), *lb = split_lines(b, bn, &nb);
    struct fg_diff d;
    diff_split(la, na, lb, nb, max_edits, &d);
    *coarse = d.coarse;
    *added = *removed = 0;
    /* positions before each op */
    size_t *ai = fg_xcalloc(d.n + 1, sizeof *ai), *bi = fg_xcalloc(d.n + 1, sizeof *bi);
    for (size_t i = 0; i < d.n; i++) {
        ai[i + 1] = ai[i] + (d.ops[i] != 'i');
        bi[i + 1] = bi[i] + (d.ops[i] != 'd');
        *added += d.ops[i] == 'i';
        *removed += d.ops[i] == 'd';
    }
    json_t *hunks = json_array();
    size_t ctx = context < 0 ? 0 : (size_t)context;
    size_t i = 0;
    while (i < d.n) {
        while (i < d.n && d.ops[i] == 'e')
            i++;
        if (i >= d.n)
            break;
        size_t start = i > ctx ? i - ctx : 0;
        size_t last = i; /* last change in the hunk */
        size_t j = i;
        for (;;) {
            while (j < d.n && d.ops[j] != 'e')
                last = j++;
            size_t k = j;
            while (k < d.n && d.ops[k] == 'e')
                k++;
            if (k < d.n && k - j <= 2 * ctx) {
                j = k;
                continue;
            }
            break;
        }
        size_t end = last + 1 + ctx < d.n ? last + 1 + ctx : d.n;
        json_t *lines = json_array();
        for (size_t k = start; k < end; k++) {
            char op = d.ops[k];
            if (op == 'e')
                json_array_append_new(lines, line_json(' ', &la[ai[k]]));
            else if (op == 'd')
                json_array_append_new(lines, line_json('-', &la[ai[k]]));
            else
                json_array_append_new(lines, line_json('+', &lb[bi[k]]));
        }
        long long ol = (long long)(ai[end] - ai[start]), nl = (long long)(bi[end] - bi[start]);
        json_t *h = json_object();
        json_object_set_new(h, "old_start", json_integer((json_int_t)(ai[start] + (ol ? 1 : 0))));
        json_object_set_new(h, "old_lines", json_integer(ol));
        json_object_set_new(h, "new_start", json_integer((json_int_t)(bi[start] + (nl ? 1 : 0))));
        json_object_set_new(h, "new_lines", json_integer(nl));
        json_object_set_new(h, "lines", lines);
        json_array_append_new(hunks, h);
        i = end;
    }
    free(ai);
    free(bi);
    fg_diff_free(&d);
    free(la);
    free(lb);
    return hunks;
}

json_t *fg_diff_metadata(const char *from, const char *to)
{
    json_t *a = json_loads(from ? from : "{}", 0, NULL), *b = json_loads(to ? to : "{}", 0, NULL);
    if (!json_is_object(a)) {
        json_decref(a);
        a = json_object();
    }
    if (!json_is_object(b)) {
        json_decref(b);
        b = json_object();
    }
    /* sorted union of keys */
    size_t n = json_object_size(a) + json_object_size(b), k = 0;
    const char **keys = fg_xcalloc(n ? n : 1, sizeof *keys);
    const char *key;
    json_t *v;
    json_object_foreach(a, key, v) keys[k++] = key;
    json_object_foreach(b, key, v) if (!json_object_get(a, key)) keys[k++] = key;
    for (size_t i = 1; i < k; i++) /* insertion sort: metadata has few keys */
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    json_t *out = json_array();
    for (size_t i = 0; i < k; i++) {
        json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);
        if (x && y && json_equal(x, y))
            continue;
        json_t *o = json_pack("{ssss}", "key", keys[i], "change",
                              !x   ? "added"
                              : !y ? "removed"
                                   : "changed");
        if (x)
            json_object_set(o, "from", x);
        if (y)
            json_object_set(o, "to", y);
        json_array_append_new(out, o);
    }
    free(keys);
    json_decref(a);
    json_decref(b);
    return out;
}

/* ---- reads --------------------------------------------------------------------------------- */

static int copy_version(const struct store_version *v, void *ctx)
{
    struct fg_version *o = ctx;
    snprintf(o->version, sizeof o->version, "%s", v->version ? v->version : "");
    o->content = fg_xstrndup(v->content ? v->content : "", v->content ? v->content_len : 0);
    o->content_len = v->content ? v->content_len : 0;
    o->metadata = fg_xstrdup(v->metadata ? v->metadata : "{}");
    snprintf(o->content_hash, sizeof o->content_hash, "%s", v->content_hash ? v->content_hash : "");
    o->created_at = v->created_at;
    snprintf(o->author_id, sizeof o->author_id, "%s", v->author ? v->author : "");
    o->superseded_at = v->superseded_at;
    return 0;
}

static void current_version(const struct store_capsule *cap, struct fg_version *out)
{
    snprintf(out->version, sizeof out->version, "%s", cap->version);
    out->content = fg_xstrndup(cap->content ? cap->content : "", cap->content_len);
    out->content_len = cap->content_len;
    out->metadata = fg_xstrdup(cap->metadata ? cap->metadata : "{}");
    snprintf(out->content_hash, sizeof out->content_hash, "%s", cap->content_hash);
    out->created_at = cap->version_created_at;
    snprintf(out->author_id, sizeof out->author_id, "%s", cap->version_author_id);
    out->current = 1;
}

enum fg_err fg_history_version(struct fg_app *app, const struct fg_ctx *a, const char *id,
                               const char *version, struct fg_version *out,
                               struct fg_capsule_why *why)
{
    if (!app || !app->store || !app->store->graph)
        return FG_EUNAVAIL;
    struct store_capsule cap;
    memset(&cap, 0, sizeof cap);
    why->what = "capsule";
    enum fg_err e = fg_capsule_get(app, a, id, 0, 0, &cap);
    if (e != FG_OK)
        return e;
    if (strcmp(version, "current") == 0 || strcmp(version, cap.version) == 0) {
        current_version(&cap, out);
        store_capsule_clear(&cap);
        return FG_OK;
    }
    store_capsule_clear(&cap);
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = app->store->graph->revision(c, id, version, copy_version, out);
    store_release(app->store, c);
    if (e == FG_ENOTFOUND)
        why->what = "version";
    return e;
}

enum fg_err fg_history_as_of(struct fg_app *app, const struct fg_ctx *a, const char *id, int64_t at,
                             int include_deleted, struct store_capsule *out)
{
    if (!app || !app->store || !app->store->graph)
        return FG_EUNAVAIL;
    enum fg_err e = fg_capsule_get(app, a, id, 0, include_deleted, out);
    if (e != FG_OK)
        return e;
    if (out->created_at > at || (out->is_deleted && out->deleted_at <= at)) {
        store_capsule_clear(out);
        return FG_ENOTFOUND;
    }
    if (out->is_deleted) { /* deleted later: read as it was then, live */
        out->is_deleted = 0;
        out->deleted_at = 0;
    }
    if (out->version_created_at <= at)
        return FG_OK;
    struct fg_version v;
    memset(&v, 0, sizeof v);
    struct store_conn *c = store_acquire(app->store, &e);
    if (c) {
        e = app->store->graph->revision_at(c, id, at, copy_version, &v);
        store_release(app->store, c);
    }
    if (e != FG_OK) {
        fg_version_clear(&v);
        store_capsule_clear(out);
        return e;
    }
    free(out->content);
    free(out->metadata);
    out->content = v.content;
    out->content_len = v.content_len;
    out->metadata = v.metadata;
    v.content = v.metadata = NULL;
    snprintf(out->version, sizeof out->version, "%s", v.version);
    snprintf(out->content_hash, sizeof out->content_hash, "%s", v.content_hash);
    out->version_created_at = v.created_at;
    snprintf(out->version_author_id, sizeof out->version_author_id, "%s", v.author_id);
    out->updated_at = v.created_at; /* metadata-only changes are not versioned */
    fg_version_clear(&v);
    return FG_OK;
}

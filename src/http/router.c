#include "http/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/mem.h"

struct compiled {
    const struct http_route *route;
    size_t nseg;
    char *seg[HTTP_MAX_SEGMENTS];
    int is_param[HTTP_MAX_SEGMENTS];
    unsigned method_bit;
};

struct http_router {
    struct compiled *routes;
    size_t n;
};

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};

unsigned http_method_bit(const char *method)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(methods[i], method) == 0)
            return 1u << i;
    return 0;
}

void http_methods_string(unsigned mask, char *out, size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (!(mask & (1u << i)))
            continue;
        int n = snprintf(out + o, len - o, "%s%s", o ? ", " : "", methods[i]);
        if (n < 0 || (size_t)n >= len - o)
            break;
        o += (size_t)n;
    }
}

/* Splits "/a/b/c" into segments; returns count or -1 (too many, empty or too long segment). */
static int split(const char *path, char segs[][HTTP_MAX_SEGMENT + 1], size_t max)
{
    if (path[0] != '/')
        return -1;
    size_t n = 0;
    const char *p = path + 1;
    if (*p == '\0')
        return 0;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 0 || l > HTTP_MAX_SEGMENT || n >= max)
            return -1;
        memcpy(segs[n], p, l);
        segs[n][l] = '\0';
        n++;
        if (!e)
            break;
        p = e + 1;
    }
    return (int)n;
}

struct http_router *http_router_new(const struct http_route *const *tables)
{
    struct http_router *r = fg_xcalloc(1, sizeof *r);
    size_t cap = 0;
    for (size_t t = 0; tables[t]; t++)
        for (const struct http_route *rt = tables[t]; rt->pattern; rt++)
            cap++;
    r->routes = fg_xcalloc(cap ? cap : 1, sizeof *r->routes);
    char segs[HTTP_MAX_SEGMENTS][HTTP_MAX_SEGMENT + 1];
    for (size_t t = 0; tables[t]; t++) {
        for (const struct http_route *rt = tables[t]; rt->pattern; rt++) {
            struct compiled *c = &r->routes[r->n];
            int ns = split(rt->pattern, segs, HTTP_MAX_SEGMENTS);
            c->method_bit = http_method_bit(rt->method);
            if (ns < 0 || !c->method_bit || !rt->handler) {
                fg_logf(FG_LOG_ERROR, "router", "bad route %s %s", rt->method, rt->pattern);
                r->n++;
                http_router_free(r);
                return NULL;
            }
            c->route = rt;
            c->nseg = (size_t)ns;
            for (int i = 0; i < ns; i++) {
                size_t l = strlen(segs[i]);
                c->is_param[i] = l > 2 && segs[i][0] == '{' && segs[i][l - 1] == '}';
                c->seg[i] = c->is_param[i] ? fg_xstrndup(segs[i] + 1, l - 2) : fg_xstrdup(segs[i]);
            }
            r->n++;
        }
    }
    return r;
}

void http_router_free(struct http_router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = 0; j < r->routes[i].nseg; j++)
            free(r->routes[i].seg[j]);
    free(r->routes);
    free(r);
}

const struct http_route *http_router_at(const struct http_router *r, size_t i)
{
    return i < r->n ? r->routes[i].route : NULL;
}

/* Score: number of literal segments (more literal = more specific). -1: no match. */
static int match_one(const struct compiled *c, char segs[][HTTP_MAX_SEGMENT + 1], size_t n)
{
    if (c->nseg != n)
        return -1;
    int lit = 0;
    for (size_t i = 0; i < n; i++) {
        if (c->is_param[i])
            continue;
        if (strcmp(c->seg[i], segs[i]) != 0)
            return -1;
        lit++;
    }
    return lit;
}

enum http_match http_router_match(const struct http_router *r, const char *method, const char *path,
                                  struct http_req *req, const struct http_route **route,
                                  unsigned *allowed)
{
    char segs[HTTP_MAX_SEGMENTS][HTTP_MAX_SEGMENT + 1];
    *route = NULL;
    *allowed = 0;
    if (strlen(path) > HTTP_MAX_PATH)
        return HTTP_MATCH_NO_PATH;
    int ns = split(path, segs, HTTP_MAX_SEGMENTS);
    if (ns < 0)
        return HTTP_MATCH_NO_PATH;
    unsigned mbit = http_method_bit(method);
    if (mbit == (1u << 5)) /* HEAD is served as GET */
        mbit = 1u;
    const struct compiled *best = NULL;
    int best_score = -1;
    for (size_t i = 0; i < r->n; i++) {
        int s = match_one(&r->routes[i], segs, (size_t)ns);
        if (s < 0)
            continue;
        *allowed |= r->routes[i].method_bit;
        if (r->routes[i].method_bit == mbit && s > best_score) {
            best = &r->routes[i];
            best_score = s;
        }
    }
    if (!*allowed)
        return HTTP_MATCH_NO_PATH;
    if (!best)
        return HTTP_MATCH_NO_METHOD;
    *route = best->route;
    req->nparams = 0;
    for (size_t i = 0; i < best->nseg && req->nparams < HTTP_MAX_PARAMS; i++) {
        if (!best->is_param[i])
            continue;
        req->param_names[req->nparams] = best->seg[i]; /* borrowed from the router */
        req->params[req->nparams] = fg_xstrdup(segs[i]);
        req->nparams++;
    }
    return HTTP_MATCH_OK;
}

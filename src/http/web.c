#include "http/web.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/reply.h"

const char http_web_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; manifest-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

/* The metric/log label of dashboard responses (no handler: never dispatched by the router). */
static const struct http_route web_route = {
    "GET", "/{dashboard}", NULL, HTTP_RATE_EXEMPT, "Web dashboard", "web", NULL, 200,
    NULL,  NULL,           NULL};

const struct http_web_asset *http_web_find(const char *path)
{
    for (size_t i = 0; i < http_web_assets_count; i++)
        if (strcmp(http_web_assets[i].path, path) == 0)
            return &http_web_assets[i];
    return NULL;
}

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* Does a comma-separated header list contain `token` with a non-zero q? (Accept-Encoding: gzip,
 * Accept: text/html). Parameters other than q are ignored. */
static int header_accepts(const char *h, const char *token)
{
    size_t tl = strlen(token);
    const char *p = h;
    while (p && *p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ';' && *e != ' ' && *e != '\t')
            e++;
        int match = (size_t)(e - p) == tl && strncasecmp(p, token, tl) == 0;
        const char *end = strchr(e, ',');
        if (match) {
            /* look for q=0 (q=0, q=0.0, q=0.000) among the parameters */
            const char *q = e;
            int zero = 0;
            while ((q = strchr(q, ';')) && (!end || q < end)) {
                q++;
                while (*q == ' ')
                    q++;
                if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
                    const char *v = q + 2;
                    zero = v[0] == '0';
                    for (v++; zero && *v && *v != ',' && *v != ';' && *v != ' '; v++)
                        if (*v != '.' && *v != '0')
                            zero = 0;
                }
            }
            if (!zero)
                return 1;
        }
        p = end;
    }
    return 0;
}

/* `fallback`: index.html served for a client-side route, which is a JSON 404 for API clients. */
static void send_asset(struct http_req *req, struct http_resp *resp, const struct http_web_asset *a,
                       int fallback)
{
    const char *ae = http_header(req, "Accept-Encoding");
    int gz = a->gz && ae && strlen(ae) < 1024 && header_accepts(ae, "gzip");
    http_reply_raw(resp, 200, a->content_type, (const char *)(gz ? a->gz : a->data),
                   gz ? a->gz_len : a->len);
    if (gz)
        http_resp_header(resp, "Content-Encoding", "gzip");
    if (a->gz || fallback)
        http_resp_header(resp, "Vary",
                         fallback ? (a->gz ? "Accept, Accept-Encoding" : "Accept")
                                  : "Accept-Encoding");
    http_resp_header(resp, "Cache-Control",
                     a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    if (strncmp(a->content_type, "text/html", 9) == 0)
        http_resp_header(resp, "Content-Security-Policy", http_web_csp);
}

int http_web_serve(struct http_req *req, struct http_resp *resp)
{
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return 0;
    const char *path = req->path;
    if (has_prefix(path, "/api/") || strcmp(path, "/api") == 0)
        return 0;
    const struct http_web_asset *a = http_web_find(strcmp(path, "/") == 0 ? "/index.html" : path);
    if (!a) {
        /* Client-side routes (history API) get the app; files that do not exist stay 404, and so
         * does everything for clients that do not ask for HTML (API clients, scripts). */
        const char *accept = http_header(req, "Accept");
        if (has_prefix(path, "/assets/") || !accept || strlen(accept) > 1024 ||
            !header_accepts(accept, "text/html"))
            return 0;
        a = http_web_find("/index.html");
        if (!a)
            return 0;
        req->route = &web_route;
        send_asset(req, resp, a, 1);
        return 1;
    }
    req->route = &web_route;
    send_asset(req, resp, a, 0);
    return 1;
}

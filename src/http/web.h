/*
 * The web dashboard (docs/dashboard.md): static files built from web/ at `make` time and embedded
 * in the binary as a generated table (build/generated/web_assets.c, written by web/build.mjs).
 *
 * Served for GET/HEAD of paths no API route matches: an embedded file by exact path, otherwise
 * (a client-side route such as /capsules/{id}) index.html, except under /api/ and /assets/ where an
 * unknown path stays a JSON 404. Hashed files are cached for a year (immutable); index.html and the
 * manifest are `no-cache`. A gzip variant is sent when the client accepts gzip.
 */
#ifndef HTTP_WEB_H
#define HTTP_WEB_H

#include <stddef.h>

#include "http/http.h"

/** One embedded file (the table is generated; see web/build.mjs). */
struct http_web_asset {
    const char *path;         /* "/assets/main-3F2A9C1B.js" */
    const char *content_type; /* "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
    const unsigned char *gz; /* gzip variant or NULL */
    size_t gz_len;
    int immutable; /* content-hashed name: long cache */
};

extern const struct http_web_asset http_web_assets[];
extern const size_t http_web_assets_count;

/** The Content-Security-Policy of dashboard pages (no 'unsafe-inline'). */
extern const char http_web_csp[];

/** Looks up an embedded file by exact path, or NULL. */
const struct http_web_asset *http_web_find(const char *path);

/**
 * Serves the dashboard for an unmatched GET/HEAD request. Returns 1 when it wrote the response,
 * 0 when the request is not for the dashboard (the caller answers 404/405).
 */
int http_web_serve(struct http_req *req, struct http_resp *resp);

#endif

#include "http/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/mem.h"

static void reset(struct http_resp *r)
{
    if (r->json)
        json_decref(r->json);
    free(r->body);
    r->json = NULL;
    r->body = NULL;
    r->body_len = 0;
    r->content_type = NULL;
}

/* Length of the well-formed UTF-8 sequence at s (no overlongs, surrogates or values past
 * U+10FFFF), 0 when the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned long cp, min;
    if ((c & 0xE0) == 0xC0) {
        n = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Drops the bytes of s that are not part of well-formed UTF-8, in place: a message cut by a
 * precision ("%.64s") or by the buffer size in the middle of a character stays valid JSON text
 * instead of being refused by json_string (which would lose the whole message). */
static void utf8_clean(char *s)
{
    unsigned char *in = (unsigned char *)s, *out = (unsigned char *)s;
    while (*in) {
        size_t n = utf8_seq(in);
        if (n == 0) {
            in++;
            continue;
        }
        memmove(out, in, n);
        out += n;
        in += n;
    }
    *out = '\0';
}

void http_reply_data(struct http_resp *r, int status, json_t *data, json_t *meta)
{
    reset(r);
    r->status = status;
    r->json = json_object();
    json_object_set_new(r->json, "data", data ? data : json_null());
    json_object_set_new(r->json, "meta", meta ? meta : json_object());
}

void http_reply_page(struct http_resp *r, json_t *items, long long total, long long page,
                     long long per_page)
{
    long long pages = per_page > 0 ? (total + per_page - 1) / per_page : 0;
    http_reply_data(r, 200, items,
                    json_pack("{sIsIsIsI}", "total", (json_int_t)total, "page", (json_int_t)page,
                              "per_page", (json_int_t)per_page, "pages", (json_int_t)pages));
}

void http_reply_error(struct http_resp *r, int status, const char *code, const char *message,
                      json_t *details)
{
    reset(r);
    r->status = status;
    r->json = json_object();
    json_object_set_new(r->json, "code", json_string(code));
    json_t *m = json_string(message);
    if (!m && message) { /* not valid UTF-8: keep what is */
        char *copy = fg_xstrdup(message);
        utf8_clean(copy);
        m = json_string(copy);
        free(copy);
    }
    json_object_set_new(r->json, "message", m ? m : json_string(""));
    json_object_set_new(r->json, "details", details ? details : json_object());
}

void http_reply_invalid(struct http_resp *r, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    utf8_clean(msg);
    http_reply_error(r, 422, "validation_error", msg,
                     json_pack("{ssss}", "field", field, "reason", msg));
}

void http_reply_not_found(struct http_resp *r, const char *what)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s not found", what);
    http_reply_error(r, 404, "not_found", msg, NULL);
}

void http_reply_internal(struct http_resp *r)
{
    http_reply_error(r, 500, "internal_error", "internal server error", NULL);
}

void http_reply_unavailable(struct http_resp *r, const char *message)
{
    http_reply_error(r, 503, "service_unavailable", message, NULL);
    http_resp_header(r, "Retry-After", "5");
}

void http_reply_unauthorized(struct http_resp *r, const char *message)
{
    http_reply_error(r, 401, "authentication_error", message, NULL);
    http_resp_header(r, "WWW-Authenticate", "Bearer realm=\"forge\"");
}

void http_reply_forbidden(struct http_resp *r, const char *message, json_t *details)
{
    http_reply_error(r, 403, "authorization_error", message, details);
}

void http_reply_conflict(struct http_resp *r, const char *message, json_t *details)
{
    http_reply_error(r, 409, "conflict", message, details);
}

void http_reply_no_content(struct http_resp *r)
{
    reset(r);
    r->status = 204;
}

void http_reply_raw(struct http_resp *r, int status, const char *content_type, const char *body,
                    size_t len)
{
    reset(r);
    r->status = status;
    r->content_type = content_type;
    r->body = fg_xmalloc(len + 1);
    memcpy(r->body, body, len);
    r->body[len] = '\0';
    r->body_len = len;
}

void http_resp_header(struct http_resp *r, const char *name, const char *value)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i][0], name) == 0) {
            free(r->headers[i][1]);
            r->headers[i][1] = fg_xstrdup(value);
            return;
        }
    }
    if (r->nheaders >= HTTP_MAX_RESP_HEADERS) {
        fg_log(FG_LOG_ERROR, "response_header_dropped", FG_LF_STR("name", name), FG_LF_END);
        return;
    }
    r->headers[r->nheaders][0] = fg_xstrdup(name);
    r->headers[r->nheaders][1] = fg_xstrdup(value);
    r->nheaders++;
}

json_t *http_json_body_or_reply(struct http_req *req, struct http_resp *r)
{
    if (req->json)
        return req->json;
    const char *ct = http_header(req, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16) != 0) {
        http_reply_error(r, 400, "bad_request", "Content-Type must be application/json",
                         json_pack("{ss}", "content_type", ct));
        return NULL;
    }
    if (req->body_len == 0) {
        http_reply_error(r, 400, "bad_request", "request body is empty; a JSON object is expected",
                         NULL);
        return NULL;
    }
    json_error_t err;
    json_t *v = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!v) {
        char msg[320];
        snprintf(msg, sizeof msg, "malformed JSON: %s", err.text);
        http_reply_error(r, 400, "bad_request", msg,
                         json_pack("{sisisi}", "line", err.line, "column", err.column, "position",
                                   err.position));
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        http_reply_error(r, 422, "validation_error", "request body must be a JSON object",
                         json_pack("{ss}", "field", "body"));
        return NULL;
    }
    req->json = v;
    return v;
}

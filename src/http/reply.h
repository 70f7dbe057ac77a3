/*
 * Building responses. Success bodies are {"data": …, "meta": {…}}; errors are
 * {"code", "message", "details"} everywhere (SPEC §10). JSON arguments are consumed.
 */
#ifndef HTTP_REPLY_H
#define HTTP_REPLY_H

#include <jansson.h>

#include "http/http.h"

/** {"data": data, "meta": meta or {}} with `status`. */
void http_reply_data(struct http_resp *r, int status, json_t *data, json_t *meta);
/** A list page: meta gets total, page, per_page, pages. */
void http_reply_page(struct http_resp *r, json_t *items, long long total, long long page,
                     long long per_page);
/** {"code","message","details"}; details may be NULL (→ {}). */
void http_reply_error(struct http_resp *r, int status, const char *code, const char *message,
                      json_t *details);
/** 422 validation_error with details.field (and details.reason = message). */
void http_reply_invalid(struct http_resp *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Common errors. */
void http_reply_not_found(struct http_resp *r, const char *what);
void http_reply_internal(struct http_resp *r);
void http_reply_unavailable(struct http_resp *r, const char *message);
void http_reply_unauthorized(struct http_resp *r, const char *message);
void http_reply_forbidden(struct http_resp *r, const char *message, json_t *details);
void http_reply_conflict(struct http_resp *r, const char *message, json_t *details);
/** 204 No Content. */
void http_reply_no_content(struct http_resp *r);
/** Raw body (copied) with a content type. */
void http_reply_raw(struct http_resp *r, int status, const char *content_type, const char *body,
                    size_t len);
/** Adds a response header (copied). Silently ignored past HTTP_MAX_RESP_HEADERS. */
void http_resp_header(struct http_resp *r, const char *name, const char *value);

/**
 * Parses the request body as a JSON object. On failure writes 400 (malformed JSON: details line,
 * column, position) or 422 (not an object) and returns NULL. The value is owned by the request.
 */
json_t *http_json_body_or_reply(struct http_req *req, struct http_resp *r);

#endif

/*
 * Input validation for handlers. Every function checks one field of a JSON object (or one query
 * parameter) and on a violation writes 422 validation_error with details.field and returns -1.
 * Return values: 0 = present and valid (*out set), 1 = absent and optional (*out untouched),
 * -1 = error reply written. Lengths of strings are in Unicode code points (jansson has already
 * validated UTF-8).
 */
#ifndef API_VALIDATE_H
#define API_VALIDATE_H

#include <stddef.h>

#include <jansson.h>

#include "http/http.h"

/** Number of UTF-8 code points in s (s is valid UTF-8). */
size_t v_utf8_len(const char *s, size_t bytes);
/** 1 if the bytes are valid UTF-8 (no overlongs, no surrogates). */
int v_utf8_valid(const char *s, size_t bytes);

int v_string(struct http_resp *r, json_t *obj, const char *field, int required, size_t min_chars,
             size_t max_chars, const char **out);
int v_int(struct http_resp *r, json_t *obj, const char *field, int required, long long min,
          long long max, long long *out);
int v_number(struct http_resp *r, json_t *obj, const char *field, int required, double min,
             double max, double *out);
int v_bool(struct http_resp *r, json_t *obj, const char *field, int required, int *out);
/** `allowed` is NULL-terminated. */
int v_enum(struct http_resp *r, json_t *obj, const char *field, int required,
           const char *const *allowed, const char **out);
/** Deepest nesting accepted in a JSON object input (metadata, payloads); issue 11. */
#define V_JSON_DEPTH_MAX 32
/** A JSON object whose compact serialisation is ≤ max_bytes and that nests at most
 * V_JSON_DEPTH_MAX levels (the object itself is level 1). *out is borrowed from obj. */
int v_object(struct http_resp *r, json_t *obj, const char *field, int required, size_t max_bytes,
             json_t **out);
/** A UUID string. */
int v_uuid(struct http_resp *r, json_t *obj, const char *field, int required, const char **out);
/** Rejects fields not in `known` (NULL-terminated): 422 naming the first unknown field. */
int v_no_unknown(struct http_resp *r, json_t *obj, const char *const *known);

/** Query parameter as integer in [min, max], default when absent. */
int q_int(struct http_req *req, struct http_resp *r, const char *name, long long def, long long min,
          long long max, long long *out);
/** Query parameter from a set; *out = NULL when absent. */
int q_enum(struct http_req *req, struct http_resp *r, const char *name, const char *const *allowed,
           const char **out);
/** Query parameter "true"/"false"/"1"/"0"; default when absent. */
int q_bool(struct http_req *req, struct http_resp *r, const char *name, int def, int *out);
/** Query parameter as an RFC 3339 time in ms; 1 when absent. */
int q_time(struct http_req *req, struct http_resp *r, const char *name, long long *out_ms);
/** Query parameter that must be a UUID; 1 when absent. */
int q_uuid(struct http_req *req, struct http_resp *r, const char *name, const char **out);

/** Path parameter `name` as a UUID; writes 404 "<what> not found" when malformed. */
int p_uuid_or_reply(struct http_req *req, struct http_resp *r, const char *name, const char *what,
                    const char **out);

#endif

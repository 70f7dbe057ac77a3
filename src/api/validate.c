#include "api/validate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "http/reply.h"
#include "util/time.h"
#include "util/uuid.h"

size_t v_utf8_len(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

int v_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static json_t *get(json_t *obj, const char *field)
{
    json_t *v = json_object_get(obj, field);
    return (v && !json_is_null(v)) ? v : NULL;
}

static int missing(struct http_resp *r, const char *field, int required)
{
    if (!required)
        return 1;
    http_reply_invalid(r, field, "%s is required", field);
    return -1;
}

int v_string(struct http_resp *r, json_t *obj, const char *field, int required, size_t min_chars,
             size_t max_chars, const char **out)
{
    json_t *v = get(obj, field);
    if (!v)
        return missing(r, field, required);
    if (!json_is_string(v)) {
        http_reply_invalid(r, field, "%s must be a string", field);
        return -1;
    }
    size_t n = v_utf8_len(json_string_value(v), json_string_length(v));
    if (n < min_chars || n > max_chars) {
        http_reply_invalid(r, field, "%s must be %zu to %zu characters long (got %zu)", field,
                           min_chars, max_chars, n);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int v_int(struct http_resp *r, json_t *obj, const char *field, int required, long long min,
          long long max, long long *out)
{
    json_t *v = get(obj, field);
    if (!v)
        return missing(r, field, required);
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        http_reply_invalid(r, field, "%s must be an integer between %lld and %lld", field, min,
                           max);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

int v_number(struct http_resp *r, json_t *obj, const char *field, int required, double min,
             double max, double *out)
{
    json_t *v = get(obj, field);
    if (!v)
        return missing(r, field, required);
    double d = json_number_value(v);
    if (!json_is_number(v) || !isfinite(d) || d < min || d > max) {
        http_reply_invalid(r, field, "%s must be a number between %g and %g", field, min, max);
        return -1;
    }
    *out = d;
    return 0;
}

int v_bool(struct http_resp *r, json_t *obj, const char *field, int required, int *out)
{
    json_t *v = get(obj, field);
    if (!v)
        return missing(r, field, required);
    if (!json_is_boolean(v)) {
        http_reply_invalid(r, field, "%s must be true or false", field);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

static void allowed_list(const char *const *allowed, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; allowed[i] && o < len; i++) {
        int n = snprintf(buf + o, len - o, "%s%s", i ? ", " : "", allowed[i]);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

int v_enum(struct http_resp *r, json_t *obj, const char *field, int required,
           const char *const *allowed, const char **out)
{
    json_t *v = get(obj, field);
    if (!v)
        return missing(r, field, required);
    if (json_is_string(v))
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], json_string_value(v)) == 0) {
                *out = allowed[i];
                return 0;
            }
    char list[512];
    allowed_list(allowed, list, sizeof list);
    http_reply_invalid(r, field, "%s must be one of: %s", field, list);
    return -1;
}

/* Nesting depth of a JSON value (a scalar 0, {} or [] 1), counted only up to limit + 1 so the
 * recursion stays shallow whatever the input. */
static int json_depth(const json_t *v, int limit)
{
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    int deepest = 0;
    if (limit >= 0) {
        const char *k;
        json_t *x;
        size_t i;
        if (json_is_object(v)) {
            json_object_foreach((json_t *)v, k, x)
            {
                int d = json_depth(x, limit - 1);
                deepest = d > deepest ? d : deepest;
                if (deepest > limit)
                    break;
            }
        } else {
            json_array_foreach(v, i, x)
            {
                int d = json_depth(x, limit - 1);
                deepest = d > deepest ? d : deepest;
                if (deepest > limit)
                    break;
            }
        }
    }
    return 1 + deepest;
}

int v_object(struct http_resp *r, json_t *obj, const char *field, int required, size_t max_bytes,
             json_t **out)
{
    json_t *v = get(obj, field);
    if (!v)
        return missing(r, field, required);
    if (!json_is_object(v)) {
        http_reply_invalid(r, field, "%s must be a JSON object", field);
        return -1;
    }
    if (json_depth(v, V_JSON_DEPTH_MAX) > V_JSON_DEPTH_MAX) {
        http_reply_invalid(r, field, "%s must not be nested deeper than %d levels", field,
                           V_JSON_DEPTH_MAX);
        return -1;
    }
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT);
    if (n > max_bytes) {
        http_reply_invalid(r, field, "%s must be at most %zu bytes as JSON (got %zu)", field,
                           max_bytes, n);
        return -1;
    }
    *out = v;
    return 0;
}

int v_uuid(struct http_resp *r, json_t *obj, const char *field, int required, const char **out)
{
    json_t *v = get(obj, field);
    if (!v)
        return missing(r, field, required);
    if (!json_is_string(v) || !fg_uuid_valid(json_string_value(v))) {
        http_reply_invalid(r, field, "%s must be a UUID", field);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int v_no_unknown(struct http_resp *r, json_t *obj, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int ok = 0;
        for (size_t i = 0; known[i]; i++)
            if (strcmp(known[i], key) == 0)
                ok = 1;
        if (!ok) {
            http_reply_invalid(r, key, "unknown field %.64s", key);
            return -1;
        }
    }
    return 0;
}

int q_int(struct http_req *req, struct http_resp *r, const char *name, long long def, long long min,
          long long max, long long *out)
{
    const char *s = http_query(req, name);
    if (!s) {
        *out = def;
        return 1;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        http_reply_invalid(r, name, "%s must be an integer between %lld and %lld", name, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int q_enum(struct http_req *req, struct http_resp *r, const char *name, const char *const *allowed,
           const char **out)
{
    const char *s = http_query(req, name);
    *out = NULL;
    if (!s)
        return 1;
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(allowed[i], s) == 0) {
            *out = allowed[i];
            return 0;
        }
    char list[512];
    allowed_list(allowed, list, sizeof list);
    http_reply_invalid(r, name, "%s must be one of: %s", name, list);
    return -1;
}

int q_bool(struct http_req *req, struct http_resp *r, const char *name, int def, int *out)
{
    const char *s = http_query(req, name);
    if (!s) {
        *out = def;
        return 1;
    }
    if (!strcmp(s, "true") || !strcmp(s, "1")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "0")) {
        *out = 0;
        return 0;
    }
    http_reply_invalid(r, name, "%s must be true or false", name);
    return -1;
}

int q_time(struct http_req *req, struct http_resp *r, const char *name, long long *out_ms)
{
    const char *s = http_query(req, name);
    if (!s)
        return 1;
    int64_t ms;
    if (fg_time_parse_iso(s, &ms) != 0) {
        http_reply_invalid(r, name, "%s must be an RFC 3339 date-time", name);
        return -1;
    }
    *out_ms = ms;
    return 0;
}

int q_uuid(struct http_req *req, struct http_resp *r, const char *name, const char **out)
{
    const char *s = http_query(req, name);
    if (!s)
        return 1;
    if (!fg_uuid_valid(s)) {
        http_reply_invalid(r, name, "%s must be a UUID", name);
        return -1;
    }
    *out = s;
    return 0;
}

int p_uuid_or_reply(struct http_req *req, struct http_resp *r, const char *name, const char *what,
                    const char **out)
{
    const char *s = http_param(req, name);
    if (!s || !fg_uuid_valid(s)) {
        http_reply_not_found(r, what);
        return -1;
    }
    *out = s;
    return 0;
}

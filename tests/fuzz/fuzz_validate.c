/*
 * Fuzz target `validate` (src/api/validate.c, src/http/reply.c): request-body validation.
 * The first byte picks a route that declares a request body (every route table of
 * api/routes.h, in table order); the rest is the body, parsed as the server parses it
 * (json_loadb, JSON_REJECT_DUPLICATES). The route's request schema drives the validators the
 * handlers use: v_string / v_int / v_number / v_bool / v_enum / v_object / v_uuid per property
 * (required, bounds and enums from the schema), then v_no_unknown with the schema's properties.
 * The handlers themselves (with their store) are reached by the `http` target.
 * Invariants: a refusal is a 422 whose body is {"code":"validation_error","message":<non-empty>,
 * "details":{"field":...}} and serialises; an accepted string is valid UTF-8 within its bounds;
 * v_utf8_valid agrees with jansson on every string and v_utf8_len counts code points.
 */
#include <jansson.h>

#include "api/routes.h"
#include "api/validate.h"
#include "fuzz_common.h"

static const struct http_route *routes[256];
static json_t *schemas[256];
static size_t nroutes;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t t = 0; api_route_tables[t]; t++)
        for (const struct http_route *r = api_route_tables[t]; r->pattern; r++) {
            if (!r->request_schema || nroutes == 256)
                continue;
            json_t *s = json_loads(r->request_schema, 0, NULL);
            if (!json_is_object(s)) {
                fprintf(stderr, "fuzz_validate: unparsable request schema of %s %s\n", r->method,
                        r->pattern);
                abort();
            }
            routes[nroutes] = r;
            schemas[nroutes++] = s;
        }
    return 0;
}

static void check_refusal(struct http_resp *r)
{
    FUZZ_ASSERT(r->status == 422 && json_is_object(r->json));
    json_t *m = json_object_get(r->json, "message");
    FUZZ_ASSERT(json_is_string(m) && json_string_length(m) > 0);
    FUZZ_ASSERT(json_is_string(json_object_get(r->json, "code")));
    json_t *d = json_object_get(r->json, "details");
    FUZZ_ASSERT(json_is_object(d) && json_is_string(json_object_get(d, "field")));
    char *txt = json_dumps(r->json, JSON_COMPACT);
    FUZZ_ASSERT(txt != NULL);
    free(txt);
}

static void reset(struct http_resp *r)
{
    json_decref(r->json);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static long long num(json_t *o, const char *k, long long d)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? (long long)json_number_value(v) : d;
}

static double dnum(json_t *o, const char *k, double d)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : d;
}

/* Runs the validator matching one property schema; returns the validator's result. */
static int check_property(struct http_resp *r, json_t *body, const char *name, json_t *ps,
                          int required)
{
    const char *type = json_string_value(json_object_get(ps, "type"));
    json_t *en = json_object_get(ps, "enum");
    if (json_is_array(en) && json_array_size(en) < 64) {
        const char *allowed[65];
        size_t k = 0;
        for (size_t i = 0; i < json_array_size(en); i++)
            if (json_is_string(json_array_get(en, i)))
                allowed[k++] = json_string_value(json_array_get(en, i));
        allowed[k] = NULL;
        const char *out = NULL;
        int rc = v_enum(r, body, name, required, allowed, &out);
        if (rc == 0) {
            int found = 0;
            for (size_t i = 0; i < k; i++)
                found |= strcmp(allowed[i], out) == 0;
            FUZZ_ASSERT(found);
        }
        return rc;
    }
    if (!type)
        return 1;
    if (strcmp(type, "string") == 0) {
        const char *fmt = json_string_value(json_object_get(ps, "format"));
        const char *out = NULL;
        if (fmt && strcmp(fmt, "uuid") == 0)
            return v_uuid(r, body, name, required, &out);
        size_t mn = (size_t)num(ps, "minLength", 0), mx = (size_t)num(ps, "maxLength", 1 << 20);
        int rc = v_string(r, body, name, required, mn, mx, &out);
        if (rc == 0) {
            size_t bytes = strlen(out);
            FUZZ_ASSERT(v_utf8_valid(out, bytes));
            size_t chars = v_utf8_len(out, bytes);
            FUZZ_ASSERT(chars >= mn && chars <= mx);
        }
        return rc;
    }
    if (strcmp(type, "integer") == 0) {
        long long mn = num(ps, "minimum", -(1LL << 53)), mx = num(ps, "maximum", 1LL << 53), out;
        int rc = v_int(r, body, name, required, mn, mx, &out);
        if (rc == 0)
            FUZZ_ASSERT(out >= mn && out <= mx);
        return rc;
    }
    if (strcmp(type, "number") == 0) {
        double mn = dnum(ps, "minimum", -1e300), mx = dnum(ps, "maximum", 1e300), out;
        int rc = v_number(r, body, name, required, mn, mx, &out);
        if (rc == 0)
            FUZZ_ASSERT(out >= mn && out <= mx);
        return rc;
    }
    if (strcmp(type, "boolean") == 0) {
        int out;
        return v_bool(r, body, name, required, &out);
    }
    if (strcmp(type, "object") == 0) {
        json_t *out;
        return v_object(r, body, name, required, 64 * 1024, &out);
    }
    return 1;
}

/* Walks every string (keys and values) and checks the UTF-8 helpers against jansson. */
static void check_strings(json_t *v, int depth)
{
    if (depth > 40)
        return;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (memchr(s, '\0', n) == NULL) {
            FUZZ_ASSERT(v_utf8_valid(s, n));
            size_t cps = 0;
            for (size_t i = 0; i < n; i++)
                cps += ((unsigned char)s[i] & 0xC0) != 0x80;
            FUZZ_ASSERT(v_utf8_len(s, n) == cps);
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            FUZZ_ASSERT(v_utf8_valid(k, strlen(k)));
            check_strings(x, depth + 1);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            check_strings(json_array_get(v, i), depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!nroutes)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size < 1 || size > 256 * 1024 || !nroutes)
        return 0;
    /* The raw bytes too: v_utf8_valid must never read past n nor accept what jansson refuses. */
    int raw_ok = v_utf8_valid((const char *)data + 1, size - 1);
    json_t *chk = json_stringn((const char *)data + 1, size - 1);
    FUZZ_ASSERT(raw_ok == (chk != NULL));
    json_decref(chk);
    json_t *schema = schemas[data[0] % nroutes];
    json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    check_strings(body, 0);
    struct http_resp r;
    memset(&r, 0, sizeof r);
    json_t *props = json_object_get(schema, "properties");
    json_t *req = json_object_get(schema, "required");
    const char *known[128];
    size_t nk = 0;
    const char *name;
    json_t *ps;
    json_object_foreach(props, name, ps)
    {
        int required = 0;
        for (size_t i = 0; json_is_array(req) && i < json_array_size(req); i++)
            required |= strcmp(json_string_value(json_array_get(req, i)), name) == 0;
        if (nk < 127)
            known[nk++] = name;
        int rc = check_property(&r, body, name, ps, required);
        FUZZ_ASSERT(rc >= -1 && rc <= 1);
        if (rc == -1)
            check_refusal(&r);
        reset(&r);
    }
    known[nk] = NULL;
    if (v_no_unknown(&r, body, known) == -1)
        check_refusal(&r);
    reset(&r);
    json_decref(body);
    return 0;
}

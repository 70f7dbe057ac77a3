/*
 * OpenAPI 3.1 generated from the route tables (api/routes.c): paths, path and query parameters,
 * request/response schemas given as JSON Schema text in the table, the common error responses and
 * the bearer security scheme.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "api/routes.h"
#include "util/log.h"

static json_t *error_ref(const char *desc)
{
    return json_pack("{sss{s{s{ss}}}}", "description", desc, "content", "application/json",
                     "schema", "$ref", "#/components/schemas/Error");
}

static json_t *schema_or_null(const char *text, const struct http_route *r)
{
    if (!text)
        return NULL;
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v)
        fg_log(FG_LOG_ERROR, "openapi_schema", FG_LF_STR("route", r->pattern),
               FG_LF_STR("error", e.text), FG_LF_END);
    return v;
}

static json_t *operation(const struct http_route *r)
{
    json_t *op = json_object();
    char opid[256];
    size_t o = 0;
    for (const char *p = r->method; *p && o < sizeof opid - 1; p++)
        opid[o++] = (char)tolower((unsigned char)*p);
    for (const char *p = r->pattern; *p && o < sizeof opid - 1; p++)
        opid[o++] = isalnum((unsigned char)*p) ? *p : '_';
    opid[o] = '\0';
    json_object_set_new(op, "operationId", json_string(opid));
    json_object_set_new(op, "summary", json_string(r->summary ? r->summary : ""));
    json_object_set_new(op, "tags", json_pack("[s]", r->tag ? r->tag : "system"));
    if (r->permission)
        json_object_set_new(op, "x-permission", json_string(r->permission));

    json_t *params = json_array();
    for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        if (!e)
            break;
        json_array_append_new(params,
                              json_pack("{ss#sssbs{ss}}", "name", p + 1, (int)(e - p - 1), "in",
                                        "path", "required", 1, "schema", "type", "string"));
    }
    if (r->query_params) {
        const char *p = r->query_params;
        while (*p) {
            const char *c = strchr(p, ',');
            int n = c ? (int)(c - p) : (int)strlen(p);
            json_array_append_new(params, json_pack("{ss#sssbs{ss}}", "name", p, n, "in", "query",
                                                    "required", 0, "schema", "type", "string"));
            p += n + (c ? 1 : 0);
        }
    }
    if (json_array_size(params))
        json_object_set_new(op, "parameters", params);
    else
        json_decref(params);

    json_t *req = schema_or_null(r->request_schema, r);
    if (req)
        json_object_set_new(
            op, "requestBody",
            json_pack("{sbs{s{so}}}", "required", 1, "content", "application/json", "schema", req));

    json_t *responses = json_object();
    char code[8];
    int ok = r->success_status ? r->success_status : 200;
    snprintf(code, sizeof code, "%d", ok);
    if (ok == 204) {
        json_object_set_new(responses, code, json_pack("{ss}", "description", "No Content"));
    } else {
        json_t *data = schema_or_null(r->response_schema, r);
        json_t *schema = json_pack("{sss{so}}", "type", "object", "properties", "data",
                                   data ? data : json_object());
        json_object_set_new(json_object_get(schema, "properties"), "meta",
                            json_pack("{ss}", "type", "object"));
        json_object_set_new(responses, code,
                            json_pack("{sss{s{so}}}", "description", "Success", "content",
                                      "application/json", "schema", schema));
    }
    if (req) {
        json_object_set_new(responses, "400", error_ref("Malformed JSON"));
        json_object_set_new(responses, "422", error_ref("Validation error (details.field)"));
    }
    if (r->flags & (HTTP_AUTH_REQUIRED | HTTP_AUTH_OPTIONAL)) {
        json_object_set_new(responses, "401", error_ref("Missing or invalid token"));
        json_object_set_new(responses, "403", error_ref("Not permitted"));
        json_object_set_new(op, "security", json_pack("[{s[]}]", "bearerAuth"));
    }
    if (!(r->flags & HTTP_RATE_EXEMPT))
        json_object_set_new(responses, "429", error_ref("Rate limit exceeded"));
    json_object_set_new(responses, "default", error_ref("Error"));
    json_object_set_new(op, "responses", responses);
    return op;
}

json_t *api_openapi_build(void)
{
    json_t *paths = json_object();
    for (size_t t = 0; api_route_tables[t]; t++) {
        for (const struct http_route *r = api_route_tables[t]; r->pattern; r++) {
            json_t *item = json_object_get(paths, r->pattern);
            if (!item) {
                item = json_object();
                json_object_set_new(paths, r->pattern, item);
            }
            char m[16];
            size_t i = 0;
            for (; i < sizeof m - 1 && r->method[i]; i++)
                m[i] = (char)tolower((unsigned char)r->method[i]);
            m[i] = '\0';
            json_object_set_new(item, m, operation(r));
        }
    }
    json_t *error_schema =
        json_pack("{sss[sss]s{s{ss}s{ss}s{ss}}}", "type", "object", "required", "code", "message",
                  "details", "properties", "code", "type", "string", "message", "type", "string",
                  "details", "type", "object");
    return json_pack("{sss{sssssss{ss}}s[{ss}]sos{s{so}s{s{ssssss}}}}", "openapi", "3.1.0", "info",
                     "title", "Forge API", "version", FORGE_VERSION, "description",
                     "Institutional memory engine: capsules, lineage, search, governance.",
                     "license", "name", "Proprietary", "servers", "url", "/", "paths", paths,
                     "components", "schemas", "Error", error_schema, "securitySchemes",
                     "bearerAuth", "type", "http", "scheme", "bearer", "bearerFormat", "JWT");
}

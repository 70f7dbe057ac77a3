/* The request side of authorization (src/api/authn.c): the _or_reply checks with their 401/403
 * bodies, bearer parsing, and the call context built from a request (core/ctx.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "api/authn.h"
#include "core/authz.h"
#include "core/ctx.h"
#include "http/reply.h"

static void resp_free(struct http_resp *r)
{
    json_decref(r->json);
    free(r->body);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i][0]);
        free(r->headers[i][1]);
    }
    memset(r, 0, sizeof *r);
}

static const char *resp_header(struct http_resp *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i][0], name) == 0)
            return r->headers[i][1];
    return NULL;
}

static void test_require_or_reply(void **state)
{
    (void)state;
    struct http_req req;
    struct http_resp resp;
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    /* anonymous → 401 with WWW-Authenticate */
    assert_int_equal(api_require_or_reply(&req, &resp, "capsule:read"), -1);
    assert_int_equal(resp.status, 401);
    assert_string_equal(json_string_value(json_object_get(resp.json, "code")),
                        "authentication_error");
    assert_non_null(resp_header(&resp, "WWW-Authenticate"));
    resp_free(&resp);
    /* lacking the permission → 403 naming it */
    req.principal = &req.principal_storage;
    req.principal->roles = FG_ROLE_USER;
    req.principal->trust = FG_TRUST_STANDARD;
    snprintf(req.principal->user_id, sizeof req.principal->user_id, "u1");
    assert_int_equal(api_require_or_reply(&req, &resp, "admin:users"), -1);
    assert_int_equal(resp.status, 403);
    json_t *d = json_object_get(resp.json, "details");
    assert_string_equal(json_string_value(json_object_get(d, "permission")), "admin:users");
    assert_non_null(
        strstr(json_string_value(json_object_get(resp.json, "message")), "admin:users"));
    resp_free(&resp);
    assert_int_equal(api_require_or_reply(&req, &resp, "capsule:create"), 0);
    assert_int_equal(resp.status, 0);
}

static void test_trust_and_owner_rules(void **state)
{
    (void)state;
    struct http_req req;
    struct http_resp resp;
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    req.principal = &req.principal_storage;
    req.principal->roles = FG_ROLE_USER;
    req.principal->trust = FG_TRUST_STANDARD;
    snprintf(req.principal->user_id, sizeof req.principal->user_id, "u1");
    assert_int_equal(api_trust_or_reply(&req, &resp, FG_TRUST_STANDARD, "capsule"), 0);
    assert_int_equal(api_trust_or_reply(&req, &resp, FG_TRUST_TRUSTED, "capsule"), -1);
    assert_int_equal(resp.status, 403);
    json_t *d = json_object_get(resp.json, "details");
    assert_string_equal(json_string_value(json_object_get(d, "rule")), "trust");
    assert_string_equal(json_string_value(json_object_get(d, "required")), "trusted");
    assert_string_equal(json_string_value(json_object_get(d, "actual")), "standard");
    resp_free(&resp);
    assert_int_equal(api_owner_or_reply(&req, &resp, "u1"), 0);
    assert_int_equal(api_owner_or_reply(&req, &resp, "u2"), -1);
    assert_int_equal(resp.status, 403);
    resp_free(&resp);
    assert_int_equal(api_owner_or_reply(&req, &resp, NULL), -1);
    resp_free(&resp);
    req.principal->roles = FG_ROLE_ADMIN;
    assert_true(api_is_admin(req.principal));
    assert_int_equal(api_owner_or_reply(&req, &resp, "u2"), 0);
    assert_false(api_is_admin(NULL));
}

static void test_ctx_of_a_request(void **state)
{
    (void)state;
    struct http_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.client_ip, sizeof req.client_ip, "192.0.2.7");
    snprintf(req.correlation_id, sizeof req.correlation_id, "req-1");
    /* anonymous: no actor, but the IP and the correlation id */
    const struct fg_ctx *c = api_ctx(&req);
    assert_null(c->user_id);
    assert_null(fg_ctx_actor(c));
    assert_true(fg_ctx_anonymous(c));
    assert_string_equal(c->client_ip, "192.0.2.7");
    assert_string_equal(c->correlation_id, "req-1");
    /* the guard rebuilds it once the principal is known */
    req.principal = &req.principal_storage;
    snprintf(req.principal->user_id, sizeof req.principal->user_id, "u1");
    req.principal->trust = FG_TRUST_TRUSTED;
    req.principal->roles = FG_ROLE_USER | FG_ROLE_ADMIN;
    api_ctx_build(&req);
    c = api_ctx(&req);
    assert_string_equal(fg_ctx_actor(c), "u1");
    assert_int_equal(c->trust, FG_TRUST_TRUSTED);
    assert_int_equal(c->roles, FG_ROLE_USER | FG_ROLE_ADMIN);
    assert_true(c->admin);
    assert_false(fg_ctx_anonymous(c));
}

static void test_system_ctx(void **state)
{
    (void)state;
    struct fg_ctx c;
    fg_ctx_system(&c, "system:governance", "req-9");
    assert_string_equal(fg_ctx_actor(&c), "system:governance");
    assert_string_equal(c.correlation_id, "req-9");
    assert_null(c.client_ip);
    assert_false(fg_ctx_anonymous(&c));
    struct fg_job_ctx j1, j2;
    const struct fg_ctx *a = fg_ctx_job(&j1, FG_CLI_ACTOR), *b = fg_ctx_job(&j2, FG_CLI_ACTOR);
    assert_string_equal(fg_ctx_actor(a), "cli");
    assert_int_equal(strncmp(a->correlation_id, "job-", 4), 0);
    assert_int_equal(strlen(a->correlation_id), 4 + 36);
    assert_string_not_equal(a->correlation_id, b->correlation_id);
    assert_null(fg_ctx_actor(NULL));
    assert_false(fg_ctx_anonymous(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_require_or_reply),
        cmocka_unit_test(test_trust_and_owner_rules),
        cmocka_unit_test(test_ctx_of_a_request),
        cmocka_unit_test(test_system_ctx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Router: templates, parameters, specificity, 404 vs 405, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/validate.h"
#include "http/router.h"

static void h(struct http_req *req, struct http_resp *resp)
{
    (void)req;
    (void)resp;
}

static const struct http_route table[] = {
    {"GET", "/api/v1/capsules", h, 0, "list", NULL, NULL, 200, NULL, NULL, NULL},
    {"POST", "/api/v1/capsules", h, 0, "create", NULL, NULL, 201, NULL, NULL, NULL},
    {"GET", "/api/v1/capsules/{id}", h, 0, "get", NULL, NULL, 200, NULL, NULL, NULL},
    {"POST", "/api/v1/capsules/search", h, 0, "search", NULL, NULL, 200, NULL, NULL, NULL},
    {"GET", "/api/v1/capsules/{id}/lineage", h, 0, "lineage", NULL, NULL, 200, NULL, NULL, NULL},
    {"DELETE", "/api/v1/capsules/{id}", h, 0, "del", NULL, NULL, 204, NULL, NULL, NULL},
    {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
};
static const struct http_route *const tables[] = {table, NULL};

static void clear(struct http_req *req)
{
    for (size_t i = 0; i < req->nparams; i++)
        free(req->params[i]);
    memset(req, 0, sizeof *req);
}

static void test_match(void **state)
{
    (void)state;
    struct http_router *r = http_router_new(tables);
    assert_non_null(r);
    struct http_req req = {0};
    const struct http_route *rt;
    unsigned allowed;

    assert_int_equal(http_router_match(r, "GET", "/api/v1/capsules/abc", &req, &rt, &allowed),
                     HTTP_MATCH_OK);
    assert_string_equal(rt->summary, "get");
    assert_int_equal(req.nparams, 1);
    assert_string_equal(req.param_names[0], "id");
    assert_string_equal(req.params[0], "abc");
    clear(&req);

    /* the literal segment wins over the parameter */
    assert_int_equal(http_router_match(r, "POST", "/api/v1/capsules/search", &req, &rt, &allowed),
                     HTTP_MATCH_OK);
    assert_string_equal(rt->summary, "search");
    clear(&req);

    assert_int_equal(http_router_match(r, "PUT", "/api/v1/capsules/abc", &req, &rt, &allowed),
                     HTTP_MATCH_NO_METHOD);
    char allow[64];
    http_methods_string(allowed, allow, sizeof allow);
    assert_string_equal(allow, "GET, DELETE");
    clear(&req);

    assert_int_equal(http_router_match(r, "HEAD", "/api/v1/capsules", &req, &rt, &allowed),
                     HTTP_MATCH_OK);
    assert_string_equal(rt->summary, "list");
    clear(&req);

    const char *misses[] = {"/",
                            "/api",
                            "/api/v1/capsules/",
                            "//api/v1/capsules",
                            "api/v1",
                            "/api/v1/capsules/a/b/c/d",
                            "/api/v1/capsules/x/lineagex"};
    for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++) {
        assert_int_equal(http_router_match(r, "GET", misses[i], &req, &rt, &allowed),
                         HTTP_MATCH_NO_PATH);
        clear(&req);
    }
    char longp[5000];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(http_router_match(r, "GET", longp, &req, &rt, &allowed), HTTP_MATCH_NO_PATH);
    assert_int_equal(http_router_match(r, "BREW", "/api/v1/capsules", &req, &rt, &allowed),
                     HTTP_MATCH_NO_METHOD);
    clear(&req);
    http_router_free(r);
}

static void test_bad_table(void **state)
{
    (void)state;
    static const struct http_route bad[] = {
        {"FETCH", "/x", h, 0, NULL, NULL, NULL, 200, NULL, NULL, NULL},
        {NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
    };
    static const struct http_route *const t[] = {bad, NULL};
    assert_null(http_router_new(t));
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(v_utf8_valid("h\xc3\xa9llo", 6));
    assert_int_equal(v_utf8_len("h\xc3\xa9llo", 6), 5);
    assert_false(v_utf8_valid("\xc0\xaf", 2));     /* overlong */
    assert_false(v_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(v_utf8_valid("\xe2\x82", 2));     /* truncated */
    assert_false(v_utf8_valid("\xff", 1));
    assert_true(v_utf8_valid("\xf0\x9f\x98\x80", 4)); /* emoji */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_bad_table),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The one fg_err → HTTP mapper (api/error.c): every enum fg_err value gets its documented status
 * and code, the body is {"code","message","details"}, and an unavailable store has one text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/error.h"
#include "core/authz.h"

static void reply(struct http_resp *r, enum fg_err e, const struct fg_why *why)
{
    memset(r, 0, sizeof *r);
    api_reply_err(r, e, why);
    assert_non_null(r->json);
    assert_true(json_is_string(json_object_get(r->json, "code")));
    assert_true(json_is_string(json_object_get(r->json, "message")));
    assert_true(json_is_object(json_object_get(r->json, "details")));
}

static void done(struct http_resp *r)
{
    json_decref(r->json);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i][0]);
        free(r->headers[i][1]);
    }
    free(r->body);
}

static const char *code(const struct http_resp *r)
{
    return json_string_value(json_object_get(r->json, "code"));
}

static const char *message(const struct http_resp *r)
{
    return json_string_value(json_object_get(r->json, "message"));
}

/* Walks every value: a new enum fg_err without a row here fails the count check. */
static void test_every_err(void **state)
{
    (void)state;
    static const struct {
        enum fg_err e;
        int status;
        const char *code;
    } table[] = {
        {FG_EINVAL, 422, "validation_error"},
        {FG_ENOMEM, 500, "internal_error"},
        {FG_EIO, 500, "internal_error"},
        {FG_EDB, 500, "internal_error"},
        {FG_ENOTFOUND, 404, "not_found"},
        {FG_ECONFLICT, 409, "conflict"},
        {FG_EFORBIDDEN, 403, "authorization_error"},
        {FG_EUNAUTH, 500, "internal_error"},
        {FG_ELIMIT, 500, "internal_error"},
        {FG_EUNAVAIL, 503, "service_unavailable"},
        {FG_ETIMEOUT, 503, "service_unavailable"},
        {FG_EINTERNAL, 500, "internal_error"},
    };
    assert_int_equal(sizeof table / sizeof table[0], FG_EINTERNAL); /* FG_OK is not an error */
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        struct http_resp r;
        reply(&r, table[i].e, NULL); /* no details */
        assert_int_equal(r.status, table[i].status);
        assert_string_equal(code(&r), table[i].code);
        done(&r);
        struct fg_why w = {.field = "f", .what = "thing", .rule = "r", .actual_trust = -1};
        reply(&r, table[i].e, &w); /* empty message: the code's default text */
        assert_int_equal(r.status, table[i].status);
        assert_string_equal(code(&r), table[i].code);
        done(&r);
    }
}

static void test_details(void **state)
{
    (void)state;
    struct http_resp r;
    reply(&r, FG_EINVAL, NULL);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "details"), "field")), "body");
    done(&r);

    struct fg_why w = {.field = "query", .position = 7, .actual_trust = -1};
    snprintf(w.message, sizeof w.message, "unbalanced quote");
    reply(&r, FG_EINVAL, &w);
    json_t *d = json_object_get(r.json, "details");
    assert_int_equal(json_integer_value(json_object_get(d, "position")), 7);
    assert_string_equal(json_string_value(json_object_get(d, "reason")), "unbalanced quote");
    done(&r);

    reply(&r, FG_ENOTFOUND, &(struct fg_why){.what = "capsule", .actual_trust = -1});
    assert_string_equal(message(&r), "capsule not found");
    done(&r);

    w = (struct fg_why){.rule = "trust", .required_trust = 3, .actual_trust = 1};
    reply(&r, FG_EFORBIDDEN, &w);
    d = json_object_get(r.json, "details");
    assert_string_equal(json_string_value(json_object_get(d, "required")), fg_trust_name(3));
    assert_string_equal(json_string_value(json_object_get(d, "actual")), fg_trust_name(1));
    done(&r);
    w.actual_trust = -1; /* governance reports the required level only */
    reply(&r, FG_EFORBIDDEN, &w);
    assert_null(json_object_get(json_object_get(r.json, "details"), "actual"));
    done(&r);

    w = (struct fg_why){.rule = "live_children", .children = 2, .actual_trust = -1};
    reply(&r, FG_ECONFLICT, &w);
    d = json_object_get(r.json, "details");
    assert_int_equal(json_integer_value(json_object_get(d, "live_children")), 2);
    done(&r);
    w = (struct fg_why){.rule = "duplicate_edge", .edge_id = "e1", .actual_trust = -1};
    reply(&r, FG_ECONFLICT, &w);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "details"), "edge_id")), "e1");
    done(&r);
}

/* One condition, one text: an unavailable or busy store reads the same from every handler. */
static void test_unavailable_text(void **state)
{
    (void)state;
    struct http_resp r;
    reply(&r, FG_EUNAVAIL, NULL);
    assert_string_equal(message(&r), API_UNAVAILABLE_MSG);
    done(&r);
    reply(&r, FG_ETIMEOUT, &(struct fg_why){.what = "user", .actual_trust = -1});
    assert_string_equal(message(&r), API_UNAVAILABLE_MSG);
    done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_err),
        cmocka_unit_test(test_details),
        cmocka_unit_test(test_unavailable_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

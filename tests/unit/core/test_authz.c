/* Authorization: trust levels, the role → permission matrix of SPEC §3.2 and role parsing (the
 * checks that write 401/403 replies are in src/api/authn.c: tests/unit/api/test_authn.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/authz.h"

static void test_trust_levels(void **state)
{
    (void)state;
    assert_int_equal(fg_trust_from_name("core"), 100);
    assert_int_equal(fg_trust_from_name("trusted"), 80);
    assert_int_equal(fg_trust_from_name("standard"), 60);
    assert_int_equal(fg_trust_from_name("sandbox"), 40);
    assert_int_equal(fg_trust_from_name("quarantine"), 0);
    assert_int_equal(fg_trust_from_name("Core"), -1);
    assert_int_equal(fg_trust_from_name(NULL), -1);
    assert_string_equal(fg_trust_name(100), "core");
    assert_string_equal(fg_trust_name(79), "standard");
    assert_string_equal(fg_trust_name(40), "sandbox");
    assert_string_equal(fg_trust_name(0), "quarantine");
    assert_string_equal(fg_trust_name(-5), "quarantine");
}

static const char *const ALL[] = {"capsule:read",       "capsule:create",
                                  "capsule:update",     "capsule:delete",
                                  "governance:propose", "governance:vote",
                                  "governance:execute", "overlay:invoke",
                                  "overlay:register",   "overlay:manage",
                                  "admin:users",        "admin:system",
                                  "admin:audit",        NULL};

static int in(const char *const *list, const char *p)
{
    for (; *list; list++)
        if (strcmp(*list, p) == 0)
            return 1;
    return 0;
}

static void test_role_matrix(void **state)
{
    (void)state;
    static const char *const user[] = {"capsule:read",    "capsule:create", "capsule:update",
                                       "governance:vote", "overlay:invoke", NULL};
    static const char *const trusted[] = {
        "capsule:read",       "capsule:create",   "capsule:update",
        "governance:vote",    "overlay:invoke",   "capsule:delete",
        "governance:propose", "overlay:register", NULL};
    static const char *const operator[] = {"capsule:read",
                                           "capsule:create",
                                           "capsule:update",
                                           "governance:vote",
                                           "overlay:invoke",
                                           "capsule:delete",
                                           "governance:propose",
                                           "overlay:register",
                                           "governance:execute",
                                           "overlay:manage",
                                           NULL};
    for (size_t i = 0; ALL[i]; i++) {
        const char *p = ALL[i];
        assert_int_equal(fg_role_grants(FG_ROLE_USER, p), in(user, p));
        assert_int_equal(fg_role_grants(FG_ROLE_TRUSTED, p), in(trusted, p));
        assert_int_equal(fg_role_grants(FG_ROLE_OPERATOR, p), in(operator, p));
        assert_int_equal(fg_role_grants(FG_ROLE_ADMIN, p), 1);
        assert_int_equal(fg_role_grants(0, p), 0); /* no role (or only unknown ones) */
        assert_int_equal(fg_role_grants(FG_ROLE_USER | FG_ROLE_OPERATOR, p), in(operator, p));
        assert_true(fg_permission_known(p));
    }
    assert_int_equal(fg_role_grants(FG_ROLE_ADMIN, "capsule:fly"), 0);
    assert_false(fg_permission_known("admin:*"));
    assert_false(fg_permission_known(NULL));
}

static void test_roles_parse_and_json(void **state)
{
    (void)state;
    unsigned r = 0;
    const char *bad = NULL;
    json_t *a = json_pack("[sss]", "admin", "user", "user");
    assert_int_equal(fg_roles_parse(a, &r, &bad), 0);
    assert_int_equal(r, FG_ROLE_ADMIN | FG_ROLE_USER);
    json_t *j = fg_roles_json(r);
    char *s = json_dumps(j, JSON_COMPACT);
    assert_string_equal(s, "[\"user\",\"admin\"]");
    free(s);
    json_decref(j);
    json_decref(a);
    a = json_pack("[ss]", "user", "root");
    assert_int_equal(fg_roles_parse(a, &r, &bad), -1);
    assert_string_equal(bad, "root");
    json_decref(a);
    a = json_pack("[i]", 1);
    assert_int_equal(fg_roles_parse(a, &r, &bad), -1);
    json_decref(a);
    a = json_string("admin");
    assert_int_equal(fg_roles_parse(a, &r, &bad), -1);
    json_decref(a);
    assert_int_equal(fg_role_from_name("Admin"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trust_levels),
        cmocka_unit_test(test_role_matrix),
        cmocka_unit_test(test_roles_parse_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

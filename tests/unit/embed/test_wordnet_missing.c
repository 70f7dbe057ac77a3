/* local-wordnet-v2 without its dictionary: a clear error naming the missing file, and v1 still
 * works. Its own executable, because libwordnet opens its dictionary once per process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "embed/embedder.h"

static void test_missing_dictionary(void **state)
{
    (void)state;
    assert_int_equal(setenv("WNSEARCHDIR", "/nonexistent/wordnet-dict", 1), 0);
    struct embed_config c = {.provider = "local", .local_model = "local-wordnet-v2"};
    enum fg_err err = FG_OK;
    char eb[1024] = "";
    assert_null(embed_new(&c, &err, eb, sizeof eb));
    assert_int_equal(err, FG_EUNAVAIL);
    printf("error: %s\n", eb);
    assert_non_null(strstr(eb, "/nonexistent/wordnet-dict/index.noun"));
    assert_non_null(strstr(eb, "wordnet-base"));
    assert_non_null(strstr(eb, "EMBEDDING_LOCAL_MODEL=local-hash-v1"));
    /* asking again gives the same answer (the failed open is remembered, not retried) */
    eb[0] = '\0';
    assert_null(embed_new(&c, &err, eb, sizeof eb));
    assert_non_null(strstr(eb, "index.noun"));

    struct embed_config v1 = {.provider = "local", .local_model = "local-hash-v1"};
    embedder_t *e = embed_new(&v1, &err, eb, sizeof eb);
    assert_non_null(e);
    float v[EMBED_LOCAL_DEFAULT_DIMS];
    const char *t[1] = {"still works"};
    assert_int_equal(embed_texts(e, t, NULL, 1, v, eb, sizeof eb), FG_OK);
    embed_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_missing_dictionary)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

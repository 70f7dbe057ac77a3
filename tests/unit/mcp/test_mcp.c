/* MCP JSON-RPC core (src/mcp/mcp.c) against a fake API callback: lifecycle and version
 * negotiation, error codes, batches per revision, every tool's schemas, argument checks before any
 * API call, API refusals as isError results, the exact API requests made, resources pagination and
 * prompts. Includes the .c to reach the tool table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../src/mcp/mcp.c"

/* ---- fake API: records the last request, answers with a canned status and body ----------- */

struct fake {
    int calls;
    char method[16];
    char path[512];
    json_t *body;   /* last request body (owned) */
    long status;    /* next answer */
    json_t *answer; /* next answer body (owned; a copy is handed out) */
};

static long fake_api(void *ud, const char *method, const char *path, json_t *body, json_t **out)
{
    struct fake *f = ud;
    f->calls++;
    snprintf(f->method, sizeof f->method, "%s", method);
    snprintf(f->path, sizeof f->path, "%s", path);
    json_decref(f->body);
    f->body = body ? json_deep_copy(body) : NULL;
    *out = f->answer ? json_deep_copy(f->answer) : NULL;
    return f->status;
}

static void fake_answer(struct fake *f, long status, json_t *answer_new)
{
    json_decref(f->answer);
    f->status = status;
    f->answer = answer_new;
}

static void fake_free(struct fake *f)
{
    json_decref(f->body);
    json_decref(f->answer);
}

static json_t *rpc(struct mcp_conn *c, const char *text)
{
    return mcp_handle_text(c, text, strlen(text));
}

static int err_code(json_t *r)
{
    return (int)json_integer_value(json_object_get(json_object_get(r, "error"), "code"));
}

static void start(struct mcp_conn *c, struct fake *f, const char *version)
{
    memset(f, 0, sizeof *f);
    mcp_conn_init(c, fake_api, f);
    char msg[256];
    snprintf(msg, sizeof msg,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
             "\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\"}}}",
             version);
    json_t *r = rpc(c, msg);
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
}

static json_t *call_tool(struct mcp_conn *c, const char *name, const char *args)
{
    char *msg = NULL;
    size_t n = strlen(name) + strlen(args) + 128;
    msg = malloc(n);
    snprintf(msg, n,
             "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
             "\"arguments\":%s}}",
             name, args);
    json_t *r = rpc(c, msg);
    free(msg);
    json_t *res = json_incref(json_object_get(r, "result"));
    json_decref(r);
    return res;
}

static const char *text_of(json_t *res)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(res, "content"), 0), "text"));
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_version_negotiation(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"2025-11-25", "2025-11-25"},        {"2025-06-18", "2025-06-18"},
        {"2025-03-26", "2025-03-26"},        {"2024-11-05", "2024-11-05"},
        {"2024-10-07", MCP_PROTOCOL_LATEST}, {"banana", MCP_PROTOCOL_LATEST}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mcp_conn c;
        struct fake f;
        start(&c, &f, cases[i][0]);
        assert_string_equal(c.protocol, cases[i][1]);
        json_t *r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{"
                            "\"protocolVersion\":\"2025-11-25\"}}");
        assert_int_equal(err_code(r), MCP_E_INVALID_REQUEST); /* only once */
        json_decref(r);
        fake_free(&f);
    }
}

static void test_lifecycle_and_errors(void **state)
{
    (void)state;
    struct fake f = {0};
    struct mcp_conn c;
    mcp_conn_init(&c, fake_api, &f);
    json_t *r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    assert_int_equal(err_code(r), MCP_E_INVALID_REQUEST); /* before initialize */
    json_decref(r);
    r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_non_null(json_object_get(r, "result")); /* ping is always allowed */
    json_decref(r);
    r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}");
    assert_int_equal(err_code(r), MCP_E_INVALID_PARAMS);
    json_decref(r);
    fake_free(&f);
    start(&c, &f, "2025-11-25");
    r = rpc(&c, "{oops");
    assert_int_equal(err_code(r), MCP_E_PARSE);
    assert_true(json_is_null(json_object_get(r, "id")));
    json_decref(r);
    r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}");
    assert_int_equal(err_code(r), MCP_E_PARSE); /* duplicate keys */
    json_decref(r);
    r = rpc(&c, "42");
    assert_int_equal(err_code(r), MCP_E_INVALID_REQUEST);
    json_decref(r);
    r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}");
    assert_int_equal(err_code(r), MCP_E_INVALID_REQUEST);
    json_decref(r);
    r = rpc(&c, "{\"id\":3,\"method\":\"ping\"}");
    assert_int_equal(err_code(r), MCP_E_INVALID_REQUEST);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 3);
    json_decref(r);
    r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"resources/subscribe\"}");
    assert_int_equal(err_code(r), MCP_E_METHOD_NOT_FOUND);
    assert_string_equal(json_string_value(json_object_get(r, "id")), "a");
    json_decref(r);
    r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\",\"params\":[1]}");
    assert_int_equal(err_code(r), MCP_E_INVALID_PARAMS);
    json_decref(r);
    /* notifications and client responses get no answer */
    assert_null(rpc(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\"}"));
    assert_null(rpc(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"no/such/notification\"}"));
    assert_null(rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}"));
    assert_int_equal(f.calls, 0);
    /* a message over the limit is refused without parsing */
    size_t n = MCP_MAX_MESSAGE_BYTES + 10;
    char *big = malloc(n);
    memset(big, ' ', n);
    r = mcp_handle_text(&c, big, n);
    assert_int_equal(err_code(r), MCP_E_INVALID_REQUEST);
    json_decref(r);
    free(big);
    fake_free(&f);
}

static void test_batches(void **state)
{
    (void)state;
    struct mcp_conn c;
    struct fake f;
    start(&c, &f, "2025-06-18");
    json_t *r = rpc(&c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]");
    assert_int_equal(err_code(r), MCP_E_INVALID_REQUEST);
    json_decref(r);
    fake_free(&f);
    start(&c, &f, "2025-03-26");
    r = rpc(&c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
                "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"},"
                "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope\"}]");
    assert_true(json_is_array(r));
    assert_int_equal(json_array_size(r), 2);
    assert_int_equal(err_code(json_array_get(r, 1)), MCP_E_METHOD_NOT_FOUND);
    json_decref(r);
    r = rpc(&c, "[]");
    assert_int_equal(err_code(r), MCP_E_INVALID_REQUEST);
    json_decref(r);
    assert_null(rpc(&c, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}]"));
    fake_free(&f);
}

static void test_tools_list_schemas(void **state)
{
    (void)state;
    int n = 0;
    for (const struct tool *t = tools; t->name; t++, n++) {
        json_error_t e;
        json_t *in = json_loads(t->input_schema, 0, &e);
        json_t *out = json_loads(t->output_schema, 0, &e);
        if (!in || !out)
            fail_msg("%s: schema does not parse: %s", t->name, e.text);
        assert_string_equal(json_string_value(json_object_get(in, "type")), "object");
        assert_string_equal(json_string_value(json_object_get(out, "type")), "object");
        assert_true(json_is_false(json_object_get(in, "additionalProperties")));
        assert_true(strlen(t->description) > 80);
        json_decref(in);
        json_decref(out);
    }
    assert_int_equal(n, 9);
    struct mcp_conn c;
    struct fake f;
    start(&c, &f, "2025-11-25");
    json_t *r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    json_t *list = json_object_get(json_object_get(r, "result"), "tools");
    assert_int_equal(json_array_size(list), 9);
    assert_non_null(json_object_get(json_array_get(list, 0), "outputSchema"));
    assert_non_null(json_object_get(json_array_get(list, 0), "annotations"));
    json_decref(r);
    fake_free(&f);
    start(&c, &f, "2024-11-05"); /* no outputSchema / annotations before they existed */
    r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    list = json_object_get(json_object_get(r, "result"), "tools");
    assert_null(json_object_get(json_array_get(list, 0), "outputSchema"));
    assert_null(json_object_get(json_array_get(list, 0), "annotations"));
    json_decref(r);
    fake_free(&f);
}

static void test_argument_checks_before_api(void **state)
{
    (void)state;
    struct mcp_conn c;
    struct fake f;
    start(&c, &f, "2025-11-25");
    static const char *const bad[][3] = {
        {"search", "{}", "query"},
        {"search", "{\"query\":\"x\",\"limit\":0}", "limit"},
        {"search", "{\"query\":\"x\",\"limit\":1.5}", "limit"},
        {"search", "{\"query\":\"x\",\"mode\":\"fuzzy\"}", "mode"},
        {"search", "{\"query\":\"x\",\"extra\":1}", "extra"},
        {"get_capsule", "{\"id\":\"../../etc\"}", "id"},
        {"remember", "{\"content\":\"\"}", "content"},
        {"remember", "{\"content\":\"x\",\"reason\":\"r\"}", "reason"},
        {"remember", "{\"content\":\"x\",\"metadata\":[]}", "metadata"},
        {"update_capsule", "{\"id\":\"01900000-0000-7000-8000-000000000000\"}", "content"},
        {"related", "{\"id\":\"01900000-0000-7000-8000-000000000000\",\"types\":[\"x\"]}", "types"},
        {"vote", "{\"proposal_id\":\"01900000-0000-7000-8000-000000000000\",\"vote\":\"yes\"}",
         "vote"},
        {"list_proposals", "{\"status\":\"open\"}", "status"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *res = call_tool(&c, bad[i][0], bad[i][1]);
        assert_true(json_is_true(json_object_get(res, "isError")));
        char want[64];
        snprintf(want, sizeof want, "\"field\":\"%s\"", bad[i][2]);
        if (!strstr(text_of(res), want))
            fail_msg("%s %s: %s", bad[i][0], bad[i][1], text_of(res));
        json_decref(res);
    }
    assert_int_equal(f.calls, 0);
    json_t *r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{"
                        "\"name\":\"nope\"}}");
    assert_int_equal(err_code(r), MCP_E_INVALID_PARAMS);
    json_decref(r);
    fake_free(&f);
}

static void test_oversized_arguments(void **state)
{
    (void)state;
    struct mcp_conn c;
    struct fake f;
    start(&c, &f, "2025-11-25");
    size_t n = MCP_MAX_ARGUMENT_BYTES + 16;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = 0;
    json_t *msg = json_pack("{sssisss{sss{ss}}}", "jsonrpc", "2.0", "id", 1, "method", "tools/call",
                            "params", "name", "remember", "arguments", "content", big);
    assert_non_null(msg);
    json_t *r = mcp_handle(&c, msg);
    assert_int_equal(err_code(r), MCP_E_INVALID_PARAMS);
    assert_int_equal(f.calls, 0);
    json_decref(r);
    json_decref(msg);
    free(big);
    fake_free(&f);
}

static void test_tool_requests_and_results(void **state)
{
    (void)state;
    struct mcp_conn c;
    struct fake f;
    start(&c, &f, "2025-11-25");
    fake_answer(
        &f, 200,
        json_loads("{\"data\":[{\"capsule\":{\"id\":\"01900000-0000-7000-8000-0000000000aa\","
                   "\"type\":\"knowledge\",\"content\":\"c\",\"embedding\":[1]},"
                   "\"score\":0.5}],\"meta\":{\"count\":1}}",
                   0, NULL));
    json_t *res = call_tool(&c, "search", "{\"query\":\"hello\",\"type\":\"code\"}");
    assert_string_equal(f.method, "POST");
    assert_string_equal(f.path, "/api/v1/capsules/search");
    assert_string_equal(json_string_value(json_object_get(f.body, "mode")), "hybrid");
    assert_string_equal(json_string_value(json_object_get(f.body, "type")), "code");
    assert_int_equal(json_integer_value(json_object_get(f.body, "limit")), 10);
    json_t *sc = json_object_get(res, "structuredContent");
    json_t *first = json_array_get(json_object_get(sc, "results"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "uri")),
                        "forge://capsules/01900000-0000-7000-8000-0000000000aa");
    assert_null(json_object_get(first, "embedding")); /* only the fields a model needs */
    assert_true(json_is_false(json_object_get(res, "isError")));
    json_decref(res);

    fake_answer(&f, 201,
                json_loads("{\"data\":{\"id\":\"x\",\"type\":\"knowledge\",\"content\":"
                           "\"c\"}}",
                           0, NULL));
    res = call_tool(&c, "remember",
                    "{\"content\":\"c\",\"derived_from\":\"01900000-0000-7000-8000-0000000000aa\","
                    "\"reason\":\"r\"}");
    assert_string_equal(f.path, "/api/v1/capsules");
    assert_string_equal(json_string_value(json_object_get(f.body, "parent_id")),
                        "01900000-0000-7000-8000-0000000000aa");
    assert_string_equal(json_string_value(json_object_get(f.body, "reason")), "r");
    assert_string_equal(json_string_value(json_object_get(f.body, "type")), "knowledge");
    json_decref(res);

    fake_answer(&f, 200, json_loads("{\"data\":[],\"meta\":{\"total\":0}}", 0, NULL));
    res = call_tool(&c, "recent", "{\"limit\":3,\"type\":\"decision\"}");
    assert_string_equal(f.path, "/api/v1/capsules?page=1&per_page=3&type=decision");
    json_decref(res);
    res = call_tool(&c, "list_proposals", "{\"status\":\"active\"}");
    assert_string_equal(f.path, "/api/v1/governance/proposals?page=1&per_page=20&status=active");
    json_decref(res);

    /* an API refusal: isError with the API's code, message and details readable */
    fake_answer(&f, 403,
                json_loads("{\"code\":\"authorization_error\",\"message\":\"trust too low\","
                           "\"details\":{\"permission\":\"governance:vote\"}}",
                           0, NULL));
    res = call_tool(&c, "vote",
                    "{\"proposal_id\":\"01900000-0000-7000-8000-0000000000aa\",\"vote\":\"for\"}");
    assert_string_equal(f.path,
                        "/api/v1/governance/proposals/01900000-0000-7000-8000-0000000000aa/votes");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_null(json_object_get(res, "structuredContent"));
    assert_non_null(strstr(text_of(res), "HTTP 403, authorization_error"));
    assert_non_null(strstr(text_of(res), "trust too low"));
    assert_non_null(strstr(text_of(res), "governance:vote"));
    json_decref(res);
    /* unreachable server */
    fake_answer(&f, 0, NULL);
    res = call_tool(&c, "get_capsule", "{\"id\":\"01900000-0000-7000-8000-0000000000aa\"}");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_non_null(strstr(text_of(res), "unreachable"));
    json_decref(res);
    fake_free(&f);
}

static void test_resources_and_prompts(void **state)
{
    (void)state;
    struct mcp_conn c;
    struct fake f;
    start(&c, &f, "2025-11-25");
    fake_answer(&f, 200,
                json_loads("{\"data\":[{\"id\":\"01900000-0000-7000-8000-0000000000aa\",\"type\":"
                           "\"code\",\"content\":\"first line\\nsecond\"}],\"meta\":{\"total\":120,"
                           "\"page\":2,\"per_page\":50,\"pages\":3}}",
                           0, NULL));
    json_t *r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\",\"params\":{"
                        "\"cursor\":\"2\"}}");
    assert_string_equal(f.path, "/api/v1/capsules?page=2&per_page=50");
    json_t *res = json_object_get(r, "result");
    assert_string_equal(json_string_value(json_object_get(res, "nextCursor")), "3");
    json_t *first = json_array_get(json_object_get(res, "resources"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "name")), "first line");
    json_decref(r);
    r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\",\"params\":{"
                "\"cursor\":\"-1\"}}");
    assert_int_equal(err_code(r), MCP_E_INVALID_PARAMS);
    json_decref(r);
    fake_answer(&f, 404, json_loads("{\"code\":\"not_found\",\"message\":\"no\"}", 0, NULL));
    r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{"
                "\"uri\":\"forge://capsules/01900000-0000-7000-8000-0000000000aa\"}}");
    assert_int_equal(err_code(r), MCP_E_RESOURCE_NOT_FOUND);
    json_decref(r);
    int calls = f.calls;
    r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{"
                "\"uri\":\"forge://capsules/../../api/v1/admin\"}}");
    assert_int_equal(err_code(r), MCP_E_RESOURCE_NOT_FOUND);
    assert_int_equal(f.calls, calls); /* never reaches the API */
    json_decref(r);
    r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\",\"params\":{"
                "\"name\":\"answer_from_memory\",\"arguments\":{\"question\":\"Why?\"}}}");
    const char *text = json_string_value(json_object_get(
        json_object_get(
            json_array_get(json_object_get(json_object_get(r, "result"), "messages"), 0),
            "content"),
        "text"));
    assert_non_null(strstr(text, "Question: Why?"));
    assert_non_null(strstr(text, "cite the capsule id"));
    json_decref(r);
    r = rpc(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\",\"params\":{"
                "\"name\":\"answer_from_memory\"}}");
    assert_int_equal(err_code(r), MCP_E_INVALID_PARAMS);
    json_decref(r);
    fake_free(&f);
}

static void test_preview_utf8(void **state)
{
    (void)state;
    char s[200];
    memset(s, 'a', sizeof s);
    memcpy(s + 79, "\xc3\xa9", 2); /* é straddling the 80-byte cut */
    s[199] = 0;
    char *p = preview(s);
    assert_int_equal(strlen(p), 79);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_negotiation),
        cmocka_unit_test(test_lifecycle_and_errors),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_tools_list_schemas),
        cmocka_unit_test(test_argument_checks_before_api),
        cmocka_unit_test(test_oversized_arguments),
        cmocka_unit_test(test_tool_requests_and_results),
        cmocka_unit_test(test_resources_and_prompts),
        cmocka_unit_test(test_preview_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

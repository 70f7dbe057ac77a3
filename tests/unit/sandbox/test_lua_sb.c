/*
 * The Lua sandbox (src/sandbox): the environment, every limit and failure kind, escapes, and the
 * worker pool holding the wall clock inside C library functions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/sandbox.h"

#define MB (1024u * 1024u)

static void run_caps(const char *src, const char *entry, json_t *input, int caps,
                     struct lua_sb_result *r)
{
    struct lua_sb_call c = {
        .source = src,
        .source_len = strlen(src),
        .chunkname = "=test",
        .entry = entry ? entry : "process",
        .input = input,
        .max_memory = 8 * MB,
        .max_fuel = 1000000,
        .max_ms = 2000,
        .caps = caps,
        .seed = 42,
    };
    lua_sb_run(&c, NULL, NULL, r);
}

static void run(const char *src, struct lua_sb_result *r)
{
    run_caps(src, "process", NULL, 0, r);
}

/* Runs `src` and expects success with a result equal to the JSON text `want`. */
static void expect_ok(const char *src, const char *want)
{
    struct lua_sb_result r;
    run(src, &r);
    if (r.outcome != LUA_SB_OK)
        fprintf(stderr, "unexpected %s: %s\n", lua_sb_outcome_name(r.outcome), r.error);
    assert_int_equal(r.outcome, LUA_SB_OK);
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    assert_non_null(w);
    if (!json_equal(w, r.result)) {
        char *got = json_dumps(r.result, JSON_ENCODE_ANY);
        fprintf(stderr, "want %s got %s\n", want, got);
        free(got);
    }
    assert_true(json_equal(w, r.result));
    json_decref(w);
    lua_sb_result_clear(&r);
}

static void expect_outcome(const char *src, enum lua_sb_outcome o)
{
    struct lua_sb_result r;
    run(src, &r);
    if (r.outcome != o)
        fprintf(stderr, "want %s got %s: %s\n", lua_sb_outcome_name(o),
                lua_sb_outcome_name(r.outcome), r.error);
    assert_int_equal(r.outcome, o);
    assert_null(r.result);
    lua_sb_result_clear(&r);
}

static void t_json_roundtrip(void **st)
{
    (void)st;
    json_t *in = json_pack("{sisss[iii]sb}", "n", 2, "s", "x", "a", 1, 2, 3, "t", 1);
    struct lua_sb_result r;
    run_caps("function process(e) return {n = e.n * 2, s = e.s .. 'y', len = #e.a, t = e.t} end",
             NULL, in, 0, &r);
    assert_int_equal(r.outcome, LUA_SB_OK);
    assert_int_equal(json_integer_value(json_object_get(r.result, "n")), 4);
    assert_string_equal(json_string_value(json_object_get(r.result, "s")), "xy");
    assert_int_equal(json_integer_value(json_object_get(r.result, "len")), 3);
    assert_true(json_is_true(json_object_get(r.result, "t")));
    assert_true(r.fuel_used >= 0);
    assert_true(r.memory_peak > 0);
    json_decref(in);
    lua_sb_result_clear(&r);
    expect_ok("function process() return {1, 2, 3} end", "[1,2,3]");
    expect_ok("function process() return nil end", "null");
    expect_ok("function process() return {} end", "{}");
}

static void t_environment(void **st)
{
    (void)st;
    /* absent globals */
    expect_ok("function process() return {os = type(os), io = type(io), load = type(load),"
              " loadfile = type(loadfile), dofile = type(dofile), require = type(require),"
              " package = type(package), debug = type(debug), co = type(coroutine),"
              " cg = type(collectgarbage), print = type(print), dump = type(string.dump)} end",
              "{\"os\":\"nil\",\"io\":\"nil\",\"load\":\"nil\",\"loadfile\":\"nil\","
              "\"dofile\":\"nil\",\"require\":\"nil\",\"package\":\"nil\",\"debug\":\"nil\","
              "\"co\":\"nil\",\"cg\":\"nil\",\"print\":\"nil\",\"dump\":\"nil\"}");
    /* present */
    expect_ok("function process() return {type(string.rep), type(table.concat), type(math.floor),"
              " type(utf8.char), type(pcall), type(forge), type(forge.json.encode)} end",
              "[\"function\",\"function\",\"function\",\"function\",\"function\",\"table\","
              "\"function\"]");
    /* the strings' metatable is hidden and string is read-only */
    expect_ok("function process() return getmetatable('') end", "false");
    expect_outcome("function process() string.rep = nil end", LUA_SB_RUNTIME_ERROR);
    expect_outcome("function process() rawset(string, 'rep', 1) end", LUA_SB_RUNTIME_ERROR);
    expect_outcome("function process() setmetatable(string, {}) end", LUA_SB_RUNTIME_ERROR);
    expect_outcome("function process() forge.x = 1 end", LUA_SB_RUNTIME_ERROR);
    expect_outcome("function process() rawset(forge, 'log', print) end", LUA_SB_RUNTIME_ERROR);
    expect_outcome("function process() rawset(forge.json, 'encode', 1) end", LUA_SB_RUNTIME_ERROR);
    /* _ENV tricks reach nothing new */
    expect_ok("function process() local _ENV = {g = _G} ; return g.os == nil and g.io == nil end",
              "true");
    expect_ok("function process() local t = {} for k in pairs(_G) do t[#t+1] = k end "
              "table.sort(t) return table.concat(t, ',') end",
              "\"_G,_VERSION,assert,error,forge,getmetatable,ipairs,math,next,pairs,pcall,"
              "process,rawequal,rawget,rawlen,rawset,select,setmetatable,string,table,"
              "tonumber,tostring,type,utf8,warn,xpcall\"");
    /* no escape through a string method to the real string table */
    expect_ok("function process() local ok = pcall(function() ('x').rep = 1 end) return ok end",
              "false");
    /* binary chunks never load (no load at all), and check_source refuses them */
    char err[200];
    assert_int_equal(lua_sb_check_source("\x1bLua", 4, err, sizeof err), FG_EINVAL);
    assert_int_equal(lua_sb_check_source("function f( end", 15, err, sizeof err), FG_EINVAL);
    assert_int_equal(lua_sb_check_source("function f() end", 16, err, sizeof err), FG_OK);
}

static void t_fresh_per_call(void **st)
{
    (void)st;
    /* globals, the string table and math state do not carry over */
    const char *src = "counter = (counter or 0) + 1 "
                      "function process() local prev = rawget(_G, 'leak') leak = 1 "
                      "return {counter = counter, prev = prev == nil} end";
    for (int i = 0; i < 3; i++)
        expect_ok(src, "{\"counter\":1,\"prev\":true}");
    /* same seed → same numbers; the seed is per call */
    struct lua_sb_result a, b;
    run("function process() return math.random(1, 1000000) end", &a);
    run("function process() return math.random(1, 1000000) end", &b);
    assert_true(json_equal(a.result, b.result));
    lua_sb_result_clear(&a);
    lua_sb_result_clear(&b);
}

static void t_failure_kinds(void **st)
{
    (void)st;
    expect_outcome("function process() error('boom') end", LUA_SB_RUNTIME_ERROR);
    expect_outcome("function process() error({}) end", LUA_SB_RUNTIME_ERROR);
    expect_outcome("x = = 1", LUA_SB_RUNTIME_ERROR);
    expect_outcome("function other() end", LUA_SB_NO_SUCH_ENTRY_POINT);
    expect_outcome("process = 5", LUA_SB_NO_SUCH_ENTRY_POINT);
    /* fuel */
    expect_outcome("function process() while true do end end", LUA_SB_FUEL_EXHAUSTED);
    /* catching the fuel error does not help */
    expect_outcome("function process() while true do pcall(function() while true do end end) end"
                   " end",
                   LUA_SB_FUEL_EXHAUSTED);
    /* memory: table growth, string.rep bomb, table.concat */
    expect_outcome("function process() local t = {} for i = 1, 1e8 do t[i] = i end end",
                   LUA_SB_MEMORY_EXCEEDED);
    expect_outcome("function process() return #string.rep('x', 1e9) end", LUA_SB_MEMORY_EXCEEDED);
    expect_outcome("function process() return #string.rep('x', 1e6, string.rep('y', 1e3)) end",
                   LUA_SB_MEMORY_EXCEEDED);
    expect_outcome("function process() local t = {} for i = 1, 200 do t[i] = string.rep('x', 1e5)"
                   " end return #table.concat(t) .. table.concat(t) end",
                   LUA_SB_MEMORY_EXCEEDED);
    expect_outcome("function process() local ok = pcall(string.rep, 'x', 1e9) return 1 end",
                   LUA_SB_MEMORY_EXCEEDED);
    /* bad results */
    expect_outcome("function process() return string.len end", LUA_SB_BAD_RESULT);
    expect_outcome("function process() return function() end end", LUA_SB_BAD_RESULT);
    expect_outcome("function process() return 0/0 end", LUA_SB_BAD_RESULT);
    expect_outcome("function process() return {1, 2, x = 3} end", LUA_SB_BAD_RESULT);
    expect_outcome("function process() local t = {} t.t = t return t end", LUA_SB_BAD_RESULT);
    expect_outcome("function process() return '\\255\\254' end", LUA_SB_BAD_RESULT);
    expect_outcome("function process() return string.rep('x', 2 * 1024 * 1024) end",
                   LUA_SB_BAD_RESULT);
    /* deep recursion: a Lua error, not a crash */
    expect_outcome("local function f(n) return f(n + 1) + 1 end function process() return f(1) end",
                   LUA_SB_MEMORY_EXCEEDED);
    expect_outcome("function process() local s = setmetatable({}, {__index = function(t, k)"
                   " return t[k] end}) return s.x end",
                   LUA_SB_RUNTIME_ERROR);
    /* string.format widths are bounded by Lua itself */
    expect_outcome("function process() return string.format('%99999d', 1) end",
                   LUA_SB_RUNTIME_ERROR);
}

static void t_wall_clock_in_process(void **st)
{
    (void)st;
    struct lua_sb_call c = {
        .source = "function process() while true do end end",
        .entry = "process",
        .max_memory = 8 * MB,
        .max_fuel = 1000000000000LL,
        .max_ms = 100,
    };
    c.source_len = strlen(c.source);
    struct lua_sb_result r;
    lua_sb_run(&c, NULL, NULL, &r);
    assert_int_equal(r.outcome, LUA_SB_TIMEOUT);
    assert_true(r.elapsed_ms < 200);
    lua_sb_result_clear(&r);
}

static json_t *test_host(void *ctx, const char *fn, json_t *args, char *err, size_t errlen,
                         int *denied)
{
    int *calls = ctx;
    (*calls)++;
    if (strcmp(fn, "capsule.get") == 0) {
        const char *id = json_string_value(json_array_get(args, 0));
        if (id && strcmp(id, "secret") == 0) {
            snprintf(err, errlen, "above the overlay's trust");
            *denied = 1;
            return NULL;
        }
        return json_pack("{ss}", "id", id ? id : "?");
    }
    snprintf(err, errlen, "no");
    return NULL;
}

static void t_capabilities(void **st)
{
    (void)st;
    struct lua_sb_result r;
    /* without capabilities: reading a host function is capability_denied */
    run_caps("function process() return forge.capsule.get('a') end", NULL, NULL, 0, &r);
    assert_int_equal(r.outcome, LUA_SB_CAPABILITY_DENIED);
    assert_non_null(strstr(r.error, "capsule:read"));
    lua_sb_result_clear(&r);
    run_caps("function process() forge.log('x') end", NULL, NULL, 0, &r);
    assert_int_equal(r.outcome, LUA_SB_CAPABILITY_DENIED);
    lua_sb_result_clear(&r);
    /* catching the denial does not turn it into success */
    run_caps("function process() pcall(function() return forge.capsule.create({}) end) return 1"
             " end",
             NULL, NULL, LUA_SB_CAP_READ, &r);
    assert_int_equal(r.outcome, LUA_SB_CAPABILITY_DENIED);
    lua_sb_result_clear(&r);
    /* the granted function is present and others are not listed */
    run_caps("function process() local n = 0 for k in pairs(forge.capsule) do n = n + 1 end"
             " return {n = n, get = rawget(forge.capsule, 'get') == nil} end",
             NULL, NULL, LUA_SB_CAP_READ, &r);
    assert_int_equal(r.outcome, LUA_SB_OK);
    lua_sb_result_clear(&r);
    /* host calls go to the host; a denial by trust is capability_denied */
    int calls = 0;
    struct lua_sb_call c = {
        .source = "function process(id) return forge.capsule.get(id) end",
        .entry = "process",
        .max_memory = 8 * MB,
        .max_fuel = 100000,
        .max_ms = 1000,
        .caps = LUA_SB_CAP_READ | LUA_SB_CAP_LOG,
    };
    c.source_len = strlen(c.source);
    json_t *in = json_string("abc");
    c.input = in;
    lua_sb_run(&c, test_host, &calls, &r);
    assert_int_equal(r.outcome, LUA_SB_OK);
    assert_string_equal(json_string_value(json_object_get(r.result, "id")), "abc");
    assert_int_equal(calls, 1);
    lua_sb_result_clear(&r);
    json_decref(in);
    in = json_string("secret");
    c.input = in;
    lua_sb_run(&c, test_host, &calls, &r);
    assert_int_equal(r.outcome, LUA_SB_CAPABILITY_DENIED);
    lua_sb_result_clear(&r);
    json_decref(in);
    /* logs are kept, bounded */
    run_caps("function process() for i = 1, 100 do forge.log('line ' .. i) end return 1 end", NULL,
             NULL, LUA_SB_CAP_LOG, &r);
    assert_int_equal(r.outcome, LUA_SB_OK);
    assert_int_equal(json_array_size(r.logs), LUA_SB_MAX_LOG_LINES);
    lua_sb_result_clear(&r);
}

/* ---- the pool ---- */
static struct lua_sb_pool *pool;

static int pool_setup(void **st)
{
    (void)st;
    pool = lua_sb_pool_new(2, 1024);
    return pool ? 0 : -1;
}

static int pool_teardown(void **st)
{
    (void)st;
    lua_sb_pool_free(pool);
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

struct hostile {
    const char *name;
    const char *src;
    enum lua_sb_outcome want;
    enum lua_sb_outcome also; /* a memory bomb may hit the clock first on a slow machine */
};

/* Each hostile case runs in a worker with a HOSTILE_MS limit; the answer must come within 2x. */
#define HOSTILE_MS 500
static void t_pool_hostile(void **st)
{
    (void)st;
    static const struct hostile cases[] = {
        {"busy loop", "function process() while true do end end", LUA_SB_TIMEOUT, LUA_SB_OK},
        {"string.find backtracking on 1 MB",
         "function process() local s = string.rep('a', 1024 * 1024) "
         "return s:find('.-.-.-.-.-.-b') end",
         LUA_SB_TIMEOUT, LUA_SB_OK},
        {"gsub backtracking on 1 MB",
         "function process() local s = string.rep('a', 1024 * 1024) "
         "return (s:gsub('a*a*a*a*a*b', '')) end",
         LUA_SB_TIMEOUT, LUA_SB_OK},
        {"string.rep bomb", "function process() return #string.rep('x', 1e9) end",
         LUA_SB_MEMORY_EXCEEDED, LUA_SB_TIMEOUT},
        {"table.concat of 64 MB",
         "function process() local t = {} for i = 1, 64 do"
         " t[i] = string.rep('xxxxxxxxxxxxxxxx', 65536) end return #table.concat(t) end",
         LUA_SB_MEMORY_EXCEEDED, LUA_SB_TIMEOUT},
        {"table.concat of a 2 MB table",
         "function process() local t = {} for i = 1, 2e5 do t[i] = 'abcdefgh' end"
         " return #table.concat(t, string.rep(',', 100)) end",
         LUA_SB_MEMORY_EXCEEDED, LUA_SB_TIMEOUT},
        {"string.format width 99 (Lua's maximum)",
         "function process() return #string.format('%099d', 1) end", LUA_SB_OK, LUA_SB_OK},
        {"string.format width 999", "function process() return string.format('%0999d', 1) end",
         LUA_SB_RUNTIME_ERROR, LUA_SB_OK},
        {"string.format loop to 1 MB",
         "function process() local s = '' while true do s = s .. string.format('%99s', s:sub(1,"
         " 99)) end end",
         LUA_SB_MEMORY_EXCEEDED, LUA_SB_TIMEOUT},
        {"deep recursion",
         "local function f(n) return 1 + f(n + 1) end function process() return f(1) end",
         LUA_SB_MEMORY_EXCEEDED, LUA_SB_RUNTIME_ERROR},
        {"pcall loop around a bomb",
         "function process() while true do pcall(string.rep, 'x', 1e9) end end",
         LUA_SB_MEMORY_EXCEEDED, LUA_SB_TIMEOUT},
        {"metamethod recursion",
         "function process() local t = setmetatable({}, {__index = function(t, k)"
         " return t[k .. 'x'] end}) return t.a end",
         LUA_SB_RUNTIME_ERROR, LUA_SB_MEMORY_EXCEEDED},
        {"huge result",
         "function process() local t = {} for i = 1, 3e5 do t[i] = i end return t end",
         LUA_SB_BAD_RESULT, LUA_SB_MEMORY_EXCEEDED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct lua_sb_call c = {
            .source = cases[i].src,
            .source_len = strlen(cases[i].src),
            .entry = "process",
            .max_memory = 16 * MB,
            .max_fuel = 1000000000000LL,
            .max_ms = HOSTILE_MS,
        };
        struct lua_sb_result r;
        double t0 = now_ms();
        assert_int_equal(lua_sb_pool_run(pool, &c, NULL, NULL, &r), FG_OK);
        double t = now_ms() - t0;
        fprintf(stderr, "hostile | %-38s | %-16s | %7.1f ms | limit %d ms\n", cases[i].name,
                lua_sb_outcome_name(r.outcome), t, HOSTILE_MS);
        if (r.outcome != cases[i].want && r.outcome != cases[i].also)
            fprintf(stderr, "  error: %s\n", r.error);
        /* on a loaded machine any failing case may reach the clock first: still held */
        assert_true(r.outcome == cases[i].want ||
                    (cases[i].also != LUA_SB_OK && r.outcome == cases[i].also) ||
                    (cases[i].want != LUA_SB_OK && r.outcome == LUA_SB_TIMEOUT));
        assert_true(t < 2.0 * HOSTILE_MS);
        lua_sb_result_clear(&r);
    }
    /* the pool still serves after every kill */
    struct lua_sb_call ok = {
        .source = "function process(x) return x + 1 end",
        .entry = "process",
        .max_memory = 8 * MB,
        .max_fuel = 100000,
        .max_ms = 1000,
    };
    ok.source_len = strlen(ok.source);
    json_t *in = json_integer(41);
    ok.input = in;
    struct lua_sb_result r;
    assert_int_equal(lua_sb_pool_run(pool, &ok, NULL, NULL, &r), FG_OK);
    assert_int_equal(r.outcome, LUA_SB_OK);
    assert_int_equal(json_integer_value(r.result), 42);
    lua_sb_result_clear(&r);
    json_decref(in);
}

static void t_pool_host_calls(void **st)
{
    (void)st;
    int calls = 0;
    struct lua_sb_call c = {
        .source = "function process() local a = forge.capsule.get('x') forge.log('got ' .. a.id)"
                  " local ok, err = pcall(forge.capsule.get, 'secret') return {a = a.id} end",
        .entry = "process",
        .max_memory = 8 * MB,
        .max_fuel = 100000,
        .max_ms = 1000,
        .caps = LUA_SB_CAP_READ | LUA_SB_CAP_LOG,
    };
    c.source_len = strlen(c.source);
    struct lua_sb_result r;
    assert_int_equal(lua_sb_pool_run(pool, &c, test_host, &calls, &r), FG_OK);
    assert_int_equal(r.outcome, LUA_SB_CAPABILITY_DENIED);
    assert_int_equal(calls, 2);
    lua_sb_result_clear(&r);
    c.source = "function process() local a = forge.capsule.get('x') forge.log('got ' .. a.id)"
               " return {a = a.id} end";
    c.source_len = strlen(c.source);
    assert_int_equal(lua_sb_pool_run(pool, &c, test_host, &calls, &r), FG_OK);
    assert_int_equal(r.outcome, LUA_SB_OK);
    assert_string_equal(json_string_value(json_object_get(r.result, "a")), "x");
    assert_string_equal(json_string_value(json_array_get(r.logs, 0)), "got x");
    lua_sb_result_clear(&r);
}

static void t_pool_isolation(void **st)
{
    (void)st;
    int pids[4];
    int n = lua_sb_pool_pids(pool, pids, 4);
    assert_true(n >= 1);
    for (int i = 0; i < n; i++) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", pids[i]);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        int nnp = -1, sc = -1;
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "NoNewPrivs:", 11) == 0)
                nnp = (int)strtol(line + 11, NULL, 10);
            if (strncmp(line, "Seccomp:", 8) == 0)
                sc = (int)strtol(line + 8, NULL, 10);
        }
        fclose(f);
        assert_int_equal(nnp, 1);
        if (lua_sb_pool_seccomp(pool))
            assert_int_equal(sc, 2);
        /* only the socket is open besides nothing */
        snprintf(path, sizeof path, "/proc/%d/fd", pids[i]);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "ls %s | wc -l", path);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        int fds = 0;
        assert_int_equal(fscanf(p, "%d", &fds), 1);
        pclose(p);
        assert_int_equal(fds, 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_json_roundtrip),        cmocka_unit_test(t_environment),
        cmocka_unit_test(t_fresh_per_call),        cmocka_unit_test(t_failure_kinds),
        cmocka_unit_test(t_wall_clock_in_process), cmocka_unit_test(t_capabilities),
    };
    const struct CMUnitTest pool_tests[] = {
        cmocka_unit_test(t_pool_hostile),
        cmocka_unit_test(t_pool_host_calls),
        cmocka_unit_test(t_pool_isolation),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rc |= cmocka_run_group_tests(pool_tests, pool_setup, pool_teardown);
    return rc;
}

/*
 * Fuzz target for overlay manifests and sources (run under ASan/UBSan by `make asan`): a
 * deterministic mutation fuzzer. Manifests: random JSON values and mutations of a valid manifest
 * through fg_overlay_manifest_check (every result is either FG_OK with a manifest that checks
 * again to itself, or FG_EINVAL naming a manifest field). Sources: byte mutations of seed
 * programs through lua_sb_check_source and lua_sb_run with small limits (every call ends with a
 * known outcome, a bounded error message and no leak).
 *
 * FUZZ_ITERATIONS (environment) scales the run (default 3000 manifests, 1500 sources).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/overlay.h"
#include "sandbox/sandbox.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static long iterations(long dflt)
{
    const char *s = getenv("FUZZ_ITERATIONS");
    long n = s ? strtol(s, NULL, 10) : 0;
    return n > 0 ? n : dflt;
}

static const char *const keys[] = {"name",
                                   "version",
                                   "description",
                                   "author",
                                   "capabilities",
                                   "max_memory_mb",
                                   "max_execution_ms",
                                   "max_fuel",
                                   "entry_points",
                                   "events",
                                   "validates",
                                   "failure_policy",
                                   "extra",
                                   ""};

static json_t *random_value(int depth)
{
    static const char *const strs[] = {
        "",    "a",       "process", "on_event",       "validate", "1.0.0", "capsule:read",
        "log", "open",    "closed",  "capsule.create", "Ünï",      "a-b-c", "01.2.3",
        "x y", "\xc3\x28"};
    switch (next() % (depth > 3 ? 5 : 7)) {
    case 0:
        return json_integer((json_int_t)(next() % 5) == 0 ? (json_int_t)next()
                                                          : (json_int_t)(next() % 70000) - 10);
    case 1: {
        const char *s = strs[next() % (sizeof strs / sizeof strs[0])];
        json_t *j = json_string(s);
        return j ? j : json_null();
    }
    case 2:
        return json_boolean(next() & 1);
    case 3:
        return json_null();
    case 4:
        return json_real((double)(next() % 1000) / 7.0);
    case 5: {
        json_t *a = json_array();
        int n = (int)(next() % 5);
        for (int i = 0; i < n; i++)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        int n = (int)(next() % 5);
        for (int i = 0; i < n; i++)
            json_object_set_new(o, keys[next() % (sizeof keys / sizeof keys[0])],
                                random_value(depth + 1));
        return o;
    }
    }
}

static json_t *valid_manifest(void)
{
    return json_pack("{ss ss s[s] s[ss] s[s] s[s] si si si ss}", "name", "fuzz", "version", "1.2.3",
                     "capabilities", "log", "entry_points", "validate", "on_event", "events",
                     "capsule.created", "validates", "capsule.create", "max_memory_mb", 8,
                     "max_execution_ms", 100, "max_fuel", 5000, "failure_policy", "open");
}

static void t_manifests(void **st)
{
    (void)st;
    long n = iterations(3000);
    long ok = 0;
    for (long i = 0; i < n; i++) {
        json_t *m;
        if (next() & 1) {
            m = valid_manifest();
            int muts = 1 + (int)(next() % 3);
            for (int k = 0; k < muts; k++) {
                const char *key = keys[next() % (sizeof keys / sizeof keys[0])];
                if (next() % 3 == 0)
                    json_object_del(m, key);
                else
                    json_object_set_new(m, key, random_value(1));
            }
        } else {
            m = random_value(0);
        }
        json_t *out = NULL;
        char field[64] = "", msg[400] = "";
        enum fg_err e = fg_overlay_manifest_check(m, &out, field, sizeof field, msg, sizeof msg);
        if (e == FG_OK) {
            ok++;
            assert_non_null(out);
            /* the normalised manifest checks again to itself */
            json_t *again = NULL;
            assert_int_equal(
                fg_overlay_manifest_check(out, &again, field, sizeof field, msg, sizeof msg),
                FG_OK);
            assert_true(json_equal(out, again));
            json_decref(again);
        } else {
            assert_int_equal(e, FG_EINVAL);
            assert_null(out);
            assert_true(strncmp(field, "manifest", 8) == 0);
            assert_true(msg[0] != 0);
        }
        json_decref(out);
        json_decref(m);
    }
    fprintf(stderr, "manifests: %ld checked, %ld valid\n", n, ok);
    assert_true(ok > 0);
}

static const char *const seeds[] = {
    "function process(x) return {x = x, n = #tostring(x)} end",
    "function process(t) local s = 0 for i = 1, 100 do s = s + i end return s end",
    "function process() return string.rep('ab', 10):gsub('a', 'c') end",
    "function process(x) return forge.json.decode(forge.json.encode({x, {1, 2}})) end",
    "local t = setmetatable({}, {__index = function() return 1 end}) "
    "function process() return t.x end",
    "function process() return pcall(error, {}) end",
    "function process() local s = '' for w in string.gmatch('a b c', '%a') do s = s .. w end "
    "return s end",
};

static void t_sources(void **st)
{
    (void)st;
    long n = iterations(1500) / 2;
    int seen[LUA_SB_BAD_RESULT + 1] = {0};
    static const char junk[] = "(){}[]=.,;:'\"\\%#~^+-*/<>0123456789 \n\tendfunctionlocalreturn"
                               "whiledorepeatuntilgoto::\x01\xff";
    for (long i = 0; i < n; i++) {
        const char *seed = seeds[next() % (sizeof seeds / sizeof seeds[0])];
        size_t len = strlen(seed);
        char buf[512];
        memcpy(buf, seed, len);
        int muts = 1 + (int)(next() % 4);
        for (int k = 0; k < muts && len > 0; k++) {
            size_t at = (size_t)(next() % len);
            switch (next() % 3) {
            case 0: /* replace */
                buf[at] = junk[next() % (sizeof junk - 1)];
                break;
            case 1: /* insert */
                if (len + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = junk[next() % (sizeof junk - 1)];
                    len++;
                }
                break;
            default: /* delete */
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
                break;
            }
        }
        char err[300];
        enum fg_err ce = lua_sb_check_source(buf, len, err, sizeof err);
        assert_true(ce == FG_OK || ce == FG_EINVAL);
        struct lua_sb_call c = {
            .source = buf,
            .source_len = len,
            .chunkname = "=fuzz",
            .entry = "process",
            .max_memory = 2u * 1024 * 1024,
            .max_fuel = 200000,
            .max_ms = 200,
            .caps = LUA_SB_CAP_LOG,
            .seed = next(),
        };
        json_t *in = json_pack("{si}", "x", (int)i);
        c.input = in;
        struct lua_sb_result r;
        lua_sb_run(&c, NULL, NULL, &r);
        assert_true(r.outcome <= LUA_SB_BAD_RESULT);
        assert_true(strlen(r.error) <= LUA_SB_MAX_ERROR);
        assert_true((r.outcome == LUA_SB_OK) == (r.result != NULL));
        if (ce == FG_EINVAL)
            assert_int_not_equal(r.outcome, LUA_SB_OK);
        seen[r.outcome]++;
        lua_sb_result_clear(&r);
        json_decref(in);
    }
    fprintf(stderr, "sources: %ld run: ok %d runtime_error %d no_such_entry_point %d other %d\n", n,
            seen[LUA_SB_OK], seen[LUA_SB_RUNTIME_ERROR], seen[LUA_SB_NO_SUCH_ENTRY_POINT],
            (int)n - seen[LUA_SB_OK] - seen[LUA_SB_RUNTIME_ERROR] -
                seen[LUA_SB_NO_SUCH_ENTRY_POINT]);
    assert_true(seen[LUA_SB_OK] > 0 && seen[LUA_SB_RUNTIME_ERROR] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_manifests),
        cmocka_unit_test(t_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

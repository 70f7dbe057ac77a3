/*
 * The Lua 5.4 runtime of the sandbox (sandbox.h): one fresh lua_State per call.
 *
 * Environment (docs/overlays.md): base functions without load/loadfile/dofile/require/
 * collectgarbage/print, with a rawset that refuses protected tables; string (without dump) behind
 * a read-only proxy, strings' metatable hidden (getmetatable("") is false); table; math (seeded
 * per call); utf8; and `forge` (read-only) with only the granted host functions. Reading a host
 * function the overlay was not granted raises capability_denied.
 *
 * Limits: the allocator counts every byte and refuses past max_memory (memory_exceeded); a count
 * hook every LUA_SB_FUEL_STEP instructions charges fuel and checks the wall clock. Once a limit is
 * hit the hook fires on every instruction, so a script that catches the error with pcall cannot
 * make progress; the outcome is decided by the flags, never by the (catchable) error value.
 */
#include "sandbox/sandbox.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

struct sb_state {
    size_t used, limit, peak;
    int oom;
    long long fuel_used, fuel_max;
    int fuel_out;
    double deadline; /* monotonic seconds */
    int timed_out;
    int denied;
    int caps;
    lua_sb_host_fn host;
    void *host_ctx;
    json_t *logs;
    char denied_msg[200];
};

static const char *const outcome_names[] = {
    "ok",
    "timeout",
    "fuel_exhausted",
    "memory_exceeded",
    "runtime_error",
    "capability_denied",
    "not_active",
    "no_such_entry_point",
    "bad_result",
};

const char *lua_sb_outcome_name(enum lua_sb_outcome o)
{
    if ((unsigned)o < sizeof outcome_names / sizeof outcome_names[0])
        return outcome_names[o];
    return "unknown";
}

int lua_sb_cap_bit(const char *name)
{
    if (!name)
        return 0;
    if (strcmp(name, "capsule:read") == 0)
        return LUA_SB_CAP_READ;
    if (strcmp(name, "capsule:write") == 0)
        return LUA_SB_CAP_WRITE;
    if (strcmp(name, "capsule:search") == 0)
        return LUA_SB_CAP_SEARCH;
    if (strcmp(name, "log") == 0)
        return LUA_SB_CAP_LOG;
    return 0;
}

void lua_sb_result_clear(struct lua_sb_result *r)
{
    if (!r)
        return;
    json_decref(r->result);
    json_decref(r->logs);
    r->result = NULL;
    r->logs = NULL;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- allocator with accounting ---- */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct sb_state *s = ud;
    if (!ptr)
        osize = 0;
    if (nsize == 0) {
        free(ptr);
        s->used -= osize;
        return NULL;
    }
    if (nsize > osize && (nsize - osize > s->limit || s->used + (nsize - osize) > s->limit)) {
        s->oom = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p) {
        s->oom = 1;
        return NULL;
    }
    s->used = s->used - osize + nsize;
    if (s->used > s->peak)
        s->peak = s->used;
    return p;
}

/* ---- fuel and wall clock ---- */
static void sb_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct sb_state *s;
    lua_getallocf(L, (void **)&s);
    if (s->fuel_out || s->timed_out || s->oom || s->denied) {
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "%s",
                   s->timed_out ? "timeout"
                   : s->oom     ? "not enough memory"
                   : s->denied  ? s->denied_msg
                                : "fuel exhausted");
        return;
    }
    s->fuel_used += LUA_SB_FUEL_STEP;
    if (s->fuel_used > s->fuel_max) {
        s->fuel_out = 1;
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "fuel exhausted");
        return;
    }
    if (mono_s() > s->deadline) {
        s->timed_out = 1;
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "timeout");
    }
}

/* ---- JSON <-> Lua ---- */
static void push_json(lua_State *L, json_t *v, int depth)
{
    if (depth > LUA_SB_MAX_DEPTH || !lua_checkstack(L, 4)) {
        lua_pushnil(L);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(v));
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            push_json(L, x, depth + 1);
            lua_setfield(L, -2, k);
        }
        return;
    }
    case JSON_ARRAY: {
        lua_createtable(L, (int)json_array_size(v), 0);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            push_json(L, x, depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        return;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(v));
        return;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        return;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        return;
    default:
        lua_pushnil(L);
        return;
    }
}

struct conv {
    size_t budget; /* bytes left (estimate of the serialised size) */
    char why[160];
};

static int charge(struct conv *c, size_t n)
{
    if (n > c->budget) {
        snprintf(c->why, sizeof c->why, "result larger than %d bytes", LUA_SB_MAX_RESULT);
        return -1;
    }
    c->budget -= n;
    return 0;
}

/* Converts the value at `idx` (raw access only: no metamethod runs). NULL + c->why on failure. */
static json_t *to_json(lua_State *L, int idx, int depth, struct conv *c)
{
    idx = lua_absindex(L, idx);
    if (depth > LUA_SB_MAX_DEPTH) {
        snprintf(c->why, sizeof c->why, "result nested deeper than %d", LUA_SB_MAX_DEPTH);
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return charge(c, 4) ? NULL : json_null();
    case LUA_TBOOLEAN:
        return charge(c, 5) ? NULL : json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (charge(c, 24))
            return NULL;
        if (lua_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        {
            double d = lua_tonumber(L, idx);
            if (!isfinite(d)) {
                snprintf(c->why, sizeof c->why, "result holds a non-finite number");
                return NULL;
            }
            return json_real(d);
        }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (charge(c, n + 2))
            return NULL;
        json_t *j = json_stringn(s, n);
        if (!j)
            snprintf(c->why, sizeof c->why, "result holds a string that is not UTF-8");
        return j;
    }
    case LUA_TTABLE: {
        if (!lua_checkstack(L, 4)) {
            snprintf(c->why, sizeof c->why, "result too deep");
            return NULL;
        }
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
        /* Array when the keys are exactly 1..n (n > 0); an empty table is an object. */
        lua_Integer count = 0;
        int only_ints = 1;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            count++;
            if (!lua_isinteger(L, -2)) {
                only_ints = 0;
            } else {
                lua_Integer k = lua_tointeger(L, -2);
                if (k < 1 || k > n)
                    only_ints = 0;
            }
            lua_pop(L, 1);
            if (charge(c, 2))
                return NULL;
        }
        if (n > 0 && only_ints && count == n) {
            json_t *a = json_array();
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, idx, i);
                json_t *x = to_json(L, -1, depth + 1, c);
                lua_pop(L, 1);
                if (!x) {
                    json_decref(a);
                    return NULL;
                }
                json_array_append_new(a, x);
            }
            return a;
        }
        json_t *o = json_object();
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            if (lua_type(L, -2) != LUA_TSTRING) {
                snprintf(c->why, sizeof c->why,
                         "result table mixes non-string keys (only arrays 1..n or string keys)");
                lua_pop(L, 2);
                json_decref(o);
                return NULL;
            }
            size_t kl;
            const char *k = lua_tolstring(L, -2, &kl);
            if (charge(c, kl + 4) || memchr(k, 0, kl)) {
                if (!c->why[0])
                    snprintf(c->why, sizeof c->why, "result key holds a NUL byte");
                lua_pop(L, 2);
                json_decref(o);
                return NULL;
            }
            json_t *x = to_json(L, -1, depth + 1, c);
            if (!x) {
                lua_pop(L, 2);
                json_decref(o);
                return NULL;
            }
            if (json_object_setn_new(o, k, kl, x) != 0) {
                snprintf(c->why, sizeof c->why, "result key is not UTF-8");
                lua_pop(L, 2);
                json_decref(o);
                return NULL;
            }
            lua_pop(L, 1);
        }
        return o;
    }
    default:
        snprintf(c->why, sizeof c->why, "result holds a %s (not JSON)",
                 lua_typename(L, lua_type(L, idx)));
        return NULL;
    }
}

/* ---- the environment ---- */
static const char PROTECTED_KEY[] = "__forge_protected";

static int sb_readonly(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only table");
}

/* Replaces the table at the top with a read-only proxy of it. */
static void make_proxy(lua_State *L)
{
    lua_newtable(L);          /* real proxy */
    lua_createtable(L, 0, 4); /* real proxy mt */
    lua_pushvalue(L, -3);     /* real proxy mt real */
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sb_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, PROTECTED_KEY);
    lua_setmetatable(L, -2); /* real proxy */
    lua_remove(L, -2);       /* proxy */
}

static int is_protected(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    lua_getfield(L, -1, PROTECTED_KEY);
    int p = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return p;
}

static int sb_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (is_protected(L, 1))
        return luaL_error(L, "attempt to modify a read-only table");
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static struct sb_state *state_of(lua_State *L)
{
    struct sb_state *s;
    lua_getallocf(L, (void **)&s);
    return s;
}

static int sb_log(lua_State *L)
{
    struct sb_state *s = state_of(L);
    size_t n;
    const char *msg = luaL_checklstring(L, 1, &n);
    if (!s->logs)
        s->logs = json_array();
    if (json_array_size(s->logs) < LUA_SB_MAX_LOG_LINES) {
        if (n > LUA_SB_MAX_LOG_LINE)
            n = LUA_SB_MAX_LOG_LINE;
        json_t *j = json_stringn(msg, n);
        json_array_append_new(s->logs, j ? j : json_string("(not UTF-8)"));
    }
    return 0;
}

static int sb_json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    struct conv c = {.budget = LUA_SB_MAX_RESULT};
    json_t *j = to_json(L, 1, 0, &c);
    if (!j)
        return luaL_error(L, "forge.json.encode: %s", c.why);
    char *txt = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    json_decref(j);
    if (!txt)
        return luaL_error(L, "forge.json.encode: cannot encode");
    lua_pushstring(L, txt);
    free(txt);
    return 1;
}

static int sb_json_decode(lua_State *L)
{
    size_t n;
    const char *txt = luaL_checklstring(L, 1, &n);
    json_error_t e;
    json_t *j = json_loadb(txt, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (!j)
        return luaL_error(L, "forge.json.decode: %s", e.text);
    push_json(L, j, 0);
    json_decref(j);
    return 1;
}

/* A host call: arguments → JSON array → host → JSON → Lua. */
static int sb_host_call(lua_State *L)
{
    struct sb_state *s = state_of(L);
    const char *fn = lua_tostring(L, lua_upvalueindex(1));
    int nargs = lua_gettop(L);
    if (nargs > 4)
        return luaL_error(L, "forge.%s: too many arguments", fn);
    json_t *args = json_array();
    for (int i = 1; i <= nargs; i++) {
        struct conv c = {.budget = LUA_SB_MAX_RESULT};
        json_t *x = to_json(L, i, 0, &c);
        if (!x) {
            json_decref(args);
            return luaL_error(L, "forge.%s: argument %d: %s", fn, i, c.why);
        }
        json_array_append_new(args, x);
    }
    if (!s->host) {
        json_decref(args);
        return luaL_error(L, "forge.%s: host functions are unavailable here", fn);
    }
    char err[256] = "";
    int denied = 0;
    json_t *r = s->host(s->host_ctx, fn, args, err, sizeof err, &denied);
    json_decref(args);
    if (!r) {
        if (denied) {
            s->denied = 1;
            snprintf(s->denied_msg, sizeof s->denied_msg, "forge.%.20s: %.150s", fn, err);
            lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
        }
        return luaL_error(L, "forge.%s: %s", fn, err[0] ? err : "failed");
    }
    push_json(L, r, 0);
    json_decref(r);
    return 1;
}

struct host_fn_def {
    const char *table; /* NULL: forge itself */
    const char *name;
    const char *fn; /* host name */
    int cap;
};

static const struct host_fn_def host_fns[] = {
    {"capsule", "get", "capsule.get", LUA_SB_CAP_READ},
    {"capsule", "search", "capsule.search", LUA_SB_CAP_SEARCH},
    {"capsule", "create", "capsule.create", LUA_SB_CAP_WRITE},
    {"capsule", "update", "capsule.update", LUA_SB_CAP_WRITE},
};

/* __index of forge.capsule: a known host function that was not granted → capability_denied. */
static int sb_denied_index(lua_State *L)
{
    struct sb_state *s = state_of(L);
    const char *k = lua_tostring(L, 2);
    if (!k)
        return 0;
    for (size_t i = 0; i < sizeof host_fns / sizeof host_fns[0]; i++) {
        if (strcmp(k, host_fns[i].name) == 0) {
            static const char *const capname[] = {"", "capsule:read", "capsule:write", "",
                                                  "capsule:search"};
            s->denied = 1;
            snprintf(s->denied_msg, sizeof s->denied_msg,
                     "forge.capsule.%s needs the capability %s", k, capname[host_fns[i].cap]);
            lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
            return luaL_error(L, "%s", s->denied_msg);
        }
    }
    return 0;
}

static int sb_forge_denied_index(lua_State *L)
{
    struct sb_state *s = state_of(L);
    const char *k = lua_tostring(L, 2);
    if (k && strcmp(k, "log") == 0) {
        s->denied = 1;
        snprintf(s->denied_msg, sizeof s->denied_msg, "forge.log needs the capability log");
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
        return luaL_error(L, "%s", s->denied_msg);
    }
    return 0;
}

/* __index of a guarded proxy: upvalue 1 the real table, upvalue 2 the fallback for misses. */
static int sb_guarded_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1))
        return 1;
    lua_pop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 2, 1);
    return 1;
}

/* Replaces the table at the top with a read-only proxy whose misses go to `miss` (may be NULL). */
static void make_guarded_proxy(lua_State *L, lua_CFunction miss)
{
    if (!miss) {
        make_proxy(L);
        return;
    }
    lua_newtable(L);          /* real proxy */
    lua_createtable(L, 0, 4); /* real proxy mt */
    lua_pushvalue(L, -3);
    lua_pushcfunction(L, miss);
    lua_pushcclosure(L, sb_guarded_index, 2);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sb_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, PROTECTED_KEY);
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

/* Builds `forge` (read-only) with the granted functions; leaves it on the stack. */
static void push_forge(lua_State *L, int caps)
{
    lua_newtable(L); /* forge */
    if (caps & LUA_SB_CAP_LOG) {
        lua_pushcfunction(L, sb_log);
        lua_setfield(L, -2, "log");
    }
    lua_newtable(L);
    lua_pushcfunction(L, sb_json_encode);
    lua_setfield(L, -2, "encode");
    lua_pushcfunction(L, sb_json_decode);
    lua_setfield(L, -2, "decode");
    make_proxy(L);
    lua_setfield(L, -2, "json");

    lua_newtable(L);
    for (size_t i = 0; i < sizeof host_fns / sizeof host_fns[0]; i++) {
        if (!(caps & host_fns[i].cap))
            continue;
        lua_pushstring(L, host_fns[i].fn);
        lua_pushcclosure(L, sb_host_call, 1);
        lua_setfield(L, -2, host_fns[i].name);
    }
    make_guarded_proxy(L, sb_denied_index);
    lua_setfield(L, -2, "capsule");
    make_guarded_proxy(L, (caps & LUA_SB_CAP_LOG) ? NULL : sb_forge_denied_index);
}

static void drop_field(lua_State *L, int t, const char *k)
{
    lua_pushnil(L);
    lua_setfield(L, t, k);
}

/* Opens the whitelisted libraries into a fresh state and builds _G. */
static void setup_env(lua_State *L, const struct lua_sb_call *call)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {NULL, NULL},
    };
    for (const luaL_Reg *l = libs; l->func; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    static const char *const drop[] = {"load",  "loadfile",       "dofile",     "require",
                                       "print", "collectgarbage", "loadstring", NULL};
    for (const char *const *d = drop; *d; d++)
        drop_field(L, g, *d);
    lua_pushcfunction(L, sb_rawset);
    lua_setfield(L, g, "rawset");

    /* string: no dump; the real table reachable only through a read-only proxy; the strings'
     * metatable hidden from getmetatable. */
    lua_getfield(L, g, LUA_STRLIBNAME);
    int str = lua_gettop(L);
    drop_field(L, str, "dump");
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, str);
    make_proxy(L);
    lua_setfield(L, g, LUA_STRLIBNAME);
    lua_pop(L, 1); /* str */

    /* math seeded per call */
    lua_getfield(L, g, LUA_MATHLIBNAME);
    lua_getfield(L, -1, "randomseed");
    lua_pushinteger(L, (lua_Integer)(call->seed & 0x7fffffffffffffffULL));
    lua_call(L, 1, 0);
    lua_pop(L, 1);

    push_forge(L, call->caps);
    lua_setfield(L, g, "forge");
    lua_pop(L, 1); /* _G */
}

static void set_error_from(lua_State *L, struct lua_sb_result *out)
{
    const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (m)
        snprintf(out->error, sizeof out->error, "%s", m);
    else
        snprintf(out->error, sizeof out->error, "(error object is a %s value)",
                 luaL_typename(L, -1));
}

static enum lua_sb_outcome classify(const struct sb_state *s, enum lua_sb_outcome dflt)
{
    if (s->timed_out)
        return LUA_SB_TIMEOUT;
    if (s->oom)
        return LUA_SB_MEMORY_EXCEEDED;
    if (s->fuel_out)
        return LUA_SB_FUEL_EXHAUSTED;
    if (s->denied)
        return LUA_SB_CAPABILITY_DENIED;
    return dflt;
}

static int pmain(lua_State *L)
{
    const struct lua_sb_call *call = lua_touserdata(L, 1);
    setup_env(L, call);
    return 0;
}

void lua_sb_run(const struct lua_sb_call *call, lua_sb_host_fn host, void *ctx,
                struct lua_sb_result *out)
{
    memset(out, 0, sizeof *out);
    double t0 = mono_s();
    struct sb_state s = {
        .limit = call->max_memory,
        .fuel_max = call->max_fuel,
        .deadline = t0 + (double)call->max_ms / 1000.0,
        .caps = call->caps,
        .host = host,
        .host_ctx = ctx,
    };
    lua_State *L = lua_newstate(sb_alloc, &s);
    if (!L) {
        out->outcome = LUA_SB_MEMORY_EXCEEDED;
        snprintf(out->error, sizeof out->error, "memory limit too small for an interpreter");
        goto done;
    }
    lua_pushcfunction(L, pmain);
    lua_pushlightuserdata(L, (void *)call);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        out->outcome = classify(&s, LUA_SB_MEMORY_EXCEEDED);
        set_error_from(L, out);
        goto close;
    }
    lua_sethook(L, sb_hook, LUA_MASKCOUNT, LUA_SB_FUEL_STEP);
    if (call->source_len > LUA_SB_MAX_SOURCE) {
        out->outcome = LUA_SB_RUNTIME_ERROR;
        snprintf(out->error, sizeof out->error, "source larger than %d bytes", LUA_SB_MAX_SOURCE);
        goto close;
    }
    int rc = luaL_loadbufferx(L, call->source, call->source_len,
                              call->chunkname ? call->chunkname : "=overlay", "t");
    if (rc == LUA_OK)
        rc = lua_pcall(L, 0, 0, 0);
    if (rc != LUA_OK) {
        out->outcome = classify(&s, LUA_SB_RUNTIME_ERROR);
        set_error_from(L, out);
        goto close;
    }
    if (lua_getglobal(L, call->entry ? call->entry : "process") != LUA_TFUNCTION) {
        out->outcome = classify(&s, LUA_SB_NO_SUCH_ENTRY_POINT);
        if (out->outcome == LUA_SB_NO_SUCH_ENTRY_POINT)
            snprintf(out->error, sizeof out->error, "the source defines no function %s",
                     call->entry ? call->entry : "process");
        goto close;
    }
    if (call->input)
        push_json(L, call->input, 0);
    else
        lua_pushnil(L);
    rc = lua_pcall(L, 1, 1, 0);
    if (rc != LUA_OK || s.timed_out || s.oom || s.fuel_out || s.denied) {
        out->outcome = classify(&s, LUA_SB_RUNTIME_ERROR);
        set_error_from(L, out);
        goto close;
    }
    /* the conversion runs no Lua code; stop the hook so it cannot charge it */
    lua_sethook(L, NULL, 0, 0);
    struct conv c = {.budget = LUA_SB_MAX_RESULT};
    out->result = to_json(L, -1, 0, &c);
    if (!out->result) {
        out->outcome = LUA_SB_BAD_RESULT;
        snprintf(out->error, sizeof out->error, "%s", c.why);
    } else {
        out->outcome = LUA_SB_OK;
    }
close:
    if (out->outcome == LUA_SB_CAPABILITY_DENIED && s.denied_msg[0])
        snprintf(out->error, sizeof out->error, "%s", s.denied_msg);
    if (out->outcome == LUA_SB_MEMORY_EXCEEDED && s.oom)
        snprintf(out->error, sizeof out->error, "memory limit of %zu bytes exceeded",
                 call->max_memory);
    if (out->outcome == LUA_SB_FUEL_EXHAUSTED)
        snprintf(out->error, sizeof out->error, "instruction budget of %lld exhausted",
                 call->max_fuel);
    if (out->outcome == LUA_SB_TIMEOUT)
        snprintf(out->error, sizeof out->error, "wall-clock limit of %lld ms exceeded",
                 call->max_ms);
    lua_close(L);
done:
    out->elapsed_ms = (mono_s() - t0) * 1000.0;
    out->fuel_used = s.fuel_used > s.fuel_max ? s.fuel_max : s.fuel_used;
    out->memory_peak = s.peak;
    out->logs = s.logs;
    if (out->outcome != LUA_SB_OK) {
        json_decref(out->result);
        out->result = NULL;
    }
}

static void *check_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    return sb_alloc(ud, ptr, osize, nsize);
}

enum fg_err lua_sb_check_source(const char *source, size_t len, char *err, size_t errlen)
{
    if (len > LUA_SB_MAX_SOURCE) {
        snprintf(err, errlen, "source larger than %d bytes", LUA_SB_MAX_SOURCE);
        return FG_EINVAL;
    }
    if (len > 0 && source[0] == LUA_SIGNATURE[0]) {
        snprintf(err, errlen, "binary chunks are not accepted");
        return FG_EINVAL;
    }
    struct sb_state s = {.limit = 64u * 1024 * 1024};
    lua_State *L = lua_newstate(check_alloc, &s);
    if (!L) {
        snprintf(err, errlen, "cannot create an interpreter");
        return FG_EINTERNAL;
    }
    enum fg_err e = FG_OK;
    if (luaL_loadbufferx(L, source, len, "=overlay", "t") != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        snprintf(err, errlen, "%s", m ? m : "cannot compile");
        e = FG_EINVAL;
    }
    lua_close(L);
    return e;
}

const struct fg_sandbox_runtime lua_sb_runtime = {
    .name = "lua5.4",
    .check_source = lua_sb_check_source,
    .run = lua_sb_run,
};

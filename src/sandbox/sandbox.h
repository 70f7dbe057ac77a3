/*
 * The overlay sandbox (SPEC §8): a runtime interface with one implementation, Lua 5.4.
 *
 * A call runs one entry point of one overlay source with JSON in and JSON out, under three limits:
 * memory (allocator accounting), fuel (VM instructions, counted by a count hook) and wall clock.
 * Every call starts from a fresh interpreter (a new lua_State, nothing cached), so nothing an
 * overlay does carries into the next call.
 *
 * Two ways to run a call:
 *   - lua_sb_run: in the calling thread. Memory and fuel hold; the wall clock holds only between
 *     VM instructions (a C library function such as string.find on a pathological pattern is not
 *     interrupted). Used by the worker processes and by benchmarks/tests of the runtime itself.
 *   - lua_sb_pool_*: in a pool of isolated worker processes (fork, rlimits, no_new_privs,
 *     seccomp allow-list, closed fds). The parent waits with a deadline and kills the worker with
 *     SIGKILL when it passes, so the wall clock holds even inside C code. Host calls
 *     (forge.capsule.*, forge.log) travel back over the socket to the parent, which performs them.
 *
 * See docs/overlays.md for the environment, limits and the reasons for this design.
 */
#ifndef SANDBOX_SANDBOX_H
#define SANDBOX_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/err.h"

#define LUA_SB_MAX_SOURCE    (256 * 1024)      /* bytes of overlay source */
#define LUA_SB_MAX_RESULT    (1024 * 1024)     /* bytes of a JSON result */
#define LUA_SB_MAX_DEPTH     64                /* nesting of a result / host value */
#define LUA_SB_MAX_LOG_LINES 50                /* forge.log lines kept per call */
#define LUA_SB_MAX_LOG_LINE  1000              /* bytes per forge.log line */
#define LUA_SB_MAX_FRAME     (8 * 1024 * 1024) /* bytes of one worker message */
#define LUA_SB_FUEL_STEP     1000              /* instructions between fuel checks */
#define LUA_SB_MAX_ERROR     500               /* bytes of an error message */

/* Failure kinds, reported distinctly (SPEC §8). */
enum lua_sb_outcome {
    LUA_SB_OK = 0,
    LUA_SB_TIMEOUT,
    LUA_SB_FUEL_EXHAUSTED,
    LUA_SB_MEMORY_EXCEEDED,
    LUA_SB_RUNTIME_ERROR,
    LUA_SB_CAPABILITY_DENIED,
    LUA_SB_NOT_ACTIVE,
    LUA_SB_NO_SUCH_ENTRY_POINT,
    LUA_SB_BAD_RESULT,
};

/** "ok", "timeout", "fuel_exhausted", ... Never NULL. */
const char *lua_sb_outcome_name(enum lua_sb_outcome o);

/* Capabilities (manifest `capabilities`), as bits. */
#define LUA_SB_CAP_READ   0x1 /* capsule:read   → forge.capsule.get */
#define LUA_SB_CAP_WRITE  0x2 /* capsule:write  → forge.capsule.create / update */
#define LUA_SB_CAP_SEARCH 0x4 /* capsule:search → forge.capsule.search */
#define LUA_SB_CAP_LOG    0x8 /* log            → forge.log */

/** Bit of a capability name, 0 when unknown. */
int lua_sb_cap_bit(const char *name);

struct lua_sb_call {
    const char *source; /* Lua text (binary chunks are refused) */
    size_t source_len;
    const char *chunkname;   /* "=name" shown in error messages */
    const char *entry;       /* global function to call */
    json_t *input;           /* borrowed; passed as the single argument (NULL: nil) */
    size_t max_memory;       /* bytes */
    long long max_fuel;      /* instructions */
    long long max_ms;        /* wall clock */
    int caps;                /* LUA_SB_CAP_* */
    unsigned long long seed; /* math.random seed for this call */
};

struct lua_sb_result {
    enum lua_sb_outcome outcome;
    json_t *result;                   /* new reference on success (JSON null when nil) */
    char error[LUA_SB_MAX_ERROR + 1]; /* message when outcome != OK */
    double elapsed_ms;
    long long fuel_used;
    size_t memory_peak;
    json_t *logs; /* array of strings written with forge.log (new reference, may be NULL) */
};

/** Frees what a result owns (result, logs). */
void lua_sb_result_clear(struct lua_sb_result *r);

/**
 * A host function (forge.capsule.get/search/create/update). `fn` is "capsule.get", ...; `args` the
 * arguments as a JSON array (borrowed). Returns a new JSON value (the Lua result), or NULL with a
 * message in err and *denied = 1 when the call is refused for lack of a capability or trust
 * (capability_denied), 0 for any other failure (raised as a Lua error the overlay may catch).
 */
typedef json_t *(*lua_sb_host_fn)(void *ctx, const char *fn, json_t *args, char *err, size_t errlen,
                                  int *denied);

/** Runs a call in this thread (see above). `host` may be NULL (host calls then fail). */
void lua_sb_run(const struct lua_sb_call *call, lua_sb_host_fn host, void *ctx,
                struct lua_sb_result *out);

/**
 * Compiles a source without running it (registration). FG_OK, or FG_EINVAL with the compiler's
 * message in err. Refuses binary chunks and sources above LUA_SB_MAX_SOURCE.
 */
enum fg_err lua_sb_check_source(const char *source, size_t len, char *err, size_t errlen);

/* ---- the runtime interface: what a second engine (WASM) would implement ---- */
struct fg_sandbox_runtime {
    const char *name; /* "lua5.4" */
    enum fg_err (*check_source)(const char *source, size_t len, char *err, size_t errlen);
    void (*run)(const struct lua_sb_call *call, lua_sb_host_fn host, void *ctx,
                struct lua_sb_result *out);
};
extern const struct fg_sandbox_runtime lua_sb_runtime;

/* ---- the worker pool ---- */
struct lua_sb_pool;

/**
 * Creates a pool of `workers` processes (1-64), started lazily on first use and restarted after a
 * kill. `address_space_mb` is each worker's RLIMIT_AS. Returns NULL on bad arguments.
 */
struct lua_sb_pool *lua_sb_pool_new(int workers, int address_space_mb);
/** Kills the workers and frees the pool. */
void lua_sb_pool_free(struct lua_sb_pool *p);
/**
 * Runs a call in a worker. The wall clock covers waiting for host calls. FG_OK with *out filled
 * (any outcome), or FG_EUNAVAIL when no worker became free within the call's limit or a worker
 * could not be started (then *out is not a call outcome).
 */
enum fg_err lua_sb_pool_run(struct lua_sb_pool *p, const struct lua_sb_call *call,
                            lua_sb_host_fn host, void *ctx, struct lua_sb_result *out);
/** Process ids of the running workers (tests); returns how many were written. */
int lua_sb_pool_pids(struct lua_sb_pool *p, int *pids, int max);
/** 1 when the workers run under a seccomp filter (it may be refused by the kernel). */
int lua_sb_pool_seccomp(struct lua_sb_pool *p);

#endif

/*
 * Configuration: every setting comes from the environment, then an optional `.env` file (the real
 * environment wins). The table in config.c is the one declarative source: name, type, default,
 * bounds, description; `forge config check` prints it with secrets masked. A bad value stops the
 * start with a message naming the variable and the accepted values.
 */
#ifndef FG_CONFIG_H
#define FG_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum fg_env { FG_ENV_DEVELOPMENT = 0, FG_ENV_STAGING, FG_ENV_PRODUCTION };

struct fg_config {
    /* service */
    long long environment; /* enum fg_env */
    int debug;
    long long log_level;  /* enum fg_log_level */
    long long log_format; /* 0 auto, 1 json, 2 console */
    char *host;
    long long port;
    long long workers;
    long long max_connections;
    long long per_ip_connection_limit;
    long long max_body_bytes;
    long long max_header_bytes;
    long long connection_timeout_s;
    long long request_timeout_s;
    long long shutdown_timeout_s;
    char *cors_origins;
    char *trusted_proxies;
    /* store and shared services */
    char *database_url;
    long long database_pool_size;
    long long database_busy_timeout_ms;
    char *redis_url;
    char *kafka_bootstrap_servers;
    char *kafka_topic_prefix;
    /* security */
    char *jwt_secret;
    char *master_key;
    long long access_token_ttl_s;
    long long refresh_token_ttl_s;
    long long login_max_failures;
    long long login_lockout_s;
    long long ip_max_failures;
    long long ip_failure_window_s;
    long long ip_block_s;
    long long argon2_max_concurrent;
    char *admin_email;
    char *admin_password;
    /* rate limits (requests per minute) */
    int rate_limit_enabled;
    long long rate_limit_anonymous;
    long long rate_limit_core;
    long long rate_limit_trusted;
    long long rate_limit_standard;
    long long rate_limit_sandbox;
    long long rate_limit_quarantine;
    /* embeddings and search */
    char *embedding_provider;
    char *embedding_base_url;
    char *embedding_model;
    long long embedding_dimensions;
    long long embedding_timeout_ms;
    char *openai_api_key;
    char *azure_api_version;
    double search_min_score; /* < 0: the embedder's calibrated default */
    int index_quantize;
    long long hnsw_m;
    long long hnsw_ef_construction;
    long long hnsw_ef_search;
    char *index_path;
    /* features */
    int feature_governance;
    int feature_overlays;
    int feature_compliance_logging;
    /* governance and retention */
    double governance_min_voting_hours;
    long long governance_close_interval_s;
    long long retention_deleted_capsules_days;
    long long retention_audit_days;
    long long retention_outbox_days;
    long long retention_interval_s;
    /* embeddings (appended) */
    char *embedding_local_model;
    char *embedding_model_path;
    /* hybrid search hop boost: weight of each edge type (docs/knowledge-graph.md) */
    double hop_weight_derived_from, hop_weight_supports, hop_weight_contradicts,
        hop_weight_supersedes, hop_weight_related_to, hop_weight_references;
    /* governance floors (issue 11, docs/security.md) */
    double governance_quorum;             /* community quorum, ≥ 0.10 */
    double governance_approval_threshold; /* community approval threshold, ≥ 0.50 */

    /* derived, not read from the environment */
    int jwt_secret_ephemeral;

    /* HTTP transport hardening (issue 11) */
    long long header_timeout_s;
    long long argon2_queue_max;
    /* overlays (docs/overlays.md) */
    long long overlay_workers;
    /* MCP over Streamable HTTP at /mcp (docs/mcp.md) */
    int mcp_http_enabled;
    char *mcp_allowed_origins;
    /* SQLite page access and checkpoints (docs/operations/backup.md, issue 13) */
    long long database_cache_mb;
    long long database_mmap_mb;
    long long database_checkpoint_ms;
    long long database_wal_max_mb;
    /* consent (GDPR Art. 7, docs/privacy.md) */
    char *consent_purposes;       /* comma-separated purpose names */
    char *consent_policy_version; /* recorded with every consent change */
};

/**
 * Loads the configuration: defaults, then `env_file` (NULL: "$FORGE_ENV_FILE" or "./.env" if
 * present), then the process environment. On a bad value writes "VAR: message" into err and returns
 * -1. Production rules (JWT_SECRET ≥ 32 bytes, FORGE_MASTER_KEY set) are checked here too. Free
 * with fg_config_free.
 */
int fg_config_load(struct fg_config *c, const char *env_file, char *err, size_t errlen);
void fg_config_free(struct fg_config *c);

/** Prints every setting as NAME=value (secrets masked) with its description. */
void fg_config_print(const struct fg_config *c, FILE *out);

/** Prints the settings table as Markdown (docs/configuration.md is generated from it). */
void fg_config_print_markdown(FILE *out);

/** Sets one setting at run time by variable name (used by governance); validated as at start. */
int fg_config_set(struct fg_config *c, const char *name, const char *value, char *err,
                  size_t errlen);

/** Writes the current value of a setting as text (secrets masked). Returns -1 for an unknown name.
 */
int fg_config_get(const struct fg_config *c, const char *name, char *out, size_t outlen);

/*
 * Runtime changes (governance, SPEC §6). After the start, worker threads read the configuration
 * without a lock, so a setting changed while they run must never be torn or half-written:
 *   - only numeric, boolean and enum settings can change at run time (a string's storage would
 *     be freed under a concurrent reader); fg_config_set_runtime refuses the others;
 *   - the new value is validated first (nothing is stored on error), then written with one
 *     atomic store while holding the runtime-writer lock (writers are serialised, readers never
 *     wait);
 *   - code reading such a setting on a hot path should load it with fg_cfg_ll / fg_cfg_int /
 *     fg_cfg_dbl (relaxed atomic loads): a plain read compiles to the same single load on the
 *     64-bit targets Forge supports, but only the atomic load is race-free in C11 terms.
 * fg_config_get reads scalars with atomic loads, so it is safe against a concurrent change.
 */
/** Checks that `value` is valid for setting `name` without storing anything. */
int fg_config_check(const char *name, const char *value, char *err, size_t errlen);
/** 1 if `name` is a setting that fg_config_set_runtime may change (numeric, boolean or enum). */
int fg_config_runtime_settable(const char *name);
/** Validates and atomically stores one numeric/boolean/enum setting while other threads read. */
int fg_config_set_runtime(struct fg_config *c, const char *name, const char *value, char *err,
                          size_t errlen);

static inline long long fg_cfg_ll(const long long *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline int fg_cfg_int(const int *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline double fg_cfg_dbl(const double *p)
{
    double d;
    __atomic_load(p, &d, __ATOMIC_RELAXED);
    return d;
}

const char *fg_env_name(enum fg_env e);

#endif
